//! Dialling and bridging: who answered, and how unanswered calls end.

use ami_proto::{ChannelBlock, DialStatus};
use chrono::{DateTime, Utc};

use crate::model::{CallStatus, Direction, Effect};

use super::Tracker;
use super::channel::{extension_of, text};
use super::classify::{Role, Why, read_channel};
use super::events::MIXMONITOR_FILENAME;
use super::number::normalize_bytes;
use super::registry::Create;

impl Tracker {
    pub(crate) fn on_dial_begin(
        &mut self,
        caller: &ChannelBlock<'_>,
        dest: &ChannelBlock<'_>,
        dial_string: &str,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        if !caller.is_present() {
            // Originate: the dialled channel is the call's first channel.
            if let Some(lid) = self.touch(dest, at, Create::Join(None), out)
                && let Some(lc) = self.calls.get_mut(lid)
            {
                lc.originated = true;
            }
            return;
        }
        let Some(lid) = self.touch(caller, at, Create::Join(None), out) else {
            return;
        };
        self.touch(dest, at, Create::No, out);
        let (_, caller_local, _) = self.dest_facts(caller);
        let (dest_external, dest_local, dest_ext) = self.dest_facts(dest);
        let dest_why = self.why_of(dest);
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        let internal_target =
            lc.is_internal_target(caller_local, dest_external, dest_local, dest_ext.as_deref());
        if internal_target {
            // A click-to-call to another extension: that phone is the far
            // party, as the customer's leg is for a call to the outside.
            lc.customer_dialled = true;
            if !lc.decided || lc.call.called_number.is_empty() {
                let ext = dest_ext.unwrap_or_default();
                let reason = format!("click-to-call to extension {ext}");
                lc.call.called_number = ext;
                lc.decide(Direction::Outbound, reason);
                self.start_if_decided(lid, out);
            }
        } else if dest_external && lc.call.direction != Direction::Inbound {
            lc.customer_dialled = true;
            // An internal call not reported yet that reaches a trunk (a
            // ring group or follow-me with an outside number) is outbound.
            let was_internal = lc.call.direction == Direction::Internal && !lc.started;
            if !lc.decided || lc.call.called_number.is_empty() || was_internal {
                let mut number = normalize_bytes(dest.exten().map_or(&b""[..], |v| v.as_bytes()));
                if number.is_empty() {
                    number =
                        normalize_bytes(dial_string.split('@').next().unwrap_or("").as_bytes());
                }
                let reason = format!(
                    "{} dialled {number} on {}, a trunk ({})",
                    text(caller.channel()).unwrap_or("?"),
                    text(dest.channel()).unwrap_or("?"),
                    dest_why.map_or("not followed", Why::as_str),
                );
                lc.call.called_number = number;
                lc.decide(Direction::Outbound, reason);
                self.start_if_decided(lid, out);
            }
        } else if self.cfg.internal_calls
            && !lc.decided
            && !lc.originated
            && !dest_external
            && !dest_local
            && let Some(ext) = dest_ext
        {
            // A phone (or a Local leg of one) rings another phone.
            let reason = format!(
                "{} rang {}, extension {ext}, and no trunk is in the call",
                text(caller.channel()).unwrap_or("?"),
                text(dest.channel()).unwrap_or("?"),
            );
            lc.call.called_number = ext;
            lc.decide(Direction::Internal, reason);
            self.start_if_decided(lid, out);
        }
    }

    /// Why a channel of a Dial was read as it was (`None`: not followed).
    fn why_of(&self, block: &ChannelBlock<'_>) -> Option<Why> {
        text(block.uniqueid())
            .and_then(|u| self.channels.get(u))
            .map(|c| c.why)
    }

    /// What a channel of a Dial is: (to the outside, a Local channel, its
    /// extension).
    fn dest_facts(&self, dest: &ChannelBlock<'_>) -> (bool, bool, Option<String>) {
        match text(dest.uniqueid()).and_then(|u| self.channels.get(u)) {
            Some(c) => (
                c.external,
                c.local,
                c.extension.as_deref().map(str::to_owned),
            ),
            None => {
                // Not followed (its call is unknown): read it as any other.
                let name = text(dest.channel()).unwrap_or("");
                let number =
                    normalize_bytes(dest.caller_id_num().map_or(&b""[..], |v| v.as_bytes()));
                let context = text(dest.context()).unwrap_or("");
                let role = read_channel(name, &number, context, &self.cfg).role;
                (
                    role == Role::Trunk,
                    role == Role::Local,
                    extension_of(dest, &self.cfg),
                )
            }
        }
    }

