use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[init]
    fn init(n: u32) -> Init<u32> {
        Init::ok(n)
    }
}

fn main() {}
