//! OTP's `sys` module for every server: read or replace its state, suspend and resume it,
//! collect statistics, trace its messages and read its status, through any of its handles.
//!
//! Each function sends the server a *system request* and waits for the answer, 5 s by
//! default ([`SysCall::timeout`] changes it), as OTP's `sys` does. The functions that need
//! the server's type ([`get_state`], [`get_state_with`], [`get_state_debug`],
//! [`replace_state`]) take a typed handle (a generated client, or a [`ServerRef`]); the
//! others take any handle, typed or not ([`ProcessRef`](crate::ProcessRef)), as a
//! [`Process`].
//!
//! ```
//! use genserver_runtime::prelude::*;
//! use genserver_runtime::sys;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! pub struct Counter {
//!     count: u64,
//! }
//!
//! #[genserver]
//! impl Counter {
//!     #[cast]
//!     fn add(&mut self, by: u64) {
//!         self.count += by;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let counter = Counter::start(Counter { count: 0 }).await?;
//! counter.add(2);
//! assert_eq!(sys::get_state(&counter).await?, Counter { count: 2 });
//! sys::replace_state(&counter, |old: &Counter| Counter { count: old.count * 10 }).await?;
//! assert_eq!(sys::get_state(&counter).await?.count, 20);
//!
//! sys::suspend(&counter).await?;
//! counter.add(1); // queued: a suspended server handles only system requests
//! assert_eq!(sys::get_status(&counter).await?.mailbox_len, 1);
//! sys::resume(&counter).await?;
//! assert_eq!(sys::get_state(&counter).await?.count, 21);
//! # Ok(())
//! # }
//! ```
//!
//! # Order
//!
//! A system request is queued in the server's mailbox like a message and handled in its
//! place: after every call, cast and info queued before it by the same sender, as OTP's
//! gen_server loop handles system messages in place. It waits for the handler running
//! when it arrives. It is never refused for lack of room: it goes past the limit of a
//! bounded mailbox, as exit signals do.
//!
//! While suspended ([`suspend`]), a server handles only system requests and stop requests
//! (OTP handles `sys:terminate` while suspended), oldest first, and leaves every other
//! entry where it is: calls wait and time out, casts and infos queue, an idle timeout does
//! not fire. [`resume`] makes it take them up again in their order, and an idle timeout
//! set before the suspension starts over. Handling a system request, like any entry,
//! also restarts an idle timeout (OTP's known flaw, kept).
//!
//! Where it differs from OTP: [`replace_state`]'s function gets the state by reference
//! and returns the new one, so that a panic in it leaves the state as it was; a panic in
//! a function given to `sys` is caught and returned as [`SysError::CallbackPanicked`],
//! and the server goes on. Statistics count handler time where OTP counts reductions.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use crate::mailbox::Envelope;
use crate::{ExitReason, GenServer, Process, ServerId, ServerRef};

/// How long a `sys` request waits for its answer unless told otherwise: 5 s, as in OTP.
pub const DEFAULT_SYS_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a `sys` request got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SysError {
    /// No answer within the timeout (OTP: `timeout`). The request stays queued and is
    /// handled once the server reaches it; its answer is then dropped.
    Timeout(Duration),
    /// The server was not running (OTP: `noproc`).
    NoServer,
    /// The server exited before answering; this is its exit reason.
    Exited(ExitReason),
    /// A server asked itself, which could never be answered (OTP: `calling_self`).
    CallingSelf,
    /// The function given to [`replace_state`] or [`get_state_with`] panicked with this
    /// message; the state is as it was and the server goes on (OTP: `callback_failed`).
    CallbackPanicked(Arc<str>),
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysError::Timeout(after) => write!(f, "sys request timed out after {after:?}"),
            SysError::NoServer => f.write_str("no such server: it is not running"),
            SysError::Exited(reason) => write!(f, "server exited before answering ({reason})"),
            SysError::CallingSelf => f.write_str("a server cannot send a sys request to itself"),
            SysError::CallbackPanicked(message) => write!(f, "the sys function panicked: {message}"),
        }
    }
}

impl std::error::Error for SysError {}

