//! Process groups: join, leave, members, the automatic leave on exit, and a cast to every
//! member. Group names are global, so every test uses its own.
//!
//! Every wait is on an event (a reply, an exit); no test sleeps.

use genserver_runtime::groups;
use genserver_runtime::prelude::*;

/// A member that counts the pings it got.
pub struct Member {
    pings: u32,
}

#[genserver]
impl Member {
    /// One more ping.
    #[cast]
    fn ping(&mut self) {
        self.pings += 1;
    }

    /// How many pings so far.
    #[call]
    fn pings(&self) -> u32 {
        self.pings
    }
}

/// A server of another type.
pub struct Other;

#[genserver]
impl Other {}

async fn member() -> MemberRef {
    Member::start(Member { pings: 0 }).await.expect("started")
}

fn ids(members: Vec<ProcessRef>) -> Vec<ServerId> {
    members.iter().map(|member| member.id()).collect()
}

#[tokio::test(start_paused = true)]
async fn join_leave_and_members_in_join_order() {
    let (a, b) = (member().await, member().await);
    assert!(groups::members("jl").is_empty());
    assert!(groups::join("jl", a.as_ref()));
    assert!(groups::join("jl", b.as_ref()));
    assert!(groups::join("jl", a.as_ref()));
    assert_eq!(ids(groups::members("jl")), [a.id(), b.id(), a.id()], "one entry per join");
    assert!(groups::leave("jl", &a));
    assert_eq!(ids(groups::members("jl")), [b.id(), a.id()]);
    assert!(groups::leave("jl", &a));
    assert!(!groups::leave("jl", &a), "no join left");
    assert_eq!(ids(groups::members("jl")), [b.id()]);
}

#[tokio::test(start_paused = true)]
async fn a_member_leaves_every_group_when_it_exits() {
    let (a, b) = (member().await, member().await);
    groups::join("exit-1", a.as_ref());
    groups::join("exit-2", a.as_ref());
    groups::join("exit-2", b.as_ref());
    a.kill();
    a.exited().await;
    assert!(groups::members("exit-1").is_empty());
    assert_eq!(ids(groups::members("exit-2")), [b.id()]);
    assert!(!groups::join("exit-1", a.as_ref()), "an exited server cannot join");
    assert!(groups::members("exit-1").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_cast_reaches_every_member_of_the_type() {
    let (a, b) = (member().await, member().await);
    let other = Other::start(Other).await.expect("started");
    groups::join("cast", a.as_ref());
    groups::join("cast", b.as_ref());
    groups::join("cast", other.as_ref());
    assert_eq!(groups::members("cast").len(), 3);
    let typed: Vec<ServerId> = groups::members_of::<Member>("cast").iter().map(|m| m.id()).collect();
    assert_eq!(typed, [a.id(), b.id()]);
    assert_eq!(groups::cast::<Member>("cast", || MemberMsg::Ping {}), 2);
    assert_eq!((a.pings().await, b.pings().await), (Ok(1), Ok(1)));
}
