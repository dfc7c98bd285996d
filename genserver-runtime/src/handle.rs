//! Handles to a running server: [`ServerRef`], the typed core of every generated client
//! handle.
//!
//! A generated handle such as `ConfigServerRef` wraps a `ServerRef<ConfigServer>`; both
//! dereference to the server's [`Process`], so `id`, `is_alive`, `stop` and `kill` are
//! there on every client handle without an import.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::mailbox::{Envelope, Queue, SendError};
use crate::process::{Process, Shared};
use crate::{Call, CastError, GenServer, ReplyTo};

/// A handle to a running server of type `S`: cheap to clone, usable from any task.
///
/// It sends the server's typed messages; everything else a handle can do (`id`,
/// `is_alive`, `stop`, `kill`, ...) is on the [`Process`] it dereferences to.
///
/// A server does not stop when its handles are dropped; it runs until it stops itself,
/// is stopped or killed (as in OTP). A handle to a server that has exited stays valid and
/// answers every request with an error at once.
pub struct ServerRef<S: GenServer> {
    shared: Arc<Shared<S>>,
}

impl<S: GenServer> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        ServerRef { shared: self.shared.clone() }
    }
}

impl<S: GenServer> Deref for ServerRef<S> {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.shared.process
    }
}

impl<S: GenServer> AsRef<ServerRef<S>> for ServerRef<S> {
    fn as_ref(&self) -> &ServerRef<S> {
        self
    }
}

impl<S: GenServer> fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = crate::type_name::short_type_name::<S>();
        let mut out = f.debug_struct(&server);
        out.field("id", &self.id());
        if let Some(name) = self.name() {
            out.field("name", &name);
        }
        out.field("alive", &self.is_alive()).finish()
    }
}

impl<S: GenServer> PartialEq for ServerRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<S: GenServer> Eq for ServerRef<S> {}

impl<S: GenServer> ServerRef<S> {
    /// The handle of the server whose shared allocation is `shared`.
    pub(crate) fn from_shared(shared: Arc<Shared<S>>) -> Self {
        ServerRef { shared }
    }

    /// The server's shared allocation: its process and its mailbox's sending side.
    pub(crate) fn shared(&self) -> &Arc<Shared<S>> {
        &self.shared
    }

    pub(crate) fn mailbox(&self) -> &Queue<S> {
        &self.shared.mailbox
    }

    /// Sends a cast message without waiting. Toward a server that is not running the
    /// message is dropped, as OTP's cast does. A full bounded mailbox applies the server's
    /// [`Overflow`](crate::Overflow) policy; [`try_cast`](Self::try_cast) reports `Full`
    /// instead, and [`cast_when_room`](Self::cast_when_room) waits for room.
    pub fn cast(&self, msg: S::Msg) {
        crate::overload::cast(self, msg)
    }

    /// Sends a cast message without waiting and says whether it was queued.
    pub fn try_cast(&self, msg: S::Msg) -> Result<(), CastError> {
        self.mailbox().try_send(Envelope::Cast(msg)).map_err(cast_error)
    }

    /// Sends an info message (OTP: `send(pid, msg)`), as a timer or another task would.
    /// Dropped toward a server that is not running.
    pub fn send_info(&self, info: S::Info) -> Result<(), CastError> {
        self.mailbox().try_send(Envelope::Info(info)).map_err(cast_error)
    }

    /// Starts a call: `make` builds the message around the reply channel. Generated
    /// client methods use this; await the returned [`Call`] to get the reply. The call
    /// holds a clone of this handle, so it outlives the borrow.
    pub fn call<R: Send + 'static>(&self, make: impl FnOnce(ReplyTo<R>) -> S::Msg) -> Call<S, R> {
        let (reply_to, pending) = ReplyTo::channel();
        Call::new(self.clone(), make(reply_to), pending)
    }
}

fn cast_error(error: SendError) -> CastError {
    match error {
        SendError::Closed => CastError::NoServer,
        SendError::Full => CastError::Full,
    }
}
