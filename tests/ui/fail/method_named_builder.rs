use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self) {}

    fn builder() -> Self {
        S
    }
}

fn main() {}
