use genserver_runtime::prelude::*;

pub struct Counter {
    count: u64,
}

#[genserver(remote = true)]
impl Counter {
    #[call]
    pub fn get(&self) -> u64 {
        self.count
    }
}

fn main() {}
