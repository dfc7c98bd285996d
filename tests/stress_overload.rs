//! Overload floods: eight producers flood a slow server with a bounded mailbox on a
//! multi-thread runtime, under each [`Overflow`] policy and with `cast_when_room`. Every
//! cast is handled or counted as dropped or refused, exactly; each producer's casts are
//! handled in the order it sent them; and calls made during the flood get through
//! instead of hanging behind it.
//!
//! CI sends 2,000 casts per producer; `GENSERVER_STRESS=full` sends 200,000.

mod common;
use common::stress::{size, within};

use genserver_runtime::prelude::*;
use genserver_runtime::{Mailbox, Overflow, OverflowCounts};

const PRODUCERS: u32 = 8;
const CAPACITY: usize = 64;

/// Handles each cast slowly (it yields once), checking each producer's order.
pub struct Sink {
    handled: u64,
    /// The next sequence number each producer may send: a lower one is out of order.
    next: Vec<u64>,
    out_of_order: u64,
}

#[genserver]
impl Sink {
    #[cast]
    async fn put(&mut self, producer: u32, seq: u64) {
        tokio::task::yield_now().await;
        let next = &mut self.next[producer as usize];
        if seq < *next {
            self.out_of_order += 1;
        }
        *next = seq + 1;
        self.handled += 1;
    }

    /// How many casts it has handled, and how many came out of their sender's order.
    #[call]
    fn tally(&self) -> (u64, u64) {
        (self.handled, self.out_of_order)
    }
}

/// How a producer sends.
#[derive(Clone, Copy, Debug)]
enum Send {
    FireAndForget,
    WhenRoom,
}

struct Flood {
    sent: u64,
    /// The calls refused under `Refuse`, which its count of refusals includes.
    refused_calls: u64,
    handled: u64,
    out_of_order: u64,
    lost: OverflowCounts,
}

/// Floods a new sink under `overflow`, with a caller calling it all the while; returns
/// what happened once every producer is done and the sink has handled what it queued.
async fn flood(overflow: Overflow, send: Send) -> Flood {
    let each = size(2_000, 200_000);
    let sink = Sink::builder()
        .mailbox(Mailbox::Bounded(CAPACITY))
        .overflow(overflow)
        .start(Sink { handled: 0, next: vec![0; PRODUCERS as usize], out_of_order: 0 })
        .await
        .expect("starts");
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let sink = sink.clone();
            tokio::spawn(async move {
                for seq in 0..each {
                    match send {
                        Send::FireAndForget => sink.put(producer, seq),
                        Send::WhenRoom => sink
                            .as_ref()
                            .cast_when_room(SinkMsg::Put { producer, seq })
                            .await
                            .expect("queued"),
                    }
                    if seq % 256 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Calls during the flood: under a drop policy each waits for room and gets in ahead
    // of the casts; under `Refuse` each is answered or refused at once.
    let caller = {
        let sink = sink.clone();
        tokio::spawn(async move {
            let mut refused = 0;
            for _ in 0..100 {
                match sink.tally().await {
                    Ok(_) => {}
                    Err(CallError::Full) if overflow == Overflow::Refuse => refused += 1,
                    other => panic!("a call during the flood under {overflow:?} ended with {other:?}"),
                }
                tokio::task::yield_now().await;
            }
            refused
        })
    };
    for producer in producers {
        producer.await.expect("a producer");
    }
    let mut refused_calls = caller.await.expect("the caller");
    // Queued after every cast: answered once they are all handled.
    let (handled, out_of_order) = loop {
        match sink.tally().await {
            Err(CallError::Full) => {
                refused_calls += 1;
                tokio::task::yield_now().await;
            }
            tally => break tally.expect("answers"),
        }
    };
    let (sent, lost) = (each * u64::from(PRODUCERS), sink.as_ref().overflow_counts());
    Flood { sent, refused_calls, handled, out_of_order, lost }
}

async fn flood_within_deadline(overflow: Overflow, send: Send) -> Flood {
    within(Duration::from_secs(600), flood(overflow, send)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_under_drop_newest_handles_or_drops_every_cast_in_sender_order() {
    let flood = flood_within_deadline(Overflow::DropNewest, Send::FireAndForget).await;
    assert_eq!(flood.handled + flood.lost.dropped, flood.sent);
    assert!(flood.lost.dropped > 0, "the flood filled the mailbox");
    assert_eq!((flood.lost.refused, flood.refused_calls), (0, 0));
    assert_eq!(flood.out_of_order, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_under_drop_oldest_handles_or_drops_every_cast_in_sender_order() {
    let flood = flood_within_deadline(Overflow::DropOldest, Send::FireAndForget).await;
    assert_eq!(flood.handled + flood.lost.dropped, flood.sent);
    assert!(flood.lost.dropped > 0, "the flood filled the mailbox");
    assert_eq!((flood.lost.refused, flood.refused_calls), (0, 0));
    assert_eq!(flood.out_of_order, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_under_refuse_handles_or_refuses_every_cast_in_sender_order() {
    let flood = flood_within_deadline(Overflow::Refuse, Send::FireAndForget).await;
    assert_eq!(flood.lost.dropped, 0);
    assert_eq!(flood.handled + flood.lost.refused - flood.refused_calls, flood.sent);
    assert!(flood.lost.refused > flood.refused_calls, "the flood filled the mailbox");
    assert_eq!(flood.out_of_order, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_through_cast_when_room_loses_nothing() {
    let flood = flood_within_deadline(Overflow::DropNewest, Send::WhenRoom).await;
    assert_eq!(flood.handled, flood.sent);
    assert_eq!(flood.lost, OverflowCounts::default());
    assert_eq!(flood.out_of_order, 0);
}
