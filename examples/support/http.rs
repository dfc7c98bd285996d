//! The HTTP side of the examples: one health check (a GET with a timeout, where only a
//! 200 is healthy), shared by every checker, and a text fetch for the caching server.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fmt;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

/// Why a request did not give a 200.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpFailure {
    /// The server answered with another status code.
    BadStatus(u16),
    /// No answer within the timeout.
    TimedOut(Duration),
    /// No answer at all: the connection failed, or the URL is not one to request.
    Unreachable(String),
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpFailure::BadStatus(code) => write!(f, "HTTP {code}"),
            HttpFailure::TimedOut(after) => write!(f, "timed out after {after:?}"),
            HttpFailure::Unreachable(reason) => write!(f, "unreachable: {reason}"),
        }
    }
}

impl Error for HttpFailure {}

/// An HTTP client whose every request gives up after a timeout. Cheap to clone: clones
/// share their connections.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpClient {
    /// The guide's request timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A client whose requests give up after `timeout`. It ignores proxy settings: the
    /// examples only reach services on this machine.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).no_proxy().build()?;
        Ok(HttpClient { client, timeout })
    }

    /// Checks `url` with a GET: how long it took to answer 200, or why it did not.
    pub async fn check(&self, url: &str) -> Result<Duration, HttpFailure> {
        let started = Instant::now();
        let response = self.client.get(url).send().await.map_err(|error| self.failure(&error))?;
        match response.status().as_u16() {
            200 => Ok(started.elapsed()),
            code => Err(HttpFailure::BadStatus(code)),
        }
    }

    /// Fetches the text at `url`, which must answer 200.
    pub async fn fetch_text(&self, url: &str) -> Result<String, HttpFailure> {
        let response = self.client.get(url).send().await.map_err(|error| self.failure(&error))?;
        match response.status().as_u16() {
            200 => response.text().await.map_err(|error| self.failure(&error)),
            code => Err(HttpFailure::BadStatus(code)),
        }
    }

    /// What a request error means: a timeout, or the deepest cause of the failure (such as
    /// "Connection refused"), which says more than reqwest's own message.
    fn failure(&self, error: &reqwest::Error) -> HttpFailure {
        if error.is_timeout() {
            return HttpFailure::TimedOut(self.timeout);
        }
        let mut cause: &dyn Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        HttpFailure::Unreachable(cause.to_string())
    }
}

/// The status of a URL in the guide's health checkers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// It answered 200.
    Healthy,
    /// It answered with this other status code.
    Unhealthy(u16),
    /// It did not answer: the request failed or timed out, for this reason.
    Unreachable(String),
}

impl Health {
    /// The health that a check's outcome means.
    pub fn of(outcome: &Result<Duration, HttpFailure>) -> Health {
        match outcome {
            Ok(_) => Health::Healthy,
            Err(HttpFailure::BadStatus(code)) => Health::Unhealthy(*code),
            Err(HttpFailure::Unreachable(reason)) => Health::Unreachable(reason.clone()),
            Err(failure) => Health::Unreachable(failure.to_string()),
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => write!(f, "healthy"),
            Health::Unhealthy(code) => write!(f, "unhealthy (HTTP {code})"),
            Health::Unreachable(reason) => write!(f, "unreachable ({reason})"),
        }
    }
}

/// Checks every URL at once and returns the health of each, after at most the client's
/// timeout. Cancelling it (dropping the future) cancels every request.
pub async fn check_all(client: &HttpClient, urls: &[String]) -> BTreeMap<String, Health> {
    let mut checks = JoinSet::new();
    let mut url_of_task = HashMap::new();
    for url in urls {
        let (client, checked_url) = (client.clone(), url.clone());
        let task = checks.spawn(async move { Health::of(&client.check(&checked_url).await) });
        url_of_task.insert(task.id(), url.clone());
    }
    let mut statuses = BTreeMap::new();
    while let Some(checked) = checks.join_next_with_id().await {
        let (task, health) = match checked {
            Ok((task, health)) => (task, health),
            // A check that panicked still gives its URL a status.
            Err(error) => (error.id(), Health::Unreachable(format!("the check failed: {error}"))),
        };
        if let Some(url) = url_of_task.remove(&task) {
            statuses.insert(url, health);
        }
    }
    statuses
}
