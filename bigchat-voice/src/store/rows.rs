//! Rows as the store returns them (and as notifications carry them: JSON
//! field names are BigChat's camelCase column names).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::model::{Call, CallStatus, Direction};

/// `Asterisks.status`: the state of the connector's AMI connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AsteriskStatus {
    /// Logged in and receiving events.
    Connected,
    /// Not connected.
    Disconnected,
    /// Connecting or logging in.
    Connecting,
}

impl AsteriskStatus {
    /// The stored value: `CONNECTED`, `DISCONNECTED` or `CONNECTING`.
    pub fn as_str(self) -> &'static str {
        match self {
            AsteriskStatus::Connected => "CONNECTED",
            AsteriskStatus::Disconnected => "DISCONNECTED",
            AsteriskStatus::Connecting => "CONNECTING",
        }
    }
}

/// A `CallRecords` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    derive(sqlx::FromRow),
    sqlx(rename_all = "camelCase")
)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CallRecordRow {
    /// Primary key.
    pub id: i64,
    /// The call's Linkedid.
    pub unique_id: String,
    /// Number of the party that placed the call.
    pub caller_id: String,
    /// Caller-ID name, if any.
    pub caller_name: Option<String>,
    /// Number dialled.
    pub called_number: String,
    /// `inbound` / `outbound` / `internal`.
    pub direction: String,
    /// One of [`CallStatus::as_str`].
    pub status: String,
    /// Seconds from start to end.
    pub duration: i64,
    /// Seconds on hold.
    pub hold_time: i64,
    /// Seconds answered and not on hold.
    pub talk_time: i64,
    /// Where the recording can be fetched.
    pub recording_url: Option<String>,
    /// The recording's path on the PBX.
    pub recording_file: Option<String>,
    /// First channel seen.
    pub started_at: DateTime<Utc>,
    /// When answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Extension of the agent.
    pub agent_extension: Option<String>,
    /// Queue the call went through.
    pub queue: Option<String>,
    /// Last Q.850 cause of the external party.
    pub hangup_cause: Option<i64>,
    /// Closed or created by reconciliation.
    pub reconciled: bool,
    /// The ticket.
    pub ticket_id: Option<i64>,
    /// The Asterisk server.
    pub asterisk_id: i64,
    /// The agent's BigChat user.
    pub user_id: Option<i64>,
    /// The contact.
    pub contact_id: Option<i64>,
    /// The company.
    pub company_id: i64,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
    /// The journal position ([`Job::position`](super::writer::Job::position))
    /// of the last effect that changed the record; `None` when written
    /// without a journal. Not part of BigChat's model (not serialised).
    #[serde(skip)]
    pub journal_seq: Option<i64>,
    /// Why the call got its direction ([`Call::classification`]).
    pub classification: Option<String>,
}

impl CallRecordRow {
    /// The status, parsed.
    pub fn call_status(&self) -> Result<CallStatus, StoreError> {
        CallStatus::parse(&self.status).ok_or_else(|| {
            StoreError::InvalidData(format!("unknown call status {:?}", self.status))
        })
    }

    /// The direction, parsed.
    pub fn call_direction(&self) -> Result<Direction, StoreError> {
        Direction::parse(&self.direction).ok_or_else(|| {
            StoreError::InvalidData(format!("unknown direction {:?}", self.direction))
        })
    }

    /// The row the store writes for `call` (record `id` of PBX
    /// `asterisk_id`, company `company_id`, written at `at`), with no
    /// ticket, contact or journal position yet: for a [`Store`](super::Store)
    /// of one's own and for tests.
    pub fn from_call(
        call: &Call,
        id: i64,
        asterisk_id: i64,
        company_id: i64,
        at: DateTime<Utc>,
    ) -> Self {
        CallRecordRow {
            id,
            unique_id: call.unique_id.clone(),
            caller_id: call.caller_id.clone(),
            caller_name: call.caller_name.clone(),
            called_number: call.called_number.clone(),
            direction: call.direction.as_str().to_owned(),
            status: call.status.as_str().to_owned(),
            duration: call.duration,
            hold_time: call.hold_time,
            talk_time: call.talk_time,
            recording_url: call.recording_url.clone(),
            recording_file: call.recording_file.clone(),
            started_at: call.started_at,
            answered_at: call.answered_at,
            ended_at: call.ended_at,
            agent_extension: call.agent_extension.clone(),
            queue: call.queue.clone(),
            hangup_cause: call.hangup_cause.map(i64::from),
            reconciled: call.reconciled,
            ticket_id: None,
            asterisk_id,
            user_id: call.user_id,
            contact_id: None,
            company_id,
            created_at: at,
            updated_at: at,
            journal_seq: None,
            classification: call.classification.clone(),
        }
    }

