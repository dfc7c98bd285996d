//! `#[genserver(vis = pub(crate))]` makes the generated types and constructors
//! `pub(crate)`, so a `pub(crate)` server needs no `pub` anywhere.
#![deny(warnings)]

mod inner {
    use genserver_runtime::prelude::*;

    pub(crate) struct Counter {
        count: u64,
    }

    #[genserver(vis = pub(crate))]
    impl Counter {
        #[call]
        pub(crate) fn get(&self) -> u64 {
            self.count
        }

        #[cast]
        pub(crate) fn add(&mut self, by: u64) {
            self.count += by;
        }
    }

    pub(crate) fn counter(count: u64) -> Counter {
        Counter { count }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter: inner::CounterRef = inner::Counter::start(inner::counter(1)).await.unwrap();
    counter.add(1);
    assert_eq!(counter.get().await.unwrap(), 2);
}
