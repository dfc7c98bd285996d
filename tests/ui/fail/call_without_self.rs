use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get() -> u32 {
        0
    }
}

fn main() {}
