//! The supervisor server: its state, its [`GenServer`] implementation (written by hand,
//! as the macro's paths name this crate from outside), and the strategies.
//!
//! Every child is linked to the supervisor, which traps exits: a child's exit arrives as
//! an [`Exit`] info message. Children are known by their [`ServerId`], so an exit signal
//! of a child already stopped or replaced (queued before the unlink) finds no child and
//! is ignored.
//!
//! A restart that fails is retried through a message the supervisor sends itself (OTP:
//! `try_again_restart`), so calls queued meanwhile are served between the attempts; every
//! attempt counts toward the restart intensity.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{AutoShutdown, ChildCounts, ChildInfo, ChildSpec, ChildStartError, ChildType, Restart, Shutdown};
use super::{Kind, Strategy, SupervisorBuilder, SupervisorError, SupervisorRef};
use crate::{
    Context, Exit, ExitReason, Flow, GenServer, Init, InitOutcome, IntoInit, NoContinue, ProcessRef, ReplyTo,
    ServerId, StopError,
};

/// A supervisor's state (OTP: a `supervisor` process). Start one with
/// [`Supervisor::builder`]; talk to it through its [`SupervisorRef`].
pub struct Supervisor {
    strategy: Strategy,
    intensity: u32,
    period: Duration,
    auto_shutdown: AutoShutdown,
    /// Children in start order.
    children: Vec<Child>,
    /// The key of the next child added.
    next_key: u64,
    /// When the recent restarts happened, oldest first.
    restarts: VecDeque<Instant>,
    /// The server that started the supervisor: its exit stops the supervisor.
    parent: Option<ServerId>,
    /// Static, or dynamic with its maximum of children.
    kind: Kind,
}

struct Child {
    /// Names the child in the supervisor's retry messages; never reused, so a retry aimed
    /// at a child since deleted (or replaced under the same id) finds nothing.
    key: u64,
    spec: ChildSpec,
    process: Option<ProcessRef>,
    /// Its restart failed and a retry is queued (OTP: `{restarting, Pid}`).
    restarting: bool,
}

/// A request to a supervisor, as its handle's methods send it. Opaque.
pub struct SupervisorMsg(pub(super) Request);

pub(super) enum Request {
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<ChildCounts>),
    StartChild(ChildSpec, ReplyTo<Result<Option<ProcessRef>, SupervisorError>>),
    TerminateChild(Arc<str>, ReplyTo<Result<(), SupervisorError>>),
    RestartChild(Arc<str>, ReplyTo<Result<Option<ProcessRef>, SupervisorError>>),
    DeleteChild(Arc<str>, ReplyTo<Result<(), SupervisorError>>),
    TerminateProcess(ServerId, ReplyTo<Result<(), SupervisorError>>),
}

/// An info message of a supervisor: the exit signal of a linked server, or a retry of a
/// failed restart. Opaque.
pub struct SupervisorInfo(Info);

enum Info {
    Exit(Exit),
    /// Try again to restart the child with this key (OTP: `try_again_restart`).
    TryAgain(u64),
}

