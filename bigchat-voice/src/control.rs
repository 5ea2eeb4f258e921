//! Acting on calls through AMI: click-to-call, hang up, blind and attended
//! transfer. The library code behind the CLI's `originate`, `hangup` and
//! `transfer` and behind the daemon's control API.
//!
//! A call is named by its Linkedid (the `uniqueId` of its record); its
//! channels are found in the PBX's own list (`CoreShowChannels`), so an
//! action reaches the call as the PBX has it now. Every value that goes
//! into an AMI header is checked first ([`validate_extension`],
//! [`validate_number`], variable names): nothing a user typed can carry a
//! CR/LF, a dialplan function or a second action.
//!
//! # Click-to-call and idempotency
//! [`originate`] records the call (`outbound`, `ringing`) before the PBX
//! hears of it, so that an immediate failure always finds its record. With
//! an idempotency key, the key is claimed in the database
//! ([`Store::claim_originate_key`]) before anything else: the same request
//! again — a client retrying, or after a restart of the daemon — places no
//! second call and gets the first call's id back ([`Placed::replayed`]).
//! The key is given back when the call was certainly not placed (the
//! record could not be written, the PBX refused, the link was down before
//! the action went out); it stays when the outcome is unknown (a timeout
//! after the action was written): placing a second call is the worse
//! mistake.
//!
//! # Transfers
//! A transfer is made from the agent's channel, as the agent's own feature
//! codes would: [`TransferKind::Blind`] is AMI `BlindTransfer` (the agent
//! leaves the call at once; the other party goes to the target);
//! [`TransferKind::Attended`] is AMI `Atxfer`: the other party waits on
//! hold while the agent's channel dials the target; it completes when the
//! agent's channel hangs up ([`complete_transfer`]) or the agent dials
//! features.conf's `atxfercomplete` (default `*2`); it is cancelled by
//! [`cancel_transfer`] (AMI `CancelAtxfer`), by `atxferabort` (default
//! `*1`), or when the target does not answer within `atxfernoanswertimeout`
//! — the agent is then back with the other party. `Atxfer` needs an
//! `atxfer` feature code in features.conf.

use std::collections::BTreeMap;
use std::time::Duration;

use ami_client::Client;
use ami_proto::{Action, Message, Originate, OriginateTarget};
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::model::{Call, CallStatus, Direction, Effect};
use crate::store::{OriginateClaim, OriginateKey, Store, StoreError};
use crate::tracker::normalize_number;

/// Why an action on a call did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A value of the request is not acceptable; nothing was sent.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (or flag) at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The PBX has no channel of that call (ended already, or never was).
    #[error("the PBX has no call {linkedid:?} (ended already?)")]
    NoSuchCall {
        /// The call asked for.
        linkedid: String,
    },
    /// The call has no channel of its agent (not answered yet, or the
    /// agent's channel is gone), so there is nothing to transfer from.
    #[error("call {linkedid:?} has no channel of agent {agent:?} to act from")]
    NoAgentChannel {
        /// The call.
        linkedid: String,
        /// The agent extension looked for.
        agent: String,
    },
    /// The ticket named for a click-to-call does not exist (in that company).
    #[error("no ticket {ticket_id}")]
    NoSuchTicket {
        /// The ticket asked for.
        ticket_id: i64,
    },
    /// The idempotency key was used before for a different request.
    #[error("Idempotency-Key {key:?} was used for a different request (call {unique_id})")]
    KeyReused {
        /// The key.
        key: String,
        /// The call the earlier request placed.
        unique_id: String,
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
    /// The database could not be read or written.
    #[error("the database could not be read or written")]
    Store(#[source] StoreError),
}

impl ControlError {
    fn from_client(action: &str, e: &ami_client::ClientError) -> ControlError {
        if e.is_server_error() {
            ControlError::Refused {
                action: action.to_owned(),
                message: server_message(e),
            }
        } else {
            ControlError::Unreachable {
                reason: e.to_string(),
            }
        }
    }

    fn invalid(field: &'static str, reason: impl Into<String>) -> ControlError {
        ControlError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> ControlError {
        ControlError::Store(e)
    }
}

/// The PBX's own words from a `Response: Error`.
fn server_message(e: &ami_client::ClientError) -> String {
    match e {
        ami_client::ClientError::ServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Checks an agent extension: 1 to 20 characters, letters, digits, `_`, `-`.
pub fn validate_extension(field: &'static str, ext: &str) -> Result<(), ControlError> {
    let ok = !ext.is_empty()
        && ext.len() <= 20
        && ext
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ControlError::invalid(
            field,
            format!("{ext:?} is not an extension (letters, digits, '_' or '-', at most 20)"),
        ))
    }
}

/// Checks and normalises a phone number typed by a user: digits with an
/// optional leading `+`, and the usual separators (spaces, `-`, `.`, `(`,
/// `)`), 3 to 20 digits. Anything else (letters, control characters, CR/LF)
/// is refused.
pub fn validate_number(field: &'static str, raw: &str) -> Result<String, ControlError> {
    let trimmed = raw.trim();
    let allowed = trimmed.char_indices().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')') || (c == '+' && i == 0)
    });
    let digits = trimmed.bytes().filter(u8::is_ascii_digit).count();
    if !allowed || !(3..=20).contains(&digits) {
        return Err(ControlError::invalid(
            field,
            format!("{raw:?} is not a phone number (digits, optional leading '+', 3 to 20 digits)"),
        ));
    }
    Ok(normalize_number(trimmed))
}

