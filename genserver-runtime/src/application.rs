//! Applications: a root supervision tree that runs until it is told to stop, then stops
//! in order and returns (OTP: an `Application` and its top supervisor).
//!
//! A tokio program ends when `main` returns and its runtime is dropped. Dropping the
//! runtime drops every task at its next await point: each server ends as if killed, its
//! `terminate` does not run and nothing is logged. An [`Application`] is how a program
//! stops its servers first: it waits for a signal (ctrl-c or SIGTERM with
//! [`Application::run_until_signal`], any future such as a `CancellationToken`'s
//! `cancelled()` with [`Application::run`], or an explicit [`Application::stop`]), stops
//! the root supervisor with [`ExitReason::Shutdown`], which stops its children in reverse
//! start order, each within its [`Shutdown`](crate::Shutdown) (`terminate` runs, and a
//! child still running at its timeout is killed), and returns once the whole tree has
//! exited, so that `main` can return.

use std::future::Future;
use std::io;
use std::time::Duration;

use crate::{ExitReason, SupervisorBuilder, SupervisorError, SupervisorRef};

/// A running root supervision tree that stops in order before the program ends (OTP:
/// `Application.start/2` and `Application.stop/1`).
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::Application;
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Clone)]
/// pub struct Flusher;
///
/// #[genserver]
/// impl Flusher {
///     #[terminate]
///     fn terminate(&mut self, reason: &ExitReason) {
///         println!("flushed before exit ({reason})");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Application::start(Supervisor::builder().child(Flusher::child_spec(Flusher))).await?;
/// let token = CancellationToken::new();
/// // Anything may cancel the token: an HTTP server's shutdown, a test, a signal handler.
/// token.cancel();
/// // Returns once every child has run its `terminate` and the tree has exited.
/// assert_eq!(app.run(token.cancelled()).await, ExitReason::Shutdown);
/// # Ok(())
/// # }
/// ```
///
/// In a binary, `Application::start(tree).await?.run_until_signal().await?` at the end of
/// `main` runs the tree until ctrl-c or SIGTERM.
#[derive(Debug)]
pub struct Application {
    root: SupervisorRef,
}

impl Application {
    /// Starts the root supervisor and its children, in order; returns once all are running.
    /// Started from a plain task, the root has no parent: only this `Application` (or
    /// its own exit) stops it.
    ///
    /// Errors: those of [`SupervisorBuilder::start`].
    pub async fn start(root: SupervisorBuilder) -> Result<Application, SupervisorError> {
        Ok(Application { root: root.start().await? })
    }

    /// The root supervisor: call it (`which_children`, `start_child`, ...), or stop it
    /// from anywhere, which ends [`run`](Self::run).
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.root
    }

    /// Runs until `until` completes, then stops the tree in order (see [`stop`](Self::stop))
    /// and returns the root's exit reason, `Shutdown`. If the root exits first (it was
    /// stopped elsewhere, or it exceeded its restart intensity), returns at once with its
    /// reason.
    ///
    /// `until` is any future: `token.cancelled()` of a tokio-util `CancellationToken`,
    /// [`shutdown_signal`], a oneshot receiver, or `std::future::pending()` to run until
    /// the root exits by itself.
    pub async fn run<F: Future>(self, until: F) -> ExitReason {
        tokio::select! {
            biased;
            reason = self.root.exited() => reason,
            _ = until => self.stop().await,
        }
    }

    /// Runs until the process gets ctrl-c (SIGINT) or SIGTERM (on Windows: ctrl-c), then
    /// stops the tree as [`run`](Self::run) does. While it runs, those signals no longer
    /// end the process by themselves.
    ///
    /// If the signals cannot be listened for, the tree is stopped at once and the error
    /// returned: an application that could never hear its stop signal is not left running.
    pub async fn run_until_signal(self) -> io::Result<ExitReason> {
        let mut failure = None;
        let reason = self
            .run(async {
                if let Err(error) = shutdown_signal().await {
                    failure = Some(error);
                }
            })
            .await;
        failure.map_or(Ok(reason), Err)
    }

    /// Stops the tree now and returns the root's exit reason once every server of it has
    /// exited: the root stops its children in reverse start order, each by its
    /// [`Shutdown`](crate::Shutdown) (a stop within a timeout, then a kill; a kill at
    /// once; or a stop without a timeout), and exits with [`ExitReason::Shutdown`]. The
    /// stop is queued behind the root's pending messages, as OTP's is. A root that had
    /// already exited gives its own reason.
    pub async fn stop(self) -> ExitReason {
        // The root's stop takes as long as its children's shutdowns allow; those bound it.
        let _ = self.root.stop(ExitReason::Shutdown, Duration::MAX).await;
        self.root.exited().await
    }
}

/// Waits for ctrl-c (SIGINT) or SIGTERM, the signals a terminal, a container runtime or a
/// service manager sends to stop a program (on Windows: ctrl-c). Errors if they cannot be
/// listened for.
///
/// The listeners are installed when the future is first polled; from then until it is
/// dropped those signals do not end the process by themselves.
pub async fn shutdown_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
