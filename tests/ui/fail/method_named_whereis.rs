use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn whereis(&self) -> String {
        String::new()
    }
}

fn main() {}

// The server is still generated, without its own `whereis`: using it reports nothing more.
async fn use_it() {
    let s = S::start(S).await.unwrap();
    let _: String = s.whereis().await.unwrap();
}
