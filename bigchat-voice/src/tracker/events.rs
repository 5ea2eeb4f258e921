//! What each AMI event does to the calls.

use ami_proto::{ChannelBlock, DialStatus, Event, Message};
use chrono::{DateTime, Duration, Utc};

use crate::model::{CallStatus, Direction, Effect};

use super::channel::{extension_of, extension_of_name, text};
use super::number::normalize_bytes;
use super::registry::Create;
use super::{Tracker, event_time};

const MIXMONITOR_FILENAME: &str = "MIXMONITOR_FILENAME";

impl Tracker {
    pub(crate) fn dispatch(
        &mut self,
        msg: &Message,
        arrival: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(ev) = Event::from_message(msg) else {
            return;
        };
        // Cheap filters first: most events (VarSet noise, device states,
        // RTCP, Cdr) end here without touching a map or allocating.
        match ev {
            Event::VarSet(e)
                if e.variable()
                    .is_some_and(|v| v.eq_ignore_case(MIXMONITOR_FILENAME)) =>
            {
                if let Some(file) = text(e.value()) {
                    let at = event_time(msg, arrival);
                    self.on_recording(&e.channel(), file, at, out);
                }
            }
            Event::Newchannel(e) => {
                let at = event_time(msg, arrival);
                self.touch(&e.channel(), at, Create::New, out);
            }
            Event::Newstate(e) => self.join(&e.channel(), msg, arrival, out),
            Event::NewConnectedLine(e) => self.join(&e.channel(), msg, arrival, out),
            Event::NewCallerid(e) => {
                let at = event_time(msg, arrival);
                self.on_new_callerid(&e.channel(), at, out);
            }
            Event::Newexten(e) => {
                let at = event_time(msg, arrival);
                let voicemail = e
                    .application()
                    .is_some_and(|a| a.eq_ignore_case("VoiceMail"));
                self.on_newexten(&e.channel(), voicemail, at, out);
            }
            Event::DialBegin(e) => {
                let at = event_time(msg, arrival);
                let dial_string = text(e.dial_string()).unwrap_or("");
                self.on_dial_begin(&e.channel(), &e.dest(), dial_string, at, out);
            }
            Event::DialEnd(e) => {
                let at = event_time(msg, arrival);
                if let Some(status) = e.dial_status() {
                    self.on_dial_end(&e.channel(), &e.dest(), status, at, out);
                }
            }
            Event::BridgeEnter(e) => {
                let at = event_time(msg, arrival);
                let bridge = e.bridge();
                let holding = bridge
                    .technology()
                    .is_some_and(|t| t.eq_ignore_case("holding_bridge"));
                if let Some(id) = text(bridge.uniqueid()) {
                    self.on_bridge_enter(&e.channel(), id, holding, at, out);
                }
            }
            Event::BridgeLeave(e) => {
                if let Some(uid) = text(e.channel().uniqueid()) {
                    if let Some(ch) = self.channels.get_mut(uid) {
                        ch.bridge = None;
                    }
                }
            }
            Event::Hold(e) => {
                let at = event_time(msg, arrival);
                self.on_hold(&e.channel(), true, at, out);
            }
            Event::Unhold(e) => {
                let at = event_time(msg, arrival);
                self.on_hold(&e.channel(), false, at, out);
            }
            Event::Hangup(e) => {
                let at = event_time(msg, arrival);
                self.on_hangup(&e.channel(), e.cause(), at, out);
            }
            Event::MixMonitorStart(e) => {
                let block = e.channel();
                if let Some(file) = text(block.chan_variable(MIXMONITOR_FILENAME)) {
                    let at = event_time(msg, arrival);
                    self.on_recording(&block, file, at, out);
                }
            }
            Event::BlindTransfer(e) if e.succeeded() => {
                let at = event_time(msg, arrival);
                self.on_transfer(&e.transferer(), &e.transferee(), None, at, out);
            }
            Event::AttendedTransfer(e) if e.succeeded() => {
                let at = event_time(msg, arrival);
                let target = e.transfer_target();
                self.on_transfer(
                    &e.orig_transferer(),
                    &e.transferee(),
                    Some(&target),
                    at,
                    out,
                );
            }
            Event::OriginateResponse(e) => {
                let at = event_time(msg, arrival);
                let uid = text(e.uniqueid());
                let channel = text(e.channel_name()).unwrap_or("");
                let exten = normalize_bytes(e.exten().map_or(&b""[..], |v| v.as_bytes()));
                self.on_originate_response(uid, channel, exten, e.succeeded(), at, out);
            }
            Event::QueueCallerJoin(e) => {
                let at = event_time(msg, arrival);
                if let Some(lid) = self.touch(&e.channel(), at, Create::Join(None), out) {
                    if let (Some(lc), Some(q)) = (self.calls.get_mut(lid), text(e.queue())) {
                        lc.call.queue = Some(q.to_owned());
                    }
                }
            }
            Event::QueueCallerAbandon(e) => {
                let at = event_time(msg, arrival);
                if let Some(lid) = self.touch(&e.channel(), at, Create::No, out) {
                    if let Some(lc) = self.calls.get_mut(lid) {
                        lc.note_outcome(CallStatus::NoAnswer);
                    }
                }
            }
            Event::AgentConnect(e) => {
                let at = event_time(msg, arrival);
                let dest = e.dest();
                let agent = extension_of(&dest, &self.cfg)
                    .or_else(|| text(e.interface()).and_then(|i| extension_of_name(i, &self.cfg)));
                if let Some(lid) = self.touch(&e.channel(), at, Create::Join(None), out) {
                    self.answer_if_ringing(lid, agent, at, out);
                }
            }
            Event::CoreShowChannel(e) => {
                let at = event_time(msg, arrival);
                self.touch(&e.channel(), at, Create::Join(e.duration_secs()), out);
            }
            Event::Status(e) => {
                let at = event_time(msg, arrival);
                let age = e.seconds().and_then(|s| s.parse::<u64>());
                self.touch(&e.channel(), at, Create::Join(age), out);
            }
            Event::FullyBooted(e) => {
                let at = event_time(msg, arrival);
                if let Some(uptime) = e.uptime() {
                    self.on_fully_booted(uptime, at, out);
                }
            }
            Event::Shutdown(_) => {
                let at = event_time(msg, arrival);
                tracing::warn!("Asterisk is shutting down; ending live calls");
                self.end_all(at, false, out);
                self.last_uptime = None;
                out.push(Effect::PbxRestarted { at });
            }
            _ => {}
        }
    }

