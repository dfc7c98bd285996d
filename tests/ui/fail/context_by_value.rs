use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self, cx: Context<Self>) {
        let _ = cx;
    }
}

fn main() {}
