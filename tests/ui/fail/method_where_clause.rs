use genserver_runtime::prelude::*;

struct S;

#[genserver]
impl S {
    #[cast]
    fn bump(&mut self, by: u32)
    where
        u32: Copy,
    {
        let _ = by;
    }
}

fn main() {}
