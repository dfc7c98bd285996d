use genserver_runtime::prelude::*;

struct S {
    count: u32,
}

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self) -> u32 {
        self.count += 1;
        self.count
    }
}

fn main() {}

// The handler is still generated, as a stub: using it reports nothing more.
async fn use_it() {
    let s = S::start(S { count: 0 }).await.unwrap();
    s.bump();
}
