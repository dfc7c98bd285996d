use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
