use genserver_runtime::prelude::*;

struct S<const N: usize>;

#[genserver]
impl<const N: usize> S<N> {
    #[call]
    fn size(&self) -> usize {
        N
    }
}

fn main() {}
