//! A `#[cfg]`-disabled handler leaves no trace (its types need not even exist), and doc
//! comments on handlers are accepted.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Metrics {
    count: u64,
}

#[genserver]
impl Metrics {
    /// Records one event and returns how many there were.
    #[call]
    fn record(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    /// Never compiled: `NotAType` does not exist.
    #[cfg(any())]
    #[call]
    fn never(&self, value: NotAType) -> NotAType {
        value
    }

    /// Forgets every event.
    #[cast]
    fn reset(&mut self) {
        self.count = 0;
    }

    #[cfg(any())]
    #[cast]
    fn never_cast(&mut self, value: NotAType) {
        let _ = value;
    }

    /// A periodic tick.
    #[info]
    fn tick(&mut self) {}

    #[cfg(any())]
    #[info]
    fn never_info(&mut self) {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let metrics = Metrics::start(Metrics { count: 0 }).await.unwrap();
    assert_eq!(metrics.record().await.unwrap(), 1);
    metrics.reset();
    metrics.send_info(MetricsInfo::Tick {}).unwrap();
    assert_eq!(metrics.record().await.unwrap(), 1);
}
