use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn echo(&self, reply_to: String) -> String {
        reply_to
    }
}

fn main() {}
