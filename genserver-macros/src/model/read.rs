//! Reads an `impl` block into the model (`Server::read`).
//!
//! Reading removes the handler markers from the impl block, which is emitted as it is
//! otherwise. Whatever cannot be represented in the model (a marker with arguments, two
//! markers on one method, a pattern argument, ...) is recorded as an error here; rules
//! about a well-formed model live in `validate`.
//!
//! A handler that is wrong is still read, marked `rejected`, so that a stub of it is
//! generated. A few mistakes are reported by rustc itself on the user's own signature
//! (an argument name given twice, `ReplyTo` without its type, a signature syn cannot
//! parse): those handlers are rejected with no error of the macro's, so that each
//! mistake is reported once.

use syn::{Attribute, FnArg, Ident, ImplItem, ItemImpl, Meta, Pat, Type};

use super::{Handler, Kind, Param, Receiver, Role, Server, generic_argument, last_ident_is};
use crate::errors::Errors;

impl Kind {
    /// The kind of handler a marker attribute stands for; `None` for any other attribute.
    /// A misnamed marker (`#[handle_call]`) counts: it is reported and read as meant.
    fn of(attr: &Attribute) -> Option<Kind> {
        let last = attr.path().segments.last()?;
        Kind::named(&last.ident.to_string()).map(|(kind, _)| kind)
    }
}

impl Server {
    /// Reads the impl block, and the handlers syn could not parse, repaired (`recover`):
    /// these are read as rejected handlers, their mistakes left to rustc. Returns the
    /// model (if the block has a usable shape) and the block with every marker removed.
    /// A `None` model comes with an error in `errors`.
    pub(crate) fn read(
        mut item: ItemImpl,
        repaired: Vec<syn::ImplItemFn>,
        errors: &mut Errors,
    ) -> (Option<Server>, ItemImpl) {
        if let Some(again) = item.attrs.iter().find(|attr| is_genserver(attr)) {
            errors.at(again, "#[genserver] is given twice", "remove one of them");
            item.attrs.retain(|attr| !is_genserver(attr));
            strip_markers(&mut item);
            return (None, item);
        }
        if let Some((_, trait_path, _)) = &item.trait_ {
            let self_ty = &item.self_ty;
            errors.at(
                trait_path,
                "#[genserver] goes on an inherent impl block, not on a trait impl",
                format!(
                    "put the handlers in `#[genserver] impl {} {{ ... }}` and keep this trait impl without #[genserver]",
                    quote::quote!(#self_ty)
                ),
            );
            strip_markers(&mut item);
            return (None, item);
        }
        let Some(ident) = type_name(&item.self_ty) else {
            errors.at(
                &item.self_ty,
                "#[genserver] needs a named type such as a struct",
                "declare `struct MyServer { ... }` and put #[genserver] on `impl MyServer`",
            );
            strip_markers(&mut item);
            return (None, item);
        };
        let mut handlers = Vec::new();
        let mut method_names = Vec::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                misplaced_markers(impl_item, errors);
                continue;
            };
            method_names.push(method.sig.ident.clone());
            handlers.extend(read_method(method, errors));
        }
        for mut method in repaired {
            method_names.push(method.sig.ident.clone());
            let mut left_to_rustc = Errors::default();
            handlers.extend(read_method(&mut method, &mut left_to_rustc).map(Handler::reject));
        }
        let server = Server {
            ident,
            self_ty: (*item.self_ty).clone(),
            generics: item.generics.clone(),
            handlers,
            method_names,
            left_out: Vec::new(),
        };
        (Some(server), item)
    }
}

fn is_genserver(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|last| last.ident == "genserver")
}

/// The name of the type an impl block is for: the last segment of its path.
fn type_name(self_ty: &Type) -> Option<Ident> {
    match self_ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    }
}

