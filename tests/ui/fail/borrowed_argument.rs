use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn len(&self, text: &str) -> usize {
        text.len()
    }
}

fn main() {}
