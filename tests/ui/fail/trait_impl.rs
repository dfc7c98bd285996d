use genserver_runtime::prelude::*;

struct S;

trait Counter {
    fn get(&self) -> u32;
}

#[genserver]
impl Counter for S {
    #[call]
    fn get(&self) -> u32 {
        0
    }
}

fn main() {}
