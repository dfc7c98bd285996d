//! Reads an `impl` block into a model of the server: its type, generics and handlers,
//! each handler with its kind, receiver, parameters (by role) and return type.
//!
//! Reading removes the handler markers from the impl block, which is emitted as it is
//! otherwise. Whatever cannot be represented in the model (a marker with arguments, two
//! markers on one method, a pattern argument, ...) is recorded as an error here; rules
//! about a well-formed model live in `validate`.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ImplItem, ItemImpl, Pat, PathArguments, ReturnType, Type,
};

use crate::errors::Errors;

/// What a handler is for, from its marker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Init,
    Call,
    Cast,
    Info,
    Continue,
    Timeout,
    Terminate,
}

impl Kind {
    const ALL: [Kind; 7] =
        [Kind::Init, Kind::Call, Kind::Cast, Kind::Info, Kind::Continue, Kind::Timeout, Kind::Terminate];

    /// The marker's name, as written in `#[...]`.
    pub(crate) fn marker(self) -> &'static str {
        match self {
            Kind::Init => "init",
            Kind::Call => "call",
            Kind::Cast => "cast",
            Kind::Info => "info",
            Kind::Continue => "handle_continue",
            Kind::Timeout => "timeout",
            Kind::Terminate => "terminate",
        }
    }

    fn of(attr: &Attribute) -> Option<Kind> {
        let last = attr.path().segments.last()?;
        Kind::ALL.into_iter().find(|kind| last.ident == kind.marker())
    }
}

/// The server: the type the impl block is for, and its handlers.
pub(crate) struct Server {
    /// The type's name, from which generated names are made (`ConfigServer` → `ConfigServerRef`).
    pub(crate) ident: Ident,
    pub(crate) self_ty: Type,
    pub(crate) generics: syn::Generics,
    pub(crate) handlers: Vec<Handler>,
    /// Every method name in the block, handler or not, for collision checks.
    pub(crate) method_names: Vec<Ident>,
}

/// One marked method.
pub(crate) struct Handler {
    pub(crate) kind: Kind,
    /// The marker attribute, for error spans.
    pub(crate) marker: Attribute,
    pub(crate) sig: syn::Signature,
    pub(crate) vis: syn::Visibility,
    pub(crate) receiver: Receiver,
    pub(crate) params: Vec<Param>,
    /// `#[doc]` attributes, carried to the client method.
    pub(crate) docs: Vec<Attribute>,
    /// `#[cfg]` attributes, carried to every generated piece of this handler.
    pub(crate) cfgs: Vec<Attribute>,
}

/// How a handler takes `self`.
#[derive(Clone, Debug)]
pub(crate) enum Receiver {
    None,
    Ref,
    Mut,
    /// `self`, `mut self` or `self: Type`: not allowed, kept for the error.
    Other(Span),
}

/// One parameter besides `self`.
pub(crate) struct Param {
    pub(crate) role: Role,
    pub(crate) ty: Type,
    /// The whole argument, for error spans.
    pub(crate) span_of: FnArg,
}

/// What a parameter is for.
pub(crate) enum Role {
    /// A message field, named after the argument.
    Field(Ident),
    /// `cx: &mut Context<Self>`.
    Context,
    /// `from: ReplyTo<R>`: the call's reply channel; holds `R`.
    ReplyTo(Type),
    /// `reason: &ExitReason`, in `#[terminate]`.
    Reason,
}

impl Handler {
    pub(crate) fn name(&self) -> &Ident {
        &self.sig.ident
    }

    pub(crate) fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = (&Ident, &Type)> {
        self.params.iter().filter_map(|param| match &param.role {
            Role::Field(name) => Some((name, &param.ty)),
            _ => None,
        })
    }

    /// The reply type `R` of a `ReplyTo<R>` parameter, if the handler has one.
    pub(crate) fn reply_to(&self) -> Option<&Type> {
        self.params.iter().find_map(|param| match &param.role {
            Role::ReplyTo(reply) => Some(reply),
            _ => None,
        })
    }

    /// The declared return type, `None` for `()`.
    pub(crate) fn output(&self) -> Option<&Type> {
        match &self.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => match &**ty {
                Type::Tuple(tuple) if tuple.elems.is_empty() => None,
                ty => Some(ty),
            },
        }
    }
}

