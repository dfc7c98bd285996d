//! Why a server stopped.
//!
//! [`ExitReason`] is OTP's exit reason as a Rust enum. It decides what the rest of the
//! system does about an exit: `Normal` and the `Shutdown` family are clean exits (no crash
//! report), everything else is abnormal and is logged as a crash.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a server stopped (OTP: the exit reason).
///
/// | OTP | Rust |
/// |---|---|
/// | `:normal` | [`ExitReason::Normal`] |
/// | `:shutdown` | [`ExitReason::Shutdown`] |
/// | `{:shutdown, term}` | [`ExitReason::ShutdownWith`] |
/// | `:killed` | [`ExitReason::Killed`] |
/// | `:noproc` | [`ExitReason::NoProc`] |
/// | a raised exception | [`ExitReason::Panic`] (a handler panicked) |
/// | any other term | [`ExitReason::Error`] |
///
/// Two reasons are equal when they are the same variant with the same text; an
/// [`ExitReason::Error`] compares by its message.
///
/// It is an [`Error`](std::error::Error) itself, so it can be returned with `?` or boxed.
/// Its message includes the error of [`ExitReason::Error`] (crash reports print it), and
/// its [`source`](std::error::Error::source) is that error, so that `downcast_ref` finds
/// it in a chain:
///
/// ```
/// use std::error::Error;
/// use genserver_runtime::ExitReason;
///
/// #[derive(Debug)]
/// struct DiskFull;
///
/// impl std::fmt::Display for DiskFull {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("disk full")
///     }
/// }
///
/// impl Error for DiskFull {}
///
/// let reason = ExitReason::error(DiskFull);
/// assert_eq!(reason.to_string(), "error: disk full");
/// assert!(reason.source().is_some_and(|cause| cause.is::<DiskFull>()));
/// assert!(ExitReason::Shutdown.source().is_none());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum ExitReason {
    /// The server finished its work (`:normal`). Not a crash.
    Normal,
    /// The server was asked to shut down (`:shutdown`). Not a crash.
    Shutdown,
    /// A shutdown with a detail for whoever reads it (`{:shutdown, detail}`). Not a crash.
    ShutdownWith(Arc<str>),
    /// The server was killed: it stopped at once and its `terminate` did not run.
    Killed,
    /// No such server (`:noproc`): the reason a monitor or a link reports for a server
    /// that had already exited when it was set up.
    NoProc,
    /// The server's node could not be reached (`:noconnection`): the reason a remote
    /// monitor or link reports when the node of the server it watches goes down, or is
    /// down when the monitor is set up (feature `cluster`).
    NoConnection,
    /// A handler panicked; the text is the panic message.
    Panic(Arc<str>),
    /// The server stopped because of an error.
    Error(Arc<dyn StdError + Send + Sync>),
}

/// Serialized as OTP writes reasons: a word for the plain ones (`"normal"`, `"killed"`),
/// and the word with its text for the others (`{"panic": "index out of bounds"}`; an
/// error's text is its `Display`).
#[cfg(feature = "serde")]
impl serde::Serialize for ExitReason {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        const NAME: &str = "ExitReason";
        match self {
            ExitReason::Normal => serializer.serialize_unit_variant(NAME, 0, "normal"),
            ExitReason::Shutdown => serializer.serialize_unit_variant(NAME, 1, "shutdown"),
            ExitReason::ShutdownWith(detail) => {
                serializer.serialize_newtype_variant(NAME, 2, "shutdown_with", &**detail)
            }
            ExitReason::Killed => serializer.serialize_unit_variant(NAME, 3, "killed"),
            ExitReason::NoProc => serializer.serialize_unit_variant(NAME, 4, "noproc"),
            ExitReason::Panic(message) => serializer.serialize_newtype_variant(NAME, 5, "panic", &**message),
            ExitReason::Error(error) => {
                serializer.serialize_newtype_variant(NAME, 6, "error", &error.to_string())
            }
            ExitReason::NoConnection => serializer.serialize_unit_variant(NAME, 7, "noconnection"),
        }
    }
}

