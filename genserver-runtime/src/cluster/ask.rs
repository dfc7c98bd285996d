//! Asking the cluster which tokens are live: the node's own liveliness question, and the
//! same question put to the neighbours, which answer from what they see.
//!
//! In peer mode a Zenoh peer forwards nothing between other peers: a liveliness `get`
//! reaches only the nodes this one is connected to, and each answers for its own tokens.
//! A node that has just connected to one member of the cluster therefore sees that
//! member alone until gossip has connected it to the rest (tens of milliseconds on
//! loopback, more on a busy network). To close that window for the questions that guard
//! names (is this node name live? who holds this global name?), every node also answers
//! questions on `gs/<cluster>/ask/<node>/...` with the tokens *it* sees: the question
//! for the tokens matching `gs/<cluster>/<rest>` is the query
//! `gs/<cluster>/ask/*/<rest>`, and each neighbour replies once per matching token it
//! knows, with the key `gs/<cluster>/ask/<neighbour>/<token's rest>`. A node connected
//! to any member thus hears of every token that member sees.
//!
//! Hearsay can lag: a neighbour may still report a token that has just vanished, which
//! at worst refuses a name for the moment it takes the neighbour to see it go.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use zenoh::Session;
use zenoh::key_expr::KeyExpr;
use zenoh::query::{ConsolidationMode, Query, QueryTarget};

use super::global::GlobalNames;
use super::keys::KeySpace;
use super::membership::Membership;
use super::node::LOOKUP_TIMEOUT;

/// The keys of the live tokens that match `pattern` (a token key expression of this
/// cluster, such as `gs/<cluster>/node/<name>/*`), as this node's liveliness question
/// and its neighbours' answers report them together.
pub(crate) async fn live_tokens(
    session: &Session,
    keys: &KeySpace,
    pattern: &str,
) -> Result<BTreeSet<String>, zenoh::Error> {
    let direct = async {
        let replies = session.liveliness().get(pattern).timeout(LOOKUP_TIMEOUT).await?;
        let mut tokens = BTreeSet::new();
        while let Ok(reply) = replies.recv_async().await {
            if let Ok(sample) = reply.result() {
                tokens.insert(sample.key_expr().as_str().to_owned());
            }
        }
        Ok::<_, zenoh::Error>(tokens)
    };
    let hearsay = async {
        let question = keys.question(pattern).ok_or("not a key of this cluster")?;
        let replies = session
            .get(question)
            .target(QueryTarget::All)
            .consolidation(ConsolidationMode::None)
            .timeout(LOOKUP_TIMEOUT)
            .await?;
        let mut tokens = BTreeSet::new();
        while let Ok(reply) = replies.recv_async().await {
            if let Ok(sample) = reply.result() {
                tokens.extend(keys.token_of_answer(sample.key_expr().as_str()));
            }
        }
        Ok::<_, zenoh::Error>(tokens)
    };
    let (direct, hearsay) = tokio::join!(direct, hearsay);
    let mut tokens = direct?;
    tokens.extend(hearsay?);
    Ok(tokens)
}

/// What a node knows, for answering its neighbours' questions.
#[derive(Clone)]
pub(crate) struct Knowledge {
    pub(crate) own_name: String,
    pub(crate) keys: KeySpace,
    pub(crate) membership: Arc<Mutex<Membership>>,
    pub(crate) names: Arc<GlobalNames>,
}

impl Knowledge {
    /// Answers `query` with every token this node sees that matches it. Runs as a task,
    /// away from Zenoh's callback thread.
    pub(crate) async fn answer(&self, query: Query) {
        let asked = query.key_expr().clone();
        let node_tokens = {
            let membership = self.membership.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            membership.tokens()
        };
        let node_keys = node_tokens.iter().map(|(node, incarnation)| self.keys.node(node, incarnation));
        let claim_keys = self.names.claims().into_iter().map(|(name, claim)| self.keys.claim(&name, &claim));
        for token in node_keys.chain(claim_keys) {
            let Some(answer) = self.keys.answer(&self.own_name, &token) else { continue };
            let Ok(answer) = KeyExpr::try_from(answer) else { continue };
            if asked.intersects(&answer) {
                if let Err(error) = query.reply(answer, Vec::<u8>::new()).await {
                    tracing::debug!(%error, "could not answer a neighbour's question");
                }
            }
        }
        // Dropping the query tells the asker that this node has answered.
    }
}
