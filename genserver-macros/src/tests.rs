//! Expansion tests on stable: each fixture is expanded, pretty-printed and compared with
//! a checked-in snapshot (`src/snapshots/`), and every generated path is checked to be
//! rooted, so that user code naming its own `Result` or `Option` cannot change what the
//! expansion means.
//!
//! Update the snapshots after an intended change with
//! `INSTA_UPDATE=always cargo test -p genserver-macros`, then review the diff.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit::Visit;

use crate::expand_genserver;

/// Expands `#[genserver(args)] input` and pretty-prints the result.
fn expand(args: TokenStream, input: TokenStream) -> String {
    let output = expand_genserver(args, input);
    let file: syn::File = syn::parse2(output.clone())
        .unwrap_or_else(|error| panic!("the expansion does not parse: {error}\n{output}"));
    prettyplease::unparse(&file)
}

fn minimal() -> TokenStream {
    quote! {
        impl Counter {
            #[call]
            fn get(&self) -> u64 { self.count }

            #[cast]
            fn add(&mut self, by: u64) { self.count += by; }
        }
    }
}

fn config_server() -> TokenStream {
    quote! {
        impl ConfigServer {
            #[init]
            fn init(initial: HashMap<String, String>, cx: &mut Context<Self>) -> Init<Self> {
                cx.send_after(Duration::from_secs(30), ConfigServerInfo::Reload {});
                Init::ok(ConfigServer { config: initial })
            }

            /// The value of `key`, if set.
            #[call]
            pub fn get(&self, key: String) -> Option<String> { self.config.get(&key).cloned() }

            #[call]
            pub fn set(&mut self, key: String, value: String) { self.config.insert(key, value); }

            #[call]
            pub fn get_all(&self) -> HashMap<String, String> { self.config.clone() }

            #[cast]
            pub fn clear(&mut self) { self.config.clear() }

            #[info]
            fn reload(&mut self, cx: &mut Context<Self>) -> NoReply {
                cx.send_after(Duration::from_secs(30), ConfigServerInfo::Reload {});
                NoReply::ok()
            }

            #[terminate]
            fn terminate(&mut self, reason: &ExitReason) {}

            fn helper(&self) -> usize { self.config.len() }
        }
    }
}

fn async_handlers() -> TokenStream {
    quote! {
        impl Fetcher {
            #[init]
            async fn init(url: String, retries: u32) -> Result<Self, std::io::Error> {
                Ok(Fetcher { url, retries })
            }

            #[call]
            async fn fetch(&mut self, path: String) -> Result<String, String> {
                tokio::task::yield_now().await;
                Ok(format!("{}/{}", self.url, path))
            }

            #[cast]
            async fn reset(&mut self) {}

            #[terminate]
            async fn terminate(&mut self, reason: &ExitReason, cx: &mut Context<Self>) {}
        }
    }
}

fn generic() -> TokenStream {
    quote! {
        impl<K: Hash + Eq + Send + 'static, V> Cache<K, V>
        where
            V: Clone + Send + 'static,
        {
            #[call]
            fn get(&self, key: K) -> Option<V> { self.map.get(&key).cloned() }

            #[cast]
            fn put(&mut self, key: K, value: V) { self.map.insert(key, value); }

            #[info]
            fn expire(&mut self) { self.map.clear(); }
        }
    }
}

fn deferred_reply() -> TokenStream {
    quote! {
        impl Pool {
            #[call]
            fn checkout(&mut self, from: ReplyTo<Connection>) -> NoReply {
                match self.idle.pop() {
                    Some(conn) => from.reply(conn),
                    None => self.waiting.push_back(from),
                }
                NoReply::ok()
            }

            #[cast]
            fn checkin(&mut self, conn: Connection) {
                match self.waiting.pop_front() {
                    Some(from) => from.reply(conn),
                    None => self.idle.push(conn),
                }
            }
        }
    }
}

fn cfg_handler() -> TokenStream {
    quote! {
        impl Metrics {
            /// Records one value.
            #[cast]
            fn record(&mut self, name: String, value: f64) {}

            /// Dumps everything (debug builds only).
            #[cfg(debug_assertions)]
            #[call]
            fn dump(&self) -> Vec<(String, f64)> { Vec::new() }

            #[cfg(feature = "tick")]
            #[info]
            fn tick(&mut self) {}
        }
    }
}

