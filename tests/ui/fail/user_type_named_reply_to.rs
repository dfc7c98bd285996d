//! A user type named `ReplyTo` is not read as the runtime's in silence: one error on it
//! names the clash and the fix.
use genserver_runtime::prelude::*;

struct ReplyTo<T>(T);

struct S;

#[genserver]
impl S {
    #[call]
    fn later(&mut self, from: ReplyTo<u32>) -> NoReply {
        let _ = from.0;
        NoReply::ok()
    }
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: u32 = s.later().await.unwrap();
}

fn main() {
    let _ = use_it;
}
