use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn show(&self) -> impl std::fmt::Display {
        42
    }
}

fn main() {}
