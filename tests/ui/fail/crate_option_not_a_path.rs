use genserver_runtime::prelude::*;

struct S;

#[genserver(crate = "genserver_runtime")]
impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
