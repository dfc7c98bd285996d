//! A syntax error in a handler's body is rustc's, reported once: the server is still
//! generated.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get(&self) -> u32 {
        let x = ;
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
