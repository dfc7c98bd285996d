//! The assertions on a [`Probe`]'s inbox: ExUnit's `assert_receive` and `refute_receive`,
//! and the DOWN and EXIT forms, as macros (a pattern can only be passed to a macro).
//!
//! Each waits on the clock of the runtime, so on the kit's paused clock its deadline is
//! virtual: a test asserting that nothing arrives within a minute takes no real time.
//! Each failure names the assertion, what it waited for and how long, and lists every
//! entry still in the probe's inbox, so a wrong guess shows what did arrive.

use std::fmt::{self, Debug, Write};
use std::time::Duration;

use super::{Probe, Received};
use crate::{ExitReason, ServerId};

/// How long [`assert_receive!`](crate::assert_receive) and the other assertions wait when
/// not told: 100 ms, ExUnit's default, of virtual time on the kit's clock.
pub const DEFAULT_RECEIVE_TIMEOUT: Duration = Duration::from_millis(100);

/// Waits for a message matching a pattern to reach a [`Probe`] and takes it out of the
/// probe's inbox (ExUnit: `assert_receive pattern, timeout`); panics, listing what the
/// inbox holds, if none arrives in time.
///
/// Forms: `assert_receive!(probe, pattern)`, with a guard (`pattern if guard`), with what
/// to return from the bindings (`pattern => expression`; without it, the message itself),
/// and with the time to wait as a last argument (default
/// [`DEFAULT_RECEIVE_TIMEOUT`](crate::testing::DEFAULT_RECEIVE_TIMEOUT)). Messages it
/// passes over stay in the inbox, in order. The pattern is matched against a reference
/// to the message, so in a guard its bindings are references (`n if *n > 1`). Use it in
/// an `async` block.
///
/// ```
/// use genserver_runtime::testing::{self, Probe};
/// use genserver_runtime::assert_receive;
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum Event {
///     Saved { id: u32 },
///     Deleted { id: u32 },
/// }
///
/// testing::run(async {
///     let probe = Probe::start().await;
///     probe.send(Event::Deleted { id: 1 });
///     probe.send(Event::Saved { id: 7 });
///     let id = assert_receive!(probe, Event::Saved { id } => id, Duration::from_secs(1));
///     assert_eq!(id, 7);
///     assert_receive!(probe, Event::Deleted { id } if *id == 1);
/// });
/// ```
#[macro_export]
macro_rules! assert_receive {
    ($probe:expr, $pattern:pat $(if $guard:expr)? $(=> $extract:expr)? $(, $within:expr)?) => {{
        let (probe, within) = (&$probe, $crate::__kit_within!($($within)?));
        let found = $crate::__kit_receive_message!(probe, within, $pattern $(if $guard)?);
        match found {
            ::core::option::Option::Some($crate::testing::Received::Message(message)) => {
                $crate::__kit_extract!(message, $pattern $(, $extract)?)
            }
            _ => $crate::testing::assertions::no_match(
                probe,
                "assert_receive!",
                &::std::format!("message matching `{}`", ::core::stringify!($pattern $(if $guard)?)),
                within,
            ),
        }
    }};
}

/// Fails if a message matching a pattern reaches a [`Probe`] within a time (ExUnit:
/// `refute_receive pattern, timeout`), waiting all of it; a matching message is taken out
/// of the inbox and named in the failure. Forms: `refute_receive!(probe, pattern)`, with
/// a guard, and with the time as a last argument (default
/// [`DEFAULT_RECEIVE_TIMEOUT`](crate::testing::DEFAULT_RECEIVE_TIMEOUT), virtual on the
/// kit's clock).
///
/// ```
/// use genserver_runtime::testing::{self, Probe};
/// use genserver_runtime::refute_receive;
/// use std::time::Duration;
///
/// testing::run(async {
///     let probe = Probe::<u32>::start().await;
///     probe.send(1);
///     // An hour of virtual time: the test still ends at once.
///     refute_receive!(probe, n if *n > 1, Duration::from_secs(3600));
/// });
/// ```
#[macro_export]
macro_rules! refute_receive {
    ($probe:expr, $pattern:pat $(if $guard:expr)? $(, $within:expr)?) => {{
        let (probe, within) = (&$probe, $crate::__kit_within!($($within)?));
        let found = $crate::__kit_receive_message!(probe, within, $pattern $(if $guard)?);
        if let ::core::option::Option::Some(entry) = found {
            $crate::testing::assertions::unexpected(
                probe,
                "refute_receive!",
                ::core::stringify!($pattern $(if $guard)?),
                within,
                &entry,
            );
        }
    }};
}

/// Waits for the DOWN of server `id` with exit reason `reason` to reach a [`Probe`] that
/// monitors it ([`Probe::monitor`]) and returns it (ExUnit: `assert_receive {:DOWN, ^ref,
/// :process, ^pid, reason}`); panics, listing what the inbox holds, if none arrives in
/// time. An optional last argument is the time to wait.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing::{self, Probe};
/// use genserver_runtime::assert_down;
///
/// pub struct Worker;
///
/// #[genserver]
/// impl Worker {
///     #[cast]
///     fn crash(&mut self) {
///         panic!("out of coffee");
///     }
/// }
///
/// testing::run(async {
///     let probe = Probe::<()>::start().await;
///     let worker = Worker::start(Worker).await.unwrap();
///     let monitor = probe.monitor(&worker).await;
///     worker.crash();
///     let down = assert_down!(probe, worker.id(), ExitReason::Panic("out of coffee".into()));
///     assert_eq!(down.id, monitor);
/// });
/// ```
#[macro_export]
macro_rules! assert_down {
    ($probe:expr, $server:expr, $reason:expr $(, $within:expr)?) => {
        $crate::__kit_assert_signal!(Down, "assert_down!", "DOWN", $probe, $server, $reason $(, $within)?)
    };
}

/// Waits for the exit signal of linked server `id` with exit reason `reason` to reach a
/// [`Probe`] linked to it ([`Probe::link`]) and returns it (ExUnit, trapping exits:
/// `assert_receive {:EXIT, ^pid, reason}`); panics, listing what the inbox holds, if none
/// arrives in time. An optional last argument is the time to wait.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing::{self, Probe};
/// use genserver_runtime::assert_exit;
///
/// pub struct Worker;
///
/// #[genserver]
/// impl Worker {
///     #[cast]
///     fn quit(&mut self) -> NoReply {
///         NoReply::stop(ExitReason::shutdown_with("done"))
///     }
/// }
///
/// testing::run(async {
///     let probe = Probe::<()>::start().await;
///     let worker = Worker::start(Worker).await.unwrap();
///     probe.link(&worker).await;
///     worker.quit();
///     assert_exit!(probe, worker.id(), ExitReason::shutdown_with("done"));
/// });
/// ```
#[macro_export]
macro_rules! assert_exit {
    ($probe:expr, $server:expr, $reason:expr $(, $within:expr)?) => {
        $crate::__kit_assert_signal!(Exit, "assert_exit!", "exit signal", $probe, $server, $reason $(, $within)?)
    };
}

/// What `assert_down!` and `assert_exit!` share: waits for the entry `$variant` (a
/// [`Down`](crate::Down) or an [`Exit`](crate::Exit)) of `$server` with `$reason`.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_assert_signal {
    ($variant:ident, $assertion:literal, $signal:literal, $probe:expr, $server:expr, $reason:expr $(, $within:expr)?) => {{
        let probe = &$probe;
        let within = $crate::__kit_within!($($within)?);
        let (server, reason): ($crate::ServerId, $crate::ExitReason) = ($server, $reason);
        let matches = |entry: &$crate::testing::Received<_>| {
            ::core::matches!(
                entry,
                $crate::testing::Received::$variant(signal) if signal.server == server && signal.reason == reason
            )
        };
        match probe.receive_matching(within, matches).await {
            ::core::option::Option::Some($crate::testing::Received::$variant(signal)) => signal,
            _ => $crate::testing::assertions::no_signal(probe, $assertion, $signal, server, &reason, within),
        }
    }};
}

