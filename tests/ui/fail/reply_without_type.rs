use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get(&mut self) -> Reply {
        Reply::new(1)
    }
}

fn main() {}
