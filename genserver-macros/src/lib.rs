//! The `#[genserver]` attribute macro. Use it through `genserver-runtime`, which
//! re-exports it and supplies everything the generated code needs.
//!
//! The macro is a stack: parse, validate, generate. Each stage depends on the model
//! and on nothing after it:
//! - `options`: the `#[genserver(...)]` arguments;
//! - `model`: the server and its handlers, read from the `impl` block (`model::read`;
//!   `model::recover` reads what syn cannot parse whole), and the names of every
//!   generated item (`model::names`);
//! - `validate`: every rule a server must follow, each with a spanned error and a hint;
//!   it returns the server with the wrong handlers rejected;
//! - `expand`: generates the code from a validated model, and nothing else.
//!
//! Errors are collected (`errors::Errors`) so one build shows every mistake. On error
//! the user's impl block is still emitted (markers removed) and the server still
//! generated, a rejected handler as a stub, so the rest of the crate type-checks and
//! each mistake is reported once. Where rustc reports a mistake itself (a syntax error),
//! the macro adds no error of its own.

mod errors;
mod expand;
mod model;
mod options;
mod test_attr;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;

/// Turns an inherent `impl` block into a GenServer. See the `genserver-runtime` crate.
#[proc_macro_attribute]
pub fn genserver(args: TokenStream, input: TokenStream) -> TokenStream {
    expand_genserver(args.into(), input.into()).into()
}

/// The whole macro on `proc_macro2` tokens, so that tests can run it.
fn expand_genserver(args: TokenStream2, input: TokenStream2) -> TokenStream2 {
    let is_marker = |name: &str| model::Kind::named(name).is_some();
    let Some(recovered) = model::recover::parse(input.clone(), is_marker) else {
        if syn::parse2::<syn::Item>(input.clone()).is_ok() && !is_impl(&input) {
            let error = not_an_impl(&input).to_compile_error();
            return quote! { #error #input };
        }
        // An item rustc reports a syntax error in: emitted as written, markers removed,
        // so that rustc's error is the only one.
        return model::recover::strip_block_markers(input, is_marker);
    };
    let model::recover::Recovered { item, bodies, repaired } = recovered;
    let mut errors = errors::Errors::default();
    let mut options = options::Options::parse(args, &mut errors);
    let (server, mut cleaned) = model::Server::read(item, repaired, &mut errors);
    // Generate the server even when handlers are wrong, with stubs for those: code that
    // uses the server then type-checks, and each mistake is reported once.
    let Some(server) = server.and_then(|server| validate::check(server, &mut errors)) else {
        let error = errors.finish().err().map(|error| error.to_compile_error());
        let cleaned = bodies.restore(quote!(#cleaned));
        return quote! { #cleaned #error };
    };
    options.remote = options.remote.filter(|_| validate::remote_allowed(&server, &mut errors));
    let generated = expand::expand(&server, &options);
    let error = errors.finish().err().map(|error| error.to_compile_error());
    if error.is_some() || server.handlers.iter().any(|handler| handler.rejected) {
        // A rejected handler is not called by the generated code; that is not worth a
        // warning on top of its error.
        cleaned.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    }
    let cleaned = bodies.restore(quote!(#cleaned));
    quote! { #cleaned #generated #error }
}

/// Whether `input` is an `impl` block, as far as its tokens show.
fn is_impl(input: &TokenStream2) -> bool {
    input
        .clone()
        .into_iter()
        .any(|token| matches!(token, proc_macro2::TokenTree::Ident(ident) if ident == "impl"))
}

/// The error for `#[genserver]` on something other than an impl block, spanned on the
/// item's keyword and name where it has them.
fn not_an_impl(input: &TokenStream2) -> syn::Error {
    let spanned = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Struct(item)) => {
            let (keyword, name) = (item.struct_token, item.ident);
            quote!(#keyword #name)
        }
        Ok(syn::Item::Enum(item)) => {
            let (keyword, name) = (item.enum_token, item.ident);
            quote!(#keyword #name)
        }
        Ok(syn::Item::Fn(item)) => {
            let (keyword, name) = (item.sig.fn_token, item.sig.ident);
            quote!(#keyword #name)
        }
        Ok(item) => quote!(#item),
        Err(_) => input.clone(),
    };
    let message = "#[genserver] goes on an inherent `impl` block\n\
                   help: keep this item as it is and put #[genserver] on the `impl` block that holds the handlers";
    if spanned.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(spanned, message)
    }
}

/// Runs an `async fn` as a test of the test kit. Use it through
/// `genserver_runtime::testing::test` (feature `test-kit`), which documents it.
#[proc_macro_attribute]
pub fn test(args: TokenStream, input: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), input.into()).into()
}

macro_rules! marker {
    ($($name:ident => $what:literal,)*) => {$(
        #[doc = concat!("Marks ", $what, " inside a `#[genserver]` impl block.")]
        #[doc = ""]
        #[doc = "On its own it is an error: `#[genserver]` reads and removes it."]
        #[proc_macro_attribute]
        pub fn $name(_args: TokenStream, item: TokenStream) -> TokenStream {
            marker_outside_genserver(stringify!($name), item.into()).into()
        }
    )*};
}

marker! {
    init => "the handler that builds the state (OTP `init/1`)",
    call => "a call handler (OTP `handle_call/3`)",
    cast => "a cast handler (OTP `handle_cast/2`)",
    info => "an info handler (OTP `handle_info/2`)",
    handle_continue => "a continue handler (OTP `handle_continue/2`)",
    timeout => "the idle timeout handler (OTP `handle_info(:timeout, state)`)",
    terminate => "the handler that runs as the server stops (OTP `terminate/2`)",
}

fn marker_outside_genserver(name: &str, item: TokenStream2) -> TokenStream2 {
    // The error points at the marker (the call site) but takes the hygiene of the user's
    // item, so that it reads as an error in the user's code rather than in a macro's.
    let span = match item.clone().into_iter().next() {
        Some(token) => token.span().located_at(Span::call_site()),
        None => Span::call_site(),
    };
    let error = errors::error(
        span,
        format!("#[{name}] only marks a handler inside a #[genserver] impl block"),
        "put #[genserver] on the `impl` block that holds this method, or remove the marker",
    );
    let error = error.to_compile_error();
    quote! { #error #item }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
