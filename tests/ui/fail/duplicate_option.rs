use genserver_runtime::prelude::*;

struct S;

#[genserver(vis = pub(crate), vis = pub)]
impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
