//! A call that answers later: its `ReplyTo` is stored in the state and answered by
//! another handler.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Pool {
    free: Vec<u32>,
    waiting: Vec<ReplyTo<u32>>,
}

#[genserver]
impl Pool {
    /// A connection, as soon as one is free.
    #[call]
    fn checkout(&mut self, from: ReplyTo<u32>) -> NoReply {
        match self.free.pop() {
            Some(conn) => from.reply(conn),
            None => self.waiting.push(from),
        }
        NoReply::ok()
    }

    /// Gives a connection back, to the first caller still waiting for one.
    #[cast]
    fn checkin(&mut self, conn: u32) {
        self.waiting.retain(ReplyTo::is_waiting);
        match self.waiting.pop() {
            Some(waiter) => waiter.reply(conn),
            None => self.free.push(conn),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Pool::start(Pool { free: vec![1], waiting: Vec::new() }).await.unwrap();
    assert_eq!(pool.checkout().await.unwrap(), 1);
    // The checkout is sent first and waits; the checkin answers it.
    let (conn, ()) = tokio::join!(pool.checkout(), async { pool.checkin(7) });
    assert_eq!(conn.unwrap(), 7);
}
