use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(by: u32) {
        let _ = by;
    }
}

fn main() {}
