//! The integration tests of `genserver-runtime`'s `cluster` feature live in `tests/`: nodes
//! on Zenoh inside one test process, on 127.0.0.1 only. This library is empty; it exists
//! because a package needs a target.
#![deny(missing_docs)]
