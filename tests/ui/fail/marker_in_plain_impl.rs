use genserver_runtime::prelude::*;

struct S;

impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {
    S.bump();
}