    /// The record as a [`Call`] (the contact's number is the caller for
    /// inbound calls, the called number for outbound ones).
    pub fn to_call(&self) -> Result<Call, StoreError> {
        let direction = self.call_direction()?;
        let contact_number = match direction {
            Direction::Inbound => self.caller_id.clone(),
            Direction::Outbound => self.called_number.clone(),
            Direction::Internal => String::new(),
        };
        Ok(Call {
            unique_id: self.unique_id.clone(),
            direction,
            status: self.call_status()?,
            caller_id: self.caller_id.clone(),
            caller_name: self.caller_name.clone(),
            called_number: self.called_number.clone(),
            contact_number,
            contact_name: None,
            agent_extension: self.agent_extension.clone(),
            user_id: self.user_id,
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
            duration: self.duration,
            hold_time: self.hold_time,
            talk_time: self.talk_time,
            recording_file: self.recording_file.clone(),
            recording_url: self.recording_url.clone(),
            queue: self.queue.clone(),
            hangup_cause: self.hangup_cause.and_then(|c| u16::try_from(c).ok()),
            reconciled: self.reconciled,
            classification: self.classification.clone(),
        })
    }
}

/// A `Tickets` row (the columns the connector uses).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    derive(sqlx::FromRow),
    sqlx(rename_all = "camelCase")
)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TicketRow {
    /// Primary key.
    pub id: i64,
    /// `pending`, `open`, `closed` or `group`.
    pub status: String,
    /// Unread messages (missed inbound calls count as one).
    pub unread_messages: i64,
    /// Readable state of the last call ("Incoming call", "Call ended 3:12", …).
    pub last_message: Option<String>,
    /// Group ticket (never for voice).
    pub is_group: bool,
    /// Public id (a UUID, made by the database as BigChat's own are).
    pub uuid: String,
    /// Last activity was ours (outbound call).
    pub from_me: bool,
    /// Agent owning the ticket.
    pub user_id: Option<i64>,
    /// The contact.
    pub contact_id: i64,
    /// BigChat queue.
    pub queue_id: Option<i64>,
    /// The company.
    pub company_id: i64,
    /// The connection (`Whatsapps` row) the ticket belongs to: for a voice
    /// ticket, the voice connection of its Asterisk server.
    pub whatsapp_id: Option<i64>,
    /// Asterisk server of the last call.
    pub asterisk_id: Option<i64>,
    /// `inbound` / `outbound` (last call).
    pub call_type: Option<String>,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
}

/// A `Contacts` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    derive(sqlx::FromRow),
    sqlx(rename_all = "camelCase")
)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ContactRow {
    /// Primary key.
    pub id: i64,
    /// Caller-ID name, else the number.
    pub name: String,
    /// Normalised number.
    pub number: String,
    /// E-mail ('' when unknown, as BigChat).
    pub email: String,
    /// The picture BigChat shows (never set by the connector).
    pub profile_pic_url: Option<String>,
    /// The company.
    pub company_id: i64,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
}

/// A `Messages` row: the call's message on its ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    derive(sqlx::FromRow),
    sqlx(rename_all = "camelCase")
)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MessageRow {
    /// Primary key (see [`call_message_id`](super::call_message_id)).
    pub id: String,
    /// The one-line summary.
    pub body: String,
    /// BigChat's delivery state (0).
    pub ack: i64,
    /// Read already (outbound, or answered).
    pub read: bool,
    /// `audio/call` or the recording's type.
    pub media_type: Option<String>,
    /// The recording, relative to BigChat's `public/`.
    pub media_url: Option<String>,
    /// The ticket.
    pub ticket_id: i64,
    /// The contact.
    pub contact_id: Option<i64>,
    /// Outbound.
    pub from_me: bool,
    /// The queue.
    pub queue_id: Option<i64>,
    /// The company.
    pub company_id: Option<i64>,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
}

