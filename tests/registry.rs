//! Registries: unique and duplicate keys, values, lookup, calling a server by its key,
//! dispatch to every entry of a key (publish/subscribe), unregister, and the removal of
//! a server's entries as it exits, partitions, and listeners.
//!
//! Every wait is on an event (a reply, an exit); no test sleeps.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Waker};

use genserver_runtime::prelude::*;
use genserver_runtime::{Keys, RegisterError, Registry, RegistryEvent};
use tokio::sync::mpsc;

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
        // The holder is a `Counted`: the same typed `{:already_started, pid}` as a name's.
        Err(genserver_runtime::StartError::AlreadyStarted(holder)) => {
            assert_eq!(holder.id(), first.id());
            assert_eq!(holder.here().await, Ok("here"), "the holder's typed handle works");
        }
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

/// An event as a listener test compares it: (kind, key, server, value or exit reason).
fn describe(event: RegistryEvent<&'static str, u32>) -> String {
    match event {
        RegistryEvent::Register { key, server, value } => format!("register {key} {} {value}", server.id()),
        RegistryEvent::Unregister { key, server, exit } => match exit {
            None => format!("unregister {key} {}", server.id()),
            Some(reason) => format!("unregister {key} {} (exited: {reason})", server.id()),
        },
    }
}

#[tokio::test(start_paused = true)]
async fn listeners_see_every_entry_added_and_removed_in_order_exits_included() {
    // Two listeners: a channel, and a server that gets each event as a cast.
    let (events, mut received) = mpsc::unbounded_channel();
    let log = subscriber().await;
    let registry: Registry<&'static str, u32> = Registry::builder(Keys::Duplicate)
        .listener(move |event| {
            let _ = events.send(describe(event));
        })
        .listener({
            let log = log.clone();
            move |event| log.publish(describe(event))
        })
        .build();
    let (a, b) = (subscriber().await, subscriber().await);
    registry.register("k", a.as_ref(), 1).expect("registered");
    registry.register("k", b.as_ref(), 2).expect("registered");
    registry.register("j", b.as_ref(), 3).expect("registered");
    registry.unregister(&"k", &a);
    registry.unregister(&"k", &a); // nothing left to remove: no event
    b.kill();
    b.exited().await;
    drop(registry); // drops the listeners, so the channel ends
    let (a, b) = (a.id(), b.id());
    let mut expected = vec![
        format!("register k {a} 1"),
        format!("register k {b} 2"),
        format!("register j {b} 3"),
        format!("unregister k {a}"),
    ];
    let mut on_exit =
        vec![format!("unregister k {b} (exited: killed)"), format!("unregister j {b} (exited: killed)")];
    let mut seen = Vec::new();
    while let Some(event) = received.recv().await {
        seen.push(event);
    }
    // The order of one server's keys as it exits is the order of its ties: not promised.
    let mut seen_on_exit = seen.split_off(expected.len());
    seen_on_exit.sort();
    on_exit.sort();
    assert_eq!((seen, seen_on_exit), (expected.clone(), on_exit.clone()));
    let mut by_server = log.seen().await.expect("seen");
    let mut server_on_exit = by_server.split_off(expected.len());
    server_on_exit.sort();
    expected.extend(on_exit);
    by_server.extend(server_on_exit);
    assert_eq!(by_server, expected);
}