/// Checks a channel variable name: a plain variable (inherited with a
/// `_`/`__` prefix), never a dialplan function such as `FILE(...)` or
/// `SHELL(...)`.
pub fn validate_variable_name(field: &'static str, name: &str) -> Result<(), ControlError> {
    let plain = name.len() <= 80
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Ok(())
    } else {
        Err(ControlError::invalid(
            field,
            format!("{name:?}: a variable name is letters, digits and _"),
        ))
    }
}

/// How long a click-to-call waits for a login in progress.
const CONNECTED_WAIT: Duration = Duration::from_secs(2);

/// Channel variables a request may not set (with or without `_`/`__`):
/// the connector's own (`BIGCHAT_TICKET` carries the checked ticket), the
/// recording's file name the tracker reads, and Asterisk's special ones.
const RESERVED_VARIABLES: &[&str] = &[
    "BIGCHAT_",
    "MIXMONITOR_",
    "MONITOR_",
    "CDR",
    "CHANNEL",
    "CALLERID",
    "CONNECTEDLINE",
    "TRANSFER_CONTEXT",
    "GOSUB",
    "MACRO",
    "AGI",
    "SHELL",
    "SYSTEM",
];

/// How a click-to-call is dialled (the CLI's `[originate]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OriginateDialplan {
    /// The agent's phone: `{ext}` is replaced by the agent extension.
    pub channel: String,
    /// Dialplan context that dials the customer.
    pub context: String,
    /// Priority in that context.
    pub priority: String,
    /// Caller ID shown on the agent's phone: `{to}` is the number called,
    /// `{ext}` the agent extension.
    pub caller_id: String,
}

impl Default for OriginateDialplan {
    fn default() -> Self {
        OriginateDialplan {
            channel: "PJSIP/{ext}".to_owned(),
            context: "outbound".to_owned(),
            priority: "1".to_owned(),
            caller_id: "\"Call {to}\" <{to}>".to_owned(),
        }
    }
}

/// A click-to-call request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OriginateRequest {
    /// The agent's extension, rung first.
    pub from: String,
    /// The number to call, as typed (normalised by [`originate`]).
    pub to: String,
    /// The BigChat ticket the call belongs to (`BIGCHAT_TICKET` on the call).
    pub ticket_id: Option<i64>,
    /// Channel variables for the call.
    pub variables: BTreeMap<String, String>,
    /// How long the agent's phone may ring (1 s to 1 h).
    pub timeout: Duration,
    /// An idempotency key (1 to 200 printable ASCII characters).
    pub idempotency_key: Option<String>,
    /// The BigChat user the agent extension maps to (the record's `userId`).
    pub user_id: Option<i64>,
}

