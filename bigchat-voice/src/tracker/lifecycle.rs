//! Transfers, Originate outcomes and PBX restarts.

use chrono::{DateTime, Duration, Utc};

use ami_proto::ChannelBlock;

use crate::model::{CallStatus, Direction, Effect};

use super::Tracker;
use super::channel::extension_of;
use super::registry::Create;

impl Tracker {
    pub(crate) fn on_transfer(
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

    pub(crate) fn on_originate_response(
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
                    None => {
                        // No channel ever existed (e.g. the agent's phone
                        // is not registered): only the record made when
                        // the call was placed can tell.
                        if let (false, Some(uid)) = (success, uid) {
                            self.take_expected_originate(uid);
                            out.push(Effect::OriginateFailed {
                                unique_id: uid.to_owned(),
                                at,
                            });
                        }
                        return;
                    }
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
            let reason = format!("an Originate from {channel} to {}", lc.call.called_number);
            lc.decide(Direction::Outbound, reason);
            self.start_if_decided(&lid, out);
        }
        let _ = at;
    }

    pub(crate) fn on_fully_booted(
        &mut self,
        uptime: u64,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        if let Some((last, last_at)) = self.last_uptime {
            let elapsed = u64::try_from((at - last_at).num_seconds()).unwrap_or(0);
            let expected = last.saturating_add(elapsed);
            if uptime.saturating_add(self.cfg.restart_uptime_slack_secs) < expected {
                tracing::warn!(uptime, expected, "Asterisk restarted; ending live calls");
                // The new process started `uptime` seconds ago: no channel of
                // the old one lived past that.
                let booted = i64::try_from(uptime)
                    .ok()
                    .and_then(Duration::try_seconds)
                    .and_then(|d| at.checked_sub_signed(d))
                    .unwrap_or(last_at);
                self.end_all(booted.max(last_at), true, out);
                out.push(Effect::PbxRestarted { at });
            }
        }
        self.last_uptime = Some((uptime, at));
    }
}
