//! Acting on live calls through AMI: the library code behind the CLI's
//! `hangup` (and, later, the control API).
//!
//! A call is named by its Linkedid (the `uniqueId` of its record); its
//! channels are found in the PBX's own list (`CoreShowChannels`), so the
//! action reaches the call as the PBX has it now.

use ami_client::Client;
use ami_proto::{Action, Message};

/// Why an action on a call did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The PBX has no channel of that call (ended already, or never was).
    #[error("the PBX has no call {linkedid:?} (ended already?)")]
    NoSuchCall {
        /// The call asked for.
        linkedid: String,
    },
    /// The PBX could not be asked (not connected, timeout).
    #[error("the PBX could not be asked: {reason}")]
    Unreachable {
        /// The client's error, as text.
        reason: String,
    },
    /// The PBX refused the action; its own message.
    #[error("the PBX refused {action}: {message}")]
    Refused {
        /// The action.
        action: String,
        /// What the PBX said.
        message: String,
    },
}

impl ControlError {
    fn from_client(action: &str, e: &ami_client::ClientError) -> ControlError {
        if e.is_server_error() {
            ControlError::Refused {
                action: action.to_owned(),
                message: e.to_string(),
            }
        } else {
            ControlError::Unreachable {
                reason: e.to_string(),
            }
        }
    }
}

/// The channels the PBX has for call `linkedid`, as its `CoreShowChannel`
/// list items.
pub async fn call_channels(client: &Client, linkedid: &str) -> Result<Vec<Message>, ControlError> {
    let list = client
        .send_list(Action::core_show_channels())
        .await
        .map_err(|e| ControlError::from_client("CoreShowChannels", &e))?;
    Ok(list
        .items
        .into_iter()
        .filter(|m| m.get("Linkedid").is_some_and(|l| l == linkedid))
        .collect())
}

/// Hangs up every channel of call `linkedid` (cause 16, normal clearing);
/// returns their names. A channel gone between the list and its `Hangup`
/// (the call ended meanwhile) is not an error.
pub async fn hangup_call(client: &Client, linkedid: &str) -> Result<Vec<String>, ControlError> {
    let channels = call_channels(client, linkedid).await?;
    if channels.is_empty() {
        return Err(ControlError::NoSuchCall {
            linkedid: linkedid.to_owned(),
        });
    }
    let mut done = Vec::new();
    for ch in channels {
        let Some(name) = ch.get("Channel") else {
            continue;
        };
        let name = name.to_string();
        match client.send(Action::hangup(name.clone(), Some(16))).await {
            Ok(_) => done.push(name),
            Err(e) if e.is_server_error() && !done.is_empty() => {
                // Hanging up the first channel usually ends the others.
                tracing::debug!(channel = %name, "already gone: {e}");
            }
            Err(e) => return Err(ControlError::from_client("Hangup", &e)),
        }
    }
    Ok(done)
}
