use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call(timeout = 5)]
    fn get(&self) -> u32 {
        0
    }
}

fn main() {}