/// A server's statistics since collection was turned on with [`enable_statistics`] (OTP:
/// `sys:statistics/2`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Statistics {
    /// When collection began (OTP: `start_time`).
    pub since: SystemTime,
    /// Messages handled since then: calls, casts, infos, continuations and idle timeouts
    /// (OTP: `messages_in`).
    pub messages_in: u64,
    /// Time spent in handlers since then: the cost of the messages, where OTP counts
    /// reductions.
    pub handler_time: Duration,
    /// Entries in the mailbox now.
    pub mailbox_len: usize,
    /// The most entries the server found waiting at once, since it started.
    pub peak_mailbox_len: usize,
}

/// Whether a server handles its messages or only system requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum RunState {
    /// Handling its messages.
    Running,
    /// Suspended by [`suspend`]: handling only system requests.
    Suspended,
}

/// What [`get_status`] reports of a server (OTP: `sys:get_status/1`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Status {
    /// The server's id.
    pub id: ServerId,
    /// Its type, without module paths.
    pub server_type: String,
    /// The name it was started under.
    pub name: Option<String>,
    /// Running or suspended.
    pub run_state: RunState,
    /// The server that started it (its supervisor, or the server that called
    /// `start_link`); `None` if a plain task started it (OTP: the parent).
    pub parent: Option<ServerId>,
    /// Its state, rendered with `Debug` if the server shows it: `#[genserver(debug_state)]`
    /// (OTP: `format_status`). `None` otherwise, since a state may hold secrets.
    pub state: Option<String>,
    /// Entries in its mailbox.
    pub mailbox_len: usize,
    /// The servers it is linked with.
    pub links: Vec<ServerId>,
    /// The servers it monitors.
    pub monitors: Vec<ServerId>,
    /// How many monitors watch it.
    pub monitored_by: usize,
    /// Whether it traps exits.
    pub trap_exits: bool,
    /// Whether [`trace`] is on.
    pub trace: bool,
    /// Its statistics, if collected.
    pub statistics: Option<Statistics>,
}

/// A system request in a server's mailbox.
pub(crate) enum System<S: GenServer> {
    /// Not a request: a call whose caller's tracing span the handler's span follows from.
    Traced { msg: S::Msg, caller: tracing::Span },
    /// Runs with the state: [`get_state_with`] and [`replace_state`] (it answers itself).
    State(Box<dyn FnOnce(&mut S) + Send>),
    /// A request that needs no type.
    Op(Op),
}

impl<S: GenServer> System<S> {
    /// Whether a suspended server handles it.
    pub(crate) fn is_request(&self) -> bool {
        !matches!(self, System::Traced { .. })
    }
}

/// Where the answer to a request goes.
type Answer<T> = oneshot::Sender<Result<T, SysError>>;

/// A system request that needs no type, so that any handle can send it.
pub(crate) enum Op {
    Suspend(Answer<()>),
    Resume(Answer<()>),
    Trace(bool, Answer<()>),
    /// `Some(on)` turns collection on (afresh) or off; `None` only reads.
    Statistics(Option<bool>, Answer<Option<Statistics>>),
    Status(Answer<Status>),
}

/// What a server keeps for `sys` and tracing, allocated the first time one needs it.
#[derive(Default)]
pub(crate) struct Watch {
    pub(crate) suspended: bool,
    pub(crate) trace: bool,
    pub(crate) statistics: Option<Collected>,
    /// The span of the caller of the call being handled, if it came with one.
    pub(crate) caller: Option<tracing::Span>,
    /// The last message, rendered before it was handled, for the crash report of a
    /// server that shows its messages.
    pub(crate) last_message: Option<String>,
}

/// Statistics being collected.
pub(crate) struct Collected {
    since: SystemTime,
    pub(crate) messages_in: u64,
    pub(crate) handler_time: Duration,
}

impl Collected {
    fn new() -> Self {
        Collected { since: SystemTime::now(), messages_in: 0, handler_time: Duration::ZERO }
    }
}

