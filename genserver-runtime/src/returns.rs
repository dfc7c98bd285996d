//! What handlers return: OTP's return tuples as Rust types.
//!
//! | OTP | Rust |
//! |---|---|
//! | `{:reply, r, s}` | the call handler's plain return value `r` |
//! | `{:reply, r, s, timeout}` | [`Reply::new(r).timeout(t)`](Reply::timeout) |
//! | `{:reply, r, s, {:continue, c}}` / `:hibernate` | [`Reply::continue_with`], [`Reply::hibernate`] |
//! | `{:stop, why, r, s}` | [`Reply::stop(why, r)`](Reply::stop) |
//! | `{:noreply, s}` | `()` or [`NoReply::ok()`](NoReply::ok) |
//! | `{:noreply, s, timeout \| {:continue, c} \| :hibernate}` | [`NoReply::timeout`], [`NoReply::continue_with`], [`NoReply::hibernate`] |
//! | `{:stop, why, s}` | [`NoReply::stop(why)`](NoReply::stop) |
//! | `{:ok, s}` / `{:ok, s, action}` from `init` | [`Init::ok(s)`](Init::ok), then `.timeout(t)`, `.continue_with(c)`, `.hibernate()` |
//! | `{:stop, why}` / `:ignore` from `init` | [`Init::stop(why)`](Init::stop), [`Init::ignore()`](Init::ignore); `Err(e)` of a `Result<Self, E>` is a stop |
//!
//! The state is never returned: handlers take `&mut self`.
//!
//! A continuation value has a type: the `…Continue` enum that `#[genserver]` generates
//! from the server's `#[handle_continue]` handlers. A handler that continues names it in
//! its return type, `NoReply<ConfigServerContinue>`; one that does not writes `NoReply`,
//! whose continuation type [`NoContinue`] has no values.

use std::error::Error as StdError;
use std::time::Duration;

use crate::{ExitReason, GenServer, ReplyTo};

/// The continuation type of return values that never continue. It has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoContinue {}

/// A value that can continue a server `S`: its generated `…Continue` enum, or
/// [`NoContinue`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a continuation of `{S}`",
    label = "continue with the `Continue` enum that #[genserver] generated for `{S}`"
)]
pub trait ContinueOf<S: GenServer>: Send + 'static {
    /// Turns the value into the server's continuation enum.
    fn into_continue(self) -> S::Continue;
}

impl<S: GenServer> ContinueOf<S> for NoContinue {
    fn into_continue(self) -> S::Continue {
        match self {}
    }
}

/// What the server does once a handler returns.
pub(crate) enum Action<C> {
    /// Wait for the next message.
    Proceed,
    /// Wait for the next message; if none comes within the duration, run the timeout handler.
    Timeout(Duration),
    /// Run the continue handler with this value before any other message.
    Continue(C),
    /// Wait for the next message; the server is idle for long (a memory hint).
    Hibernate,
    /// Stop: run terminate, then exit. Boxed because stops are rare: every other action
    /// then fits in 16 bytes, which keeps the server's task small.
    Stop(Box<Stop>),
}

/// Why a server stops, and what runs once its `terminate` has.
pub(crate) struct Stop {
    pub(crate) reason: ExitReason,
    /// Runs after `terminate`: the reply of a `Reply::stop`.
    pub(crate) after_terminate: Option<Box<dyn FnOnce() + Send>>,
}

impl Stop {
    /// A stop with `reason` and nothing to run after `terminate`. Boxed: the server's task
    /// keeps it while `terminate` runs, and a pointer keeps the task small.
    pub(crate) fn new(reason: ExitReason) -> Box<Self> {
        Box::new(Stop { reason, after_terminate: None })
    }
}

impl<C> Action<C> {
    pub(crate) fn stop(reason: ExitReason) -> Self {
        Action::Stop(Stop::new(reason))
    }

    fn map<D>(self, f: impl FnOnce(C) -> D) -> Action<D> {
        match self {
            Action::Proceed => Action::Proceed,
            Action::Timeout(after) => Action::Timeout(after),
            Action::Continue(value) => Action::Continue(f(value)),
            Action::Hibernate => Action::Hibernate,
            Action::Stop(stop) => Action::Stop(stop),
        }
    }
}

