use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn later(&mut self, from: ReplyTo) -> NoReply {
        let _ = from;
        NoReply::ok()
    }
}

fn main() {}
