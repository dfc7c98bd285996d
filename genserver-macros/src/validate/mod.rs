//! Every rule a server must follow, each checked once with an error spanned on the
//! offending tokens and a hint of the fix.
//!
//! One function per rule. Rules are written so that one mistake trips one rule: a rule
//! stays quiet about tokens that another rule already reports.

use std::collections::HashMap;

use quote::ToTokens;
use syn::visit::Visit;
use syn::{GenericParam, Ident, Type, TypeParamBound};

mod crossing;

use crate::errors::Errors;
use crate::model::{
    HANDLE_METHODS, Handler, Kind, Param, REPLY_TO_FIELD, Receiver, Role, SERVER_FUNCTIONS, Server,
    generic_argument, is_server_type, last_ident_is,
};
pub(crate) use crossing::remote_allowed;
use crossing::{Crossing, can_travel, check_sendable};

/// Checks every rule, recording each mistake in `errors`, and returns what can be
/// generated: the server with its wrong handlers rejected (generated as stubs) and what
/// would collide left out, or `None` when the server as a whole cannot be generated (it
/// borrows). So code using the server reports nothing more than the mistakes themselves.
pub(crate) fn check(mut server: Server, errors: &mut Errors) -> Option<Server> {
    if !passes(errors, |errors| check_borrowing_generics(&server, errors)) {
        return None;
    }
    for (param, missing) in check_type_parameters(&server, errors) {
        if let Some(param) = server.generics.type_params_mut().find(|candidate| candidate.ident == param) {
            param.bounds.extend(missing);
        }
    }
    server.left_out = check_generated_names(&server, errors);
    let extra = [
        check_single_handlers(&server, errors),
        check_variant_collisions(&server, errors),
        methods_named_twice(&server),
    ]
    .concat();
    let handlers = std::mem::take(&mut server.handlers);
    server.handlers = handlers
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !extra.contains(index))
        .map(|(_, handler)| {
            // A handler rejected while it was read has its error already (or rustc's), and
            // so does one whose name another method of the block has too.
            let passed = !handler.rejected
                && !is_named_twice(&server, handler.name())
                && passes(errors, |errors| check_handler(&server.ident, &handler, errors));
            if passed { handler } else { stub(handler) }
        })
        .collect();
    Some(server)
}

/// Whether two methods of the block have the name `name`: rustc reports it.
fn is_named_twice(server: &Server, name: &Ident) -> bool {
    server.method_names.iter().filter(|method| *method == name).count() > 1
}

/// The handlers after the first with a name that two methods have: rustc reports the
/// duplicate, and only the first is generated, as a stub.
fn methods_named_twice(server: &Server) -> Vec<usize> {
    let mut seen = Vec::new();
    let mut extras = Vec::new();
    for (index, handler) in server.handlers.iter().enumerate() {
        if seen.contains(&handler.name()) {
            extras.push(index);
        } else {
            seen.push(handler.name());
        }
    }
    extras
}

/// A rejected handler, with the types that cannot be generated in its stub marked, and
/// an argument name given twice (rustc reports it) taken once.
fn stub(mut handler: Handler) -> Handler {
    let mut seen = Vec::new();
    handler.params.retain(|param| match &param.role {
        Role::Field(name) if seen.contains(name) => false,
        Role::Field(name) => {
            seen.push(name.clone());
            true
        }
        _ => true,
    });
    for param in &mut handler.params {
        param.travels = can_travel(&param.ty);
    }
    handler.reply_travels = handler.output().is_none_or(can_travel);
    handler.reject()
}

/// Runs `rules` and tells whether they passed: recorded no error.
fn passes(errors: &mut Errors, rules: impl FnOnce(&mut Errors)) -> bool {
    let before = errors.count();
    rules(errors);
    errors.count() == before
}

/// Every rule about one handler, of the server named `server`.
fn check_handler(server: &Ident, handler: &Handler, errors: &mut Errors) {
    check_qualifiers(handler, errors);
    check_method_generics(handler, errors);
    check_receiver(handler, errors);
    check_client_method_name(handler, errors);
    check_contexts(handler, errors);
    check_reply_tos(handler, errors);
    for param in &handler.params {
        check_field(handler, param, errors);
    }
    check_terminate_reason(handler, errors);
    check_output(server, handler, errors);
}

// ---- The impl block ----

