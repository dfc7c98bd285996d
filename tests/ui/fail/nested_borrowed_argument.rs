use genserver_runtime::prelude::*;
use std::borrow::Cow;

struct S;

#[genserver]
impl S {
    #[cast]
    fn log(&mut self, line: Cow<'_, str>) {
        let _ = line;
    }
}

fn main() {}
