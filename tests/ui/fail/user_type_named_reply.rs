//! A user type named `Reply` is not misread in silence (still two errors, both naming it).
use genserver_runtime::prelude::*;

struct Reply<T>(T);

struct S;

#[genserver]
impl S {
    #[call]
    fn get(&self) -> Reply<u32> {
        Reply(1)
    }
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: u32 = s.get().await.unwrap();
}

fn main() {
    let _ = use_it;
}
