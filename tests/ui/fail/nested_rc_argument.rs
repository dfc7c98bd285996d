use genserver_runtime::prelude::*;
use std::rc::Rc;

struct S;

#[genserver]
impl S {
    #[cast]
    fn share(&mut self, values: Vec<Option<Rc<str>>>) {
        let _ = values;
    }
}

fn main() {}
