use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get(&mut self) -> NoReply {
        NoReply::ok()
    }
}

fn main() {}
