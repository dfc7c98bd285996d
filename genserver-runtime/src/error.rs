//! The errors of the client API: what went wrong with a start, a call, a cast or a stop,
//! said in words and as enums a caller can match on.
//!
//! An error caused by a server's exit gives the [`ExitReason`] as its
//! [`source`](std::error::Error::source), and says only its own part in its message, so
//! that an error chain (`anyhow`'s `{:#}`, `eyre`'s report) shows each cause once, and a
//! user's error inside [`ExitReason::Error`] can be found with `downcast_ref`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{ExitReason, GenServer, ProcessRef};

/// Why a call got no reply (OTP: the reason a `GenServer.call` exits with).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// No reply came within the call's timeout. The request may still be handled later;
    /// its reply is then dropped (OTP: `:timeout`).
    Timeout(Duration),
    /// The server was not running when the call was made (OTP: `:noproc`).
    NoServer,
    /// The server stopped before replying; this is its exit reason.
    Exited(ExitReason),
    /// A server called itself, which could never be answered (OTP: `:calling_self`).
    CallingSelf,
    /// The server's node is down, or went down during the call (OTP: `:noconnection`).
    /// Only a call to another node of a cluster returns this.
    NodeDown(Arc<str>),
    /// The request or its reply could not be encoded or read, or the server there is of
    /// another type: most often nodes running incompatible versions of the server's
    /// messages. Only a call to another node of a cluster returns this.
    BadMessage(Arc<str>),
    /// The server's bounded mailbox was full for the whole timeout, or at once under
    /// [`Overflow::Refuse`](crate::Overflow::Refuse): the request was not queued, so it
    /// will not be handled, and can be retried.
    Full,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout(after) => write!(f, "call timed out after {after:?}"),
            CallError::NoServer => f.write_str("no such server: it is not running"),
            CallError::Exited(_) => f.write_str("server exited during the call"),
            CallError::CallingSelf => f.write_str("a server cannot call itself"),
            CallError::NodeDown(node) => write!(f, "the server's node {node} is down"),
            CallError::BadMessage(message) => write!(f, "bad message between nodes: {message}"),
            CallError::Full => f.write_str("the server's mailbox is full: the call was not queued"),
        }
    }
}

impl std::error::Error for CallError {
    /// The exit reason, for [`CallError::Exited`].
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Exited(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Why a message could not be put in a server's mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CastError {
    /// The server is not running.
    NoServer,
    /// The server's bounded mailbox is full.
    Full,
}

impl fmt::Display for CastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CastError::NoServer => f.write_str("no such server: it is not running"),
            CastError::Full => f.write_str("the server's mailbox is full"),
        }
    }
}

impl std::error::Error for CastError {}

/// Why [`Process::stop`](crate::Process::stop) did not see the server stop as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopError {
    /// The server was not running (OTP: `:noproc`).
    NoServer,
    /// The server did not finish stopping in time. It was not killed and may still stop.
    Timeout(Duration),
    /// The server stopped, but for another reason than the one asked for (for example
    /// its `terminate` panicked).
    ExitedWith(ExitReason),
    /// A server tried to stop itself through its own handle and wait for that, which
    /// could never finish; return a stop value from the handler instead.
    CallingSelf,
}

impl fmt::Display for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopError::NoServer => f.write_str("no such server: it is not running"),
            StopError::Timeout(after) => write!(f, "server did not stop within {after:?}"),
            StopError::ExitedWith(_) => f.write_str("server stopped with another reason"),
            StopError::CallingSelf => {
                f.write_str("a server cannot stop itself through its handle; return a stop value")
            }
        }
    }
}

impl std::error::Error for StopError {
    /// The exit reason, for [`StopError::ExitedWith`].
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StopError::ExitedWith(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Why a server did not start (OTP: the `{:error, _}` and `:ignore` results of `start`).
///
/// By the time a start returns one of these, the half-started server is gone and its
/// name, if any, is free again.
#[non_exhaustive]
pub enum StartError<S: GenServer> {
    /// `init` returned a stop ([`Init::stop`](crate::Init::stop) or `Err`) with this reason.
    Stopped(ExitReason),
    /// `init` returned [`Init::ignore`](crate::Init::ignore): the server chose not to run.
    Ignored,
    /// `init` panicked; the text is the panic message.
    Panicked(Arc<str>),
    /// `init` did not finish within the builder's init timeout; the server was killed.
    InitTimeout(Duration),
    /// A server of this type already holds the name ([`Builder::name`](crate::Builder::name))
    /// or the unique Registry key ([`Builder::via`](crate::Builder::via)); here is its
    /// client handle (OTP: `{:error, {:already_started, pid}}`). `init` did not run.
    AlreadyStarted(S::Ref),
    /// A server of another type holds the name or the unique Registry key; here is its
    /// untyped handle ([`ProcessRef::downcast`](crate::ProcessRef::downcast) types it).
    /// `init` did not run.
    TakenByOtherType(ProcessRef),
}

impl<S: GenServer> StartError<S> {
    /// OTP's `{:already_started, pid}` for the server that holds a name or a unique key:
    /// typed if it is an `S`.
    pub(crate) fn already_started(holder: ProcessRef) -> Self {
        match holder.downcast::<S>() {
            Some(holder) => StartError::AlreadyStarted(holder),
            None => StartError::TakenByOtherType(holder),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            StartError::Stopped(_) => "Stopped",
            StartError::Ignored => "Ignored",
            StartError::Panicked(_) => "Panicked",
            StartError::InitTimeout(_) => "InitTimeout",
            StartError::AlreadyStarted(_) => "AlreadyStarted",
            StartError::TakenByOtherType(_) => "TakenByOtherType",
        }
    }
}

impl<S: GenServer> fmt::Debug for StartError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StartError::{}({self})", self.kind())
    }
}

impl<S: GenServer> fmt::Display for StartError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = crate::type_name::short_type_name::<S>();
        match self {
            StartError::Stopped(_) => write!(f, "{server} stopped in init"),
            StartError::Ignored => write!(f, "{server} ignored its start (init returned ignore)"),
            StartError::Panicked(message) => write!(f, "{server} panicked in init: {message}"),
            StartError::InitTimeout(after) => {
                write!(f, "{server} init did not finish within {after:?}")
            }
            StartError::AlreadyStarted(_) => {
                write!(f, "{server} is already started under this name or registry key")
            }
            StartError::TakenByOtherType(holder) => {
                write!(f, "the name or registry key is held by server {} of another type", holder.id())
            }
        }
    }
}

impl<S: GenServer> std::error::Error for StartError<S> {
    /// The exit reason `init` returned, for [`StartError::Stopped`].
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Stopped(reason) => Some(reason),
            _ => None,
        }
    }
}