/// Removes every marker from the block, so that it compiles as a plain impl block.
fn strip_markers(item: &mut ItemImpl) {
    for impl_item in &mut item.items {
        if let Some(attrs) = attributes_mut(impl_item) {
            attrs.retain(|attr| Kind::of(attr).is_none());
        }
    }
}

fn attributes_mut(impl_item: &mut ImplItem) -> Option<&mut Vec<Attribute>> {
    match impl_item {
        ImplItem::Fn(item) => Some(&mut item.attrs),
        ImplItem::Const(item) => Some(&mut item.attrs),
        ImplItem::Type(item) => Some(&mut item.attrs),
        ImplItem::Macro(item) => Some(&mut item.attrs),
        _ => None,
    }
}

/// Reports and removes markers on items that are not methods (a const, a type, ...).
fn misplaced_markers(impl_item: &mut ImplItem, errors: &mut Errors) {
    let Some(attrs) = attributes_mut(impl_item) else {
        return;
    };
    for attr in attrs.iter().filter(|attr| Kind::of(attr).is_some()) {
        let name = Kind::of(attr).map(Kind::marker).unwrap_or_default();
        errors.at(
            attr,
            format!("#[{name}] marks a method, not this item"),
            format!("put #[{name}] on a method of the impl block, or remove it"),
        );
    }
    attrs.retain(|attr| Kind::of(attr).is_none());
}

/// Reads one method: removes its markers and, if it has exactly one well-formed marker,
/// reads it as a handler.
fn read_method(method: &mut syn::ImplItemFn, errors: &mut Errors) -> Option<Handler> {
    let markers: Vec<Attribute> =
        method.attrs.iter().filter(|attr| Kind::of(attr).is_some()).cloned().collect();
    method.attrs.retain(|attr| Kind::of(attr).is_none());
    let marker = markers.first()?;
    let kind = Kind::of(marker)?;
    let before = errors.count();
    misnamed_marker(kind, marker, errors);
    if let Some(second) = markers.get(1) {
        two_markers(&method.sig.ident, kind, second, errors);
    }
    marker_without_arguments(kind, marker, errors);
    let handler = read_handler(kind, marker.clone(), method, errors);
    Some(if errors.count() > before { handler.reject() } else { handler })
}

/// `#[handle_call]` for `#[call]`: reported on the marker's name, read as meant.
fn misnamed_marker(kind: Kind, marker: &Attribute, errors: &mut Errors) {
    let Some(last) = marker.path().segments.last() else { return };
    if Kind::named(&last.ident.to_string()).is_some_and(|(_, misnamed)| misnamed) {
        let right = kind.marker();
        errors.at(
            &last.ident,
            format!("there is no #[{}] marker; handlers are marked #[{right}]", last.ident),
            format!("write #[{right}] (Elixir's `{}` callback)", last.ident),
        );
    }
}

fn two_markers(method: &Ident, first: Kind, second: &Attribute, errors: &mut Errors) {
    let (first, second_kind) = (first.marker(), Kind::of(second).map(Kind::marker).unwrap_or_default());
    if first == second_kind {
        errors.at(second, format!("`{method}` is marked #[{first}] twice"), "remove one of the markers");
    } else {
        errors.at(
            second,
            format!("`{method}` has two handler markers, #[{first}] and #[{second_kind}]"),
            "a method is one kind of handler: keep one marker",
        );
    }
}

