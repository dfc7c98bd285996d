//! Three nodes in three OS processes on 127.0.0.1: the guide's ConfigServer registered
//! under a global name on one node, called and cast to from the other two.
//!
//! Run it with `cargo run -p genserver-cluster-tests --example cluster`. The first
//! process is node `alpha`: it starts the ConfigServer, registers it as `config` and
//! starts the two other nodes, `beta` and `gamma`, by running its own executable again.
//! Each of them finds `config`, writes its own key with a call, casts a counter up, and
//! prints which node answered. Then `alpha` prints the settings every node wrote.
//!
//! Its test (`cargo test -p genserver-cluster-tests --example cluster`) runs the same
//! three processes and checks every line they print.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use genserver_runtime::cluster::{GlobalEvent, Node, NodeConfig};
use genserver_runtime::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The cluster's name: the three processes join it, and only it.
const CLUSTER: &str = "cluster-example";

/// The global name of the ConfigServer.
const NAME: &str = "config";

/// How long any one step may take before the example gives up, so that nothing hangs.
const STEP: Duration = Duration::from_secs(30);

/// The environment variable that makes a process a child node: `<name> <seed endpoint>`.
const CHILD: &str = "GENSERVER_CLUSTER_EXAMPLE_CHILD";

/// The guide's ConfigServer, which also says which node it runs on and counts casts.
pub struct ConfigServer {
    node: String,
    config: HashMap<String, String>,
    bumps: u64,
}

#[genserver(remote)]
impl ConfigServer {
    #[init]
    fn init(node: String) -> Init<Self> {
        Init::ok(ConfigServer { node, config: HashMap::new(), bumps: 0 })
    }

    /// The value of `key`, if set.
    #[call]
    pub fn get(&self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    /// Sets `key` to `value`; answers with the name of the node that did.
    #[call]
    pub fn set(&mut self, key: String, value: String) -> String {
        self.config.insert(key, value);
        self.node.clone()
    }

    /// Every setting, and how many bumps were cast.
    #[call]
    pub fn get_all(&self) -> (Vec<(String, String)>, u64) {
        let mut all: Vec<_> = self.config.clone().into_iter().collect();
        all.sort();
        (all, self.bumps)
    }

    /// Counts one bump.
    #[cast]
    pub fn bump(&mut self) {
        self.bumps += 1;
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    match std::env::var(CHILD) {
        Ok(child) => child_node(&child).await,
        Err(_) => {
            for line in first_node(&[]).await? {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// Node `alpha`: starts the ConfigServer and the two other nodes, waits for them, and
/// returns every line the three printed. `child_args` are passed to each child process
/// (the test harness's, when run as a test).
async fn first_node(child_args: &[&str]) -> Result<Vec<String>, Error> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let seed = format!("tcp/127.0.0.1:{port}");
    let node = Node::start(NodeConfig::new(CLUSTER).name("alpha").listen(&seed)).await?;
    let config = ConfigServer::start("alpha".to_owned()).await?;
    node.register_global(NAME, &config).await?;
    let mut lines = vec![format!("alpha: registered {NAME} on {seed}")];

    let mut children = Vec::new();
    for name in ["beta", "gamma"] {
        let child = Command::new(std::env::current_exe()?)
            .args(child_args)
            .env(CHILD, format!("{name} {seed}"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        children.push((name, child));
    }
    for (name, mut child) in children {
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let mut reader = BufReader::new(stdout).lines();
        let read = async {
            let mut printed = Vec::new();
            while let Some(line) = reader.next_line().await? {
                // A test harness prints its own lines around the child's.
                if line.starts_with(name) {
                    printed.push(line);
                }
            }
            let status = child.wait().await?;
            Ok::<_, Error>((printed, status))
        };
        let (printed, status) =
            tokio::time::timeout(2 * STEP, read).await.map_err(|_| format!("{name} did not finish"))??;
        if !status.success() {
            return Err(format!("{name} failed: {status}").into());
        }
        lines.extend(printed);
    }
    let (all, bumps) = config.get_all().await?;
    lines.push(format!("alpha: config is {all:?} after {bumps} bumps"));
    node.stop().await?;
    Ok(lines)
}

/// A child node, `<name> <seed>`: joins the cluster, finds `config`, calls and casts it.
async fn child_node(child: &str) -> Result<(), Error> {
    let (name, seed) = child.split_once(' ').ok_or("the child variable is `<name> <seed>`")?;
    let node = Node::start(NodeConfig::new(CLUSTER).name(name).connect(seed)).await?;
    let mut names = node.global_events();
    let registered = async {
        while let Some(event) = names.next().await {
            if matches!(&event, GlobalEvent::Registered { name, .. } if name == NAME) {
                return Ok(());
            }
        }
        Err::<(), Error>("the node stopped".into())
    };
    tokio::time::timeout(STEP, registered).await.map_err(|_| "config was never registered")??;
    let config = ConfigServer::global(&node, NAME).await?;
    let answered_by = config.set(name.to_owned(), format!("written by {name}")).await?;
    println!("{name}: set {name:?}, answered by {answered_by}");
    config.bump();
    let value = config.get(name.to_owned()).await?;
    println!("{name}: get {name:?} = {value:?}");
    // Leaving: the others see this node go down at once, and nothing waits for a lease.
    node.stop().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments that make a copy of this test binary run [`child_node_process`].
    const CHILD_ARGS: [&str; 4] = ["--ignored", "--exact", "tests::child_node_process", "--nocapture"];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_processes_share_one_global_config_server() {
        let lines = first_node(&CHILD_ARGS).await.expect("the three nodes run");
        let expected = [
            "beta: set \"beta\", answered by alpha",
            "beta: get \"beta\" = Some(\"written by beta\")",
            "gamma: set \"gamma\", answered by alpha",
            "gamma: get \"gamma\" = Some(\"written by gamma\")",
            "alpha: config is [(\"beta\", \"written by beta\"), (\"gamma\", \"written by gamma\")] after 2 bumps",
        ];
        assert!(lines[0].starts_with("alpha: registered config on tcp/127.0.0.1:"), "{lines:?}");
        assert_eq!(lines[1..], expected, "{lines:#?}");
    }

    /// Not a test of its own: the body of a child node's process, which the test above
    /// starts with [`CHILD_ARGS`] and the child variable set.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "runs only as a child process of three_processes_share_one_global_config_server"]
    async fn child_node_process() {
        let child = std::env::var(CHILD).expect("started as a child node");
        child_node(&child).await.expect("the child node runs");
    }
}
