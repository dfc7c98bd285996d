use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[init]
    fn init(n: u32) {
        let _ = n;
    }
}

fn main() {}
