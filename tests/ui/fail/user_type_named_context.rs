//! A user type named `Context`, without type arguments, is not misread in silence: one
//! error on it.
use genserver_runtime::prelude::*;

struct Context;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self, cx: &mut Context) {
        let _ = cx;
    }
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    s.bump();
}

fn main() {
    let _ = use_it;
}