/// An `Asterisks` row, without its password.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    derive(sqlx::FromRow),
    sqlx(rename_all = "camelCase")
)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AsteriskRow {
    /// Primary key.
    pub id: i64,
    /// Name of the connection.
    pub name: String,
    /// `CONNECTED`, `DISCONNECTED` or `CONNECTING`.
    pub status: String,
    /// AMI host.
    pub host: String,
    /// AMI port.
    pub port: i64,
    /// Always `ami`.
    pub protocol: String,
    /// AMI user.
    pub username: String,
    /// BigChat setting, untouched by the connector.
    pub greeting_message: Option<String>,
    /// BigChat setting, untouched by the connector.
    pub farewell_message: Option<String>,
    /// BigChat setting, untouched by the connector.
    pub transfer_queue_id: Option<i64>,
    /// BigChat setting, untouched by the connector.
    pub time_to_transfer: Option<i64>,
    /// Its voice connection: the `Whatsapps` row (provider `asterisk`) its
    /// tickets belong to.
    pub whatsapp_id: Option<i64>,
    /// The company.
    pub company_id: i64,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
}

/// What [`Store::apply`](super::Store::apply) did, for notifications.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Applied {
    /// The call record concerned (None for effects that touch no call).
    pub call_record_id: Option<i64>,
    /// Its ticket.
    pub ticket_id: Option<i64>,
    /// Its contact.
    pub contact_id: Option<i64>,
    /// A new contact was created.
    pub contact_created: bool,
    /// A new ticket was created.
    pub ticket_created: bool,
    /// The call record was created by this effect.
    pub record_created: bool,
    /// The call message was created by this effect.
    pub message_created: bool,
    /// The record as stored, when this effect created or changed it.
    pub record: Option<CallRecordRow>,
    /// The ticket as stored, when this effect created or changed it.
    pub ticket: Option<TicketRow>,
    /// The ticket's contact, with the ticket (BigChat's ticket payloads
    /// carry it: its screens show the contact's name).
    pub contact: Option<ContactRow>,
    /// The call's message, when this effect created it.
    pub message: Option<MessageRow>,
    /// The ticket as it was before this effect changed it (`None` when the
    /// effect created it, or did not change it).
    pub ticket_before: Option<TicketRow>,
}

impl Applied {
    /// True when the effect created or changed the call record.
    pub fn record_changed(&self) -> bool {
        self.record.is_some()
    }

    /// True when the effect created or changed the ticket.
    pub fn ticket_changed(&self) -> bool {
        self.ticket.is_some()
    }

    /// True when nothing was written (a replayed effect).
    pub fn is_noop(&self) -> bool {
        self.record.is_none() && self.ticket.is_none() && !self.contact_created
    }
}

/// Filter for [`Store::recent_calls`](super::Store::recent_calls); `None`
/// fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallFilter {
    /// Only this company.
    pub company_id: Option<i64>,
    /// Only this Asterisk server.
    pub asterisk_id: Option<i64>,
    /// Only this status.
    pub status: Option<CallStatus>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only calls handled by this agent extension.
    pub agent_extension: Option<String>,
    /// Only calls handled by this BigChat user.
    pub user_id: Option<i64>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
    /// At most this many rows (default 50).
    pub limit: Option<u32>,
    /// Only the call with this `uniqueId` (its Linkedid).
    pub unique_id: Option<String>,
}

/// An originate idempotency key to claim
/// ([`Store::claim_originate_key`](super::Store::claim_originate_key)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OriginateKey<'a> {
    /// The company the key belongs to (keys of two companies never meet).
    pub company_id: i64,
    /// The key, as the client sent it.
    pub key: &'a str,
    /// A digest of the request, to tell a retry from another request.
    pub request_hash: &'a str,
    /// The Asterisk server the call is placed on.
    pub asterisk_id: i64,
    /// The id the call will have.
    pub unique_id: &'a str,
}

impl<'a> OriginateKey<'a> {
    /// Key `key` of `company_id`, for call `unique_id` on `asterisk_id`,
    /// requested as `request_hash` says.
    pub fn new(
        company_id: i64,
        key: &'a str,
        request_hash: &'a str,
        asterisk_id: i64,
        unique_id: &'a str,
    ) -> OriginateKey<'a> {
        OriginateKey {
            company_id,
            key,
            request_hash,
            asterisk_id,
            unique_id,
        }
    }
}

/// What claiming an originate key found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginateClaim {
    /// The key was free: it now names the new call.
    Claimed,
    /// An earlier request took it.
    Taken {
        /// Whether that request had the same digest (a retry).
        same_request: bool,
        /// The Asterisk server of its call.
        asterisk_id: i64,
        /// Its call.
        unique_id: String,
    },
}
