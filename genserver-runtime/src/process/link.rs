//! Links: two servers that share their fate (OTP: `link/1`, `unlink/1`, exit signals and
//! `trap_exit`).
//!
//! A link is two-way: when either server exits, the other receives an exit signal with
//! the reason ([`Context::link`], or [`Builder::start_link`](crate::Builder::start_link)
//! from inside a server). What the signal does follows OTP:
//! - a server that traps exits ([`Context::trap_exits`]) receives it as an info message
//!   made from an [`Exit`], and keeps running;
//! - otherwise a `Normal` exit is ignored, and any other reason stops the server at once
//!   with the same reason, without running its `terminate` (as a kill does).
//!
//! [`Process::kill`](crate::Process::kill) cannot be trapped by the server killed; its
//! links see [`ExitReason::Killed`], which a trapping partner receives like any reason.
//!
//! Each side keeps the link in its [`Process`]'s list of ties; the exit removes it from
//! the partner's list as it signals, so that no entry outlives either server.

use std::sync::{Arc, Weak};

use super::{Control, Tie};
use crate::mailbox::Envelope;
use crate::{Context, ExitReason, GenServer, Process, ServerId};

/// An exit signal from a linked server, as a server that traps exits receives it (OTP:
/// `{:EXIT, pid, reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The linked server that exited.
    pub server: ServerId,
    /// Why it exited; [`ExitReason::NoProc`] if it had already exited when the link was
    /// made.
    pub reason: ExitReason,
}

/// One side of a link, in the list of the server at this side: the other server.
pub(crate) struct Link {
    server: ServerId,
    control: Weak<dyn Control>,
}

impl Link {
    /// The server at the other side.
    pub(crate) fn server(&self) -> ServerId {
        self.server
    }

    /// Sends the exit signal of `from`, which just exited with `reason`, to the other side.
    pub(crate) fn signal(self, from: ServerId, reason: &ExitReason) {
        if let Some(partner) = self.control.upgrade() {
            exit_signal(partner.process(), from, reason.clone(), true);
        }
    }
}

/// A server traps exits: this queues the signal as its info message.
pub(crate) struct Trap(Arc<dyn Fn(Exit) + Send + Sync>);

fn is_link_to(server: ServerId) -> impl Fn(&Tie) -> bool {
    move |tie| matches!(tie, Tie::Link(link) if link.server == server)
}

fn is_trap(tie: &Tie) -> bool {
    matches!(tie, Tie::Trap(_))
}

/// Delivers the exit signal of `from` to `to`. A signal through a link (`linked`) is
/// delivered only if the link is still there, and removes it.
fn exit_signal(to: &Process, from: ServerId, reason: ExitReason, linked: bool) {
    let trap = {
        let mut ties = to.ties();
        if linked {
            // Unlinked meanwhile: the signal is not delivered (OTP 23+ unlink semantics).
            let Some(position) = ties.iter().position(is_link_to(from)) else { return };
            ties.swap_remove(position);
        }
        ties.iter().find_map(|tie| match tie {
            Tie::Trap(trap) => Some(trap.0.clone()),
            _ => None,
        })
    };
    match trap {
        Some(trap) => trap(Exit { server: from, reason }),
        None if reason.is_normal() => {}
        None => to.kill_with(reason),
    }
}

/// Links `me`, a running server, with `other`. A link to itself, or one already there,
/// changes nothing. If `other` has exited, `me` receives its exit signal with `NoProc`.
pub(crate) fn link(me: &Process, other: &Process) {
    if me.id() == other.id() {
        return;
    }
    // This side first: if `other` exits between the two steps, its exit finds and
    // removes this entry, rather than leaving it behind.
    let mine = Tie::Link(Link { server: other.id(), control: other.control().clone() });
    if me.add_tie(mine, is_link_to(other.id())).is_err() {
        return;
    }
    let theirs = Tie::Link(Link { server: me.id(), control: me.control().clone() });
    if other.add_tie(theirs, is_link_to(me.id())).is_err() {
        drop(me.remove_tie(is_link_to(other.id())));
        exit_signal(me, other.id(), ExitReason::NoProc, false);
    }
}

