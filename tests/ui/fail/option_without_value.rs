use genserver_runtime::prelude::*;

struct S;

#[genserver(vis)]
impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
