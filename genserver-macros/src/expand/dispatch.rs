//! `impl GenServer for S`: the associated types, and one `match` per entry point that
//! calls the user's handler and turns its return value into a `Flow`.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::client::{args_type, init_returns_self};
use super::messages::phantom_arm;
use super::{Expansion, invoke, local, one_or_tuple};
use crate::model::{Handler, Kind, REPLY_TO_FIELD, last_ident_is};

pub(super) fn expand(expansion: &Expansion<'_>) -> TokenStream {
    let (rt, self_ty) = (expansion.rt, expansion.self_ty());
    let (impl_generics, type_generics, where_clause) = expansion.server.generics.split_for_impl();
    let (msg, client) = (&expansion.msg, &expansion.client);
    let (info_type, continue_type, args_type) =
        (expansion.info_type(), expansion.continue_type(), args_type(expansion));
    let cx = local("cx");
    let init = init(expansion);
    let handle = entry_point(expansion, "handle", "msg", "Msg", msg, Kind::Call);
    let handle_info = entry_point(expansion, "handle_info", "info", "Info", &expansion.info, Kind::Info);
    let handle_continue =
        entry_point(expansion, "handle_continue", "value", "Continue", &expansion.cont, Kind::Continue);
    let handle_timeout =
        expansion.handler(Kind::Timeout).filter(|handler| !handler.rejected).map(|handler| {
            let signature = quote!(handle_timeout(&mut self, #cx: &mut #rt::Context<Self>));
            entry_fn(signature, quote!(#rt::Flow<Self>), flow(expansion, handler), handler.is_async())
        });
    let terminate = expansion.handler(Kind::Terminate).filter(|handler| !handler.rejected).map(|handler| {
        let reason = local("reason");
        let signature = quote!(terminate(&mut self, #reason: &#rt::ExitReason, #cx: &mut #rt::Context<Self>));
        entry_fn(signature, quote!(()), invoke(rt, handler, true), handler.is_async())
    });
    let message_name = names_of(expansion, msg, &[Kind::Call, Kind::Cast]);
    let info_name = names_of(expansion, &expansion.info, &[Kind::Info]);
    let (msg_param, info_param) = (local("msg"), local("info"));
    let format_state = expansion.debug_state.then(|| {
        quote! {
            fn format_state(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(::std::format!("{:?}", self))
            }
        }
    });
    let format_message = expansion.debug_messages.then(|| {
        quote! {
            const FORMATS_MESSAGES: bool = true;
            fn format_message(#msg_param: &Self::Msg) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(::std::format!("{:?}", #msg_param))
            }
        }
    });
    // The dispatch calls the handlers, some of which may be deprecated for their users.
    let allow_deprecated = expansion
        .server
        .handlers
        .iter()
        .any(|handler| !handler.deprecations.is_empty())
        .then(|| quote!(#[allow(deprecated)]));
    quote! {
        #allow_deprecated
        impl #impl_generics #rt::GenServer for #self_ty #where_clause {
            type Args = #args_type;
            type Msg = #msg #type_generics;
            type Info = #info_type;
            type Continue = #continue_type;
            type Ref = #client #type_generics;

            #init
            #handle
            #handle_info

            #handle_continue

            #handle_timeout
            #terminate

            fn message_name(#msg_param: &Self::Msg) -> &'static ::core::primitive::str {
                #message_name
            }

            fn info_name(#info_param: &Self::Info) -> &'static ::core::primitive::str {
                #info_name
            }

            #format_state
            #format_message
        }
    }
}

fn init(expansion: &Expansion<'_>) -> TokenStream {
    let rt = expansion.rt;
    let (args, cx) = (local("args"), local("cx"));
    let body = match expansion.handler(Kind::Init) {
        None => quote!(#rt::IntoInit::<Self>::into_init(#rt::Init::<Self>::ok(#args))),
        // A stub: the `#[init]` is wrong, and its error stops the build.
        Some(init) if init.rejected => quote!(::core::unreachable!()),
        Some(init) => {
            let fields: Vec<_> = init.fields().map(|(field, _)| field).collect();
            let pattern = one_or_tuple(&fields);
            let unpack = quote!(let #pattern = #args;);
            let call = invoke(rt, init, false);
            let call =
                if init_returns_self(expansion, init) { quote!(#rt::Init::<Self>::ok(#call)) } else { call };
            quote! {
                #unpack
                #rt::IntoInit::<Self>::into_init(#call)
            }
        }
    };
    let signature = quote!(init(#args: Self::Args, #cx: &mut #rt::Context<Self>));
    let asynchronous = expansion.handler(Kind::Init).is_some_and(|init| init.is_async() && !init.rejected);
    let function = entry_fn(signature, quote!(#rt::InitOutcome<Self>), body, asynchronous);
    if asynchronous {
        function
    } else {
        // A ready future: the start may run `init` in the starting task.
        quote! {
            const INIT_IS_READY: bool = true;
            #function
        }
    }
}

/// One method of the `GenServer` impl. An `async fn` if a handler it calls is async;
/// otherwise it does its work when called and returns a ready future, which keeps the
/// server task small (an `async fn` would store its arguments in its future).
fn entry_fn(
    signature: TokenStream,
    output: TokenStream,
    body: TokenStream,
    asynchronous: bool,
) -> TokenStream {
    if asynchronous {
        quote! {
            async fn #signature -> #output {
                #body
            }
        }
    } else {
        // Unreachable when `#[cfg]` removes every handler of the kind: an empty match.
        // Inline, so that the server's loop can build the handler's ready result in place
        // instead of copying it out of a call's return slot (a copy the CPU stalls on).
        quote! {
            #[allow(unreachable_code)]
            #[inline]
            fn #signature -> impl ::core::future::Future<Output = #output> + ::core::marker::Send {
                ::core::future::ready({ #body })
            }
        }
    }
}

/// One entry point that dispatches an enum: `async fn method(&mut self, param: Self::Type,
/// cx) -> Flow<Self> { match param { ... } }`.
fn entry_point(
    expansion: &Expansion<'_>,
    method: &str,
    param: &str,
    ty: &str,
    enum_ident: &syn::Ident,
    kind: Kind,
) -> TokenStream {
    let rt = expansion.rt;
    let (method, ty) = (syn::Ident::new(method, Span::call_site()), syn::Ident::new(ty, Span::call_site()));
    let (param, cx) = (local(param), local("cx"));
    let body = dispatch_enum(expansion, enum_ident, kind, &param);
    let asynchronous =
        expansion.handlers(kinds_of(kind)).any(|handler| handler.is_async() && !handler.rejected);
    let signature = quote!(#method(&mut self, #param: Self::#ty, #cx: &mut #rt::Context<Self>));
    entry_fn(signature, quote!(#rt::Flow<Self>), body, asynchronous)
}

/// `match value { Enum::Variant { fields } => flow, ... }` over the handlers of `kind`
/// (calls and casts together for `Kind::Call`).
fn dispatch_enum(
    expansion: &Expansion<'_>,
    enum_ident: &syn::Ident,
    kind: Kind,
    value: &syn::Ident,
) -> TokenStream {
    let handlers: Vec<_> = expansion.handlers(kinds_of(kind)).collect();
    if handlers.is_empty() {
        return quote!(match #value {});
    }
    let arms = handlers.iter().map(|handler| {
        let (variant, cfgs) = (handler.variant(), &handler.cfgs);
        if handler.rejected {
            // A stub: the handler is wrong, and its error stops the build.
            return quote! {
                #(#cfgs)*
                #enum_ident::#variant { .. } => ::core::unreachable!(),
            };
        }
        let fields = handler.fields().map(|(field, _)| field);
        let reply_to = (handler.kind == Kind::Call).then(|| {
            let (field, reply_to) =
                (syn::Ident::new(REPLY_TO_FIELD, Span::call_site()), local(REPLY_TO_FIELD));
            quote!(#field: #reply_to)
        });
        let call = flow(expansion, handler);
        quote! {
            #(#cfgs)*
            #enum_ident::#variant { #(#fields,)* #reply_to } => #call,
        }
    });
    let phantom = phantom_arm(expansion, enum_ident, false);
    quote! {
        match #value {
            #(#arms)*
            #phantom
        }
    }
}

/// The handler kinds one entry point dispatches: calls and casts share `handle`.
fn kinds_of(kind: Kind) -> &'static [Kind] {
    match kind {
        Kind::Call | Kind::Cast => &[Kind::Call, Kind::Cast],
        Kind::Info => &[Kind::Info],
        _ => &[Kind::Continue],
    }
}

/// Calls the handler and turns what it returns into a `Flow`, replying first for a call.
fn flow(expansion: &Expansion<'_>, handler: &Handler) -> TokenStream {
    let rt = expansion.rt;
    let call = invoke(rt, handler, true);
    if handler.kind != Kind::Call || handler.reply_to().is_some() {
        return quote!(#rt::IntoFlow::<Self>::into_flow(#call));
    }
    let reply_to = local(REPLY_TO_FIELD);
    if handler.output().is_some_and(|ty| last_ident_is(ty, "Reply")) {
        quote!(#rt::__private::reply_with(#reply_to, #call))
    } else {
        quote!(#rt::__private::reply(#reply_to, #call))
    }
}

/// `match value { Enum::Variant { .. } => "handler", ... }`, for crash reports.
fn names_of(expansion: &Expansion<'_>, enum_ident: &syn::Ident, kinds: &[Kind]) -> TokenStream {
    let param = local(if kinds.contains(&Kind::Info) { "info" } else { "msg" });
    let handlers: Vec<_> = expansion.handlers(kinds).collect();
    if handlers.is_empty() {
        return quote!(match *#param {});
    }
    let arms = handlers.iter().map(|handler| {
        let (variant, cfgs) = (handler.variant(), &handler.cfgs);
        let name = handler.name().to_string();
        quote!(#(#cfgs)* #enum_ident::#variant { .. } => #name,)
    });
    let phantom = phantom_arm(expansion, enum_ident, true);
    quote! {
        match *#param {
            #(#arms)*
            #phantom
        }
    }
}
