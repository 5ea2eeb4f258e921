//! What each AMI event does to the calls.

use ami_proto::{ChannelBlock, Event, Message};
use chrono::{DateTime, Utc};

use crate::model::{CallStatus, Direction, Effect};

use super::channel::{extension_of, extension_of_name, text};
use super::number::{is_feature_code, normalize_bytes};
use super::registry::Create;
use super::{Tracker, event_time};

pub(crate) const MIXMONITOR_FILENAME: &str = "MIXMONITOR_FILENAME";

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
                let voicemail = e
                    .application()
                    .is_some_and(|a| a.eq_ignore_case("VoiceMail"));
                self.on_newexten(&e.channel(), voicemail, msg, arrival, out);
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
                if let Some(uid) = text(e.channel().uniqueid())
                    && let Some(ch) = self.channels.get_mut(uid)
                {
                    ch.bridge = None;
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
                if let Some(lid) = self.touch(&e.channel(), at, Create::Join(None), out)
                    && let (Some(lc), Some(q)) = (self.calls.get_mut(lid), text(e.queue()))
                {
                    lc.call.queue = Some(q.to_owned());
                }
            }
            Event::QueueCallerAbandon(e) => {
                let at = event_time(msg, arrival);
                if let Some(lid) = self.touch(&e.channel(), at, Create::No, out)
                    && let Some(lc) = self.calls.get_mut(lid)
                {
                    lc.note_outcome(CallStatus::NoAnswer);
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
                let block = e.channel();
                self.touch(&block, at, Create::Join(e.duration_secs()), out);
                // Two channels of the call in one bridge: it was answered
                // while we were away (the answer time is not known: now).
                if let Some(bridge) = e
                    .bridge_id()
                    .and_then(|b| b.as_str())
                    .filter(|b| !b.is_empty())
                {
                    self.on_bridge_enter(&block, bridge, false, at, out);
                }
            }
            Event::Status(e) => {
                let at = event_time(msg, arrival);
                let age = e.seconds().and_then(|s| s.parse::<u64>());
                let block = e.channel();
                self.touch(&block, at, Create::Join(age), out);
                if let Some(bridge) = e
                    .bridge_id()
                    .and_then(|b| b.as_str())
                    .filter(|b| !b.is_empty())
                {
                    self.on_bridge_enter(&block, bridge, false, at, out);
                }
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
        if let Some(uid) = text(block.uniqueid())
            && let Some(ch) = self.channels.get(uid)
            && block.linkedid().is_some_and(|l| l == *ch.linkedid)
        {
            return;
        }
        let at = event_time(msg, arrival);
        self.touch(block, at, Create::Join(None), out);
    }

    pub(crate) fn on_recording(
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
        msg: &Message,
        arrival: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        if !voicemail && self.undecided == 0 {
            // Dialplan steps only matter for VoiceMail and for calls whose
            // dialled number is not known yet.
            if let Some(uid) = text(block.uniqueid())
                && self.channels.contains_key(uid)
            {
                return;
            }
        }
        let at = event_time(msg, arrival);
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
            let raw = block.exten().map_or(&b""[..], |v| v.as_bytes());
            let exten = normalize_bytes(raw);
            if !exten.is_empty() && !self.cfg.is_internal_extension(&exten) && !is_feature_code(raw)
            {
                let reason = format!(
                    "{} reached {exten} in the dialplan, outside the numbering plan",
                    text(block.channel()).unwrap_or("?")
                );
                lc.call.called_number = exten;
                lc.decide(Direction::Outbound, reason);
                self.start_if_decided(lid, out);
            }
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
        self.hung_up.insert(uid.into());
        let lid = info.linkedid;
        let Some(lc) = self.calls.get_mut(&*lid) else {
            return;
        };
        lc.channels.retain(|c| &**c != uid);
        let unheld = info.on_hold && lc.unhold(at);
        if (info.external || lc.call.hangup_cause.is_none())
            && let Some(c) = cause
        {
            lc.call.hangup_cause = Some(c);
        }
        if lc.channels.is_empty() {
            self.end_call(&lid, at, None, false, out);
        } else if unheld {
            // The held party left; the others go on talking.
            self.updated(&lid, out);
        }
    }
}
