//! Call tracking: a pure, deterministic fold of AMI events into BigChat
//! call records.
//!
//! [`Tracker::handle`] takes one AMI message and the time it arrived and
//! returns the [`Effect`]s it implies. There is no I/O and no clock inside:
//! the same messages with the same times always give the same effects, so
//! every test is a replay of a recorded Asterisk session.
//!
//! ```
//! use ami_proto::Message;
//! use bigchat_voice::model::{CallStatus, Direction, Effect};
//! use bigchat_voice::tracker::{Tracker, TrackerConfig};
//! use chrono::{TimeZone, Utc};
//!
//! let mut tracker = Tracker::new(TrackerConfig::default());
//! let t0 = Utc.timestamp_opt(1_795_515_777, 0).unwrap();
//! let newchannel = Message::parse(
//!     b"Event: Newchannel\r\nChannel: PJSIP/trunk-00000000\r\nChannelState: 4\r\n\
//!       CallerIDNum: +5511999990001\r\nContext: from-trunk\r\nExten: 4000\r\n\
//!       Uniqueid: 1795515777.0\r\nLinkedid: 1795515777.0\r\n\r\n",
//! ).unwrap();
//! let effects = tracker.handle(&newchannel, t0);
//! let Effect::CallStarted(call) = &effects[0] else { panic!() };
//! assert_eq!(call.direction, Direction::Inbound);
//! assert_eq!(call.status, CallStatus::Ringing);
//! assert_eq!(call.contact_number, "+5511999990001");
//! assert_eq!(call.called_number, "4000");
//! ```
//!
//! # Behavior
//! * **One call = one Linkedid.** Channels are keyed by Uniqueid and
//!   grouped by Linkedid (`DestLinkedid` for an Originate's first Dial*
//!   events, which have no caller block). A channel whose Linkedid changes
//!   (bridging with an older call) moves to that call.
//! * **Direction** comes from the call's first channel (the one whose
//!   Uniqueid is the Linkedid): a trunk channel (see below) or a
//!   configured inbound context makes the call inbound; a phone dialling
//!   a number outside the numbering plan or a trunk, or an Originate,
//!   makes it outbound. A call whose parties are all internal extensions
//!   (agent to agent) is not reported, unless
//!   [`TrackerConfig::internal_calls`] asks for it: then it is `internal`
//!   from the moment a phone rings another phone. Every record says why in
//!   [`Call::classification`], and the decision is logged at debug level
//!   (`call classified`).
//! * **Click-to-call**: an Originate's call is reported once the number it
//!   dials is known (dialplan, `OriginateResponse`, the trunk leg), or at
//!   once if the connector announced it with
//!   [`Tracker::expect_originate`]. A failed `OriginateResponse` is matched
//!   by its `Uniqueid` (the Originate's `ChannelId`), else to the oldest
//!   unanswered Originate on the same endpoint.
//! * **Answered** when a caller-side `DialEnd ANSWER` connects the customer
//!   with someone (inbound: any callee; outbound: the trunk leg), when a
//!   queue `AgentConnect` arrives, or when two channels of the call meet in
//!   a bridge. An Originate's own `DialEnd ANSWER` only means the agent
//!   picked up: the call rings until the customer answers.
//! * **Final status**: `completed` if ever answered; else `voicemail` if it
//!   reached VoiceMail; else `failed` if the Originate failed or a leg gave
//!   CONGESTION/CHANUNAVAIL; `busy` for BUSY; `no_answer` for NOANSWER,
//!   CANCEL (caller abandoned) or a queue abandon.
//! * **Times** are the event's `Timestamp` header when present, else the
//!   arrival time given to [`Tracker::handle`] (see [`event_time`]).
//!   `duration`, `holdTime` and `talkTime` are whole seconds, truncated.
//! * **Idempotent**: events repeated for a live call change nothing, and
//!   events for a call that already ended (the last
//!   [`TrackerConfig::remember_ended_calls`] of them) are ignored.
//! * **Mid-call joins**: the first event seen for an unknown live channel
//!   (other than a hangup) starts its call with what that event tells.
//! * **Lost events**: [`Marker::Lagged`] and [`Marker::Reconnected`] give
//!   one [`Effect::NeedsReconciliation`] with every live call.
//! * **PBX restart**: a `Shutdown` event, or a `FullyBooted` whose `Uptime`
//!   is lower than the previous one plus the time elapsed, ends every live
//!   call (`completed` if answered, else `failed`) and then gives
//!   [`Effect::PbxRestarted`]. `FullyBooted` alone (sent after every login)
//!   means nothing.
//! * **Bounded memory**: channels are forgotten when their call ends; at
//!   most [`TrackerConfig::max_live_calls`] calls are followed (the oldest
//!   is dropped with a warning and a `NeedsReconciliation`).
//! * Unknown events are ignored; no input makes it panic.
//!
//! # Who is the outside party
//!
//! No configuration is needed to tell trunks from phones: each channel is
//! read from what every PBX shows, the first rule that applies deciding:
//!
//! 1. `Local/…` channels are neither (they join two halves of a call).
//! 2. A channel of a configured trunk ([`TrackerConfig::trunks`]) is a trunk.
//! 3. A channel whose endpoint is an internal extension (`PJSIP/1001-…`,
//!    `SIP/201-…`) is a phone.
//! 4. The context the channel entered the dialplan in: a configured one
//!    ([`TrackerConfig::inbound_contexts`], [`TrackerConfig::internal_contexts`]),
//!    else one named alike on FreePBX, Issabel and most hand-written
//!    dialplans (`from-trunk`, `from-pstn`, `from-external`, `from-did…`,
//!    `from-sip-external`, `from-provider`, `from-carrier`, `from-outside`, `incoming`, `inbound` for
//!    trunks; `from-internal…`, `internal`, `phones`, `from-phones`,
//!    `from-users`, `from-extensions`, `agents` for phones).
//! 5. An endpoint ending in an internal extension (`PJSIP/agent1001-…`) is
//!    a phone.
//! 6. A caller number that is an internal extension makes a phone (phones
//!    named after people, `SIP/alice-…`, show their extension there).
//! 7. Anything else is a trunk: a caller number outside the numbering
//!    plan, or none at all (an anonymous caller), on a channel with no
//!    sign of a phone.
//!
//! The numbering plan is [`TrackerConfig::extensions`] when given, else
//! numbers of [`TrackerConfig::extension_min_digits`] to
//! [`TrackerConfig::extension_max_digits`] digits, plus the keys of
//! [`TrackerConfig::users`]. A channel taken for a trunk while trunks are
//! configured but not listed, or whose signals disagree (a trunk whose
//! caller number is an extension, a phone in a trunk's context), is logged
//! as a warning naming the call.

