use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn ping(&mut self, from: ReplyTo<u32>) {
        from.reply(1);
    }
}

fn main() {}
