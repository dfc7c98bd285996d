use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self, cx: &mut Context<Self>, again: &mut Context<Self>) {
        let _ = (cx, again);
    }
}

fn main() {}
