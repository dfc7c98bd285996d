use genserver_runtime::prelude::*;
use std::rc::Rc;

struct S;

#[genserver]
impl S {
    #[cast]
    fn share(&mut self, value: Rc<String>) {
        let _ = value;
    }
}

fn main() {}
