//! Registries: servers found by keys of the program's choosing, each entry with a value
//! (Elixir: `Registry`).
//!
//! A [`Registry`] has [`Keys::Unique`] keys (one server per key: a name) or
//! [`Keys::Duplicate`] keys (any number: a topic to publish to). A server's entries are
//! removed as it exits, before its exit can be observed. [`Registry::whereis`] finds the
//! server under a unique key with its typed handle, so it can be called by key (Elixir's
//! "via" naming, looked up at each use); [`Registry::dispatch`] runs a function on every
//! entry of a key, typically to cast to every subscriber of a topic.
//!
//! The entries are split into partitions by a hash of the key, each behind its own lock,
//! so that servers registering different keys from several threads rarely wait for each
//! other (Elixir: `partitions`). Listeners see every entry added and removed, as a
//! [`RegistryEvent`] (Elixir: `listeners`).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::{ExitReason, GenServer, Process, ProcessRef, ServerRef};

/// Whether a key holds one server or many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keys {
    /// At most one entry per key.
    Unique,
    /// Any number of entries per key, the same server included.
    Duplicate,
}

/// Why [`Registry::register`] did not add an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// A unique key is held by this server (Elixir: `{:already_registered, pid}`).
    AlreadyRegistered(ProcessRef),
    /// The server has exited.
    NoServer,
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::AlreadyRegistered(holder) => {
                write!(f, "the key is held by server {}", holder.id())
            }
            RegisterError::NoServer => f.write_str("no such server: it is not running"),
        }
    }
}

impl std::error::Error for RegisterError {}

struct Entry<V> {
    process: ProcessRef,
    value: V,
    /// Names the tie that removes the entry on exit.
    token: u64,
}

/// A change to a registry, as its listeners see it (Elixir: the `{:register, ...}` and
/// `{:unregister, ...}` messages of `listeners`).
#[derive(Clone, Debug)]
pub enum RegistryEvent<K, V> {
    /// `server` was registered under `key` with `value`.
    Register {
        /// The key.
        key: K,
        /// The server.
        server: ProcessRef,
        /// The entry's value.
        value: V,
    },
    /// The entry of `server` under `key` was removed: by [`Registry::unregister`], or
    /// because the server exited. Elixir sends no event for an exit and leaves it to
    /// listeners to monitor the servers; here a listener's picture of the registry stays
    /// exact without monitors.
    Unregister {
        /// The key.
        key: K,
        /// The server.
        server: ProcessRef,
        /// Why the server exited, when its exit removed the entry; `None` for
        /// [`Registry::unregister`]. (The event comes before the exit is published, so
        /// `server.exit_reason()` is still `None` then.)
        exit: Option<ExitReason>,
    },
}

type Listener<K, V> = Box<dyn Fn(RegistryEvent<K, V>) + Send + Sync>;

/// One partition: the entries of the keys that hash to it.
type Partition<K, V> = Mutex<HashMap<K, Vec<Entry<V>>>>;

struct Inner<K, V> {
    keys: Keys,
    partitions: Box<[Partition<K, V>]>,
    /// Picks a key's partition.
    hasher: RandomState,
    listeners: Vec<Listener<K, V>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Inner<K, V> {
    /// The partition of `key`, locked.
    fn entries(&self, key: &K) -> MutexGuard<'_, HashMap<K, Vec<Entry<V>>>> {
        let index = self.hasher.hash_one(key) as usize % self.partitions.len();
        lock(&self.partitions[index])
    }

    /// Tells every listener. Called with the key's partition locked, so that listeners see
    /// the changes of a key in the order they happened.
    fn notify(&self, event: impl FnOnce() -> RegistryEvent<K, V>) {
        if let Some((last, others)) = self.listeners.split_last() {
            let event = event();
            for listener in others {
                call_listener(listener, event.clone());
            }
            call_listener(last, event);
        }
    }

    /// Removes the entry `token` under `key`; returns it, to be dropped outside the lock.
    /// Removes the entry `token` under `key` as its server exits with `exit`.
    fn remove(&self, key: &K, token: u64, exit: &ExitReason) -> Option<Entry<V>> {
        let mut entries = self.entries(key);
        let list = entries.get_mut(key)?;
        let position = list.iter().position(|entry| entry.token == token)?;
        let entry = list.remove(position);
        if list.is_empty() {
            entries.remove(key);
        }
        self.notify(|| RegistryEvent::Unregister {
            key: key.clone(),
            server: entry.process.clone(),
            exit: Some(exit.clone()),
        });
        Some(entry)
    }
}

