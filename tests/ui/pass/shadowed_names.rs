//! The generated code means the same whatever the user's module names `str` or `u64`,
//! and whatever constants it has with the names of the generated code's own parameters
//! and locals (which are prefixed, except the documented parameters of the public
//! functions: `start(state)`, `whereis(name)`, `send_info(info)`, `child_spec(args)`).
#![deny(warnings)]
#![allow(non_camel_case_types, non_upper_case_globals)]

mod server {
    #![allow(dead_code)]

    use genserver_runtime::prelude::*;

    pub struct str;
    pub struct u64;
    const f: u8 = 0;
    const server: u8 = 0;
    const cx: u8 = 0;
    const msg: u8 = 0;
    const value: u8 = 0;
    const reason: u8 = 0;
    const reply_to: u8 = 0;
    const never: u8 = 0;

    pub struct Counter {
        count: ::core::primitive::u64,
    }

    #[genserver]
    impl Counter {
        #[call]
        pub fn get(&self) -> ::core::primitive::u64 {
            self.count
        }

        #[call]
        pub fn later(&mut self, from: ReplyTo<::core::primitive::u64>) -> NoReply {
            from.reply(self.count);
            NoReply::ok()
        }

        #[cast]
        pub fn add(&mut self, by: ::core::primitive::u64) {
            self.count += by;
        }

        #[info]
        fn tick(&mut self) {}

        #[terminate]
        fn terminate(&mut self, why: &ExitReason) {
            let _ = why;
        }
    }

    pub fn counter(count: ::core::primitive::u64) -> Counter {
        Counter { count }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counter = server::Counter::start(server::counter(1)).await.unwrap();
    counter.add(1);
    assert_eq!(counter.get().await.unwrap(), 2);
    assert_eq!(counter.later().await.unwrap(), 2);
    assert!(server::Counter::whereis("nobody").is_none());
    let _ = format!("{counter:?}");
}
