use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self, cx: Context<Self>) {
        let _ = cx;
    }
}

fn main() {}

// The handler is still generated, as a stub: using it reports nothing more.
async fn use_it() {
    let s = S::start(S).await.unwrap();
    s.bump();
}
