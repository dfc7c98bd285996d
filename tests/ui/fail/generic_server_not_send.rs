use genserver_runtime::prelude::*;

struct Cache<K> {
    keys: Vec<K>,
}

#[genserver]
impl<K> Cache<K> {
    #[call]
    fn len(&self) -> usize {
        self.keys.len()
    }
}

fn main() {}
