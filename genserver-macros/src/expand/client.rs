//! The client side: the handle `SRef` with one method per call and cast, and the
//! constructors on the server type (`start`, `start_link`, `builder`, `whereis`,
//! `child_spec`).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use super::messages::reply_type;
use super::{Expansion, documented, local, one_or_tuple};
use crate::model::{Handler, Kind, REPLY_TO_FIELD, is_server_type, last_ident_is};

pub(super) fn expand(expansion: &Expansion<'_>) -> TokenStream {
    let handle = handle(expansion);
    let constructors = constructors(expansion);
    quote!(#handle #constructors)
}

fn handle(expansion: &Expansion<'_>) -> TokenStream {
    let (rt, vis, client, self_ty) = (expansion.rt, expansion.vis, &expansion.client, expansion.self_ty());
    let generics = &expansion.server.generics;
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    let server = expansion.server.ident.to_string();
    let (f, server_ref) = (local("f"), local("server"));
    let doc = format!(" The client handle of `{server}`: one method per call and cast. Cheap to clone.");
    let methods =
        expansion.handlers(&[Kind::Call, Kind::Cast]).map(|handler| client_method(expansion, handler));
    let send_info = expansion.has(Kind::Info).then(|| {
        let (info, info_type) = (documented("info"), expansion.info_type());
        let doc = format!(" Sends `{server}` an info message, as a timer or another task would.");
        quote! {
            #[doc = #doc]
            #vis fn send_info(&self, #info: #info_type) -> ::core::result::Result<(), #rt::CastError> {
                self.0.send_info(#info)
            }
        }
    });
    quote! {
        #[doc = #doc]
        #vis struct #client #generics (#rt::ServerRef<#self_ty>) #where_clause;

        impl #impl_generics #client #type_generics #where_clause {
            #(#methods)*
            #send_info
        }

        impl #impl_generics ::core::clone::Clone for #client #type_generics #where_clause {
            fn clone(&self) -> Self {
                Self(::core::clone::Clone::clone(&self.0))
            }
        }

        impl #impl_generics ::core::fmt::Debug for #client #type_generics #where_clause {
            fn fmt(&self, #f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, #f)
            }
        }

        impl #impl_generics ::core::convert::From<#rt::ServerRef<#self_ty>> for #client #type_generics #where_clause {
            fn from(#server_ref: #rt::ServerRef<#self_ty>) -> Self {
                Self(#server_ref)
            }
        }

        impl #impl_generics ::core::convert::AsRef<#rt::ServerRef<#self_ty>> for #client #type_generics #where_clause {
            fn as_ref(&self) -> &#rt::ServerRef<#self_ty> {
                &self.0
            }
        }

        impl #impl_generics ::core::ops::Deref for #client #type_generics #where_clause {
            type Target = #rt::Process;

            fn deref(&self) -> &#rt::Process {
                &self.0
            }
        }
    }
}

