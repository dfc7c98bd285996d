//! What `#[genserver(remote)]` adds, for a server other nodes can call: the request enum
//! `SRequest` that travels between nodes, `impl RemoteServer for S`, the cluster client
//! `SClient` with the handle's methods, `S::global(&node, name)` and `S::group(&node, group)`.
//!
//! A call or cast from `SClient` goes straight to the local handle when the server runs
//! on this node, and travels as an `SRequest` otherwise. Every argument and reply type
//! must be serializable (`Travels`): the errors for one that is not are spanned on it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::client::method_item;
use super::messages::reply_type;
use super::{Expansion, documented, local};
use crate::model::{Handler, Kind, REPLY_TO_FIELD};

pub(super) fn expand(expansion: &Expansion<'_>) -> TokenStream {
    let request = request_enum(expansion);
    let remote_server = remote_server(expansion);
    let client = client(expansion);
    quote!(#request #remote_server #client)
}

/// The handlers that travel: every call and cast that is not a stub.
fn travelling<'a>(expansion: &'a Expansion<'_>) -> impl Iterator<Item = &'a Handler> + 'a {
    expansion.handlers(&[Kind::Call, Kind::Cast]).filter(|handler| !handler.rejected)
}

fn request_enum(expansion: &Expansion<'_>) -> TokenStream {
    let (rt, vis, request) = (expansion.rt, expansion.vis, &expansion.request);
    let server = expansion.server.ident.to_string();
    let doc = format!(
        " The calls and casts of `{server}` as they travel between nodes: the message enum's \
         variants without their reply channels, in MessagePack with field names."
    );
    let serde = format!("{}::__private::serde", quote!(#rt).to_string().replace(' ', ""));
    let variants = travelling(expansion).map(|handler| {
        let (name, cfgs) = (handler.variant(), &handler.cfgs);
        let doc = format!(" `#[{}] {}`.", handler.kind.marker(), handler.name());
        let fields = handler.fields().map(|(field, ty)| {
            let ty = expansion.concrete(ty);
            quote!(#field: #ty,)
        });
        quote! {
            #[doc = #doc]
            #(#cfgs)*
            #name { #(#fields)* },
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(#rt::__private::serde::Serialize, #rt::__private::serde::Deserialize)]
        #[serde(crate = #serde)]
        #vis enum #request {
            #(#variants)*
        }
    }
}

fn remote_server(expansion: &Expansion<'_>) -> TokenStream {
    let (rt, msg, request, self_ty) = (expansion.rt, &expansion.msg, &expansion.request, expansion.self_ty());
    let server = expansion.server.ident.to_string();
    let request_value = local("request");
    let arms = travelling(expansion).map(|handler| {
        let (variant, cfgs) = (handler.variant(), &handler.cfgs);
        let fields: Vec<_> = handler.fields().map(|(field, _)| field).collect();
        let incoming = if handler.kind == Kind::Call {
            let reply = reply_type(expansion, handler);
            let (field, reply_to) = (Ident::new(REPLY_TO_FIELD, Span::call_site()), local(REPLY_TO_FIELD));
            let accept = quote_spanned!(reply.span()=> #rt::cluster::Incoming::call::<#reply>);
            quote!(#accept(|#reply_to| #msg::#variant { #(#fields,)* #field: #reply_to }))
        } else {
            quote!(#rt::cluster::Incoming::cast(#msg::#variant { #(#fields,)* }))
        };
        quote!(#(#cfgs)* #request::#variant { #(#fields,)* } => #incoming,)
    });
    quote! {
        impl #rt::cluster::RemoteServer for #self_ty {
            type Request = #request;

            const TYPE_TAG: &'static str = ::core::concat!(::core::module_path!(), "::", #server);

            fn accept(#request_value: Self::Request) -> #rt::cluster::Incoming<Self> {
                match #request_value {
                    #(#arms)*
                }
            }
        }
    }
}

fn client(expansion: &Expansion<'_>) -> TokenStream {
    let (rt, vis, cluster_client, handle, self_ty) =
        (expansion.rt, expansion.vis, &expansion.cluster_client, &expansion.client, expansion.self_ty());
    let server = expansion.server.ident.to_string();
    let doc = format!(
        " A client of `{server}` on any node of the cluster, this one included: the same \
         methods as `{handle}`. Cheap to clone."
    );
    let global_doc = format!(
        " The `{server}` registered under the global name `name`, on whichever node holds it \
         (Elixir: `GenServer.call({{:global, name}}, ...)`). `CallError::NoServer` if nobody \
         holds it."
    );
    let methods =
        expansion.handlers(&[Kind::Call, Kind::Cast]).map(|handler| client_method(expansion, handler));
    let group_doc = format!(
        " The `{server}` members of the process group `group`, on every node, as `node` sees \
         them (Erlang: `pg:get_members/1`)."
    );
    let (node, name, group, server_handle, f) =
        (documented("node"), documented("name"), documented("group"), local("server"), local("f"));
    quote! {
        #[doc = #doc]
        #vis struct #cluster_client(#rt::cluster::Client<#self_ty>);

        impl #cluster_client {
            #(#methods)*

            /// The client underneath: where the server runs.
            #vis fn client(&self) -> &#rt::cluster::Client<#self_ty> {
                &self.0
            }
        }

        impl ::core::clone::Clone for #cluster_client {
            fn clone(&self) -> Self {
                Self(::core::clone::Clone::clone(&self.0))
            }
        }

        impl ::core::fmt::Debug for #cluster_client {
            fn fmt(&self, #f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, #f)
            }
        }

        impl ::core::convert::From<#rt::cluster::Client<#self_ty>> for #cluster_client {
            fn from(#server_handle: #rt::cluster::Client<#self_ty>) -> Self {
                Self(#server_handle)
            }
        }

        impl ::core::convert::From<#handle> for #cluster_client {
            fn from(#server_handle: #handle) -> Self {
                Self(#rt::cluster::Client::local(#server_handle))
            }
        }

        impl #self_ty {
            #[doc = #global_doc]
            #vis async fn global(
                #node: &#rt::cluster::Node,
                #name: &str,
            ) -> ::core::result::Result<#cluster_client, #rt::CallError> {
                #rt::cluster::Client::global(#node, #name).await.map(#cluster_client)
            }

            #[doc = #group_doc]
            #vis fn group(
                #node: &#rt::cluster::Node,
                #group: &str,
            ) -> ::std::vec::Vec<#cluster_client> {
                ::core::iter::Iterator::collect(::core::iter::Iterator::map(
                    ::core::iter::IntoIterator::into_iter(#rt::cluster::Client::group(#node, #group)),
                    #cluster_client,
                ))
            }
        }
    }
}

