use genserver_runtime::prelude::*;

struct Cache<K> {
    keys: Vec<K>,
}

#[genserver]
impl<K> Cache<K> {
    #[call]
    fn len(&self) -> usize {
        self.keys.len()
    }
}

fn main() {}

// The server is still generated, with the bounds: using it reports nothing more.
async fn use_it() {
    let cache = Cache::<u32>::start(Cache { keys: Vec::new() }).await.unwrap();
    let _: usize = cache.len().await.unwrap();
}
