//! Elixir/Erlang's GenServer for Rust, on tokio.
//!
//! Put `#[genserver]` on an ordinary `impl` block and mark its methods as callbacks. The
//! macro generates the message enums, a typed client handle with one method per call and
//! cast, `start`/`start_link`/`builder`, and the dispatch; this crate runs it: one tokio
//! task per server with a mailbox, timers, names, exit reasons and crash reports.
//!
//! Coming from Elixir? The guide "From Elixir GenServer to `#[genserver]`"
//! (`docs/elixir-to-rust.md` in the repository) sets every concept of Elixir's GenServer
//! beside its Rust form and walks through the code the macro generates.
//!
//! ```
//! use genserver_runtime::prelude::*;
//! use std::collections::HashMap;
//! use std::time::Duration;
//!
//! pub struct ConfigServer {
//!     config: HashMap<String, String>,
//! }
//!
//! #[genserver]
//! impl ConfigServer {
//!     #[init]
//!     fn init(initial: HashMap<String, String>) -> Init<Self> {
//!         Init::ok(ConfigServer { config: initial })
//!     }
//!
//!     /// The value of `key`, if set.
//!     #[call]
//!     pub fn get(&self, key: String) -> Option<String> {
//!         self.config.get(&key).cloned()
//!     }
//!
//!     /// Sets `key` to `value`.
//!     #[call]
//!     pub fn set(&mut self, key: String, value: String) {
//!         self.config.insert(key, value);
//!     }
//!
//!     /// Forgets every key.
//!     #[cast]
//!     pub fn clear(&mut self) {
//!         self.config.clear();
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ConfigServer::start(HashMap::new()).await?;
//! config.set("mode".into(), "fast".into()).await?;
//! let mode = config.get("mode".into()).timeout(Duration::from_millis(50)).await?;
//! assert_eq!(mode.as_deref(), Some("fast"));
//! config.clear();
//! assert_eq!(config.get("mode".into()).await?, None);
//! # Ok(())
//! # }
//! ```
//!
//! # Callbacks
//!
//! | Marker | OTP callback | Signature (sync or `async`) |
//! |---|---|---|
//! | `#[init]` | `init/1` | `fn(args…, [cx: &mut Context<Self>]) -> Init<Self> \| Result<Self, E>` |
//! | `#[call]` | `handle_call/3` | `fn(&self \| &mut self, args…, [from: ReplyTo<R>], [cx]) -> R \| Reply<R> \| NoReply` |
//! | `#[cast]` | `handle_cast/2` | `fn(&mut self, args…, [cx]) -> () \| NoReply` |
//! | `#[info]` | `handle_info/2` | `fn(&mut self, args…, [cx]) -> () \| NoReply` |
//! | `#[handle_continue]` | `handle_continue/2` | `fn(&mut self, args…, [cx]) -> () \| NoReply` |
//! | `#[timeout]` | `handle_info(:timeout, s)` | `fn(&mut self, [cx]) -> () \| NoReply` |
//! | `#[terminate]` | `terminate/2` | `fn(&mut self, reason: &ExitReason, [cx]) -> ()` |
//!
//! Without `#[init]`, `start` takes the state itself. Return values are described in
//! [`returns`]; errors in [`CallError`], [`StartError`], [`StopError`].
//!
//! # What `#[genserver]` generates
//!
//! For `impl ConfigServer` (read it with `cargo expand`):
//! - `ConfigServerMsg`: one struct-like variant per `#[call]`/`#[cast]`, fields named
//!   after the arguments; a call variant also holds `reply_to: ReplyTo<R>`.
//! - `ConfigServerInfo` and `ConfigServerContinue`: one variant per `#[info]` and
//!   `#[handle_continue]` handler.
//! - `ConfigServerRef`: the client handle, one method per call (returning a [`Call`] to
//!   await, with `.timeout(d)`) and per cast (returning at once), plus `send_info` when
//!   the server has info handlers. It dereferences to the server's [`Process`] for `id`,
//!   `is_alive`, `exited`, `stop`, `kill` and `monitor`, and `as_ref()` gives the typed
//!   [`ServerRef`] (for `try_cast` and raw messages).
//! - `ConfigServer::start`, `start_link`, `builder` (see [`Builder`]), `whereis`, and
//!   `child_spec(args)`: a [`ChildSpec`] with the type's name as id that starts the server
//!   with `start_link` (Elixir's `use GenServer`).
//! - `impl GenServer for ConfigServer`, whose `handle` is one `match` over the messages.
//!
//! Macro options: `#[genserver(vis = pub(crate))]` sets the visibility of the generated
//! types (default `pub`); `#[genserver(crate = path)]` names this crate when it is
//! re-exported under another path.
//!
//! # Semantics, and where they differ from OTP
//!
//! - **Mailbox**: FIFO per sender, unbounded by default ([`Mailbox`]), as in OTP. Calls,
//!   casts, infos and stop requests share it, so a stop waits behind queued messages, as
//!   `GenServer.stop/3` does. A bounded mailbox is OTP's missing overload control: when
//!   it is full, calls wait for room within their timeout and fail with
//!   [`CallError::Full`], [`ServerRef::cast_when_room`] waits for room (back-pressure),
//!   and fire-and-forget casts are dropped or refused by the server's [`Overflow`]
//!   policy, counted and reported, never silently ([`overload`]).
//! - **Calls** time out after 5 s by default ([`DEFAULT_CALL_TIMEOUT`]). A call to a
//!   server that is not running fails at once with [`CallError::NoServer`]; a server
//!   that exits while a call waits fails it with [`CallError::Exited`] and the reason. A
//!   reply that arrives after the caller gave up is dropped; a deferred reply sent with
//!   [`ReplyTo::try_reply`] comes back instead, for values that must not be lost.
//! - **Casts** never wait and never fail: toward a server that is gone they are
//!   dropped, as in OTP; on a full bounded mailbox, the [`Overflow`] policy applies.
//!   [`ServerRef::try_cast`] reports what happened instead.
//! - **Panics** are OTP's exceptions: a panicking handler stops its server with
//!   [`ExitReason::Panic`], `terminate` runs with the state as the panic left it (OTP
//!   passes the state from before the callback; a `&mut self` cannot be rolled back).
//!   A panic in `init` fails the start with [`StartError::Panicked`] and skips
//!   `terminate`, as in OTP.
//! - **Init failures** return only after the server is gone and its name is free (OTP
//!   26+). [`Builder::init_timeout`] kills an `init` that takes too long.
//! - **Kill** ([`Process::kill`]) stops the task at its next await point; `terminate`
//!   does not run and nothing is logged (a killed process cannot report itself; a
//!   supervisor will). A task cannot be preempted in the middle of synchronous code.
//! - **Stop** ([`Process::stop`]) is queued like a message. If it times out the server
//!   is not killed, and the request stays queued, so the server still stops once it
//!   reaches it.
//! - **Hibernate** is accepted as a hint: a tokio task has no stack to drop while idle.
//! - **A server runs until it stops**: dropping every handle does not stop it, as a
//!   process lives on without references to its pid.
//! - **Dropping the tokio runtime** (as `main` returns) drops every server's task at its
//!   next await point: each ends as killed, its `terminate` does not run and nothing is
//!   logged. An [`Application`] stops its supervision tree in order first, each
//!   `terminate` within its shutdown timeout, on a signal, a future such as a
//!   `CancellationToken`'s, or an explicit stop (OTP's `Application`).
//! - **Crash reports**: an abnormal exit logs one `tracing` error event with the reason
//!   and the last message's handler, inside the server's span (`genserver` with its
//!   type, id and name); with `#[genserver(debug_messages)]` also the last message, and
//!   with `#[genserver(debug_state)]` the state, both rendered with `Debug`.
//! - **Introspection**: [`sys`] is OTP's `sys` (state, suspension, statistics, trace,
//!   status) for any server; [`process_list`] lists every live server. Each handled
//!   message gets a `debug` span of its own, following from the caller's span for a call.
//! - **Monitors** ([`Process::monitor`], [`Context::monitor`]) are one-way and stackable,
//!   each with its own [`MonitorRef`]. OTP's `{:DOWN, ref, :process, pid, reason}` is a
//!   [`Down`]: for a task, the value of the [`Monitor`] future; for a server, an info
//!   message of its own type that the closure given to `cx.monitor` builds. A server that
//!   had already exited gives a DOWN at once with [`ExitReason::NoProc`] (OTP's `noproc`,
//!   whatever the server's real reason was). Demonitoring (dropping the `Monitor`, or
//!   [`Context::demonitor`]) always flushes: a DOWN is never delivered after it, even if
//!   already queued. A reply sent before an exit always arrives before its DOWN.
//! - **Links** ([`Context::link`], [`Context::unlink`]) carry exit signals both ways, by
//!   OTP's rules: `Normal` is ignored, any other reason stops the partner with the same
//!   reason without running its `terminate`, and a server that traps exits
//!   ([`Context::trap_exits`]) gets an [`Exit`] info message instead (for `Normal` too).
//!   A kill cannot be trapped by its target; links see `Killed`, which a trapping partner
//!   receives. Linking to an exited server sends the caller an exit signal with `NoProc`
//!   (OTP raises `noproc` in a non-trapping caller; here it stops). A stop from an exit
//!   signal is a kill with that reason: it takes effect at the next await point, and like
//!   any kill logs no crash report. Exit signals and DOWNs skip the bound of a bounded
//!   mailbox, as OTP's signals are not messages a sender could retry.
//! - **`start_link`** ([`Builder::start_link`]) called from inside a server links the new
//!   server with it once `init` has succeeded. OTP links before `init` runs, so here a
//!   parent dying during its child's `init` does not take the child down, and a failed
//!   `init` only returns its [`StartError`] (OTP also sends the caller the exit signal).
//!   From a plain task it links nothing: only servers have links.
//!
//! # Supervisors
//!
//! A [`Supervisor`] starts children from [`ChildSpec`]s, in order, and restarts them by
//! its [`Strategy`] (one-for-one, one-for-all, rest-for-one) and each spec's [`Restart`]
//! type (permanent, transient, temporary: OTP's restart table). More restarts than its
//! intensity within its period (Elixir's default: 3 in 5 s) stops every child and exits
//! the supervisor with `Shutdown`, so that its own supervisor sees the failure. Children
//! stop in reverse start order, each by its [`Shutdown`]: a stop with a timeout, then a
//! kill; a kill at once; or a stop without a timeout. [`SupervisorRef`] offers OTP's
//! `which_children`, `count_children`, `start_child`, `terminate_child`, `restart_child`
//! and `delete_child`, with their errors as [`SupervisorError`]. A supervisor is a server
//! like any other, so it can be the child of another; when the server that started it
//! exits, it stops its children and exits too.
//!
//! A restart that fails is tried again, as in OTP, through a message the supervisor sends
//! itself (`try_again_restart`): calls queued meanwhile are served between the attempts
//! (they see the child as [`ChildInfo::restarting`]), and every attempt counts toward the
//! intensity, so a child that never starts again stops the supervisor. A panic in a start
//! function is a failed start. [`AutoShutdown`] and [`ChildSpec::significant`] are OTP's
//! `auto_shutdown` flag and `significant` children: a supervisor can exit with
//! `Shutdown` once any, or all, of its significant children have exited by themselves.
//!
//! Where it differs from OTP:
//! - A child spec's start function is a closure that returns any handle that
//!   dereferences to a [`Process`] (every generated client does); the supervisor keeps a
//!   [`ProcessRef`]. It links every child itself, whether the closure used `start_link`
//!   or `start`, and traps exits.
//! - The graceful stop of a child is [`Process::stop`] with `Shutdown`: a request queued
//!   behind the child's messages, after which `terminate` runs, rather than an exit
//!   signal. A child that traps exits is stopped the same way.
//! - The supervisor report is one `tracing` event per child exit (child id, reason,
//!   whether it restarts), at error level for an abnormal exit or any exit of a permanent
//!   child (OTP reports both), and info otherwise.
//! - A [`DynamicSupervisor`] is the same server in a dynamic mode: children added with
//!   `start_child` at run time, known by their [`ServerId`] (so several may share a
//!   spec's id), an optional `max_children`, children forgotten once they exit for good,
//!   and all stopped in parallel. `whereis` finds one as a [`Supervisor`]. It has no
//!   automatic shutdown, so it refuses significant children.
//!
//! # Registries
//!
//! A [`Registry`] is Elixir's `Registry`: servers under keys of any hashable type, each
//! entry with a value, with [`Keys::Unique`] or [`Keys::Duplicate`] keys. Entries go as
//! their server exits, before the exit can be observed. [`Registry::lookup`] lists a
//! key's entries, [`Registry::dispatch`] runs a function on each (publish/subscribe with
//! duplicate keys), and [`Registry::whereis`] gives the typed handle under a key, which is
//! how a server is called by its key; [`Builder::via`] registers a server before its
//! `init` runs (Elixir's `{:via, Registry, ...}` name), and refuses the start with
//! [`StartError::AlreadyStarted`] if a unique key is held, as for a name. [`Registry::builder`] sets Elixir's
//! `partitions` (the entries split by a hash of the key, each part behind its own lock)
//! and `listeners` (closures given a [`RegistryEvent`] for each entry added or removed).
//! Where it differs: any holder of a handle can register a server (Elixir registers the
//! calling process); a "via" name is looked up with `whereis` rather than passed to each
//! call; listeners also hear of the entries removed because their server exited (Elixir
//! leaves that to monitors); and the partitions are only locks, not processes.
//!
//! # Testing
//!
//! The feature `test-kit` adds the module `testing` (for `[dev-dependencies]`):
//! ExUnit's `assert_receive`, `refute_receive`, `start_supervised!` and `capture_log` for
//! these servers, and a paused clock on which every server timer is virtual. The guide
//! chapter "Testing your servers" (`docs/testing.md` in the repository) walks through it.
//!
//! # Process groups
//!
//! [`groups`] is OTP's `pg` in one program: [`groups::join`] a named group,
//! [`groups::leave`] it, list its [`groups::members`] (or those of one server type with
//! [`groups::members_of`]), and [`groups::cast`] to every member of a type. A server
//! leaves every group as it exits, before its exit can be observed. Unlike `pg` there are
//! no scopes and no nodes, and no monitor of a group's membership.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod application;
mod builder;
mod call;
#[cfg(feature = "cluster")]
pub mod cluster;
mod error;
mod exit;
pub mod groups;
mod handle;
mod mailbox;
mod multi_call;
mod names;
mod observe;
pub mod overload;
mod panic;
mod process;
pub mod process_list;
mod registry;
pub mod returns;
mod server;
mod server_loop;
mod supervisor;
pub mod sys;
mod task;
#[cfg(feature = "test-kit")]
pub mod testing;
mod timer;
mod type_name;
mod wait;

