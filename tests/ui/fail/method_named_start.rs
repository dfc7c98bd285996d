use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn start(&mut self) {}
}

fn main() {}
