use genserver_runtime::prelude::*;

struct S {
    ticks: u64,
}

#[genserver]
impl S {
    #[info]
    fn tick(&mut self) -> u64 {
        self.ticks += 1;
        self.ticks
    }
}

fn main() {}
