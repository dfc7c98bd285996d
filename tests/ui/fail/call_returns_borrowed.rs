use genserver_runtime::prelude::*;

struct S {
    name: String,
}

#[genserver]
impl S {
    #[call]
    fn label(&self) -> &str {
        &self.name
    }
}

fn main() {}
