use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
