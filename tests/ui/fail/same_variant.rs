use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get_all(&self) -> u32 {
        0
    }

    #[call]
    #[allow(non_snake_case)]
    fn getAll(&self) -> u32 {
        0
    }
}

fn main() {}
