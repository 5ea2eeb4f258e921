//! Asking a live PBX every [`Query`] over an [`ami_client::Client`].

use std::collections::VecDeque;

use ami_client::{Client, ClientError};

use super::{Answer, Inventory, Query};

/// Why discovery could not finish. A refusal by the PBX is not one: it is
/// an [`Answer::Refused`] that the rules read (module not loaded, no
/// rights).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The PBX could not be asked (connection lost, client closed, …).
    #[error("the PBX could not be asked {action}: {reason}")]
    Unreachable {
        /// The action being asked.
        action: String,
        /// The client's error, as text.
        reason: String,
    },
    /// No answer in time.
    #[error("no answer to {action} in time")]
    Timeout {
        /// The action being asked.
        action: String,
    },
}

/// Asks the PBX every [`Query`]: the lists of [`Query::initial`], then the
/// details they call for ([`Inventory::follow_ups`]), one at a time.
/// Nothing is changed on the PBX: every action only reads.
pub async fn collect(client: &Client) -> Result<Inventory, DiscoverError> {
    let mut inventory = Inventory::new();
    let mut queue: VecDeque<Query> = Query::initial().into();
    while let Some(query) = queue.pop_front() {
        let answer = ask(client, &query).await?;
        tracing::debug!(action = query.action_name(), "answered");
        inventory.record(query, answer);
        if queue.is_empty() {
            queue.extend(inventory.follow_ups());
        }
    }
    Ok(inventory)
}

async fn ask(client: &Client, query: &Query) -> Result<Answer, DiscoverError> {
    let result = if query.is_list() {
        client.send_list(query.action()).await.map(|l| l.items)
    } else {
        client.send(query.action()).await.map(|m| vec![m])
    };
    match result {
        Ok(items) => Ok(Answer::Items(items)),
        Err(ClientError::ServerError { message, .. }) => Ok(Answer::Refused(message)),
        Err(e) if e.is_timeout() => Err(DiscoverError::Timeout {
            action: query.action_name().to_owned(),
        }),
        Err(e) => Err(DiscoverError::Unreachable {
            action: query.action_name().to_owned(),
            reason: e.to_string(),
        }),
    }
}
