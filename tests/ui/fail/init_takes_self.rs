use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[init]
    fn init(&self) -> Init<Self> {
        Init::ok(S)
    }
}

fn main() {}