#[tokio::test(start_paused = true)]
async fn a_partitioned_registry_finds_counts_and_cleans_up_across_partitions() {
    let registry: Registry<u32, u32> = Registry::builder(Keys::Unique).partitions(8).build();
    assert_eq!(registry.partitions(), 8);
    let (a, b) = (subscriber().await, subscriber().await);
    for key in 0..100 {
        let server = if key % 2 == 0 { &a } else { &b };
        registry.register(key, server.as_ref(), key * 10).expect("registered");
    }
    assert_eq!(registry.register(42, b.as_ref(), 0), Err(RegisterError::AlreadyRegistered(a.to_ref())));
    assert_eq!(registry.count(), 100);
    for key in 0..100 {
        let owner = if key % 2 == 0 { a.id() } else { b.id() };
        assert_eq!(ids(registry.lookup(&key)), [(owner, key * 10)]);
    }
    let mut keys = registry.keys_of(&b);
    keys.sort();
    assert_eq!(keys, (0..100).filter(|key| key % 2 == 1).collect::<Vec<_>>());
    a.kill();
    a.exited().await;
    assert_eq!(registry.count(), 50);
    assert!((0..100).step_by(2).all(|key| registry.lookup(&key).is_empty()));
    assert_eq!(Registry::<u32>::builder(Keys::Unique).partitions(0).build().partitions(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_registering_different_keys_in_a_partitioned_registry_lose_no_entry() {
    let registry: Registry<(usize, usize), ()> = Registry::builder(Keys::Unique).partitions(4).build();
    let mut tasks = Vec::new();
    for thread in 0..4 {
        let registry = registry.clone();
        tasks.push(tokio::spawn(async move {
            let server = subscriber().await;
            for key in 0..200 {
                registry.register((thread, key), server.as_ref(), ()).expect("registered");
            }
            server
        }));
    }
    let mut servers = Vec::new();
    for task in tasks {
        servers.push(task.await.expect("task"));
    }
    assert_eq!(registry.count(), 800);
    for (thread, server) in servers.iter().enumerate() {
        assert_eq!(registry.keys_of(server).len(), 200);
        assert_eq!(registry.lookup(&(thread, 199)).first().map(|(p, ())| p.id()), Some(server.id()));
    }
    for server in &servers {
        server.kill();
        server.exited().await;
    }
    assert_eq!(registry.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_entry_is_gone_before_the_exit_is_observed_even_if_the_monitor_came_first() {
    // The monitor is set up before the entry, so its tie comes first in the server's list;
    // the listener, called as the entry goes, checks that no DOWN has gone out yet.
    let server = subscriber().await;
    let monitor = Arc::new(Mutex::new(server.monitor()));
    let down_before_removal = Arc::new(Mutex::new(None));
    let registry: Registry<&'static str> = Registry::builder(Keys::Unique)
        .listener({
            let (monitor, down_before_removal) = (monitor.clone(), down_before_removal.clone());
            move |event| {
                if let RegistryEvent::Unregister { .. } = event {
                    let mut monitor = monitor.lock().expect("monitor lock");
                    let polled = Pin::new(&mut *monitor).poll(&mut TaskContext::from_waker(Waker::noop()));
                    *down_before_removal.lock().expect("lock") = Some(polled.is_ready());
                }
            }
        })
        .build();
    registry.register("key", server.as_ref(), ()).expect("registered");
    server.kill();
    server.exited().await;
    assert_eq!(*down_before_removal.lock().expect("lock"), Some(false));
}

#[tokio::test]
async fn a_panicking_listener_does_not_stop_the_exit_of_a_registered_server() {
    // A listener that panics (a bug in user code, such as `send(..).unwrap()` on a closed
    // channel): the registry keeps working, and the exit of a server registered there
    // still reaches its exit waiters and its monitors.
    let registry: Registry<&'static str> =
        Registry::builder(Keys::Unique).listener(|_| panic!("a listener that panics")).build();
    let server = subscriber().await;
    assert_eq!(registry.register("a", server.as_ref(), ()), Ok(()));
    assert_eq!(registry.lookup(&"a").len(), 1);
    let waiter = tokio::spawn({
        let server = server.clone();
        async move { server.exited().await }
    });
    tokio::task::yield_now().await; // the waiter runs first, and waits for the exit
    let down = server.monitor();
    server.kill();
    // The bound is only reached if the waiter is never woken.
    let exit = tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("the exit waiter is woken");
    assert_eq!(exit.expect("the waiter task"), ExitReason::Killed);
    let down = tokio::time::timeout(Duration::from_secs(5), down).await.expect("the DOWN arrives");
    assert_eq!(down.reason, ExitReason::Killed);
    assert_eq!(registry.count(), 0, "the entry went with the server");
}
