//! Argument and reply types that do travel between tasks: `&'static` references,
//! function pointers and boxed closures that borrow only in their signature.
#![deny(warnings)]

use genserver_runtime::prelude::*;

pub struct Registry {
    names: Vec<&'static str>,
    checks: Vec<fn(&str) -> bool>,
}

#[genserver]
impl Registry {
    #[cast]
    fn add(&mut self, name: &'static str) {
        self.names.push(name);
    }

    #[cast]
    fn add_check(&mut self, check: fn(&str) -> bool) {
        self.checks.push(check);
    }

    #[call]
    fn count_matching(&self, pred: Box<dyn Fn(&str) -> bool + Send>) -> usize {
        self.names.iter().filter(|name| pred(name) && self.checks.iter().all(|check| check(name))).count()
    }

    #[call]
    fn first(&self) -> Option<&'static str> {
        self.names.first().copied()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let registry = Registry::start(Registry { names: Vec::new(), checks: Vec::new() }).await.unwrap();
    registry.add("alpha");
    registry.add("beta");
    registry.add_check(|name| name.len() > 4);
    assert_eq!(registry.count_matching(Box::new(|name| name.starts_with('a'))).await.unwrap(), 1);
    assert_eq!(registry.first().await.unwrap(), Some("alpha"));
}
