use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn ping(&mut self, from: ReplyTo<u32>, again: ReplyTo<u32>) -> NoReply {
        from.reply(1);
        again.reply(2);
        NoReply::ok()
    }
}

fn main() {}
