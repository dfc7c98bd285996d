//! A generic server: the type parameters travel to the generated enums and handle.
#![deny(warnings)]

use std::collections::HashMap;
use std::hash::Hash;

use genserver_runtime::prelude::*;

pub struct Cache<K> {
    map: HashMap<K, u64>,
}

#[genserver]
impl<K: Hash + Eq + Send + 'static> Cache<K> {
    #[call]
    fn get(&self, key: K) -> Option<u64> {
        self.map.get(&key).copied()
    }

    #[cast]
    fn put(&mut self, key: K, value: u64) {
        self.map.insert(key, value);
    }

    #[info]
    fn expire(&mut self) {
        self.map.clear();
    }

    #[handle_continue]
    fn compact(&mut self) {
        self.map.shrink_to_fit();
    }
}

/// The bounds may also sit in a `where` clause.
pub struct Latest<T> {
    value: Option<T>,
}

#[genserver]
impl<T> Latest<T>
where
    T: Clone + Send + 'static,
{
    #[call]
    fn get(&self) -> Option<T> {
        self.value.clone()
    }

    #[cast]
    fn set(&mut self, value: T) {
        self.value = Some(value);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cache: CacheRef<String> = Cache::start(Cache { map: HashMap::new() }).await.unwrap();
    cache.put("a".into(), 1);
    assert_eq!(cache.get("a".into()).await.unwrap(), Some(1));
    cache.send_info(CacheInfo::Expire {}).unwrap();
    assert_eq!(cache.get("a".into()).await.unwrap(), None);

    let latest = Latest::start(Latest { value: None }).await.unwrap();
    latest.set(vec![1u8]);
    assert_eq!(latest.get().await.unwrap(), Some(vec![1]));
}
