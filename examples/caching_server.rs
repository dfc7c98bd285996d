//! The guide's caching pattern: a server that answers `get(key)` from its cache, and on a
//! miss fetches the value from a real source (a local HTTP endpoint), caches it and
//! replies.
//!
//! Run it with `cargo run --example caching_server`. It starts a local item service that
//! counts its requests, gets a few keys twice, and shows that only misses reach the
//! service, and that three callers missing the same key at once share one fetch.
//!
//! The guide fetches inside `handle_call`, which stops the server for as long as the
//! source takes. Here a miss starts the fetch in a task tied to the server
//! (`cx.spawn_linked_task`, Elixir's `Task.async`) and keeps the caller's `ReplyTo`; the
//! result comes back as an info message, which caches the value and answers every caller
//! waiting for that key. Meanwhile the server answers hits. A failed fetch is not cached:
//! the next `get` tries again. The fetches under way end with the server, however it
//! exits, and their callers get the server's exit reason.

mod support;

use std::collections::HashMap;
use std::error::Error;

use genserver_runtime::prelude::*;
use support::http::{HttpClient, HttpFailure};
use support::services::LocalServices;

/// What `get` answers: the value, or why it could not be fetched.
pub type Fetched = Result<String, HttpFailure>;

/// Caches the values of a source that serves the value of `key` at `{source}/{key}`.
pub struct CachingServer {
    source: reqwest::Url,
    client: HttpClient,
    cache: HashMap<String, String>,
    /// The keys being fetched, each with the callers waiting for its value.
    fetching: HashMap<String, Vec<ReplyTo<Fetched>>>,
}

#[genserver]
impl CachingServer {
    /// Caches values from `source`, a base URL such as `http://127.0.0.1:8080/items`;
    /// each fetch gives up after `timeout`.
    #[init]
    fn init(source: String, timeout: Duration) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let source = reqwest::Url::parse(&source)?;
        if source.cannot_be_a_base() {
            return Err(format!("{source} cannot be the base of a key's URL").into());
        }
        let client = HttpClient::new(timeout)?;
        Ok(CachingServer { source, client, cache: HashMap::new(), fetching: HashMap::new() })
    }

    /// The value of `key`: from the cache, or fetched from the source and cached.
    #[call]
    pub fn get(&mut self, key: String, reply_to: ReplyTo<Fetched>, cx: &mut Context<Self>) -> NoReply {
        if let Some(value) = self.cache.get(&key) {
            reply_to.reply(Ok(value.clone()));
        } else if let Some(waiters) = self.fetching.get_mut(&key) {
            waiters.push(reply_to);
        } else {
            tracing::info!("cache miss: fetching {key:?}");
            let (client, url, fetched_key) = (self.client.clone(), self.url_of(&key), key.clone());
            // Aborted if the server exits first: nobody would wait for the value.
            cx.spawn_linked_task(async move { client.fetch_text(url.as_str()).await }, |value| {
                CachingServerInfo::Fetched { key: fetched_key, value }
            });
            self.fetching.insert(key, vec![reply_to]);
        }
        NoReply::ok()
    }

    /// How many values the cache holds.
    #[call]
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The fetch of `key` has finished: caches the value if there is one, and answers
    /// every caller that waited for it.
    #[info]
    fn fetched(&mut self, key: String, value: Fetched) {
        let waiters = self.fetching.remove(&key).unwrap_or_default();
        match &value {
            Ok(found) => {
                self.cache.insert(key, found.clone());
            }
            Err(failure) => tracing::warn!("could not fetch {key:?}: {failure}"),
        }
        for waiter in waiters {
            waiter.reply(value.clone());
        }
    }

    /// The fetches under way end with the server: their tasks are aborted, and their
    /// callers get the exit reason.
    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        tracing::info!("caching server stopping ({reason}) with {} cached value(s)", self.cache.len());
    }
}

impl CachingServer {
    /// `{source}/{key}`, with `key` escaped into a single path segment.
    fn url_of(&self, key: &str) -> reqwest::Url {
        let mut url = self.source.clone();
        // Cannot fail: `init` accepts only URLs that can be a base.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(key);
        }
        url
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    support::log_to_stdout();
    let services = LocalServices::start().await?;
    println!("The source: {}/{{key}}, which counts its requests", services.items_url());
    let cache = CachingServer::start(services.items_url(), HttpClient::DEFAULT_TIMEOUT).await?;