impl<S: GenServer> Context<S> {
    /// Links this server with `server` (OTP: `Process.link/1`): from now on, when either
    /// exits, the other receives its exit signal (see [`trap_exits`](Self::trap_exits) for
    /// what a signal does). Linking twice makes one link; linking to itself does nothing.
    ///
    /// If `server` has already exited, this server receives an exit signal with
    /// [`ExitReason::NoProc`]: as an info message if it traps exits, otherwise it stops
    /// with `NoProc` (OTP raises `noproc` in the caller) at its next await point.
    pub fn link(&self, server: &Process) {
        link(self.process(), server);
    }

    /// Removes the link with `server`, if there is one (OTP: `Process.unlink/1`). Once it
    /// returns, neither exit reaches the other; a trapped exit already queued stays queued.
    pub fn unlink(&self, server: &Process) {
        drop(self.process().remove_tie(is_link_to(server.id())));
        drop(server.remove_tie(is_link_to(self.id())));
    }

    /// Traps exits (OTP: `Process.flag(:trap_exit, true)`): an exit signal from a linked
    /// server no longer stops this one, whatever its reason (`Normal` included); it
    /// arrives as the info message `to_info(exit)`. Replaces an earlier `to_info`.
    ///
    /// A [`kill`](crate::Process::kill) of this server itself cannot be trapped.
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    /// use genserver_runtime::Exit;
    ///
    /// pub struct Worker;
    ///
    /// #[genserver]
    /// impl Worker {
    ///     #[cast]
    ///     fn crash(&mut self) {
    ///         panic!("out of coffee");
    ///     }
    /// }
    ///
    /// pub struct Manager {
    ///     exits: Vec<Exit>,
    /// }
    ///
    /// #[genserver]
    /// impl Manager {
    ///     #[init]
    ///     fn init(cx: &mut Context<Self>) -> Init<Self> {
    ///         cx.trap_exits(|exit| ManagerInfo::Exit { exit });
    ///         Init::ok(Manager { exits: Vec::new() })
    ///     }
    ///
    ///     /// Starts a worker linked to this server.
    ///     #[call]
    ///     async fn start_worker(&mut self) -> Option<WorkerRef> {
    ///         Worker::start_link(Worker).await.ok()
    ///     }
    ///
    ///     #[info]
    ///     fn exit(&mut self, exit: Exit) {
    ///         self.exits.push(exit);
    ///     }
    ///
    ///     #[call]
    ///     fn exits(&self) -> Vec<Exit> {
    ///         self.exits.clone()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = Manager::start().await?;
    /// let worker = manager.start_worker().await?.expect("started");
    /// worker.crash();
    /// let reason = worker.exited().await;
    /// assert_eq!(reason, ExitReason::Panic("out of coffee".into()));
    /// assert_eq!(manager.exits().await?, vec![Exit { server: worker.id(), reason }]);
    /// assert!(manager.is_alive());
    /// # Ok(())
    /// # }
    /// ```
    pub fn trap_exits<F>(&self, to_info: F)
    where
        F: Fn(Exit) -> S::Info + Send + Sync + 'static,
    {
        let me = Arc::downgrade(self.server_ref().shared());
        let trap = Trap(Arc::new(move |exit| {
            if let Some(me) = me.upgrade() {
                me.mailbox.push_signal(Envelope::Info(to_info(exit)));
            }
        }));
        let old = self.process().remove_tie(is_trap);
        let _ = self.process().add_tie(Tie::Trap(trap), |_| false);
        drop(old);
    }

    /// Stops trapping exits (OTP: `Process.flag(:trap_exit, false)`): exit signals act on
    /// this server again. Signals already queued as info messages stay queued.
    pub fn stop_trapping_exits(&self) {
        drop(self.process().remove_tie(is_trap));
    }

    /// `true` while this server traps exits.
    pub fn traps_exits(&self) -> bool {
        self.process().ties().iter().any(is_trap)
    }
}
