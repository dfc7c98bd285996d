//! The message enums: `SMsg` (calls and casts), `SInfo`, `SContinue`.
//!
//! One struct-like variant per handler, named after it (`get_all` → `GetAll`), with one
//! field per argument; a call variant also carries `reply_to: ReplyTo<R>`. A generic
//! server's enums carry its type parameters, kept in use by a hidden variant that can
//! never be built.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, Type};

use super::Expansion;
use crate::model::{Handler, Kind, REPLY_TO_FIELD, generic_argument};

pub(super) fn expand(expansion: &Expansion<'_>) -> TokenStream {
    let server = expansion.server.ident.to_string();
    let msg = message_enum(
        expansion,
        &expansion.msg,
        &[Kind::Call, Kind::Cast],
        &format!(" The calls and casts of `{server}`: one variant per `#[call]` and `#[cast]` handler."),
    );
    // `#[genserver(debug_messages)]`: the runtime renders each message with this.
    let msg = if expansion.debug_messages { quote!(#[derive(::core::fmt::Debug)] #msg) } else { msg };
    let info = expansion.has(Kind::Info).then(|| {
        let doc = format!(" The info messages of `{server}`: one variant per `#[info]` handler.");
        let definition = message_enum(expansion, &expansion.info, &[Kind::Info], &doc);
        let clone = info_clone(expansion);
        quote!(#definition #clone)
    });
    let cont = expansion.has(Kind::Continue).then(|| {
        let doc = format!(" The continuations of `{server}`: one variant per `#[handle_continue]` handler.");
        let definition = message_enum(expansion, &expansion.cont, &[Kind::Continue], &doc);
        let (rt, cont, self_ty) = (expansion.rt, &expansion.cont, expansion.self_ty());
        let (impl_generics, type_generics, where_clause) = expansion.server.generics.split_for_impl();
        quote! {
            #definition
            impl #impl_generics #rt::__private::ContinueOf<#self_ty> for #cont #type_generics #where_clause {
                fn into_continue(self) -> Self {
                    self
                }
            }
        }
    });
    quote!(#msg #info #cont)
}

fn message_enum(expansion: &Expansion<'_>, ident: &Ident, kinds: &[Kind], doc: &str) -> TokenStream {
    let (vis, generics) = (expansion.vis, &expansion.server.generics);
    let where_clause = &generics.where_clause;
    let variants = expansion.handlers(kinds).map(|handler| variant(expansion, handler));
    let phantom = phantom_variant(expansion);
    quote! {
        #[doc = #doc]
        #vis enum #ident #generics #where_clause {
            #(#variants)*
            #phantom
        }
    }
}

fn variant(expansion: &Expansion<'_>, handler: &Handler) -> TokenStream {
    let name = handler.variant();
    let doc = format!(" `#[{}] {}`.", handler.kind.marker(), handler.name());
    let cfgs = &handler.cfgs;
    let fields = handler.variant_fields().map(|(field, ty)| {
        let ty = expansion.concrete(ty);
        quote!(#field: #ty,)
    });
    // A stub's variant is never built by the generated code: it has no reply channel.
    let reply_to = (handler.kind == Kind::Call && !handler.rejected).then(|| {
        let (rt, reply) = (expansion.rt, reply_type(expansion, handler));
        let reply_to = Ident::new(REPLY_TO_FIELD, Span::call_site());
        quote!(#reply_to: #rt::ReplyTo<#reply>,)
    });
    quote! {
        #[doc = #doc]
        #(#cfgs)*
        #name { #(#fields)* #reply_to },
    }
}

/// What the caller of a `#[call]` receives: the `R` of its `ReplyTo<R>` or `Reply<R>`,
/// or its plain return type (`()` for a stub whose return type is wrong).
pub(super) fn reply_type(expansion: &Expansion<'_>, handler: &Handler) -> Type {
    let reply = match (handler.reply_to(), handler.output()) {
        (Some(reply), _) => reply.clone(),
        (None, None) => syn::parse_quote!(()),
        (None, Some(_)) if !handler.reply_travels => syn::parse_quote!(()),
        (None, Some(output)) => generic_argument(output, "Reply").unwrap_or(output).clone(),
    };
    expansion.concrete(&reply)
}

/// The variant that uses a generic server's type parameters; it holds `Infallible`, so
/// it can never be built.
pub(super) fn phantom_variant(expansion: &Expansion<'_>) -> Option<TokenStream> {
    let params: Vec<_> = expansion.server.generics.type_params().map(|param| &param.ident).collect();
    (!params.is_empty()).then(|| {
        quote! {
            #[doc(hidden)]
            __Phantom(::core::marker::PhantomData<fn() -> (#(#params,)*)>, ::core::convert::Infallible),
        }
    })
}

/// The arm that handles the phantom variant in a `match`, over a value or, `by_ref`,
/// over a dereferenced place (`match *value`), where it binds by reference.
pub(super) fn phantom_arm(
    expansion: &Expansion<'_>,
    enum_ident: &Ident,
    by_ref: bool,
) -> Option<TokenStream> {
    phantom_variant(expansion).map(|_| {
        let never = super::local("never");
        if by_ref {
            quote!(#enum_ident::__Phantom(_, ref #never) => match *#never {},)
        } else {
            quote!(#enum_ident::__Phantom(_, #never) => match #never {},)
        }
    })
}

/// `Clone` for the info enum when no info handler takes arguments, so that
/// `send_interval` can repeat its messages.
fn info_clone(expansion: &Expansion<'_>) -> Option<TokenStream> {
    if expansion.handlers(&[Kind::Info]).any(|handler| handler.fields().next().is_some()) {
        return None;
    }
    let info = &expansion.info;
    let (impl_generics, type_generics, where_clause) = expansion.server.generics.split_for_impl();
    let arms = expansion.handlers(&[Kind::Info]).map(|handler| {
        let (name, cfgs) = (handler.variant(), &handler.cfgs);
        quote!(#(#cfgs)* Self::#name {} => Self::#name {},)
    });
    let phantom = phantom_arm(expansion, &Ident::new("Self", Span::call_site()), true);
    Some(quote! {
        impl #impl_generics ::core::clone::Clone for #info #type_generics #where_clause {
            fn clone(&self) -> Self {
                // On the place, not the reference: if every variant is cfg'd out, the
                // enum is empty and an empty match on it is exhaustive.
                match *self {
                    #(#arms)*
                    #phantom
                }
            }
        }
    })
}
