//! Exercise 1 of the Elixir GenServer guide, "build a simple key-value store GenServer".
//!
//! Run it with `cargo run --example key_value_store`. It starts a store backed by a
//! SQLite file, puts, reads, lists and deletes keys, stops the store (its `terminate`
//! saves every entry), then starts a new store on the same file and finds the data again.
//!
//! The entries live in the server's memory, so reads and writes are plain map operations;
//! the file is loaded by `init` and written by `save` and by `terminate`, on tokio's
//! blocking threads. As in OTP, `terminate` runs on a stop but not on a kill: changes
//! since the last save are lost if the store is killed.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genserver_runtime::prelude::*;
use rusqlite::Connection;

/// What loading or saving the store can fail with.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// A map of string keys to string values, saved to a SQLite file.
pub struct KeyValueStore {
    entries: BTreeMap<String, String>,
    /// Where the entries are saved; `None` for a store kept in memory only.
    file: Option<PathBuf>,
}

#[genserver]
impl KeyValueStore {
    /// Starts with the entries saved in `file` (none if it does not exist yet), or empty
    /// and in memory only if `file` is `None`. Fails if the file is not a store.
    #[init]
    async fn init(file: Option<PathBuf>) -> Result<Self, StoreError> {
        let entries = match file.clone() {
            Some(path) => tokio::task::spawn_blocking(move || load(&path)).await??,
            None => BTreeMap::new(),
        };
        Ok(KeyValueStore { entries, file })
    }

    /// The value of `key`, if set.
    #[call]
    pub fn get(&self, key: String) -> Option<String> {
        self.entries.get(&key).cloned()
    }

    /// Sets `key` to `value`; returns the value it replaces, if any.
    #[call]
    pub fn put(&mut self, key: String, value: String) -> Option<String> {
        self.entries.insert(key, value)
    }

    /// Removes `key`; returns its value, if it was set.
    #[call]
    pub fn delete(&mut self, key: String) -> Option<String> {
        self.entries.remove(&key)
    }

    /// The keys that start with `prefix` (all of them for `""`), in order.
    #[call]
    pub fn keys(&self, prefix: String) -> Vec<String> {
        self.entries
            .range(prefix.clone()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// Saves every entry to the store's file now; returns how many were saved (`Ok(0)` for
    /// a store kept in memory only).
    #[call]
    pub async fn save(&mut self) -> Result<usize, String> {
        self.save_to_file().await.map_err(|error| error.to_string())
    }

    /// Saves the entries as the store stops.
    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason) {
        match self.save_to_file().await {
            Ok(saved) => tracing::info!(saved, %reason, "key-value store saved"),
            Err(error) => tracing::error!(%error, %reason, "key-value store could not save its entries"),
        }
    }
}

impl KeyValueStore {
    async fn save_to_file(&self) -> Result<usize, StoreError> {
        let Some(path) = self.file.clone() else { return Ok(0) };
        let entries = self.entries.clone();
        tokio::task::spawn_blocking(move || save(&path, &entries)).await?
    }
}

/// Opens the store's file, creating its table if needed.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")?;
    Ok(conn)
}

/// Every entry saved in the file.
fn load(path: &Path) -> Result<BTreeMap<String, String>, StoreError> {
    let conn = open(path)?;
    let mut select = conn.prepare("SELECT key, value FROM entries")?;
    let entries = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(entries)
}

