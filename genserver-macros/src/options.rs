//! The arguments of `#[genserver(...)]`.
//!
//! - `vis = pub(crate)`: visibility of the generated types and constructors (default `pub`);
//! - `crate = some::path`: where the runtime crate is, when it is re-exported
//!   (default `::genserver_runtime`);
//! - `remote`: the server can be called from other nodes of a cluster (the runtime's
//!   `cluster` feature): its requests and replies travel serialized;
//! - `debug_state`: the state is shown, with its `Debug`, by `sys::get_status` and in
//!   crash reports (off by default: a state may hold secrets);
//! - `debug_messages`: the message enum derives `Debug`, and each message is rendered
//!   into its span and, for the last one, the crash report (off by default).

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Path, Token, Visibility};

use crate::errors::{Errors, error};

pub(crate) struct Options {
    pub(crate) vis: Visibility,
    pub(crate) runtime: Path,
    /// `Some(span of the word)` for `remote`.
    pub(crate) remote: Option<Span>,
    pub(crate) debug_state: bool,
    pub(crate) debug_messages: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vis: syn::parse_quote!(pub),
            runtime: syn::parse_quote!(::genserver_runtime),
            remote: None,
            debug_state: false,
            debug_messages: false,
        }
    }
}

/// The hint every malformed argument list gets.
const OPTIONS_HELP: &str = "the options are `vis = pub(crate)`, `crate = path`, `remote`, `debug_state` and `debug_messages`, separated by commas";

/// One `key = value` argument.
enum Arg {
    Vis(syn::Ident, Visibility),
    Crate(Token![crate], Path),
    Remote(syn::Ident),
    /// `debug_state` or `debug_messages`.
    Flag(syn::Ident),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Token![crate]) {
            let key: Token![crate] = input.parse()?;
            equals(input, key.span, "crate = path::to::genserver_runtime")?;
            let path = input.call(Path::parse_mod_style).map_err(|parse_error| {
                error(
                    parse_error.span(),
                    "`crate` takes a path",
                    "write `crate = path::to::genserver_runtime`",
                )
            })?;
            return Ok(Arg::Crate(key, path));
        }
        let key = input
            .call(syn::Ident::parse_any)
            .map_err(|parse_error| error(parse_error.span(), "expected an option", OPTIONS_HELP))?;
        if key == "remote" {
            if input.peek(Token![=]) {
                return Err(error(key.span(), "`remote` takes no value", "write `remote` alone"));
            }
            return Ok(Arg::Remote(key));
        }
        if key == "debug_state" || key == "debug_messages" {
            return Ok(Arg::Flag(key));
        }
        if key != "vis" {
            return Err(error(key.span(), format!("unknown #[genserver] option `{key}`"), OPTIONS_HELP));
        }
        equals(input, key.span(), "vis = pub(crate)")?;
        let vis: Visibility = input.parse()?;
        if let Visibility::Inherited = vis {
            return Err(error(
                key.span(),
                "`vis` takes a visibility",
                "write `vis = pub` or `vis = pub(crate)`",
            ));
        }
        Ok(Arg::Vis(key, vis))
    }
}

/// The `=` after an option's name; without it, the error is on the name.
fn equals(input: ParseStream<'_>, key: Span, example: &str) -> syn::Result<()> {
    input
        .parse::<Token![=]>()
        .map(drop)
        .map_err(|_| error(key, "this option needs a value", format!("write `{example}`")))
}

impl Options {
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Options {
        let mut options = Options::default();
        let parsed = match Punctuated::<Arg, Token![,]>::parse_terminated.parse2(args) {
            Ok(parsed) => parsed,
            Err(parse_error) if parse_error.to_string().contains("\nhelp: ") => {
                errors.push(parse_error);
                return options;
            }
            // syn's own errors, such as a missing comma.
            Err(parse_error) => {
                errors.push(error(parse_error.span(), &parse_error, OPTIONS_HELP));
                return options;
            }
        };
        let (mut seen_vis, mut seen_crate, mut seen_remote) = (false, false, false);
        let mut seen_flags: Vec<String> = Vec::new();
        for arg in parsed {
            match arg {
                Arg::Vis(key, vis) => {
                    if std::mem::replace(&mut seen_vis, true) {
                        errors.at(key, "`vis` is given twice", "keep one `vis = ...`");
                    }
                    options.vis = vis;
                }
                Arg::Crate(key, path) => {
                    if std::mem::replace(&mut seen_crate, true) {
                        errors.at(key, "`crate` is given twice", "keep one `crate = ...`");
                    }
                    options.runtime = path;
                }
                Arg::Remote(key) => {
                    if std::mem::replace(&mut seen_remote, true) {
                        errors.at(&key, "`remote` is given twice", "keep one `remote`");
                    }
                    options.remote = Some(key.span());
                }
                Arg::Flag(key) => {
                    let name = key.to_string();
                    if seen_flags.contains(&name) {
                        errors.at(&key, format!("`{name}` is given twice"), format!("keep one `{name}`"));
                    }
                    if name == "debug_state" {
                        options.debug_state = true;
                    } else {
                        options.debug_messages = true;
                    }
                    seen_flags.push(name);
                }
            }
        }
        options
    }
}
