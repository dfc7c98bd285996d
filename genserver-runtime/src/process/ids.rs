//! The ids that name a server and a monitor: numbers drawn from a counter, unique for the
//! life of the program, shown the way Erlang shows a pid (`<7>`) and a reference
//! (`#Ref<3>`).

use std::fmt;

/// Defines an id type: a `u64` newtype drawn from its own counter, with `as_u64`,
/// `Display` in the given format and a `Debug` that names the type.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, display = $display:literal, number = $number:literal) => {
        $(#[$doc])*
        // Never zero, so that an `Option` of an id takes no more room than the id.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
        pub struct $name(std::num::NonZeroU64);

        impl $name {
            /// A fresh id, never handed out before.
            pub(crate) fn next() -> Self {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                $name(std::num::NonZeroU64::new(next).expect("an id counter that starts at 1 never wraps"))
            }

            /// The id numbered `n`, as [`as_u64`](Self::as_u64) gave it; `None` for 0.
            #[allow(dead_code)]
            pub(crate) fn from_u64(n: u64) -> Option<Self> {
                std::num::NonZeroU64::new(n).map($name)
            }

            #[doc = concat!("The number behind the ", $number, ".")]
            pub fn as_u64(self) -> u64 {
                self.0.get()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $display, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "<{}>"), self.0)
            }
        }
    };
}

id_type! {
    /// A server's identity, unique for the life of the program (OTP: a pid).
    ServerId, display = "<{}>", number = "id"
}

id_type! {
    /// One monitor's identity, unique for the life of the program (OTP: the monitor's
    /// reference).
    MonitorRef, display = "#Ref<{}>", number = "reference"
}