/// Calls a listener. Listeners run inside a registration, an unregistration or a
/// server's exit, which must complete: a panic in one is logged and drops only its event.
fn call_listener<K, V>(listener: &Listener<K, V>, event: RegistryEvent<K, V>) {
    crate::panic::contain_panic("a registry listener", || listener(event));
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding the lock (a listener's panic is caught there); a
    // poisoned lock is still consistent.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Options for a [`Registry`]: its partitions and listeners (Elixir: the options of
/// `Registry.start_link/1`).
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{Keys, Registry, RegistryEvent};
///
/// pub struct Session;
///
/// #[genserver]
/// impl Session {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let sessions: Registry<u64> = Registry::builder(Keys::Unique)
///     .partitions(4)
///     .listener(move |event| {
///         let _ = events.send(event);
///     })
///     .build();
/// let session = Session::start(Session).await?;
/// sessions.register(7, session.as_ref(), ())?;
/// session.kill();
/// session.exited().await;
/// assert!(matches!(received.recv().await, Some(RegistryEvent::Register { key: 7, .. })));
/// assert!(matches!(received.recv().await, Some(RegistryEvent::Unregister { key: 7, .. })));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct RegistryBuilder<K, V = ()> {
    keys: Keys,
    partitions: usize,
    listeners: Vec<Listener<K, V>>,
}

impl<K, V> fmt::Debug for RegistryBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("keys", &self.keys)
            .field("partitions", &self.partitions)
            .field("listeners", &self.listeners.len())
            .finish()
    }
}

impl<K, V> RegistryBuilder<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Splits the entries into `partitions` parts by a hash of the key, each with its own
    /// lock (default 1; 0 counts as 1). Only a matter of speed: with many threads
    /// registering and looking up different keys at once, more partitions mean less
    /// waiting. Counting the entries or the keys of a server visits every partition.
    pub fn partitions(mut self, partitions: usize) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// Adds a listener, called with every [`RegistryEvent`]: each entry added, and each
    /// removed, whether by [`Registry::unregister`] or because its server exited.
    ///
    /// It is called while the key's partition is locked, so that the events of a key
    /// arrive in order: it should only pass the event on (a channel's `send`, a cast, a
    /// server's `send_info`) and must not use the registry, which would deadlock. A panic
    /// in it is logged and stops there: that event is lost to it, and nothing else.
    pub fn listener(mut self, listener: impl Fn(RegistryEvent<K, V>) + Send + Sync + 'static) -> Self {
        self.listeners.push(Box::new(listener));
        self
    }

    /// The registry, empty.
    pub fn build(self) -> Registry<K, V> {
        let partitions = (0..self.partitions).map(|_| Mutex::new(HashMap::new())).collect();
        let inner =
            Inner { keys: self.keys, partitions, hasher: RandomState::new(), listeners: self.listeners };
        Registry { inner: Arc::new(inner) }
    }
}

/// A registry of servers by key, each entry with a value of type `V` (Elixir: `Registry`).
/// Cheap to clone: clones share the entries.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{Keys, Registry};
///
/// pub struct Room;
///
/// #[genserver]
/// impl Room {
///     #[call]
///     fn hello(&self) -> &'static str {
///         "hello"
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rooms: Registry<String> = Registry::new(Keys::Unique);
/// let lobby = Room::start(Room).await?;
/// rooms.register("lobby".to_string(), lobby.as_ref(), ())?;
/// let found = rooms.whereis::<Room>(&"lobby".to_string()).expect("registered");
/// assert_eq!(found.hello().await?, "hello");
/// lobby.kill();
/// lobby.exited().await;
/// assert!(rooms.lookup(&"lobby".to_string()).is_empty());
/// # Ok(())
/// # }
/// ```
pub struct Registry<K, V = ()> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for Registry<K, V> {
    fn clone(&self) -> Self {
        Registry { inner: self.inner.clone() }
    }
}

