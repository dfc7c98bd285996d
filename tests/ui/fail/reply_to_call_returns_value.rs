use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[call]
    fn get(&mut self, from: ReplyTo<u32>) -> u32 {
        from.reply(1);
        1
    }
}

fn main() {}
