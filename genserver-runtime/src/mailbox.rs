//! The mailbox: the queue between a server's clients and its task.
//!
//! Everything a server handles arrives here in send order per sender: calls and casts
//! ([`GenServer::Msg`]), info messages ([`GenServer::Info`], including timers), and
//! system requests such as a stop. The default mailbox is unbounded, so a cast never
//! waits (OTP's mailboxes are unbounded too); a bounded one makes calls and stops wait
//! for room and makes [`ServerRef::try_cast`](crate::ServerRef::try_cast) report `Full`.

use tokio::sync::mpsc;

use crate::{ExitReason, GenServer};

/// Which kind of mailbox a server gets; set with
/// [`Builder::mailbox`](crate::Builder::mailbox).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mailbox {
    /// No limit (the default): senders never wait.
    #[default]
    Unbounded,
    /// At most this many queued messages (at least 1): calls and stops wait for room,
    /// casts from generated methods are dropped with a warning when it is full, and
    /// `try_cast` reports [`CastError::Full`](crate::CastError::Full).
    Bounded(usize),
}

/// One entry in the mailbox.
pub(crate) enum Envelope<S: GenServer> {
    /// A call or a cast.
    Msg(S::Msg),
    /// An info message.
    Info(S::Info),
    /// A request to stop with this reason (OTP: `sys:terminate`).
    Stop(ExitReason),
}

/// Why a send did not go through.
pub(crate) enum SendError {
    Closed,
    Full,
}

/// The sending side; cheap to clone.
pub(crate) enum Sender<S: GenServer> {
    Unbounded(mpsc::UnboundedSender<Envelope<S>>),
    Bounded(mpsc::Sender<Envelope<S>>),
}

/// The receiving side, owned by the server task.
pub(crate) enum Receiver<S: GenServer> {
    Unbounded(mpsc::UnboundedReceiver<Envelope<S>>),
    Bounded(mpsc::Receiver<Envelope<S>>),
}

pub(crate) fn channel<S: GenServer>(kind: Mailbox) -> (Sender<S>, Receiver<S>) {
    match kind {
        Mailbox::Unbounded => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Sender::Unbounded(tx), Receiver::Unbounded(rx))
        }
        Mailbox::Bounded(capacity) => {
            let (tx, rx) = mpsc::channel(capacity.max(1));
            (Sender::Bounded(tx), Receiver::Bounded(rx))
        }
    }
}

impl<S: GenServer> Clone for Sender<S> {
    fn clone(&self) -> Self {
        match self {
            Sender::Unbounded(tx) => Sender::Unbounded(tx.clone()),
            Sender::Bounded(tx) => Sender::Bounded(tx.clone()),
        }
    }
}

impl<S: GenServer> Sender<S> {
    /// Queues without waiting.
    pub(crate) fn try_send(&self, envelope: Envelope<S>) -> Result<(), SendError> {
        match self {
            Sender::Unbounded(tx) => tx.send(envelope).map_err(|_| SendError::Closed),
            Sender::Bounded(tx) => tx.try_send(envelope).map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => SendError::Full,
                mpsc::error::TrySendError::Closed(_) => SendError::Closed,
            }),
        }
    }

    /// Queues, waiting for room in a bounded mailbox.
    pub(crate) async fn send(&self, envelope: Envelope<S>) -> Result<(), SendError> {
        match self {
            Sender::Unbounded(tx) => tx.send(envelope).map_err(|_| SendError::Closed),
            Sender::Bounded(tx) => tx.send(envelope).await.map_err(|_| SendError::Closed),
        }
    }

    /// Resolves once the server has closed its mailbox.
    pub(crate) async fn closed(&self) {
        match self {
            Sender::Unbounded(tx) => tx.closed().await,
            Sender::Bounded(tx) => tx.closed().await,
        }
    }
}

impl<S: GenServer> Receiver<S> {
    pub(crate) async fn recv(&mut self) -> Option<Envelope<S>> {
        match self {
            Receiver::Unbounded(rx) => rx.recv().await,
            Receiver::Bounded(rx) => rx.recv().await,
        }
    }

    /// Refuses further sends and drops everything still queued. Dropping a queued call
    /// drops its [`ReplyTo`](crate::ReplyTo), which tells the caller the server is gone.
    pub(crate) fn close_and_drain(&mut self) {
        match self {
            Receiver::Unbounded(rx) => {
                rx.close();
                while rx.try_recv().is_ok() {}
            }
            Receiver::Bounded(rx) => {
                rx.close();
                while rx.try_recv().is_ok() {}
            }
        }
    }
}
