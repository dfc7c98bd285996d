//! The cluster's key space: every Zenoh key a node declares or watches, built and parsed
//! in this one place.
//!
//! All keys of a cluster live under `gs/<cluster>/`, so clusters that share a network (or
//! tests that share a machine) never see each other's nodes and names:
//!
//! | key | what it is |
//! |---|---|
//! | `gs/<cluster>/node/<node>/<incarnation>` | a liveliness token: the node is up |
//! | `gs/<cluster>/name/<name>/<node>/<id>/<stamp>` | a liveliness token: a global name's claim |
//! | `gs/<cluster>/ask/<node>/<rest>` | a question to `node` about the tokens `gs/<cluster>/<rest>` |
//! | `gs/<cluster>/call/<node>/<id>` | a call to the server `id` of `node` (a Zenoh query) |
//! | `gs/<cluster>/cast/<node>/<id>` | a cast to the server `id` of `node` (a Zenoh put) |
//! | `gs/<cluster>/pg/<group>/<type>/<node>/<id>` | a liveliness token: a member of a process group |
//! | `gs/<cluster>/pgcast/<node>/<group>` | a cast to every member of `group` on `node` (a put) |
//! | `gs/<cluster>/watch/<node>/<id>/<watcher>/<ref>` | a liveliness token: `watcher` monitors the server `id` of `node` |
//! | `gs/<cluster>/down/<watcher>/<ref>/<node>/<id>` | the DOWN of the monitor `ref` (a put) |
//!
//! The node's incarnation is its Zenoh session id, so that two sessions never declare the
//! same key (a node restarted under the same name is a new incarnation, which later
//! phases use to tell old monitors from new ones). A name's claim carries the holder's
//! node and server id and the registration stamp that decides conflicts.
//!
//! Names, node names and cluster names each become one chunk of a key, so they must not
//! contain the characters that Zenoh gives a meaning to; [`check_chunk`] says which.

use std::fmt;

/// What a name was given for, in [`InvalidName`]'s message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameKind {
    /// A cluster's name ([`NodeConfig::new`](super::NodeConfig::new)).
    Cluster,
    /// A node's name ([`NodeConfig::name`](super::NodeConfig::name)).
    Node,
    /// A global name ([`Node::register_global`](super::Node::register_global)).
    Global,
    /// A process group's name ([`Node::join_group`](super::Node::join_group)).
    Group,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Cluster => "cluster name",
            NameKind::Node => "node name",
            NameKind::Global => "global name",
            NameKind::Group => "group name",
        })
    }
}

/// A cluster, node or global name that cannot be used: it would not be one chunk of a
/// Zenoh key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidName {
    /// What the name was given for.
    pub kind: NameKind,
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.kind, self.name, self.reason)
    }
}

impl std::error::Error for InvalidName {}

/// The longest name accepted, in bytes: names travel in every key that holds them.
pub(crate) const MAX_NAME_LEN: usize = 200;

