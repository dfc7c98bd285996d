//! Calling many servers at once (OTP: `GenServer.multi_call/4`): one call to each member
//! of a process group or of a Registry key, all under one timeout, and each member's
//! answer or error.
//!
//! OTP's `multi_call` calls a registered name on several nodes and returns the replies
//! and the nodes that gave none; here the members are servers of one program, so the
//! result is each member with its own `Result`. Casting to many (OTP's `abcast`) needs no
//! function of its own: [`groups::cast`](crate::groups::cast) and
//! [`Registry::dispatch`](crate::Registry::dispatch) do it.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use crate::{Call, GenServer};

/// Calls every member at once and waits for all their answers, each within `timeout`
/// from now: a member that does not answer in time gives [`CallError::Timeout`](crate::CallError::Timeout), one
/// that is not running [`CallError::NoServer`](crate::CallError::NoServer), one that exits meanwhile
/// [`CallError::Exited`](crate::CallError::Exited). Returns each member with its answer, in the members' order,
/// after at most `timeout` (OTP: `GenServer.multi_call/4`).
///
/// `call` makes one member's call, usually a method of its client handle. The members
/// are any handles: [`groups::members_of`](crate::groups::members_of), the typed
/// entries of a Registry key ([`Registry::lookup`](crate::Registry::lookup) then
/// [`ProcessRef::downcast`](crate::ProcessRef::downcast)), or a list of your own.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{groups, multi_call};
///
/// pub struct Shard {
///     keys: u32,
/// }
///
/// #[genserver]
/// impl Shard {
///     #[call]
///     fn key_count(&self) -> u32 {
///         self.keys
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// for keys in [3, 4] {
///     let shard = Shard::start(Shard { keys }).await?;
///     groups::join("shards", shard.as_ref());
/// }
/// let shards = groups::members_of::<Shard>("shards");
/// let answers = multi_call(shards, Duration::from_secs(1), |shard| shard.key_count()).await;
/// let total: u32 = answers.into_iter().map(|(_, answer)| answer.unwrap_or(0)).sum();
/// assert_eq!(total, 7);
/// # Ok(())
/// # }
/// ```
pub async fn multi_call<H, C: TimedCall>(
    members: impl IntoIterator<Item = H>,
    timeout: Duration,
    mut call: impl FnMut(&H) -> C,
) -> Vec<(H, C::Output)> {
    // Every call is made now, before any is awaited: their timeouts run together.
    let mut calls: Vec<Pending<H, C>> = members
        .into_iter()
        .map(|member| {
            let future = call(&member).with_timeout(timeout).into_future();
            Pending { member, state: State::Waiting(future) }
        })
        .collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for pending in &mut calls {
            if let State::Waiting(future) = &mut pending.state {
                match Pin::new(future).poll(cx) {
                    Poll::Ready(answer) => pending.state = State::Answered(answer),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    calls
        .into_iter()
        .map(|pending| match pending.state {
            State::Answered(answer) => (pending.member, answer),
            State::Waiting(_) => unreachable!("every call has answered once the wait ends"),
        })
        .collect()
}

/// A call [`multi_call`] can make: a [`Call`], or a cluster client's call (feature
/// `cluster`), which can be given a timeout and awaited.
pub trait TimedCall: IntoFuture<IntoFuture: Unpin> + Sized {
    /// The same call, waiting at most `timeout` for its reply.
    fn with_timeout(self, timeout: Duration) -> Self;
}

impl<S: GenServer, R: Send + 'static> TimedCall for Call<S, R> {
    fn with_timeout(self, timeout: Duration) -> Self {
        self.timeout(timeout)
    }
}

/// One member's call and, once it has one, its answer.
struct Pending<H, C: IntoFuture> {
    member: H,
    state: State<C>,
}

enum State<C: IntoFuture> {
    Waiting(C::IntoFuture),
    Answered(C::Output),
}
