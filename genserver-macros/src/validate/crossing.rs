//! The rule for values that cross tasks (handler arguments, call replies): owned or
//! `'static`, `Send`, and of one concrete type, as far as their syntax shows; and the
//! rule for servers whose values cross nodes (`#[genserver(remote)]`).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Type;
use syn::visit::{self, Visit};

use super::{has_bound, is_static};
use crate::errors::Errors;
use crate::model::{lacks_type_arguments, last_ident_is};

/// Whether the server may be `remote`: not generic, since its type tag on the wire names
/// one type, and with no handler named like the functions `remote` adds to the server
/// type. On `false` the errors are pushed, and the server is generated as a local one.
pub(crate) fn remote_allowed(server: &crate::model::Server, errors: &mut Errors) -> bool {
    if let Some(param) = server.generics.type_params().next() {
        errors.at(
            &param.ident,
            "a `#[genserver(remote)]` server cannot be generic",
            "its messages travel under one type name; write a concrete server type (a wrapper \
             around the generic one) for each type other nodes call",
        );
        return false;
    }
    let mut allowed = true;
    for handler in &server.handlers {
        let name = handler.name();
        if REMOTE_FUNCTIONS.iter().any(|function| name == function) {
            errors.at(
                name,
                format!("`{name}` is a function `#[genserver(remote)]` generates on the server type"),
                "rename the handler",
            );
            allowed = false;
        }
    }
    allowed
}

/// The functions `#[genserver(remote)]` adds to the server type.
const REMOTE_FUNCTIONS: [&str; 2] = ["global", "group"];

/// Whether nothing in the syntax of `ty` keeps it from travelling between tasks.
pub(super) fn can_travel(ty: &Type) -> bool {
    let mut finder = FindUnsendable::default();
    finder.visit_type(ty);
    finder.found.is_none() && !lacks_type_arguments(ty)
}

/// Which way a value travels.
#[derive(Clone, Copy)]
pub(super) enum Crossing {
    /// A handler argument, in a message to the server's task.
    Argument,
    /// A call's reply, back to the caller's task.
    Reply,
}

impl Crossing {
    fn subject(self) -> &'static str {
        match self {
            Crossing::Argument => "a handler argument",
            Crossing::Reply => "a call's reply",
        }
    }

    fn journey(self) -> &'static str {
        match self {
            Crossing::Argument => "it travels in a message to the server's task",
            Crossing::Reply => "it travels back to the caller's task",
        }
    }
}

/// What makes a type unable to travel between tasks, as far as its syntax shows. A type
/// that is `!Send` for reasons its syntax hides (a struct holding an `Rc`) is left to
/// the compiler.
enum Unsendable {
    Borrowed,
    ImplTrait,
    RawPointer,
    Rc,
    /// A trait object without `+ Send`.
    DynNotSend,
}

/// A value that crosses tasks must be owned (or `'static`), `Send` and of one concrete
/// type. Reports the first part of `ty` that is not.
pub(super) fn check_sendable(ty: &Type, crossing: Crossing, errors: &mut Errors) {
    let mut finder = FindUnsendable::default();
    finder.visit_type(ty);
    let Some((problem, tokens)) = finder.found else {
        return;
    };
    let (subject, journey) = (crossing.subject(), crossing.journey());
    match problem {
        Unsendable::Borrowed => errors.at(
            tokens,
            format!("{subject} cannot be borrowed: {journey}"),
            match crossing {
                Crossing::Argument => {
                    "take an owned type (`String` for `&str`, `Vec<T>` for `&[T]`, `Arc<T>` to share)"
                }
                Crossing::Reply => "return an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)",
            },
        ),
        Unsendable::ImplTrait => errors.at(
            tokens,
            format!("{subject} needs one concrete type, not `impl Trait`: {journey}"),
            "use a concrete type, or a `Box<dyn Trait + Send>`",
        ),
        Unsendable::RawPointer => errors.at(
            tokens,
            format!("{subject} must be `Send`, and a raw pointer is not: {journey}"),
            "send an owned value or an index instead",
        ),
        Unsendable::Rc => errors.at(
            tokens,
            format!("{subject} must be `Send`, and `Rc` is not: {journey}"),
            "use `Arc` instead of `Rc`",
        ),
        Unsendable::DynNotSend => errors.at(
            tokens,
            format!("{subject} must be `Send`, and a trait object is only if it says so: {journey}"),
            "add `+ Send` to the trait object (`Box<dyn Trait + Send>`)",
        ),
    }
}

#[derive(Default)]
struct FindUnsendable {
    found: Option<(Unsendable, TokenStream)>,
}

impl FindUnsendable {
    fn report(&mut self, problem: Unsendable, tokens: &impl ToTokens) {
        if self.found.is_none() {
            self.found = Some((problem, tokens.to_token_stream()));
        }
    }
}

impl<'ast> Visit<'ast> for FindUnsendable {
    fn visit_type(&mut self, ty: &'ast Type) {
        if self.found.is_some() {
            return;
        }
        match ty {
            Type::Reference(reference) if reference.lifetime.as_ref().is_some_and(is_static) => {
                self.visit_type(&reference.elem);
            }
            Type::Reference(_) => self.report(Unsendable::Borrowed, ty),
            Type::ImplTrait(_) => self.report(Unsendable::ImplTrait, ty),
            Type::Ptr(_) => self.report(Unsendable::RawPointer, ty),
            // A function pointer is `Send` and `'static`, whatever it takes and returns.
            Type::BareFn(_) => {}
            ty if last_ident_is(ty, "Rc") => self.report(Unsendable::Rc, ty),
            Type::TraitObject(object) if !has_bound(object, "Send") => {
                self.report(Unsendable::DynNotSend, ty)
            }
            ty => visit::visit_type(self, ty),
        }
    }

    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        if !is_static(lifetime) {
            self.report(Unsendable::Borrowed, lifetime);
        }
    }

    /// `Fn(&str) -> T`: its lifetimes are higher-ranked, not borrows.
    fn visit_parenthesized_generic_arguments(&mut self, _: &'ast syn::ParenthesizedGenericArguments) {}

    /// `for<'a> Trait<'a>`: likewise.
    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        if bound.lifetimes.is_none() {
            visit::visit_trait_bound(self, bound);
        }
    }
}
