use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[timeout]
    fn idle(&mut self) {}

    #[timeout]
    fn idle_again(&mut self) {}
}

fn main() {}