    fn join(
        &mut self,
        block: &ChannelBlock<'_>,
        msg: &Message,
        arrival: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        // Known channels need no time: skip the Timestamp lookup.
        if let Some(uid) = text(block.uniqueid()) {
            if let Some(ch) = self.channels.get(uid) {
                if block.linkedid().is_some_and(|l| l == *ch.linkedid) {
                    return;
                }
            }
        }
        let at = event_time(msg, arrival);
        self.touch(block, at, Create::Join(None), out);
    }

    fn on_recording(
        &mut self,
        block: &ChannelBlock<'_>,
        file: &str,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(lid) = self.touch(block, at, Create::No, out) else {
            return;
        };
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        if lc.offer_recording(file.to_owned(), &self.cfg) {
            self.updated(lid, out);
        }
    }

    fn on_new_callerid(
        &mut self,
        block: &ChannelBlock<'_>,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(lid) = self.touch(block, at, Create::Join(None), out) else {
            return;
        };
        let uid = text(block.uniqueid()).unwrap_or("");
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        // The caller's own channel of an inbound call: keep its name (the
        // number only if it had none).
        if uid == lid && lc.call.direction == Direction::Inbound && lc.decided {
            if let Some(name) = text(block.caller_id_name()) {
                lc.call.caller_name = Some(name.to_owned());
            }
            if lc.call.caller_id.is_empty() {
                lc.call.caller_id =
                    normalize_bytes(block.caller_id_num().map_or(&b""[..], |v| v.as_bytes()));
            }
            lc.refresh_contact();
        }
    }

    fn on_newexten(
        &mut self,
        block: &ChannelBlock<'_>,
        voicemail: bool,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        if !voicemail && self.undecided == 0 {
            // Dialplan steps only matter for VoiceMail and for calls whose
            // dialled number is not known yet.
            if let Some(uid) = text(block.uniqueid()) {
                if self.channels.contains_key(uid) {
                    return;
                }
            }
        }
        let Some(lid) = self.touch(block, at, Create::Join(None), out) else {
            return;
        };
        let uid = text(block.uniqueid()).unwrap_or("");
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        if voicemail {
            lc.voicemail = true;
        }
        if !lc.decided && uid == lid {
            // The agent's (or originated) channel reached the number to dial.
            let exten = normalize_bytes(block.exten().map_or(&b""[..], |v| v.as_bytes()));
            if !exten.is_empty() && !self.cfg.is_internal_extension(&exten) {
                lc.call.called_number = exten;
                lc.decide(Direction::Outbound);
                self.start_if_decided(lid, out);
            }
        }
    }

    fn on_dial_begin(
        &mut self,
        caller: &ChannelBlock<'_>,
        dest: &ChannelBlock<'_>,
        dial_string: &str,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        if !caller.is_present() {
            // Originate: the dialled channel is the call's first channel.
            if let Some(lid) = self.touch(dest, at, Create::Join(None), out) {
                if let Some(lc) = self.calls.get_mut(lid) {
                    lc.originated = true;
                }
            }
            return;
        }
        let Some(lid) = self.touch(caller, at, Create::Join(None), out) else {
            return;
        };
        self.touch(dest, at, Create::No, out);
        let dest_external = text(dest.uniqueid())
            .and_then(|u| self.channels.get(u))
            .is_some_and(|c| c.external);
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        if dest_external && lc.call.direction == Direction::Outbound {
            lc.customer_dialled = true;
            if !lc.decided || lc.call.called_number.is_empty() {
                let mut number = normalize_bytes(dest.exten().map_or(&b""[..], |v| v.as_bytes()));
                if number.is_empty() {
                    number =
                        normalize_bytes(dial_string.split('@').next().unwrap_or("").as_bytes());
                }
                lc.call.called_number = number;
                lc.decide(Direction::Outbound);
                self.start_if_decided(lid, out);
            }
        }
    }

    fn on_dial_end(
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
        let (dest_external, dest_local, dest_ext) =
            match text(dest.uniqueid()).and_then(|u| self.channels.get(u)) {
                Some(c) => (
                    c.external,
                    c.local,
                    c.extension.as_deref().map(str::to_owned),
                ),
                None => {
                    let name = text(dest.channel()).unwrap_or("");
                    (
                        self.cfg.is_trunk_channel(name),
                        super::channel::is_local(name),
                        extension_of(dest, &self.cfg),
                    )
                }
            };
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        let inbound = lc.decided && lc.call.direction == Direction::Inbound;
        // For outbound calls only the customer's (trunk) leg tells the outcome.
        let customer_leg = inbound || dest_external;
        match status {
            DialStatus::Answer if !lc.is_answered() && customer_leg => {
                let agent = if inbound && !dest_external {
                    dest_ext
                } else {
                    None
                };
                if !lc.decided {
                    lc.decide(Direction::Outbound);
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

    fn on_bridge_enter(
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
            if !lc.decided {
                if let Some(lc) = self.calls.get_mut(lid) {
                    lc.decide(Direction::Outbound);
                }
            }
            self.answer_if_ringing(lid, agent, at, out);
        }
    }

    fn on_hold(
        &mut self,
        block: &ChannelBlock<'_>,
        hold: bool,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(lid) = self.touch(block, at, Create::Join(None), out) else {
            return;
        };
        let uid = text(block.uniqueid()).unwrap_or("");
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        let Some(ch) = self.channels.get_mut(uid) else {
            return;
        };
        // Unhold without Hold happens (blind transfer): ignored, as are
        // holds before the answer and repeats.
        let changed = if hold && !ch.on_hold && lc.is_answered() {
            ch.on_hold = true;
            lc.hold(at)
        } else if !hold && ch.on_hold {
            ch.on_hold = false;
            lc.unhold(at)
        } else {
            false
        };
        if changed {
            self.updated(lid, out);
        }
    }

    fn on_hangup(
        &mut self,
        block: &ChannelBlock<'_>,
        cause: Option<u16>,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let Some(uid) = text(block.uniqueid()) else {
            return;
        };
        if !self.channels.contains_key(uid) {
            return;
        }
        if let Some(file) = text(block.chan_variable(MIXMONITOR_FILENAME)) {
            self.on_recording(block, file, at, out);
        }
        let Some(info) = self.channels.remove(uid) else {
            return;
        };
        let lid = info.linkedid;
        let Some(lc) = self.calls.get_mut(&*lid) else {
            return;
        };
        lc.channels.retain(|c| &**c != uid);
        if info.on_hold {
            lc.unhold(at);
        }
        if info.external || lc.call.hangup_cause.is_none() {
            if let Some(c) = cause {
                lc.call.hangup_cause = Some(c);
            }
        }
        if lc.channels.is_empty() {
            self.end_call(&lid, at, None, false, out);
        }
    }

    fn on_transfer(
        &mut self,
        transferer: &ChannelBlock<'_>,
        transferee: &ChannelBlock<'_>,
        target: Option<&ChannelBlock<'_>>,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        let lid = match self.touch(transferer, at, Create::No, out) {
            Some(l) => l,
            None => match self.touch(transferee, at, Create::No, out) {
                Some(l) => l,
                None => return,
            },
        };
        let agent = target
            .filter(|t| t.is_present())
            .and_then(|t| extension_of(t, &self.cfg));
        let Some(lc) = self.calls.get_mut(lid) else {
            return;
        };
        if !lc.is_answered() {
            return;
        }
        if lc.call.status == crate::model::CallStatus::OnHold {
            lc.status_before_hold = CallStatus::Transferred;
        } else {
            lc.call.status = CallStatus::Transferred;
        }
        lc.set_agent(agent, &self.cfg);
        self.updated(lid, out);
    }

    fn on_originate_response(
        &mut self,
        uid: Option<&str>,
        channel: &str,
        exten: String,
        success: bool,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        // By Uniqueid (success, or an Originate with ChannelId); else the
        // oldest unanswered originated call on the requested endpoint.
        let by_uid = uid
            .and_then(|u| self.channels.get(u))
            .map(|c| c.linkedid.clone());
        let lid: Box<str> = match by_uid {
            Some(l) => l,
            None => {
                let prefix_ok = |name: &str| {
                    !channel.is_empty()
                        && name.len() > channel.len()
                        && name.as_bytes()[..channel.len()].eq_ignore_ascii_case(channel.as_bytes())
                        && name.as_bytes()[channel.len()] == b'-'
                };
                let found = self
                    .calls
                    .iter()
                    .filter(|&(_, c)| {
                        c.awaits_originate_response()
                            && c.originator_name.as_deref().is_some_and(prefix_ok)
                    })
                    .min_by_key(|&(_, c)| c.seq)
                    .map(|(k, _)| k.clone());
                match found {
                    Some(l) => l,
                    None => return,
                }
            }
        };
        let Some(lc) = self.calls.get_mut(&*lid) else {
            return;
        };
        lc.originated = true;
        lc.originate_responded = true;
        if !success && !lc.is_answered() {
            lc.originate_failed = true;
        }
        if lc.call.called_number.is_empty() && !exten.is_empty() {
            lc.call.called_number = exten;
            lc.refresh_contact();
        }
        if !lc.decided {
            lc.decide(Direction::Outbound);
            self.start_if_decided(&lid, out);
        }
        let _ = at;
    }

    fn on_fully_booted(&mut self, uptime: u64, at: DateTime<Utc>, out: &mut Vec<Effect>) {
        if let Some((last, last_at)) = self.last_uptime {
            let elapsed = u64::try_from((at - last_at).num_seconds()).unwrap_or(0);
            let expected = last.saturating_add(elapsed);
            if uptime.saturating_add(self.cfg.restart_uptime_slack_secs) < expected {
                tracing::warn!(uptime, expected, "Asterisk restarted; ending live calls");
                // The new process started `uptime` seconds ago: no channel of
                // the old one lived past that.
                let booted = at - Duration::seconds(i64::try_from(uptime).unwrap_or(0));
                self.end_all(booted.max(last_at), true, out);
                out.push(Effect::PbxRestarted { at });
            }
        }
        self.last_uptime = Some((uptime, at));
    }
}
