//! Helpers shared by the SQLite examples and their tests (included with `mod common;`;
//! cargo does not build this folder as an example of its own).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory under the system's temporary folder, removed with everything in it when
/// dropped: each example and test gets its own database file.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory whose name starts with `prefix` and is unique to this
    /// process and call.
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Polls `future` once, so that a call puts its request in the server's mailbox without
/// waiting for the answer: callers queued this way arrive in a known order. `Some` if it
/// already finished.
#[cfg(test)]
#[allow(dead_code)] // not every example's tests need it
pub async fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    use std::task::Poll;
    std::future::poll_fn(|cx| {
        Poll::Ready(match std::pin::Pin::new(&mut *future).poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}
