//! Everything in the block that is not a marker stays as written: helper methods,
//! associated constants, other attributes, `mut` bindings, raw identifiers.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Counter {
    count: u64,
}

#[genserver]
impl Counter {
    const STEP: u64 = 2;

    fn doubled(&self) -> u64 {
        self.count * 2
    }

    #[call]
    #[inline]
    fn get(&self) -> u64 {
        self.doubled() / 2
    }

    #[cast]
    #[allow(unused_mut)]
    fn add(&mut self, mut by: u64) {
        by *= Self::STEP;
        self.count += by;
    }

    #[call]
    fn r#type(&self) -> &'static str {
        "counter"
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter = Counter::start(Counter { count: 1 }).await.unwrap();
    counter.add(2);
    assert_eq!(counter.get().await.unwrap(), 5);
    assert_eq!(counter.r#type().await.unwrap(), "counter");
}