    for key in ["apple", "apple", "pear", "apple"] {
        let value = cache.get(key.to_string()).await??;
        println!("get({key:?}) = {value:?}   (source requests so far: {})", services.item_requests());
    }

    let (first, second, third) =
        tokio::join!(cache.get("plum".into()), cache.get("plum".into()), cache.get("plum".into()));
    println!("three callers at once: {:?}, {:?}, {:?}", first?, second?, third?);
    println!("source requests: {}, values cached: {}", services.item_requests(), cache.cached().await?);

    cache.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    services.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use support::services::refused_url;

    async fn start(source: String) -> CachingServerRef {
        CachingServer::start(source, HttpClient::DEFAULT_TIMEOUT).await.expect("the server starts")
    }

    async fn get(cache: &CachingServerRef, key: &str) -> Fetched {
        cache.get(key.into()).await.expect("get answers")
    }

    #[tokio::test]
    async fn a_miss_fetches_from_the_source_once_and_caches_the_value() {
        let services = LocalServices::start().await.expect("services start");
        let cache = start(services.items_url()).await;
        assert_eq!(get(&cache, "apple").await, Ok("item apple (fetch #1)".into()));
        assert_eq!(services.item_requests(), 1);
        assert_eq!(cache.cached().await.expect("answers"), 1);
    }

    #[tokio::test]
    async fn a_hit_answers_from_the_cache_without_fetching() {
        let services = LocalServices::start().await.expect("services start");
        let cache = start(services.items_url()).await;
        get(&cache, "apple").await.expect("fetched");
        // A new fetch would say "fetch #2": the value comes from the cache.
        assert_eq!(get(&cache, "apple").await, Ok("item apple (fetch #1)".into()));
        assert_eq!(get(&cache, "apple").await, Ok("item apple (fetch #1)".into()));
        assert_eq!(services.item_requests(), 1);
        assert_eq!(get(&cache, "pear").await, Ok("item pear (fetch #2)".into()));
        assert_eq!(services.item_requests(), 2);
    }

    #[tokio::test]
    async fn callers_missing_the_same_key_at_once_share_one_fetch() {
        let services = LocalServices::start().await.expect("services start");
        let cache = start(services.items_url()).await;
        let values = tokio::join!(get(&cache, "plum"), get(&cache, "plum"), get(&cache, "plum"));
        let expected: Fetched = Ok("item plum (fetch #1)".into());
        assert_eq!(values, (expected.clone(), expected.clone(), expected));
        assert_eq!(services.item_requests(), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_reaches_every_caller_and_is_not_cached() {
        let services = LocalServices::start().await.expect("services start");
        let cache = start(services.items_url()).await;
        services.items().set(false);
        let (first, second) = tokio::join!(get(&cache, "fig"), get(&cache, "fig"));
        assert_eq!((first, second), (Err(HttpFailure::BadStatus(503)), Err(HttpFailure::BadStatus(503))));
        assert_eq!(services.item_requests(), 1);
        assert_eq!(cache.cached().await.expect("answers"), 0);
        // The next get tries the source again.
        services.items().set(true);
        assert_eq!(get(&cache, "fig").await, Ok("item fig (fetch #2)".into()));
        assert_eq!(get(&cache, "fig").await, Ok("item fig (fetch #2)".into()));
        assert_eq!(services.item_requests(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_source_is_an_error_not_a_crash() {
        let cache = start(refused_url().await.expect("a free port")).await;
        assert!(matches!(get(&cache, "x").await, Err(HttpFailure::Unreachable(_))));
        assert_eq!(cache.cached().await.expect("still answers"), 0);
    }

    #[tokio::test]
    async fn a_key_is_escaped_into_one_path_segment_of_the_source() {
        let services = LocalServices::start().await.expect("services start");
        let cache = start(format!("{}/", services.items_url())).await;
        let key = "a b/c?d#e";
        assert_eq!(get(&cache, key).await, Ok(format!("item {key} (fetch #1)")));
    }

    #[tokio::test]
    async fn a_source_that_cannot_take_keys_is_refused_at_start() {
        for source in ["not a url", "mailto:someone@example.com"] {
            let started = CachingServer::start(source.into(), HttpClient::DEFAULT_TIMEOUT).await;
            assert!(started.is_err(), "{source} was accepted");
        }
    }
}
