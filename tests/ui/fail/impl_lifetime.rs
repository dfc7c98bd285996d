use genserver_runtime::prelude::*;

struct S<'a> {
    name: &'a str,
}

#[genserver]
impl<'a> S<'a> {
    #[call]
    fn label(&self) -> String {
        self.name.to_string()
    }
}

fn main() {}