/// Checks that `name` can be one chunk of a key: not empty, at most [`MAX_NAME_LEN`]
/// bytes, no `/` (it separates chunks), none of `*`, `$`, `?`, `#` (Zenoh's wildcards and
/// reserved characters), no whitespace or control character, and no leading `@` (Zenoh's
/// verbatim chunks).
pub(crate) fn check_chunk(kind: NameKind, name: &str) -> Result<(), InvalidName> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 200 bytes")
    } else if name.starts_with('@') {
        Some("it starts with `@`")
    } else if name.contains(['/', '*', '$', '?', '#']) {
        Some("it contains one of `/ * $ ? #`")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(InvalidName { kind, name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

/// One global-name token, parsed: who claims which name since when.
///
/// The derived order is the conflict order: the lowest `(stamp, node)` wins, as in
/// `:global` (the id breaks no tie that matters, since one node never holds a name twice).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Claim {
    pub(crate) stamp: u64,
    pub(crate) node: String,
    pub(crate) id: u64,
}

/// The keys of one cluster.
#[derive(Clone, Debug)]
pub(crate) struct KeySpace {
    /// `gs/<cluster>`.
    prefix: String,
}

impl KeySpace {
    /// The key space of `cluster`, a name already checked by [`check_chunk`].
    pub(crate) fn new(cluster: &str) -> Self {
        KeySpace { prefix: format!("gs/{cluster}") }
    }

    /// The token of one node incarnation.
    pub(crate) fn node(&self, node: &str, incarnation: &str) -> String {
        format!("{}/node/{node}/{incarnation}", self.prefix)
    }

    /// Every incarnation of the node `node`.
    pub(crate) fn node_incarnations(&self, node: &str) -> String {
        format!("{}/node/{node}/*", self.prefix)
    }

    /// Every node of the cluster.
    pub(crate) fn all_nodes(&self) -> String {
        format!("{}/node/*/*", self.prefix)
    }

    /// `(node, incarnation)` from a node token's key; `None` for any other key.
    pub(crate) fn parse_node<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/node/")?;
        let (node, incarnation) = rest.split_once('/')?;
        (!incarnation.contains('/')).then_some((node, incarnation))
    }

    /// The token of one claim on the global name `name`.
    pub(crate) fn claim(&self, name: &str, claim: &Claim) -> String {
        format!("{}/name/{name}/{}/{}/{}", self.prefix, claim.node, claim.id, claim.stamp)
    }

    /// Every claim on the global name `name`.
    pub(crate) fn claims_of(&self, name: &str) -> String {
        format!("{}/name/{name}/*/*/*", self.prefix)
    }

    /// Every claim on every global name of the cluster.
    pub(crate) fn all_claims(&self) -> String {
        format!("{}/name/*/*/*/*", self.prefix)
    }

    /// The question to the neighbours for the tokens matching `pattern`, a key
    /// expression of this cluster: `gs/<cluster>/<rest>` becomes
    /// `gs/<cluster>/ask/*/<rest>`.
    pub(crate) fn question(&self, pattern: &str) -> Option<String> {
        let rest = pattern.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?;
        Some(format!("{}/ask/*/{rest}", self.prefix))
    }

    /// What `node` answers for the token `token` it sees: `gs/<cluster>/<rest>` becomes
    /// `gs/<cluster>/ask/<node>/<rest>`.
    pub(crate) fn answer(&self, node: &str, token: &str) -> Option<String> {
        let rest = token.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?;
        Some(format!("{}/ask/{node}/{rest}", self.prefix))
    }

    /// The token an answer reports; `None` if the key is not an answer.
    pub(crate) fn token_of_answer(&self, answer: &str) -> Option<String> {
        let rest = answer.strip_prefix(self.prefix.as_str())?.strip_prefix("/ask/")?;
        let (_node, rest) = rest.split_once('/')?;
        Some(format!("{}/{rest}", self.prefix))
    }

    /// Every question put to `node`.
    pub(crate) fn questions_to(&self, node: &str) -> String {
        format!("{}/ask/{node}/**", self.prefix)
    }

    /// Where a call to the server `id` of `node` goes.
    pub(crate) fn call(&self, node: &str, id: u64) -> String {
        format!("{}/call/{node}/{id}", self.prefix)
    }

    /// Where a cast to the server `id` of `node` goes.
    pub(crate) fn cast(&self, node: &str, id: u64) -> String {
        format!("{}/cast/{node}/{id}", self.prefix)
    }

    /// Every call to a server of `node`: what `node` answers.
    pub(crate) fn calls_to(&self, node: &str) -> String {
        format!("{}/call/{node}/*", self.prefix)
    }

    /// Every cast to a server of `node`: what `node` subscribes to.
    pub(crate) fn casts_to(&self, node: &str) -> String {
        format!("{}/cast/{node}/*", self.prefix)
    }

    /// The server id a call or cast key addresses; `None` for any other key.
    pub(crate) fn parse_target(&self, key: &str) -> Option<u64> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?;
        let rest = rest.strip_prefix("call/").or_else(|| rest.strip_prefix("cast/"))?;
        let (_node, id) = rest.split_once('/')?;
        id.parse().ok()
    }

    /// The token of the server `id` of `node`, of type `type_tag`, in `group`.
    pub(crate) fn member(&self, group: &str, type_tag: &str, node: &str, id: u64) -> String {
        format!("{}/pg/{group}/{type_tag}/{node}/{id}", self.prefix)
    }

    /// Every member of every group of the cluster.
    pub(crate) fn all_members(&self) -> String {
        format!("{}/pg/*/*/*/*", self.prefix)
    }

    /// `(group, type tag, node, id)` from a member's key; `None` for any other key.
    pub(crate) fn parse_member<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str, &'k str, u64)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/pg/")?;
        let mut chunks = rest.split('/');
        let (group, tag, node, id) = (chunks.next()?, chunks.next()?, chunks.next()?, chunks.next()?);
        if chunks.next().is_some() {
            return None;
        }
        Some((group, tag, node, id.parse().ok()?))
    }

    /// Where a cast to the members of `group` on `node` goes.
    pub(crate) fn group_cast(&self, node: &str, group: &str) -> String {
        format!("{}/pgcast/{node}/{group}", self.prefix)
    }

    /// Every group cast to `node`: what `node` subscribes to.
    pub(crate) fn group_casts_to(&self, node: &str) -> String {
        format!("{}/pgcast/{node}/*", self.prefix)
    }

    /// The group a group cast's key addresses.
    pub(crate) fn parse_group_cast<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/pgcast/")?;
        let (_node, group) = rest.split_once('/')?;
        (!group.contains('/')).then_some(group)
    }

    /// The token of the monitor `monitor` of `watcher` on the server `id` of `node`.
    pub(crate) fn watch(&self, node: &str, id: u64, watcher: &str, monitor: u64) -> String {
        format!("{}/watch/{node}/{id}/{watcher}/{monitor}", self.prefix)
    }

    /// Every monitor of a server of `node`: what `node` follows.
    pub(crate) fn watches_of(&self, node: &str) -> String {
        format!("{}/watch/{node}/*/*/*", self.prefix)
    }

    /// `(server id, watcher, monitor)` from a monitor's token; `None` for any other key.
    pub(crate) fn parse_watch<'k>(&self, key: &'k str) -> Option<(u64, &'k str, u64)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/watch/")?;
        let mut chunks = rest.split('/');
        let (_node, id, watcher, monitor) = (chunks.next()?, chunks.next()?, chunks.next()?, chunks.next()?);
        if chunks.next().is_some() {
            return None;
        }
        Some((id.parse().ok()?, watcher, monitor.parse().ok()?))
    }

    /// Where the DOWN of the monitor `monitor` of `watcher`, on the server `id` of
    /// `node`, goes.
    pub(crate) fn down(&self, watcher: &str, monitor: u64, node: &str, id: u64) -> String {
        format!("{}/down/{watcher}/{monitor}/{node}/{id}", self.prefix)
    }

    /// Every DOWN for a monitor of `watcher`: what `watcher` subscribes to.
    pub(crate) fn downs_to(&self, watcher: &str) -> String {
        format!("{}/down/{watcher}/*/*/*", self.prefix)
    }

    /// `(monitor, server)` from a DOWN's key; `None` for any other key.
    pub(crate) fn parse_down(&self, key: &str) -> Option<(u64, super::GlobalName)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/down/")?;
        let mut chunks = rest.split('/');
        let (_watcher, monitor, node, id) = (chunks.next()?, chunks.next()?, chunks.next()?, chunks.next()?);
        if chunks.next().is_some() {
            return None;
        }
        Some((monitor.parse().ok()?, super::GlobalName { node: node.to_owned(), id: id.parse().ok()? }))
    }

    /// `(name, claim)` from a claim's key; `None` for any other key.
    pub(crate) fn parse_claim(&self, key: &str) -> Option<(String, Claim)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("/name/")?;
        let mut chunks = rest.split('/');
        let (name, node, id, stamp) = (chunks.next()?, chunks.next()?, chunks.next()?, chunks.next()?);
        if chunks.next().is_some() {
            return None;
        }
        let claim = Claim { stamp: stamp.parse().ok()?, node: node.to_owned(), id: id.parse().ok()? };
        Some((name.to_owned(), claim))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back_to_what_built_them() {
        let keys = KeySpace::new("shop");
        assert_eq!(keys.parse_node(&keys.node("a@host", "f00d")), Some(("a@host", "f00d")));
        let claim = Claim { stamp: 17, node: "b".into(), id: 4 };
        let key = keys.claim("config", &claim);
        assert_eq!(key, "gs/shop/name/config/b/4/17");
        assert_eq!(keys.parse_claim(&key), Some(("config".to_owned(), claim)));
    }

    #[test]
    fn an_answer_reports_the_token_the_question_asked_about() {
        let keys = KeySpace::new("shop");
        let token = keys.node("b", "f00d");
        assert_eq!(keys.question(&keys.node_incarnations("b")).as_deref(), Some("gs/shop/ask/*/node/b/*"));
        let answer = keys.answer("a", &token).expect("a token of this cluster");
        assert_eq!(answer, "gs/shop/ask/a/node/b/f00d");
        assert_eq!(keys.token_of_answer(&answer), Some(token));
        assert_eq!(keys.question("gs/other/node/b/*"), None);
        assert_eq!(keys.token_of_answer("gs/shop/node/b/f00d"), None);
    }

    #[test]
    fn a_call_or_cast_key_names_its_server() {
        let keys = KeySpace::new("shop");
        assert_eq!(keys.call("b", 7), "gs/shop/call/b/7");
        assert_eq!(keys.parse_target(&keys.call("b", 7)), Some(7));
        assert_eq!(keys.parse_target(&keys.cast("b", 12)), Some(12));
        assert_eq!(keys.parse_target("gs/shop/call/b/x"), None);
        assert_eq!(keys.parse_target("gs/shop/node/b/7"), None);
        assert_eq!(keys.parse_target("gs/other/call/b/7"), None);
    }

    #[test]
    fn group_keys_parse_back_to_what_built_them() {
        let keys = KeySpace::new("shop");
        let member = keys.member("workers", "shop::Worker", "b", 3);
        assert_eq!(member, "gs/shop/pg/workers/shop::Worker/b/3");
        assert_eq!(keys.parse_member(&member), Some(("workers", "shop::Worker", "b", 3)));
        assert_eq!(keys.parse_member("gs/shop/pg/workers/shop::Worker/b"), None);
        assert_eq!(keys.parse_group_cast(&keys.group_cast("b", "workers")), Some("workers"));
        assert_eq!(keys.parse_group_cast("gs/shop/pgcast/b/workers/x"), None);
    }

    #[test]
    fn monitor_keys_parse_back_to_what_built_them() {
        let keys = KeySpace::new("shop");
        let watch = keys.watch("b", 7, "a", 42);
        assert_eq!(watch, "gs/shop/watch/b/7/a/42");
        assert_eq!(keys.parse_watch(&watch), Some((7, "a", 42)));
        assert_eq!(keys.parse_watch("gs/shop/watch/b/7/a"), None);
        let down = keys.down("a", 42, "b", 7);
        assert_eq!(down, "gs/shop/down/a/42/b/7");
        let server = super::super::GlobalName { node: "b".into(), id: 7 };
        assert_eq!(keys.parse_down(&down), Some((42, server)));
        assert_eq!(keys.parse_down("gs/shop/down/a/x/b/7"), None);
    }

    #[test]
    fn keys_of_other_clusters_and_shapes_do_not_parse() {
        let keys = KeySpace::new("shop");
        assert_eq!(keys.parse_node("gs/shopping/node/a/1"), None);
        assert_eq!(keys.parse_node("gs/shop/node/a/1/2"), None);
        assert_eq!(keys.parse_claim("gs/shop/name/config/b/4"), None);
        assert_eq!(keys.parse_claim("gs/shop/name/config/b/x/17"), None);
        assert_eq!(keys.parse_claim("gs/other/name/config/b/4/17"), None);
    }

    #[test]
    fn conflicts_go_to_the_lowest_stamp_then_the_lowest_node() {
        let early = Claim { stamp: 1, node: "z".into(), id: 9 };
        let late_a = Claim { stamp: 2, node: "a".into(), id: 1 };
        let late_b = Claim { stamp: 2, node: "b".into(), id: 0 };
        assert!(early < late_a && late_a < late_b);
    }

    #[test]
    fn names_that_are_not_one_chunk_are_refused() {
        assert!(check_chunk(NameKind::Node, "node-1.example@host:7").is_ok());
        assert!(check_chunk(NameKind::Global, "régie").is_ok());
        for bad in ["", "a/b", "*", "a*", "$x", "a?", "#", "@admin", "a b", "tab\t"] {
            let error = check_chunk(NameKind::Global, bad).expect_err(bad);
            assert_eq!(error.name, bad);
        }
        assert!(check_chunk(NameKind::Cluster, &"x".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