    pub(crate) fn on_dial_end(
        &mut self,
        caller: &ChannelBlock<'_>,
        dest: &ChannelBlock<'_>,
        status: DialStatus<'_>,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        if !caller.is_present() {
            // The Originate's own leg (the agent's phone): answering it only
            // means the customer is being dialled next.
            let Some(lid) = self.touch(dest, at, Create::Join(None), out) else {
                return;
            };
            if let Some(lc) = self.calls.get_mut(lid) {
                lc.originated = true;
                if status != DialStatus::Answer && !lc.is_answered() {
                    lc.originate_failed = true;
                }
            }
            return;
        }
        let Some(lid) = self.touch(caller, at, Create::Join(None), out) else {
            return;
        };
        self.touch(dest, at, Create::No, out);
        let (_, caller_local, _) = self.dest_facts(caller);
        let (dest_external, dest_local, dest_ext) = self.dest_facts(dest);
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        let inbound = lc.decided && lc.call.direction == Direction::Inbound;
        // For outbound calls only the far party's leg tells the outcome:
        // the customer's (trunk), or the extension a click-to-call dialled.
        let internal_target =
            lc.is_internal_target(caller_local, dest_external, dest_local, dest_ext.as_deref());
        let internal = lc.decided
            && lc.call.direction == Direction::Internal
            && !dest_external
            && !dest_local
            && dest_ext.is_some();
        let customer_leg = inbound || dest_external || internal_target || internal;
        match status {
            DialStatus::Answer if !lc.is_answered() && customer_leg => {
                let agent = if inbound && !dest_external {
                    dest_ext
                } else {
                    None
                };
                if !lc.decided {
                    let reason = format!(
                        "{} answered a call from {}",
                        text(dest.channel()).unwrap_or("?"),
                        text(caller.channel()).unwrap_or("?"),
                    );
                    lc.decide(Direction::Outbound, reason);
                }
                self.answer_if_ringing(lid, agent, at, out);
            }
            // Already answered: a transfer target picked up.
            DialStatus::Answer
                if lc.is_answered()
                    && !dest_external
                    && !dest_local
                    && lc.set_agent(dest_ext, &self.cfg) =>
            {
                self.updated(lid, out);
            }
            DialStatus::Busy if customer_leg => lc.note_outcome(CallStatus::Busy),
            DialStatus::NoAnswer | DialStatus::Cancel if customer_leg => {
                lc.note_outcome(CallStatus::NoAnswer)
            }
            DialStatus::Congestion | DialStatus::ChanUnavail if customer_leg => {
                lc.note_outcome(CallStatus::Failed)
            }
            _ => {}
        }
    }

    /// Marks a ringing call answered (once) and reports it.
    pub(crate) fn answer_if_ringing(
        &mut self,
        lid: &str,
        agent: Option<String>,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        if lc.is_answered() {
            return;
        }
        lc.answer(at, agent, &self.cfg);
        if lc.decided && !lc.started {
            self.start_if_decided(lid, out);
        } else {
            self.updated(lid, out);
        }
    }

    pub(crate) fn on_bridge_enter(
        &mut self,
        block: &ChannelBlock<'_>,
        bridge: &str,
        holding: bool,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(lid) = self.touch(block, at, Create::Join(None), out) else {
            return;
        };
        if let Some(file) = text(block.chan_variable(MIXMONITOR_FILENAME)) {
            self.on_recording(block, file, at, out);
        }
        let uid = text(block.uniqueid()).unwrap_or("");
        if let Some(ch) = self.channels.get_mut(uid) {
            ch.bridge = Some(bridge.into());
        }
        let Some(lc) = self.calls.get(lid) else {
            return;
        };
        if holding || lc.is_answered() {
            return;
        }
        // Fallback answer: two channels of this call meet in a bridge, one
        // of them the customer's.
        let inbound = lc.call.direction == Direction::Inbound;
        let mut members = 0;
        let mut customer = false;
        let mut agent = None;
        for cid in &lc.channels {
            let Some(ch) = self.channels.get(cid) else {
                continue;
            };
            if ch.bridge.as_deref() != Some(bridge) {
                continue;
            }
            members += 1;
            let is_customer = if inbound {
                &**cid == lid || ch.external
            } else {
                ch.external && &**cid != lid
            };
            if is_customer {
                customer = true;
            } else if agent.is_none() && !ch.external && !ch.local {
                agent = ch.extension.as_deref().map(str::to_owned);
            }
        }
        if members >= 2 && (customer || lc.joined) {
            let agent = if inbound { agent } else { None };
            if !lc.decided
                && let Some(lc) = self.calls.get_mut(lid)
            {
                lc.decide(
                    Direction::Outbound,
                    format!("a trunk leg met the call's first channel in bridge {bridge}"),
                );
            }
            self.answer_if_ringing(lid, agent, at, out);
        }
    }
}
