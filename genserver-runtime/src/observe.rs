//! What a server tells `tracing` about each message: a span per handled message, the
//! caller's span carried into a call, and `sys::trace`'s events.
//!
//! Each handled message gets a `debug` span named `message`, a child of the server's
//! `genserver` span, with the server's id, name and type, the handler, the outcome and
//! the duration. A call made inside a span carries that span to the server, and the
//! message's span follows from it (`follows_from`), so a request can be followed from
//! server to server. None of it runs unless a subscriber listens at `debug` level (or
//! `sys` watches the server): the only cost left is a level check per message and call.

use std::time::Duration;

use tracing::Span;
use tracing::field::Empty;

use crate::mailbox::Envelope;
use crate::returns::Action;
use crate::sys::System;
use crate::{GenServer, ServerRef};

/// The mailbox entry of a call: with its caller's span when a subscriber may want the
/// message's span to follow from it.
#[inline]
pub(crate) fn call_envelope<S: GenServer>(msg: S::Msg) -> Envelope<S> {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        return traced_call(msg);
    }
    Envelope::Msg(msg)
}

#[inline(never)]
fn traced_call<S: GenServer>(msg: S::Msg) -> Envelope<S> {
    let caller = Span::current();
    if caller.is_none() {
        return Envelope::Msg(msg);
    }
    Envelope::System(Box::new(System::Traced { msg, caller }))
}

/// The span of one message handled by `me`, by `handler`; `rendered` is the message's
/// `Debug` if the server shows its messages.
pub(crate) fn message_span<S: GenServer>(
    me: &ServerRef<S>,
    handler: &'static str,
    rendered: Option<&str>,
    caller: Option<&Span>,
) -> Span {
    let span = tracing::debug_span!(
        "message",
        server = Empty,
        id = %me.id(),
        name = me.name(),
        handler,
        message_debug = rendered,
        outcome = Empty,
        duration_us = Empty,
    );
    if !span.is_disabled() {
        span.record("server", crate::type_name::short_type_name::<S>());
        if let Some(caller) = caller {
            span.follows_from(caller);
        }
    }
    span
}

/// What a handler's return says the server does next, in a word.
pub(crate) fn outcome_of<C>(action: &Action<C>) -> &'static str {
    match action {
        Action::Proceed => "ok",
        Action::Timeout(_) => "timeout",
        Action::Continue(_) => "continue",
        Action::Hibernate => "hibernate",
        Action::Stop(_) => "stop",
    }
}

/// Records how a message ended on its span.
pub(crate) fn record_outcome(span: &Span, outcome: &'static str, elapsed: Duration) {
    span.record("outcome", outcome);
    span.record("duration_us", elapsed.as_micros() as u64);
}

/// `sys::trace`'s event for one message (OTP: `*DBG* got ... ; ... new state`).
pub(crate) fn trace_event<S: GenServer>(
    me: &ServerRef<S>,
    handler: &'static str,
    outcome: &'static str,
    elapsed: Duration,
) {
    tracing::info!(
        target: "genserver::sys",
        server = %me.id(),
        name = me.name(),
        handler,
        outcome,
        duration_us = elapsed.as_micros() as u64,
        "message handled"
    );
}

/// Records `outcome = "panic"` on a message's span if the handler unwinds through it.
pub(crate) struct OutcomeOnPanic<'a> {
    span: Option<&'a Span>,
}

impl<'a> OutcomeOnPanic<'a> {
    pub(crate) fn new(span: &'a Span) -> Self {
        OutcomeOnPanic { span: Some(span) }
    }

    /// The handler returned: nothing to record.
    pub(crate) fn disarm(mut self) {
        self.span = None;
    }
}

impl Drop for OutcomeOnPanic<'_> {
    fn drop(&mut self) {
        if let Some(span) = self.span {
            span.record("outcome", "panic");
        }
    }
}