/// Starts a child from inside the supervisor and links it. `Ok(None)` if it ignored its
/// start.
async fn start_child(
    spec: &ChildSpec,
    cx: &Context<Supervisor>,
) -> Result<Option<ProcessRef>, ChildStartError> {
    match spec.start().await {
        Ok(process) => {
            cx.link(&process);
            Ok(Some(process))
        }
        Err(ChildStartError::Ignored) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Stops a child already unlinked from the supervisor by its shutdown spec, and waits
/// until it has exited. A child that exits with another reason than the one asked gets a
/// `shutdown_error` report.
async fn stop_unlinked(supervisor: ServerId, process: ProcessRef, spec: &ChildSpec) {
    match spec.shutdown {
        Shutdown::BrutalKill => process.kill(),
        Shutdown::Timeout(timeout) => {
            if let Err(StopError::Timeout(_)) = process.stop(ExitReason::Shutdown, timeout).await {
                process.kill();
            }
        }
        Shutdown::Infinity => {
            let _ = process.stop(ExitReason::Shutdown, Duration::MAX).await;
        }
    }
    let reason = process.exited().await;
    let clean = match spec.shutdown {
        Shutdown::BrutalKill => reason == ExitReason::Killed,
        _ => reason == ExitReason::Shutdown,
    } || (spec.restart != Restart::Permanent && !reason.is_abnormal());
    if !clean {
        tracing::error!(
            %supervisor, child = %spec.id, %reason,
            "supervisor report: shutdown_error (the child did not stop cleanly)"
        );
    }
}

/// Waits for every future, polling them all together.
async fn join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<_> = futures.into_iter().map(|future| Some(Box::pin(future))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
}

/// The spec rules that OTP checks when a child is added: a significant child must be
/// transient or temporary, under a supervisor with an automatic shutdown.
fn check_spec(spec: &ChildSpec, auto_shutdown: AutoShutdown) -> Result<(), SupervisorError> {
    let invalid = |reason| Err(SupervisorError::InvalidChildSpec { id: spec.id.clone(), reason });
    if spec.significant && spec.restart == Restart::Permanent {
        return invalid("a significant child must be transient or temporary");
    }
    if spec.significant && auto_shutdown == AutoShutdown::Never {
        return invalid("a significant child needs a supervisor with an automatic shutdown");
    }
    Ok(())
}

impl Supervisor {
    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|child| &*child.spec.id == id)
    }

    /// The index of the child `id` if it is stopped, as `restart_child` and
    /// `delete_child` require; otherwise OTP's error: not found, running or restarting.
    fn stopped_child(&self, id: Arc<str>) -> Result<(usize, Arc<str>), SupervisorError> {
        match self.position(&id) {
            None => Err(SupervisorError::NotFound(id)),
            Some(index) if self.children[index].process.is_some() => Err(SupervisorError::Running(id)),
            Some(index) if self.children[index].restarting => Err(SupervisorError::Restarting(id)),
            Some(index) => Ok((index, id)),
        }
    }

    fn add_child(&mut self, spec: ChildSpec, process: Option<ProcessRef>) {
        let key = self.next_key;
        self.next_key += 1;
        self.children.push(Child { key, spec, process, restarting: false });
    }

    /// Stops the child at `index`, if running, by its shutdown spec and waits until it has
    /// exited. A pending retry of its restart is dropped.
    async fn stop_child(&mut self, cx: &Context<Supervisor>, index: usize) {
        let child = &mut self.children[index];
        child.restarting = false;
        let Some(process) = child.process.take() else { return };
        cx.unlink(&process);
        stop_unlinked(cx.id(), process, &child.spec).await;
    }

    /// Stops every child from `from` on except `except`, last first; temporary children
    /// stopped this way are forgotten.
    async fn stop_range(&mut self, cx: &Context<Supervisor>, from: usize, except: Option<usize>) {
        for index in (from..self.children.len()).rev() {
            if Some(index) != except {
                self.stop_child(cx, index).await;
            }
        }
        let mut index = 0;
        self.children.retain(|child| {
            let stopped_here = index >= from && Some(index) != except;
            index += 1;
            !(stopped_here && child.spec.restart == Restart::Temporary)
        });
    }

    /// Stops every child: last first, or for a dynamic supervisor all at once.
    async fn stop_all(&mut self, cx: &Context<Supervisor>) {
        if self.kind == Kind::Static {
            self.stop_range(cx, 0, None).await;
            return;
        }
        let me = cx.id();
        let mut stops = Vec::new();
        for child in self.children.drain(..) {
            if let Some(process) = child.process {
                cx.unlink(&process);
                stops.push(async move { stop_unlinked(me, process, &child.spec).await });
            }
        }
        join_all(stops).await;
    }

    /// Counts a restart; `false` if that is one too many.
    fn add_restart(&mut self) -> bool {
        let now = Instant::now();
        self.restarts.push_back(now);
        while let Some(&oldest) = self.restarts.front() {
            if now.duration_since(oldest) > self.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.len() <= self.intensity as usize
    }

    /// Starts the child at `index`. If the start fails, the child is marked restarting and
    /// the error is its key.
    async fn start_at(&mut self, cx: &Context<Supervisor>, index: usize) -> Result<(), u64> {
        let child = &self.children[index];
        let spec = child.spec.clone();
        let result = start_child(&spec, cx).await;
        let child = &mut self.children[index];
        match result {
            Ok(process) => {
                child.process = process;
                child.restarting = false;
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    supervisor = %cx.id(), child = %spec.id, %error,
                    "supervisor report: start_error, trying again"
                );
                child.restarting = true;
                Err(child.key)
            }
        }
    }

    /// Stops the children from `from` on except `failed` (last first), then starts every
    /// one of them that is not running, in order, up to the first that fails.
    async fn restart_range(
        &mut self,
        cx: &Context<Supervisor>,
        from: usize,
        failed: usize,
    ) -> Result<(), u64> {
        self.stop_range(cx, from, Some(failed)).await;
        for index in from..self.children.len() {
            if self.children[index].process.is_none() {
                self.start_at(cx, index).await?;
            }
        }
        Ok(())
    }

    /// Restarts the child at `index` by the strategy, counting one restart. A failed start
    /// is retried by a message to itself; too many restarts stop the supervisor.
    async fn restart(&mut self, cx: &Context<Supervisor>, index: usize) -> Flow<Self> {
        if !self.add_restart() {
            tracing::error!(
                supervisor = %cx.id(), child = %self.children[index].spec.id,
                "supervisor report: reached_max_restart_intensity, shutting down"
            );
            // `terminate` stops the children.
            return Flow::stop(ExitReason::Shutdown);
        }
        let started = match self.strategy {
            Strategy::OneForOne => self.start_at(cx, index).await,
            Strategy::OneForAll => self.restart_range(cx, 0, index).await,
            Strategy::RestForOne => self.restart_range(cx, index, index).await,
        };
        if let Err(key) = started {
            let _ = cx.server_ref().send_info(SupervisorInfo(Info::TryAgain(key)));
        }
        Flow::proceed()
    }

    /// Handles the exit of the child at `index`.
    async fn child_exited(
        &mut self,
        cx: &Context<Supervisor>,
        index: usize,
        reason: ExitReason,
    ) -> Flow<Self> {
        let child = &mut self.children[index];
        child.process = None;
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => reason.is_abnormal(),
            Restart::Temporary => false,
        };
        let (me, id) = (cx.id(), &child.spec.id);
        let action = if restart { "restarting" } else { "not restarting" };
        const REPORT: &str = "supervisor report: child_terminated";
        // As OTP: a permanent child is not meant to exit at all, so any exit of one is an
        // error, a normal one included.
        if reason.is_abnormal() || child.spec.restart == Restart::Permanent {
            tracing::error!(supervisor = %me, child = %id, %reason, action, "{REPORT}");
        } else {
            tracing::info!(supervisor = %me, child = %id, %reason, action, "{REPORT}");
        }
        if restart {
            return self.restart(cx, index).await;
        }
        let (significant, temporary) = (child.spec.significant, child.spec.restart == Restart::Temporary);
        if temporary || self.kind != Kind::Static {
            self.children.remove(index);
        }
        if significant && self.auto_shutdown_due() {
            tracing::info!(supervisor = %me, "supervisor report: auto_shutdown, a significant child exited");
            // `terminate` stops the other children.
            return Flow::stop(ExitReason::Shutdown);
        }
        Flow::proceed()
    }

    /// Whether the exit of a significant child shuts the supervisor down.
    fn auto_shutdown_due(&self) -> bool {
        match self.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|child| child.spec.significant && (child.process.is_some() || child.restarting)),
        }
    }

    async fn handle_request(&mut self, request: Request, cx: &Context<Supervisor>) {
        // A dynamic supervisor's children have no ids of their own, so the calls that name
        // a child by id do not apply to it (OTP refuses them with `simple_one_for_one`).
        let request = match request {
            Request::TerminateChild(_, reply_to) | Request::DeleteChild(_, reply_to)
                if self.kind != Kind::Static =>
            {
                return reply_to.reply(Err(SupervisorError::UnsupportedOnDynamic));
            }
            Request::RestartChild(_, reply_to) if self.kind != Kind::Static => {
                return reply_to.reply(Err(SupervisorError::UnsupportedOnDynamic));
            }
            request => request,
        };
        match request {
            Request::WhichChildren(reply_to) => reply_to.reply(
                self.children
                    .iter()
                    .map(|child| ChildInfo {
                        id: child.spec.id.clone(),
                        process: child.process.clone(),
                        restarting: child.restarting,
                        child_type: child.spec.child_type,
                        restart: child.spec.restart,
                    })
                    .collect(),
            ),
            Request::CountChildren(reply_to) => {
                let mut counts = ChildCounts { specs: self.children.len(), ..ChildCounts::default() };
                for child in &self.children {
                    counts.active += usize::from(child.process.as_ref().is_some_and(|p| p.is_alive()));
                    match child.spec.child_type {
                        ChildType::Worker => counts.workers += 1,
                        ChildType::Supervisor => counts.supervisors += 1,
                    }
                }
                reply_to.reply(counts);
            }
            Request::StartChild(spec, reply_to) => reply_to.reply(self.add_and_start(spec, cx).await),
            Request::TerminateProcess(server, reply_to) => {
                let found = self
                    .children
                    .iter()
                    .position(|child| child.process.as_ref().is_some_and(|p| p.id() == server));
                let result = match found {
                    None => Err(SupervisorError::NoChild(server)),
                    Some(index) => {
                        self.stop_child(cx, index).await;
                        self.children.remove(index);
                        Ok(())
                    }
                };
                reply_to.reply(result);
            }
            Request::TerminateChild(id, reply_to) => {
                let result = match self.position(&id) {
                    None => Err(SupervisorError::NotFound(id)),
                    Some(index) => {
                        self.stop_child(cx, index).await;
                        if self.children[index].spec.restart == Restart::Temporary {
                            self.children.remove(index);
                        }
                        Ok(())
                    }
                };
                reply_to.reply(result);
            }
            Request::RestartChild(id, reply_to) => {
                let result = match self.stopped_child(id) {
                    Err(error) => Err(error),
                    Ok((index, id)) => {
                        let spec = self.children[index].spec.clone();
                        match start_child(&spec, cx).await {
                            Ok(process) => {
                                self.children[index].process = process.clone();
                                Ok(process)
                            }
                            Err(reason) => Err(SupervisorError::FailedToStartChild { id, reason }),
                        }
                    }
                };
                reply_to.reply(result);
            }
            Request::DeleteChild(id, reply_to) => {
                let result = self.stopped_child(id).map(|(index, _)| {
                    self.children.remove(index);
                });
                reply_to.reply(result);
            }
        }
    }

    /// `start_child`: checks the spec, starts the child and keeps it (a dynamic
    /// supervisor keeps only running children, a static one every spec but a temporary
    /// one that ignored its start).
    async fn add_and_start(
        &mut self,
        spec: ChildSpec,
        cx: &Context<Supervisor>,
    ) -> Result<Option<ProcessRef>, SupervisorError> {
        check_spec(&spec, self.auto_shutdown)?;
        match self.kind {
            Kind::Dynamic { max_children: Some(max) } if self.children.len() >= max => {
                return Err(SupervisorError::MaxChildren);
            }
            Kind::Dynamic { .. } => {}
            Kind::Static => {
                if let Some(index) = self.position(&spec.id) {
                    return Err(match &self.children[index].process {
                        Some(process) => SupervisorError::AlreadyStarted(process.clone()),
                        None => SupervisorError::AlreadyPresent(spec.id.clone()),
                    });
                }
            }
        }
        match start_child(&spec, cx).await {
            Ok(process) => {
                let keep = match self.kind {
                    Kind::Dynamic { .. } => process.is_some(),
                    Kind::Static => process.is_some() || spec.restart != Restart::Temporary,
                };
                if keep {
                    self.add_child(spec, process.clone());
                }
                Ok(process)
            }
            Err(reason) => Err(SupervisorError::FailedToStartChild { id: spec.id.clone(), reason }),
        }
    }

    /// Checks the specs and starts the children in order; on the first failure stops those
    /// started, last first.
    async fn start_children(
        &mut self,
        specs: Vec<ChildSpec>,
        cx: &Context<Supervisor>,
    ) -> Result<(), SupervisorError> {
        for (index, spec) in specs.iter().enumerate() {
            if specs[..index].iter().any(|earlier| earlier.id == spec.id) {
                return Err(SupervisorError::DuplicateChild(spec.id.clone()));
            }
            check_spec(spec, self.auto_shutdown)?;
        }
        for spec in specs {
            match start_child(&spec, cx).await {
                Ok(None) if spec.restart == Restart::Temporary => {}
                Ok(process) => self.add_child(spec, process),
                Err(reason) => {
                    tracing::error!(
                        supervisor = %cx.id(), child = %spec.id, %reason,
                        "supervisor report: start_error"
                    );
                    self.stop_all(cx).await;
                    return Err(SupervisorError::FailedToStartChild { id: spec.id.clone(), reason });
                }
            }
        }
        Ok(())
    }
}

