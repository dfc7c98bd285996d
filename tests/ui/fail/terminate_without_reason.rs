use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[terminate]
    fn terminate(&mut self) {}
}

fn main() {}
