use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) -> bool {
        reason.is_normal()
    }
}

fn main() {}
