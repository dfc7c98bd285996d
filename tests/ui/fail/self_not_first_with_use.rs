//! `self` after another argument is rustc's syntax error, reported once: the server is
//! still generated, so the code using it reports nothing more.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get(key: u32, &self) -> u32 {
        key
    }

    #[cast]
    fn bump(&mut self) {}
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: u32 = s.get(1).await.unwrap();
    s.bump();
}

fn main() {
    let _ = use_it;
}
