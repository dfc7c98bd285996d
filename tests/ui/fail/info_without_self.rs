use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[info]
    fn tick() {}
}

fn main() {}
