//! The ConfigServer of the Elixir GenServer guide, written with `#[genserver]`.
//!
//! Run it with `cargo run --example config_server`. It starts the server under a name,
//! reads and writes settings through the generated client, finds the server again by
//! name, shows what happens to a call that times out, and stops it.
//!
//! The server prints its own lines (`[server] ...`, from `init` and `terminate`) to a
//! [`Console`]: standard output in the demo, a list that the tests read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use genserver_runtime::prelude::*;

/// The name the demo registers the server under, as the guide's `name: __MODULE__`.
pub const NAME: &str = "config";

/// Where the server writes its own lines: standard output, or a list kept for a test.
#[derive(Clone, Debug, Default)]
pub enum Console {
    /// Each line is printed.
    #[default]
    Stdout,
    /// Each line is kept, in order.
    Kept(Arc<Mutex<Vec<String>>>),
}

impl Console {
    /// A console that keeps its lines for [`Console::lines`].
    pub fn kept() -> Console {
        Console::Kept(Arc::default())
    }

    /// The lines kept so far; none for standard output.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Console::Stdout => Vec::new(),
            Console::Kept(lines) => lines.lock().expect("console lock").clone(),
        }
    }

    fn say(&self, line: String) {
        match self {
            Console::Stdout => println!("{line}"),
            Console::Kept(lines) => lines.lock().expect("console lock").push(line),
        }
    }
}

/// Holds the application's settings; every read and write goes through its mailbox.
pub struct ConfigServer {
    config: HashMap<String, String>,
    console: Console,
}

#[genserver]
impl ConfigServer {
    /// Starts with the given settings, writing its own lines to `console`.
    #[init]
    fn init(initial: HashMap<String, String>, console: Console) -> Init<Self> {
        console.say(format!("[server] init with {} setting(s)", initial.len()));
        Init::ok(ConfigServer { config: initial, console })
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
        self.console.say(format!("[server] terminate ({reason}) with {} setting(s)", self.config.len()));
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let initial = HashMap::from([("env".to_string(), "dev".to_string())]);
    let config = ConfigServer::builder().name(NAME).start((initial, Console::Stdout)).await?;
    println!("started {config:?}");

    config.set("mode".into(), "fast".into()).await?;
    config.set("workers".into(), "4".into()).await?;
    println!("get(mode)    = {:?}", config.get("mode".into()).await?);
    println!("get(missing) = {:?}", config.get("missing".into()).await?);

    let mut all: Vec<_> = config.get_all().await?.into_iter().collect();
    all.sort();
    println!("get_all()    = {all:?}");

    // Another part of the program finds the server by its name.
    let found = ConfigServer::whereis(NAME).expect("registered under \"config\"");
    println!("whereis(\"config\") = {found:?}");

    // A call that waits longer than its timeout gets an error; its late reply is dropped.
    let late =
        found.slow_get("mode".into(), Duration::from_millis(200)).timeout(Duration::from_millis(20)).await;
    println!("slow_get with a 20 ms timeout = {late:?}");

    config.clear();
    println!("after clear, get_all() = {:?}", config.get_all().await?);

    config.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    println!("stopped; get(mode) now = {:?}", config.get("mode".into()).await);
    println!("whereis(\"config\") now = {:?}", ConfigServer::whereis(NAME));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    async fn start(initial: &[(&str, &str)]) -> (ConfigServerRef, Console) {
        let console = Console::kept();
        let config = ConfigServer::start(settings(initial), console.clone()).await.expect("starts");
        (config, console)
    }

    #[tokio::test]
    async fn get_set_and_get_all_read_and_write_the_settings() {
        let (config, _) = start(&[("env", "dev")]).await;
        assert_eq!(config.get("env".into()).await, Ok(Some("dev".to_string())));
        assert_eq!(config.get("missing".into()).await, Ok(None));
        assert_eq!(config.set("mode".into(), "fast".into()).await, Ok(()));
        assert_eq!(config.set("env".into(), "prod".into()).await, Ok(()), "a set replaces the value");
        assert_eq!(config.get("mode".into()).await, Ok(Some("fast".to_string())));
        assert_eq!(config.get_all().await, Ok(settings(&[("env", "prod"), ("mode", "fast")])));
    }

    #[tokio::test]
    async fn clear_is_a_cast_that_the_next_call_sees_done() {
        let (config, _) = start(&[("env", "dev"), ("mode", "fast")]).await;
        config.clear();
        // The cast is in the mailbox before the call, so the call is answered after it.
        assert_eq!(config.get_all().await, Ok(HashMap::new()));
        assert_eq!(config.get("env".into()).await, Ok(None));
    }

    #[tokio::test]
    async fn the_server_is_found_by_its_name_until_it_stops() {
        let config =
            ConfigServer::builder().name(NAME).start((settings(&[]), Console::kept())).await.expect("starts");
        let found = ConfigServer::whereis(NAME).expect("registered under its name");
        assert_eq!(found.id(), config.id());
        assert_eq!(found.set("mode".into(), "fast".into()).await, Ok(()));
        assert_eq!(config.get("mode".into()).await, Ok(Some("fast".to_string())), "one server");
        config.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
        assert!(ConfigServer::whereis(NAME).is_none(), "the name is free once the server stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_timeout_gets_timeout_and_the_server_keeps_answering() {
        let (config, _) = start(&[("mode", "fast")]).await;
        let before = Instant::now();
        let timeout = Duration::from_millis(20);
        let late = config.slow_get("mode".into(), Duration::from_millis(200)).timeout(timeout).await;
        assert_eq!(late, Err(CallError::Timeout(timeout)));
        assert_eq!(before.elapsed(), timeout);
        // The next call waits behind the slow one, whose late reply is dropped.
        assert_eq!(config.get("mode".into()).await, Ok(Some("fast".to_string())));
        assert_eq!(before.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn stop_runs_terminate_and_later_calls_get_no_server() {
        let (config, console) = start(&[("env", "dev")]).await;
        config.set("mode".into(), "fast".into()).await.expect("set");
        assert_eq!(console.lines(), ["[server] init with 1 setting(s)"]);
        assert_eq!(config.stop(ExitReason::Normal, Duration::from_secs(1)).await, Ok(()));
        assert_eq!(
            console.lines(),
            ["[server] init with 1 setting(s)", "[server] terminate (normal) with 2 setting(s)"]
        );
        assert_eq!(config.exit_reason(), Some(ExitReason::Normal));
        assert_eq!(config.get("mode".into()).await, Err(CallError::NoServer));
    }
}