fn client_method(expansion: &Expansion<'_>, handler: &Handler) -> TokenStream {
    let (rt, msg, self_ty) = (expansion.rt, &expansion.msg, expansion.self_ty());
    let variant = handler.variant();
    let fields: Vec<_> = handler.fields().map(|(field, _)| field).collect();
    let reply = (handler.kind == Kind::Call).then(|| reply_type(expansion, handler));
    let output = reply.as_ref().map(|reply| quote!(#rt::Call<#self_ty, #reply>));
    let body = if handler.kind == Kind::Call {
        let (field, reply_to) = (Ident::new(REPLY_TO_FIELD, Span::call_site()), local(REPLY_TO_FIELD));
        quote!(self.0.call(|#reply_to| #msg::#variant { #(#fields,)* #field: #reply_to }))
    } else {
        quote!(self.0.cast(#msg::#variant { #(#fields,)* }))
    };
    method_item(expansion, handler, output, quote!(), body)
}

/// A client method for `handler`: its docs, `#[cfg]`s and deprecations, one parameter
/// per message field, returning `output`, with `body`, or for a stub (a rejected
/// handler, whose error stops the build) `unreachable!()`. `attrs` go on the method.
pub(super) fn method_item(
    expansion: &Expansion<'_>,
    handler: &Handler,
    output: Option<TokenStream>,
    attrs: TokenStream,
    body: TokenStream,
) -> TokenStream {
    let (name, vis, cfgs, deprecations) =
        (handler.client_method(), &handler.vis, &handler.cfgs, &handler.deprecations);
    let params = handler.fields().map(|(field, ty)| {
        let ty = expansion.concrete(ty);
        quote!(#field: #ty)
    });
    let docs = method_docs(handler);
    let output = output.map(|output| quote!(-> #output));
    let (body, allow_unused) = if handler.rejected {
        (quote!(::core::unreachable!()), Some(quote!(#[allow(unused_variables)])))
    } else {
        (body, None)
    };
    quote! {
        #docs
        #(#cfgs)*
        #(#deprecations)*
        #allow_unused
        #attrs
        #vis fn #name(&self, #(#params),*) #output {
            #body
        }
    }
}

/// The docs of a client method: the handler's, or a line saying what the method does.
fn method_docs(handler: &Handler) -> TokenStream {
    if handler.docs.is_empty() {
        let name = handler.client_method();
        let doc = match handler.kind {
            Kind::Call => format!(" Calls `{name}` on the server; await the result for its reply."),
            _ => format!(" Casts `{name}` to the server without waiting."),
        };
        quote!(#[doc = #doc])
    } else {
        let docs = &handler.docs;
        quote!(#(#docs)*)
    }
}

fn constructors(expansion: &Expansion<'_>) -> TokenStream {
    let (rt, vis, client, self_ty) = (expansion.rt, expansion.vis, &expansion.client, expansion.self_ty());
    let (impl_generics, _, where_clause) = expansion.server.generics.split_for_impl();
    let type_generics = expansion.type_generics();
    let server = expansion.server.ident.to_string();
    let (params, args) = start_arguments(expansion);
    let start_doc = format!(" Starts a `{server}` and returns its handle once `init` has finished.");
    let link_doc =
        format!(" Starts a `{server}` linked to the calling server; returns once `init` has finished.");
    let builder_doc =
        format!(" A builder to start a `{server}` with options: a name, an init timeout, a mailbox.");
    let whereis_doc = format!(" The `{server}` registered under `name`, if there is one.");
    let child_spec_doc = format!(
        " A child spec that starts a `{server}` with `args` (the `start` arguments, as a tuple \
         when there are several): id `\"{server}\"`, permanent, stopped with a 5 s timeout. \
         Change any of these with the spec's methods (Elixir: `child_spec/1` of `use GenServer`). \
         A supervisor's `start_child` with it returns the server's handle."
    );
    let (child_args, child_args_type) = (documented("args"), quote!(__GenServerChildArgs));
    let name = documented("name");
    let result = quote!(::core::result::Result<#client #type_generics, #rt::StartError<Self>>);
    let functions = [
        (
            "start",
            quote! {
                #[doc = #start_doc]
                #vis async fn start(#params) -> #result {
                    #rt::Builder::<Self>::new().start(#args).await
                }
            },
        ),
        (
            "start_link",
            quote! {
                #[doc = #link_doc]
                #vis async fn start_link(#params) -> #result {
                    #rt::Builder::<Self>::new().start_link(#args).await
                }
            },
        ),
        (
            "builder",
            quote! {
                #[doc = #builder_doc]
                #vis fn builder() -> #rt::Builder<Self> {
                    #rt::Builder::new()
                }
            },
        ),
        (
            "whereis",
            quote! {
                #[doc = #whereis_doc]
                #vis fn whereis(#name: &::core::primitive::str) -> ::core::option::Option<#client #type_generics> {
                    #rt::whereis::<Self>(#name)
                }
            },
        ),
        (
            "child_spec",
            quote! {
                #[doc = #child_spec_doc]
                #vis fn child_spec<#child_args_type>(#child_args: #child_args_type) -> #rt::TypedChildSpec<Self>
                where
                    #child_args_type: ::core::clone::Clone
                        + ::core::marker::Send
                        + ::core::marker::Sync
                        + 'static
                        + ::core::convert::Into<<Self as #rt::GenServer>::Args>,
                {
                    #rt::__private::child_spec::<Self, #child_args_type>(#server, #child_args)
                }
            },
        ),
    ];
    // A function the impl block already has is not generated (an error says so).
    let left_out = &expansion.server.left_out;
    let functions =
        functions.into_iter().filter(|(name, _)| !left_out.contains(name)).map(|(_, function)| function);
    quote! {
        impl #impl_generics #self_ty #where_clause {
            #(#functions)*
        }
    }
}

/// The parameters of `start` and the expression that packs them into `GenServer::Args`:
/// the `#[init]` arguments (one value, a tuple, or `()`), or the state itself.
fn start_arguments(expansion: &Expansion<'_>) -> (TokenStream, TokenStream) {
    let Some(init) = expansion.handler(Kind::Init) else {
        let state = documented("state");
        return (quote!(#state: Self), quote!(#state));
    };
    let params = init.variant_fields().map(|(field, ty)| quote!(#field: #ty));
    let idents: Vec<_> = init.variant_fields().map(|(field, _)| field).collect();
    (quote!(#(#params),*), one_or_tuple(&idents))
}

/// The `GenServer::Args` type for the server.
pub(super) fn args_type(expansion: &Expansion<'_>) -> TokenStream {
    let Some(init) = expansion.handler(Kind::Init) else {
        return quote!(Self);
    };
    let types: Vec<_> = init.variant_fields().map(|(_, ty)| ty).collect();
    one_or_tuple(&types)
}

/// Whether `#[init]` returns the state itself rather than `Init` or `Result`.
pub(super) fn init_returns_self(expansion: &Expansion<'_>, init: &Handler) -> bool {
    init.output().is_some_and(|ty| is_server_type(&expansion.server.ident, ty))
        && !init.output().is_some_and(|ty| last_ident_is(ty, "Init") || last_ident_is(ty, "Result"))
}
