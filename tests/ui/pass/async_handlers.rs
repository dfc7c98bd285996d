//! Every kind of handler may be `async`.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Fetcher {
    base: String,
    hits: u32,
}

#[genserver]
impl Fetcher {
    #[init]
    async fn init(base: String) -> Result<Self, std::io::Error> {
        tokio::task::yield_now().await;
        Ok(Fetcher { base, hits: 0 })
    }

    #[call]
    async fn fetch(&mut self, path: String) -> String {
        tokio::task::yield_now().await;
        self.hits += 1;
        format!("{}{path}", self.base)
    }

    #[call]
    async fn hits(&self) -> u32 {
        self.hits
    }

    #[cast]
    async fn reset(&mut self) {
        tokio::task::yield_now().await;
        self.hits = 0;
    }

    #[info]
    async fn ping(&mut self, cx: &mut Context<Self>) -> NoReply {
        let _ = cx.id();
        NoReply::ok()
    }

    #[timeout]
    async fn idle(&mut self) {}

    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason, cx: &mut Context<Self>) {
        let _ = (reason.is_normal(), cx.id());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let fetcher = Fetcher::start("https://example.invalid".to_string()).await.unwrap();
    assert_eq!(fetcher.fetch("/a".into()).await.unwrap(), "https://example.invalid/a");
    assert_eq!(fetcher.hits().await.unwrap(), 1);
    fetcher.reset();
    fetcher.send_info(FetcherInfo::Ping {}).unwrap();
    assert_eq!(fetcher.hits().await.unwrap(), 0);
}