fn return_forms() -> TokenStream {
    quote! {
        impl Worker {
            #[init]
            fn init(n: u32) -> Init<Self, WorkerContinue> {
                Init::ok(Worker { n }).continue_with(WorkerContinue::Load { from: n })
            }

            #[call]
            fn with_timeout(&mut self) -> Reply<u32> { Reply::new(self.n).timeout(Duration::from_secs(1)) }

            #[call]
            fn finish(&mut self) -> Reply<u32> { Reply::stop(ExitReason::Normal, self.n) }

            #[call]
            fn then_continue(&mut self) -> Reply<u32, WorkerContinue> {
                Reply::new(self.n).continue_with(WorkerContinue::Load { from: 0 })
            }

            #[cast]
            fn sleep(&mut self) -> NoReply { NoReply::hibernate() }

            #[cast]
            fn quit(&mut self, why: String) -> NoReply { NoReply::stop(ExitReason::shutdown_with(why)) }

            #[info]
            fn poke(&mut self) -> NoReply<WorkerContinue> { NoReply::continue_with(WorkerContinue::Load { from: 1 }) }

            #[handle_continue]
            async fn load(&mut self, from: u32) -> NoReply { self.n = from; NoReply::timeout(Duration::from_millis(10)) }

            #[timeout]
            fn idle(&mut self, cx: &mut Context<Self>) -> NoReply { NoReply::stop(ExitReason::Normal) }
        }
    }
}

#[test]
fn minimal_server() {
    insta::assert_snapshot!(expand(quote!(), minimal()));
}

#[test]
fn config_server_from_the_guide() {
    insta::assert_snapshot!(expand(quote!(), config_server()));
}

#[test]
fn async_handlers_and_result_init() {
    insta::assert_snapshot!(expand(quote!(), async_handlers()));
}

#[test]
fn generic_server() {
    insta::assert_snapshot!(expand(quote!(), generic()));
}

#[test]
fn deferred_reply_through_reply_to() {
    insta::assert_snapshot!(expand(quote!(), deferred_reply()));
}

#[test]
fn cfg_and_docs_travel_to_every_generated_piece() {
    insta::assert_snapshot!(expand(quote!(), cfg_handler()));
}

#[test]
fn every_return_form() {
    insta::assert_snapshot!(expand(quote!(), return_forms()));
}

#[test]
fn a_remote_server_gets_a_request_enum_and_a_cluster_client() {
    insta::assert_snapshot!(expand(quote!(remote), config_server()));
}

#[test]
fn options_set_visibility_and_runtime_path() {
    insta::assert_snapshot!(expand(quote!(vis = pub(crate), crate = my_app::rt), minimal()));
}

/// `debug_state` and `debug_messages`: the state and the message enum are rendered with
/// `Debug`, which the message enum derives.
#[test]
fn debug_options_render_the_state_and_the_messages() {
    insta::assert_snapshot!(expand(quote!(debug_state, debug_messages), minimal()));
}

/// Collects every path of the generated items that is neither rooted (`::core::…`,
/// `::genserver_runtime::…`) nor one of the names the expansion may use bare.
struct UnrootedPaths<'a> {
    allowed: &'a [&'a str],
    found: Vec<String>,
}