fn client_method(expansion: &Expansion<'_>, handler: &Handler) -> TokenStream {
    let (rt, request, self_ty) = (expansion.rt, &expansion.request, expansion.self_ty());
    let (name, variant) = (handler.client_method(), handler.variant());
    let fields: Vec<_> = handler.fields().map(|(field, _)| field).collect();
    let (local_server, remote) = (local("server"), local("remote"));
    let reply = (handler.kind == Kind::Call).then(|| reply_type(expansion, handler));
    let output = reply.as_ref().map(|reply| quote!(#rt::cluster::ClientCall<#self_ty, #reply>));
    let body = if let Some(reply) = &reply {
        let remote_call = quote_spanned!(reply.span()=> #remote.call::<#reply>);
        quote! {
            match self.0.target() {
                #rt::cluster::Target::Local(#local_server) => {
                    ::core::convert::From::from(#local_server.#name(#(#fields),*))
                }
                #rt::cluster::Target::Remote(#remote) => #remote_call(#request::#variant { #(#fields,)* }),
            }
        }
    } else {
        quote! {
            match self.0.target() {
                #rt::cluster::Target::Local(#local_server) => #local_server.#name(#(#fields),*),
                #rt::cluster::Target::Remote(#remote) => #remote.cast(#request::#variant { #(#fields,)* }),
            }
        }
    };
    // The local handle's method carries the same deprecation: calling it is no news.
    let attrs = (!handler.deprecations.is_empty()).then(|| quote!(#[allow(deprecated)]));
    method_item(expansion, handler, output, quote!(#attrs), body)
}
