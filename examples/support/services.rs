//! Local HTTP services for the examples and their tests: one axum server on an ephemeral
//! port of 127.0.0.1, whose endpoints behave in every way a health check must handle.
//!
//! | Path | Answer |
//! |---|---|
//! | `/healthy` | 200 at once |
//! | `/failing` | 500 at once |
//! | `/hanging` | nothing until the services shut down (then 503): a check times out |
//! | `/flapping` | 200 or 500, as its [`Switch`] says |
//! | `/items/{key}` | 200 with a text naming the key and the fetch number, or 503 when its [`Switch`] is off; counts every request |
//!
//! [`refused_url`] gives a URL whose connection is refused. Tests flip the switches
//! themselves; a demo can make `/flapping` flip on a schedule ([`LocalServices::flap`]).
//! [`LocalServices::shutdown`] stops the server and everything it started.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the waits meant for tests wait before they fail (in real time: under a
/// paused clock they would fail at once, as the clock jumps ahead while sockets wait).
const TEST_WAIT: Duration = Duration::from_secs(10);

/// An on/off switch shared by the code that flips it and the endpoint that reads it.
#[derive(Clone, Debug)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    /// A switch that starts `on` or off.
    pub fn new(on: bool) -> Self {
        Switch(Arc::new(AtomicBool::new(on)))
    }

    /// Turns the switch on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    /// Whether the switch is on.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the endpoints share with [`LocalServices`].
#[derive(Clone)]
struct Shared {
    /// On: `/flapping` answers 200; off: 500.
    flapping: Switch,
    /// On: `/items/{key}` answers 200; off: 503.
    items: Switch,
    /// How many requests `/items/{key}` has received.
    item_requests: watch::Sender<u64>,
    /// How many requests `/hanging` has received.
    hanging_requests: watch::Sender<u64>,
    /// How many `/hanging` requests the client gave up before the services shut down.
    hanging_abandoned: watch::Sender<u64>,
    /// Becomes `true` when the services shut down.
    stopping: watch::Receiver<bool>,
}

/// Real HTTP services on 127.0.0.1, running until [`shutdown`](Self::shutdown) (or until
/// dropped, which starts the same shutdown without waiting for it).
pub struct LocalServices {
    address: SocketAddr,
    shared: Shared,
    stop: watch::Sender<bool>,
    server: JoinHandle<io::Result<()>>,
}