impl Server {
    /// Reads the impl block. Returns the model (if the block has a usable shape) and the
    /// block with every marker removed.
    pub(crate) fn read(mut item: ItemImpl, errors: &mut Errors) -> (Option<Server>, ItemImpl) {
        let mut handlers = Vec::new();
        let mut method_names = Vec::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            method_names.push(method.sig.ident.clone());
            let markers: Vec<Attribute> =
                method.attrs.iter().filter(|attr| Kind::of(attr).is_some()).cloned().collect();
            method.attrs.retain(|attr| Kind::of(attr).is_none());
            let Some(marker) = markers.first() else {
                continue;
            };
            if let Some(second) = markers.get(1) {
                errors.at(
                    second,
                    format!("`{}` has two handler markers", method.sig.ident),
                    "a method is one kind of handler: keep one marker",
                );
                continue;
            }
            if !matches!(marker.meta, syn::Meta::Path(_)) {
                let name = Kind::of(marker).map(Kind::marker).unwrap_or_default();
                errors.at(marker, format!("#[{name}] takes no arguments"), format!("write `#[{name}]`"));
                continue;
            }
            let kind = Kind::of(marker).expect("filtered above");
            if let Some(handler) = read_handler(kind, marker.clone(), method, errors) {
                handlers.push(handler);
            }
        }

        if let Some((_, trait_path, _)) = &item.trait_ {
            errors.at(
                trait_path,
                "#[genserver] goes on an inherent impl block, not a trait impl",
                format!(
                    "write `impl {}` with the handlers in it",
                    quote::quote!(#trait_path).to_string().replace(' ', "")
                ),
            );
            return (None, item);
        }
        let ident = match &*item.self_ty {
            Type::Path(path) if path.qself.is_none() => path.path.segments.last().map(|s| s.ident.clone()),
            _ => None,
        };
        let Some(ident) = ident else {
            errors.at(
                &item.self_ty,
                "#[genserver] needs a named type such as a struct",
                "put it on `impl MyServer`",
            );
            return (None, item);
        };
        let server = Server {
            ident,
            self_ty: (*item.self_ty).clone(),
            generics: item.generics.clone(),
            handlers,
            method_names,
        };
        (Some(server), item)
    }
}

fn read_handler(
    kind: Kind,
    marker: Attribute,
    method: &syn::ImplItemFn,
    errors: &mut Errors,
) -> Option<Handler> {
    let mut receiver = Receiver::None;
    let mut params = Vec::new();
    let mut ok = true;
    for arg in &method.sig.inputs {
        match arg {
            FnArg::Receiver(recv) => {
                receiver = match (&recv.reference, &recv.mutability, recv.colon_token) {
                    (Some(_), None, None) => Receiver::Ref,
                    (Some(_), Some(_), None) => Receiver::Mut,
                    _ => Receiver::Other(recv.span()),
                }
            }
            FnArg::Typed(typed) => match read_param(kind, typed, arg) {
                Ok(param) => params.push(param),
                Err((span, message, help)) => {
                    errors.at_span(span, message, help);
                    ok = false;
                }
            },
        }
    }
    let docs = method.attrs.iter().filter(|attr| attr.path().is_ident("doc")).cloned().collect();
    let cfgs = method.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).cloned().collect();
    ok.then(|| Handler {
        kind,
        marker,
        sig: method.sig.clone(),
        vis: method.vis.clone(),
        receiver,
        params,
        docs,
        cfgs,
    })
}

type ParamError = (Span, String, String);

fn read_param(kind: Kind, typed: &syn::PatType, arg: &FnArg) -> Result<Param, ParamError> {
    let ty = (*typed.ty).clone();
    let role = if let Some(inner) = context_type(&ty) {
        if !inner {
            return Err((
                typed.ty.span(),
                "the context is taken by mutable reference".into(),
                "write `cx: &mut Context<Self>`".into(),
            ));
        }
        Role::Context
    } else if let Some(reply) = generic_argument(&ty, "ReplyTo") {
        Role::ReplyTo(reply.clone())
    } else if kind == Kind::Terminate && is_exit_reason_ref(&ty) {
        Role::Reason
    } else {
        match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => Role::Field(pat.ident.clone()),
            pat => {
                return Err((
                    pat.span(),
                    "handler arguments become message fields, so each needs a plain name".into(),
                    "name the argument (`point: (i32, i32)`) and destructure it in the body".into(),
                ));
            }
        }
    };
    Ok(Param { role, ty, span_of: arg.clone() })
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

/// `true` if `ty` is a path whose last segment is `name`.
pub(crate) fn last_ident_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => path.path.segments.last().is_some_and(|segment| segment.ident == name),
        _ => false,
    }
}

/// The first generic argument of a type `…::name<T, …>`.
pub(crate) fn generic_argument<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    }
}
