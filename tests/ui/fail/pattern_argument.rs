use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn add(&self, (a, b): (u32, u32)) -> u32 {
        a + b
    }
}

fn main() {}