/// Reports `#[call(...)]` and `#[call = ...]` on their arguments.
fn marker_without_arguments(kind: Kind, marker: &Attribute, errors: &mut Errors) {
    let name = kind.marker();
    let (message, help) = (format!("#[{name}] takes no arguments"), format!("write `#[{name}]`"));
    match &marker.meta {
        Meta::Path(_) => {}
        Meta::List(list) => errors.at_span(list.delimiter.span().join(), message, help),
        Meta::NameValue(name_value) => {
            let (eq, value) = (&name_value.eq_token, &name_value.value);
            errors.at(quote::quote!(#eq #value), message, help);
        }
    }
}

fn read_handler(kind: Kind, marker: Attribute, method: &syn::ImplItemFn, errors: &mut Errors) -> Handler {
    let mut receiver = Receiver::None;
    let mut params = Vec::new();
    let mut ok = !rustc_reports(&method.sig);
    for (index, arg) in method.sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(recv) => {
                receiver = match (&recv.reference, &recv.mutability, recv.colon_token) {
                    (Some(_), None, None) => Receiver::Ref,
                    (Some(_), Some(_), None) => Receiver::Mut,
                    _ => Receiver::Other(Box::new(recv.clone())),
                }
            }
            FnArg::Typed(typed) => {
                let (param, read) = read_param(kind, typed, arg, index, errors);
                ok &= read;
                params.push(param);
            }
        }
    }
    let attributes = |name: &str| -> Vec<Attribute> {
        method.attrs.iter().filter(|attr| attr.path().is_ident(name)).cloned().collect()
    };
    let handler = Handler {
        kind,
        marker,
        sig: method.sig.clone(),
        vis: method.vis.clone(),
        receiver,
        params,
        docs: attributes("doc"),
        cfgs: attributes("cfg"),
        deprecations: attributes("deprecated"),
        rejected: false,
        reply_travels: true,
    };
    if ok { handler } else { handler.reject() }
}

impl Handler {
    /// The handler, marked to be generated as a stub.
    pub(crate) fn reject(mut self) -> Handler {
        self.rejected = true;
        self
    }
}

/// Whether rustc reports a mistake in the signature itself that also leaves the handler
/// without a model: an argument name given twice. (A runtime type without its type
/// arguments, `ReplyTo`, is read as it is: rustc reports it once, on the user's token.)
fn rustc_reports(sig: &syn::Signature) -> bool {
    let names: Vec<_> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => Some(&pat.ident),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    names.iter().enumerate().any(|(index, name)| names[..index].contains(name))
}

/// Reads one argument into its role. Returns `false` beside it if the argument is wrong
/// (an error says why): the handler is then rejected.
fn read_param(
    kind: Kind,
    typed: &syn::PatType,
    arg: &FnArg,
    index: usize,
    errors: &mut Errors,
) -> (Param, bool) {
    let ty = &*typed.ty;
    let mut ok = true;
    let role = if let Some(by_mut_ref) = context_type(ty) {
        if !by_mut_ref {
            errors.at(ty, "the context must be borrowed mutably", "write `cx: &mut Context<Self>`");
            ok = false;
        }
        Role::Context
    } else if let Some(reply) = generic_argument(ty, "ReplyTo") {
        Role::ReplyTo(reply.clone())
    } else if last_ident_is(ty, "ReplyTo") {
        // `ReplyTo` without its type: rustc reports it.
        Role::ReplyTo(syn::parse_quote!(()))
    } else if kind == Kind::Terminate && is_exit_reason_ref(ty) {
        Role::Reason
    } else {
        match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => Role::Field(pat.ident.clone()),
            pat => {
                errors.at(
                    pat,
                    "handler arguments become message fields, so each needs a plain name",
                    "name the argument (`point: (i32, i32)`) and destructure it in the body",
                );
                ok = false;
                Role::Field(quote::format_ident!("__genserver_arg{index}"))
            }
        }
    };
    (Param { role, ty: ty.clone(), span_of: arg.clone(), travels: true }, ok)
}

/// `Some(true)` for `&mut Context<..>`, `Some(false)` for any other use of `Context<..>`.
fn context_type(ty: &Type) -> Option<bool> {
    match ty {
        Type::Reference(reference) if last_ident_is(&reference.elem, "Context") => {
            Some(reference.mutability.is_some())
        }
        ty if last_ident_is(ty, "Context") => Some(false),
        _ => None,
    }
}

fn is_exit_reason_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(reference) if reference.mutability.is_none() && last_ident_is(&reference.elem, "ExitReason"))
}
