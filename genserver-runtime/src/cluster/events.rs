//! Streams of cluster events: [`Events`], the receiving end a caller holds, and the
//! node's list of listeners that feeds every open one.
//!
//! Each stream starts with the state as it is when it is opened (an `Up` for every node
//! already known, a `Registered` for every name already claimed), then follows each
//! change, in the order the node saw them: one stream is enough to know the whole state,
//! without a window between reading it and subscribing. Streams are unbounded, as
//! membership and name changes are rare; a stream that is dropped is forgotten at the
//! next event. A stream ends once its node has stopped.

use std::fmt;

use tokio::sync::mpsc;

/// A stream of events from a node: [`NodeEvent`](super::NodeEvent)s from
/// [`Node::events`](super::Node::events), [`GlobalEvent`](super::GlobalEvent)s from
/// [`Node::global_events`](super::Node::global_events).
pub struct Events<E> {
    receiver: mpsc::UnboundedReceiver<E>,
}

impl<E> Events<E> {
    /// The next event, waiting for one; `None` once the node has stopped and every event
    /// before the stop has been read.
    pub async fn next(&mut self) -> Option<E> {
        self.receiver.recv().await
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<E> {
        self.receiver.try_recv().ok()
    }
}

impl<E> fmt::Debug for Events<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").field("queued", &self.receiver.len()).finish()
    }
}

/// The open streams of one kind of event, kept by the node under the lock of the state
/// they describe, so that a new stream's opening snapshot and the changes after it are
/// never out of step.
pub(crate) struct Listeners<E> {
    senders: Vec<mpsc::UnboundedSender<E>>,
    closed: bool,
}

impl<E: Clone> Listeners<E> {
    pub(crate) fn new() -> Self {
        Listeners { senders: Vec::new(), closed: false }
    }

    /// A new stream that starts with `snapshot`. Once closed, the stream is empty and
    /// ended.
    pub(crate) fn open(&mut self, snapshot: impl IntoIterator<Item = E>) -> Events<E> {
        let (sender, receiver) = mpsc::unbounded_channel();
        if !self.closed {
            for event in snapshot {
                let _ = sender.send(event);
            }
            self.senders.push(sender);
        }
        Events { receiver }
    }

    /// Sends `event` to every open stream, forgetting the ones that were dropped.
    pub(crate) fn send(&mut self, event: E) {
        self.senders.retain(|sender| sender.send(event.clone()).is_ok());
    }

    /// Ends every stream: each reads what was sent before, then `None`.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.senders.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_starts_with_its_snapshot_then_follows_changes() {
        let mut listeners = Listeners::new();
        let mut events = listeners.open([1, 2]);
        listeners.send(3);
        assert_eq!((events.try_next(), events.try_next(), events.try_next()), (Some(1), Some(2), Some(3)));
        assert_eq!(events.try_next(), None);
    }

    #[tokio::test]
    async fn streams_end_when_closed_and_dropped_ones_are_forgotten() {
        let mut listeners = Listeners::new();
        let dropped = listeners.open([]);
        let mut kept = listeners.open([]);
        drop(dropped);
        listeners.send(1);
        assert_eq!(listeners.senders.len(), 1);
        listeners.close();
        assert_eq!(kept.next().await, Some(1));
        assert_eq!(kept.next().await, None);
        assert_eq!(listeners.open([5]).next().await, None);
    }
}
