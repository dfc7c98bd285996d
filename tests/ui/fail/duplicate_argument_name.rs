use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn add(&mut self, n: u32, n: u32) {
        let _ = n;
    }
}

fn main() {}
