//! The process list: every live server with its type, name, parent and children, mailbox,
//! links and monitors, read without asking the servers; and its JSON form.

mod common;
use common::hold_in_handler;

use genserver_runtime::prelude::*;
use genserver_runtime::process_list::{self, ProcessInfo};
use tokio::sync::oneshot;

#[derive(Clone)]
pub struct Worker {
    handled: u32,
}

#[genserver]
impl Worker {
    #[cast]
    fn work(&mut self) {
        self.handled += 1;
    }

    /// Signals `entered`, then waits for `gate` before it returns.
    #[cast]
    async fn hold(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }

    #[call]
    fn handled(&self) -> u32 {
        self.handled
    }
}

fn info(id: ServerId) -> Option<ProcessInfo> {
    process_list::processes().into_iter().find(|info| info.id == id)
}

#[tokio::test]
async fn the_list_shows_a_supervision_tree_with_parents_children_and_links() {
    let supervisor = Supervisor::builder()
        .name("list-tree")
        .child(Worker::child_spec(Worker { handled: 0 }).with_id("a"))
        .child(Worker::child_spec(Worker { handled: 0 }).with_id("b"))
        .start()
        .await
        .unwrap();
    let children: Vec<ServerId> = supervisor
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|child| child.process.expect("running").id())
        .collect();
    let top = info(supervisor.id()).expect("the supervisor is listed");
    assert_eq!(top.server_type, "Supervisor");
    assert_eq!(top.name.as_deref(), Some("list-tree"));
    assert_eq!(top.parent, None);
    assert_eq!(top.children, children);
    assert_eq!(top.links, children);
    assert!(top.trap_exits);
    for child in &children {
        let child = info(*child).expect("each child is listed");
        assert_eq!(child.server_type, "Worker");
        assert_eq!(child.parent, Some(supervisor.id()));
        assert_eq!(child.links, vec![supervisor.id()]);
        assert_eq!(child.children, Vec::new());
    }
}

#[tokio::test]
async fn a_server_leaves_the_list_as_it_exits() {
    let worker = Worker::start(Worker { handled: 0 }).await.unwrap();
    assert!(info(worker.id()).is_some());
    worker.stop(ExitReason::Normal, Duration::from_secs(1)).await.unwrap();
    assert_eq!(info(worker.id()), None);
}

#[tokio::test]
async fn the_list_shows_monitors_on_both_sides() {
    let watched = Worker::start(Worker { handled: 0 }).await.unwrap();
    let monitor = watched.monitor();
    assert_eq!(info(watched.id()).unwrap().monitored_by, 1);
    drop(monitor);
    assert_eq!(info(watched.id()).unwrap().monitored_by, 0);
}

#[tokio::test]
async fn the_mailbox_length_counts_what_the_server_took_but_has_not_handled() {
    let worker = Worker::start(Worker { handled: 0 }).await.unwrap();
    // The hold and three casts queue before the server runs, so it takes all four at
    // once and then waits inside the hold with three still to handle.
    let open = hold_in_handler(|entered, gate| {
        worker.hold(entered, gate);
        for _ in 0..3 {
            worker.work();
        }
    })
    .await;
    let held = info(worker.id()).unwrap();
    assert_eq!((held.mailbox_len, held.peak_mailbox_len), (3, 4));
    worker.work();
    worker.work();
    assert_eq!(info(worker.id()).unwrap().mailbox_len, 5);
    open.send(()).unwrap();
    assert_eq!(worker.handled().await, Ok(5));
    let after = info(worker.id()).unwrap();
    assert_eq!((after.mailbox_len, after.peak_mailbox_len), (0, 4));
}
