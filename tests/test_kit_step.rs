//! White-box tests with a `Stepper`: one message at a time, by the server loop's rules,
//! with the state readable and changeable between steps.

use genserver_runtime::prelude::*;
use genserver_runtime::testing::{self, Probe, Step, Stepper};
use genserver_runtime::{assert_down, assert_receive};

/// A job queue: casts queue jobs, `run_next` runs one and continues with the next.
pub struct Jobs {
    queued: Vec<String>,
    done: Vec<String>,
}

#[genserver]
impl Jobs {
    #[cast]
    fn push(&mut self, job: String) {
        self.queued.push(job);
    }

    #[cast]
    fn run_all(&mut self) -> NoReply<JobsContinue> {
        NoReply::continue_with(JobsContinue::RunOne {})
    }

    #[handle_continue]
    fn run_one(&mut self) -> NoReply<JobsContinue> {
        match self.queued.pop() {
            Some(job) => {
                self.done.push(job);
                NoReply::continue_with(JobsContinue::RunOne {})
            }
            None => NoReply::timeout(Duration::from_secs(60)),
        }
    }

    #[call]
    fn done(&self) -> Vec<String> {
        self.done.clone()
    }

    #[cast]
    fn fail(&mut self) {
        panic!("job exploded");
    }

    #[timeout]
    fn idle(&mut self) -> NoReply {
        NoReply::stop(ExitReason::shutdown_with("idle"))
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        self.done.push(format!("terminated: {reason}"));
    }
}

fn jobs() -> Jobs {
    Jobs { queued: Vec::new(), done: Vec::new() }
}

#[testing::test]
async fn a_continuation_runs_before_the_next_queued_message() {
    let mut jobs = Stepper::<Jobs>::init(jobs()).await.unwrap();
    let client = jobs.client();
    client.push("a".into());
    client.run_all();
    client.push("b".into());
    assert_eq!(jobs.step().await, Step::Message("push"));
    assert_eq!(jobs.step().await, Step::Message("run_all"));
    assert_eq!(jobs.step().await, Step::Continue);
    assert_eq!(jobs.state().done, ["a"]);
    assert_eq!(jobs.step().await, Step::Continue, "the queue is empty: this one asks for a timeout");
    assert_eq!(jobs.idle_timeout(), Some(Duration::from_secs(60)));
    assert_eq!(jobs.step().await, Step::Message("push"));
    assert_eq!(jobs.idle_timeout(), None, "a message cancels the idle timeout");
    assert_eq!(jobs.step().await, Step::Idle);
    assert_eq!(jobs.state().queued, ["b"]);
}

#[testing::test]
async fn state_mut_changes_what_the_next_handler_sees() {
    let mut jobs = Stepper::<Jobs>::init(jobs()).await.unwrap();
    jobs.state_mut().done.push("seeded".into());
    let client = jobs.client();
    let (done, step) = tokio::join!(client.done(), jobs.step());
    assert_eq!((done.unwrap(), step), (vec!["seeded".to_string()], Step::Message("done")));
}

#[testing::test]
async fn the_timeout_handler_can_stop_the_server_and_terminate_runs() {
    let mut jobs = Stepper::<Jobs>::init(jobs()).await.unwrap();
    let probe = Probe::<()>::start().await;
    let client = jobs.client();
    probe.monitor(&client).await;
    let reason = ExitReason::shutdown_with("idle");
    assert_eq!(jobs.step_timeout().await, Step::Stopped(reason.clone()));
    assert_eq!(client.exit_reason(), Some(reason.clone()));
    assert_down!(probe, client.id(), reason);
    assert_eq!(jobs.step().await, Step::Idle);
}

#[testing::test]
async fn a_panicking_handler_stops_the_stepped_server_with_the_panic() {
    let mut jobs = Stepper::<Jobs>::init(jobs()).await.unwrap();
    let client = jobs.client();
    client.fail();
    let reason = ExitReason::Panic("job exploded".into());
    assert_eq!(jobs.step().await, Step::Stopped(reason.clone()));
    assert_eq!(client.done().await, Err(CallError::NoServer));
}

#[testing::test]
async fn a_queued_stop_runs_terminate_when_stepped() {
    let mut jobs = Stepper::<Jobs>::init(jobs()).await.unwrap();
    let client = jobs.client();
    let probe = Probe::<String>::start().await;
    let sender = probe.sender();
    let stopper = tokio::spawn(async move {
        let stopped = client.stop(ExitReason::Shutdown, Duration::from_secs(1)).await;
        sender(format!("{stopped:?}"));
    });
    testing::advance_until_idle().await;
    assert_eq!(jobs.step().await, Step::Stopped(ExitReason::Shutdown));
    assert_receive!(probe, stopped if stopped == "Ok(())");
    stopper.await.unwrap();
}

#[testing::test]
async fn dropping_a_stepper_ends_its_server_as_killed() {
    let jobs = Stepper::<Jobs>::init(jobs()).await.unwrap();
    let client = jobs.client();
    drop(jobs);
    assert_eq!(client.exit_reason(), Some(ExitReason::Killed));
}