impl ExitReason {
    /// A shutdown carrying a detail, OTP's `{:shutdown, detail}`.
    pub fn shutdown_with(detail: impl Into<String>) -> Self {
        ExitReason::ShutdownWith(Arc::from(detail.into()))
    }

    /// An error exit from any error value or message.
    ///
    /// ```
    /// use genserver_runtime::ExitReason;
    /// let reason = ExitReason::error("disk full");
    /// assert_eq!(reason.to_string(), "error: disk full");
    /// ```
    pub fn error(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        ExitReason::Error(Arc::from(error.into()))
    }

    /// `true` for [`ExitReason::Normal`].
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// `true` for [`ExitReason::Shutdown`] and [`ExitReason::ShutdownWith`].
    pub fn is_shutdown(&self) -> bool {
        matches!(self, ExitReason::Shutdown | ExitReason::ShutdownWith(_))
    }

    /// `true` for every reason that OTP treats as a crash: anything but normal or shutdown.
    /// Abnormal exits are logged as crash reports.
    pub fn is_abnormal(&self) -> bool {
        !self.is_normal() && !self.is_shutdown()
    }
}

impl PartialEq for ExitReason {
    fn eq(&self, other: &Self) -> bool {
        use ExitReason::*;
        match (self, other) {
            (Normal, Normal) | (Shutdown, Shutdown) | (Killed, Killed) | (NoProc, NoProc) => true,
            (NoConnection, NoConnection) => true,
            (ShutdownWith(a), ShutdownWith(b)) | (Panic(a), Panic(b)) => a == b,
            (Error(a), Error(b)) => Arc::ptr_eq(a, b) || a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Eq for ExitReason {}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::ShutdownWith(detail) => write!(f, "shutdown: {detail}"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc (no such server)"),
            ExitReason::NoConnection => f.write_str("noconnection (the server's node is unreachable)"),
            ExitReason::Panic(message) => write!(f, "panicked: {message}"),
            ExitReason::Error(error) => write!(f, "error: {error}"),
        }
    }
}

impl StdError for ExitReason {
    /// The error of [`ExitReason::Error`]; `None` for every other reason.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ExitReason::Error(error) => Some(&**error),
            _ => None,
        }
    }
}

impl fmt::Debug for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("Normal"),
            ExitReason::Shutdown => f.write_str("Shutdown"),
            ExitReason::ShutdownWith(detail) => f.debug_tuple("ShutdownWith").field(detail).finish(),
            ExitReason::Killed => f.write_str("Killed"),
            ExitReason::NoProc => f.write_str("NoProc"),
            ExitReason::NoConnection => f.write_str("NoConnection"),
            ExitReason::Panic(message) => f.debug_tuple("Panic").field(message).finish(),
            ExitReason::Error(error) => f.debug_tuple("Error").field(&error.to_string()).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_normal_and_shutdowns_are_clean() {
        assert!(!ExitReason::Normal.is_abnormal());
        assert!(!ExitReason::Shutdown.is_abnormal());
        assert!(!ExitReason::shutdown_with("maintenance").is_abnormal());
        assert!(ExitReason::Killed.is_abnormal());
        assert!(ExitReason::NoProc.is_abnormal());
        assert!(ExitReason::NoConnection.is_abnormal());
        assert!(ExitReason::Panic("boom".into()).is_abnormal());
        assert!(ExitReason::error("bad").is_abnormal());
    }

    #[test]
    fn errors_compare_by_message() {
        assert_eq!(ExitReason::error("bad"), ExitReason::error("bad"));
        assert_ne!(ExitReason::error("bad"), ExitReason::error("worse"));
        assert_ne!(ExitReason::Panic("bad".into()), ExitReason::error("bad"));
    }
}