impl OriginateRequest {
    /// A call from agent extension `from` to number `to`, ringing 30 s.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> OriginateRequest {
        OriginateRequest {
            from: from.into(),
            to: to.into(),
            ticket_id: None,
            variables: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            idempotency_key: None,
            user_id: None,
        }
    }

    /// Checks every value that goes into the `Originate` (before anything
    /// is contacted); returns the number to dial, normalised.
    pub fn validate(&self) -> Result<String, ControlError> {
        validate_extension("from", &self.from)?;
        let to = validate_number("to", &self.to)?;
        for (name, value) in &self.variables {
            validate_variable_name("variables", name)?;
            let bare = name.trim_start_matches('_').to_ascii_uppercase();
            if RESERVED_VARIABLES.iter().any(|p| bare.starts_with(p)) {
                return Err(ControlError::invalid(
                    "variables",
                    format!("{name}: reserved (the connector and Asterisk set it)"),
                ));
            }
            if value.chars().any(char::is_control) || value.len() > 1000 {
                return Err(ControlError::invalid(
                    "variables",
                    format!("{name}: a value is at most 1000 characters, no control characters"),
                ));
            }
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&self.timeout) {
            return Err(ControlError::invalid(
                "timeout",
                "must be between 1 s and 1 h",
            ));
        }
        if let Some(key) = &self.idempotency_key {
            let printable = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
            if key.is_empty() || key.len() > 200 || !printable {
                return Err(ControlError::invalid(
                    "Idempotency-Key",
                    "1 to 200 printable ASCII characters, no spaces",
                ));
            }
        }
        Ok(to)
    }

    /// A digest of what the request asks for (not the key): two requests
    /// with one key and the same digest are the same request.
    fn digest(&self, to: &str) -> String {
        let mut h = Sha256::new();
        let mut field = |v: &str| {
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        };
        field(&self.from);
        field(to);
        field(&self.ticket_id.map(|t| t.to_string()).unwrap_or_default());
        field(&self.timeout.as_millis().to_string());
        for (k, v) in &self.variables {
            field(k);
            field(v);
        }
        hex::encode(h.finalize())
    }
}

/// Where a call is placed: the server's `Asterisks.id` and the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Placement {
    /// The server's `Asterisks.id`.
    pub asterisk_id: i64,
    /// The BigChat company.
    pub company_id: i64,
}

impl Placement {
    /// Server `asterisk_id` of company `company_id`.
    pub fn new(asterisk_id: i64, company_id: i64) -> Placement {
        Placement {
            asterisk_id,
            company_id,
        }
    }
}

/// A placed click-to-call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Placed {
    /// The call's id: its record's `uniqueId`, and the Linkedid its events
    /// carry (the agent channel's `ChannelId`).
    pub unique_id: String,
    /// The Asterisk server it is on.
    pub asterisk_id: i64,
    /// An earlier request with the same idempotency key placed it; nothing
    /// was sent this time.
    pub replayed: bool,
    /// The ActionID of the `Originate` (its `OriginateResponse` carries
    /// it); `None` when replayed.
    pub action_id: Option<String>,
}

/// A new call id, in the form Asterisk's `ChannelId` takes.
fn new_call_id() -> String {
    format!(
        "bcv-{}.{:06x}",
        Utc::now().timestamp_millis(),
        rand::random::<u32>() & 0xff_ffff
    )
}

fn fill(template: &str, ext: &str, to: &str) -> String {
    template.replace("{ext}", ext).replace("{to}", to)
}

/// The call an earlier request with `req`'s idempotency key placed, if
/// any, without touching the PBX (a retry is answered even while the PBX
/// is away); [`ControlError::KeyReused`] when that request was another.
pub async fn placed_earlier<S: Store>(
    store: &S,
    company_id: i64,
    req: &OriginateRequest,
) -> Result<Option<Placed>, ControlError> {
    let to = req.validate()?;
    let Some(key) = req.idempotency_key.as_deref() else {
        return Ok(None);
    };
    match store
        .find_originate_key(company_id, key, &req.digest(&to))
        .await?
    {
        None | Some(OriginateClaim::Claimed) => Ok(None),
        Some(OriginateClaim::Taken {
            same_request: true,
            asterisk_id,
            unique_id,
        }) => Ok(Some(Placed {
            unique_id,
            asterisk_id,
            replayed: true,
            action_id: None,
        })),
        Some(OriginateClaim::Taken { unique_id, .. }) => Err(ControlError::KeyReused {
            key: key.to_owned(),
            unique_id,
        }),
    }
}

