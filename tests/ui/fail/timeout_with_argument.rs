use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[timeout]
    fn idle(&mut self, after: Duration) {
        let _ = after;
    }
}

fn main() {}
