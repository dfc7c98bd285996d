use genserver_runtime::prelude::*;

struct S {
    count: u32,
}

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self) -> u32 {
        self.count += 1;
        self.count
    }
}

fn main() {}
