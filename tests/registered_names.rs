//! `registered()` lists the names held now (Elixir: `Process.registered/0`): a name
//! appears as its server starts under it and is gone once the server's exit can be
//! observed, and a refused start adds nothing.
//!
//! Names are global to the program and the tests of this file run side by side, so each
//! looks only at names with its own prefix.

use std::sync::Arc;

use genserver_runtime::prelude::*;
use genserver_runtime::registered;

pub struct Holder;

#[genserver]
impl Holder {}

/// The registered names that start with `prefix`, sorted.
fn registered_with(prefix: &str) -> Vec<Arc<str>> {
    let mut names: Vec<_> = registered().into_iter().filter(|name| name.starts_with(prefix)).collect();
    names.sort();
    names
}

#[tokio::test(start_paused = true)]
async fn registered_lists_each_held_name_until_its_server_exits() {
    let a = Holder::builder().name("listed-a").start(Holder).await.expect("starts");
    let b = Holder::builder().name("listed-b").start(Holder).await.expect("starts");
    let _unnamed = Holder::start(Holder).await.expect("starts");
    assert_eq!(registered_with("listed-"), [Arc::from("listed-a"), Arc::from("listed-b")]);

    a.kill();
    a.exited().await;
    assert_eq!(registered_with("listed-"), [Arc::from("listed-b")]);
    b.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    assert_eq!(registered_with("listed-"), Vec::<Arc<str>>::new());
}

#[tokio::test(start_paused = true)]
async fn a_refused_start_under_a_held_name_lists_it_once() {
    let held = Holder::builder().name("refused-x").start(Holder).await.expect("starts");
    let refused = Holder::builder().name("refused-x").start(Holder).await;
    assert!(matches!(refused, Err(StartError::AlreadyStarted(ref holder)) if holder.id() == held.id()));
    assert_eq!(registered_with("refused-"), [Arc::from("refused-x")]);
}
