use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[terminate]
    fn terminate(&mut self, reason: ExitReason) {
        let _ = reason;
    }
}

fn main() {}