/// The return of a cast, info, continue or timeout handler, or of a call handler that
/// replies later through its [`ReplyTo`] (OTP: `{:noreply, …}` and `{:stop, why, s}`).
///
/// `C` is the continuation type; see the [module docs](self).
#[must_use = "a NoReply tells the server what to do next; return it from the handler"]
pub struct NoReply<C = NoContinue>(pub(crate) Action<C>);

impl<C> NoReply<C> {
    /// Wait for the next message (`{:noreply, s}`).
    pub fn ok() -> Self {
        NoReply(Action::Proceed)
    }

    /// Wait for the next message; if none arrives within `after`, run the server's
    /// `#[timeout]` handler (`{:noreply, s, timeout}`). Any message cancels it.
    pub fn timeout(after: Duration) -> Self {
        NoReply(Action::Timeout(after))
    }

    /// Run the `#[handle_continue]` handler with `value` before any other message,
    /// including messages already queued (`{:noreply, s, {:continue, c}}`).
    pub fn continue_with(value: C) -> Self {
        NoReply(Action::Continue(value))
    }

    /// Wait for the next message, expecting a long idle period (`{:noreply, s, :hibernate}`).
    /// A hint only: a server has no stack to drop while it waits.
    pub fn hibernate() -> Self {
        NoReply(Action::Hibernate)
    }

    /// Stop the server with `reason`: `terminate` runs, then it exits (`{:stop, why, s}`).
    pub fn stop(reason: ExitReason) -> Self {
        NoReply(Action::stop(reason))
    }
}

/// A call handler's reply together with what the server does next
/// (OTP: `{:reply, r, s, action}` and `{:stop, why, r, s}`).
///
/// A call handler that just answers returns the value itself; `Reply` is for the other
/// forms. `C` is the continuation type; see the [module docs](self).
#[must_use = "a Reply carries the answer; return it from the handler"]
pub struct Reply<R, C = NoContinue> {
    pub(crate) value: R,
    pub(crate) action: Action<C>,
}

impl<R, C> Reply<R, C> {
    /// Reply `value` and wait for the next message (`{:reply, r, s}`).
    pub fn new(value: R) -> Self {
        Reply { value, action: Action::Proceed }
    }

    /// Reply `value`, then stop with `reason`. `terminate` runs first and the reply is
    /// sent just before the server exits (`{:stop, why, r, s}`).
    pub fn stop(reason: ExitReason, value: R) -> Self {
        Reply { value, action: Action::stop(reason) }
    }

    /// After replying, run the `#[timeout]` handler if no message arrives within `after`.
    pub fn timeout(self, after: Duration) -> Self {
        Reply { action: Action::Timeout(after), ..self }
    }

    /// After replying, run the `#[handle_continue]` handler with `value` before any other
    /// message.
    pub fn continue_with(self, value: C) -> Self {
        Reply { action: Action::Continue(value), ..self }
    }

    /// After replying, expect a long idle period (a memory hint).
    pub fn hibernate(self) -> Self {
        Reply { action: Action::Hibernate, ..self }
    }
}

/// The return of an `#[init]` handler (OTP: `{:ok, s}`, `{:ok, s, action}`, `{:stop, why}`,
/// `:ignore`). An init handler may instead return `Result<Self, E>`, where `Err(e)` is a
/// stop with [`ExitReason::Error`].
#[must_use = "an Init carries the new server's state; return it from init"]
pub struct Init<S, C = NoContinue>(pub(crate) InitAction<S, C>);

pub(crate) enum InitAction<S, C> {
    Ready(S, Action<C>),
    Stop(ExitReason),
    Ignore,
}

impl<S, C> Init<S, C> {
    /// Start with `state` (`{:ok, state}`).
    pub fn ok(state: S) -> Self {
        Init(InitAction::Ready(state, Action::Proceed))
    }

    /// Do not start: the start returns [`StartError::Stopped`](crate::StartError::Stopped)
    /// with `reason` (`{:stop, why}`). `terminate` does not run.
    pub fn stop(reason: ExitReason) -> Self {
        Init(InitAction::Stop(reason))
    }

    /// Do not start, quietly: the start returns
    /// [`StartError::Ignored`](crate::StartError::Ignored) (`:ignore`).
    pub fn ignore() -> Self {
        Init(InitAction::Ignore)
    }

