//! The call as BigChat sees it, and the effects the tracker emits.
//!
//! Field names follow BigChat's `CallRecords` columns (camelCase in JSON).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Direction {
    /// From the outside (a trunk / inbound context) to the company.
    Inbound,
    /// From an agent or an Originate to an external number.
    Outbound,
    /// Between internal extensions (reported only with
    /// [`TrackerConfig::internal_calls`](crate::tracker::TrackerConfig::internal_calls));
    /// no contact and no ticket.
    Internal,
}

impl Direction {
    /// The value stored in the database (`inbound` / `outbound` /
    /// `internal`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }

    /// The direction named by [`as_str`](Self::as_str)'s value.
    ///
    /// ```
    /// use bigchat_voice::model::Direction;
    /// assert_eq!(Direction::parse("internal"), Some(Direction::Internal));
    /// assert_eq!(Direction::parse("sideways"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            "internal" => Some(Direction::Internal),
            _ => None,
        }
    }
}

/// A call's state. `Ringing`, `Answered`, `OnHold` and `Transferred` are
/// live; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallStatus {
    /// Not answered yet.
    Ringing,
    /// Parties connected.
    Answered,
    /// An answered call put on hold.
    OnHold,
    /// Transferred; goes on with the new agent.
    Transferred,
    /// Ended after being answered.
    Completed,
    /// Ended: the callee was busy.
    Busy,
    /// Ended: technical failure (congestion, unavailable, originate failed).
    Failed,
    /// Ended: nobody answered (timeout, caller abandoned, queue timeout).
    NoAnswer,
    /// Ended in voicemail.
    Voicemail,
}

impl CallStatus {
    /// Every status, live ones first.
    pub const ALL: [CallStatus; 9] = [
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::OnHold,
        CallStatus::Transferred,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::Failed,
        CallStatus::NoAnswer,
        CallStatus::Voicemail,
    ];

    /// The live statuses: a call in one of them has not ended. The one
    /// definition: the store's SQL and the migrations' partial index on
    /// live calls are checked against it.
    pub const LIVE: [CallStatus; 4] = [
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::OnHold,
        CallStatus::Transferred,
    ];

    /// True for the live statuses ([`LIVE`](Self::LIVE)).
    pub fn is_live(self) -> bool {
        !self.is_final()
    }

    /// The value stored in the database and sent in notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ringing => "ringing",
            CallStatus::Answered => "answered",
            CallStatus::OnHold => "on_hold",
            CallStatus::Transferred => "transferred",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no_answer",
            CallStatus::Voicemail => "voicemail",
        }
    }

    /// Parses [`as_str`](Self::as_str) values.
    pub fn parse(s: &str) -> Option<CallStatus> {
        Some(match s {
            "ringing" => CallStatus::Ringing,
            "answered" => CallStatus::Answered,
            "on_hold" => CallStatus::OnHold,
            "transferred" => CallStatus::Transferred,
            "completed" => CallStatus::Completed,
            "busy" => CallStatus::Busy,
            "failed" => CallStatus::Failed,
            "no_answer" => CallStatus::NoAnswer,
            "voicemail" => CallStatus::Voicemail,
            _ => return None,
        })
    }

    /// True for the final states.
    pub fn is_final(self) -> bool {
        !CallStatus::LIVE.contains(&self)
    }
}