/// A server lives on its own task: it cannot borrow, and its message enums need
/// type parameters only.
fn check_borrowing_generics(server: &Server, errors: &mut Errors) {
    for param in &server.generics.params {
        match param {
            GenericParam::Type(_) => {}
            GenericParam::Lifetime(lifetime) => errors.at(
                lifetime,
                "a server cannot borrow: it runs on its own task for as long as it lives",
                "own the data (`String`, `Arc<T>`) instead of borrowing it",
            ),
            GenericParam::Const(constant) => errors.at(
                constant,
                "#[genserver] does not support const generic parameters",
                "make the value a field of the server",
            ),
        }
    }
}

/// The server and its messages move to the server's task, so each type parameter is
/// `Send + 'static`. The bounds must be written out, inline or in the `where` clause: a
/// trait that implies them is invisible to the macro. Returns the bounds each parameter
/// lacks, which the generated code adds so that the mistake is reported once.
fn check_type_parameters(server: &Server, errors: &mut Errors) -> Vec<(Ident, Vec<TypeParamBound>)> {
    let mut lacking = Vec::new();
    for param in server.generics.type_params() {
        let ident = &param.ident;
        let bounds: Vec<_> = param.bounds.iter().chain(where_bounds(&server.generics, ident)).collect();
        let has_send = bounds.iter().any(|bound| {
            matches!(bound, TypeParamBound::Trait(bound) if bound.path.segments.last().is_some_and(|last| last.ident == "Send"))
        });
        let has_static = bounds
            .iter()
            .any(|bound| matches!(bound, TypeParamBound::Lifetime(lifetime) if is_static(lifetime)));
        let (missing, bounds): (&str, Vec<TypeParamBound>) = match (has_send, has_static) {
            (true, true) => continue,
            (false, false) => {
                ("Send + 'static", vec![syn::parse_quote!(::core::marker::Send), syn::parse_quote!('static)])
            }
            (false, true) => ("Send", vec![syn::parse_quote!(::core::marker::Send)]),
            (true, false) => ("'static", vec![syn::parse_quote!('static)]),
        };
        errors.at(
            ident,
            format!("the type parameter `{ident}` must be `Send + 'static`: the server and its messages move to its task"),
            format!("add `{missing}` to the bounds of `{ident}`, even if another bound implies it"),
        );
        lacking.push((ident.clone(), bounds));
    }
    lacking
}

/// The bounds on `ident` in the `where` clause.
fn where_bounds<'a>(
    generics: &'a syn::Generics,
    ident: &'a Ident,
) -> impl Iterator<Item = &'a TypeParamBound> {
    let predicates = generics.where_clause.iter().flat_map(|clause| &clause.predicates);
    predicates
        .filter_map(move |predicate| match predicate {
            syn::WherePredicate::Type(predicate) if is_ident(&predicate.bounded_ty, ident) => {
                Some(&predicate.bounds)
            }
            _ => None,
        })
        .flatten()
}

/// `start`, `start_link`, `builder`, `whereis` and `child_spec` are generated on the server
/// type. Returns those the impl block already has, which are then not generated.
fn check_generated_names(server: &Server, errors: &mut Errors) -> Vec<&'static str> {
    let mut taken = Vec::new();
    for name in &server.method_names {
        let Some(function) = SERVER_FUNCTIONS.into_iter().find(|function| name == function) else {
            continue;
        };
        errors.at(
            name,
            format!("`{name}` collides with the `{name}` function that #[genserver] generates"),
            format!("rename this method; `{}::{name}` is generated", server.ident),
        );
        taken.push(function);
    }
    taken
}

/// At most one `#[init]`, `#[terminate]` and `#[timeout]`; the second marker is reported.
/// Returns the indices of the extra handlers, which are not generated.
fn check_single_handlers(server: &Server, errors: &mut Errors) -> Vec<usize> {
    let mut extras = Vec::new();
    for kind in [Kind::Init, Kind::Terminate, Kind::Timeout] {
        let mut of_kind = server.handlers.iter().enumerate().filter(|(_, handler)| handler.kind == kind);
        let Some((_, first)) = of_kind.next() else {
            continue;
        };
        for (index, extra) in of_kind {
            extras.push(index);
            errors.at(
                &extra.marker,
                format!("a server has at most one #[{}] handler", kind.marker()),
                format!("`{}` is already the #[{}] handler; remove one", first.name(), kind.marker()),
            );
        }
    }
    extras
}

/// Two handlers of one enum cannot map to the same variant (`get_all` and `getAll`).
/// Returns the indices of the second ones, which are not generated.
fn check_variant_collisions(server: &Server, errors: &mut Errors) -> Vec<usize> {
    let enums: [&[Kind]; 3] = [&[Kind::Call, Kind::Cast], &[Kind::Info], &[Kind::Continue]];
    let mut seconds = Vec::new();
    for kinds in enums {
        let mut seen: HashMap<String, &Handler> = HashMap::new();
        for (index, handler) in
            server.handlers.iter().enumerate().filter(|(_, handler)| kinds.contains(&handler.kind))
        {
            let variant = handler.variant().to_string();
            match seen.get(&variant) {
                // The same name twice is a duplicate definition, which rustc reports.
                Some(first) if first.name() == handler.name() => {}
                Some(first) => {
                    seconds.push(index);
                    errors.at(
                        handler.name(),
                        format!(
                            "`{}` and `{}` both become the message variant `{variant}`",
                            first.name(),
                            handler.name()
                        ),
                        "rename one of the handlers",
                    );
                }
                None => {
                    seen.insert(variant, handler);
                }
            }
        }
    }
    seconds
}

// ---- One handler's signature ----

/// No `const`, `unsafe` or `extern` handlers: the dispatch calls them as plain methods.
fn check_qualifiers(handler: &Handler, errors: &mut Errors) {
    let sig = &handler.sig;
    if let Some(constness) = &sig.constness {
        errors.at(constness, "a handler cannot be a `const fn`", "remove `const`");
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(
            unsafety,
            "a handler cannot be an `unsafe fn`",
            "remove `unsafe` and use an `unsafe` block inside",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, "a handler cannot have an `extern` ABI", "remove the ABI");
    }
}

/// Each handler is one message variant, so its types are fixed by the impl block.
fn check_method_generics(handler: &Handler, errors: &mut Errors) {
    let generics = &handler.sig.generics;
    // Lifetimes only name the borrows of the signature (`fn get<'a>(&'a self)`); an
    // argument or reply that borrows is reported as such.
    let lifetimes_only = generics.params.iter().all(|param| matches!(param, GenericParam::Lifetime(_)));
    if !lifetimes_only {
        errors.at(
            generics,
            "a handler cannot be generic: each handler becomes one message variant with concrete types",
            "use concrete types, or put the type parameter on the impl block",
        );
    } else if let Some(clause) = &generics.where_clause {
        errors.at(
            clause.where_token,
            "a handler cannot have its own `where` clause",
            "move the bounds to the impl block",
        );
    }
}

/// `#[init]` takes no `self`; every other handler borrows the state.
fn check_receiver(handler: &Handler, errors: &mut Errors) {
    let marker = handler.kind.marker();
    match (&handler.receiver, handler.kind) {
        (Receiver::None, Kind::Init) => {}
        (_, Kind::Init) => errors.at(
            handler.sig.inputs.first(),
            "#[init] builds the state, so it takes no `self`",
            "remove the receiver: `fn init(args...) -> Init<Self>`, returning `Init::ok(Self { ... })`",
        ),
        (Receiver::None, _) => errors.at(
            handler.name(),
            format!("#[{marker}] handler `{}` needs a `self` receiver", handler.name()),
            "take `&self` or `&mut self` as the first argument",
        ),
        (Receiver::Other(receiver), _) => errors.at(
            receiver,
            "a handler borrows the server's state; it cannot take `self` by value or by a typed receiver",
            "write `&self` or `&mut self`",
        ),
        (Receiver::Ref | Receiver::Mut, _) => {}
    }
}

/// A call or cast becomes a method of the client handle, which has methods of its own.
fn check_client_method_name(handler: &Handler, errors: &mut Errors) {
    let name = handler.client_method();
    if matches!(handler.kind, Kind::Call | Kind::Cast) && HANDLE_METHODS.iter().any(|method| name == method) {
        errors.at(
            name,
            format!("`{name}` collides with a method every client handle already has"),
            "rename the handler; the client method takes the handler's name",
        );
    }
}

/// At most one `cx: &mut Context<Self>`.
fn check_contexts(handler: &Handler, errors: &mut Errors) {
    let contexts = handler.params.iter().filter(|param| matches!(param.role, Role::Context));
    for extra in contexts.skip(1) {
        errors.at(&extra.span_of, "the context is taken twice", "keep one `cx: &mut Context<Self>`");
    }
}

/// A `ReplyTo<R>` only in a `#[call]`, once, with a reply type that can travel.
fn check_reply_tos(handler: &Handler, errors: &mut Errors) {
    let reply_tos = handler.params.iter().filter_map(|param| match &param.role {
        Role::ReplyTo(reply) => Some((param, reply)),
        _ => None,
    });
    for (index, (param, reply)) in reply_tos.enumerate() {
        if handler.kind != Kind::Call {
            errors.at(
                &param.ty,
                format!(
                    "only a #[call] can take a `ReplyTo`; {} has no caller to answer",
                    handler.kind.a_marker()
                ),
                "make the handler a #[call], or remove the `ReplyTo` argument",
            );
        } else if index > 0 {
            errors.at(&param.span_of, "a call has one reply channel", "keep one `ReplyTo<R>` argument");
        } else {
            check_sendable(reply, Crossing::Reply, errors);
        }
    }
}

/// A message field: a plain argument of a handler that takes them, of a type that can
/// travel to the server's task.
fn check_field(handler: &Handler, param: &Param, errors: &mut Errors) {
    let Role::Field(name) = &param.role else {
        return;
    };
    match handler.kind {
        Kind::Timeout => errors.at(
            &param.span_of,
            format!("`{name}` cannot be passed to a #[timeout] handler: nothing sends it"),
            "a #[timeout] handler takes only `&mut self` and an optional `cx: &mut Context<Self>`",
        ),
        Kind::Terminate if last_ident_is(strip_reference(&param.ty), "ExitReason") => {
            errors.at(&param.ty, "#[terminate] borrows the exit reason", "write `reason: &ExitReason`")
        }
        Kind::Terminate => errors.at(
            &param.span_of,
            format!("`{name}` cannot be passed to a #[terminate] handler: it receives only the exit reason"),
            "write `fn terminate(&mut self, reason: &ExitReason)` (a `cx: &mut Context<Self>` may follow)",
        ),
        Kind::Call if name == REPLY_TO_FIELD => errors.at(
            name,
            "`reply_to` collides with the reply channel field of the call's message",
            "rename the argument",
        ),
        _ => check_sendable(&param.ty, Crossing::Argument, errors),
    }
}

/// `#[terminate]` takes the exit reason, once. A misused argument is reported by
/// `check_field` instead.
fn check_terminate_reason(handler: &Handler, errors: &mut Errors) {
    if handler.kind != Kind::Terminate {
        return;
    }
    let reasons: Vec<_> = handler.params.iter().filter(|param| matches!(param.role, Role::Reason)).collect();
    let has_fields = handler.fields().next().is_some();
    match reasons.as_slice() {
        [] if !has_fields => errors.at_span(
            handler.sig.paren_token.span.join(),
            "#[terminate] takes the exit reason",
            "write `fn terminate(&mut self, reason: &ExitReason)` (a `cx: &mut Context<Self>` may follow)",
        ),
        [_, extra, ..] => {
            errors.at(&extra.span_of, "the exit reason is taken twice", "keep one `reason: &ExitReason`")
        }
        _ => {}
    }
}

// ---- What a handler returns ----

fn check_output(server: &Ident, handler: &Handler, errors: &mut Errors) {
    match handler.kind {
        Kind::Init => check_init_output(server, handler, errors),
        Kind::Call => check_call_output(handler, errors),
        Kind::Cast | Kind::Info | Kind::Continue | Kind::Timeout => check_no_value_output(handler, errors),
        Kind::Terminate => {
            if let Some(ty) = handler.output() {
                errors.at(
                    ty,
                    "#[terminate] returns nothing: the server is stopping",
                    "remove the return type",
                );
            }
        }
    }
}

/// `#[init]` returns `Init<Self>`, `Result<Self, E>` or `Self`.
fn check_init_output(server: &Ident, handler: &Handler, errors: &mut Errors) {
    const HELP: &str = "return `Init<Self>` (`Init::ok(state)`), `Result<Self, E>` or `Self`";
    let Some(output) = handler.output() else {
        errors.at(handler.name(), "#[init] must return the new state", HELP);
        return;
    };
    if is_server_type(server, output) {
        return;
    }
    let wrapper = ["Init", "Result"].into_iter().find(|wrapper| last_ident_is(output, wrapper));
    let Some(wrapper) = wrapper else {
        errors.at(output, "#[init] must return the new state", HELP);
        return;
    };
    // A `Result` alias without arguments is left to the compiler.
    if let Some(state) = generic_argument(output, wrapper).filter(|state| !is_server_type(server, state)) {
        errors.at(
            state,
            format!("#[init] builds the state, `{server}`, so this must be `Self`"),
            format!("write `{wrapper}<Self{}>`", if wrapper == "Result" { ", E" } else { "" }),
        );
    } else if wrapper == "Result" {
        check_init_error(output, errors);
    }
}

/// The error of `Result<Self, E>` becomes the start's error, a `Box<dyn Error + Send +
/// Sync>`: a trait object in it must be `Send + Sync`.
fn check_init_error(output: &Type, errors: &mut Errors) {
    let Some(error) = type_arguments(output).nth(1) else { return };
    let Some(object) = dyn_without(error, "Send").or_else(|| dyn_without(error, "Sync")) else { return };
    let missing = match (has_bound(object, "Send"), has_bound(object, "Sync")) {
        (false, false) => "+ Send + Sync",
        (false, true) => "+ Send",
        _ => "+ Sync",
    };
    errors.at(
        object,
        "the error of #[init] must be `Send + Sync`: it becomes the start's error, which travels back to the starting task",
        format!("add `{missing}` to the trait object: `Box<dyn Error + Send + Sync>`"),
    );
}

/// The type arguments of the last segment of a path type.
fn type_arguments(ty: &Type) -> impl Iterator<Item = &Type> {
    let arguments = match ty {
        Type::Path(path) => path.path.segments.last().map(|segment| &segment.arguments),
        _ => None,
    };
    let args = match arguments {
        Some(syn::PathArguments::AngleBracketed(args)) => Some(&args.args),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// The first trait object in `ty` that lacks the bound `name`.
fn dyn_without<'a>(ty: &'a Type, name: &str) -> Option<&'a syn::TypeTraitObject> {
    struct Find<'a, 'n> {
        name: &'n str,
        found: Option<&'a syn::TypeTraitObject>,
    }
    impl<'a> Visit<'a> for Find<'a, '_> {
        fn visit_type_trait_object(&mut self, object: &'a syn::TypeTraitObject) {
            if self.found.is_none() && !has_bound(object, self.name) {
                self.found = Some(object);
            }
        }
    }
    let mut find = Find { name, found: None };
    find.visit_type(ty);
    find.found
}

/// Whether a trait object names the trait `name` among its bounds (`dyn Error + Send`).
fn has_bound(object: &syn::TypeTraitObject, name: &str) -> bool {
    object.bounds.iter().any(|bound| {
        matches!(bound, TypeParamBound::Trait(bound) if bound.path.segments.last().is_some_and(|last| last.ident == name))
    })
}

/// A call replies with its return value, or returns `NoReply` and answers through its
/// `ReplyTo`.
fn check_call_output(handler: &Handler, errors: &mut Errors) {
    let output = handler.output();
    let returns_no_reply = output.is_some_and(|ty| last_ident_is(ty, "NoReply"));
    match (handler.reply_to(), output) {
        (Some(_), _) if returns_no_reply => {}
        (Some(_), output) => {
            let span_of: &dyn ToTokens = match output {
                Some(ty) => ty,
                None => handler.name(),
            };
            errors.at(
                span_of,
                "a call that takes a `ReplyTo` answers through it, so it returns `NoReply`",
                "return `NoReply` (`NoReply::ok()`), or drop the `ReplyTo` argument and return the reply",
            );
        }
        (None, Some(ty)) if returns_no_reply => errors.at(
            ty,
            "a call that returns `NoReply` must answer later through a `ReplyTo<R>` argument",
            "add `from: ReplyTo<R>` and call `from.reply(value)`, or return the reply value",
        ),
        (None, Some(ty)) => {
            check_sendable(generic_argument(ty, "Reply").unwrap_or(ty), Crossing::Reply, errors)
        }
        (None, None) => {}
    }
}

/// Casts, infos, continues and timeouts have no caller: they return `()` or `NoReply`.
fn check_no_value_output(handler: &Handler, errors: &mut Errors) {
    if let Some(ty) = handler.output().filter(|ty| !last_ident_is(ty, "NoReply")) {
        errors.at(
            ty,
            format!("{} handler has no caller to return a value to", handler.kind.a_marker()),
            "return `()` or `NoReply`; to answer a caller, make it a #[call]",
        );
    }
}

// ---- Helpers ----

fn is_ident(ty: &Type, ident: &Ident) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident(ident))
}

fn is_static(lifetime: &syn::Lifetime) -> bool {
    lifetime.ident == "static"
}

fn strip_reference(ty: &Type) -> &Type {
    match ty {
        Type::Reference(reference) => &reference.elem,
        ty => ty,
    }
}
