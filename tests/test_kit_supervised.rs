//! Servers a kit test owns: stopped when the test ends, whether it passed or failed, and
//! reported when they crashed; and the captured logs of one test.

use std::sync::{Arc, Mutex};

mod common;
use common::failure_of;

use genserver_runtime::prelude::*;
use genserver_runtime::testing;

/// Logs its `terminate` into a list shared with the test; its `terminate` can hang.
pub struct Tracked {
    name: &'static str,
    terminated: Arc<Mutex<Vec<String>>>,
    hang_in_terminate: bool,
}

#[genserver]
impl Tracked {
    #[cast]
    fn crash(&mut self) {
        panic!("{} broke", self.name);
    }

    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason) {
        self.terminated.lock().unwrap().push(format!("{} ({reason})", self.name));
        if self.hang_in_terminate {
            std::future::pending::<()>().await;
        }
    }
}

fn tracked(name: &'static str, terminated: &Arc<Mutex<Vec<String>>>) -> Tracked {
    Tracked { name, terminated: terminated.clone(), hang_in_terminate: false }
}

#[test]
fn supervised_servers_stop_with_shutdown_in_reverse_order_when_the_test_ends() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let (first, second) = testing::run(async {
        let first = testing::supervise(Tracked::start(tracked("first", &terminated)).await.unwrap());
        let second = testing::supervise(Tracked::start(tracked("second", &terminated)).await.unwrap());
        (first, second)
    });
    assert_eq!(*terminated.lock().unwrap(), ["second (shutdown)", "first (shutdown)"]);
    assert_eq!(
        (first.exit_reason(), second.exit_reason()),
        (Some(ExitReason::Shutdown), Some(ExitReason::Shutdown))
    );
}

#[test]
fn supervised_servers_stop_when_the_test_fails_and_the_failure_is_kept() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let message = failure_of(async {
        testing::supervise(Tracked::start(tracked("only", &terminated)).await.unwrap());
        panic!("the assertion under test failed");
    });
    assert_eq!(message, "the assertion under test failed");
    assert_eq!(*terminated.lock().unwrap(), ["only (shutdown)"]);
}

#[test]
fn a_supervised_server_that_crashed_fails_the_test_with_its_reason() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let seen = Mutex::new(None);
    let message = failure_of(async {
        let server = testing::supervise(Tracked::start(tracked("fragile", &terminated)).await.unwrap());
        *seen.lock().unwrap() = Some(server.id());
        server.crash();
        server.exited().await;
    });
    let id = seen.into_inner().unwrap().expect("the test ran");
    assert_eq!(
        message,
        format!(
            "servers the test supervised crashed:\n  server {id}: exited with `panicked: fragile broke` during the test"
        )
    );
}

#[testing::test]
async fn allow_crash_lets_a_test_crash_a_supervised_server_on_purpose() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let server = testing::supervise(Tracked::start(tracked("fragile", &terminated)).await.unwrap());
    testing::allow_crash(&server);
    server.crash();
    assert_eq!(server.exited().await, ExitReason::Panic("fragile broke".into()));
}

#[test]
fn a_supervised_server_whose_terminate_hangs_is_killed_after_the_stop_timeout_and_reported() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let seen = Mutex::new(None);
    let message = failure_of(async {
        let stubborn = Tracked { hang_in_terminate: true, ..tracked("stubborn", &terminated) };
        let server = testing::supervise(Tracked::builder().name("stubborn").start(stubborn).await.unwrap());
        *seen.lock().unwrap() = Some(server.clone());
    });
    let server = seen.into_inner().unwrap().expect("the test ran");
    assert_eq!(server.exit_reason(), Some(ExitReason::Killed));
    assert_eq!(
        message,
        format!(
            "servers the test supervised crashed:\n  server {} (\"stubborn\"): did not stop within 5s at the end of \
             the test, and was killed",
            server.id()
        )
    );
}

#[test]
#[should_panic(expected = "supervise needs the test kit's runtime")]
fn supervise_outside_the_kit_says_what_it_needs() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let terminated = Arc::new(Mutex::new(Vec::new()));
        testing::supervise(Tracked::start(tracked("lost", &terminated)).await.unwrap());
    });
}

#[testing::test]
async fn logs_hold_the_crash_report_of_this_test_only() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let server = Tracked::builder().name("reporter").start(tracked("reporter", &terminated)).await.unwrap();
    server.crash();
    server.exited().await;
    let reports = testing::logs().crash_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].fields.get("reason"), Some("panicked: reporter broke"));
    assert_eq!(reports[0].fields.get("last_message"), Some("crash"));
    assert_eq!(reports[0].span_field("name"), Some("reporter"));
    testing::logs().clear();
    assert!(testing::logs().events().is_empty());
}

#[testing::test]
async fn logs_hold_the_supervisor_reports_of_a_restart() {
    let terminated = Arc::new(Mutex::new(Vec::new()));
    let spec = {
        let terminated = terminated.clone();
        ChildSpec::new("worker", move || Tracked::start_link(tracked("worker", &terminated)))
    };
    let supervisor = testing::supervise(Supervisor::builder().child(spec).start().await.unwrap());
    let child = supervisor.which_children().await.unwrap()[0].process.clone().expect("running");
    child.kill();
    child.exited().await;
    testing::advance_until_idle().await;
    let reports = testing::logs().supervisor_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].fields.get("child"), Some("worker"));
    assert_eq!(reports[0].fields.get("reason"), Some("killed"));
}
