use genserver_runtime::prelude::*;

pub struct Cache<V> {
    value: Option<V>,
}

#[genserver(remote)]
impl<V: Clone + Send + 'static> Cache<V> {
    #[call]
    pub fn get(&self) -> Option<V> {
        self.value.clone()
    }
}

fn main() {}