mod call;
mod channel;
pub(crate) mod classify;
mod config;
mod dial;
mod events;
mod fast_hash;
mod lifecycle;
mod number;
mod pattern;
mod recent;
mod registry;

use std::collections::{HashMap, VecDeque};

use ami_proto::Message;
use chrono::{DateTime, Utc};

use crate::model::{Call, CallStatus, Effect};

use call::LiveCall;
use channel::ChannelInfo;
use fast_hash::FastBuild;
use recent::RecentlyEnded;

pub use config::{RecordingConfig, TrackerConfig};
pub use number::normalize_number;
pub use pattern::{Element, ExtensionPattern};

/// Something that happened to the event stream itself, not on the PBX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Marker {
    /// The consumer fell behind and `missed` events were dropped.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// The AMI connection was lost and is back; events may have been
    /// missed meanwhile.
    Reconnected,
}

/// The time of an event: its `Timestamp` header (sent by Asterisk with
/// `timestampevents=yes`) when present and valid, else `arrival`.
///
/// ```
/// use ami_proto::Message;
/// use bigchat_voice::tracker::event_time;
/// use chrono::{TimeZone, Utc};
/// let arrival = Utc.timestamp_opt(1_795_516_067, 0).unwrap();
/// let m = Message::parse(b"Event: Hangup\r\nTimestamp: 1795516073.446428\r\n\r\n").unwrap();
/// assert_eq!(event_time(&m, arrival).timestamp_micros(), 1_795_516_073_446_428);
/// let m = Message::parse(b"Event: Hangup\r\n\r\n").unwrap();
/// assert_eq!(event_time(&m, arrival), arrival);
/// ```
pub fn event_time(msg: &Message, arrival: DateTime<Utc>) -> DateTime<Utc> {
    msg.timestamp()
        .and_then(unix_seconds_to_time)
        .unwrap_or(arrival)
}

/// Unix seconds (fractional) to a UTC time, microsecond precision.
pub(crate) fn unix_seconds_to_time(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() || !(0.0..=1.0e12).contains(&secs) {
        return None;
    }
    DateTime::from_timestamp_micros((secs * 1_000_000.0).round() as i64)
}

