use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[init]
    fn init() -> Init<Self> {
        Init::ok(S)
    }

    #[init]
    fn init_again() -> Init<Self> {
        Init::ok(S)
    }
}

fn main() {}
