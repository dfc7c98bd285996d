//! `multi_call`: one call to every member of a group or a Registry key under one timeout,
//! and each member's answer or error, in the members' order. A member that is slow, gone
//! or exiting spoils only its own answer, and the whole call lasts at most one timeout.
//!
//! The clock is paused: timeouts are exact.

use genserver_runtime::prelude::*;
use genserver_runtime::{Keys, Registry, groups, multi_call};

pub struct Member {
    answer: u32,
    held: Vec<ReplyTo<u32>>,
}

#[genserver]
impl Member {
    /// Answers at once, unless the member is `silent`: then it keeps the caller waiting.
    #[call]
    fn answer(&mut self, from: ReplyTo<u32>) -> NoReply {
        if self.answer == SILENT {
            self.held.push(from);
        } else {
            from.reply(self.answer);
        }
        NoReply::ok()
    }

    /// Stops with `reason` without answering its held callers.
    #[cast]
    fn quit(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }
}

/// The answer of a member that never answers.
const SILENT: u32 = u32::MAX;

async fn member(answer: u32) -> MemberRef {
    Member::start(Member { answer, held: Vec::new() }).await.expect("starts")
}

/// Each member's id and answer.
fn by_id(answers: Vec<(MemberRef, Result<u32, CallError>)>) -> Vec<(ServerId, Result<u32, CallError>)> {
    answers.into_iter().map(|(member, answer)| (member.id(), answer)).collect()
}

#[tokio::test(start_paused = true)]
async fn every_member_of_a_group_gives_its_own_answer() {
    let members = [member(1).await, member(2).await, member(3).await];
    for member in &members {
        groups::join("multi-call-all", member.as_ref());
    }
    let answers =
        multi_call(groups::members_of::<Member>("multi-call-all"), Duration::from_secs(1), |m| m.answer())
            .await;
    let mut answers = by_id(answers);
    answers.sort_by_key(|(id, _)| *id);
    let expected: Vec<_> = members.iter().zip([1, 2, 3]).map(|(m, n)| (m.id(), Ok(n))).collect();
    assert_eq!(answers, expected);
}

#[tokio::test(start_paused = true)]
async fn silent_members_time_out_together_within_one_timeout() {
    let members = vec![member(SILENT).await, member(5).await, member(SILENT).await];
    let ids: Vec<_> = members.iter().map(|m| m.id()).collect();
    let timeout = Duration::from_millis(200);
    let started = tokio::time::Instant::now();
    let answers = by_id(multi_call(members, timeout, |m| m.answer()).await);
    assert_eq!(started.elapsed(), timeout, "one timeout for all, not one after another");
    assert_eq!(
        answers,
        [
            (ids[0], Err(CallError::Timeout(timeout))),
            (ids[1], Ok(5)),
            (ids[2], Err(CallError::Timeout(timeout)))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_gone_member_and_an_exiting_member_each_give_their_own_error() {
    let gone = member(1).await;
    gone.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    let exiting = member(SILENT).await;
    let fine = member(3).await;
    let ids = [gone.id(), exiting.id(), fine.id()];
    let calls = multi_call(vec![gone, exiting.clone(), fine], Duration::from_secs(5), |m| m.answer());
    let quit = async {
        // Queued behind the call: the member exits holding its caller.
        exiting.quit(ExitReason::shutdown_with("leaving"));
    };
    let (answers, ()) = tokio::join!(calls, quit);
    assert_eq!(
        by_id(answers),
        [
            (ids[0], Err(CallError::NoServer)),
            (ids[1], Err(CallError::Exited(ExitReason::shutdown_with("leaving")))),
            (ids[2], Ok(3)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_members_of_a_registry_key_are_called_through_their_typed_handles() {
    let registry: Registry<&'static str, ()> = Registry::new(Keys::Duplicate);
    for answer in [10, 20] {
        Member::builder()
            .via(&registry, "pool", ())
            .start(Member { answer, held: Vec::new() })
            .await
            .expect("starts");
    }
    let members =
        registry.lookup(&"pool").into_iter().filter_map(|(process, ())| process.downcast::<Member>());
    let mut answers: Vec<_> = multi_call(members, Duration::from_secs(1), |m| m.answer())
        .await
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    answers.sort_by_key(|answer| answer.clone().unwrap_or(0));
    assert_eq!(answers, [Ok(10), Ok(20)]);
}

#[tokio::test(start_paused = true)]
async fn no_members_give_no_answers_at_once() {
    let started = tokio::time::Instant::now();
    let answers = multi_call(Vec::<MemberRef>::new(), Duration::from_secs(1), |m| m.answer()).await;
    assert!(answers.is_empty());
    assert_eq!(started.elapsed(), Duration::ZERO);
}
