use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    const LIMIT: u32 = 10;

    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
