//! The [`GenServer`] trait that `#[genserver]` implements, and the [`Context`] every
//! handler can ask for.
//!
//! Users do not implement `GenServer` by hand: the macro generates the message enums, the
//! client handle and this impl from the handlers of an `impl` block. The trait is public
//! so that its parts can be named (`<ConfigServer as GenServer>::Msg`) and read in
//! `cargo expand` output.

use std::future::Future;
use std::time::Duration;

use crate::{ExitReason, Flow, InitOutcome, Process, ServerId, ServerRef, TimerRef};

/// A server's behaviour: its message types and the dispatch of each to a handler.
/// Implemented by `#[genserver]`.
pub trait GenServer: Sized + Send + 'static {
    /// What `start` takes: the `#[init]` arguments (a tuple when there are several), or
    /// the state itself when there is no `#[init]`.
    type Args: Send + 'static;
    /// The call and cast messages: one variant per `#[call]` and `#[cast]` handler.
    type Msg: Send + 'static;
    /// The info messages: one variant per `#[info]` handler.
    type Info: Send + 'static;
    /// The continuations: one variant per `#[handle_continue]` handler.
    type Continue: Send + 'static;
    /// The typed client handle.
    type Ref: From<ServerRef<Self>> + Clone + Send + Sync + 'static;

    /// `true` when [`init`](Self::init) does all its work when called and returns a ready
    /// future, as `#[genserver]` generates for a synchronous `#[init]` (or none). The start
    /// then runs `init` in the starting task, as the new server (its identity, its span),
    /// and spawns the server's task only for the loop: a round trip less per start.
    const INIT_IS_READY: bool = false;

    /// Builds the state (OTP: `init/1`).
    fn init(args: Self::Args, cx: &mut Context<Self>) -> impl Future<Output = InitOutcome<Self>> + Send;

    /// Handles one call or cast (OTP: `handle_call/3`, `handle_cast/2`).
    fn handle(&mut self, msg: Self::Msg, cx: &mut Context<Self>) -> impl Future<Output = Flow<Self>> + Send;

    /// Handles one info message (OTP: `handle_info/2`).
    fn handle_info(
        &mut self,
        info: Self::Info,
        cx: &mut Context<Self>,
    ) -> impl Future<Output = Flow<Self>> + Send;

    /// Runs a continuation (OTP: `handle_continue/2`).
    fn handle_continue(
        &mut self,
        value: Self::Continue,
        cx: &mut Context<Self>,
    ) -> impl Future<Output = Flow<Self>> + Send;

    /// Runs when an idle timeout passes with no message (OTP: `handle_info(:timeout, s)`).
    fn handle_timeout(&mut self, cx: &mut Context<Self>) -> impl Future<Output = Flow<Self>> + Send {
        let _ = cx;
        async { Flow::proceed() }
    }

    /// Runs as the server stops, except when it is killed (OTP: `terminate/2`).
    fn terminate(&mut self, reason: &ExitReason, cx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = (reason, cx);
        async {}
    }

    /// The state rendered for [`sys::get_status`](crate::sys::get_status), the process list
    /// and crash reports; `None` (the default) keeps it hidden, since a state may hold
    /// secrets. `#[genserver(debug_state)]` renders it with `Debug`.
    fn format_state(&self) -> Option<String> {
        None
    }

    /// A message rendered for crash reports and per-message spans; `None` (the default)
    /// keeps messages hidden. `#[genserver(debug_messages)]` renders them with `Debug`.
    fn format_message(msg: &Self::Msg) -> Option<String> {
        let _ = msg;
        None
    }

    /// Whether [`format_message`](Self::format_message) renders messages: then the last
    /// message is rendered before each is handled, for the crash report.
    const FORMATS_MESSAGES: bool = false;

    /// The name of a message's handler, for logs and crash reports.
    fn message_name(msg: &Self::Msg) -> &'static str;

    /// The name of an info message's handler, for logs and crash reports.
    fn info_name(info: &Self::Info) -> &'static str;
}

