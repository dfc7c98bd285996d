//! `#[handle_info]` is Elixir's name: the hint names `#[info]`, and the handler is read
//! as an info handler, so its variant exists.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[handle_info]
    fn tick(&mut self) {}
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    s.send_info(SInfo::Tick {}).unwrap();
}

fn main() {
    let _ = use_it;
}
