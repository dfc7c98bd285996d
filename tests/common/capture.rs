//! The tests' `tracing` capture is the test kit's ([`genserver_runtime::testing::Logs`]),
//! under the name these tests gave it; see the kit for how it works.

// Each test binary uses a part of it.
#[allow(unused_imports)]
pub use genserver_runtime::testing::{Captured, Fields, Logs as Capture, keep_callsites_enabled};
