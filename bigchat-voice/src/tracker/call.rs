//! One call being followed: the BigChat record plus what the tracker needs
//! to finish it (its live channels, hold bookkeeping, the outcome so far).

use chrono::{DateTime, Utc};

use crate::model::{Call, CallStatus, Direction};

use super::config::TrackerConfig;

/// A live call.
#[derive(Debug, Clone)]
pub(crate) struct LiveCall {
    /// The record as it will be reported.
    pub(crate) call: Call,
    /// Creation order, for deterministic iteration and eviction.
    pub(crate) seq: u64,
    /// Direction and parties are known: the call is reported.
    pub(crate) decided: bool,
    /// `CallStarted` was emitted.
    pub(crate) started: bool,
    /// The first channel was created by an Originate (Dial* events without
    /// a caller block).
    pub(crate) originated: bool,
    /// An `OriginateResponse` was matched to this call.
    pub(crate) originate_responded: bool,
    /// The Originate failed (the agent leg never came up).
    pub(crate) originate_failed: bool,
    /// The customer leg of an outbound call was dialled.
    pub(crate) customer_dialled: bool,
    /// Name of the first channel (`Uniqueid == Linkedid`), when seen.
    pub(crate) originator_name: Option<Box<str>>,
    /// The call was first seen after it started (no `Newchannel` of its
    /// first channel).
    pub(crate) joined: bool,
    /// Uniqueids of the channels of this call that have not hung up.
    pub(crate) channels: Vec<Box<str>>,
    /// The final status the call gets if it is never answered, from what
    /// the dial attempts said so far.
    pub(crate) outcome: Option<CallStatus>,
    /// The call reached the VoiceMail application.
    pub(crate) voicemail: bool,
    /// Channels of this call on hold right now.
    pub(crate) held: u32,
    /// Since when the call is on hold (first channel put on hold).
    pub(crate) hold_since: Option<DateTime<Utc>>,
    /// Milliseconds spent on hold so far.
    pub(crate) hold_ms: i64,
    /// Status to go back to on unhold.
    pub(crate) status_before_hold: CallStatus,
    /// MixMonitor file learned before the call was answered.
    pub(crate) pending_recording: Option<String>,
}

impl LiveCall {
    pub(crate) fn new(unique_id: &str, started_at: DateTime<Utc>, seq: u64) -> LiveCall {
        LiveCall {
            call: Call::ringing(unique_id, Direction::Outbound, started_at),
            seq,
            decided: false,
            started: false,
            originated: false,
            originate_responded: false,
            originate_failed: false,
            customer_dialled: false,
            originator_name: None,
            joined: false,
            channels: Vec::with_capacity(4),
            outcome: None,
            voicemail: false,
            held: 0,
            hold_since: None,
            hold_ms: 0,
            status_before_hold: CallStatus::Answered,
            pending_recording: None,
        }
    }

    /// Could be the call an `OriginateResponse` without Uniqueid is about:
    /// not inbound, not answered, not matched yet.
    pub(crate) fn awaits_originate_response(&self) -> bool {
        let maybe_outbound = !self.decided || self.call.direction == Direction::Outbound;
        maybe_outbound && !self.originate_responded && !self.is_answered()
    }

    pub(crate) fn is_answered(&self) -> bool {
        self.call.answered_at.is_some()
    }

    /// Fixes the direction (for `reason`, kept in the record) and the
    /// parties; the contact follows from them.
    pub(crate) fn decide(&mut self, direction: Direction, reason: String) {
        self.decided = true;
        self.call.direction = direction;
        tracing::debug!(
            linkedid = self.call.unique_id,
            direction = direction.as_str(),
            reason,
            "call classified"
        );
        self.call.classification = Some(format!("{}: {reason}", direction.as_str()));
        self.refresh_contact();
    }

    /// Recomputes `contactNumber`/`contactName` from the parties.
    pub(crate) fn refresh_contact(&mut self) {
        match self.call.direction {
            Direction::Inbound => {
                self.call.contact_number = self.call.caller_id.clone();
                self.call.contact_name = self.call.caller_name.clone();
            }
            Direction::Outbound => {
                self.call.contact_number = self.call.called_number.clone();
            }
            Direction::Internal => {
                self.call.contact_number.clear();
                self.call.contact_name = None;
            }
        }
    }

    /// Sets the agent (and their user) from an extension.
    pub(crate) fn set_agent(&mut self, extension: Option<String>, cfg: &TrackerConfig) -> bool {
        let Some(ext) = extension else {
            return false;
        };
        if self.call.agent_extension.as_deref() == Some(ext.as_str()) {
            return false;
        }
        self.call.user_id = cfg.user_for(&ext);
        self.call.agent_extension = Some(ext);
        true
    }

