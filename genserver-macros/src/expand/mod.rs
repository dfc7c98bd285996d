//! Generates the code for a valid server model, and nothing else: no checks happen here.
//!
//! For a server `S` the output is, in order:
//! 1. the user's impl block, markers removed (emitted by the caller);
//! 2. the message enums `SMsg`, `SInfo`, `SContinue` ([`messages`]);
//! 3. the client handle `SRef` and its methods ([`client`]);
//! 4. `S::start`, `start_link`, `builder`, `whereis`, `child_spec` ([`client`]);
//! 5. `impl GenServer for S`, one `match` per entry point ([`dispatch`]);
//! 6. with `#[genserver(remote)]`, the request enum `SRequest`, `impl RemoteServer`,
//!    the cluster client `SClient` and `S::global` ([`remote`]);
//! 7. a use of each marker, which the macro removed from the impl block.
//!
//! Every path is rooted (`::core::…` or the runtime path, `::genserver_runtime` by
//! default), so names in the user's scope cannot change what the expansion means; local
//! variables use mixed-site hygiene, so they cannot shadow or be shadowed by the user's.

mod client;
mod dispatch;
mod messages;
mod remote;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Ident, Path, Type};

use crate::model::{Handler, Kind, REPLY_TO_FIELD, Role, Server, last_ident_is};
use crate::options::Options;

/// Everything the generators share: the model, the options, and the names of the
/// generated types (made by the model, kept here to be written without ceremony).
pub(crate) struct Expansion<'a> {
    pub(crate) server: &'a Server,
    pub(crate) rt: &'a Path,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) msg: Ident,
    pub(crate) info: Ident,
    pub(crate) cont: Ident,
    pub(crate) client: Ident,
    pub(crate) request: Ident,
    pub(crate) cluster_client: Ident,
    remote: bool,
    /// `#[genserver(debug_state)]`: the state is rendered with `Debug`.
    pub(crate) debug_state: bool,
    /// `#[genserver(debug_messages)]`: the messages are rendered with `Debug`.
    pub(crate) debug_messages: bool,
}

impl<'a> Expansion<'a> {
    fn new(server: &'a Server, options: &'a Options) -> Self {
        Expansion {
            server,
            rt: &options.runtime,
            vis: &options.vis,
            msg: server.message_enum(),
            info: server.info_enum(),
            cont: server.continue_enum(),
            client: server.client_handle(),
            request: server.request_enum(),
            cluster_client: server.cluster_client(),
            remote: options.remote.is_some(),
            debug_state: options.debug_state,
            debug_messages: options.debug_messages,
        }
    }

    pub(crate) fn handlers(&self, kinds: &'a [Kind]) -> impl Iterator<Item = &'a Handler> + 'a {
        self.server.handlers.iter().filter(move |handler| kinds.contains(&handler.kind))
    }

