use genserver_runtime::prelude::*;
use std::rc::Rc;

struct Shared {
    value: Rc<String>,
}

struct S;

#[genserver]
impl S {
    #[cast]
    fn share(&mut self, shared: Shared) {
        let _ = shared.value;
    }
}

fn main() {}
