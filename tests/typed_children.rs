//! From an untyped handle back to a callable one: `ProcessRef::downcast` is checked (the
//! right type gives the client handle, any other gives `None`), and a supervisor's
//! `start_child` with a typed child spec (every generated `child_spec`) returns the
//! server's client handle, for a static and a dynamic supervisor alike.

use genserver_runtime::prelude::*;
use genserver_runtime::{DynamicSupervisor, TypedChildSpec};

#[derive(Clone)]
pub struct Counter {
    count: u64,
}

#[genserver]
impl Counter {
    #[call]
    fn bump(&mut self) -> u64 {
        self.count += 1;
        self.count
    }
}

#[derive(Clone)]
pub struct Echo;

#[genserver]
impl Echo {
    #[call]
    fn echo(&self, text: String) -> String {
        text
    }
}

#[tokio::test(start_paused = true)]
async fn downcast_gives_the_client_handle_of_the_right_type_only() {
    let counter = Counter::start(Counter { count: 0 }).await.expect("starts");
    let untyped = counter.to_ref();
    assert!(untyped.downcast::<Echo>().is_none());
    let typed = untyped.downcast::<Counter>().expect("it is a Counter");
    assert_eq!(typed.id(), counter.id());
    assert_eq!(typed.bump().await, Ok(1));
    assert_eq!(counter.bump().await, Ok(2), "both handles reach the one server");
}

#[tokio::test(start_paused = true)]
async fn downcast_of_an_exited_server_gives_a_handle_that_reports_no_server() {
    let counter = Counter::start(Counter { count: 0 }).await.expect("starts");
    let untyped = counter.to_ref();
    counter.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    let typed = untyped.downcast::<Counter>().expect("still a Counter");
    assert_eq!(typed.bump().await, Err(CallError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_child_from_a_generated_spec_comes_back_callable() {
    let supervisor = DynamicSupervisor::builder().start().await.expect("starts");
    let spec: TypedChildSpec<Counter> = Counter::child_spec(Counter { count: 10 });
    let counter: CounterRef = supervisor.start_child(spec.clone()).await.expect("started").expect("running");
    assert_eq!(counter.bump().await, Ok(11));
    let second = supervisor.start_child(spec).await.expect("started").expect("running");
    assert_ne!(second.id(), counter.id());
    assert_eq!(second.bump().await, Ok(11), "each child starts from the spec's arguments");
}

#[tokio::test(start_paused = true)]
async fn a_static_supervisor_start_child_with_a_typed_spec_returns_the_client_handle() {
    let supervisor = Supervisor::builder().start().await.expect("starts");
    let echo = supervisor
        .start_child(Echo::child_spec(Echo).with_id("echo").restart(Restart::Transient))
        .await
        .expect("started")
        .expect("running");
    assert_eq!(echo.echo("hi".into()).await.as_deref(), Ok("hi"));
    let children = supervisor.which_children().await.expect("listed");
    assert_eq!(children.len(), 1);
    assert_eq!((&*children[0].id, children[0].restart), ("echo", Restart::Transient));
    let listed = children[0].process.as_ref().expect("running");
    assert_eq!(listed.downcast::<Echo>().map(|listed| listed.id()), Some(echo.id()));
}

#[tokio::test(start_paused = true)]
async fn an_untyped_spec_still_gives_a_process_ref() {
    let supervisor = DynamicSupervisor::builder().start().await.expect("starts");
    let spec: ChildSpec = Echo::child_spec(Echo).into();
    let process: ProcessRef = supervisor.start_child(spec).await.expect("started").expect("running");
    assert!(process.downcast::<Counter>().is_none());
    assert!(process.downcast::<Echo>().is_some());
}

#[tokio::test(start_paused = true)]
async fn children_found_by_which_children_can_be_called_after_a_restart() {
    let supervisor = Supervisor::builder()
        .child(Counter::child_spec(Counter { count: 0 }))
        .child(Echo::child_spec(Echo))
        .start()
        .await
        .expect("starts");
    let find = |children: Vec<genserver_runtime::ChildInfo>| {
        children.into_iter().find_map(|child| child.process?.downcast::<Counter>()).expect("a Counter child")
    };
    let counter = find(supervisor.which_children().await.expect("listed"));
    assert_eq!(counter.bump().await, Ok(1));
    counter.kill();
    counter.exited().await;
    let restarted = find(supervisor.which_children().await.expect("listed"));
    assert_ne!(restarted.id(), counter.id());
    assert_eq!(restarted.bump().await, Ok(1), "the restarted child starts afresh");
}
