//! Every OTP return form, as handlers write it.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Worker {
    n: u32,
}

#[genserver]
impl Worker {
    #[init]
    fn init(n: u32) -> Init<Self> {
        // {:ok, s, timeout}
        Init::ok(Worker { n }).timeout(Duration::from_secs(3600))
    }

    /// {:reply, r, s, timeout}
    #[call]
    fn with_timeout(&mut self) -> Reply<u32> {
        Reply::new(self.n).timeout(Duration::from_secs(3600))
    }

    /// {:reply, r, s, {:continue, c}}
    #[call]
    fn then_continue(&mut self, to: u32) -> Reply<u32, WorkerContinue> {
        Reply::new(self.n).continue_with(WorkerContinue::Load { from: to })
    }

    /// {:stop, why, r, s}
    #[call]
    fn finish(&mut self) -> Reply<u32> {
        Reply::stop(ExitReason::Normal, self.n)
    }

    /// {:reply, r, s}
    #[call]
    fn get(&self) -> u32 {
        self.n
    }

    /// {:noreply, s, {:continue, c}}
    #[cast]
    fn poke(&mut self, to: u32) -> NoReply<WorkerContinue> {
        NoReply::continue_with(WorkerContinue::Load { from: to })
    }

    /// {:noreply, s, :hibernate}
    #[cast]
    fn sleep(&mut self) -> NoReply {
        NoReply::hibernate()
    }

    /// {:stop, why, s}
    #[cast]
    fn quit(&mut self, why: String) -> NoReply {
        NoReply::stop(ExitReason::shutdown_with(why))
    }

    #[handle_continue]
    async fn load(&mut self, from: u32) -> NoReply {
        self.n = from;
        NoReply::timeout(Duration::from_secs(3600))
    }

    #[timeout]
    fn idle(&mut self, cx: &mut Context<Self>) -> NoReply {
        let _ = cx.id();
        NoReply::stop(ExitReason::Normal)
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        let _ = reason.is_normal();
    }
}

/// `:ignore`.
pub struct Ignored;

#[genserver]
impl Ignored {
    #[init]
    fn init() -> Init<Self> {
        Init::ignore()
    }
}

/// `Result<Self, E>`: `Err` is a stop.
pub struct Fallible;

#[genserver]
impl Fallible {
    #[init]
    fn init(ok: bool) -> Result<Self, String> {
        if ok { Ok(Fallible) } else { Err("refused".to_string()) }
    }
}

/// The state itself.
pub struct Plain {
    n: u32,
}

#[genserver]
impl Plain {
    #[init]
    fn init(a: u32, b: u32) -> Self {
        Plain { n: a + b }
    }

    #[call]
    fn get(&self) -> u32 {
        self.n
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let worker = Worker::start(5).await.unwrap();
    assert_eq!(worker.with_timeout().await.unwrap(), 5);
    assert_eq!(worker.then_continue(6).await.unwrap(), 5);
    assert_eq!(worker.get().await.unwrap(), 6);
    worker.poke(7);
    assert_eq!(worker.get().await.unwrap(), 7);
    worker.sleep();
    assert_eq!(worker.finish().await.unwrap(), 7);
    assert!(worker.exited().await.is_normal());

    let other = Worker::start(1).await.unwrap();
    other.quit("done".into());
    assert!(other.exited().await.is_shutdown());

    assert!(matches!(Ignored::start().await, Err(StartError::Ignored)));
    assert!(matches!(Fallible::start(false).await, Err(StartError::Stopped(_))));
    assert!(Fallible::start(true).await.is_ok());
    assert_eq!(Plain::start(1, 2).await.unwrap().get().await.unwrap(), 3);
}
