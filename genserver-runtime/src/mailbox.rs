//! The mailbox: the queue between a server's clients and its task.
//!
//! Everything a server handles arrives here in send order per sender: calls and casts
//! ([`GenServer::Msg`]), info messages ([`GenServer::Info`], including timers), and
//! system requests such as a stop. The default mailbox is unbounded, so a cast never
//! waits (OTP's mailboxes are unbounded too); what a full bounded one does with each kind
//! of sender is [`overload`](crate::overload)'s subject: this file applies it on push.
//!
//! It is built for this one job rather than taken from a general channel:
//! - the [`Queue`] lives inside the server's shared allocation, with room there for one
//!   entry: it allocates a buffer only when a second message arrives before the server
//!   took the first, so a server that handles one message at a time (calls, a stop)
//!   never allocates, and an idle server costs only its few words;
//! - a sender takes a short lock, pushes, and wakes the server only if it is parked;
//! - the server takes the whole queue in one swap and handles that batch without
//!   touching the lock again, so a busy server pays for one lock and no wake per batch,
//!   not per message. The two buffers trade places, so after warm-up nothing allocates.
//!   They are plain `Vec`s (a word smaller than a `VecDeque`, in the shared part and in
//!   the task): the server reverses a batch once and then pops it from the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::overload::{Lost, Overflow, OverflowCounts, Tally};
use crate::{ExitReason, GenServer, MonitorRef, ServerId};

/// Which kind of mailbox a server gets; set with
/// [`Builder::mailbox`](crate::Builder::mailbox).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mailbox {
    /// No limit (the default): senders never wait.
    #[default]
    Unbounded,
    /// At most this many queued messages (at least 1). When it is full, calls, stops,
    /// timers and [`cast_when_room`](crate::ServerRef::cast_when_room) wait for room,
    /// `try_cast` reports [`CastError::Full`](crate::CastError::Full), and the
    /// server's [`Overflow`] policy decides what happens to a fire-and-forget cast.
    Bounded(usize),
}

/// One entry in the mailbox.
pub(crate) enum Envelope<S: GenServer> {
    /// A call.
    Msg(S::Msg),
    /// A cast: the only entry a full mailbox under [`Overflow::DropOldest`] may drop.
    Cast(S::Msg),
    /// An info message.
    Info(S::Info),
    /// A request to stop with this reason (OTP: `sys:terminate`).
    Stop(ExitReason),
    /// The DOWN of a monitor this server set up, or a tick of one of its interval timers,
    /// as its info message, named by a reference. Handled only while its record is in the
    /// server's ties, so that a demonitor, or a cancel, also drops one already queued.
    Down(MonitorRef, S::Info),
    /// A system request ([`sys`](crate::sys)), or a call that carries its caller's
    /// tracing span: boxed, so that the entry stays the size it was.
    System(Box<crate::sys::System<S>>),
}

impl<S: GenServer> Envelope<S> {
    /// Whether a suspended server handles this entry: system requests and stops (OTP
    /// handles `sys:terminate` while suspended). A call carrying its caller's span is a
    /// message like any other.
    fn is_system(&self) -> bool {
        match self {
            Envelope::Stop(_) => true,
            Envelope::System(system) => system.is_request(),
            _ => false,
        }
    }
}

/// Why a send did not go through.
pub(crate) enum SendError {
    Closed,
    Full,
}

/// The sending side, shared by every handle of a server.
pub(crate) struct Queue<S: GenServer> {
    state: Mutex<QueueState<S>>,
    /// For a bounded mailbox: the limit, how many entries are queued or in the server's
    /// batch, the senders waiting for room, and the overflow policy with its count.
    bound: Option<Box<Bound>>,
    /// How many entries of the batch the server holds are not handled yet: stored by the
    /// server alone, read by [`counts`](Queue::counts).
    in_batch: AtomicUsize,
}

struct QueueState<S: GenServer> {
    /// The oldest queued entry when the server has taken everything before it: a
    /// request that finds the server idle waits here, so a server that gets one message
    /// at a time (calls, a stop) never allocates a buffer. `None` means `entries` is empty.
    first: Option<Envelope<S>>,
    /// The entries after `first`, oldest first.
    entries: Vec<Envelope<S>>,
    /// The server's waker while it is parked on an empty queue.
    parked: Option<Waker>,
    closed: bool,
    /// The most entries the server found waiting when it looked (for [`Counts::peak`]):
    /// a `u32`, which fits beside `closed` at no cost in room.
    peak: u32,
}

