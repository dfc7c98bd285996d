//! A handler without a body is rustc's error (with its hint to add one); the server is
//! still generated.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get(&self) -> u32;
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: u32 = s.get().await.unwrap();
}

fn main() {
    let _ = use_it;
}