/// Answers a request that needs no type, as the server `me` whose state is `state`.
pub(crate) fn handle_op<S: GenServer>(op: Op, state: &S, me: &ServerRef<S>, watch: &mut Option<Box<Watch>>) {
    let watch = watch.get_or_insert_with(Box::default);
    match op {
        Op::Suspend(answer) => {
            watch.suspended = true;
            let _ = answer.send(Ok(()));
        }
        Op::Resume(answer) => {
            watch.suspended = false;
            let _ = answer.send(Ok(()));
        }
        Op::Trace(on, answer) => {
            watch.trace = on;
            let _ = answer.send(Ok(()));
        }
        Op::Statistics(turn, answer) => {
            match turn {
                Some(true) => watch.statistics = Some(Collected::new()),
                Some(false) => watch.statistics = None,
                None => {}
            }
            let _ = answer.send(Ok(statistics_of(watch, me)));
        }
        Op::Status(answer) => {
            let _ = answer.send(Ok(status_of(state, me, watch)));
        }
    }
}

fn statistics_of<S: GenServer>(watch: &Watch, me: &ServerRef<S>) -> Option<Statistics> {
    let collected = watch.statistics.as_ref()?;
    let counts = me.mailbox().counts();
    Some(Statistics {
        since: collected.since,
        messages_in: collected.messages_in,
        handler_time: collected.handler_time,
        mailbox_len: counts.len,
        peak_mailbox_len: counts.peak,
    })
}

fn status_of<S: GenServer>(state: &S, me: &ServerRef<S>, watch: &Watch) -> Status {
    let ties = me.tie_summary();
    Status {
        id: me.id(),
        server_type: crate::type_name::short_type_name::<S>(),
        name: me.name().map(str::to_owned),
        run_state: if watch.suspended { RunState::Suspended } else { RunState::Running },
        parent: me.parent(),
        state: state.format_state(),
        mailbox_len: me.mailbox().counts().len,
        links: ties.links,
        monitors: ties.monitors,
        monitored_by: ties.monitored_by,
        trap_exits: ties.trap_exits,
        trace: watch.trace,
        statistics: statistics_of(watch, me),
    }
}

/// A `sys` request in the making: set a [`timeout`](SysCall::timeout), then `.await` it.
///
/// Nothing is sent until it is awaited.
#[must_use = "a sys request does nothing until it is awaited"]
pub struct SysCall<'a, T> {
    process: &'a Process,
    send: Box<dyn FnOnce() + Send + 'a>,
    answer: oneshot::Receiver<Result<T, SysError>>,
    timeout: Duration,
}

impl<T> fmt::Debug for SysCall<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysCall").field("server", &self.process.id()).field("timeout", &self.timeout).finish()
    }
}

impl<'a, T: Send + 'static> SysCall<'a, T> {
    /// Waits at most `timeout` for the answer instead of the default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<'a, T: Send + 'static> IntoFuture for SysCall<'a, T> {
    type Output = Result<T, SysError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, SysError>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let SysCall { process, send, answer, timeout } = self;
        Box::pin(async move {
            if crate::process::is_current(process) {
                return Err(SysError::CallingSelf);
            }
            if !process.is_alive() {
                return Err(SysError::NoServer);
            }
            // Toward a closed mailbox the request is dropped, and with it the answer's
            // sender: the server has exited.
            send();
            let deadline = crate::wait::deadline_after(tokio::time::Instant::now(), timeout);
            match tokio::time::timeout_at(deadline, answer).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err(SysError::Exited(process.exited().await)),
                Err(_) => Err(SysError::Timeout(timeout)),
            }
        })
    }
}

/// A request that needs no type, to any server.
fn op<T: Send + 'static>(process: &Process, make: impl FnOnce(Answer<T>) -> Op) -> SysCall<'_, T> {
    let (answer_to, answer) = oneshot::channel();
    let op = make(answer_to);
    let control = process.control().clone();
    let send = Box::new(move || {
        if let Some(control) = control.upgrade() {
            control.push_system(op);
        }
    });
    SysCall { process, send, answer, timeout: DEFAULT_SYS_TIMEOUT }
}

/// A request that runs `f` with the state of the server of type `S`.
fn with_state<S: GenServer, T: Send + 'static>(
    server: &ServerRef<S>,
    f: impl FnOnce(&mut S) -> Result<T, SysError> + Send + 'static,
) -> SysCall<'_, T> {
    let (answer_to, answer) = oneshot::channel();
    let run = Box::new(move |state: &mut S| {
        let _ = answer_to.send(f(state));
    });
    let send = Box::new(move || server.mailbox().push_signal(Envelope::System(Box::new(System::State(run)))));
    SysCall { process: server, send, answer, timeout: DEFAULT_SYS_TIMEOUT }
}

