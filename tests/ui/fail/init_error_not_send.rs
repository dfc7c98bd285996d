//! `Box<dyn Error>` from `#[init]` is not `Send + Sync`: one error on the trait object,
//! with the bounds to add.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[init]
    fn init(fail: bool) -> Result<Self, Box<dyn std::error::Error>> {
        if fail { Err("no".into()) } else { Ok(S) }
    }

    #[call]
    fn get(&self) -> u32 {
        1
    }
}

async fn use_it() {
    let s = S::start(false).await.unwrap();
    let _: u32 = s.get().await.unwrap();
}

fn main() {
    let _ = use_it;
}