/// What a handler can reach besides its state: its own handle, its timers, its
/// monitors and links (OTP: `self()`, `Process.send_after/3`, `Process.monitor/1`,
/// `Process.link/1`, `Process.flag(:trap_exit, true)`).
pub struct Context<S: GenServer> {
    me: ServerRef<S>,
}

impl<S: GenServer> Context<S> {
    pub(crate) fn new(me: ServerRef<S>) -> Self {
        Context { me }
    }

    /// The server's own client handle (OTP: `self()`). Calling yourself through it returns
    /// [`CallError::CallingSelf`](crate::CallError::CallingSelf); casts and infos are fine.
    pub fn me(&self) -> S::Ref {
        S::Ref::from(self.me.clone())
    }

    /// The server's own untyped handle.
    pub fn server_ref(&self) -> &ServerRef<S> {
        &self.me
    }

    /// The server's id.
    pub fn id(&self) -> ServerId {
        self.me.id()
    }

    /// The server's own [`Process`].
    pub(crate) fn process(&self) -> &Process {
        &self.me
    }

    /// Sends the server `info` after `delay` (OTP: `Process.send_after(self(), info, ms)`).
    /// The timer ends with the server.
    pub fn send_after(&self, delay: Duration, info: S::Info) -> TimerRef {
        crate::timer::send_after(&self.me, delay, info)
    }

    /// Sends the server a clone of `info` every `period`, the first one period from now
    /// (OTP: `:timer.send_interval/2`). Runs until cancelled or the server exits.
    ///
    /// The generated info enum is `Clone` when no `#[info]` handler takes arguments besides
    /// `self` and the context (every variant is then empty); for one that is not, use
    /// [`send_interval_with`](Self::send_interval_with).
    pub fn send_interval(&self, period: Duration, info: S::Info) -> TimerRef
    where
        S::Info: Clone,
    {
        self.send_interval_with(period, move || info.clone())
    }

    /// Like [`send_interval`](Self::send_interval), with each tick's message built by
    /// `make`, so the info type need not be `Clone`.
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    ///
    /// pub struct Sampler {
    ///     ticks: u32,
    ///     samples: Vec<Vec<u8>>,
    /// }
    ///
    /// #[genserver]
    /// impl Sampler {
    ///     #[init]
    ///     fn init(cx: &mut Context<Self>) -> Init<Self> {
    ///         cx.send_interval_with(Duration::from_secs(1), || SamplerInfo::Tick {});
    ///         Init::ok(Sampler { ticks: 0, samples: Vec::new() })
    ///     }
    ///
    ///     #[info]
    ///     fn tick(&mut self) {
    ///         self.ticks += 1;
    ///     }
    ///
    ///     /// An info with data: `SamplerInfo` is not `Clone`.
    ///     #[info]
    ///     fn sample(&mut self, bytes: Vec<u8>) {
    ///         self.samples.push(bytes);
    ///     }
    ///
    ///     #[call]
    ///     fn ticks(&self) -> u32 {
    ///         self.ticks
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sampler = Sampler::start().await?;
    /// tokio::time::sleep(Duration::from_millis(3500)).await;
    /// assert_eq!(sampler.ticks().await?, 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_interval_with<F>(&self, period: Duration, make: F) -> TimerRef
    where
        F: FnMut() -> S::Info + Send + 'static,
    {
        crate::timer::send_interval(&self.me, period, make)
    }