/// Follows calls through AMI events; see the [module docs](self).
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    /// Boxed, so that a slot is a key and a pointer: with 10,000 calls
    /// live, whole calls in the slots made each growth of the table copy
    /// and briefly hold twice megabytes of mostly empty slots.
    calls: HashMap<Box<str>, Box<LiveCall>, FastBuild>,
    /// Boxed for the same reason (several channels per call).
    channels: HashMap<Box<str>, Box<ChannelInfo>, FastBuild>,
    recent: RecentlyEnded,
    /// Uniqueids of channels that hung up, so that a late or repeated event
    /// about one cannot put it back into its call (which would then never
    /// end).
    hung_up: RecentlyEnded,
    next_seq: u64,
    /// Live calls whose direction is not known yet (not reported).
    undecided: usize,
    /// Last `FullyBooted` uptime and when it was seen.
    last_uptime: Option<(u64, DateTime<Utc>)>,
    /// Originates announced by the connector: `ChannelId` → number dialled.
    expected_originates: HashMap<Box<str>, String, FastBuild>,
    /// Their order, to forget the oldest beyond [`MAX_EXPECTED_ORIGINATES`].
    expected_order: VecDeque<Box<str>>,
}

/// Most Originates announced with [`Tracker::expect_originate`] that are
/// remembered while their channel has not appeared.
pub const MAX_EXPECTED_ORIGINATES: usize = 1024;

impl Tracker {
    /// A tracker with no call.
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            recent: RecentlyEnded::new(config.remember_ended_calls),
            hung_up: RecentlyEnded::new(config.remember_ended_calls),
            cfg: config,
            calls: HashMap::with_hasher(FastBuild),
            channels: HashMap::with_hasher(FastBuild),
            next_seq: 0,
            undecided: 0,
            last_uptime: None,
            expected_originates: HashMap::with_hasher(FastBuild),
            expected_order: VecDeque::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Uses `config` from now on (a reload): the calls being followed stay
    /// as they are, and what they learn next (an agent's user, a queue)
    /// is looked up in the new mappings. The sizes of the memories of
    /// ended calls are kept.
    pub fn set_config(&mut self, config: TrackerConfig) {
        self.cfg = config;
    }

    /// Feeds one message that arrived at `at` (the event's own `Timestamp`
    /// header wins when present, see [`event_time`]) and returns the
    /// effects, in order. Responses and events that do not matter give none.
    pub fn handle(&mut self, msg: &Message, at: DateTime<Utc>) -> Vec<Effect> {
        let mut out = Vec::new();
        self.handle_into(msg, at, &mut out);
        out
    }

    /// [`handle`](Self::handle), appending to a caller-owned vector (no
    /// allocation for events that give no effect).
    pub fn handle_into(&mut self, msg: &Message, at: DateTime<Utc>, out: &mut Vec<Effect>) {
        self.dispatch(msg, at, out);
    }

    /// Feeds a stream marker: events may have been lost, so every live call
    /// is listed in one [`Effect::NeedsReconciliation`] (none if no call is
    /// live). The caller should check them with the PBX (`CoreShowChannels`,
    /// `Status` — whose events can be fed back through
    /// [`handle`](Self::handle)) and close the ones that are gone with
    /// [`close_call`](Self::close_call).
    pub fn handle_marker(&mut self, marker: Marker, at: DateTime<Utc>) -> Vec<Effect> {
        let _ = at;
        let unique_ids: Vec<String> = self
            .live_calls()
            .into_iter()
            .map(|c| c.unique_id.clone())
            .collect();
        match marker {
            Marker::Lagged { missed } => {
                tracing::warn!(
                    missed,
                    live = unique_ids.len(),
                    "AMI events lost; reconciling"
                )
            }
            Marker::Reconnected => {
                tracing::info!(live = unique_ids.len(), "AMI reconnected; reconciling")
            }
        }
        if unique_ids.is_empty() {
            Vec::new()
        } else {
            vec![Effect::NeedsReconciliation { unique_ids }]
        }
    }

    /// Announces an Originate the connector sent with `ChannelId:
    /// channel_id` to call `number` (click-to-call). When that channel
    /// appears, its call is reported at once (outbound, ringing, with this
    /// number) instead of when the agent picks up and the dialplan reveals
    /// the number. Without it the tracker finds the number itself
    /// (OriginateResponse, dialplan, Dial of the trunk). At most
    /// [`MAX_EXPECTED_ORIGINATES`] announcements wait; the oldest go first.
    pub fn expect_originate(&mut self, channel_id: &str, number: &str) {
        if channel_id.is_empty() || self.expected_originates.contains_key(channel_id) {
            return;
        }
        while self.expected_order.len() >= MAX_EXPECTED_ORIGINATES {
            if let Some(old) = self.expected_order.pop_front() {
                self.expected_originates.remove(&old);
            }
        }
        self.expected_originates
            .insert(channel_id.into(), normalize_number(number));
        self.expected_order.push_back(channel_id.into());
    }

