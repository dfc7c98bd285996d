use genserver_runtime::prelude::*;

pub struct Registry {
    names: Vec<String>,
}

#[genserver(remote)]
impl Registry {
    #[call]
    pub fn global(&self) -> Vec<String> {
        self.names.clone()
    }
}

fn main() {}
