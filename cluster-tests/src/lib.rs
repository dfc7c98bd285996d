//! The guide's cluster chapter, as crate docs so that its code is tested with the
//! `cluster` feature (the root package builds without it).
#![doc = include_str!("../../docs/cluster.md")]
