//! Reads an impl block that syn cannot parse as a whole, so that one mistake rustc
//! already reports does not also cost the user the whole server.
//!
//! Two steps, both on tokens:
//! - every body in the block (`{ ... }` at its top level) is set aside before parsing and
//!   put back in the output ([`Bodies`]): syn then never sees a body it cannot parse, and
//!   rustc reports its own error in it, once;
//! - if the block still does not parse, it is read item by item. An item syn cannot
//!   parse, or keeps verbatim (a method without a body), is emitted as written (markers
//!   removed) and, if it is a handler, its signature is repaired as far as possible so
//!   that a stub of it can be generated.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Block, FnArg, ImplItem, ImplItemFn, ItemImpl, Signature, Token, Visibility};

/// The bodies set aside, in the order they appear in the impl block.
pub(crate) struct Bodies(Vec<Group>);

/// An impl block as far as syn could read it.
pub(crate) struct Recovered {
    pub(crate) item: ItemImpl,
    pub(crate) bodies: Bodies,
    /// The handlers syn could not parse, with their signatures repaired: rustc reports
    /// what is wrong with them, and the macro generates stubs for them.
    pub(crate) repaired: Vec<ImplItemFn>,
}

/// Parses `input` as an impl block, leniently. `None` if even its header does not parse.
pub(crate) fn parse(input: TokenStream, is_marker: impl Fn(&str) -> bool) -> Option<Recovered> {
    let (hidden, bodies) = hide_bodies(input);
    let mut item = match syn::parse2::<ItemImpl>(hidden.clone()) {
        Ok(item) => item,
        Err(_) => parse_items(hidden)?,
    };
    // What syn keeps verbatim (a method without a body, an item it cannot parse) and
    // carries a marker is repaired for a stub and emitted without the marker.
    let mut repaired = Vec::new();
    for impl_item in &mut item.items {
        if let ImplItem::Verbatim(tokens) = impl_item {
            if has_marker(tokens, &is_marker) {
                repaired.extend(repair_method(tokens));
                *tokens = strip_markers(std::mem::take(tokens), &is_marker);
            }
        }
    }
    Some(Recovered { item, bodies, repaired })
}

/// Parses the impl block item by item: an item syn cannot parse is kept verbatim.
/// `None` if the block's header does not parse.
fn parse_items(hidden: TokenStream) -> Option<ItemImpl> {
    let mut tokens: Vec<TokenTree> = hidden.into_iter().collect();
    let body = match tokens.pop() {
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body,
        _ => return None,
    };
    let mut header: TokenStream = tokens.into_iter().collect();
    header.extend([TokenTree::Group(Group::new(Delimiter::Brace, TokenStream::new()))]);
    let mut item = syn::parse2::<ItemImpl>(header).ok()?;
    item.brace_token.span = body.delim_span();
    let mut previous: Option<TokenStream> = None;
    for chunk in split_items(body.stream()) {
        match syn::parse2::<ImplItem>(chunk.clone()) {
            Ok(impl_item) => item.items.push(impl_item),
            Err(_) => {
                // A stray `{}` or `;` splits one method in two: the part before it is
                // not trusted either, and left to rustc with the rest.
                if let (Some(previous), Some(last)) = (previous.take(), item.items.last_mut()) {
                    *last = ImplItem::Verbatim(previous);
                }
                item.items.push(ImplItem::Verbatim(chunk.clone()));
            }
        }
        previous = Some(chunk);
    }
    Some(item)
}

/// `input` with the markers removed from the body of its impl block, for a block that
/// does not parse at all: rustc then reports its own error and nothing else.
pub(crate) fn strip_block_markers(input: TokenStream, is_marker: impl Fn(&str) -> bool) -> TokenStream {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    if let Some(TokenTree::Group(body)) = tokens.last_mut() {
        if body.delimiter() == Delimiter::Brace {
            let mut stripped = Group::new(Delimiter::Brace, strip_markers(body.stream(), &is_marker));
            stripped.set_span(body.span());
            *body = stripped;
        }
    }
    tokens.into_iter().collect()
}

impl Bodies {
    /// Puts the bodies back into `output`, the impl block as the macro emits it.
    pub(crate) fn restore(self, output: TokenStream) -> TokenStream {
        let mut tokens: Vec<TokenTree> = output.into_iter().collect();
        if let Some(TokenTree::Group(body)) = tokens.last_mut() {
            let mut originals = self.0.into_iter();
            let inner = body
                .stream()
                .into_iter()
                .map(|token| match token {
                    TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
                        originals.next().map_or(TokenTree::Group(group), TokenTree::Group)
                    }
                    token => token,
                })
                .collect();
            let mut restored = Group::new(Delimiter::Brace, inner);
            restored.set_span(body.span());
            *body = restored;
        }
        tokens.into_iter().collect()
    }
}

/// Replaces every `{ ... }` at the top level of the impl block's body with `{}`.
fn hide_bodies(input: TokenStream) -> (TokenStream, Bodies) {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    let mut bodies = Vec::new();
    if let Some(TokenTree::Group(body)) = tokens.last_mut() {
        if body.delimiter() == Delimiter::Brace {
            let inner = body
                .stream()
                .into_iter()
                .map(|token| match token {
                    TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
                        let mut empty = Group::new(Delimiter::Brace, TokenStream::new());
                        empty.set_span(group.span());
                        bodies.push(group);
                        TokenTree::Group(empty)
                    }
                    token => token,
                })
                .collect();
            let mut hidden = Group::new(Delimiter::Brace, inner);
            hidden.set_span(body.span());
            *body = hidden;
        }
    }
    (tokens.into_iter().collect(), Bodies(bodies))
}

