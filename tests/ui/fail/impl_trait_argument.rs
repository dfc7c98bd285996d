use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn show(&mut self, value: impl std::fmt::Display) {
        println!("{value}");
    }
}

fn main() {}
