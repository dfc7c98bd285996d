use genserver_runtime::prelude::*;

#[call]
fn get() -> u32 {
    0
}

fn main() {
    let _ = get();
}
