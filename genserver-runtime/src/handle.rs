//! Handles to a running server: [`ServerRef`], the untyped core of every generated
//! client handle, and [`ServerId`], a server's identity (OTP: its pid).
//!
//! A generated handle such as `ConfigServerRef` wraps a `ServerRef<ConfigServer>` and
//! dereferences to it, so `id`, `is_alive`, `stop` and `kill` are there on every client
//! handle without an import.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::mailbox::{Envelope, SendError, Sender};
use crate::process::Core;
use crate::{Call, CastError, ExitReason, GenServer, ReplyTo, StopError};

/// A server's identity, unique for the life of the program (OTP: a pid).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId(u64);

impl ServerId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ServerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The number behind the id.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

impl fmt::Debug for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerId<{}>", self.0)
    }
}

/// A handle to a running server of type `S`: cheap to clone, usable from any task.
///
/// A server does not stop when its handles are dropped; it runs until it stops itself,
/// is stopped or killed (as in OTP). A handle to a server that has exited stays valid and
/// answers every request with an error at once.
pub struct ServerRef<S: GenServer> {
    pub(crate) tx: Sender<S>,
    pub(crate) core: Arc<Core>,
}

impl<S: GenServer> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        ServerRef { tx: self.tx.clone(), core: self.core.clone() }
    }
}

impl<S: GenServer> fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = crate::process::short_type_name::<S>();
        let mut out = f.debug_struct(&server);
        out.field("id", &self.core.id);
        if let Some(name) = &self.core.name {
            out.field("name", name);
        }
        out.field("alive", &self.is_alive()).finish()
    }
}

impl<S: GenServer> PartialEq for ServerRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.core.id == other.core.id
    }
}

impl<S: GenServer> Eq for ServerRef<S> {}

impl<S: GenServer> ServerRef<S> {
    /// The server's id.
    pub fn id(&self) -> ServerId {
        self.core.id
    }

    /// The name the server was started under, if any.
    pub fn name(&self) -> Option<&str> {
        self.core.name.as_deref()
    }

    /// `true` until the server has exited.
    pub fn is_alive(&self) -> bool {
        self.core.exit_reason().is_none()
    }

    /// Why the server exited, once it has.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.core.exit_reason().cloned()
    }

    /// Waits until the server has exited and returns why. Returns at once for a server
    /// that has already exited.
    pub async fn exited(&self) -> ExitReason {
        self.core.exited().await
    }

    /// Sends a call or cast message without waiting. Toward a server that is not running
    /// the message is dropped, as OTP's cast does. On a full bounded mailbox it is
    /// dropped with a warning; use [`try_cast`](Self::try_cast) to see that.
    pub fn cast(&self, msg: S::Msg) {
        if let Err(SendError::Full) = self.tx.try_send(Envelope::Msg(msg)) {
            tracing::warn!(server = %self.core.id, "cast dropped: the bounded mailbox is full");
        }
    }

    /// Sends a call or cast message without waiting and says whether it was queued.
    pub fn try_cast(&self, msg: S::Msg) -> Result<(), CastError> {
        self.tx.try_send(Envelope::Msg(msg)).map_err(cast_error)
    }

    /// Sends an info message (OTP: `send(pid, msg)`), as a timer or another task would.
    /// Dropped toward a server that is not running.
    pub fn send_info(&self, info: S::Info) -> Result<(), CastError> {
        self.tx.try_send(Envelope::Info(info)).map_err(cast_error)
    }

    /// Starts a call: `make` builds the message around the reply channel. Generated
    /// client methods use this; await the returned [`Call`] to get the reply.
    pub fn call<R: Send + 'static>(&self, make: impl FnOnce(ReplyTo<R>) -> S::Msg) -> Call<'_, S, R> {
        let (reply_to, pending) = ReplyTo::channel();
        Call::new(self, make(reply_to), pending)
    }

    /// Asks the server to stop with `reason` and waits up to `timeout` for it to exit
    /// (OTP: `GenServer.stop/3`). The request is queued behind earlier messages; the
    /// server's `terminate` runs. On timeout the server is left running.
    pub async fn stop(&self, reason: ExitReason, timeout: Duration) -> Result<(), StopError> {
        if crate::process::current_server() == Some(self.core.id) {
            return Err(StopError::CallingSelf);
        }
        if !self.is_alive() {
            return Err(StopError::NoServer);
        }
        let deadline = crate::timer::deadline_after(tokio::time::Instant::now(), timeout);
        // Once the request is queued, or the mailbox closed while it waited for room (the
        // server exited meanwhile), the exit reason says how the stop went.
        if tokio::time::timeout_at(deadline, self.tx.send(Envelope::Stop(reason.clone()))).await.is_err() {
            return Err(StopError::Timeout(timeout));
        }
        match tokio::time::timeout_at(deadline, self.core.exited()).await {
            Ok(exit) if exit == reason => Ok(()),
            Ok(exit) => Err(StopError::ExitedWith(exit)),
            Err(_) => Err(StopError::Timeout(timeout)),
        }
    }

    /// Stops the server at once with [`ExitReason::Killed`]: its `terminate` does not run
    /// and queued messages are dropped (OTP: `Process.exit(pid, :kill)`). The server stops
    /// at its next await point; a handler that never awaits runs to its end first.
    pub fn kill(&self) {
        self.core.kill(ExitReason::Killed);
    }
}

fn cast_error(error: SendError) -> CastError {
    match error {
        SendError::Closed => CastError::NoServer,
        SendError::Full => CastError::Full,
    }
}