/// A mailbox's counters, as [`Queue::counts`] reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Entries waiting now, including those the server has taken out of the queue but not
    /// yet handled.
    pub(crate) len: usize,
    /// The most entries the server found waiting at once, when it looked for its next
    /// one: counted when it takes a batch, so that a send costs nothing more.
    pub(crate) peak: usize,
}

struct Bound {
    capacity: usize,
    queued: AtomicUsize,
    /// How many senders wait for room: a sender that does not wait leaves them the room
    /// that opens, so that a flood of casts cannot starve a call.
    waiting: AtomicUsize,
    room: Notify,
    overflow: Overflow,
    tally: Tally,
    /// The server, named in the overflow warnings.
    server: ServerId,
}

/// Who is pushing, which decides whether it needs room in a bounded mailbox.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// A sender that does not wait: it needs room left over by the waiting senders.
    Hasty,
    /// A sender that waits for room (and is counted in `waiting` meanwhile).
    Patient,
    /// A signal, queued past the bound.
    Signal,
}

impl Bound {
    fn count(&self, lost: Lost) {
        self.tally.count(lost, self.server, self.overflow);
    }

    fn has_room_for(&self, sender: Sender) -> bool {
        let queued = self.queued.load(Ordering::Acquire);
        match sender {
            Sender::Hasty => queued + self.waiting.load(Ordering::Acquire) < self.capacity,
            Sender::Patient => queued < self.capacity,
            Sender::Signal => true,
        }
    }
}

/// Counts a sender among those waiting for room while it lives.
struct Waiting<'a>(&'a Bound);

