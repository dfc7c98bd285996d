//! Names: registering a server under a name, finding it with `whereis`, starts under a
//! taken name (no init runs), and a name that is free again before anyone can observe
//! its holder's exit.
//!
//! Names are global to the program, so every test uses its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use genserver_runtime::prelude::*;
use genserver_runtime::{whereis, whereis_id};
use tokio::sync::oneshot;

/// Makes `init` say it started, then wait for the gate.
type InitGate = Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>;

/// A server that counts how many times its `init` ran.
pub struct Named {
    generation: usize,
}

#[genserver]
impl Named {
    #[init]
    async fn init(inits: Arc<AtomicUsize>, gate: InitGate) -> Init<Self> {
        let generation = inits.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((entered, gate)) = gate {
            let _ = entered.send(());
            let _ = gate.await;
        }
        Init::ok(Named { generation })
    }

    /// Which start of the counter this server is: 1 for the first init.
    #[call]
    fn generation(&self) -> usize {
        self.generation
    }

    #[call]
    fn explode(&self) -> usize {
        panic!("named server crashed")
    }
}

/// Another server type, to hold a name `Named` wants.
pub struct Other;

#[genserver]
impl Other {
    #[call]
    fn hello(&self) -> &'static str {
        "hello"
    }
}

async fn start_named(name: &str, inits: &Arc<AtomicUsize>) -> Result<NamedRef, StartError<Named>> {
    Named::builder().name(name).start((inits.clone(), None)).await
}

#[tokio::test]
async fn named_server_is_found_by_whereis_and_the_generated_whereis() {
    let name = "names-found";
    let inits = Arc::new(AtomicUsize::new(0));
    let server = start_named(name, &inits).await.expect("starts");
    assert_eq!(server.name(), Some(name));
    assert_eq!(whereis::<Named>(name).map(|found| found.id()), Some(server.id()));
    assert_eq!(Named::whereis(name).map(|found| found.id()), Some(server.id()));
    assert_eq!(whereis_id(name), Some(server.id()));
    let found = Named::whereis(name).expect("registered");
    assert_eq!(found.generation().await, Ok(1));
}

#[tokio::test]
async fn whereis_of_a_free_name_is_none() {
    assert!(Named::whereis("names-never-used").is_none());
    assert_eq!(whereis_id("names-never-used"), None);
}

#[tokio::test]
async fn start_under_a_taken_name_returns_already_started_with_the_holder_and_skips_init() {
    let name = "names-taken";
    let inits = Arc::new(AtomicUsize::new(0));
    let first = start_named(name, &inits).await.expect("starts");
    let second = start_named(name, &inits).await;
    let Err(StartError::AlreadyStarted(holder)) = second else {
        panic!("expected AlreadyStarted, got {second:?}");
    };
    assert_eq!(holder.id(), first.id());
    assert_eq!(holder.generation().await, Ok(1), "the holder's handle works");
    assert_eq!(inits.load(Ordering::SeqCst), 1, "the second init did not run");
}

#[tokio::test]
async fn name_held_by_another_server_type_gives_taken_by_other_type_and_skips_init() {
    let name = "names-other-type";
    let other = Other::builder().name(name).start(Other).await.expect("starts");
    let inits = Arc::new(AtomicUsize::new(0));
    let started = start_named(name, &inits).await;
    match started {
        Err(StartError::TakenByOtherType(holder)) => {
            assert_eq!(holder.id(), other.id());
            assert_eq!(holder.downcast::<Other>().map(|holder| holder.id()), Some(other.id()));
        }
        other => panic!("expected TakenByOtherType, got {other:?}"),
    }
    assert_eq!(inits.load(Ordering::SeqCst), 0, "init did not run");
    assert!(Named::whereis(name).is_none(), "whereis is typed: the name holds an Other");
    assert_eq!(Other::whereis(name).map(|found| found.id()), Some(other.id()));
    assert_eq!(whereis_id(name), Some(other.id()));
}

#[tokio::test]
async fn name_is_taken_while_its_holder_is_still_in_init() {
    let name = "names-in-init";
    let inits = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    let first = tokio::spawn({
        let inits = inits.clone();
        async move { Named::builder().name(name).start((inits, Some((entered_tx, gate)))).await }
    });
    entered.await.expect("the first init started");
    let second = start_named(name, &inits).await;
    let Err(StartError::AlreadyStarted(holder)) = second else {
        panic!("expected AlreadyStarted, got {second:?}");
    };
    open.send(()).expect("the first init waits for its gate");
    let first = first.await.expect("start task").expect("the first start succeeds");
    assert_eq!(holder.id(), first.id());
    assert_eq!(inits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn concurrent_starts_under_one_name_start_exactly_one_server() {
    let name = "names-race";
    let inits = Arc::new(AtomicUsize::new(0));
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let inits = inits.clone();
            tokio::spawn(async move { start_named(name, &inits).await })
        })
        .collect();
    let mut winners = Vec::new();
    let mut holders = Vec::new();
    for start in starts {
        match start.await.expect("start task") {
            Ok(server) => winners.push(server.id()),
            Err(StartError::AlreadyStarted(holder)) => holders.push(holder.id()),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(holders.len(), 7);
    assert!(holders.iter().all(|holder| *holder == winners[0]));
    assert_eq!(inits.load(Ordering::SeqCst), 1);
}

/// Repeats on a multi-threaded runtime, where the server task runs beside the caller:
/// the name must be free the moment `stop` returns, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_is_free_as_soon_as_stop_returns() {
    let name = "names-after-stop";
    let inits = Arc::new(AtomicUsize::new(0));
    for generation in 1..=200 {
        let server = start_named(name, &inits).await.expect("the name is free");
        assert_eq!(server.generation().await, Ok(generation));
        server.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("stops");
        assert!(Named::whereis(name).is_none(), "generation {generation}: still registered");
        assert_eq!(whereis_id(name), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_is_free_as_soon_as_a_call_returns_exited() {
    let name = "names-after-crash";
    let inits = Arc::new(AtomicUsize::new(0));
    for generation in 1..=100 {
        let server = start_named(name, &inits).await.expect("the name is free");
        assert_eq!(server.generation().await, Ok(generation));
        let crashed = server.explode().await;
        assert_eq!(crashed, Err(CallError::Exited(ExitReason::Panic("named server crashed".into()))));
        assert!(Named::whereis(name).is_none(), "generation {generation}: still registered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_is_free_as_soon_as_exited_returns_after_a_kill() {
    let name = "names-after-kill";
    let inits = Arc::new(AtomicUsize::new(0));
    for generation in 1..=200 {
        let server = start_named(name, &inits).await.expect("the name is free");
        assert_eq!(server.generation().await, Ok(generation));
        server.kill();
        assert_eq!(server.exited().await, ExitReason::Killed);
        assert!(Named::whereis(name).is_none(), "generation {generation}: still registered");
    }
}

#[tokio::test]
async fn server_restarted_under_a_freed_name_is_a_new_server() {
    let name = "names-restart";
    let inits = Arc::new(AtomicUsize::new(0));
    let old = start_named(name, &inits).await.expect("starts");
    old.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.expect("stops");
    let new = start_named(name, &inits).await.expect("the name is free");
    assert_ne!(new.id(), old.id());
    assert_eq!(Named::whereis(name).map(|found| found.id()), Some(new.id()));
    assert_eq!(old.generation().await, Err(CallError::NoServer), "the old handle stays dead");
    assert_eq!(new.generation().await, Ok(2));
}