/// Everything the tracker knows about one call (all channels sharing a
/// `Linkedid`), in BigChat's terms. Times are UTC; durations in whole
/// seconds, truncated as Asterisk's CDR does.
///
/// Build one with [`Call::ringing`] and set the fields that differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Call {
    /// The call's Linkedid (BigChat `uniqueId`).
    pub unique_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Current state.
    pub status: CallStatus,
    /// Number of the party that placed the call (normalised: digits and a
    /// leading `+`).
    pub caller_id: String,
    /// Caller-ID name when Asterisk had one.
    pub caller_name: Option<String>,
    /// Number dialled: the DID for inbound, the customer number for outbound.
    pub called_number: String,
    /// The external party's number (the contact): the caller for inbound,
    /// the called number for outbound.
    pub contact_number: String,
    /// The external party's name, if known.
    pub contact_name: Option<String>,
    /// Extension of the agent who answered (or who placed an outbound call).
    pub agent_extension: Option<String>,
    /// BigChat user id of that agent, from the configured extension map.
    pub user_id: Option<i64>,
    /// First channel seen.
    pub started_at: DateTime<Utc>,
    /// When the parties were connected.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the last channel hung up.
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds from start to end (0 while live).
    pub duration: i64,
    /// Seconds on hold.
    pub hold_time: i64,
    /// Seconds answered and not on hold.
    pub talk_time: i64,
    /// Full path of the MixMonitor recording, if any.
    pub recording_file: Option<String>,
    /// URL of the recording (configured base + path), if any.
    pub recording_url: Option<String>,
    /// Queue the call went through, if any.
    pub queue: Option<String>,
    /// Last Q.850 hangup cause seen on the external party's channel.
    pub hangup_cause: Option<u16>,
    /// The record was closed or created by reconciliation with the live
    /// PBX rather than by events.
    pub reconciled: bool,
    /// Why the tracker gave the call its direction, in words (`inbound:
    /// first channel SIP/voipprovider-00000012 is a trunk: it entered a
    /// trunk's context`). Kept with the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
}

impl Call {
    /// A call that just started ringing: the given identity, everything
    /// else empty (no answer, no agent, no recording, zero durations).
    pub fn ringing(
        unique_id: impl Into<String>,
        direction: Direction,
        started_at: DateTime<Utc>,
    ) -> Call {
        Call {
            unique_id: unique_id.into(),
            direction,
            status: CallStatus::Ringing,
            caller_id: String::new(),
            caller_name: None,
            called_number: String::new(),
            contact_number: String::new(),
            contact_name: None,
            agent_extension: None,
            user_id: None,
            started_at,
            answered_at: None,
            ended_at: None,
            duration: 0,
            hold_time: 0,
            talk_time: 0,
            recording_file: None,
            recording_url: None,
            queue: None,
            hangup_cause: None,
            reconciled: false,
            classification: None,
        }
    }
}

/// What the tracker asks the rest of the system to do. Effects are in
/// order; applying the same effect twice must be harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// A new call is ringing: find or create the contact and ticket, create
    /// the call record.
    CallStarted(Call),
    /// A live call changed (answered, hold, unhold, transfer, recording,
    /// new agent).
    CallUpdated(Call),
    /// The call reached a final state: finish the record, add the call
    /// message to the ticket, record ticket tracking times.
    CallEnded(Call),
    /// Events may have been missed for these live calls (a `Lagged` or
    /// `Reconnected` marker): reconcile them with the PBX.
    NeedsReconciliation {
        /// Linkedids of the calls concerned.
        unique_ids: Vec<String>,
    },
    /// An Originate failed before any of its channels existed (e.g. the
    /// agent's phone is not registered): the live record made for it when
    /// it was placed (by `bigchat-voice originate`, keyed by the
    /// Originate's `ChannelId`) ends `failed`. Nothing happens if there is
    /// no such live, unanswered record.
    OriginateFailed {
        /// The Originate's `ChannelId`: the record's `uniqueId`.
        unique_id: String,
        /// When the failure was reported.
        at: DateTime<Utc>,
    },
    /// The PBX restarted (a `Shutdown`, or `FullyBooted` with a lower
    /// `Uptime`): calls that were live have been ended (`CallEnded` effects
    /// precede this one).
    PbxRestarted {
        /// When it was noticed.
        at: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new status fails to compile here until it is placed in
    /// [`CallStatus::ALL`] (and, if live, in [`CallStatus::LIVE`]).
    #[test]
    fn every_status_is_listed_once() {
        for (i, s) in CallStatus::ALL.into_iter().enumerate() {
            let at = match s {
                CallStatus::Ringing => 0,
                CallStatus::Answered => 1,
                CallStatus::OnHold => 2,
                CallStatus::Transferred => 3,
                CallStatus::Completed => 4,
                CallStatus::Busy => 5,
                CallStatus::Failed => 6,
                CallStatus::NoAnswer => 7,
                CallStatus::Voicemail => 8,
            };
            assert_eq!(at, i);
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
            assert_eq!(s.is_live(), CallStatus::LIVE.contains(&s));
        }
        assert_eq!(&CallStatus::ALL[..4], &CallStatus::LIVE[..]);
    }
}
