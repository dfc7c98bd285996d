//! A private server type with the default `pub` generated items: the client handle
//! dereferences to the untyped `Process`, so no private type leaks into a public
//! interface, and handle methods still work without naming the server's type.
#![deny(warnings)]

use genserver_runtime::prelude::*;

struct Counter {
    count: u64,
}

#[genserver]
impl Counter {
    #[call]
    fn get(&self) -> u64 {
        self.count
    }

    #[cast]
    fn bump(&mut self) {
        self.count += 1;
    }

    #[info]
    fn tick(&mut self) {
        self.count += 10;
    }
}

mod elsewhere {
    /// Code that knows only the handle still sees the process behind it.
    pub fn describe(counter: &super::CounterRef) -> String {
        format!("{} alive={}", counter.id(), counter.is_alive())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter = Counter::start(Counter { count: 0 }).await.unwrap();
    counter.bump();
    counter.send_info(CounterInfo::Tick {}).unwrap();
    assert_eq!(counter.get().await.unwrap(), 11);
    assert!(elsewhere::describe(&counter).ends_with("alive=true"));
    counter.stop(ExitReason::Normal, Duration::from_secs(1)).await.unwrap();
    assert!(!counter.is_alive());
}
