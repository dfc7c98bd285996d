//! Valid servers that look unusual: markers imported by name, a deprecated handler and
//! lifetimes on `&self`, all under `deny(warnings)`.
#![deny(warnings)]

use genserver_runtime::{call, cast, genserver};

struct Store {
    items: Vec<String>,
}

#[genserver]
impl Store {
    /// How many items there are.
    #[call]
    fn len<'a>(&'a self) -> usize {
        self.items.len()
    }

    /// Use `push` instead.
    #[deprecated = "use `push`"]
    #[cast]
    fn add(&mut self, item: String) {
        self.items.push(item);
    }

    #[cast]
    fn push(&mut self, item: String) {
        self.items.push(item);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let store = Store::start(Store { items: Vec::new() }).await.unwrap();
    store.push("a".into());
    #[allow(deprecated)]
    store.add("b".into());
    assert_eq!(store.len().await.unwrap(), 2);
}
