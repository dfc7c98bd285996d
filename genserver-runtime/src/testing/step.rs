//! White-box tests: a server driven one message at a time, its state in the test's hands
//! (OTP: `:sys.get_state/1`, and `:sys.suspend/1` with the messages then let through one
//! by one).
//!
//! A [`Stepper`] runs a server's `init` and keeps the state itself, without a task: its
//! client handle queues messages as usual, and nothing is handled until the test calls
//! [`Stepper::step`], which handles exactly one entry by the same rules as the server's
//! loop (a continuation before the next message, a queued stop runs `terminate`, a panic
//! stops the server with [`ExitReason::Panic`]). Between steps the test reads or changes
//! the state with [`Stepper::state`] and [`Stepper::state_mut`].
//!
//! Each handler is called inside the future that catches its panic: the handler of a
//! synchronous callback runs when it is called, not when its ready future is polled.

use std::task::Poll;
use std::time::Duration;

use crate::mailbox::{Envelope, Queue, Receiver};
use crate::panic::catch_panic;
use crate::process::Shared;
use crate::returns::{Action, InitAction};
use crate::{Context, ExitReason, Flow, GenServer, Mailbox, ServerId, ServerRef, StartError};

/// What one [`Stepper::step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Handled a call or a cast, named by its handler.
    Message(&'static str),
    /// Handled an info message, named by its handler.
    Info(&'static str),
    /// Ran the continuation the previous handler asked for.
    Continue,
    /// Ran the idle-timeout handler ([`Stepper::step_timeout`]).
    Timeout,
    /// The server stopped with this reason; its `terminate` has run.
    Stopped(ExitReason),
    /// Nothing was queued; nothing ran.
    Idle,
}

/// A server whose messages a test lets through one at a time, its state readable between
/// them (OTP: `:sys.get_state/1`, `:sys.replace_state/2`).
///
/// It runs the server's `init` and keeps the state itself, without a task: the client
/// queues messages as usual, and [`step`](Self::step) handles exactly one entry by the
/// loop's rules: a continuation before the next message, a queued stop runs `terminate`,
/// a panic stops the server with [`ExitReason::Panic`].
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing::{self, Step, Stepper};
///
/// pub struct Counter {
///     count: u32,
/// }
///
/// #[genserver]
/// impl Counter {
///     #[cast]
///     fn add(&mut self, by: u32) {
///         self.count += by;
///     }
///
///     #[call]
///     fn count(&self) -> u32 {
///         self.count
///     }
/// }
///
/// testing::run(async {
///     let mut counter = Stepper::<Counter>::init(Counter { count: 0 }).await.unwrap();
///     let client = counter.client();
///     client.add(2);
///     client.add(3);
///     assert_eq!(counter.step().await, Step::Message("add"));
///     assert_eq!(counter.state().count, 2, "the second add is still queued");
///     assert_eq!(counter.step().await, Step::Message("add"));
///     assert_eq!(counter.step().await, Step::Idle);
///     // A call: sent by its first poll, answered by the step.
///     let (reply, step) = tokio::join!(client.count(), counter.step());
///     assert_eq!((reply, step), (Ok(5), Step::Message("count")));
/// });
/// ```
pub struct Stepper<S: GenServer> {
    /// `None` once the server has stopped.
    state: Option<S>,
    cx: Context<S>,
    mailbox: Receiver<S>,
    continuation: Option<S::Continue>,
    /// The idle timeout the last handler asked for.
    idle_timeout: Option<Duration>,
}

impl<S: GenServer> Stepper<S> {
    /// Runs the server's `init` with `args` (what `start` takes) and returns the stepper,
    /// or the start's error as `start` would give it.
    pub async fn init(args: S::Args) -> Result<Self, StartError<S>> {
        let id = ServerId::next();
        let queue = Queue::new(Mailbox::Unbounded, crate::Overflow::default(), id);
        let me = ServerRef::from_shared(Shared::new(id, None, None, queue));
        let mut stepper = Stepper {
            state: None,
            cx: Context::new(me),
            mailbox: Receiver::new(),
            continuation: None,
            idle_timeout: None,
        };
        let outcome = catch_panic(async { S::init(args, &mut stepper.cx).await }).await;
        let failure = match outcome {
            Ok(outcome) => match outcome.0 {
                InitAction::Ready(state, action) => {
                    stepper.state = Some(state);
                    stepper.after(action);
                    return Ok(stepper);
                }
                InitAction::Stop(reason) => (reason.clone(), StartError::Stopped(reason)),
                InitAction::Ignore => (ExitReason::Normal, StartError::Ignored),
            },
            Err(message) => (ExitReason::Panic(message.clone()), StartError::Panicked(message)),
        };
        stepper.finish(failure.0);
        Err(failure.1)
    }

    /// The server's client handle: what it queues waits for [`step`](Self::step).
    pub fn client(&self) -> S::Ref {
        self.cx.me()
    }

    /// The server's state (OTP: `:sys.get_state/1`). Panics once the server has stopped.
    pub fn state(&self) -> &S {
        self.state.as_ref().expect("the stepped server has stopped: it has no state")
    }

    /// The server's state, to change between steps (OTP: `:sys.replace_state/2`). Panics
    /// once the server has stopped.
    pub fn state_mut(&mut self) -> &mut S {
        self.state.as_mut().expect("the stepped server has stopped: it has no state")
    }

    /// The idle timeout the last handler asked for (`NoReply::timeout`), which the
    /// stepper does not run by itself: see [`step_timeout`](Self::step_timeout).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// Handles one entry: the pending continuation if there is one, else the oldest
    /// queued message. [`Step::Idle`] if nothing was queued or the server has stopped.
    pub async fn step(&mut self) -> Step {
        if self.state.is_none() {
            return Step::Idle;
        }
        if let Some(value) = self.continuation.take() {
            let state = self.state.as_mut().expect("checked above");
            let flow = catch_panic(async { state.handle_continue(value, &mut self.cx).await }).await;
            return self.settle(Step::Continue, flow).await;
        }
        loop {
            let Some(envelope) = self.try_recv() else { return Step::Idle };
            let state = self.state.as_mut().expect("checked above");
            let msg = match envelope {
                Envelope::System(system) => match *system {
                    crate::sys::System::Traced { msg, .. } => Envelope::Msg(msg),
                    crate::sys::System::State(run) => {
                        run(state);
                        continue;
                    }
                    // Suspension and statistics belong to the server loop, not to a stepper.
                    crate::sys::System::Op(_) => continue,
                },
                other => other,
            };
            let (step, flow) = match msg {
                Envelope::Msg(msg) | Envelope::Cast(msg) => {
                    let step = Step::Message(S::message_name(&msg));
                    (step, catch_panic(async { state.handle(msg, &mut self.cx).await }).await)
                }
                Envelope::System(_) => unreachable!("taken apart above"),
                Envelope::Info(info) => {
                    let step = Step::Info(S::info_name(&info));
                    (step, catch_panic(async { state.handle_info(info, &mut self.cx).await }).await)
                }
                // Demonitored or cancelled meanwhile: dropped unhandled, as by the loop.
                Envelope::Down(id, _) if !self.cx.server_ref().take_queued(id) => continue,
                Envelope::Down(_, info) => {
                    let step = Step::Info(S::info_name(&info));
                    (step, catch_panic(async { state.handle_info(info, &mut self.cx).await }).await)
                }
                Envelope::Stop(reason) => return self.stop(reason, None).await,
            };
            return self.settle(step, flow).await;
        }
    }

    /// Runs the idle-timeout handler (OTP: `handle_info(:timeout, state)`), as the server
    /// would once [`idle_timeout`](Self::idle_timeout) passed without a message.
    pub async fn step_timeout(&mut self) -> Step {
        let Some(state) = self.state.as_mut() else { return Step::Idle };
        let flow = catch_panic(async { state.handle_timeout(&mut self.cx).await }).await;
        self.settle(Step::Timeout, flow).await
    }

    /// The next queued entry, without waiting.
    fn try_recv(&mut self) -> Option<Envelope<S>> {
        let queue = self.cx.server_ref().mailbox();
        let mailbox = &mut self.mailbox;
        let mut waker = std::task::Context::from_waker(std::task::Waker::noop());
        match mailbox.poll_recv(queue, &mut waker) {
            Poll::Ready(envelope) => envelope,
            Poll::Pending => None,
        }
    }

    /// Acts on what a handler returned, or on its panic.
    async fn settle(&mut self, step: Step, flow: Result<Flow<S>, std::sync::Arc<str>>) -> Step {
        match flow {
            Ok(flow) => match flow.action {
                Action::Stop(stop) => self.stop(stop.reason, stop.after_terminate).await,
                action => {
                    self.after(action);
                    step
                }
            },
            Err(message) => self.stop(ExitReason::Panic(message), None).await,
        }
    }

    /// Records what the server does next: a continuation, an idle timeout, or nothing.
    fn after(&mut self, action: Action<S::Continue>) {
        self.idle_timeout = None;
        match action {
            Action::Continue(value) => self.continuation = Some(value),
            Action::Timeout(after) => self.idle_timeout = Some(after),
            Action::Proceed | Action::Hibernate | Action::Stop(_) => {}
        }
    }

    /// Runs `terminate` with `reason`, then what must follow it, and publishes the exit.
    async fn stop(&mut self, reason: ExitReason, after_terminate: Option<Box<dyn FnOnce() + Send>>) -> Step {
        if let Some(mut state) = self.state.take() {
            let _ = catch_panic(async { state.terminate(&reason, &mut self.cx).await }).await;
        }
        if let Some(after_terminate) = after_terminate {
            after_terminate();
        }
        self.finish(reason.clone());
        Step::Stopped(reason)
    }

    fn finish(&mut self, reason: ExitReason) {
        self.cx.server_ref().shared().process.finish(reason);
        self.mailbox.close_and_drain(self.cx.server_ref().mailbox());
    }
}

impl<S: GenServer> Drop for Stepper<S> {
    /// A stepper dropped with its server running ends it as a kill would: without
    /// `terminate`, its callers and monitors told `Killed`.
    fn drop(&mut self) {
        if self.cx.server_ref().is_alive() {
            self.finish(ExitReason::Killed);
        }
    }
}

impl<S: GenServer> std::fmt::Debug for Stepper<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stepper").field("server", self.cx.server_ref()).finish()
    }
}
