use genserver_runtime::prelude::*;

struct S;

#[genserver(name = "counter")]
impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
