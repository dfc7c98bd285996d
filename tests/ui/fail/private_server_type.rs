use genserver_runtime::prelude::*;

// The generated client handle is `pub` by default, so the server type must be too.
struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self) {}
}

fn main() {}
