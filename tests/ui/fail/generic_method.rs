use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn show<T: std::fmt::Debug>(&mut self, value: T) {
        println!("{value:?}");
    }
}

fn main() {}
