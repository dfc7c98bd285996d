use genserver_runtime::prelude::*;

struct S;

#[genserver]
#[genserver]
impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
