use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn whereis(&self) -> String {
        String::new()
    }
}

fn main() {}
