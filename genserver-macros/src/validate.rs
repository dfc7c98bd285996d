//! Every rule a server must follow, each checked once with an error spanned on the
//! offending tokens and a hint of the fix.

use std::collections::HashMap;

use syn::{GenericParam, Type};

use crate::errors::Errors;
use crate::model::{Handler, Kind, Receiver, Role, Server, generic_argument, last_ident_is};

/// Names `#[genserver]` defines on the server type itself.
const SERVER_ITEMS: [&str; 4] = ["start", "start_link", "builder", "whereis"];

/// Methods every client handle already has (its own and those of `ServerRef`).
const HANDLE_METHODS: [&str; 13] = [
    "id",
    "name",
    "is_alive",
    "exit_reason",
    "exited",
    "cast",
    "try_cast",
    "send_info",
    "call",
    "stop",
    "kill",
    "server_ref",
    "clone",
];

pub(crate) fn check(server: &Server, errors: &mut Errors) {
    check_generics(server, errors);
    check_reserved_names(server, errors);
    check_single_handlers(server, errors);
    check_variant_collisions(server, errors);
    for handler in &server.handlers {
        check_handler(server, handler, errors);
    }
}

fn check_generics(server: &Server, errors: &mut Errors) {
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

fn check_reserved_names(server: &Server, errors: &mut Errors) {
    for name in &server.method_names {
        if SERVER_ITEMS.iter().any(|reserved| name == reserved) {
            errors.at(
                name,
                format!("`{name}` collides with the `{name}` function that #[genserver] generates"),
                format!("rename this method; `{}::{name}` is generated", server.ident),
            );
        }
    }
    for handler in &server.handlers {
        if !matches!(handler.kind, Kind::Call | Kind::Cast) {
            continue;
        }
        let name = handler.name();
        if HANDLE_METHODS.iter().any(|reserved| name == reserved) {
            errors.at(
                name,
                format!("`{name}` collides with a method every client handle already has"),
                "rename the handler; the client method takes the handler's name",
            );
        }
        if let Some((field, _)) = handler.fields().find(|(field, _)| *field == "reply_to") {
            errors.at(
                field,
                "`reply_to` collides with the reply channel field of the call's message",
                "rename the argument",
            );
        }
    }
}

fn check_single_handlers(server: &Server, errors: &mut Errors) {
    for kind in [Kind::Init, Kind::Terminate, Kind::Timeout] {
        let mut of_kind = server.handlers.iter().filter(|handler| handler.kind == kind);
        let Some(first) = of_kind.next() else {
            continue;
        };
        for extra in of_kind {
            errors.at(
                &extra.marker,
                format!("a server has at most one #[{}] handler", kind.marker()),
                format!("`{}` is already the #[{}] handler; remove one", first.name(), kind.marker()),
            );
        }
    }
}

fn check_variant_collisions(server: &Server, errors: &mut Errors) {
    let enums: [&[Kind]; 3] = [&[Kind::Call, Kind::Cast], &[Kind::Info], &[Kind::Continue]];
    for kinds in enums {
        let mut seen: HashMap<String, &Handler> = HashMap::new();
        for handler in server.handlers.iter().filter(|handler| kinds.contains(&handler.kind)) {
            let variant = crate::expand::variant_name(handler.name()).to_string();
            if let Some(first) = seen.get(&variant) {
                errors.at(
                    handler.name(),
                    format!(
                        "`{}` and `{}` both become the message variant `{variant}`",
                        first.name(),
                        handler.name()
                    ),
                    "rename one of the handlers",
                );
            } else {
                seen.insert(variant, handler);
            }
        }
    }
}

fn check_handler(server: &Server, handler: &Handler, errors: &mut Errors) {
    let sig = &handler.sig;
    let marker = handler.kind.marker();
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
    if !sig.generics.params.is_empty() {
        errors.at(
            &sig.generics,
            "a handler cannot be generic: each handler becomes one message variant with concrete types",
            "use concrete types, or put the type parameter on the impl block",
        );
    } else if let Some(clause) = &sig.generics.where_clause {
        errors.at(
            clause,
            "a handler cannot have its own `where` clause",
            "move the bounds to the impl block",
        );
    }

    check_receiver(handler, errors);
    check_params(server, handler, errors);
    check_output(server, handler, errors);

    if handler.kind == Kind::Terminate {
        let reasons = handler.params.iter().filter(|param| matches!(param.role, Role::Reason)).count();
        if reasons != 1 {
            errors.at(
                sig,
                "#[terminate] takes the exit reason",
                "write `fn terminate(&mut self, reason: &ExitReason)` (a `cx: &mut Context<Self>` may follow)",
            );
        }
    }
    let _ = marker;
}

fn check_receiver(handler: &Handler, errors: &mut Errors) {
    let marker = handler.kind.marker();
    match (&handler.receiver, handler.kind) {
        (Receiver::None, Kind::Init) => {}
        (_, Kind::Init) => errors.at(
            handler.sig.inputs.first(),
            "#[init] builds the state, so it takes no `self`",
            "write `fn init(args...) -> Init<Self>` and return `Init::ok(Self { ... })`",
        ),
        (Receiver::None, _) => errors.at(
            &handler.sig.ident,
            format!("#[{marker}] handler `{}` needs a `self` receiver", handler.name()),
            "take `&self` or `&mut self` as the first argument",
        ),
        (Receiver::Other(span), _) => errors.at_span(
            *span,
            "a handler borrows the server's state; it cannot take `self` by value or by a typed receiver",
            "write `&self` or `&mut self`",
        ),
        (Receiver::Ref | Receiver::Mut, _) => {}
    }
}

fn check_params(server: &Server, handler: &Handler, errors: &mut Errors) {
    let mut contexts = 0;
    let mut reply_tos = 0;
    for param in &handler.params {
        match &param.role {
            Role::Context => {
                contexts += 1;
                if contexts > 1 {
                    errors.at(
                        &param.span_of,
                        "the context is taken twice",
                        "keep one `cx: &mut Context<Self>`",
                    );
                }
            }
            Role::ReplyTo(_) => {
                reply_tos += 1;
                if handler.kind != Kind::Call {
                    errors.at(
                        &param.ty,
                        format!(
                            "only a #[call] can take a `ReplyTo`; a #[{}] has no caller to answer",
                            handler.kind.marker()
                        ),
                        "make the handler a #[call], or remove the `ReplyTo` argument",
                    );
                } else if reply_tos > 1 {
                    errors.at(
                        &param.span_of,
                        "a call has one reply channel",
                        "keep one `ReplyTo<R>` argument",
                    );
                }
            }
            Role::Reason => {}
            Role::Field(name) => {
                if matches!(handler.kind, Kind::Timeout | Kind::Terminate) {
                    let help = match handler.kind {
                        Kind::Timeout => {
                            "a #[timeout] handler takes only `&mut self` and an optional `cx: &mut Context<Self>`"
                        }
                        _ => "write `fn terminate(&mut self, reason: &ExitReason)`",
                    };
                    errors.at(
                        &param.span_of,
                        format!("`{name}` cannot be passed to a #[{}] handler", handler.kind.marker()),
                        help,
                    );
                    continue;
                }
                check_field_type(server, &param.ty, errors);
            }
        }
    }
}

/// A message field crosses from the caller's task to the server's: it must be owned,
/// `Send` and `'static`.
fn check_field_type(server: &Server, ty: &Type, errors: &mut Errors) {
    match ty {
        Type::Reference(_) => errors.at(
            ty,
            "a handler argument cannot be borrowed: it travels in a message to the server's task",
            "take an owned type (`String` for `&str`, `Vec<T>` for `&[T]`, `Arc<T>` to share)",
        ),
        Type::ImplTrait(_) => errors.at(
            ty,
            "a handler argument cannot be `impl Trait`: it becomes a message field with one concrete type",
            "use a concrete type or a `Box<dyn Trait + Send>`",
        ),
        Type::Ptr(_) => errors.at(
            ty,
            "a raw pointer is not `Send`, and handler arguments are sent to the server's task",
            "send an owned value or an index instead",
        ),
        ty if last_ident_is(ty, "Rc")
            || last_ident_is(ty, "ReplyTo") && generic_argument(ty, "ReplyTo").is_none() =>
        {
            if last_ident_is(ty, "Rc") {
                errors.at(
                    ty,
                    "`Rc` is not `Send`, and handler arguments are sent to the server's task",
                    "use `Arc` instead of `Rc`",
                );
            } else {
                errors.at(
                    ty,
                    "`ReplyTo` needs the reply type",
                    "write `ReplyTo<R>`, where R is what the caller receives",
                );
            }
        }
        ty if is_self(server, ty) => {}
        _ => {}
    }
}

fn is_self(server: &Server, ty: &Type) -> bool {
    last_ident_is(ty, "Self") || last_ident_is(ty, &server.ident.to_string())
}

fn check_output(server: &Server, handler: &Handler, errors: &mut Errors) {
    let output = handler.output();
    let returns = |name: &str| output.is_some_and(|ty| last_ident_is(ty, name));
    match handler.kind {
        Kind::Init => {
            let fine = returns("Init") || returns("Result") || output.is_some_and(|ty| is_self(server, ty));
            if !fine {
                let span_of: &dyn quote::ToTokens = match output {
                    Some(ty) => ty,
                    None => &handler.sig,
                };
                errors.at(
                    span_of,
                    "#[init] returns the new state",
                    "return `Init<Self>` (`Init::ok(state)`), `Result<Self, E>` or `Self`",
                );
            }
        }
        Kind::Call => {
            if returns("NoReply") && handler.reply_to().is_none() {
                errors.at(
                    output,
                    "a call that returns `NoReply` must answer later through a `ReplyTo<R>` argument",
                    "add `from: ReplyTo<R>` and call `from.reply(value)`, or return the reply value",
                );
            } else if handler.reply_to().is_some() && !returns("NoReply") {
                let span_of: &dyn quote::ToTokens = match output {
                    Some(ty) => ty,
                    None => &handler.sig.ident,
                };
                errors.at(
                    span_of,
                    "a call that takes a `ReplyTo` answers through it, so it returns `NoReply`",
                    "return `NoReply` (`NoReply::ok()`), or drop the `ReplyTo` argument and return the reply",
                );
            } else if returns("Reply") && generic_argument(output.expect("checked"), "Reply").is_none() {
                errors.at(
                    output,
                    "`Reply` needs the reply type",
                    "write `Reply<R>`, where R is what the caller receives",
                );
            }
        }
        Kind::Cast | Kind::Info | Kind::Continue | Kind::Timeout => {
            if let Some(ty) = output.filter(|_| !returns("NoReply")) {
                let what = handler.kind.marker();
                errors.at(
                    ty,
                    format!("a #[{what}] handler has no caller to return a value to"),
                    "return `()` or `NoReply`; to answer a caller, make it a #[call]",
                );
            }
        }
        Kind::Terminate => {
            if let Some(ty) = output {
                errors.at(ty, "#[terminate] returns nothing", "remove the return type");
            }
        }
    }
}
