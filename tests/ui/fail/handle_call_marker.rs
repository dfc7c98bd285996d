//! Elixir's callback names are not markers: the hint names the right one, and the
//! handler is read as meant.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[handle_call]
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
