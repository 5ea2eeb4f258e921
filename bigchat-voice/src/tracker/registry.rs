//! Finding the call of a channel, and starting calls: from their first
//! channel, or from whatever event shows a call we joined mid-way.

use ami_proto::ChannelBlock;
use chrono::{DateTime, Duration, Utc};

use crate::model::{Direction, Effect};

use super::Tracker;
use super::call::LiveCall;
use super::channel::{ChannelInfo, text};
use super::number::{is_feature_code, normalize_bytes};

/// Whether an event may start a call the tracker does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// No: only follow known calls (hangups, recordings).
    No,
    /// `Newchannel`: a call starts now.
    New,
    /// Any other live-channel event: a call joined mid-way, possibly with
    /// its age in seconds (`Status`, `CoreShowChannel`).
    Join(Option<u64>),
}

/// When a channel `secs` old at `at` started; `None` for an absurd age.
fn age_start(at: DateTime<Utc>, secs: u64) -> Option<DateTime<Utc>> {
    i64::try_from(secs)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| at.checked_sub_signed(d))
}

impl Tracker {
    /// The Linkedid of the call the channel in `block` belongs to,
    /// registering the channel (and, as `create` allows, starting its
    /// call). `None` if the block has no ids, the call already ended, or
    /// it is unknown and may not be created.
    pub(crate) fn touch<'m>(
        &mut self,
        block: &ChannelBlock<'m>,
        at: DateTime<Utc>,
        create: Create,
        out: &mut Vec<Effect>,
    ) -> Option<&'m str> {
        let uid = text(block.uniqueid())?;
        let lid = text(block.linkedid())?;
        if let Some(ch) = self.channels.get(uid) {
            if &*ch.linkedid == lid {
                return Some(lid);
            }
            // Bridged with an older call: the channel now belongs to it.
            let old: Box<str> = ch.linkedid.clone();
            self.detach_channel(&old, uid, at, out);
        }
        if self.hung_up.contains(uid) {
            // A late or repeated event about a channel that is gone.
            return None;
        }
        if let Some(lc) = self.calls.get_mut(lid) {
            let info = ChannelInfo::from_block(block, lid, &self.cfg);
            if uid == lid && lc.originator_name.is_none() {
                lc.originator_name = Some(info.name.clone());
            }
            // Joined mid-call: the oldest leg listed dates the call (the
            // PBX lists channels in no particular order).
            let older = match create {
                Create::Join(Some(secs)) if lc.joined => {
                    age_start(at, secs).filter(|t| *t < lc.call.started_at)
                }
                _ => None,
            };
            lc.channels.push(uid.into());
            self.channels.insert(uid.into(), Box::new(info));
            if let Some(t) = older {
                lc.call.started_at = t;
                if lc.started {
                    self.updated(lid, out);
                }
            }
            return Some(lid);
        }
        if create == Create::No || self.recent.contains(lid) {
            return None;
        }
        self.create_call(block, uid, lid, at, create, out);
        Some(lid)
    }

    /// Removes a channel from a call (it moved to another one); a call left
    /// without channels ends.
    fn detach_channel(
        &mut self,
        linkedid: &str,
        uid: &str,
        at: DateTime<Utc>,
        out: &mut Vec<Effect>,
    ) {
        self.channels.remove(uid);
        let Some(lc) = self.calls.get_mut(linkedid) else {
            return;
        };
        lc.channels.retain(|c| &**c != uid);
        if lc.channels.is_empty() {
            self.end_call(linkedid, at, None, false, out);
        }
    }

    fn create_call(
        &mut self,
        block: &ChannelBlock<'_>,
        uid: &str,
        lid: &str,
        at: DateTime<Utc>,
        create: Create,
        out: &mut Vec<Effect>,
    ) {
        self.evict_if_full(out);
        // A channel's age (Status, CoreShowChannel) dates the call back; an
        // absurd age is ignored rather than trusted.
        let started_at = match create {
            Create::Join(Some(secs)) => age_start(at, secs).unwrap_or(at),
            _ => at,
        };
        let mut lc = LiveCall::new(lid, started_at, self.next_seq);
        self.next_seq += 1;
        let announced = if uid == lid {
            self.take_expected_originate(uid)
        } else {
            None
        };
        let cfg = &self.cfg;
        let info = ChannelInfo::from_block(block, lid, cfg);
        lc.joined = create != Create::New || uid != lid;
        let cid_num = normalize_bytes(block.caller_id_num().map_or(&b""[..], |v| v.as_bytes()));
        let cid_name = text(block.caller_id_name()).map(str::to_owned);
        let exten = normalize_bytes(block.exten().map_or(&b""[..], |v| v.as_bytes()));
        if uid == lid {
            lc.originator_name = Some(info.name.clone());
            let inbound_ctx = text(block.context()).is_some_and(|c| cfg.is_inbound_context(c));
            if (info.external || inbound_ctx) && announced.is_none() {
                lc.call.caller_id = cid_num;
                lc.call.caller_name = cid_name;
                lc.call.called_number = exten;
                let reason = if info.external {
                    format!("first channel {} is a trunk: {}", info.name, info.why)
                } else {
                    format!(
                        "first channel {} entered a configured inbound context",
                        info.name
                    )
                };
                lc.decide(Direction::Inbound, reason);
            } else {
                let ext = info.extension.as_deref().map(str::to_owned);
                lc.call.caller_id = ext.clone().unwrap_or(cid_num);
                lc.call.caller_name = cid_name;
                lc.set_agent(ext, cfg);
                if let Some(number) = announced {
                    // Click-to-call announced by the connector.
                    lc.originated = true;
                    lc.call.called_number = number;
                    lc.decide(
                        Direction::Outbound,
                        "click-to-call placed by the connector".to_owned(),
                    );
                } else if !exten.is_empty()
                    && !cfg.is_internal_extension(&exten)
                    && !is_feature_code(block.exten().map_or(&b""[..], |v| v.as_bytes()))
                {
                    let reason = format!(
                        "first channel {} is a phone ({}) calling {exten}, outside the numbering plan",
                        info.name, info.why
                    );
                    lc.call.called_number = exten;
                    lc.decide(Direction::Outbound, reason);
                }
            }
        } else {
            // Joined through a later leg: its role tells the direction.
            let connected = normalize_bytes(
                block
                    .connected_line_num()
                    .map_or(&b""[..], |v| v.as_bytes()),
            );
            if info.external {
                // The customer leg of an outbound call.
                lc.call.called_number = if cid_num.is_empty() { exten } else { cid_num };
                if cfg.is_internal_extension(&connected) {
                    lc.set_agent(Some(connected.clone()), cfg);
                }
                lc.call.caller_id = connected;
                lc.decide(
                    Direction::Outbound,
                    format!(
                        "joined mid-call through {}, a trunk leg ({}) that is not the first",
                        info.name, info.why
                    ),
                );
            } else if !info.local && cfg.is_internal_extension(&connected) {
                // A phone's leg talking to another extension: an internal
                // call, reported (when it ends) only if asked for.
                lc.call.caller_id = connected;
                lc.call.called_number = info.extension.as_deref().unwrap_or(&exten).to_owned();
                if cfg.internal_calls {
                    lc.decide(
                        Direction::Internal,
                        format!(
                            "joined mid-call through {}, a phone ({}) talking to extension {}",
                            info.name, info.why, lc.call.caller_id
                        ),
                    );
                }
            } else {
                // An agent leg of an inbound call.
                lc.call.caller_id = connected;
                lc.call.caller_name = text(block.connected_line_name()).map(str::to_owned);
                lc.call.called_number = exten;
                lc.decide(
                    Direction::Inbound,
                    format!(
                        "joined mid-call through {}, a later leg that is no trunk ({})",
                        info.name, info.why
                    ),
                );
            }
            if block.channel_state() == Some(6) {
                let agent = if info.external {
                    None
                } else {
                    info.extension.as_deref().map(str::to_owned)
                };
                lc.answer(at, agent, cfg);
            }
        }
        if lc.joined {
            tracing::debug!(linkedid = lid, "joined a call already in progress");
        }
        lc.channels.push(uid.into());
        self.channels.insert(uid.into(), Box::new(info));
        // An internal call is reported when it ends (see `start_if_decided`).
        if lc.decided && lc.call.direction != Direction::Internal {
            lc.started = true;
            out.push(Effect::CallStarted(lc.call.clone()));
        } else {
            self.undecided += 1;
        }
        self.calls.insert(lid.into(), Box::new(lc));
    }

    /// Makes room for one more call: forgets the oldest when at the cap.
    fn evict_if_full(&mut self, out: &mut Vec<Effect>) {
        if self.calls.len() < self.cfg.max_live_calls.max(1) {
            return;
        }
        let Some(oldest) = self
            .calls
            .iter()
            .min_by_key(|(_, c)| c.seq)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        let Some(lc) = self.calls.remove(&oldest) else {
            return;
        };
        for ch in &lc.channels {
            self.channels.remove(ch);
        }
        if !lc.started {
            self.undecided = self.undecided.saturating_sub(1);
        }
        self.recent.insert(oldest.clone());
        tracing::warn!(
            linkedid = &*oldest,
            max = self.cfg.max_live_calls,
            "too many live calls; forgetting the oldest"
        );
        if lc.started {
            out.push(Effect::NeedsReconciliation {
                unique_ids: vec![oldest.into()],
            });
        }
    }

    /// Reports a call whose direction just became known.
    pub(crate) fn start_if_decided(&mut self, linkedid: &str, out: &mut Vec<Effect>) {
        let Some(lc) = self.calls.get_mut(linkedid) else {
            return;
        };
        // An internal call is reported when it ends: until then a trunk leg
        // may still make it outbound.
        if lc.decided && !lc.started && lc.call.direction != Direction::Internal {
            lc.started = true;
            self.undecided = self.undecided.saturating_sub(1);
            out.push(Effect::CallStarted(lc.call.clone()));
        }
    }

    /// Reports a change of a reported call.
    pub(crate) fn updated(&self, linkedid: &str, out: &mut Vec<Effect>) {
        if let Some(lc) = self.calls.get(linkedid)
            && lc.started
        {
            out.push(Effect::CallUpdated(lc.call.clone()));
        }
    }
}