    /// Runs `task` in its own tokio task and sends its result back to this server as the
    /// info message `into_info` builds (OTP: `Task.Supervisor.async_nolink` and the
    /// `handle_info` of its reply). A panic in the task comes back as
    /// `Err(TaskPanicked)`; the server goes on. The task is aborted when the server exits
    /// (its result is then never sent), or by [`TaskRef::abort`](crate::TaskRef::abort).
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    /// use genserver_runtime::TaskPanicked;
    ///
    /// pub struct Indexer {
    ///     indexed: Option<Result<usize, TaskPanicked>>,
    /// }
    ///
    /// #[genserver]
    /// impl Indexer {
    ///     /// Starts indexing `docs` in the background; returns at once.
    ///     #[cast]
    ///     fn index(&mut self, docs: Vec<String>, cx: &mut Context<Self>) {
    ///         cx.spawn_task(async move { docs.len() }, |count| IndexerInfo::Indexed { count });
    ///     }
    ///
    ///     #[info]
    ///     fn indexed(&mut self, count: Result<usize, TaskPanicked>) {
    ///         self.indexed = Some(count);
    ///     }
    ///
    ///     #[call]
    ///     fn indexed_count(&self) -> Option<usize> {
    ///         self.indexed.clone()?.ok()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let indexer = Indexer::start(Indexer { indexed: None }).await?;
    /// indexer.index(vec!["a".into(), "b".into()]);
    /// while indexer.indexed_count().await?.is_none() {
    ///     tokio::task::yield_now().await;
    /// }
    /// assert_eq!(indexer.indexed_count().await?, Some(2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_task<F>(
        &self,
        task: F,
        into_info: impl FnOnce(Result<F::Output, crate::TaskPanicked>) -> S::Info + Send + 'static,
    ) -> crate::TaskRef
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        crate::task::spawn_tied(&self.me, task, move |outcome| {
            Some(into_info(outcome.map_err(crate::TaskPanicked)))
        })
    }

    /// Like [`spawn_task`](Self::spawn_task), but linked (OTP: `Task.async`): a panic in
    /// the task stops this server with [`ExitReason::Panic`] and the panic's message, as
    /// a linked process's crash does (without `terminate`, and a supervisor restarts it).
    /// Its result comes back as the info message `into_info` builds.
    pub fn spawn_linked_task<F>(
        &self,
        task: F,
        into_info: impl FnOnce(F::Output) -> S::Info + Send + 'static,
    ) -> crate::TaskRef
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        let me = self.me.clone();
        crate::task::spawn_tied(&self.me, task, move |outcome| match outcome {
            Ok(output) => Some(into_info(output)),
            Err(message) => {
                crate::task::crash_server(&me, message);
                None
            }
        })
    }

    /// Answers the deferred call `from` with the output of `task`, run in its own tokio
    /// task, so that the server goes on serving meanwhile (OTP: `{:noreply, s}` and a
    /// `Task` that calls `GenServer.reply/2`). The handler takes `from: ReplyTo<R>` and
    /// returns [`NoReply`](crate::NoReply). Linked like
    /// [`spawn_linked_task`](Self::spawn_linked_task): a panic in the task stops the
    /// server. If the server exits first, the task is aborted and the caller gets
    /// [`CallError::Exited`](crate::CallError::Exited).
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    ///
    /// pub struct Reports;
    ///
    /// #[genserver]
    /// impl Reports {
    ///     /// Builds a slow report without blocking the server's other calls.
    ///     #[call]
    ///     fn report(&mut self, rows: u32, from: ReplyTo<String>, cx: &mut Context<Self>) -> NoReply {
    ///         cx.spawn_reply(from, async move { format!("{rows} rows") });
    ///         NoReply::ok()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let reports = Reports::start(Reports).await?;
    /// assert_eq!(reports.report(3).await?, "3 rows");
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_reply<R, F>(&self, from: crate::ReplyTo<R>, task: F) -> crate::TaskRef
    where
        R: Send + 'static,
        F: Future<Output = R> + Send + 'static,
    {
        let me = self.me.clone();
        crate::task::spawn_tied(&self.me, task, move |outcome| {
            match outcome {
                Ok(reply) => from.reply(reply),
                Err(message) => crate::task::crash_server(&me, message),
            }
            None
        })
    }
}

impl<S: GenServer> std::fmt::Debug for Context<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("me", &self.me).finish()
    }
}
