#![doc = include_str!("../docs/elixir-to-rust.md")]
