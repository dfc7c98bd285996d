//! Collects every error of one expansion, so a build reports each mistake once.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Errors {
    collected: Option<syn::Error>,
}

impl Errors {
    /// Records an error on `tokens` whose message ends with a hint for the fix.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl Display, help: impl Display) {
        self.push(syn::Error::new_spanned(tokens, format!("{message}\nhelp: {help}")));
    }

    /// Records an error at `span`.
    pub(crate) fn at_span(&mut self, span: Span, message: impl Display, help: impl Display) {
        self.push(syn::Error::new(span, format!("{message}\nhelp: {help}")));
    }

    /// Records an error as syn produced it.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.collected {
            Some(collected) => collected.combine(error),
            None => self.collected = Some(error),
        }
    }

    /// `Ok` if nothing was recorded, otherwise every error combined.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        match self.collected {
            None => Ok(()),
            Some(error) => Err(error),
        }
    }
}
