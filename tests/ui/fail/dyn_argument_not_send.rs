//! A trait object argument without `+ Send` cannot travel to the server's task.
use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn run(&mut self, job: Box<dyn FnOnce()>) {
        job();
    }
}

async fn use_it() {
    let s = S::start(S).await.unwrap();
    s.run(Box::new(|| {}));
}

fn main() {
    let _ = use_it;
}
