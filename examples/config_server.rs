//! The ConfigServer of the Elixir GenServer guide, written with `#[genserver]`.
//!
//! Run it with `cargo run --example config_server`. It starts the server under a name,
//! reads and writes settings through the generated client, finds the server again by
//! name, shows what happens to a call that times out, and stops it.

use std::collections::HashMap;

use genserver_runtime::prelude::*;

/// Holds the application's settings; every read and write goes through its mailbox.
pub struct ConfigServer {
    config: HashMap<String, String>,
}

#[genserver]
impl ConfigServer {
    /// Starts with the given settings.
    #[init]
    fn init(initial: HashMap<String, String>) -> Init<Self> {
        println!("[server] init with {} setting(s)", initial.len());
        Init::ok(ConfigServer { config: initial })
    }

    /// The value of `key`, if it is set.
    #[call]
    pub fn get(&self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    /// Sets `key` to `value`.
    #[call]
    pub fn set(&mut self, key: String, value: String) {
        self.config.insert(key, value);
    }

    /// Every setting.
    #[call]
    pub fn get_all(&self) -> HashMap<String, String> {
        self.config.clone()
    }

    /// Replies after `delay`: a slow request, to show call timeouts.
    #[call]
    pub async fn slow_get(&self, key: String, delay: Duration) -> Option<String> {
        tokio::time::sleep(delay).await;
        self.config.get(&key).cloned()
    }

    /// Forgets every setting, without waiting for the server.
    #[cast]
    pub fn clear(&mut self) {
        self.config.clear();
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        println!("[server] terminate ({reason}) with {} setting(s)", self.config.len());
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let initial = HashMap::from([("env".to_string(), "dev".to_string())]);
    let config = ConfigServer::builder().name("config").start(initial).await?;
    println!("started {config:?}");

    config.set("mode".into(), "fast".into()).await?;
    config.set("workers".into(), "4".into()).await?;
    println!("get(mode)    = {:?}", config.get("mode".into()).await?);
    println!("get(missing) = {:?}", config.get("missing".into()).await?);

    let mut all: Vec<_> = config.get_all().await?.into_iter().collect();
    all.sort();
    println!("get_all()    = {all:?}");

    // Another part of the program finds the server by its name.
    let found = ConfigServer::whereis("config").expect("registered under \"config\"");
    println!("whereis(\"config\") = {found:?}");

    // A call that waits longer than its timeout gets an error; its late reply is dropped.
    let late =
        found.slow_get("mode".into(), Duration::from_millis(200)).timeout(Duration::from_millis(20)).await;
    println!("slow_get with a 20 ms timeout = {late:?}");

    config.clear();
    println!("after clear, get_all() = {:?}", config.get_all().await?);

    config.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    println!("stopped; get(mode) now = {:?}", config.get("mode".into()).await);
    println!("whereis(\"config\") now = {:?}", ConfigServer::whereis("config"));
    Ok(())
}