/// Runs a function of the user's, turning its panic into [`SysError::CallbackPanicked`].
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, SysError> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .map_err(|payload| SysError::CallbackPanicked(crate::panic::panic_message(payload.as_ref())))
}

/// A clone of the server's state (OTP: `sys:get_state/1`). Answered while suspended too.
pub fn get_state<S, H>(server: &H) -> SysCall<'_, S>
where
    S: GenServer + Clone,
    H: AsRef<ServerRef<S>>,
{
    with_state(server.as_ref(), |state: &mut S| Ok(state.clone()))
}

/// The server's state rendered with `{:#?}`, for a state that is `Debug` but not `Clone`.
pub fn get_state_debug<S, H>(server: &H) -> SysCall<'_, String>
where
    S: GenServer + fmt::Debug,
    H: AsRef<ServerRef<S>>,
{
    with_state(server.as_ref(), |state: &mut S| Ok(format!("{state:#?}")))
}

/// What `f` makes of the server's state, run inside the server. A panic in `f` is
/// returned as [`SysError::CallbackPanicked`] and the server goes on.
pub fn get_state_with<S, H, T, F>(server: &H, f: F) -> SysCall<'_, T>
where
    S: GenServer,
    H: AsRef<ServerRef<S>>,
    T: Send + 'static,
    F: FnOnce(&S) -> T + Send + 'static,
{
    with_state(server.as_ref(), move |state: &mut S| guarded(|| f(state)))
}

/// Replaces the server's state with what `f` makes of it (OTP: `sys:replace_state/2`).
///
/// `f` gets the state by reference, so a panic in it leaves the state as it was: the
/// request then returns [`SysError::CallbackPanicked`] and the server goes on, as OTP's
/// `callback_failed`. The old state is dropped inside the server.
pub fn replace_state<S, H, F>(server: &H, f: F) -> SysCall<'_, ()>
where
    S: GenServer,
    H: AsRef<ServerRef<S>>,
    F: FnOnce(&S) -> S + Send + 'static,
{
    with_state(server.as_ref(), move |state: &mut S| {
        let new = guarded(|| f(state))?;
        *state = new;
        Ok(())
    })
}

/// Suspends the server: from its handling of this request on, it handles only system
/// requests and stops, so calls time out and casts queue (OTP: `sys:suspend/1`).
/// Suspending a suspended server does nothing.
pub fn suspend(process: &Process) -> SysCall<'_, ()> {
    op(process, Op::Suspend)
}

/// Resumes a suspended server, which takes up its queued messages in order (OTP:
/// `sys:resume/1`). Resuming a running server does nothing.
pub fn resume(process: &Process) -> SysCall<'_, ()> {
    op(process, Op::Resume)
}

/// Turns statistics collection on, from zero, and returns the fresh statistics (OTP:
/// `sys:statistics(pid, true)`).
pub fn enable_statistics(process: &Process) -> SysCall<'_, Option<Statistics>> {
    op(process, |answer| Op::Statistics(Some(true), answer))
}

/// Turns statistics collection off (OTP: `sys:statistics(pid, false)`); returns `None`.
pub fn disable_statistics(process: &Process) -> SysCall<'_, Option<Statistics>> {
    op(process, |answer| Op::Statistics(Some(false), answer))
}

/// The statistics collected since [`enable_statistics`]; `None` when collection is off
/// (OTP: `sys:statistics(pid, :get)`, `:no_statistics`).
pub fn statistics(process: &Process) -> SysCall<'_, Option<Statistics>> {
    op(process, |answer| Op::Statistics(None, answer))
}

/// Turns tracing of each message on or off (OTP: `sys:trace/2`): while on, the server
/// logs an `info` event (target `genserver::sys`) per message handled, with its handler
/// and outcome.
pub fn trace(process: &Process, on: bool) -> SysCall<'_, ()> {
    op(process, |answer| Op::Trace(on, answer))
}

/// The server's status: name, state, mailbox length, links, monitors, its parent (OTP:
/// `sys:get_status/1`). Answered while suspended too.
pub fn get_status(process: &Process) -> SysCall<'_, Status> {
    op(process, Op::Status)
}
