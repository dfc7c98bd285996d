#![doc = include_str!("../docs/elixir-to-rust.md")]

/// The guide's chapter "Testing your servers" (`docs/testing.md`), here so that its
/// samples run as doctests.
#[doc = include_str!("../docs/testing.md")]
pub mod testing {}

/// The repository README's examples, compiled and run as doctests so that they stay true
/// (here rather than in `genserver-runtime`, whose package does not contain that file).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
