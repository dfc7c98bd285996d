use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self) -> u32 {
        1
    }

    #[info]
    fn tick(&mut self, cx: &mut Context<Self>) {
        cx.send_after(Duration::from_secs(1), SInfo::Tick {});
    }
}

fn main() {}