/// Replaces what the file holds with `entries`, in one transaction: a failed save leaves
/// the previous one whole.
fn save(path: &Path, entries: &BTreeMap<String, String>) -> Result<usize, StoreError> {
    let mut conn = open(path)?;
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM entries", [])?;
    {
        let mut insert = tx.prepare("INSERT INTO entries (key, value) VALUES (?1, ?2)")?;
        for (key, value) in entries {
            insert.execute((key, value))?;
        }
    }
    tx.commit()?;
    Ok(entries.len())
}

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    tracing_subscriber::fmt().with_target(false).init();
    let dir = support::temp_dir::TempDir::new("key-value-store")?;
    let file = dir.join("store.db");

    let store = KeyValueStore::start(Some(file.clone())).await?;
    println!("put(user:1) replaces {:?}", store.put("user:1".into(), "ada".into()).await?);
    println!("put(user:2) replaces {:?}", store.put("user:2".into(), "grace".into()).await?);
    println!("put(user:1) replaces {:?}", store.put("user:1".into(), "ada lovelace".into()).await?);
    store.put("config:mode".into(), "fast".into()).await?;
    println!("get(user:1)   = {:?}", store.get("user:1".into()).await?);
    println!("keys(\"user:\") = {:?}", store.keys("user:".into()).await?);
    println!("delete(user:2) = {:?}", store.delete("user:2".into()).await?);
    println!("keys(\"\")      = {:?}", store.keys(String::new()).await?);

    store.stop(ExitReason::Normal, Duration::from_secs(5)).await?;
    println!("stopped; the entries are in {}", file.display());

    let reopened = KeyValueStore::start(Some(file)).await?;
    println!("a new store on the same file has keys {:?}", reopened.keys(String::new()).await?);
    println!("and get(user:1) = {:?}", reopened.get("user:1".into()).await?);
    reopened.stop(ExitReason::Normal, Duration::from_secs(5)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::support::temp_dir::TempDir;
    use super::*;

    async fn in_memory() -> KeyValueStoreRef {
        KeyValueStore::start(None).await.expect("the store starts")
    }

    #[tokio::test]
    async fn put_then_get_returns_the_value_and_put_returns_what_it_replaced() {
        let store = in_memory().await;
        assert_eq!(store.get("k".into()).await, Ok(None));
        assert_eq!(store.put("k".into(), "one".into()).await, Ok(None));
        assert_eq!(store.put("k".into(), "two".into()).await, Ok(Some("one".into())));
        assert_eq!(store.get("k".into()).await, Ok(Some("two".into())));
    }

    #[tokio::test]
    async fn delete_removes_the_key_and_returns_its_value() {
        let store = in_memory().await;
        store.put("k".into(), "v".into()).await.expect("put");
        assert_eq!(store.delete("k".into()).await, Ok(Some("v".into())));
        assert_eq!(store.delete("k".into()).await, Ok(None));
        assert_eq!(store.get("k".into()).await, Ok(None));
    }

    #[tokio::test]
    async fn keys_lists_the_keys_with_a_prefix_in_order() {
        let store = in_memory().await;
        for key in ["user:2", "config", "user:1", "user", "users", "a"] {
            store.put(key.into(), "x".into()).await.expect("put");
        }
        assert_eq!(store.keys("user:".into()).await, Ok(vec!["user:1".to_string(), "user:2".to_string()]));
        assert_eq!(store.keys("user".into()).await.map(|keys| keys.len()), Ok(4));
        assert_eq!(store.keys("zzz".into()).await, Ok(vec![]));
        let all = store.keys(String::new()).await.expect("keys");
        assert_eq!(all, ["a", "config", "user", "user:1", "user:2", "users"]);
    }

    #[tokio::test]
    async fn keys_and_values_of_any_text_survive_a_save_and_load() {
        let dir = TempDir::new("kv-test").expect("a temporary folder");
        let file = dir.join("store.db");
        let store = KeyValueStore::start(Some(file.clone())).await.expect("starts");
        let odd = [("", "empty key"), ("quote'\"", "tab\tnewline\n"), ("unicode ✓", ""), ("k", "a\0b")];
        for (key, value) in odd {
            store.put(key.into(), value.into()).await.expect("put");
        }
        assert_eq!(store.save().await, Ok(Ok(4)));
        store.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("stops");
        let reopened = KeyValueStore::start(Some(file)).await.expect("starts again");
        for (key, value) in odd {
            assert_eq!(reopened.get(key.into()).await, Ok(Some(value.to_string())), "key {key:?}");
        }
    }

    #[tokio::test]
    async fn stop_saves_the_entries_and_a_new_store_on_the_file_loads_them() {
        let dir = TempDir::new("kv-test").expect("a temporary folder");
        let file = dir.join("store.db");
        let store = KeyValueStore::start(Some(file.clone())).await.expect("starts");
        store.put("a".into(), "1".into()).await.expect("put");
        store.put("b".into(), "2".into()).await.expect("put");
        store.delete("a".into()).await.expect("delete");
        store.stop(ExitReason::Shutdown, Duration::from_secs(5)).await.expect("stops");

        let reopened = KeyValueStore::start(Some(file)).await.expect("starts again");
        assert_eq!(reopened.keys(String::new()).await, Ok(vec!["b".to_string()]));
        assert_eq!(reopened.get("b".into()).await, Ok(Some("2".into())));
    }

    #[tokio::test]
    async fn killed_store_keeps_only_what_was_saved_before() {
        let dir = TempDir::new("kv-test").expect("a temporary folder");
        let file = dir.join("store.db");
        let store = KeyValueStore::start(Some(file.clone())).await.expect("starts");
        store.put("saved".into(), "yes".into()).await.expect("put");
        assert_eq!(store.save().await, Ok(Ok(1)));
        store.put("unsaved".into(), "lost".into()).await.expect("put");
        store.kill();
        assert_eq!(store.exited().await, ExitReason::Killed);

        let reopened = KeyValueStore::start(Some(file)).await.expect("starts again");
        assert_eq!(reopened.keys(String::new()).await, Ok(vec!["saved".to_string()]));
    }

    #[tokio::test]
    async fn file_that_is_not_a_store_fails_the_start_and_is_left_untouched() {
        let dir = TempDir::new("kv-test").expect("a temporary folder");
        let file = dir.join("notes.txt");
        let text = "not a database, and it must survive ".repeat(100);
        std::fs::write(&file, &text).expect("write");
        let started = KeyValueStore::start(Some(file.clone())).await;
        assert!(matches!(started, Err(StartError::Stopped(ExitReason::Error(_)))));
        assert_eq!(std::fs::read_to_string(&file).expect("read"), text);
    }

    #[tokio::test]
    async fn store_in_memory_only_saves_nothing() {
        let store = in_memory().await;
        store.put("k".into(), "v".into()).await.expect("put");
        assert_eq!(store.save().await, Ok(Ok(0)));
    }
}