/// Places a click-to-call (see the module's docs): checks the request,
/// claims its idempotency key, records the call, sends `Originate`
/// (asynchronous: the outcome comes as `OriginateResponse`, which a
/// running pipeline turns into the record's end when it failed).
pub async fn originate<S: Store>(
    client: &Client,
    store: &S,
    at: Placement,
    dialplan: &OriginateDialplan,
    req: &OriginateRequest,
) -> Result<Placed, ControlError> {
    let to = req.validate()?;
    if let Some(earlier) = placed_earlier(store, at.company_id, req).await? {
        return Ok(earlier);
    }
    // Not logged in: the action would wait in the client's queue and time
    // out unwritten, which cannot be told from an answer lost after it
    // went out. Refused here, before anything is claimed (a login just
    // being completed is waited for, briefly).
    let logged_in = tokio::time::timeout(CONNECTED_WAIT, client.wait_connected()).await;
    if !matches!(logged_in, Ok(Ok(()))) {
        return Err(ControlError::Unreachable {
            reason: "not connected to the PBX".to_owned(),
        });
    }
    if let Some(ticket) = req.ticket_id {
        let found = store.ticket(ticket).await?;
        if found.is_none_or(|t| t.company_id != at.company_id) {
            return Err(ControlError::NoSuchTicket { ticket_id: ticket });
        }
    }
    let unique_id = new_call_id();
    let mut originate = Originate::new(
        fill(&dialplan.channel, &req.from, &to),
        OriginateTarget::Exten {
            context: dialplan.context.clone(),
            exten: to.clone(),
            priority: dialplan.priority.clone(),
        },
    )
    .timeout(req.timeout)
    .caller_id(fill(&dialplan.caller_id, &req.from, &to))
    .channel_id(unique_id.clone());
    if let Some(ticket) = req.ticket_id {
        originate = originate
            .variable("BIGCHAT_TICKET", ticket.to_string())
            .map_err(|e| ControlError::invalid("ticketId", e.to_string()))?;
    }
    for (k, v) in &req.variables {
        originate = originate
            .variable(k.clone(), v.clone())
            .map_err(|e| ControlError::invalid("variables", e.to_string()))?;
    }
    let action = originate.build();
    // Refuse anything unsafe before touching the database or the network.
    action
        .validate()
        .map_err(|e| ControlError::invalid("originate", e.to_string()))?;

    // The key is claimed before anything is placed.
    let key = req.idempotency_key.as_deref();
    if let Some(key) = key {
        let digest = req.digest(&to);
        let claim = OriginateKey::new(at.company_id, key, &digest, at.asterisk_id, &unique_id);
        match store.claim_originate_key(&claim).await? {
            OriginateClaim::Claimed => {}
            OriginateClaim::Taken {
                same_request: true,
                asterisk_id,
                unique_id,
            } => {
                return Ok(Placed {
                    unique_id,
                    asterisk_id,
                    replayed: true,
                    action_id: None,
                });
            }
            OriginateClaim::Taken { unique_id, .. } => {
                return Err(ControlError::KeyReused {
                    key: key.to_owned(),
                    unique_id,
                });
            }
        }
    }
    let release = async |store: &S| {
        if let Some(key) = key
            && let Err(e) = store
                .release_originate_key(at.company_id, key, &unique_id)
                .await
        {
            tracing::error!(call = %unique_id, "idempotency key not given back: {}", crate::error_chain(&e));
        }
    };

    let started = Utc::now();
    let call = Call {
        caller_id: req.from.clone(),
        called_number: to.clone(),
        contact_number: to.clone(),
        agent_extension: Some(req.from.clone()),
        user_id: req.user_id,
        ..Call::ringing(unique_id.clone(), Direction::Outbound, started)
    };
    // The record exists before the PBX hears of the call, so that a
    // failure it reports at once (`OriginateFailed` in a running pipeline)
    // always finds it.
    if let Err(e) = store
        .apply(
            at.asterisk_id,
            at.company_id,
            &Effect::CallStarted(call.clone()),
        )
        .await
    {
        release(store).await;
        return Err(ControlError::Store(e));
    }
    match client.send(action).await {
        Ok(response) => Ok(Placed {
            unique_id,
            asterisk_id: at.asterisk_id,
            replayed: false,
            action_id: response.action_id().map(|v| v.to_string()),
        }),
        Err(e) => {
            // Certainly not placed: the PBX refused it, or it was never
            // written (not connected, link lost before writing). Anything
            // else (a timeout, the link or the client closing after the
            // action went out) may have placed it: the key stays.
            let not_placed = e.is_server_error() || e.is_retryable();
            if not_placed {
                let ended = failed(call, started);
                if let Err(err) = store
                    .apply(at.asterisk_id, at.company_id, &Effect::CallEnded(ended))
                    .await
                {
                    tracing::error!(error = %crate::error_chain(&err), call = %unique_id, "cannot record the failed call");
                }
                release(store).await;
            }
            Err(ControlError::from_client("Originate", &e))
        }
    }
}