impl<K, V> fmt::Debug for Registry<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("keys", &self.inner.keys)
            .field("partitions", &self.inner.partitions.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> Registry<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An empty registry, with one partition and no listener.
    pub fn new(keys: Keys) -> Self {
        Registry::builder(keys).build()
    }

    /// A builder, to set partitions and listeners.
    pub fn builder(keys: Keys) -> RegistryBuilder<K, V> {
        RegistryBuilder { keys, partitions: 1, listeners: Vec::new() }
    }

    /// How many partitions the entries are split into.
    pub fn partitions(&self) -> usize {
        self.inner.partitions.len()
    }

    /// Whether keys are unique or duplicate.
    pub fn keys(&self) -> Keys {
        self.inner.keys
    }

    /// Registers `server` under `key` with `value` (Elixir: `Registry.register/3`, which a
    /// process calls for itself; here any holder of the handle can). The entry goes when
    /// the server exits.
    pub fn register<S: GenServer>(
        &self,
        key: K,
        server: &ServerRef<S>,
        value: V,
    ) -> Result<(), RegisterError> {
        let token = crate::process::next_cleanup_token();
        let mut entries = self.inner.entries(&key);
        if self.inner.keys == Keys::Unique {
            if let Some(holder) = entries.get(&key).and_then(|list| list.first()) {
                return Err(RegisterError::AlreadyRegistered(holder.process.clone()));
            }
        }
        // The tie under the entries' lock: an exit from here on waits for the entry to be
        // in place, then removes it.
        let weak: Weak<Inner<K, V>> = Arc::downgrade(&self.inner);
        let tie_key = key.clone();
        let cleanup = move |exit: &ExitReason| {
            if let Some(inner) = weak.upgrade() {
                drop(inner.remove(&tie_key, token, exit));
            }
        };
        if !server.add_cleanup(token, cleanup) {
            return Err(RegisterError::NoServer);
        }
        let process = server.to_ref();
        self.inner.notify(|| RegistryEvent::Register {
            key: key.clone(),
            server: process.clone(),
            value: value.clone(),
        });
        entries.entry(key).or_default().push(Entry { process, value, token });
        Ok(())
    }

    /// Removes every entry of `server` under `key` (Elixir: `Registry.unregister/2`).
    pub fn unregister(&self, key: &K, server: &Process) {
        let removed: Vec<Entry<V>> = {
            let mut entries = self.inner.entries(key);
            let Some(list) = entries.get_mut(key) else { return };
            let (gone, kept): (Vec<_>, Vec<_>) =
                std::mem::take(list).into_iter().partition(|entry| entry.process.id() == server.id());
            if kept.is_empty() {
                entries.remove(key);
            } else {
                *list = kept;
            }
            for entry in &gone {
                self.inner.notify(|| RegistryEvent::Unregister {
                    key: key.clone(),
                    server: entry.process.clone(),
                    exit: None,
                });
            }
            gone
        };
        for entry in &removed {
            server.remove_cleanup(entry.token);
        }
    }

    /// The entries under `key`, in registration order: each server with its value
    /// (Elixir: `Registry.lookup/2`).
    pub fn lookup(&self, key: &K) -> Vec<(ProcessRef, V)> {
        self.inner
            .entries(key)
            .get(key)
            .map(|list| list.iter().map(|entry| (entry.process.clone(), entry.value.clone())).collect())
            .unwrap_or_default()
    }

    /// The server of type `S` under `key`, the first if the keys are duplicate: how to
    /// call a server by its key.
    pub fn whereis<S: GenServer>(&self, key: &K) -> Option<S::Ref> {
        let entries = self.inner.entries(key);
        let handle = entries.get(key)?.iter().find_map(|entry| entry.process.typed::<S>())?;
        Some(S::Ref::from(handle))
    }

    /// Calls `f` with the typed handle and value of every entry of type `S` under `key`,
    /// outside the registry's lock (Elixir: `Registry.dispatch/3`); returns how many.
    /// With duplicate keys, this is publishing to a topic's subscribers.
    pub fn dispatch<S: GenServer>(&self, key: &K, mut f: impl FnMut(S::Ref, V)) -> usize {
        let targets: Vec<(ServerRef<S>, V)> = self
            .inner
            .entries(key)
            .get(key)
            .map(|list| {
                list.iter()
                    .filter_map(|entry| {
                        entry.process.typed::<S>().map(|handle| (handle, entry.value.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let count = targets.len();
        for (handle, value) in targets {
            f(S::Ref::from(handle), value);
        }
        count
    }

    /// The keys `server` is registered under (Elixir: `Registry.keys/2`).
    pub fn keys_of(&self, server: &Process) -> Vec<K> {
        let mut keys = Vec::new();
        for partition in &self.inner.partitions {
            let entries = lock(partition);
            keys.extend(
                entries
                    .iter()
                    .filter(|(_, list)| list.iter().any(|entry| entry.process.id() == server.id()))
                    .map(|(key, _)| key.clone()),
            );
        }
        keys
    }

    /// How many entries the registry holds (Elixir: `Registry.count/1`).
    pub fn count(&self) -> usize {
        self.inner
            .partitions
            .iter()
            .map(|partition| lock(partition).values().map(Vec::len).sum::<usize>())
            .sum()
    }
}
