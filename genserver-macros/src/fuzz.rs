//! A mutation fuzzer on a fixed seed: small token-level mistakes in three valid servers
//! (a token deleted, doubled, swapped with the next, or replaced by a likely typo), each
//! run through the macro. It proves what the macro can promise on its own, without
//! compiling the variants:
//! - it never panics;
//! - where syn cannot parse the mutated block (rustc reports the syntax error there),
//!   it adds no error of its own;
//! - fewer than 15 % of the variants get more than 3 errors from the macro.
//!
//! Run more variants with `GENSERVER_FUZZ_VARIANTS=5000 cargo test -p genserver-macros fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::quote;

use crate::expand_genserver;

/// A xorshift generator: the same variants on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound.max(1) as u64) as usize
    }
}

fn servers() -> Vec<TokenStream> {
    vec![
        quote! {
            impl Counter {
                #[init]
                fn init(start: u64) -> Init<Self> { Init::ok(Counter { count: start }) }
                #[call]
                fn get(&self) -> u64 { self.count }
                #[cast]
                fn add(&mut self, by: u64) { self.count += by; }
                #[terminate]
                fn terminate(&mut self, reason: &ExitReason) {}
            }
        },
        quote! {
            impl<K: Hash + Eq + Send + 'static> Cache<K> {
                #[call]
                async fn lookup(&mut self, key: K, cx: &mut Context<Self>) -> Option<String> {
                    self.map.get(&key).cloned()
                }
                #[call]
                fn later(&mut self, from: ReplyTo<u32>) -> NoReply { NoReply::ok() }
                #[info]
                fn expire(&mut self) -> NoReply { NoReply::ok() }
            }
        },
        quote! {
            impl Pool {
                #[init]
                async fn init(size: usize, name: String) -> Result<Self, std::io::Error> {
                    Ok(Pool { size, name })
                }
                #[call]
                fn checkout(&mut self) -> Reply<usize> { Reply::new(self.size) }
                #[handle_continue]
                fn warm(&mut self, n: usize) {}
                #[timeout]
                fn idle(&mut self) -> NoReply { NoReply::hibernate() }
            }
        },
    ]
}

/// Every token of `stream`, depth first, as a path of indices into nested groups.
fn positions(stream: &TokenStream, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (index, token) in stream.clone().into_iter().enumerate() {
        prefix.push(index);
        out.push(prefix.clone());
        if let TokenTree::Group(group) = &token {
            positions(&group.stream(), prefix, out);
        }
        prefix.pop();
    }
}

/// `stream` with the token at `path` changed by `mutate` (which returns its replacement).
fn mutate_at(
    stream: TokenStream,
    path: &[usize],
    mutate: &mut dyn FnMut(TokenTree, Option<&TokenTree>) -> Vec<TokenTree>,
) -> TokenStream {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len() + 1);
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index].clone();
        if index == path[0] {
            if path.len() == 1 {
                let replaced = mutate(token, tokens.get(index + 1));
                // A swap consumes the next token too.
                if replaced.len() == 2 && tokens.get(index + 1).is_some_and(|next| same(next, &replaced[0])) {
                    index += 1;
                }
                out.extend(replaced);
            } else if let TokenTree::Group(group) = token {
                let mut inner = Group::new(group.delimiter(), mutate_at(group.stream(), &path[1..], mutate));
                inner.set_span(group.span());
                out.push(TokenTree::Group(inner));
            } else {
                out.push(token);
            }
        } else {
            out.push(token);
        }
        index += 1;
    }
    out.into_iter().collect()
}

fn same(a: &TokenTree, b: &TokenTree) -> bool {
    a.to_string() == b.to_string()
}

/// Replacements that look like mistakes people make.
const TYPOS: [&str; 10] = ["self", "Self", "u32", "Rc", "String", "mut", "impl", "async", "call", "cast"];

fn variant(base: &TokenStream, rng: &mut Rng) -> TokenStream {
    let mut all = Vec::new();
    positions(base, &mut Vec::new(), &mut all);
    let path = &all[rng.below(all.len())];
    let choice = rng.below(5);
    let typo = TYPOS[rng.below(TYPOS.len())];
    mutate_at(base.clone(), path, &mut |token, next| match choice {
        0 => Vec::new(),
        1 => vec![token.clone(), token],
        2 => match next {
            Some(next) => vec![next.clone(), token],
            None => Vec::new(),
        },
        3 => vec![TokenTree::Ident(Ident::new(typo, Span::call_site()))],
        _ => vec![TokenTree::Group(Group::new(Delimiter::Brace, TokenStream::new())), token],
    })
}

#[test]
fn fuzz_the_macro_with_small_mistakes() {
    let count: usize =
        std::env::var("GENSERVER_FUZZ_VARIANTS").ok().and_then(|value| value.parse().ok()).unwrap_or(600);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let servers = servers();
    let (mut over_three, mut panics, mut added_to_syntax_errors) = (0, Vec::new(), Vec::new());
    for index in 0..count {
        let input = variant(&servers[index % servers.len()], &mut rng);
        let output = match catch_unwind(AssertUnwindSafe(|| expand_genserver(quote!(), input.clone()))) {
            Ok(output) => output.to_string(),
            Err(_) => {
                panics.push(input.to_string());
                continue;
            }
        };
        let errors = output.matches("compile_error").count();
        if errors > 3 {
            over_three += 1;
        }
        if errors > 0 && syn::parse2::<syn::ItemImpl>(input.clone()).is_err() {
            added_to_syntax_errors.push(format!("{input}\n=> {output}"));
        }
    }
    assert!(panics.is_empty(), "the macro panicked on {} variants, first: {}", panics.len(), panics[0]);
    assert!(
        added_to_syntax_errors.is_empty(),
        "the macro added its own error to {} variants syn cannot parse, first: {}",
        added_to_syntax_errors.len(),
        added_to_syntax_errors[0]
    );
    let share = over_three as f64 / count as f64;
    println!(
        "{over_three} of {count} variants ({:.1} %) get more than 3 errors from the macro",
        share * 100.0
    );
    assert!(share < 0.15, "{:.1} % of the variants get more than 3 errors from the macro", share * 100.0);
}
