use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    unsafe fn poke(&mut self) {}
}

fn main() {}
