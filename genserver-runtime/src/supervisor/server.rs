//! The supervisor server: its state, its [`GenServer`] implementation (written by hand,
//! as the macro's paths name this crate from outside), and the strategies.
//!
//! Every child is linked to the supervisor, which traps exits: a child's exit arrives as
//! an [`Exit`] info message. Children are known by their [`ServerId`], so an exit signal
//! of a child already stopped or replaced (queued before the unlink) finds no child and
//! is ignored.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{ChildCounts, ChildInfo, ChildSpec, ChildStartError, ChildType, Restart, Shutdown, Strategy};
use super::{SupervisorBuilder, SupervisorError, SupervisorRef};
use crate::returns::Action;
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
    /// Children in start order.
    children: Vec<Child>,
    /// When the recent restarts happened, oldest first.
    restarts: VecDeque<Instant>,
    /// The server that started the supervisor: its exit stops the supervisor.
    parent: Option<ServerId>,
    /// For a dynamic supervisor, its maximum number of children, if any.
    dynamic: Option<Option<usize>>,
}

struct Child {
    spec: ChildSpec,
    process: Option<ProcessRef>,
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

/// An info message of a supervisor: the exit signal of a linked server. Opaque.
pub struct SupervisorInfo(Exit);

fn stop<S: GenServer>(reason: ExitReason) -> Flow<S> {
    Flow { action: Action::Stop(reason), after_terminate: None }
}

/// Starts a child from inside the supervisor and links it.
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

/// Stops one child by its shutdown spec and waits until it has exited.
async fn shutdown_child(supervisor: ServerId, cx: &Context<Supervisor>, child: &mut Child) {
    let Some(process) = child.process.take() else { return };
    cx.unlink(&process);
    stop_unlinked(supervisor, process, &child.spec).await;
}

/// Stops a child already unlinked from the supervisor and waits until it has exited.
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

impl Supervisor {
    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|child| &*child.spec.id == id)
    }

    /// Stops every running child from `from` on except `except`, last first; temporary
    /// children stopped this way are forgotten. A dynamic supervisor stops all of them at
    /// once and forgets them.
    async fn shutdown_range(&mut self, cx: &Context<Supervisor>, from: usize, except: Option<usize>) {
        let me = cx.id();
        if self.dynamic.is_some() {
            // A dynamic supervisor stops its children in parallel, and forgets them.
            let mut stops = Vec::new();
            for child in self.children.drain(..) {
                if let Some(process) = child.process {
                    cx.unlink(&process);
                    stops.push(async move { stop_unlinked(me, process, &child.spec).await });
                }
            }
            join_all(stops).await;
            return;
        }
        for index in (from..self.children.len()).rev() {
            if Some(index) != except {
                shutdown_child(me, cx, &mut self.children[index]).await;
            }
        }
        let mut index = 0;
        self.children.retain(|child| {
            let stopped_here = index >= from && Some(index) != except;
            index += 1;
            !(stopped_here && child.spec.restart == Restart::Temporary)
        });
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

    /// Starts the child at `index` again, counting every failed attempt as one more
    /// restart. `false` once the intensity is exceeded.
    async fn restart_at(&mut self, cx: &Context<Supervisor>, index: usize) -> bool {
        loop {
            let spec = self.children[index].spec.clone();
            match start_child(&spec, cx).await {
                Ok(process) => {
                    self.children[index].process = process;
                    return true;
                }
                Err(error) => {
                    tracing::error!(
                        supervisor = %cx.id(), child = %spec.id, %error,
                        "supervisor report: start_error, trying again"
                    );
                    if !self.add_restart() {
                        return false;
                    }
                }
            }
        }
    }

    /// Handles the exit of the child at `index`.
    async fn child_exited(
        &mut self,
        cx: &Context<Supervisor>,
        index: usize,
        reason: ExitReason,
    ) -> Flow<Self> {
        let me = cx.id();
        let child = &mut self.children[index];
        child.process = None;
        let id = child.spec.id.clone();
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => reason.is_abnormal(),
            Restart::Temporary => false,
        };
        let action = if restart { "restarting" } else { "not restarting" };
        const REPORT: &str = "supervisor report: child_terminated";
        if reason.is_abnormal() {
            tracing::error!(supervisor = %me, child = %id, %reason, action, "{REPORT}");
        } else {
            tracing::info!(supervisor = %me, child = %id, %reason, action, "{REPORT}");
        }
        if !restart {
            if child.spec.restart == Restart::Temporary || self.dynamic.is_some() {
                self.children.remove(index);
            }
            return Flow::proceed();
        }
        if !self.add_restart() {
            return self.give_up(cx, &id).await;
        }
        let restarted_ok = match self.strategy {
            Strategy::OneForOne => self.restart_at(cx, index).await,
            Strategy::OneForAll => self.restart_from(cx, 0, index).await,
            Strategy::RestForOne => self.restart_from(cx, index, index).await,
        };
        if restarted_ok { Flow::proceed() } else { self.give_up(cx, &id).await }
    }

    /// Stops the children from `from` on except `failed` (last first), then starts every
    /// one of them that is not running, in order. `false` once the intensity is exceeded.
    async fn restart_from(&mut self, cx: &Context<Supervisor>, from: usize, failed: usize) -> bool {
        self.shutdown_range(cx, from, Some(failed)).await;
        for at in from..self.children.len() {
            if self.children[at].process.is_none() && !self.restart_at(cx, at).await {
                return false;
            }
        }
        true
    }

    /// Too many restarts: stop every child and exit with `Shutdown`.
    async fn give_up(&mut self, cx: &Context<Supervisor>, id: &str) -> Flow<Self> {
        tracing::error!(
            supervisor = %cx.id(), child = %id,
            "supervisor report: reached_max_restart_intensity, shutting down"
        );
        self.shutdown_range(cx, 0, None).await;
        stop(ExitReason::Shutdown)
    }

    async fn handle_request(&mut self, request: Request, cx: &Context<Supervisor>) {
        match request {
            Request::WhichChildren(reply_to) => reply_to.reply(
                self.children
                    .iter()
                    .map(|child| ChildInfo {
                        id: child.spec.id.clone(),
                        process: child.process.clone(),
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
            Request::StartChild(spec, reply_to) if self.dynamic.is_some() => {
                let result = if self.dynamic.flatten().is_some_and(|max| self.children.len() >= max) {
                    Err(SupervisorError::MaxChildren)
                } else {
                    match start_child(&spec, cx).await {
                        Ok(Some(process)) => {
                            self.children.push(Child { spec, process: Some(process.clone()) });
                            Ok(Some(process))
                        }
                        Ok(None) => Ok(None),
                        Err(reason) => {
                            Err(SupervisorError::FailedToStartChild { id: spec.id.clone(), reason })
                        }
                    }
                };
                reply_to.reply(result);
            }
            Request::TerminateProcess(server, reply_to) => {
                let found = self
                    .children
                    .iter()
                    .position(|child| child.process.as_ref().is_some_and(|p| p.id() == server));
                let result = match found {
                    None => Err(SupervisorError::NoChild(server)),
                    Some(index) => {
                        let mut child = self.children.remove(index);
                        shutdown_child(cx.id(), cx, &mut child).await;
                        Ok(())
                    }
                };
                reply_to.reply(result);
            }
            Request::StartChild(spec, reply_to) => {
                let result = match self.position(&spec.id) {
                    Some(index) => Err(match &self.children[index].process {
                        Some(process) => SupervisorError::AlreadyStarted(process.clone()),
                        None => SupervisorError::AlreadyPresent(spec.id.clone()),
                    }),
                    None => match start_child(&spec, cx).await {
                        Ok(process) => {
                            if process.is_some() || spec.restart != Restart::Temporary {
                                self.children.push(Child { spec, process: process.clone() });
                            }
                            Ok(process)
                        }
                        Err(reason) => {
                            Err(SupervisorError::FailedToStartChild { id: spec.id.clone(), reason })
                        }
                    },
                };
                reply_to.reply(result);
            }
            Request::TerminateChild(id, reply_to) => {
                let result = match self.position(&id) {
                    None => Err(SupervisorError::NotFound(id)),
                    Some(index) => {
                        shutdown_child(cx.id(), cx, &mut self.children[index]).await;
                        if self.children[index].spec.restart == Restart::Temporary {
                            self.children.remove(index);
                        }
                        Ok(())
                    }
                };
                reply_to.reply(result);
            }
            Request::RestartChild(id, reply_to) => {
                let result = match self.position(&id) {
                    None => Err(SupervisorError::NotFound(id)),
                    Some(index) if self.children[index].process.is_some() => {
                        Err(SupervisorError::Running(id))
                    }
                    Some(index) => {
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
                let result = match self.position(&id) {
                    None => Err(SupervisorError::NotFound(id)),
                    Some(index) if self.children[index].process.is_some() => {
                        Err(SupervisorError::Running(id))
                    }
                    Some(index) => {
                        self.children.remove(index);
                        Ok(())
                    }
                };
                reply_to.reply(result);
            }
        }
    }
}

impl GenServer for Supervisor {
    type Args = SupervisorBuilder;
    type Msg = SupervisorMsg;
    type Info = SupervisorInfo;
    type Continue = NoContinue;
    type Ref = SupervisorRef;

    async fn init(args: SupervisorBuilder, cx: &mut Context<Self>) -> InitOutcome<Self> {
        cx.trap_exits(SupervisorInfo);
        let SupervisorBuilder {
            strategy, intensity, period, children: specs, parent, failure, dynamic, ..
        } = args;
        let mut supervisor = Supervisor {
            strategy,
            intensity,
            period,
            children: Vec::with_capacity(specs.len()),
            restarts: VecDeque::new(),
            parent,
            dynamic,
        };
        let mut error = None;
        for (index, spec) in specs.iter().enumerate() {
            if specs[..index].iter().any(|earlier| earlier.id == spec.id) {
                error = Some(SupervisorError::DuplicateChild(spec.id.clone()));
                break;
            }
        }
        if error.is_none() {
            for spec in specs {
                match start_child(&spec, cx).await {
                    Ok(None) if spec.restart == Restart::Temporary => {}
                    Ok(process) => supervisor.children.push(Child { spec, process }),
                    Err(reason) => {
                        tracing::error!(
                            supervisor = %cx.id(), child = %spec.id, %reason,
                            "supervisor report: start_error"
                        );
                        error = Some(SupervisorError::FailedToStartChild { id: spec.id.clone(), reason });
                        break;
                    }
                }
            }
        }
        match error {
            None => Init::<Self>::ok(supervisor).into_init(),
            Some(error) => {
                supervisor.shutdown_range(cx, 0, None).await;
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
        let Exit { server, reason } = info.0;
        let found =
            self.children.iter().position(|child| child.process.as_ref().is_some_and(|p| p.id() == server));
        match found {
            Some(index) => self.child_exited(cx, index, reason).await,
            // The parent exited, even normally: so does the supervisor, after its children
            // (OTP: a gen_server stops on any exit signal from its parent).
            None if self.parent == Some(server) => stop(reason),
            // A child already stopped or replaced, or a server that linked itself to us.
            None => Flow::proceed(),
        }
    }

    async fn handle_continue(&mut self, value: NoContinue, _: &mut Context<Self>) -> Flow<Self> {
        match value {}
    }

    async fn terminate(&mut self, _: &ExitReason, cx: &mut Context<Self>) {
        self.shutdown_range(cx, 0, None).await;
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

    fn info_name(_: &SupervisorInfo) -> &'static str {
        "exit"
    }
}
