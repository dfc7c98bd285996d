use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn stop(&mut self) -> bool {
        true
    }
}

fn main() {}
