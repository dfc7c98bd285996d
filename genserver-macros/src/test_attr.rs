//! `#[genserver_runtime::testing::test]`: an `async fn` test run by the test kit.
//!
//! The attribute only rewrites the function into a plain `#[test]` whose body is
//! `::genserver_runtime::testing::run(async move { .. })`; everything the kit does
//! (the paused clock, the servers stopped at the end, the captured logs) lives in that
//! function of the runtime, where it can be read and tested like any other code.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::error;

/// The test function `item` rewritten; `args` must be empty.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(token) = args.into_iter().next() {
        let error = error(token.span(), "#[testing::test] takes no arguments", "write `#[testing::test]`");
        let error = error.to_compile_error();
        return quote! { #error #item };
    }
    let mut function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = error(
                proc_macro2::Span::call_site(),
                "#[testing::test] goes on an `async fn`",
                "write `#[testing::test] async fn name() { .. }`",
            );
            let error = error.to_compile_error();
            return quote! { #error #item };
        }
    };
    if function.sig.asyncness.take().is_none() {
        let error = error(
            function.sig.fn_token.span,
            "#[testing::test] goes on an `async fn`",
            "add `async` before `fn`",
        );
        let error = error.to_compile_error();
        return quote! { #error #function };
    }
    let body = &function.block;
    let run: syn::Block = syn::parse_quote!({
        ::genserver_runtime::testing::run(async move #body)
    });
    *function.block = run;
    quote! {
        #[::core::prelude::v1::test]
        #function
    }
}
