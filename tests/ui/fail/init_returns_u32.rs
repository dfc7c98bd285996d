use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[init]
    fn init() -> u32 {
        0
    }
}

fn main() {}