impl GenServer for Supervisor {
    type Args = SupervisorBuilder;
    type Msg = SupervisorMsg;
    type Info = SupervisorInfo;
    type Continue = NoContinue;
    type Ref = SupervisorRef;

    async fn init(args: SupervisorBuilder, cx: &mut Context<Self>) -> InitOutcome<Self> {
        cx.trap_exits(|exit| SupervisorInfo(Info::Exit(exit)));
        let SupervisorBuilder {
            strategy,
            intensity,
            period,
            auto_shutdown,
            children,
            parent,
            failure,
            kind,
            ..
        } = args;
        let mut supervisor = Supervisor {
            strategy,
            intensity,
            period,
            auto_shutdown,
            children: Vec::with_capacity(children.len()),
            next_key: 0,
            restarts: VecDeque::new(),
            parent,
            kind,
        };
        match supervisor.start_children(children, cx).await {
            Ok(()) => Init::<Self>::ok(supervisor).into_init(),
            Err(error) => {
                let reason = ExitReason::shutdown_with(error.to_string());
                *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
                Init::<Self>::stop(reason).into_init()
            }
        }
    }

    async fn handle(&mut self, msg: SupervisorMsg, cx: &mut Context<Self>) -> Flow<Self> {
        self.handle_request(msg.0, cx).await;
        Flow::proceed()
    }

