use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    const fn answer(&self) -> u32 {
        42
    }
}

fn main() {}
