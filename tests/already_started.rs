//! OTP's one `{:error, {:already_started, pid}}`, in one typed shape for a name and for a
//! unique Registry key: `StartError::AlreadyStarted` with the holder's client handle when
//! the holder is of the type being started, `StartError::TakenByOtherType` with its
//! untyped handle otherwise. Either way `init` does not run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use genserver_runtime::prelude::*;
use genserver_runtime::{Keys, Registry};

pub struct Job {
    inits: Arc<AtomicUsize>,
}

#[genserver]
impl Job {
    #[init]
    fn init(inits: Arc<AtomicUsize>) -> Init<Self> {
        inits.fetch_add(1, Ordering::SeqCst);
        Init::ok(Job { inits })
    }

    #[call]
    fn inits(&self) -> usize {
        self.inits.load(Ordering::SeqCst)
    }
}

pub struct Other;

#[genserver]
impl Other {}

/// The handle of the holder an `AlreadyStarted` carries; panics on any other result.
fn holder_of(started: Result<JobRef, StartError<Job>>) -> JobRef {
    match started {
        Err(StartError::AlreadyStarted(holder)) => holder,
        other => panic!("expected AlreadyStarted, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_taken_name_and_a_taken_key_give_the_same_typed_already_started() {
    let inits = Arc::new(AtomicUsize::new(0));
    let registry: Registry<&'static str, ()> = Registry::new(Keys::Unique);
    let by_name = Job::builder().name("already-started-job").start(inits.clone()).await.expect("starts");
    let by_key = Job::builder().via(&registry, "job", ()).start(inits.clone()).await.expect("starts");

    let name_holder = holder_of(Job::builder().name("already-started-job").start(inits.clone()).await);
    let key_holder = holder_of(Job::builder().via(&registry, "job", ()).start(inits.clone()).await);

    assert_eq!((name_holder.id(), key_holder.id()), (by_name.id(), by_key.id()));
    // Both are callable client handles; neither refused start ran `init`.
    assert_eq!(name_holder.inits().await, Ok(2));
    assert_eq!(key_holder.inits().await, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn a_key_held_by_another_type_gives_taken_by_other_type_with_its_holder() {
    let inits = Arc::new(AtomicUsize::new(0));
    let registry: Registry<&'static str, ()> = Registry::new(Keys::Unique);
    let other = Other::builder().via(&registry, "slot", ()).start(Other).await.expect("starts");
    match Job::builder().via(&registry, "slot", ()).start(inits.clone()).await {
        Err(StartError::TakenByOtherType(holder)) => {
            assert_eq!(holder.id(), other.id());
            assert!(holder.downcast::<Job>().is_none());
            assert!(holder.downcast::<Other>().is_some());
        }
        other => panic!("expected TakenByOtherType, got {other:?}"),
    }
    assert_eq!(inits.load(Ordering::SeqCst), 0, "init did not run");
}

#[tokio::test(start_paused = true)]
async fn a_start_refused_for_its_key_frees_the_name_it_took() {
    let inits = Arc::new(AtomicUsize::new(0));
    let registry: Registry<&'static str, ()> = Registry::new(Keys::Unique);
    let holder = Job::builder().via(&registry, "key", ()).start(inits.clone()).await.expect("starts");
    let refused =
        Job::builder().name("already-started-free").via(&registry, "key", ()).start(inits.clone()).await;
    assert_eq!(holder_of(refused).id(), holder.id());
    assert!(Job::whereis("already-started-free").is_none(), "the name taken for the refused start is freed");
}