impl<'ast> Visit<'ast> for UnrootedPaths<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let first = path.segments.first().map(|segment| segment.ident.to_string()).unwrap_or_default();
        if path.leading_colon.is_none() && !self.allowed.contains(&first.as_str()) {
            self.found.push(quote!(#path).to_string());
        }
        syn::visit::visit_path(self, path);
    }

    /// `#[doc]`, `#[cfg]` and the like are not names the user's scope can change.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// Bare names a generated item may use: `Self`, the generated types, the server's own type
/// and generic parameters, primitive types, and the handlers' argument and field names.
fn assert_rooted(input: TokenStream, allowed: &[&str]) {
    let output = expand_genserver(quote!(), input);
    let file: syn::File = syn::parse2(output).expect("expansion parses");
    let mut visitor = UnrootedPaths { allowed, found: Vec::new() };
    // The first item is the user's own impl block, emitted as written.
    for item in &file.items[1..] {
        visitor.visit_item(item);
    }
    assert!(visitor.found.is_empty(), "unrooted paths in the expansion: {:?}", visitor.found);
}

#[test]
fn every_generated_path_is_rooted() {
    // The fixture spells its own types fully qualified, so any bare path left in the
    // generated items comes from the macro.
    let input = quote! {
        impl<K: ::core::hash::Hash + ::core::cmp::Eq + ::core::marker::Send + 'static> Store<K> {
            #[init]
            async fn init(seed: ::std::vec::Vec<K>, cx: &mut ::genserver_runtime::Context<Self>)
                -> ::genserver_runtime::Init<Self, StoreContinue<K>> {
                ::genserver_runtime::Init::ok(Store { seed })
            }
            #[call]
            fn get(&self, key: K) -> ::core::option::Option<u32> { ::core::option::Option::None }
            #[call]
            fn later(&mut self, from: ::genserver_runtime::ReplyTo<u32>) -> ::genserver_runtime::NoReply { ::genserver_runtime::NoReply::ok() }
            #[call]
            fn last(&mut self) -> ::genserver_runtime::Reply<u32> { ::genserver_runtime::Reply::new(1) }
            #[cast]
            fn put(&mut self, key: K, value: u32) {}
            #[info]
            fn tick(&mut self) {}
            #[handle_continue]
            fn load(&mut self, key: K) {}
            #[timeout]
            fn idle(&mut self) {}
            #[terminate]
            async fn terminate(&mut self, reason: &::genserver_runtime::ExitReason) {}
        }
    };
    let allowed = [
        "Self",
        "self",
        "Store",
        "StoreMsg",
        "StoreInfo",
        "StoreContinue",
        "StoreRef",
        "K",
        "u32",
        "seed",
        "key",
        "value",
        "reply_to",
        "__genserver_reply_to",
        "__genserver_cx",
        "__genserver_args",
        "__genserver_msg",
        "__genserver_info",
        "__genserver_reason",
        "__genserver_never",
        "__genserver_server",
        "__genserver_f",
        "__genserver_value",
        "__genserver_returned",
        "name",
        "args",
        "info",
        // The type parameter of `child_spec`.
        "__GenServerChildArgs",
    ];
    assert_rooted(input, &allowed);
}

#[test]
fn errors_keep_the_users_impl_and_generate_the_valid_handlers() {
    let input = quote! {
        impl Broken {
            #[cast]
            fn bad(&mut self) -> u32 { 1 }
            #[call]
            fn good(&self) -> u32 { 2 }
            fn untouched(&self) {}
        }
    };
    let output = expand_genserver(quote!(), input).to_string();
    assert!(output.contains("fn untouched"), "the impl block is kept: {output}");
    assert!(!output.contains("# [cast]") && !output.contains("# [call]"), "markers are removed: {output}");
    assert_eq!(output.matches("compile_error").count(), 1, "one error: {output}");
    assert!(output.contains("allow (dead_code)"), "the left-out handler is not reported as unused: {output}");
    assert!(output.contains("Good {"), "the valid handler is generated: {output}");
    assert!(
        output.contains("Bad { .. } => :: core :: unreachable"),
        "the invalid handler is a stub: {output}"
    );
    assert!(
        output.contains("fn bad (& self ,) { :: core :: unreachable ! () }"),
        "with its client method: {output}"
    );
}

#[test]
fn a_server_level_error_leaves_out_only_what_collides() {
    let input = quote! {
        impl Broken {
            #[call]
            fn good(&self) -> u32 { 2 }
            fn start(&self) {}
        }
    };
    let output = expand_genserver(quote!(), input).to_string();
    assert_eq!(output.matches("compile_error").count(), 1, "one error: {output}");
    assert!(output.contains("BrokenRef"), "the server is generated: {output}");
    assert!(!output.contains("async fn start ("), "but not the `start` it would collide with: {output}");
}

#[test]
fn a_block_syn_cannot_parse_is_left_to_rustc() {
    // `self` after another argument: rustc reports it; the macro adds nothing of its own.
    let input = quote! {
        impl Broken {
            #[call]
            fn get(key: u32, &self) -> u32 { key }
            #[cast]
            fn bump(&mut self) { let x = ; }
        }
    };
    let output = expand_genserver(quote!(), input).to_string();
    assert!(!output.contains("compile_error"), "no error of the macro's: {output}");
    assert!(output.contains("fn get (key : u32 , & self)"), "the method is emitted as written: {output}");
    assert!(output.contains("let x = ;"), "and the body too: {output}");
    assert!(!output.contains("# [call]"), "without its marker: {output}");
    assert!(
        output.contains("fn get (& self , key : u32) -> :: genserver_runtime :: Call"),
        "a stub client method: {output}"
    );
    assert!(output.contains("Bump {"), "the other handler is generated: {output}");
}
