//! The names of the items `#[genserver]` generates, made from the model in one place:
//! `expand` writes these names and `validate` checks them for collisions.
//!
//! For a server `S`: the enums `SMsg`, `SInfo` and `SContinue`, one variant per handler
//! named after it (`get_all` → `GetAll`); the client handle `SRef`, one method per call
//! and cast under the handler's own name; and functions on `S` itself.

use proc_macro2::Span;
use quote::format_ident;
use syn::Ident;

use super::{Handler, Server};

/// The functions generated on the server type itself.
pub(crate) const SERVER_FUNCTIONS: [&str; 5] = ["start", "start_link", "builder", "whereis", "child_spec"];

/// The methods every client handle already has, besides one per call and cast: its own
/// and those of `ServerRef`.
pub(crate) const HANDLE_METHODS: [&str; 13] = [
    "id",
    "name",
    "is_alive",
    "exit_reason",
    "exited",
    "cast",
    "try_cast",
    "send_info",
    "call",
    "stop",
    "kill",
    "server_ref",
    "clone",
];

/// The field of a call's variant that carries the reply channel, beside the fields named
/// after the handler's arguments.
pub(crate) const REPLY_TO_FIELD: &str = "reply_to";

impl Server {
    /// `SMsg`, the enum of the calls and casts.
    pub(crate) fn message_enum(&self) -> Ident {
        self.generated_type("Msg")
    }

    /// `SInfo`, the enum of the info messages.
    pub(crate) fn info_enum(&self) -> Ident {
        self.generated_type("Info")
    }

    /// `SContinue`, the enum of the continuations.
    pub(crate) fn continue_enum(&self) -> Ident {
        self.generated_type("Continue")
    }

    /// `SRef`, the client handle.
    pub(crate) fn client_handle(&self) -> Ident {
        self.generated_type("Ref")
    }

    /// `SRequest`, a remote server's calls and casts as they travel between nodes.
    pub(crate) fn request_enum(&self) -> Ident {
        self.generated_type("Request")
    }

    /// `SClient`, a remote server's handle from any node of the cluster.
    pub(crate) fn cluster_client(&self) -> Ident {
        self.generated_type("Client")
    }

    /// The server's name followed by `suffix`, spanned at the call site like the rest of
    /// the generated code rather than on the user's type name.
    fn generated_type(&self, suffix: &str) -> Ident {
        let ident = &self.ident;
        format_ident!("{ident}{suffix}", span = Span::call_site())
    }
}

impl Handler {
    /// The handler's variant in its message enum, its name in CamelCase: `get_all` →
    /// `GetAll`, spanned on the handler's name.
    pub(crate) fn variant(&self) -> Ident {
        let name = self.name().to_string();
        let name = name.trim_start_matches("r#");
        let mut out = String::with_capacity(name.len());
        let mut upper = true;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        if out.is_empty() {
            out.push_str("Handler");
        }
        Ident::new(&out, self.name().span())
    }

    /// The client handle's method for a call or cast: the handler's own name.
    pub(crate) fn client_method(&self) -> &Ident {
        self.name()
    }
}