pub use application::{Application, shutdown_signal};
pub use builder::Builder;
pub use call::{Call, CallFuture, DEFAULT_CALL_TIMEOUT, ReplyTo};
pub use error::{CallError, CastError, StartError, StopError};
pub use exit::ExitReason;
pub use genserver_macros::{call, cast, genserver, handle_continue, info, init, terminate, timeout};
pub use handle::ServerRef;
pub use mailbox::Mailbox;
pub use multi_call::{TimedCall, multi_call};
pub use names::{registered, whereis, whereis_id};
pub use overload::{Overflow, OverflowCounts};
pub use process::{Down, Exit, Monitor, MonitorRef, Process, ProcessRef, ServerId};
pub use registry::{Keys, RegisterError, Registry, RegistryBuilder, RegistryEvent};
pub use returns::{Flow, Init, InitOutcome, IntoFlow, IntoInit, NoContinue, NoReply, Reply};
pub use server::{Context, GenServer};
pub use supervisor::{
    AutoShutdown, ChildCounts, ChildInfo, ChildSpec, ChildStartError, ChildType, DynamicSupervisor,
    DynamicSupervisorBuilder, DynamicSupervisorRef, IntoChildSpec, Restart, Shutdown, Strategy, Supervisor,
    SupervisorBuilder, SupervisorError, SupervisorInfo, SupervisorMsg, SupervisorRef, TypedChildSpec,
};
pub use task::{TaskPanicked, TaskRef};
pub use timer::TimerRef;

