//! One module per contender. Each defines the counter and the key-value server the way
//! its library's documentation does, and implements the harness traits with thin
//! wrappers around the library's own client calls.

pub mod actix;
pub mod floor;
pub mod genserver;
pub mod kameo;
pub mod ractor;
