//! Registries: servers found by keys of the program's choosing, each entry with a value
//! (Elixir: `Registry`).
//!
//! A [`Registry`] has [`Keys::Unique`] keys (one server per key: a name) or
//! [`Keys::Duplicate`] keys (any number: a topic to publish to). A server's entries are
//! removed as it exits, before its exit can be observed. [`Registry::whereis`] finds the
//! server under a unique key with its typed handle, so it can be called by key (Elixir's
//! "via" naming, looked up at each use); [`Registry::dispatch`] runs a function on every
//! entry of a key, typically to cast to every subscriber of a topic.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::process::Tie;
use crate::{GenServer, Process, ProcessRef, ServerRef};

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

struct Inner<K, V> {
    keys: Keys,
    entries: Mutex<HashMap<K, Vec<Entry<V>>>>,
}

impl<K: Eq + Hash, V> Inner<K, V> {
    fn entries(&self) -> MutexGuard<'_, HashMap<K, Vec<Entry<V>>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Removes the entry `token` under `key`; returns it, to be dropped outside the lock.
    fn remove(&self, key: &K, token: u64) -> Option<Entry<V>> {
        let mut entries = self.entries();
        let list = entries.get_mut(key)?;
        let position = list.iter().position(|entry| entry.token == token)?;
        let entry = list.remove(position);
        if list.is_empty() {
            entries.remove(key);
        }
        Some(entry)
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
        f.debug_struct("Registry").field("keys", &self.inner.keys).finish_non_exhaustive()
    }
}

impl<K, V> Registry<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An empty registry.
    pub fn new(keys: Keys) -> Self {
        Registry { inner: Arc::new(Inner { keys, entries: Mutex::new(HashMap::new()) }) }
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
        let mut entries = self.inner.entries();
        if self.inner.keys == Keys::Unique {
            if let Some(holder) = entries.get(&key).and_then(|list| list.first()) {
                return Err(RegisterError::AlreadyRegistered(holder.process.clone()));
            }
        }
        // The tie under the entries' lock: an exit from here on waits for the entry to be
        // in place, then removes it.
        let weak: Weak<Inner<K, V>> = Arc::downgrade(&self.inner);
        let tie_key = key.clone();
        let cleanup = Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                drop(inner.remove(&tie_key, token));
            }
        });
        if server.add_tie(Tie::Cleanup(token, cleanup), |_| false).is_err() {
            return Err(RegisterError::NoServer);
        }
        let entry = Entry { process: server.to_ref(), value, token };
        entries.entry(key).or_default().push(entry);
        Ok(())
    }

    /// Removes every entry of `server` under `key` (Elixir: `Registry.unregister/2`).
    pub fn unregister(&self, key: &K, server: &Process) {
        let removed: Vec<Entry<V>> = {
            let mut entries = self.inner.entries();
            let Some(list) = entries.get_mut(key) else { return };
            let (gone, kept): (Vec<_>, Vec<_>) =
                std::mem::take(list).into_iter().partition(|entry| entry.process.id() == server.id());
            if kept.is_empty() {
                entries.remove(key);
            } else {
                *list = kept;
            }
            gone
        };
        for entry in &removed {
            drop(server.remove_tie(|tie| matches!(tie, Tie::Cleanup(token, _) if *token == entry.token)));
        }
    }

    /// The entries under `key`, in registration order: each server with its value
    /// (Elixir: `Registry.lookup/2`).
    pub fn lookup(&self, key: &K) -> Vec<(ProcessRef, V)> {
        self.inner
            .entries()
            .get(key)
            .map(|list| list.iter().map(|entry| (entry.process.clone(), entry.value.clone())).collect())
            .unwrap_or_default()
    }

    /// The server of type `S` under `key`, the first if the keys are duplicate: how to
    /// call a server by its key.
    pub fn whereis<S: GenServer>(&self, key: &K) -> Option<S::Ref> {
        let entries = self.inner.entries();
        let handle = entries.get(key)?.iter().find_map(|entry| entry.process.typed::<S>())?;
        Some(S::Ref::from(handle))
    }

    /// Calls `f` with the typed handle and value of every entry of type `S` under `key`,
    /// outside the registry's lock (Elixir: `Registry.dispatch/3`); returns how many.
    /// With duplicate keys, this is publishing to a topic's subscribers.
    pub fn dispatch<S: GenServer>(&self, key: &K, mut f: impl FnMut(S::Ref, V)) -> usize {
        let targets: Vec<(ServerRef<S>, V)> = self
            .inner
            .entries()
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
        self.inner
            .entries()
            .iter()
            .filter(|(_, list)| list.iter().any(|entry| entry.process.id() == server.id()))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// How many entries the registry holds (Elixir: `Registry.count/1`).
    pub fn count(&self) -> usize {
        self.inner.entries().values().map(Vec::len).sum()
    }
}