    /// Takes the announcement for `channel_id`, if any.
    pub(crate) fn take_expected_originate(&mut self, channel_id: &str) -> Option<String> {
        if self.expected_originates.is_empty() {
            return None;
        }
        let number = self.expected_originates.remove(channel_id)?;
        self.expected_order.retain(|c| &**c != channel_id);
        Some(number)
    }

    /// The calls in progress that have been reported (`CallStarted`), oldest
    /// first.
    pub fn live_calls(&self) -> Vec<&Call> {
        let mut live: Vec<&LiveCall> = self
            .calls
            .values()
            .map(|c| &**c)
            .filter(|c| c.started)
            .collect();
        live.sort_by_key(|c| c.seq);
        live.into_iter().map(|c| &c.call).collect()
    }

    /// One reported live call by its Linkedid.
    pub fn live_call(&self, unique_id: &str) -> Option<&Call> {
        self.calls
            .get(unique_id)
            .filter(|c| c.started)
            .map(|c| &c.call)
    }

    /// Ends a live call the PBX no longer has (found by reconciliation):
    /// `completed` if it was answered, else as its events so far say, with
    /// `reconciled` set. Returns its `CallEnded` (preceded by `CallStarted`
    /// if it had not been reported), or nothing if the call is not live.
    pub fn close_call(&mut self, unique_id: &str, at: DateTime<Utc>) -> Vec<Effect> {
        let mut out = Vec::new();
        self.end_call(unique_id, at, None, true, &mut out);
        out
    }

    /// How many calls are live (as [`live_calls`](Self::live_calls), without
    /// collecting them).
    pub fn live_count(&self) -> usize {
        self.calls.values().filter(|c| c.started).count()
    }

    /// Flags a live call as known only through reconciliation (joined from
    /// the PBX's channel list, its start unseen): its record says so from
    /// now on. False if the call is not live.
    pub fn mark_reconciled(&mut self, unique_id: &str) -> bool {
        match self.calls.get_mut(unique_id) {
            Some(lc) => {
                lc.call.reconciled = true;
                true
            }
            None => false,
        }
    }

    /// Ends every live call, oldest first: completed if answered, else
    /// failed (the PBX went away).
    fn end_all(&mut self, at: DateTime<Utc>, reconciled: bool, out: &mut Vec<Effect>) {
        let mut ids: Vec<(u64, Box<str>)> =
            self.calls.iter().map(|(k, c)| (c.seq, k.clone())).collect();
        ids.sort();
        for (_, id) in ids {
            let status = match self.calls.get(&id) {
                Some(c) if c.is_answered() => CallStatus::Completed,
                Some(_) => CallStatus::Failed,
                None => continue,
            };
            let at = self
                .calls
                .get(&id)
                .map_or(at, |c| at.max(c.call.started_at));
            self.end_call(&id, at, Some(status), reconciled, out);
        }
        self.channels.clear();
        self.undecided = 0;
    }

    /// Removes a call and reports its end.
    fn end_call(
        &mut self,
        linkedid: &str,
        at: DateTime<Utc>,
        status: Option<CallStatus>,
        reconciled: bool,
        out: &mut Vec<Effect>,
    ) {
        let Some(mut lc) = self.calls.remove(linkedid) else {
            return;
        };
        for ch in &lc.channels {
            self.channels.remove(ch);
        }
        self.recent.insert(linkedid.into());
        if !lc.started {
            self.undecided = self.undecided.saturating_sub(1);
        }
        if !lc.decided {
            if lc.originated {
                lc.decide(
                    crate::model::Direction::Outbound,
                    "an Originate that never dialled anyone".to_owned(),
                );
            } else {
                tracing::debug!(linkedid, "internal call ended; not reported");
                return;
            }
        }
        let status = status.unwrap_or_else(|| lc.final_status());
        if !lc.started {
            out.push(Effect::CallStarted(lc.call.clone()));
        }
        lc.finish(status, at);
        lc.call.reconciled |= reconciled;
        tracing::debug!(linkedid, status = status.as_str(), "call ended");
        out.push(Effect::CallEnded(lc.call));
    }
}
