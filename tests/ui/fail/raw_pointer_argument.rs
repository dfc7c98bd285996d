use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn poke(&mut self, at: *mut u8) {
        let _ = at;
    }
}

fn main() {}
