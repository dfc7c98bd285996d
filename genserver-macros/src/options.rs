//! The arguments of `#[genserver(...)]`.
//!
//! - `vis = pub(crate)`: visibility of the generated types and constructors (default `pub`);
//! - `crate = some::path`: where the runtime crate is, when it is re-exported
//!   (default `::genserver_runtime`).

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Path, Token, Visibility};

use crate::errors::Errors;

pub(crate) struct Options {
    pub(crate) vis: Visibility,
    pub(crate) runtime: Path,
}

impl Default for Options {
    fn default() -> Self {
        Options { vis: syn::parse_quote!(pub), runtime: syn::parse_quote!(::genserver_runtime) }
    }
}

/// One `key = value` argument.
enum Arg {
    Vis(syn::Ident, Visibility),
    Crate(Token![crate], Path),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Token![crate]) {
            let key: Token![crate] = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Arg::Crate(key, input.parse()?));
        }
        let key: syn::Ident = input.parse().map_err(|error| {
            syn::Error::new(error.span(), "expected an option: `vis = ...` or `crate = ...`")
        })?;
        if key != "vis" {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown #[genserver] option `{key}`\nhelp: the options are `vis = pub(crate)` and `crate = path`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        let vis: Visibility = input.parse()?;
        if let Visibility::Inherited = vis {
            return Err(input.error("expected a visibility such as `pub` or `pub(crate)`"));
        }
        Ok(Arg::Vis(key, vis))
    }
}

impl Options {
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Options {
        let mut options = Options::default();
        let parsed = match Punctuated::<Arg, Token![,]>::parse_terminated.parse2(args) {
            Ok(parsed) => parsed,
            Err(error) => {
                errors.push(error);
                return options;
            }
        };
        let (mut seen_vis, mut seen_crate) = (false, false);
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
            }
        }
        options
    }
}