    /// The parties were connected.
    pub(crate) fn answer(&mut self, at: DateTime<Utc>, agent: Option<String>, cfg: &TrackerConfig) {
        self.call.answered_at = Some(at.max(self.call.started_at));
        self.call.status = CallStatus::Answered;
        self.set_agent(agent, cfg);
        if let Some(file) = self.pending_recording.take() {
            self.set_recording(file, cfg);
        }
    }

    /// Attaches a recording. Recordings of unanswered calls are kept aside:
    /// with MixMonitor's `b` option they hold no audio.
    pub(crate) fn offer_recording(&mut self, file: String, cfg: &TrackerConfig) -> bool {
        if self.call.recording_file.is_some() || file.is_empty() {
            return false;
        }
        if self.is_answered() {
            self.set_recording(file, cfg);
            true
        } else {
            if self.pending_recording.is_none() {
                self.pending_recording = Some(file);
            }
            false
        }
    }

    fn set_recording(&mut self, file: String, cfg: &TrackerConfig) {
        self.call.recording_url =
            cfg.recording_url(&file, self.call.started_at, &self.call.unique_id);
        self.call.recording_file = Some(file);
    }

    /// A channel went on hold. Returns true if the call's state changed.
    pub(crate) fn hold(&mut self, at: DateTime<Utc>) -> bool {
        self.held += 1;
        if self.held == 1 {
            self.hold_since = Some(at);
            self.status_before_hold = self.call.status;
            self.call.status = CallStatus::OnHold;
            true
        } else {
            false
        }
    }

    /// A held channel came back (or hung up). Returns true if the call's
    /// state changed.
    pub(crate) fn unhold(&mut self, at: DateTime<Utc>) -> bool {
        if self.held == 0 {
            return false;
        }
        self.held -= 1;
        if self.held > 0 {
            return false;
        }
        if let Some(since) = self.hold_since.take() {
            self.hold_ms += (at - since).num_milliseconds().max(0);
        }
        self.call.hold_time = self.hold_ms / 1000;
        if self.call.status == CallStatus::OnHold {
            self.call.status = self.status_before_hold;
        }
        true
    }

    /// Records how an unanswered leg (or the caller) gave up.
    pub(crate) fn note_outcome(&mut self, status: CallStatus) {
        // A leg that rang until it was given up, or a caller who hung up
        // while legs rang, means nobody answered: that outweighs another
        // leg being busy or unreachable (a queue member on the phone does
        // not make an abandoned queue call "busy"), as Asterisk reports
        // BUSY only when no dialled phone rang. Between busy and failed,
        // the latest wins.
        if self.outcome == Some(CallStatus::NoAnswer) {
            return;
        }
        self.outcome = Some(status);
    }

    /// Whether a dialled leg is the far party of a click-to-call to another
    /// extension: the call was originated (the agent's phone rung first),
    /// the leg is a phone (not a trunk, not a Local channel) of an
    /// extension other than the agent's, dialled from a phone's own
    /// channel (not from a Local leg, as a ring group rings its phones),
    /// and it is the number asked for when that is known.
    pub(crate) fn is_internal_target(
        &self,
        caller_local: bool,
        dest_external: bool,
        dest_local: bool,
        dest_ext: Option<&str>,
    ) -> bool {
        let asked = &self.call.called_number;
        self.originated
            && !caller_local
            && !dest_external
            && !dest_local
            && self.call.direction == Direction::Outbound
            && dest_ext.is_some_and(|e| {
                Some(e) != self.call.agent_extension.as_deref() && (asked.is_empty() || asked == e)
            })
    }

    /// Final status if the call ended now by events.
    pub(crate) fn final_status(&self) -> CallStatus {
        if self.is_answered() {
            CallStatus::Completed
        } else if self.voicemail {
            CallStatus::Voicemail
        } else if self.originate_failed {
            CallStatus::Failed
        } else if let Some(s) = self.outcome {
            s
        } else if self.call.direction == Direction::Outbound
            && self.originated
            && !self.customer_dialled
        {
            CallStatus::Failed
        } else {
            CallStatus::NoAnswer
        }
    }

    /// Closes the record: status, end time, durations (whole seconds,
    /// truncated as Asterisk's CDR does).
    pub(crate) fn finish(&mut self, status: CallStatus, at: DateTime<Utc>) {
        let end = at.max(self.call.started_at);
        if self.held > 0 {
            self.held = 1;
            self.unhold(end);
        }
        self.call.status = status;
        self.call.ended_at = Some(end);
        self.call.duration = (end - self.call.started_at).num_milliseconds().max(0) / 1000;
        self.call.hold_time = self.hold_ms / 1000;
        self.call.talk_time = match self.call.answered_at {
            Some(ans) => ((end - ans).num_milliseconds() - self.hold_ms).max(0) / 1000,
            None => 0,
        };
    }
}
