//! Names: find a server by a name instead of a handle (OTP: `name: MyServer`,
//! `Process.whereis/1`).
//!
//! A server started with [`Builder::name`](crate::Builder::name) is registered before its
//! `init` runs, and unregistered as it exits, before its exit can be observed: once a
//! call fails or [`Process::exited`](crate::Process::exited) returns, the name is
//! free. A start under a name that is taken does not run `init`; it returns
//! [`StartError::AlreadyStarted`](crate::StartError::AlreadyStarted) with the holder's
//! handle, or [`StartError::TakenByOtherType`](crate::StartError::TakenByOtherType) if the
//! holder is a server of another type.
//!
//! Names are global to the program and typed at lookup: [`whereis`] returns a handle of
//! the server type asked for, or `None` if the name is free or held by another type.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::{GenServer, ProcessRef, ServerId, ServerRef};

struct Registered {
    /// The server; its typed handle is recovered from it at lookup.
    process: ProcessRef,
}

static NAMES: LazyLock<Mutex<HashMap<Arc<str>, Registered>>> = LazyLock::new(Default::default);

fn names() -> MutexGuard<'static, HashMap<Arc<str>, Registered>> {
    NAMES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The handle of the server of type `S` registered under `name`, if there is one.
pub fn whereis<S: GenServer>(name: &str) -> Option<S::Ref> {
    names().get(name)?.process.downcast::<S>()
}

/// The id of whichever server is registered under `name`, whatever its type.
pub fn whereis_id(name: &str) -> Option<ServerId> {
    names().get(name).map(|entry| entry.process.id())
}

/// Every name registered now, in no particular order (Elixir: `Process.registered/0`).
/// A snapshot: a server may take or free a name right after.
///
/// ```
/// use genserver_runtime::prelude::*;
///
/// pub struct Cache;
///
/// #[genserver]
/// impl Cache {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = Cache::builder().name("cache").start(Cache).await?;
/// assert!(genserver_runtime::registered().iter().any(|name| &**name == "cache"));
/// cache.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
/// assert!(!genserver_runtime::registered().iter().any(|name| &**name == "cache"));
/// # Ok(())
/// # }
/// ```
pub fn registered() -> Vec<Arc<str>> {
    names().keys().cloned().collect()
}

/// Registers `server` under `name`, or returns who already holds it.
pub(crate) fn register<S: GenServer>(name: &Arc<str>, server: &ServerRef<S>) -> Result<(), ProcessRef> {
    match names().entry(name.clone()) {
        Entry::Occupied(held) => Err(held.get().process.clone()),
        Entry::Vacant(free) => {
            free.insert(Registered { process: server.to_ref() });
            Ok(())
        }
    }
}

/// Frees `name` if `id` still holds it.
pub(crate) fn unregister(name: &str, id: ServerId) {
    let removed = {
        let mut names = names();
        match names.get(name) {
            Some(entry) if entry.process.id() == id => names.remove(name),
            _ => None,
        }
    };
    // The handle is dropped outside the lock.
    drop(removed);
}
