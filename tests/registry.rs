//! Registries: unique and duplicate keys, values, lookup, calling a server by its key,
//! dispatch to every entry of a key (publish/subscribe), unregister, and the removal of
//! a server's entries as it exits.
//!
//! Every wait is on an event (a reply, an exit); no test sleeps.

use genserver_runtime::prelude::*;
use genserver_runtime::{Keys, RegisterError, Registry};

/// A subscriber that keeps what was published to it.
pub struct Subscriber {
    seen: Vec<String>,
}

#[genserver]
impl Subscriber {
    /// Receives one publication.
    #[cast]
    fn publish(&mut self, text: String) {
        self.seen.push(text);
    }

    /// Everything received so far.
    #[call]
    fn seen(&self) -> Vec<String> {
        self.seen.clone()
    }
}

async fn subscriber() -> SubscriberRef {
    Subscriber::start(Subscriber { seen: Vec::new() }).await.expect("started")
}

fn ids(entries: Vec<(ProcessRef, u32)>) -> Vec<(ServerId, u32)> {
    entries.into_iter().map(|(process, value)| (process.id(), value)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_unique_key_holds_one_server_and_calls_reach_it_by_key() {
    let registry: Registry<&'static str, u32> = Registry::new(Keys::Unique);
    let (a, b) = (subscriber().await, subscriber().await);
    registry.register("a", a.as_ref(), 1).expect("registered");
    assert_eq!(registry.register("a", b.as_ref(), 2), Err(RegisterError::AlreadyRegistered(a.to_ref())));
    assert_eq!(ids(registry.lookup(&"a")), [(a.id(), 1)]);
    let by_key = registry.whereis::<Subscriber>(&"a").expect("found");
    by_key.publish("hi".into());
    assert_eq!(a.seen().await, Ok(vec!["hi".to_string()]));
    assert!(registry.whereis::<Subscriber>(&"b").is_none());
}

#[tokio::test(start_paused = true)]
async fn entries_are_removed_when_their_server_exits() {
    let registry: Registry<&'static str, u32> = Registry::new(Keys::Duplicate);
    let (a, b) = (subscriber().await, subscriber().await);
    registry.register("topic", a.as_ref(), 1).expect("registered");
    registry.register("topic", b.as_ref(), 2).expect("registered");
    registry.register("other", a.as_ref(), 3).expect("registered");
    assert_eq!(registry.count(), 3);
    a.kill();
    a.exited().await;
    assert_eq!(ids(registry.lookup(&"topic")), [(b.id(), 2)]);
    assert!(registry.lookup(&"other").is_empty());
    assert_eq!(registry.count(), 1);
    assert_eq!(registry.register("topic", a.as_ref(), 4), Err(RegisterError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn dispatch_publishes_to_every_subscriber_of_a_duplicate_key() {
    let registry: Registry<String> = Registry::new(Keys::Duplicate);
    let (a, b, c) = (subscriber().await, subscriber().await, subscriber().await);
    for subscriber in [&a, &b] {
        registry.register("news".to_string(), subscriber.as_ref(), ()).expect("subscribed");
    }
    registry.register("sport".to_string(), c.as_ref(), ()).expect("subscribed");
    let sent = registry.dispatch::<Subscriber>(&"news".to_string(), |subscriber, ()| {
        subscriber.publish("extra!".into());
    });
    assert_eq!(sent, 2);
    assert_eq!(a.seen().await, Ok(vec!["extra!".to_string()]));
    assert_eq!(b.seen().await, Ok(vec!["extra!".to_string()]));
    assert_eq!(c.seen().await, Ok(vec![]));
}

#[tokio::test(start_paused = true)]
async fn unregister_removes_a_servers_entries_under_a_key() {
    let registry: Registry<&'static str, u32> = Registry::new(Keys::Duplicate);
    let (a, b) = (subscriber().await, subscriber().await);
    registry.register("k", a.as_ref(), 1).expect("registered");
    registry.register("k", a.as_ref(), 2).expect("registered");
    registry.register("k", b.as_ref(), 3).expect("registered");
    registry.register("j", a.as_ref(), 4).expect("registered");
    let mut keys = registry.keys_of(&a);
    keys.sort();
    assert_eq!(keys, ["j", "k"]);
    registry.unregister(&"k", &a);
    assert_eq!(ids(registry.lookup(&"k")), [(b.id(), 3)]);
    assert_eq!(registry.keys_of(&a), ["j"]);
    // The exit finds only the entry that is left.
    a.kill();
    a.exited().await;
    assert_eq!(registry.count(), 1);
}

/// Counts its `init` runs.
pub struct Counted;

static INITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[genserver]
impl Counted {
    #[init]
    fn init() -> Init<Self> {
        INITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Init::ok(Counted)
    }

    /// Always "here".
    #[call]
    fn here(&self) -> &'static str {
        "here"
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_started_via_a_registry_is_called_by_key_and_the_key_is_taken_once() {
    let registry: Registry<&'static str, u32> = Registry::new(Keys::Unique);
    let first = Counted::builder().via(&registry, "counted", 7).start(()).await.expect("started");
    assert_eq!(ids(registry.lookup(&"counted")), [(first.id(), 7)]);
    let by_key = registry.whereis::<Counted>(&"counted").expect("registered");
    assert_eq!(by_key.here().await, Ok("here"));

    let taken = Counted::builder().via(&registry, "counted", 8).start(()).await;
    match taken {
        Err(genserver_runtime::StartError::KeyTaken(holder)) => assert_eq!(holder.id(), first.id()),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(INITS.load(std::sync::atomic::Ordering::SeqCst), 1, "init did not run for the second start");

    first.kill();
    first.exited().await;
    assert!(registry.whereis::<Counted>(&"counted").is_none());
    let again =
        Counted::builder().via(&registry, "counted", 9).start(()).await.expect("the key is free again");
    assert_eq!(ids(registry.lookup(&"counted")), [(again.id(), 9)]);
}
