//! Process groups: named sets of servers, for finding them and casting to all of them
//! (OTP: `pg`).
//!
//! A server joins a group with [`join`] and leaves it with [`leave`], or on its own when
//! it exits: the exit removes it from every group it joined before the exit can be
//! observed, so once [`Process::exited`](crate::Process::exited) returns, [`members`] no
//! longer lists it. A server may join a group several times, as in `pg`; it is then listed
//! once per join and leaves one join per [`leave`].
//!
//! Groups are global to the program. Members are kept with their typed handle, so
//! [`members_of`] and [`cast`] reach the members of one server type.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::{GenServer, ProcessRef, ServerRef};

struct Member {
    process: ProcessRef,
    /// Names the cleanup tie that removes this membership when the server exits.
    token: u64,
}

static GROUPS: LazyLock<Mutex<HashMap<Arc<str>, Vec<Member>>>> = LazyLock::new(Default::default);

fn groups() -> MutexGuard<'static, HashMap<Arc<str>, Vec<Member>>> {
    GROUPS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds `server` to `group` (OTP: `pg:join/2`). `false` if the server has already exited,
/// in which case nothing is added.
pub fn join<S: GenServer>(group: &str, server: &ServerRef<S>) -> bool {
    let group: Arc<str> = group.into();
    let token = crate::process::next_cleanup_token();
    // The tie first, under the groups' lock: an exit after this finds it and removes
    // the membership added below.
    let mut members = groups();
    let name = group.clone();
    let cleanup = move |_: &crate::ExitReason| {
        remove(&name, |member| member.token == token);
    };
    if !server.add_cleanup(token, cleanup) {
        return false;
    }
    members.entry(group).or_default().push(Member { process: server.to_ref(), token });
    true
}

/// Removes one join of `server` from `group` (OTP: `pg:leave/2`). `false` if it was not
/// a member.
pub fn leave(group: &str, server: &crate::Process) -> bool {
    let id = server.id();
    let Some(token) = remove(group, |member| member.process.id() == id) else { return false };
    server.remove_cleanup(token);
    true
}

/// Removes the first membership of `group` that `matches`, for `leave` and for the
/// exit's cleanup; its token if there was one.
fn remove(group: &str, matches: impl Fn(&Member) -> bool) -> Option<u64> {
    let removed = {
        let mut groups = groups();
        let members = groups.get_mut(group)?;
        let position = members.iter().position(matches)?;
        let removed = members.remove(position);
        if members.is_empty() {
            groups.remove(group);
        }
        removed
    };
    let token = removed.token;
    // The handles are dropped outside the lock.
    drop(removed);
    Some(token)
}

/// Every member of `group`, in join order (OTP: `pg:get_members/1`).
pub fn members(group: &str) -> Vec<ProcessRef> {
    groups().get(group).map(|members| members.iter().map(|m| m.process.clone()).collect()).unwrap_or_default()
}

/// The members of `group` that are servers of type `S`, in join order.
pub fn members_of<S: GenServer>(group: &str) -> Vec<S::Ref> {
    groups()
        .get(group)
        .map(|members| {
            members.iter().filter_map(|member| member.process.typed::<S>()).map(S::Ref::from).collect()
        })
        .unwrap_or_default()
}

/// Casts the message `make()` to every member of `group` of type `S` (OTP: sending to
/// each of `pg:get_members/1`); returns how many it was sent to. Like any cast, it does
/// not wait, and a member that exits meanwhile drops it.
pub fn cast<S: GenServer>(group: &str, make: impl Fn() -> S::Msg) -> usize {
    let targets: Vec<ServerRef<S>> = groups()
        .get(group)
        .map(|members| members.iter().filter_map(|member| member.process.typed::<S>()).collect())
        .unwrap_or_default();
    // Sent outside the lock.
    for target in &targets {
        target.cast(make());
    }
    targets.len()
}