/// The placed call, ended `failed` now.
pub fn failed(mut call: Call, started: chrono::DateTime<Utc>) -> Call {
    let now = Utc::now();
    call.status = CallStatus::Failed;
    call.ended_at = Some(now);
    call.duration = (now - started).num_seconds().max(0);
    call
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

/// Blind or attended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferKind {
    /// AMI `BlindTransfer`.
    Blind,
    /// AMI `Atxfer`.
    Attended,
}

impl TransferKind {
    /// `"blind"` / `"attended"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Blind => "blind",
            TransferKind::Attended => "attended",
        }
    }
}

/// A transfer the PBX took.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transferred {
    /// Blind or attended.
    pub kind: TransferKind,
    /// The agent's channel it was made from.
    pub channel: String,
    /// The extension dialled.
    pub exten: String,
}

/// Whether channel `ch` (a `CoreShowChannel` item) is agent `agent`'s, by
/// the tracker's rule: its endpoint is the extension (`PJSIP/1001-…`), or
/// ends with it after a non-digit (`PJSIP/agent1001-…`), or its caller
/// number is the extension.
fn is_agent_channel(ch: &Message, agent: &str) -> bool {
    let by_name = ch.get("Channel").is_some_and(|c| {
        let c = c.to_string();
        let after_tech = c.split_once('/').map_or(c.as_str(), |(_, rest)| rest);
        let endpoint = if c.starts_with("Local/") {
            after_tech.split('@').next().unwrap_or(after_tech)
        } else {
            after_tech.rsplit_once('-').map_or(after_tech, |(e, _)| e)
        };
        endpoint == agent
            || endpoint.strip_suffix(agent).is_some_and(|head| {
                !head.is_empty() && !head.ends_with(|c: char| c.is_ascii_digit())
            })
    });
    by_name || ch.get("CallerIDNum").is_some_and(|n| n == agent)
}

/// Local channels last: a transfer acts on the phone's own channel.
fn is_local(ch: &Message) -> bool {
    ch.get("Channel")
        .is_some_and(|c| c.to_string().starts_with("Local/"))
}

/// The channel of agent `agent` in call `linkedid`.
pub async fn agent_channel(
    client: &Client,
    linkedid: &str,
    agent: &str,
) -> Result<String, ControlError> {
    let channels = call_channels(client, linkedid).await?;
    if channels.is_empty() {
        return Err(ControlError::NoSuchCall {
            linkedid: linkedid.to_owned(),
        });
    }
    let mut mine: Vec<&Message> = channels
        .iter()
        .filter(|c| is_agent_channel(c, agent))
        .collect();
    mine.sort_by_key(|c| is_local(c));
    mine.first()
        .and_then(|c| c.get("Channel").map(|v| v.to_string()))
        .ok_or_else(|| ControlError::NoAgentChannel {
            linkedid: linkedid.to_owned(),
            agent: agent.to_owned(),
        })
}

/// Transfers call `linkedid`'s other party to `exten` (in `context`, else
/// the agent channel's own), from agent `agent`'s channel (see the module's
/// `# Transfers`).
pub async fn transfer_call(
    client: &Client,
    linkedid: &str,
    agent: &str,
    kind: TransferKind,
    exten: &str,
    context: Option<&str>,
) -> Result<Transferred, ControlError> {
    validate_extension("extension", exten)?;
    if let Some(c) = context {
        validate_extension("context", c)?;
    }
    let channel = agent_channel(client, linkedid, agent).await?;
    let context = context.map(str::to_owned);
    let (name, action) = match kind {
        TransferKind::Blind => (
            "BlindTransfer",
            Action::blind_transfer(channel.clone(), exten, context),
        ),
        TransferKind::Attended => ("Atxfer", Action::atxfer(channel.clone(), exten, context)),
    };
    client
        .send(action)
        .await
        .map_err(|e| ControlError::from_client(name, &e))?;
    Ok(Transferred {
        kind,
        channel,
        exten: exten.to_owned(),
    })
}

