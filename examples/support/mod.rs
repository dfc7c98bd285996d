//! Code shared by the HTTP examples (`health_checker`, `periodic_health_checker`,
//! `service_monitor`, `caching_server`), included by each with `mod support;`.
//!
//! - [`services`]: real HTTP services on 127.0.0.1 to check and fetch from: endpoints that
//!   answer 200, answer 500, hang, flap between the two, or serve items and count the
//!   fetches, plus a URL whose connection is refused.
//! - [`http`]: the one HTTP check every example uses (a GET with a timeout; 200 is
//!   healthy), the statuses of the guide's health checkers, and a text fetch.
//!
//! Cargo does not build this directory as an example of its own.

// Each example uses a different part of this module.
#![allow(dead_code)]

pub mod http;
pub mod services;
