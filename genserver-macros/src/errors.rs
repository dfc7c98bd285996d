//! Collects every error of one expansion, so a build reports each mistake once.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// An error at `span` whose message ends with a hint for the fix, for code that returns
/// `syn::Result` (parsers).
pub(crate) fn error(span: Span, message: impl Display, help: impl Display) -> syn::Error {
    syn::Error::new(span, format!("{message}\nhelp: {help}"))
}

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Errors {
    collected: Option<syn::Error>,
    count: usize,
}

impl Errors {
    /// Records an error on `tokens` whose message ends with a hint for the fix.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl Display, help: impl Display) {
        self.push(syn::Error::new_spanned(tokens, format!("{message}\nhelp: {help}")));
    }

    /// Records an error at `span`.
    pub(crate) fn at_span(&mut self, span: Span, message: impl Display, help: impl Display) {
        self.push(error(span, message, help));
    }

    /// Records an error as syn produced it.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.count += 1;
        match &mut self.collected {
            Some(collected) => collected.combine(error),
            None => self.collected = Some(error),
        }
    }

    /// How many errors were recorded so far; rules compare it before and after to learn
    /// whether they found anything.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// `Ok` if nothing was recorded, otherwise every error combined.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        match self.collected {
            None => Ok(()),
            Some(error) => Err(error),
        }
    }
}
