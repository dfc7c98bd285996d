//! The smallest server: no #[init], so `start` takes the state itself.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Counter {
    count: u64,
}

#[genserver]
impl Counter {
    #[call]
    fn get(&self) -> u64 {
        self.count
    }

    #[cast]
    fn add(&mut self, by: u64) {
        self.count += by;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter: CounterRef = Counter::start(Counter { count: 1 }).await.unwrap();
    counter.add(2);
    assert_eq!(counter.get().await.unwrap(), 3);
}
