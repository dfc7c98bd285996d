use genserver_runtime::prelude::*;

#[genserver]
fn serve() {}

fn main() {}
