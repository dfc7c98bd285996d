//! The server the fault tests watch from another node: it answers, holds calls, and
//! crashes on demand.

use genserver_runtime::prelude::*;

/// A server other nodes monitor: it can crash, stop, or hold a call unanswered.
pub struct Worker {
    held: Vec<ReplyTo<u64>>,
}

#[genserver(remote)]
impl Worker {
    #[init]
    fn init() -> Init<Self> {
        Init::ok(Worker { held: Vec::new() })
    }

    /// Answers with `n`.
    #[call]
    pub fn echo(&self, n: u64) -> u64 {
        n
    }

    /// Never answers (until the server exits).
    #[call]
    pub fn hold(&mut self, from: ReplyTo<u64>) -> NoReply {
        self.held.push(from);
        NoReply::ok()
    }

    /// Panics.
    #[cast]
    pub fn crash(&mut self) {
        panic!("worker crashed on purpose")
    }
}