/// Completes an attended transfer of call `linkedid`: agent `agent`'s
/// channel hangs up and Asterisk joins the other party to the target.
/// Returns the channel hung up.
pub async fn complete_transfer(
    client: &Client,
    linkedid: &str,
    agent: &str,
) -> Result<String, ControlError> {
    on_agent_channel(client, linkedid, agent, |ch| Action::hangup(ch, Some(16))).await
}

/// Cancels an attended transfer of call `linkedid` (AMI `CancelAtxfer` on
/// agent `agent`'s channel). Returns that channel.
pub async fn cancel_transfer(
    client: &Client,
    linkedid: &str,
    agent: &str,
) -> Result<String, ControlError> {
    on_agent_channel(client, linkedid, agent, |ch| {
        Action::new("CancelAtxfer").header("Channel", ch)
    })
    .await
}

/// Sends the action `build` makes for agent `agent`'s channel in call
/// `linkedid`; returns that channel.
async fn on_agent_channel(
    client: &Client,
    linkedid: &str,
    agent: &str,
    build: impl FnOnce(String) -> Action,
) -> Result<String, ControlError> {
    let channel = agent_channel(client, linkedid, agent).await?;
    let action = build(channel.clone());
    let name = action.name().to_owned();
    client
        .send(action)
        .await
        .map_err(|e| ControlError::from_client(&name, &e))?;
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_validated() {
        assert_eq!(
            validate_number("to", "+55 11 99999-0002").unwrap(),
            "+5511999990002"
        );
        assert_eq!(
            validate_number("to", "(011) 9999.0002").unwrap(),
            "01199990002"
        );
        for bad in [
            "",
            "12",
            "+55\r\nAction: Command",
            "abc123",
            "55+11",
            "1".repeat(21).as_str(),
        ] {
            assert!(validate_number("to", bad).is_err(), "{bad:?}");
        }
        assert!(validate_extension("from", "1001").is_ok());
        for bad in ["", "10 01", "1001\r\n", "PJSIP/1001"] {
            assert!(validate_extension("from", bad).is_err(), "{bad:?}");
        }
        for bad in ["SHELL(rm)", "A B", "1X", "X\r\nY"] {
            assert!(validate_variable_name("variables", bad).is_err(), "{bad:?}");
        }
        assert!(validate_variable_name("variables", "__BIGCHAT_X1").is_ok());
    }

    #[test]
    fn the_digest_tells_requests_apart() {
        let a = OriginateRequest::new("1001", "+5511999990002");
        let mut b = a.clone();
        assert_eq!(a.digest("+5511999990002"), b.digest("+5511999990002"));
        b.ticket_id = Some(4);
        assert_ne!(a.digest("+5511999990002"), b.digest("+5511999990002"));
        // Field boundaries count: "10"+"01…" is not "100"+"1…".
        let c = OriginateRequest::new("10", "01999");
        let d = OriginateRequest::new("100", "1999");
        assert_ne!(c.digest("01999"), d.digest("1999"));
    }

    #[test]
    fn agent_channels_are_found_by_endpoint_or_number() {
        let ch = |name: &str, num: &str| {
            Message::parse(
                format!("Event: CoreShowChannel\r\nChannel: {name}\r\nCallerIDNum: {num}\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap()
        };
        assert!(is_agent_channel(&ch("PJSIP/1001-0000004e", "4000"), "1001"));
        assert!(is_agent_channel(&ch("SIP/1001-00000001", ""), "1001"));
        assert!(is_agent_channel(
            &ch("PJSIP/agent1001-0000004e", "+5511"),
            "1001"
        ));
        assert!(is_agent_channel(
            &ch("Local/1001@agents-00000001;1", ""),
            "1001"
        ));
        assert!(is_agent_channel(
            &ch("Local/x@y-00000001;1", "1001"),
            "1001"
        ));
        assert!(!is_agent_channel(&ch("PJSIP/21001-0000004e", "5"), "1001"));
        assert!(!is_agent_channel(
            &ch("PJSIP/trunk-0000004d", "+5511"),
            "1001"
        ));
        assert!(!is_agent_channel(&ch("PJSIP/10011-0000004d", "5"), "1001"));
    }
}
