//! The generated code means the same whatever the user's module calls `Result`,
//! `Option`, `Box`, `Ok`, `Some` or `core`.
#![deny(warnings)]

mod server {
    #![allow(dead_code)]

    use genserver_runtime::prelude::*;

    pub struct Result;
    pub struct Option;
    pub struct Box;
    pub struct Vec;
    pub struct String;
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub trait Send {}
    pub trait Clone {}
    pub trait Debug {}
    pub mod core {}
    pub mod std {}

    pub struct Counter {
        count: u64,
    }

    #[genserver]
    impl Counter {
        #[init]
        pub fn init(start: u64) -> ::core::result::Result<Self, ::std::string::String> {
            ::core::result::Result::Ok(Counter { count: start })
        }

        #[call]
        pub fn get(&self) -> u64 {
            self.count
        }

        #[call]
        pub fn maybe(&self) -> ::core::option::Option<u64> {
            ::core::option::Option::Some(self.count)
        }

        #[call]
        pub fn later(&mut self, from: ReplyTo<u64>) -> NoReply {
            from.reply(self.count);
            NoReply::ok()
        }

        #[cast]
        pub fn add(&mut self, by: u64) {
            self.count += by;
        }

        #[info]
        fn tick(&mut self) {}

        #[handle_continue]
        fn go(&mut self) {}

        #[timeout]
        fn idle(&mut self) {}

        #[terminate]
        fn terminate(&mut self, reason: &ExitReason) {
            let _ = reason;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter = server::Counter::start(1).await.unwrap();
    counter.add(1);
    assert_eq!(counter.get().await.unwrap(), 2);
    assert_eq!(counter.maybe().await.unwrap(), Some(2));
    assert_eq!(counter.later().await.unwrap(), 2);
}