/// The items of an impl block's body: each ends with a `;` or a `{ ... }` (and the `;`
/// that may follow it).
fn split_items(body: TokenStream) -> Vec<TokenStream> {
    let mut items = Vec::new();
    let mut current = Vec::new();
    let mut tokens = body.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let ends = match &token {
            TokenTree::Punct(punct) => punct.as_char() == ';',
            TokenTree::Group(group) => group.delimiter() == Delimiter::Brace,
            _ => false,
        };
        let is_group = matches!(token, TokenTree::Group(_));
        current.push(token);
        if ends {
            if is_group {
                if let Some(TokenTree::Punct(semi)) = tokens.peek() {
                    if semi.as_char() == ';' {
                        current.extend(tokens.next());
                    }
                }
            }
            items.push(std::mem::take(&mut current).into_iter().collect());
        }
    }
    if !current.is_empty() {
        items.push(current.into_iter().collect());
    }
    items
}

/// The name in `#[name]`, `#[path::name(...)]` or `#[name = ...]`: the last identifier
/// before anything else.
fn attribute_name(group: &Group) -> Option<String> {
    let mut name = None;
    for token in group.stream() {
        match token {
            TokenTree::Ident(ident) => name = Some(ident.to_string()),
            TokenTree::Punct(punct) if punct.as_char() == ':' => {}
            _ => break,
        }
    }
    name
}

/// Whether `tokens` (one item) carry a marker.
fn has_marker(tokens: &TokenStream, is_marker: &impl Fn(&str) -> bool) -> bool {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    tokens.windows(2).any(|pair| is_marker_attribute(&pair[0], &pair[1], is_marker))
}

fn is_marker_attribute(hash: &TokenTree, next: &TokenTree, is_marker: &impl Fn(&str) -> bool) -> bool {
    let (TokenTree::Punct(hash), TokenTree::Group(group)) = (hash, next) else {
        return false;
    };
    hash.as_char() == '#'
        && group.delimiter() == Delimiter::Bracket
        && attribute_name(group).is_some_and(|name| is_marker(&name))
}

/// `tokens` without their `#[marker]` attributes, at their top level.
fn strip_markers(tokens: TokenStream, is_marker: &impl Fn(&str) -> bool) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut kept = Vec::with_capacity(tokens.len());
    let mut index = 0;
    while index < tokens.len() {
        if let Some(next) = tokens.get(index + 1) {
            if is_marker_attribute(&tokens[index], next, is_marker) {
                index += 2;
                continue;
            }
        }
        kept.push(tokens[index].clone());
        index += 1;
    }
    kept.into_iter().collect()
}

/// A method syn cannot parse, with its arguments repaired: each argument read as far as
/// it parses (`x: u32 = 1` → `x: u32`), unreadable ones left out, and the receiver moved
/// first. `None` if it still does not parse.
fn repair_method(chunk: &TokenStream) -> Option<ImplItemFn> {
    let mut tokens: Vec<TokenTree> = chunk.clone().into_iter().collect();
    let fn_index =
        tokens.iter().position(|token| matches!(token, TokenTree::Ident(ident) if ident == "fn"))?;
    let args_index = tokens[fn_index..].iter().position(
        |token| matches!(token, TokenTree::Group(group) if group.delimiter() == Delimiter::Parenthesis),
    )? + fn_index;
    let TokenTree::Group(args) = &tokens[args_index] else {
        return None;
    };
    let mut receiver = Vec::new();
    let mut others = Vec::new();
    for piece in split_arguments(args.stream()) {
        let Ok(arg) = parse_prefix.parse2(piece) else { continue };
        match arg {
            FnArg::Receiver(_) if receiver.is_empty() => receiver.push(arg),
            FnArg::Receiver(_) => {}
            FnArg::Typed(_) => others.push(arg),
        }
    }
    let repaired = receiver.into_iter().chain(others);
    let mut group = Group::new(Delimiter::Parenthesis, quote::quote!(#(#repaired),*));
    group.set_span(args.span());
    tokens[args_index] = TokenTree::Group(group);
    parse_method.parse2(tokens.into_iter().collect()).ok()
}

/// A method, with or without its body (`fn get(&self) -> u32;`), ignoring whatever
/// follows its signature's end.
fn parse_method(input: ParseStream<'_>) -> syn::Result<ImplItemFn> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    let defaultness: Option<Token![default]> = input.parse()?;
    let sig: Signature = input.parse()?;
    let block = if input.peek(syn::token::Brace) {
        input.parse::<Block>()?
    } else {
        Block { brace_token: Default::default(), stmts: Vec::new() }
    };
    input.parse::<TokenStream>()?;
    Ok(ImplItemFn { attrs, vis, defaultness, sig, block })
}

/// One argument, ignoring whatever follows it.
fn parse_prefix(input: ParseStream<'_>) -> syn::Result<FnArg> {
    let arg = input.parse::<FnArg>()?;
    input.parse::<TokenStream>()?;
    Ok(arg)
}

/// The arguments of a signature, split at the commas outside `<...>`.
fn split_arguments(args: TokenStream) -> Vec<TokenStream> {
    let mut pieces = Vec::new();
    let mut current = TokenStream::new();
    let mut depth = 0usize;
    let mut previous = ' ';
    for token in args {
        if let TokenTree::Punct(punct) = &token {
            match punct.as_char() {
                '<' => depth += 1,
                '>' if previous != '-' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    pieces.push(std::mem::take(&mut current));
                    previous = ',';
                    continue;
                }
                _ => {}
            }
            previous = punct.as_char();
        } else {
            previous = ' ';
        }
        current.extend([token]);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}