    async fn handle_info(&mut self, info: SupervisorInfo, cx: &mut Context<Self>) -> Flow<Self> {
        match info.0 {
            Info::Exit(Exit { server, reason }) => {
                let found = self
                    .children
                    .iter()
                    .position(|child| child.process.as_ref().is_some_and(|p| p.id() == server));
                match found {
                    Some(index) => self.child_exited(cx, index, reason).await,
                    // The parent exited, even normally: so does the supervisor, after its
                    // children (OTP: a gen_server stops on any exit signal from its parent).
                    None if self.parent == Some(server) => Flow::stop(reason),
                    // A child already stopped or replaced, or a server that linked itself
                    // to us.
                    None => Flow::proceed(),
                }
            }
            // Only if the child still waits for it: `terminate_child` or `delete_child`
            // may have come first.
            Info::TryAgain(key) => match self.children.iter().position(|c| c.key == key && c.restarting) {
                Some(index) => self.restart(cx, index).await,
                None => Flow::proceed(),
            },
        }
    }

    async fn handle_continue(&mut self, value: NoContinue, _: &mut Context<Self>) -> Flow<Self> {
        match value {}
    }

    async fn terminate(&mut self, _: &ExitReason, cx: &mut Context<Self>) {
        self.stop_all(cx).await;
    }

    fn message_name(msg: &SupervisorMsg) -> &'static str {
        match msg.0 {
            Request::WhichChildren(_) => "which_children",
            Request::CountChildren(_) => "count_children",
            Request::StartChild(..) => "start_child",
            Request::TerminateChild(..) => "terminate_child",
            Request::RestartChild(..) => "restart_child",
            Request::DeleteChild(..) => "delete_child",
            Request::TerminateProcess(..) => "terminate_child",
        }
    }

    fn info_name(info: &SupervisorInfo) -> &'static str {
        match info.0 {
            Info::Exit(_) => "exit",
            Info::TryAgain(_) => "try_again_restart",
        }
    }
}
