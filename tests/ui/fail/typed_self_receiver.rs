use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn consume(self: Box<Self>) {}
}

fn main() {}
