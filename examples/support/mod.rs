//! Code shared by the examples and their tests, included by each with `mod support;`.
//!
//! - [`services`]: real HTTP services on 127.0.0.1 to check and fetch from: endpoints that
//!   answer 200, answer 500, hang, flap between the two, or serve items and count the
//!   fetches, plus a URL whose connection is refused.
//! - [`http`]: the one HTTP check every example uses (a GET with a timeout; 200 is
//!   healthy), the statuses of the guide's health checkers, and a text fetch.
//! - [`temp_dir`]: a temporary folder, removed when dropped, for the SQLite examples'
//!   database files.
//! - `poll` (tests only): polling a call once, to queue callers in a known order.
//! - [`log_to_stdout`]: short log lines for the demos.
//!
//! Cargo does not build this directory as an example of its own.

// Each example uses a different part of this module.
#![allow(dead_code)]

pub mod http;
#[cfg(test)]
pub mod poll;
pub mod services;
pub mod temp_dir;

use std::fmt;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// Prints the examples' `tracing` events at info level and above (or as `RUST_LOG`
/// says), one short line each: `  log LEVEL: message`.
pub fn log_to_stdout() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).event_format(ShortLine).init();
}

/// A log event as `  log LEVEL: message`, without the spans around it (a server's type
/// and id), which make the demos' lines long.
struct ShortLine;

impl<S, N> FormatEvent<S, N> for ShortLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        cx: &FmtContext<'_, S, N>,
        mut out: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        write!(out, "  log {:>5}: ", event.metadata().level())?;
        cx.field_format().format_fields(out.by_ref(), event)?;
        writeln!(out)
    }
}
