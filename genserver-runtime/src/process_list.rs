//! The process list: every live server, as plain data (OTP: `Process.list/0` with
//! `Process.info/1`, what `:observer` shows in its process tab).
//!
//! Each server is entered as its start registers it and removed as it exits, in a table
//! split into shards by id so that starts on different threads seldom meet on a lock.
//! [`processes`] reads what each server's handle can tell without asking the server (its
//! id, type, name, parent and children, mailbox, links and monitors), so it answers even
//! while every server is busy; the state and statistics come from
//! [`sys::get_status`](crate::sys::get_status), which asks the server.
//!
//! ```
//! use genserver_runtime::prelude::*;
//! use genserver_runtime::process_list;
//!
//! pub struct Idle;
//!
//! #[genserver]
//! impl Idle {
//!     #[cast]
//!     fn poke(&mut self) {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let idle = Idle::builder().name("idle").start(Idle).await?;
//! let listed = process_list::processes().into_iter().find(|info| info.id == idle.id()).unwrap();
//! assert_eq!((listed.server_type.as_str(), listed.name.as_deref()), ("Idle", Some("idle")));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, Weak};

use crate::ServerId;
use crate::process::Control;

/// One live server, as [`processes`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Its id.
    pub id: ServerId,
    /// Its type, without module paths.
    pub server_type: String,
    /// The name it was started under.
    pub name: Option<String>,
    /// The server that started it (its supervisor, or the server that called
    /// `start_link`), if a server did.
    pub parent: Option<ServerId>,
    /// The live servers it started, by id.
    pub children: Vec<ServerId>,
    /// Entries in its mailbox.
    pub mailbox_len: usize,
    /// The most entries it found waiting at once.
    pub peak_mailbox_len: usize,
    /// The servers it is linked with.
    pub links: Vec<ServerId>,
    /// The servers it monitors.
    pub monitors: Vec<ServerId>,
    /// How many monitors watch it.
    pub monitored_by: usize,
    /// Whether it traps exits.
    pub trap_exits: bool,
}

/// Every live server, by id (which is also start order).
pub fn processes() -> Vec<ProcessInfo> {
    let mut listed: Vec<ProcessInfo> = SHARDS
        .iter()
        .flat_map(|shard| lock(shard).values().filter_map(Weak::upgrade).collect::<Vec<_>>())
        .filter(|control| control.process().is_alive())
        .map(|control| describe(control.as_ref()))
        .collect();
    listed.sort_by_key(|info| info.id);
    let parents: Vec<(ServerId, ServerId)> =
        listed.iter().filter_map(|info| Some((info.parent?, info.id))).collect();
    for info in &mut listed {
        info.children =
            parents.iter().filter(|(parent, _)| *parent == info.id).map(|(_, child)| *child).collect();
    }
    listed
}

fn describe(control: &dyn Control) -> ProcessInfo {
    let process = control.process();
    let ties = process.tie_summary();
    let counts = control.mailbox_counts();
    ProcessInfo {
        id: process.id(),
        server_type: control.server_type(),
        name: process.name().map(str::to_owned),
        parent: process.parent(),
        children: Vec::new(),
        mailbox_len: counts.len,
        peak_mailbox_len: counts.peak,
        links: ties.links,
        monitors: ties.monitors,
        monitored_by: ties.monitored_by,
        trap_exits: ties.trap_exits,
    }
}

/// Enters a server that is starting.
pub(crate) fn enter(id: ServerId, control: Weak<dyn Control>) {
    lock(shard_of(id)).insert(id.as_u64(), control);
}

/// Removes a server that has exited, or whose start was refused.
pub(crate) fn remove(id: ServerId) {
    lock(shard_of(id)).remove(&id.as_u64());
}

/// A shard's servers by id. Ids are unique counters, so their hash is the id itself.
type Shard = Mutex<HashMap<u64, Weak<dyn Control>, BuildHasherDefault<IdHasher>>>;

const SHARD_COUNT: usize = 16;

static SHARDS: [Shard; SHARD_COUNT] =
    [const { Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; SHARD_COUNT];

fn shard_of(id: ServerId) -> &'static Shard {
    &SHARDS[id.as_u64() as usize % SHARD_COUNT]
}

fn lock(shard: &Shard) -> MutexGuard<'_, HashMap<u64, Weak<dyn Control>, BuildHasherDefault<IdHasher>>> {
    // No code panics while holding the lock; a poisoned lock is still consistent.
    shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hashes an id by spreading its bits (Fibonacci hashing): ids are distinct counters, so
/// this is enough, and far cheaper than SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8 | u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use crate::{ExitReason, ServerId};

    #[test]
    fn ids_and_exit_reasons_serialize_as_otp_writes_them() {
        let id = ServerId::next();
        assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(id.as_u64()));
        assert_eq!(serde_json::to_value(ExitReason::Normal).unwrap(), serde_json::json!("normal"));
        assert_eq!(
            serde_json::to_value(ExitReason::Panic("boom".into())).unwrap(),
            serde_json::json!({ "panic": "boom" })
        );
        assert_eq!(
            serde_json::to_value(ExitReason::error("disk full")).unwrap(),
            serde_json::json!({ "error": "disk full" })
        );
    }

    #[test]
    fn a_process_info_serializes_with_every_field() {
        let info = super::ProcessInfo {
            id: ServerId::next(),
            server_type: "Worker".into(),
            name: Some("w".into()),
            parent: None,
            children: Vec::new(),
            mailbox_len: 2,
            peak_mailbox_len: 5,
            links: Vec::new(),
            monitors: Vec::new(),
            monitored_by: 1,
            trap_exits: false,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["server_type"], "Worker");
        assert_eq!(json["parent"], serde_json::Value::Null);
        assert_eq!((json["mailbox_len"].as_u64(), json["peak_mailbox_len"].as_u64()), (Some(2), Some(5)));
        assert_eq!(json["id"].as_u64(), Some(info.id.as_u64()));
    }
}