    pub(crate) fn handler(&self, kind: Kind) -> Option<&'a Handler> {
        self.server.handlers.iter().find(|handler| handler.kind == kind)
    }

    pub(crate) fn has(&self, kind: Kind) -> bool {
        self.handler(kind).is_some()
    }

    /// The type's generic arguments, as in `Cache<K>`: `<K>`.
    pub(crate) fn type_generics(&self) -> TokenStream {
        let (_, type_generics, _) = self.server.generics.split_for_impl();
        quote!(#type_generics)
    }

    /// The server's type with `Self` spelled out, for use outside its impl blocks.
    pub(crate) fn self_ty(&self) -> &Type {
        &self.server.self_ty
    }

    /// `ty` with every `Self` replaced by the server's type, for use in generated types.
    pub(crate) fn concrete(&self, ty: &Type) -> Type {
        let mut ty = ty.clone();
        ReplaceSelf(self.self_ty()).visit_type_mut(&mut ty);
        ty
    }

    /// The `Info` type: the generated enum, or `Infallible` when there are no info handlers.
    pub(crate) fn info_type(&self) -> TokenStream {
        let (info, generics) = (&self.info, self.type_generics());
        if self.has(Kind::Info) { quote!(#info #generics) } else { quote!(::core::convert::Infallible) }
    }

    /// The `Continue` type: the generated enum, or `NoContinue`.
    pub(crate) fn continue_type(&self) -> TokenStream {
        let (cont, generics, rt) = (&self.cont, self.type_generics(), self.rt);
        if self.has(Kind::Continue) { quote!(#cont #generics) } else { quote!(#rt::NoContinue) }
    }
}

struct ReplaceSelf<'a>(&'a Type);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(path) = ty {
            if path.qself.is_none() && path.path.is_ident("Self") {
                *ty = self.0.clone();
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// A local variable or parameter of the generated code. Mixed-site hygiene keeps it
/// apart from the user's variables, and the prefix from the user's constants, which a
/// binding of the same name would match as a pattern instead.
pub(crate) fn local(name: &str) -> Ident {
    quote::format_ident!("__genserver_{name}", span = Span::mixed_site())
}

/// A parameter of a generated public function (`start(state)`, `whereis(name)`): named
/// for its docs, kept apart from the user's variables by mixed-site hygiene.
pub(crate) fn documented(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// How `#[init]`'s arguments travel as `GenServer::Args`: one argument as itself,
/// several (or none) as a tuple. Used alike for their types, values and patterns.
pub(crate) fn one_or_tuple<T: quote::ToTokens>(items: &[T]) -> TokenStream {
    match items {
        [only] => quote!(#only),
        _ => quote!((#(#items,)*)),
    }
}

/// The arguments to pass when calling `handler`, in its declared order: message fields by
/// name, then the context, reply channel and exit reason where the handler takes them.
/// Those three are recognised by their types' names, so each is passed through
/// `runtime_argument`, spanned on the user's type: a user type of the same name gets one
/// error there.
pub(crate) fn call_arguments(rt: &Path, handler: &Handler) -> TokenStream {
    let args = handler.params.iter().map(|param| {
        let (name, runtime) = match &param.role {
            Role::Field(name) => return quote!(#name),
            Role::Context => ("cx", quote!(&mut #rt::Context<Self>)),
            Role::ReplyTo(reply) => (REPLY_TO_FIELD, quote!(#rt::ReplyTo<#reply>)),
            Role::Reason => ("reason", quote!(&#rt::ExitReason)),
        };
        let ty = without_lifetimes(&param.ty);
        let span = ty.span();
        let mut local = local(name);
        local.set_span(local.span().located_at(span));
        quote_spanned!(span=> #rt::__private::runtime_argument::<#ty, #runtime>(#local))
    });
    quote!(#(#args),*)
}

/// `ty` without the lifetimes of its references, which may name a handler's own.
pub(crate) fn without_lifetimes(ty: &Type) -> Type {
    struct WithoutLifetimes;
    impl VisitMut for WithoutLifetimes {
        fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
            reference.lifetime = None;
            syn::visit_mut::visit_type_reference_mut(self, reference);
        }
    }
    let mut ty = ty.clone();
    WithoutLifetimes.visit_type_mut(&mut ty);
    ty
}

/// `Self::name(self, args…)` with `.await` for an async handler. The path form reaches
/// the inherent method even where a trait method has the same name. A return type read by
/// its name (`Reply`, `NoReply`, `Init`) is passed through `runtime_return`, spanned on
/// it: a user type of the same name gets one error there.
pub(crate) fn invoke(rt: &Path, handler: &Handler, with_self: bool) -> TokenStream {
    let name = handler.name();
    let args = call_arguments(rt, handler);
    let receiver = with_self.then(|| quote!(self,));
    let awaited = handler.is_async().then(|| quote!(.await));
    let call = quote!(Self::#name(#receiver #args) #awaited);
    let runtime =
        handler.output().filter(|ty| ["Reply", "NoReply", "Init"].iter().any(|name| last_ident_is(ty, name)));
    match runtime {
        Some(ty) => {
            let ty = without_lifetimes(ty);
            let mut returned = local("returned");
            returned.set_span(returned.span().located_at(ty.span()));
            let check = quote_spanned!(ty.span()=> #rt::__private::runtime_return::<#ty>(#returned));
            quote!({
                let #returned = #call;
                #check
            })
        }
        None => call,
    }
}

/// The whole expansion.
pub(crate) fn expand(server: &Server, options: &Options) -> TokenStream {
    let expansion = Expansion::new(server, options);
    let messages = messages::expand(&expansion);
    let client = client::expand(&expansion);
    let dispatch = dispatch::expand(&expansion);
    let remote = expansion.remote.then(|| remote::expand(&expansion));
    let markers = marker_uses(server);
    quote! {
        #messages
        #client
        #dispatch
        #remote
        #markers
    }
}

/// A use of each marker's path as the user wrote it: the macro removes the markers, so
/// without this an import of them by name (`use genserver_runtime::call;`) would be
/// reported unused.
fn marker_uses(server: &Server) -> TokenStream {
    let mut paths: Vec<&Path> = Vec::new();
    for handler in &server.handlers {
        let path = handler.marker.path();
        // A misnamed marker (`#[handle_call]`) has its error already, and no item.
        let misnamed = path.segments.last().is_none_or(|last| last.ident != handler.kind.marker());
        if !misnamed && !paths.contains(&path) {
            paths.push(path);
        }
    }
    quote! {
        /// The handler markers, used where the macro removed them.
        const _: () = {
            #(
                #[allow(unused_imports)]
                use #paths as _;
            )*
        };
    }
}
