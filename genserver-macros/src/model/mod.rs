//! The model of a server, as the macro reads it from the `impl` block: its type,
//! generics and handlers, each handler with its kind, receiver, parameters (by role) and
//! return type.
//!
//! The model is what the stages share: [`read`] builds it, `validate` checks it and
//! `expand` generates code from it. The names of everything generated are made here too
//! ([`names`]), so that the names `validate` checks are the names `expand` writes. The
//! model depends on no other stage.

mod names;
mod read;
pub(crate) mod recover;

pub(crate) use names::{HANDLE_METHODS, REPLY_TO_FIELD, SERVER_FUNCTIONS};

use syn::{Attribute, FnArg, GenericArgument, Ident, PathArguments, ReturnType, Type};

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
    /// Every kind, to recognise markers by name.
    const ALL: [Kind; 7] =
        [Kind::Init, Kind::Call, Kind::Cast, Kind::Info, Kind::Continue, Kind::Timeout, Kind::Terminate];

    /// Names that mean a marker but are not one (Elixir's callback names), each with the
    /// kind it means: reported with the right name, and read as that kind. (`#[continue]`
    /// never parses, `continue` being a keyword: rustc reports it, and the macro only
    /// removes it.)
    const MISNAMED: [(&'static str, Kind); 7] = [
        ("handle_call", Kind::Call),
        ("handle_cast", Kind::Cast),
        ("handle_info", Kind::Info),
        ("handle_init", Kind::Init),
        ("handle_timeout", Kind::Timeout),
        ("handle_terminate", Kind::Terminate),
        ("continue", Kind::Continue),
    ];

    /// The kind a marker's name stands for, and whether it is misnamed (`handle_call`).
    pub(crate) fn named(name: &str) -> Option<(Kind, bool)> {
        let marker = Kind::ALL.into_iter().find(|kind| kind.marker() == name).map(|kind| (kind, false));
        marker.or_else(|| {
            Kind::MISNAMED.into_iter().find(|(misnamed, _)| *misnamed == name).map(|(_, kind)| (kind, true))
        })
    }

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

    /// The marker with its article, for messages: `a #[call]`, `an #[info]`.
    pub(crate) fn a_marker(self) -> String {
        let article = if matches!(self, Kind::Init | Kind::Info) { "an" } else { "a" };
        format!("{article} #[{}]", self.marker())
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
    /// The functions on the server type that are not generated, because the impl block
    /// already has a method of that name (an error says so).
    pub(crate) left_out: Vec<&'static str>,
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
    /// `#[deprecated]` attributes, carried to the client method.
    pub(crate) deprecations: Vec<Attribute>,
    /// The handler is wrong (an error says why, the macro's or rustc's): it is generated
    /// as a stub, its variant and client method present so that code using them
    /// type-checks, its dispatch unreachable.
    pub(crate) rejected: bool,
    /// Whether the reply type can be written in the stub's client method.
    pub(crate) reply_travels: bool,
}

/// How a handler takes `self`.
#[derive(Clone, Debug)]
pub(crate) enum Receiver {
    None,
    Ref,
    Mut,
    /// `self`, `mut self` or `self: Type`: not allowed, kept for the error.
    Other(Box<syn::Receiver>),
}

/// One parameter besides `self`.
pub(crate) struct Param {
    pub(crate) role: Role,
    pub(crate) ty: Type,
    /// The whole argument, for error spans.
    pub(crate) span_of: FnArg,
    /// Whether the type can be a field of a stub's variant: a rejected handler's
    /// variant leaves out the fields whose types are wrong, so they are reported once.
    pub(crate) travels: bool,
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

    /// The fields of the handler's variant: all of them, or for a stub those whose
    /// types are not wrong.
    pub(crate) fn variant_fields(&self) -> impl Iterator<Item = (&Ident, &Type)> {
        self.params.iter().filter_map(|param| match &param.role {
            Role::Field(name) if param.travels || !self.rejected => Some((name, &param.ty)),
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

/// Whether `ty` names the server's own type: `Self`, or the type's name.
pub(crate) fn is_server_type(server: &Ident, ty: &Type) -> bool {
    last_ident_is(ty, "Self") || last_ident_is(ty, &server.to_string())
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

/// `ReplyTo`, `&mut Context`, ...: a runtime type that needs type arguments, written without.
pub(crate) fn lacks_type_arguments(ty: &Type) -> bool {
    let ty = match ty {
        Type::Reference(reference) => &*reference.elem,
        ty => ty,
    };
    let Type::Path(path) = ty else {
        return false;
    };
    path.path.segments.last().is_some_and(|segment| {
        ["ReplyTo", "Reply", "Init", "Context"].iter().any(|name| segment.ident == name)
            && segment.arguments.is_none()
    })
}
