use genserver_runtime::prelude::*;

#[genserver]
struct S {
    count: u32,
}

fn main() {}