impl<'a> Waiting<'a> {
    fn new(bound: &'a Bound) -> Self {
        bound.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(bound)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S: GenServer> Queue<S> {
    pub(crate) fn new(kind: Mailbox, overflow: Overflow, server: ServerId) -> Self {
        let bound = match kind {
            Mailbox::Unbounded => None,
            Mailbox::Bounded(capacity) => Some(Box::new(Bound {
                capacity: capacity.max(1),
                queued: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
                room: Notify::new(),
                overflow,
                tally: Tally::default(),
                server,
            })),
        };
        Queue {
            state: Mutex::new(QueueState {
                first: None,
                entries: Vec::new(),
                parked: None,
                closed: false,
                peak: 0,
            }),
            bound,
            in_batch: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<S>> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The mailbox's length and its peak.
    pub(crate) fn counts(&self) -> Counts {
        let state = self.lock();
        let queued = usize::from(state.first.is_some()) + state.entries.len();
        Counts { len: queued + self.in_batch.load(Ordering::Relaxed), peak: state.peak as usize }
    }

    /// Queues without waiting.
    pub(crate) fn try_send(&self, envelope: Envelope<S>) -> Result<(), SendError> {
        self.push(envelope).map(drop).map_err(|(error, _)| error)
    }

    /// Queues, waiting for room in a bounded mailbox, ahead of the senders that do not
    /// wait. A call under [`Overflow::Refuse`] does not wait: it is refused with `Full`.
    pub(crate) async fn send(&self, mut envelope: Envelope<S>) -> Result<(), SendError> {
        let Some(bound) = &self.bound else { return self.try_send(envelope) };
        if bound.overflow == Overflow::Refuse && matches!(envelope, Envelope::Msg(_)) {
            return match self.push(envelope) {
                Err((SendError::Full, _)) => {
                    bound.count(Lost::Refused);
                    Err(SendError::Full)
                }
                result => result.map(drop).map_err(|(error, _)| error),
            };
        }
        let _waiting = Waiting::new(bound);
        loop {
            // Listen before trying, so that room made between the try and the wait wakes us.
            let room = bound.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            match self.push_with(envelope, Sender::Patient) {
                Err((SendError::Full, returned)) => envelope = returned,
                result => return result.map(drop).map_err(|(error, _)| error),
            }
            room.await;
        }
    }

    /// Queues a signal (a DOWN or an exit signal) without waiting, past the bound of a
    /// bounded mailbox: signals are not messages a sender could retry. Dropped once the
    /// mailbox is closed.
    pub(crate) fn push_signal(&self, envelope: Envelope<S>) {
        let _ = self.push_with(envelope, Sender::Signal);
    }

    /// Queues without waiting; on failure, gives the entry back. `Ok(true)` when the server
    /// was parked and this woke it.
    pub(crate) fn push(&self, envelope: Envelope<S>) -> Result<bool, (SendError, Envelope<S>)> {
        self.push_with(envelope, Sender::Hasty)
    }

    fn push_with(&self, envelope: Envelope<S>, sender: Sender) -> Result<bool, (SendError, Envelope<S>)> {
        let mut state = self.lock();
        if state.closed {
            return Err((SendError::Closed, envelope));
        }
        if let Some(bound) = &self.bound {
            if !bound.has_room_for(sender) {
                return Err((SendError::Full, envelope));
            }
            bound.queued.fetch_add(1, Ordering::AcqRel);
        }
        state.append(envelope);
        Self::wake(state)
    }

    /// Wakes the server if it is parked, after unlocking; `Ok(true)` if it was.
    #[inline]
    fn wake(mut state: MutexGuard<'_, QueueState<S>>) -> Result<bool, (SendError, Envelope<S>)> {
        let parked = state.parked.take();
        drop(state);
        let woke = parked.is_some();
        if let Some(server) = parked {
            server.wake();
        }
        Ok(woke)
    }

    /// A fire-and-forget cast that found the bounded mailbox full: dropped, refused, or
    /// queued in place of the oldest queued cast, by the overflow policy; counted.
    #[cold]
    pub(crate) fn overflow(&self, envelope: Envelope<S>) {
        let Some(bound) = &self.bound else { return };
        let lost = match bound.overflow {
            Overflow::Refuse => Lost::Refused,
            Overflow::DropNewest => Lost::Dropped,
            Overflow::DropOldest => {
                let mut state = self.lock();
                if state.closed {
                    return;
                }
                let oldest = if bound.has_room_for(Sender::Hasty) {
                    // The server made room since the first try.
                    bound.queued.fetch_add(1, Ordering::AcqRel);
                    None
                } else {
                    let Some(oldest) = state.take_oldest_cast() else {
                        drop(state);
                        return bound.count(Lost::Dropped);
                    };
                    Some(oldest)
                };
                // The new cast takes the room of the oldest one, which is dropped after
                // the lock: a dropped entry may run arbitrary `Drop` code.
                state.append(envelope);
                let _ = Self::wake(state);
                if oldest.is_none() {
                    return;
                }
                Lost::Dropped
            }
        };
        bound.count(lost);
    }

    pub(crate) fn overflow_counts(&self) -> OverflowCounts {
        self.bound.as_ref().map_or_else(OverflowCounts::default, |bound| bound.tally.counts())
    }
}

impl<S: GenServer> QueueState<S> {
    fn append(&mut self, envelope: Envelope<S>) {
        if self.first.is_none() {
            self.first = Some(envelope);
        } else {
            self.entries.push(envelope);
        }
    }

    /// Takes the oldest queued cast out of the queue, if there is one.
    fn take_oldest_cast(&mut self) -> Option<Envelope<S>> {
        if matches!(self.first, Some(Envelope::Cast(_))) {
            let oldest = self.first.take();
            if !self.entries.is_empty() {
                self.first = Some(self.entries.remove(0));
            }
            return oldest;
        }
        let at = self.entries.iter().position(|entry| matches!(entry, Envelope::Cast(_)))?;
        Some(self.entries.remove(at))
    }
}

/// The receiving side, owned by the server task: the batch taken from the shared
/// [`Queue`], which each method is given (the task reaches it through its own handle,
/// so the receiver keeps no pointer of its own).
pub(crate) struct Receiver<S: GenServer> {
    /// The entries taken, newest first: the next one is at the end.
    batch: Vec<Envelope<S>>,
}

/// Counts an entry the server takes out of a bounded mailbox, making room for a waiting
/// sender.
fn count_out<S: GenServer>(queue: &Queue<S>) {
    if let Some(bound) = &queue.bound {
        bound.queued.fetch_sub(1, Ordering::AcqRel);
        bound.room.notify_one();
    }
}

/// `entry`, counted out of a bounded mailbox. The locked take returns through this
/// rather than counting out first as the batch does: that order measured 10 ns slower per
/// call (C's p50 on 2 workers, interleaved runs), because LLVM then copies the entry in
/// a way the CPU stalls on. Check such changes with `perf annotate` and an A/B run.
fn taken<S: GenServer>(queue: &Queue<S>, entry: Envelope<S>) -> Envelope<S> {
    count_out(queue);
    entry
}

/// Counts a take after which the server holds `waiting` entries.
fn note_taken<S: GenServer>(state: &mut QueueState<S>, waiting: usize) {
    state.peak = state.peak.max(u32::try_from(waiting).unwrap_or(u32::MAX));
}

impl<S: GenServer> Receiver<S> {
    pub(crate) fn new() -> Self {
        Receiver { batch: Vec::new() }
    }

    /// The next entry if there is one; otherwise registers to be woken by the next send.
    /// `Ready(None)` once the mailbox is closed.
    #[inline]
    pub(crate) fn poll_recv(&mut self, queue: &Queue<S>, cx: &mut Context<'_>) -> Poll<Option<Envelope<S>>> {
        if let Some(next) = self.next_in_batch(queue) {
            return Poll::Ready(Some(next));
        }
        self.poll_queue(queue, cx)
    }

    /// Takes what the queue holds, or registers to be woken by the next send.
    #[inline(never)]
    fn poll_queue(&mut self, queue: &Queue<S>, cx: &mut Context<'_>) -> Poll<Option<Envelope<S>>> {
        {
            let mut state = queue.lock();
            let Some(first) = state.first.take() else {
                if state.closed {
                    return Poll::Ready(None);
                }
                match &mut state.parked {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    parked => *parked = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            };
            // Take the whole queue: the rest of it is handled without the lock.
            std::mem::swap(&mut state.entries, &mut self.batch);
            note_taken(&mut state, 1 + self.batch.len());
            drop(state);
            queue.in_batch.store(self.batch.len(), Ordering::Relaxed);
            self.batch.reverse();
            Poll::Ready(Some(taken(queue, first)))
        }
    }

    /// The next entry of the batch already taken, without waiting or locking.
    fn next_in_batch(&mut self, queue: &Queue<S>) -> Option<Envelope<S>> {
        if self.batch.is_empty() {
            return None;
        }
        // Counted out before it is popped, so that the entry goes straight to the caller
        // instead of waiting in memory across the notify (a copy the CPU then stalls on).
        count_out(queue);
        let next = self.batch.pop();
        queue.in_batch.store(self.batch.len(), Ordering::Relaxed);
        next
    }

    /// The oldest system request or stop, leaving every other entry where it is: what a
    /// suspended server reads (OTP's selective receive of system messages). Registers to
    /// be woken by the next send when there is none; `Ready(None)` once the mailbox is
    /// closed.
    pub(crate) fn poll_system(
        &mut self,
        queue: &Queue<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Envelope<S>>> {
        loop {
            // The batch is newest first: the oldest match is the last one.
            if let Some(position) = self.batch.iter().rposition(Envelope::is_system) {
                count_out(queue);
                let entry = self.batch.remove(position);
                queue.in_batch.store(self.batch.len(), Ordering::Relaxed);
                return Poll::Ready(Some(entry));
            }
            let mut state = queue.lock();
            let Some(first) = state.first.take() else {
                if state.closed {
                    return Poll::Ready(None);
                }
                state.parked = Some(cx.waker().clone());
                return Poll::Pending;
            };
            // The newer entries go before the batch, newest first.
            let mut newer = std::mem::take(&mut state.entries);
            note_taken(&mut state, 1 + newer.len() + self.batch.len());
            drop(state);
            newer.reverse();
            newer.push(first);
            newer.append(&mut self.batch);
            self.batch = newer;
            queue.in_batch.store(self.batch.len(), Ordering::Relaxed);
        }
    }

    /// Refuses further sends and drops everything still queued. Dropping a queued call
    /// drops its [`ReplyTo`](crate::ReplyTo), which tells the caller the server is gone.
    pub(crate) fn close_and_drain(&mut self, queue: &Queue<S>) {
        let queued = {
            let mut state = queue.lock();
            state.closed = true;
            state.parked = None;
            (state.first.take(), std::mem::take(&mut state.entries))
        };
        // Dropped outside the lock: a dropped entry may run arbitrary `Drop` code.
        drop(queued);
        self.batch.clear();
        queue.in_batch.store(0, Ordering::Relaxed);
        if let Some(bound) = &queue.bound {
            bound.room.notify_waiters();
        }
    }
}