/// What `assert_receive!` and `refute_receive!` share: waits for a message matching the
/// pattern and takes it out of the inbox.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_receive_message {
    ($probe:expr, $within:expr, $pattern:pat $(if $guard:expr)?) => {{
        #[allow(unused_variables)]
        let matches = |entry: &$crate::testing::Received<_>| {
            ::core::matches!(entry, $crate::testing::Received::Message($pattern) $(if $guard)?)
        };
        $probe.receive_matching($within, matches).await
    }};
}

/// The time an assertion waits: the one given, or the default.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_within {
    () => {
        $crate::testing::DEFAULT_RECEIVE_TIMEOUT
    };
    ($within:expr) => {{
        let within: ::core::time::Duration = $within;
        within
    }};
}

/// What `assert_receive!` returns: the message, or what the caller built from its
/// bindings.
#[doc(hidden)]
#[macro_export]
macro_rules! __kit_extract {
    ($message:ident, $pattern:pat) => {
        $message
    };
    ($message:ident, $pattern:pat, $extract:expr) => {
        match $message {
            $pattern => $extract,
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("the message matched the pattern a moment ago"),
        }
    };
}

/// Panics: nothing `wanted` arrived within `within`.
#[doc(hidden)]
#[track_caller]
pub fn no_match<M: Send + Debug + 'static>(
    probe: &Probe<M>,
    assertion: &str,
    wanted: &str,
    within: Duration,
) -> ! {
    panic!(
        "{assertion} failed: no {wanted} arrived within {within:?} (virtual time on the kit's clock)\n{}",
        Inbox(probe)
    )
}

/// Panics: no DOWN or exit signal of `server` with `reason` arrived within `within`.
#[doc(hidden)]
#[track_caller]
pub fn no_signal<M: Send + Debug + 'static>(
    probe: &Probe<M>,
    assertion: &str,
    signal: &str,
    server: ServerId,
    reason: &ExitReason,
    within: Duration,
) -> ! {
    let wanted = format!("{signal} of server {server} with reason `{reason}`");
    no_match(probe, assertion, &wanted, within)
}

/// Panics: `entry`, which matches `pattern`, arrived within `within`.
#[doc(hidden)]
#[track_caller]
pub fn unexpected<M: Send + Debug + 'static>(
    probe: &Probe<M>,
    assertion: &str,
    pattern: &str,
    within: Duration,
    entry: &Received<M>,
) {
    panic!(
        "{assertion} failed: {entry:?} arrived within {within:?} (virtual time on the kit's clock), matching \
         `{pattern}`\n{}",
        Inbox(probe)
    )
}

/// A probe's inbox as the failure messages list it.
struct Inbox<'a, M: Send + 'static>(&'a Probe<M>);

impl<M: Send + Debug + 'static> fmt::Display for Inbox<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = self.0.pending();
        if pending.is_empty() {
            return f.write_str("the probe's inbox is empty");
        }
        writeln!(f, "the probe's inbox holds, oldest first:")?;
        for (index, entry) in pending.iter().enumerate() {
            if index > 0 {
                f.write_char('\n')?;
            }
            write!(f, "  {entry}")?;
        }
        Ok(())
    }
}
