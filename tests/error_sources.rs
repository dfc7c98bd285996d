//! Errors chain as a Rust user expects: each error caused by a server's exit gives the
//! `ExitReason` as its `source()`, the reason gives a user's error inside
//! `ExitReason::Error` as its own, and each message says only its own part, so walking
//! the chain shows every cause once and `downcast_ref` finds the user's error.

use std::error::Error;
use std::fmt;

use genserver_runtime::ChildStartError;
use genserver_runtime::prelude::*;

#[derive(Debug)]
struct DiskFull;

impl fmt::Display for DiskFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("disk full")
    }
}

impl Error for DiskFull {}

pub struct Writer;

#[genserver]
impl Writer {
    #[init]
    fn init(fail: bool) -> Result<Self, DiskFull> {
        if fail { Err(DiskFull) } else { Ok(Writer) }
    }

    /// Stops the server with the user's error.
    #[cast]
    fn fail(&mut self) -> NoReply {
        NoReply::stop(ExitReason::error(DiskFull))
    }

    /// Keeps the caller waiting, then stops with the user's error.
    #[call]
    fn write_later(&mut self, from: ReplyTo<()>) -> NoReply {
        drop(from);
        NoReply::stop(ExitReason::error(DiskFull))
    }
}

/// Every error of the chain that starts at `error`, outermost first.
fn causes<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}

/// Every message of the chain that starts at `error`, outermost first.
fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    causes(error).map(ToString::to_string).collect()
}

/// Whether a `DiskFull` is somewhere in the chain of `error`.
fn finds_disk_full(error: &(dyn Error + 'static)) -> bool {
    causes(error).any(|error| error.is::<DiskFull>())
}

#[test]
fn an_exit_reason_is_an_error_whose_source_is_the_users_error() {
    let reason: Box<dyn Error + Send + Sync> = Box::new(ExitReason::error(DiskFull));
    assert_eq!(chain(&*reason), ["error: disk full", "disk full"]);
    assert!(finds_disk_full(&*reason));
    assert!(ExitReason::Normal.source().is_none());
    assert!(ExitReason::Panic("boom".into()).source().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_call_that_saw_its_server_exit_chains_to_the_exit_reason_and_its_error() {
    let writer = Writer::start(false).await.expect("starts");
    let error = writer.write_later().await.expect_err("the server exits");
    assert_eq!(error, CallError::Exited(ExitReason::error(DiskFull)));
    assert_eq!(chain(&error), ["server exited during the call", "error: disk full", "disk full"]);
    assert!(finds_disk_full(&error));
}

#[tokio::test(start_paused = true)]
async fn a_failed_init_chains_to_the_users_error() {
    let error = Writer::start(true).await.expect_err("init fails");
    assert!(matches!(&error, StartError::Stopped(_)), "{error:?}");
    assert_eq!(chain(&error), ["Writer stopped in init", "error: disk full", "disk full"]);
    assert!(finds_disk_full(&error));
}

#[tokio::test(start_paused = true)]
async fn a_stop_that_ended_another_way_chains_to_the_reason_it_ended_with() {
    let writer = Writer::start(false).await.expect("starts");
    // The stop request is queued behind the cast, which stops the server first.
    writer.fail();
    let error = writer.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect_err("another reason");
    assert_eq!(error, StopError::ExitedWith(ExitReason::error(DiskFull)));
    assert_eq!(chain(&error), ["server stopped with another reason", "error: disk full", "disk full"]);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_failed_to_start_chains_through_the_supervisor_error() {
    let started =
        Supervisor::builder().child(ChildSpec::new("writer", || Writer::start_link(true))).start().await;
    let error = started.expect_err("the child fails");
    assert_eq!(
        chain(&error),
        ["failed to start child \"writer\"", "Writer stopped in init", "error: disk full", "disk full"]
    );
    assert!(finds_disk_full(&error));
    let SupervisorError::FailedToStartChild { reason, .. } = &error else { panic!("{error:?}") };
    assert!(matches!(reason, ChildStartError::Failed(_)));
}
