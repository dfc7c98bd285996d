//! Overload: what a full bounded mailbox does with the messages sent to it.
//!
//! A server's mailbox is unbounded unless its builder says otherwise, as in OTP, and then
//! nothing here applies: every send is queued at once. A bounded mailbox
//! ([`Mailbox::Bounded`](crate::Mailbox::Bounded)) that is full treats each sender by what
//! it can do about it:
//! - a sender that waits ([`ServerRef::cast_when_room`], a call, a stop, a timer) waits
//!   for room, and is first in line for it: fire-and-forget casts leave it the room that
//!   opens;
//! - a fire-and-forget cast (the generated cast methods, [`ServerRef::cast`]) cannot
//!   wait and has no result to report with, so the server's [`Overflow`] policy decides:
//!   drop it, drop the oldest queued cast in its place, or refuse it. Each cast lost this
//!   way is counted ([`ServerRef::overflow_counts`]) and reported by a `tracing` warning,
//!   at most one a second per server, that says how many were lost since the last one;
//! - [`ServerRef::try_cast`] returns [`CastError::Full`] and loses nothing silently.
//!
//! A call waits for room within its timeout and fails with [`CallError::Full`] if none
//! came; under [`Overflow::Refuse`] it fails so at once.
//!
//! [`CallError::Full`]: crate::CallError::Full

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::mailbox::{Envelope, SendError};
use crate::{CastError, GenServer, ServerId, ServerRef};

/// What a full bounded mailbox does with a fire-and-forget cast; set with
/// [`Builder::overflow`](crate::Builder::overflow). Calls, stops, timers and
/// [`ServerRef::cast_when_room`] wait for room instead; infos sent with `send_info` and
/// `try_cast` report [`CastError::Full`]. An unbounded mailbox is never full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// The cast that finds the mailbox full is dropped (the default): what is queued is
    /// handled, the newest traffic is shed.
    #[default]
    DropNewest,
    /// The oldest cast still queued (not yet taken by the server) is dropped and the new
    /// one queued behind the rest: the server sees the freshest casts. Calls, infos and
    /// stops are never dropped; when no cast is queued, the new one is dropped instead.
    DropOldest,
    /// The mailbox turns requests away rather than queue or hold them: a cast that finds
    /// it full is refused, and a call fails at once with
    /// [`CallError::Full`](crate::CallError::Full) instead of waiting for room.
    Refuse,
}

/// How many messages a server's full mailbox has turned away: see
/// [`ServerRef::overflow_counts`]. Counted since the server started; always zero for an
/// unbounded mailbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OverflowCounts {
    /// Casts dropped under [`Overflow::DropNewest`] or [`Overflow::DropOldest`].
    pub dropped: u64,
    /// Casts and calls refused under [`Overflow::Refuse`].
    pub refused: u64,
}

/// The minimum time between two overflow warnings of one server.
const WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// A bounded mailbox's count of what it turned away, and the rate limit of its warnings.
#[derive(Default)]
pub(crate) struct Tally {
    dropped: AtomicU64,
    refused: AtomicU64,
    /// When the last warning went out, and the total it reported.
    warned: Mutex<Option<(Instant, u64)>>,
}

/// What a full mailbox did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lost {
    Dropped,
    Refused,
}

impl Tally {
    pub(crate) fn counts(&self) -> OverflowCounts {
        OverflowCounts {
            dropped: self.dropped.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Counts one message lost, and warns if the last warning is old enough.
    #[cold]
    pub(crate) fn count(&self, lost: Lost, server: ServerId, policy: Overflow) {
        match lost {
            Lost::Dropped => self.dropped.fetch_add(1, Ordering::Relaxed),
            Lost::Refused => self.refused.fetch_add(1, Ordering::Relaxed),
        };
        // A sender that finds another one warning leaves it to that one.
        let Ok(mut warned) = self.warned.try_lock() else { return };
        let now = Instant::now();
        if warned.is_some_and(|(at, _)| now.duration_since(at) < WARNING_INTERVAL) {
            return;
        }
        let counts = self.counts();
        let total = counts.dropped + counts.refused;
        let since = total - warned.map_or(0, |(_, reported)| reported);
        *warned = Some((now, total));
        drop(warned);
        tracing::warn!(
            server = %server,
            ?policy,
            lost = since,
            dropped = counts.dropped,
            refused = counts.refused,
            "the bounded mailbox is full: messages lost since the last warning",
        );
    }
}

/// A fire-and-forget cast: queued, or dealt with by the server's overflow policy.
pub(crate) fn cast<S: GenServer>(server: &ServerRef<S>, msg: S::Msg) {
    if let Err((SendError::Full, envelope)) = server.mailbox().push(Envelope::Cast(msg)) {
        server.mailbox().overflow(envelope);
    }
}

impl<S: GenServer> ServerRef<S> {
    /// Sends a cast message, waiting for room if the server's bounded mailbox is full:
    /// back-pressure, as tokio's `mpsc::Sender::send` applies it, where the generated
    /// cast methods are fire-and-forget like OTP's `cast`. On an unbounded mailbox it
    /// never waits. Fails with [`CastError::NoServer`] if the server is not running or
    /// exits while this waits; dropping the future gives up the wait and sends nothing.
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    ///
    /// pub struct Sink {
    ///     total: u32,
    /// }
    ///
    /// #[genserver]
    /// impl Sink {
    ///     #[cast]
    ///     fn put(&mut self, item: u32) {
    ///         self.total += item;
    ///     }
    ///
    ///     #[call]
    ///     fn total(&self) -> u32 {
    ///         self.total
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sink = Sink::builder().mailbox(Mailbox::Bounded(4)).start(Sink { total: 0 }).await?;
    /// for item in 1..=100 {
    ///     // Never more than 4 queued: the producer goes at the server's pace, nothing is lost.
    ///     sink.as_ref().cast_when_room(SinkMsg::Put { item }).await?;
    /// }
    /// assert_eq!(sink.total().await?, 5050);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn cast_when_room(&self, msg: S::Msg) -> Result<(), CastError> {
        self.mailbox().send(Envelope::Cast(msg)).await.map_err(|error| match error {
            SendError::Closed => CastError::NoServer,
            SendError::Full => CastError::Full,
        })
    }

    /// How many messages the server's full bounded mailbox has dropped or refused so far
    /// (see [`Overflow`]); zero for an unbounded mailbox.
    pub fn overflow_counts(&self) -> OverflowCounts {
        self.mailbox().overflow_counts()
    }
}