impl LocalServices {
    /// Starts the services on an ephemeral port, with `/flapping` healthy and `/items`
    /// available.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let (stop, stopping) = watch::channel(false);
        let shared = Shared {
            flapping: Switch::new(true),
            items: Switch::new(true),
            item_requests: watch::Sender::new(0),
            hanging_requests: watch::Sender::new(0),
            hanging_abandoned: watch::Sender::new(0),
            stopping: stopping.clone(),
        };
        let app = Router::new()
            .route("/healthy", get(|| async { "ok" }))
            .route("/failing", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "failing") }))
            .route("/hanging", get(hanging))
            .route("/flapping", get(flapping))
            .route("/items/{key}", get(item))
            .with_state(shared.clone());
        let mut stopping = stopping;
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                })
                .await
        });
        Ok(LocalServices { address, shared, stop, server })
    }

    /// The URL of `path` on these services, e.g. `url("/healthy")`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `/healthy`: answers 200.
    pub fn healthy_url(&self) -> String {
        self.url("/healthy")
    }

    /// `/failing`: answers 500.
    pub fn failing_url(&self) -> String {
        self.url("/failing")
    }

    /// `/hanging`: never answers while the services run.
    pub fn hanging_url(&self) -> String {
        self.url("/hanging")
    }

    /// `/flapping`: answers 200 or 500, as [`flapping`](Self::flapping) says.
    pub fn flapping_url(&self) -> String {
        self.url("/flapping")
    }

    /// `/items`: the base of the item URLs, `/items/{key}`.
    pub fn items_url(&self) -> String {
        self.url("/items")
    }

    /// The switch of `/flapping`: on, it answers 200; off, 500.
    pub fn flapping(&self) -> &Switch {
        &self.shared.flapping
    }

    /// The switch of `/items/{key}`: on, it serves items; off, it answers 503.
    pub fn items(&self) -> &Switch {
        &self.shared.items
    }

    /// How many requests `/items/{key}` has received, whatever it answered.
    pub fn item_requests(&self) -> u64 {
        *self.shared.item_requests.borrow()
    }

    /// How many requests `/hanging` has received.
    pub fn hanging_requests(&self) -> u64 {
        *self.shared.hanging_requests.borrow()
    }

    /// Waits until `/hanging` has received at least `count` requests. Panics after 10 s:
    /// for tests, which must fail rather than hang.
    pub async fn hanging_requests_reach(&self, count: u64) {
        let mut requests = self.shared.hanging_requests.subscribe();
        let reached = requests.wait_for(|received| *received >= count);
        if tokio::time::timeout(TEST_WAIT, reached).await.is_err() {
            panic!("/hanging did not receive {count} request(s) within {TEST_WAIT:?}");
        }
    }

    /// Waits until clients have given up at least `count` requests to `/hanging` (closed
    /// the connection before the answer). Panics after 10 s: for tests, which must fail
    /// rather than hang.
    pub async fn hanging_abandoned_reach(&self, count: u64) {
        let mut abandoned = self.shared.hanging_abandoned.subscribe();
        let reached = abandoned.wait_for(|given_up| *given_up >= count);
        if tokio::time::timeout(TEST_WAIT, reached).await.is_err() {
            panic!("clients did not abandon {count} request(s) to /hanging within {TEST_WAIT:?}");
        }
    }

    /// Flips `/flapping` after `first`, then every `period`, until the services shut down.
    pub fn flap(&self, first: Duration, period: Duration) {
        let switch = self.shared.flapping.clone();
        let mut stopping = self.shared.stopping.clone();
        tokio::spawn(async move {
            let mut flips = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
            loop {
                tokio::select! {
                    _ = flips.tick() => switch.set(!switch.is_on()),
                    _ = stopping.wait_for(|stop| *stop) => return,
                }
            }
        });
    }

    /// Stops the services: the server stops accepting, requests still hanging get their
    /// 503, the flapping schedule ends, and this returns once the server has finished.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.send_replace(true);
        (&mut self.server).await.map_err(io::Error::other)?
    }
}

impl Drop for LocalServices {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// A URL on 127.0.0.1 whose connections are refused: a port bound, then closed.
pub async fn refused_url() -> io::Result<String> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let address = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{address}/health"))
}

/// `/hanging`: answers only when the services shut down. A request whose client goes
/// away first is counted as abandoned.
async fn hanging(State(shared): State<Shared>) -> StatusCode {
    shared.hanging_requests.send_modify(|received| *received += 1);
    let abandoned = CountOnDrop(Some(shared.hanging_abandoned.clone()));
    let mut stopping = shared.stopping.clone();
    let _ = stopping.wait_for(|stop| *stop).await;
    abandoned.disarm();
    StatusCode::SERVICE_UNAVAILABLE
}

/// `/flapping`: 200 or 500, by its switch.
async fn flapping(State(shared): State<Shared>) -> (StatusCode, &'static str) {
    if shared.flapping.is_on() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "failing")
    }
}

/// `/items/{key}`: the item, naming the fetch it came from, e.g. `item apple (fetch #3)`.
async fn item(State(shared): State<Shared>, Path(key): Path<String>) -> (StatusCode, String) {
    let mut number = 0;
    shared.item_requests.send_modify(|requests| {
        *requests += 1;
        number = *requests;
    });
    if shared.items.is_on() {
        (StatusCode::OK, format!("item {key} (fetch #{number})"))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "items unavailable".to_string())
    }
}

/// Adds one to a counter when dropped, unless disarmed: counts the handlers that were
/// cancelled because their client went away.
struct CountOnDrop(Option<watch::Sender<u64>>);

impl CountOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        if let Some(counter) = self.0.take() {
            counter.send_modify(|count| *count += 1);
        }
    }
}
