//! A call and an info with one name are two methods of one name, which rustc reports
//! once; the server is still generated.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn tick(&self) -> u32 {
        1
    }

    #[info]
    fn tick(&mut self) {}
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: u32 = s.tick().await.unwrap();
}

fn main() {
    let _ = use_it;
}
