//! Probes and their assertions: what each one takes from the inbox, and the failure
//! message of each, which names what was awaited and lists what did arrive.

mod common;
use common::failure_of;

use genserver_runtime::prelude::*;
use genserver_runtime::testing::{self, Probe, Received};
use genserver_runtime::{assert_down, assert_exit, assert_receive, refute_receive};

#[derive(Debug, PartialEq)]
enum Event {
    Saved { id: u32 },
    Deleted { id: u32 },
}

/// Notifies a callback of each item it stores, after a delay.
pub struct Store {
    notify: Box<dyn Fn(Event) + Send>,
}

#[genserver]
impl Store {
    #[cast]
    async fn save(&mut self, id: u32, after: Duration) {
        tokio::time::sleep(after).await;
        (self.notify)(Event::Saved { id });
    }

    #[cast]
    fn crash(&mut self) {
        panic!("disk on fire");
    }
}

#[testing::test]
async fn assert_receive_takes_the_first_match_and_leaves_the_others_in_order() {
    let probe = Probe::start().await;
    probe.send(Event::Deleted { id: 1 });
    probe.send(Event::Saved { id: 2 });
    probe.send(Event::Saved { id: 3 });
    assert_eq!(assert_receive!(probe, Event::Saved { .. }), Event::Saved { id: 2 });
    assert_eq!(probe.pending(), ["Message(Deleted { id: 1 })", "Message(Saved { id: 3 })"]);
    assert_eq!(assert_receive!(probe, Event::Saved { id } => id), 3);
    assert_eq!(assert_receive!(probe, Event::Deleted { id } if *id == 1), Event::Deleted { id: 1 });
    assert!(probe.is_empty());
}

#[testing::test]
async fn assert_receive_waits_in_virtual_time_for_a_server_to_send() {
    let probe = Probe::start().await;
    let store = testing::supervise(Store::start(Store { notify: Box::new(probe.sender()) }).await.unwrap());
    store.save(9, Duration::from_secs(30));
    let start = tokio::time::Instant::now();
    assert_receive!(probe, Event::Saved { id: 9 }, Duration::from_secs(31));
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

#[test]
fn assert_receive_failure_lists_the_inbox() {
    let message = failure_of(async {
        let probe = Probe::start().await;
        probe.send(Event::Deleted { id: 1 });
        assert_receive!(probe, Event::Saved { .. });
    });
    assert_eq!(
        message,
        "assert_receive! failed: no message matching `Event::Saved { .. }` arrived within 100ms (virtual \
         time on the kit's clock)\nthe probe's inbox holds, oldest first:\n  Message(Deleted { id: 1 })"
    );
}

#[test]
fn assert_receive_failure_on_an_empty_inbox_says_so() {
    let message = failure_of(async {
        let probe = Probe::<u32>::start().await;
        assert_receive!(probe, n if *n > 3, Duration::from_secs(2));
    });
    assert_eq!(
        message,
        "assert_receive! failed: no message matching `n if *n > 3` arrived within 2s (virtual time on the \
         kit's clock)\nthe probe's inbox is empty"
    );
}

#[testing::test]
async fn refute_receive_passes_when_only_other_messages_arrive() {
    let probe = Probe::start().await;
    probe.send(Event::Deleted { id: 1 });
    refute_receive!(probe, Event::Saved { .. }, Duration::from_secs(60));
    assert_eq!(probe.pending(), ["Message(Deleted { id: 1 })"]);
}

#[test]
fn refute_receive_failure_names_the_message_that_arrived() {
    let message = failure_of(async {
        let probe = Probe::start().await;
        let store =
            testing::supervise(Store::start(Store { notify: Box::new(probe.sender()) }).await.unwrap());
        store.save(4, Duration::from_secs(10));
        refute_receive!(probe, Event::Saved { .. }, Duration::from_secs(60));
    });
    assert_eq!(
        message,
        "refute_receive! failed: Message(Saved { id: 4 }) arrived within 60s (virtual time on the kit's clock), \
         matching `Event::Saved { .. }`\nthe probe's inbox is empty"
    );
}

#[testing::test]
async fn assert_down_returns_the_down_of_a_monitored_server() {
    let probe = Probe::<Event>::start().await;
    let store = Store::start(Store { notify: Box::new(|_| {}) }).await.unwrap();
    let monitor = probe.monitor(&store).await;
    store.crash();
    let down = assert_down!(probe, store.id(), ExitReason::Panic("disk on fire".into()));
    assert_eq!((down.id, down.server), (monitor, store.id()));
}

#[test]
fn assert_down_failure_names_the_server_and_reason_and_lists_the_inbox() {
    let seen = std::sync::Mutex::new(None);
    let message = failure_of(async {
        let probe = Probe::<Event>::start().await;
        let store = Store::start(Store { notify: Box::new(|_| {}) }).await.unwrap();
        let monitor = probe.monitor(&store).await;
        *seen.lock().unwrap() = Some((store.id(), monitor));
        store.kill();
        assert_down!(probe, store.id(), ExitReason::Normal);
    });
    let (server, monitor) = seen.into_inner().unwrap().expect("the test ran up to the assertion");
    assert_eq!(
        message,
        format!(
            "assert_down! failed: no DOWN of server {server} with reason `normal` arrived within 100ms (virtual \
             time on the kit's clock)\nthe probe's inbox holds, oldest first:\n  Down(Down {{ id: {monitor:?}, \
             server: {server:?}, reason: Killed }})"
        )
    );
}

#[testing::test]
async fn assert_exit_returns_the_exit_signal_of_a_linked_server() {
    let probe = Probe::<Event>::start().await;
    let store = Store::start(Store { notify: Box::new(|_| {}) }).await.unwrap();
    probe.link(&store).await;
    store.crash();
    let exit = assert_exit!(probe, store.id(), ExitReason::Panic("disk on fire".into()));
    assert_eq!(exit.server, store.id());
    assert!(probe.is_alive(), "the probe traps exits");
}

#[test]
fn assert_exit_failure_names_the_server_and_reason() {
    let seen = std::sync::Mutex::new(None);
    let message = failure_of(async {
        let probe = Probe::<Event>::start().await;
        let store = Store::start(Store { notify: Box::new(|_| {}) }).await.unwrap();
        *seen.lock().unwrap() = Some(store.id());
        assert_exit!(probe, store.id(), ExitReason::Shutdown, Duration::from_secs(1));
    });
    let store = seen.into_inner().unwrap().expect("the test ran up to the assertion");
    assert_eq!(
        message,
        format!(
            "assert_exit! failed: no exit signal of server {store} with reason `shutdown` arrived within 1s \
             (virtual time on the kit's clock)\nthe probe's inbox is empty"
        )
    );
}

#[testing::test]
async fn a_server_linked_to_a_probe_stops_when_the_probe_is_killed() {
    let probe = Probe::<Event>::start().await;
    let store = Store::start(Store { notify: Box::new(|_| {}) }).await.unwrap();
    probe.link(&store).await;
    probe.kill();
    assert_eq!(store.exited().await, ExitReason::Killed);
}

#[testing::test]
async fn receive_matching_returns_none_when_nothing_matches_in_time() {
    let probe = Probe::start().await;
    probe.send(Event::Saved { id: 1 });
    let found =
        probe.receive_matching(Duration::from_secs(5), |entry| matches!(entry, Received::Down(_))).await;
    assert_eq!(found, None);
    assert_eq!(probe.len(), 1);
}
