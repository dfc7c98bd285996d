//! `x: u32 = 1` is rustc's syntax error, reported once.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn add(&mut self, x: u32 = 1) {
        let _ = x;
    }
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    s.add(2);
}

fn main() {
    let _ = use_it;
}
