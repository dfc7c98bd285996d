//! `#[continue]` is rustc's error (`continue` is a keyword), reported once: the marker is
//! removed and the rest of the server generated.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[continue]
    fn load(&mut self) {}

    #[call]
    fn get(&self) -> u32 {
        1
    }
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: u32 = s.get().await.unwrap();
}

fn main() {
    let _ = use_it;
}