/// This crate's README, its example compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Everything a server module needs: `use genserver_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CallError, Context, Down, Exit, ExitReason, GenServer, Init, Mailbox, Monitor, MonitorRef, NoReply,
        Overflow, Process, ProcessRef, Reply, ReplyTo, ServerId, ServerRef, StartError, StopError, TimerRef,
        call, cast, genserver, handle_continue, info, init, terminate, timeout,
    };
    pub use crate::{ChildSpec, Restart, Shutdown, Strategy, Supervisor, SupervisorError, SupervisorRef};
    pub use std::time::Duration;
}

/// What the code generated by `#[genserver]` uses. Not a public API: it may change in
/// any release.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "cluster")]
    pub use serde;

    pub use crate::returns::ContinueOf;
    pub use crate::{
        Builder, Call, Context, Flow, GenServer, InitOutcome, IntoFlow, IntoInit, ReplyTo, ServerRef,
    };

    /// The default child spec of a server, `S::child_spec(args)`: generic, so that a
    /// server whose types are not `Send` gets its error from the `GenServer` impl alone.
    pub fn child_spec<S, A>(id: &'static str, args: A) -> crate::TypedChildSpec<S>
    where
        S: GenServer,
        S::Ref: std::ops::Deref<Target = crate::Process>,
        A: Clone + Send + Sync + 'static + Into<S::Args>,
    {
        crate::TypedChildSpec::new(id, move || crate::Builder::<S>::new().start_link(args.clone().into()))
    }

    /// What the dispatch passes a handler for an argument `#[genserver]` recognises by
    /// its type's name (`cx: &mut Context<Self>`, `from: ReplyTo<R>`, `reason:
    /// &ExitReason`): the runtime's value, as the argument's type, which must be the
    /// runtime's. A user type of the same name gets one clear error on it.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not genserver_runtime's type of that name, which #[genserver] reads it as",
        label = "#[genserver] reads this by its name as genserver_runtime's type",
        note = "rename your type, or use genserver_runtime's (`use genserver_runtime::prelude::*`)"
    )]
    pub trait RuntimeArgument<T> {
        /// The value itself.
        fn from_runtime(value: T) -> Self;
    }

    impl<T> RuntimeArgument<T> for T {
        #[inline(always)]
        fn from_runtime(value: T) -> T {
            value
        }
    }

    /// `value` as the handler's argument type `T`: compiles only if `T` is its type.
    #[inline(always)]
    pub fn runtime_argument<T: RuntimeArgument<R>, R>(value: R) -> T {
        T::from_runtime(value)
    }

    /// The return types `#[genserver]` recognises by name (`Reply`, `NoReply`, `Init`):
    /// the dispatch passes what a handler returns through [`runtime_return`], so that a
    /// user type of the same name gets one clear error on it.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not genserver_runtime's type of that name, which #[genserver] reads it as",
        label = "#[genserver] reads this by its name as genserver_runtime's type",
        note = "rename your type, or use genserver_runtime's (`use genserver_runtime::prelude::*`)"
    )]
    pub trait RuntimeReturn {
        /// The type itself.
        type Runtime;
        /// The value itself.
        fn into_runtime(self) -> Self::Runtime;
    }

    impl<R, C> RuntimeReturn for crate::Reply<R, C> {
        type Runtime = Self;
        #[inline(always)]
        fn into_runtime(self) -> Self {
            self
        }
    }

    impl<C> RuntimeReturn for crate::NoReply<C> {
        type Runtime = Self;
        #[inline(always)]
        fn into_runtime(self) -> Self {
            self
        }
    }

    impl<S, C> RuntimeReturn for crate::Init<S, C> {
        type Runtime = Self;
        #[inline(always)]
        fn into_runtime(self) -> Self {
            self
        }
    }

    /// What a handler returned, as the runtime's type it must be.
    #[inline(always)]
    pub fn runtime_return<T: RuntimeReturn>(value: T) -> T::Runtime {
        value.into_runtime()
    }

    /// Replies with a call handler's plain return value; the server then waits for the
    /// next message.
    pub fn reply<S: GenServer, R>(reply_to: ReplyTo<R>, value: R) -> Flow<S> {
        reply_to.reply(value);
        Flow::proceed()
    }

    /// Replies with a call handler's [`Reply`](crate::Reply).
    pub fn reply_with<S, R, C>(reply_to: ReplyTo<R>, reply: crate::Reply<R, C>) -> Flow<S>
    where
        S: GenServer,
        R: Send + 'static,
        C: ContinueOf<S>,
    {
        crate::returns::reply_with(reply_to, reply)
    }
}
