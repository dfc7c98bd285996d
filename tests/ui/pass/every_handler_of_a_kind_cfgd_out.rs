//! When `#[cfg]` removes every handler of a kind, the generated enum is empty and every
//! `match` over it must still be exhaustive, for plain and generic servers alike.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Counter {
    n: u64,
}

#[genserver]
impl Counter {
    #[call]
    fn get(&self) -> u64 {
        self.n
    }

    #[cfg(any())]
    #[info]
    fn tick(&mut self) {
        self.n += 1;
    }

    #[cfg(any())]
    #[cast]
    fn bump(&mut self) {
        self.n += 1;
    }
}

pub struct Bag<K> {
    items: Vec<K>,
}

#[genserver]
impl<K: Send + 'static> Bag<K> {
    #[cfg(any())]
    #[info]
    fn tick(&mut self) {}

    #[call]
    fn len(&self) -> usize {
        self.items.len()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter = Counter::start(Counter { n: 1 }).await.unwrap();
    let bag = Bag::start(Bag { items: vec![1u8, 2] }).await.unwrap();
    assert_eq!(counter.get().await.unwrap(), 1);
    assert_eq!(bag.len().await.unwrap(), 2);
}