    /// After starting, run the `#[timeout]` handler if no message arrives within `after`
    /// (`{:ok, s, timeout}`). Has no effect on a stop or an ignore.
    pub fn timeout(self, after: Duration) -> Self {
        self.then(Action::Timeout(after))
    }

    /// After starting, run the `#[handle_continue]` handler with `value` before any
    /// message (`{:ok, s, {:continue, c}}`). The start returns without waiting for it.
    pub fn continue_with(self, value: C) -> Self {
        self.then(Action::Continue(value))
    }

    /// After starting, expect a long idle period (a memory hint).
    pub fn hibernate(self) -> Self {
        self.then(Action::Hibernate)
    }

    fn then(self, action: Action<C>) -> Self {
        match self.0 {
            InitAction::Ready(state, _) => Init(InitAction::Ready(state, action)),
            other => Init(other),
        }
    }
}

/// What the server loop does after a handler: the type-erased form of every return value.
/// Generated code produces it; users never need to name it.
pub struct Flow<S: GenServer> {
    pub(crate) action: Action<S::Continue>,
}

impl<S: GenServer> Flow<S> {
    /// Wait for the next message.
    pub fn proceed() -> Self {
        Flow { action: Action::Proceed }
    }

    /// Stop with `reason`.
    pub(crate) fn stop(reason: ExitReason) -> Self {
        Flow { action: Action::stop(reason) }
    }
}

/// A handler return value that the server loop understands: `()` and [`NoReply`].
#[diagnostic::on_unimplemented(
    message = "a cast, info, continue or timeout handler of `{S}` cannot return `{Self}`",
    label = "return `()` or `NoReply`",
    note = "only call handlers send a value back; to reply later, take a `ReplyTo<R>` argument"
)]
pub trait IntoFlow<S: GenServer> {
    /// Converts the value.
    fn into_flow(self) -> Flow<S>;
}

impl<S: GenServer> IntoFlow<S> for () {
    fn into_flow(self) -> Flow<S> {
        Flow::proceed()
    }
}

impl<S: GenServer, C: ContinueOf<S>> IntoFlow<S> for NoReply<C> {
    fn into_flow(self) -> Flow<S> {
        Flow { action: self.0.map(C::into_continue) }
    }
}

/// Sends a call handler's [`Reply`] and says what the server does next. For
/// [`Reply::stop`] the reply waits until `terminate` has run.
pub(crate) fn reply_with<S, R, C>(reply_to: ReplyTo<R>, reply: Reply<R, C>) -> Flow<S>
where
    S: GenServer,
    R: Send + 'static,
    C: ContinueOf<S>,
{
    let Reply { value, action } = reply;
    if let Action::Stop(mut stop) = action {
        stop.after_terminate = Some(Box::new(move || reply_to.reply(value)));
        return Flow { action: Action::Stop(stop) };
    }
    reply_to.reply(value);
    Flow { action: action.map(C::into_continue) }
}

/// What an `init` produced, type-erased for the server loop.
pub struct InitOutcome<S: GenServer>(pub(crate) InitAction<S, S::Continue>);

/// An `#[init]` return value: [`Init`] or `Result<Self, E>`.
#[diagnostic::on_unimplemented(
    message = "an init of `{S}` cannot return `{Self}`",
    label = "return `Init<Self>` or `Result<Self, E>`"
)]
pub trait IntoInit<S: GenServer> {
    /// Converts the value.
    fn into_init(self) -> InitOutcome<S>;
}

impl<S: GenServer, C: ContinueOf<S>> IntoInit<S> for Init<S, C> {
    fn into_init(self) -> InitOutcome<S> {
        InitOutcome(match self.0 {
            InitAction::Ready(state, action) => InitAction::Ready(state, action.map(C::into_continue)),
            InitAction::Stop(reason) => InitAction::Stop(reason),
            InitAction::Ignore => InitAction::Ignore,
        })
    }
}

impl<S: GenServer, E> IntoInit<S> for Result<S, E>
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn into_init(self) -> InitOutcome<S> {
        InitOutcome(match self {
            Ok(state) => InitAction::Ready(state, Action::Proceed),
            Err(error) => InitAction::Stop(ExitReason::error(error)),
        })
    }
}
