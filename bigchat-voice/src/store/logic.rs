//! The pure rules of the store: number normalisation and the readable texts
//! (ticket `lastMessage`, call message body). No I/O here.

// The rules below are the backends'; the public ones also serve embedders.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use crate::model::{Call, CallStatus, Direction};

/// The contact number used when a call has no usable number (anonymous or
/// withheld caller ID): all such calls share one contact per company.
pub const ANONYMOUS_NUMBER: &str = "anonymous";

/// Normalises a phone number to BigChat's form: digits only, as BigChat
/// stores its contacts' numbers (`+`, spaces, dashes, dots and brackets are
/// dropped), so `+55 11 99999-0001`, `+5511999990001` and `5511999990001`
/// are one contact — the one BigChat's WhatsApp connection may already
/// have. A number without any digit (e.g. `anonymous`, `<unknown>`) becomes
/// [`ANONYMOUS_NUMBER`].
///
/// ```
/// use bigchat_voice::store::normalize_number;
/// assert_eq!(normalize_number("+55 11 99999-0001"), "5511999990001");
/// assert_eq!(normalize_number("5511999990001"), "5511999990001");
/// assert_eq!(normalize_number("Anonymous"), "anonymous");
/// ```
pub fn normalize_number(raw: &str) -> String {
    let n = crate::tracker::normalize_number(raw);
    let digits = n.trim_start_matches('+');
    if digits.is_empty() {
        ANONYMOUS_NUMBER.to_string()
    } else {
        fit_varchar(digits).to_string()
    }
}

/// The two spellings a stored contact number may have for the same phone:
/// digits only (BigChat's, and what the connector writes) and with a
/// leading `+` (typed by hand into BigChat, or written by connector
/// versions before 0.2). Both are looked up; the digits-only one is
/// `normalized` itself.
pub(crate) fn number_spellings(normalized: &str) -> (String, String) {
    let digits = normalized.trim_start_matches('+');
    if digits == ANONYMOUS_NUMBER {
        return (digits.to_string(), digits.to_string());
    }
    (digits.to_string(), format!("+{digits}"))
}

/// The longest a BigChat `VARCHAR(255)` column holds, in characters.
const VARCHAR_MAX: usize = 255;

/// `text` cut to what a BigChat `VARCHAR(255)` column holds.
pub(crate) fn fit_varchar(text: &str) -> &str {
    match text.char_indices().nth(VARCHAR_MAX) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The `Messages.id` of a call's message: BigChat's message ids are the
/// channel's own (WhatsApp's); a call's is made of its PBX and its
/// Linkedid, so storing the message again finds the same row.
///
/// ```
/// assert_eq!(bigchat_voice::store::call_message_id(3, "1732443200.17"), "asterisk-3-1732443200.17");
/// ```
pub fn call_message_id(asterisk_id: i64, unique_id: &str) -> String {
    format!("asterisk-{asterisk_id}-{unique_id}")
}

/// The call message's `mediaType`. BigChat's message list plays `audio`
/// messages that have a `mediaUrl` (and shows the body of one without),
/// and shows a `call_log` message as a missed call at its time, as it
/// does for a missed WhatsApp call: an inbound call nobody answered is a
/// `call_log`, every other call an `audio`.
pub fn call_media_type(call: &Call) -> &'static str {
    if is_missed_inbound(call) {
        "call_log"
    } else {
        "audio"
    }
}

/// The message's `mediaUrl` for a recording: BigChat's Message model
/// prefixes a stored `mediaUrl` with `BACKEND_URL/public/`, so only a
/// relative `recordingUrl` (the default `recordings/…` layout, served from
/// the backend's `public/recordings`) can be one. An absolute URL (a media
/// server of its own) stays in `CallRecords.recordingUrl` only, as does a
/// path too long for BigChat's `VARCHAR(255)`.
pub(crate) fn media_url(recording_url: Option<&str>) -> Option<&str> {
    let url = recording_url?.trim_start_matches('/');
    let absolute = url.contains("://") || url.starts_with("data:");
    (!absolute && !url.is_empty() && url.chars().count() <= VARCHAR_MAX).then_some(url)
}

/// The name of a server's voice connection (`Whatsapps.name`, unique
/// across BigChat's companies): `NAME (voice)`, or `NAME (voice #ID)`.
pub(crate) fn voice_connection_name(server: &str, unique_by: Option<i64>) -> String {
    let name = match unique_by {
        None => format!("{server} (voice)"),
        Some(id) => format!("{server} (voice #{id})"),
    };
    fit_varchar(&name).to_string()
}

/// `m:ss`, or `h:mm:ss` from one hour on.
pub fn format_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Ticket `lastMessage` when a call starts.
pub(crate) fn start_last_message(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "Incoming call",
        Direction::Outbound => "Calling…",
        Direction::Internal => "Internal call",
    }
}

/// Ticket `lastMessage` for a live state change, if it deserves one.
pub(crate) fn live_last_message(call: &Call) -> Option<String> {
    match call.status {
        CallStatus::Answered => Some("Call answered".to_string()),
        CallStatus::OnHold => Some("Call on hold".to_string()),
        CallStatus::Transferred => Some(match &call.agent_extension {
            Some(ext) => format!("Call transferred to {ext}"),
            None => "Call transferred".to_string(),
        }),
        _ => None,
    }
}

/// Ticket `lastMessage` when a call ends.
pub(crate) fn end_last_message(call: &Call) -> String {
    match (call.status, call.direction) {
        (CallStatus::Completed, _) => format!("Call ended {}", format_duration(call.duration)),
        (CallStatus::NoAnswer, Direction::Inbound) => "Missed call".to_string(),
        (CallStatus::NoAnswer, Direction::Outbound | Direction::Internal) => {
            "No answer".to_string()
        }
        (CallStatus::Busy, Direction::Inbound) => "Missed call (busy)".to_string(),
        (CallStatus::Busy, Direction::Outbound | Direction::Internal) => "Busy".to_string(),
        (CallStatus::Failed, _) => "Call failed".to_string(),
        (CallStatus::Voicemail, _) => "Voicemail".to_string(),
        // A live status in CallEnded: store what we were told, say it ended.
        _ => "Call ended".to_string(),
    }
}

/// True for an inbound call that nobody answered (counts as an unread
/// message on the ticket).
pub(crate) fn is_missed_inbound(call: &Call) -> bool {
    call.direction == Direction::Inbound && call.answered_at.is_none()
}

/// One-line summary of an ended call: the body of its `Messages` row.
///
/// ```
/// # use bigchat_voice::store::call_summary;
/// # use bigchat_voice::model::*;
/// # let t = chrono::DateTime::UNIX_EPOCH;
/// let mut call = Call::ringing("1", Direction::Inbound, t);
/// call.status = CallStatus::Completed;
/// call.contact_number = "+5511999990001".into();
/// call.agent_extension = Some("1001".into());
/// call.duration = 192;
/// assert_eq!(call_summary(&call), "Inbound call from 5511999990001 answered by 1001, 3:12");
/// ```
pub fn call_summary(call: &Call) -> String {
    let number = normalize_number(&call.contact_number);
    let duration = format_duration(call.duration);
    let by = |prefix: &str| match &call.agent_extension {
        Some(ext) => format!("{prefix} {ext}"),
        None => String::new(),
    };
    match call.direction {
        Direction::Inbound => match call.status {
            CallStatus::Completed => {
                let agent = by(" by");
                format!("Inbound call from {number} answered{agent}, {duration}")
            }
            CallStatus::NoAnswer => format!("Missed call from {number}"),
            CallStatus::Busy => format!("Missed call from {number} (busy)"),
            CallStatus::Failed => format!("Failed call from {number}"),
            CallStatus::Voicemail => format!("Call from {number} went to voicemail, {duration}"),
            _ => format!("Inbound call from {number} ended, {duration}"),
        },
        Direction::Outbound => {
            let agent = by(" by");
            let result = match call.status {
                CallStatus::Completed => format!("answered, {duration}"),
                CallStatus::NoAnswer => "not answered".to_string(),
                CallStatus::Busy => "busy".to_string(),
                CallStatus::Failed => "failed".to_string(),
                CallStatus::Voicemail => format!("voicemail, {duration}"),
                _ => format!("ended, {duration}"),
            };
            format!("Outbound call to {number}{agent}, {result}")
        }
        Direction::Internal => {
            let from = &call.caller_id;
            let to = &call.called_number;
            let result = match call.status {
                CallStatus::Completed => format!("answered, {duration}"),
                CallStatus::NoAnswer => "not answered".to_string(),
                CallStatus::Busy => "busy".to_string(),
                CallStatus::Failed => "failed".to_string(),
                CallStatus::Voicemail => format!("voicemail, {duration}"),
                _ => format!("ended, {duration}"),
            };
            format!("Internal call from {from} to {to}, {result}")
        }
    }
}

/// When the stored record was answered but the incoming call says nothing
/// of it (an effect from a tracker that joined the call late), the call
/// with the stored answer kept: answer time, agent, user and recording are
/// filled in, a final "not answered" status becomes `completed`, a
/// `ringing` one `answered`, and talk time is recomputed. `None` when
/// there is nothing to keep.
pub(crate) fn keep_answer(
    old: &crate::store::CallRecordRow,
    call: &crate::model::Call,
) -> Option<crate::model::Call> {
    use crate::model::CallStatus;
    let answered_at = old.answered_at?;
    if call.answered_at.is_some() {
        return None;
    }
    let mut c = call.clone();
    c.answered_at = Some(answered_at);
    if c.agent_extension.is_none() {
        c.agent_extension = old.agent_extension.clone();
    }
    if c.user_id.is_none() {
        c.user_id = old.user_id;
    }
    if c.recording_url.is_none() {
        c.recording_url = old.recording_url.clone();
    }
    if c.recording_file.is_none() {
        c.recording_file = old.recording_file.clone();
    }
    c.status = match c.status {
        CallStatus::Ringing => CallStatus::Answered,
        CallStatus::NoAnswer | CallStatus::Busy | CallStatus::Failed => CallStatus::Completed,
        other => other,
    };
    if let Some(end) = c.ended_at {
        c.talk_time = ((end - answered_at).num_seconds() - c.hold_time).max(0);
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_numbers() {
        assert_eq!(normalize_number("+55 11 99999-0001"), "5511999990001");
        assert_eq!(normalize_number(" (11) 9.9999-0001"), "11999990001");
        assert_eq!(normalize_number("5511999990001"), "5511999990001");
        assert_eq!(normalize_number(""), ANONYMOUS_NUMBER);
        assert_eq!(normalize_number("+"), ANONYMOUS_NUMBER);
        assert_eq!(normalize_number("<unknown>"), ANONYMOUS_NUMBER);
        assert_eq!(
            number_spellings("5511999990001"),
            ("5511999990001".to_string(), "+5511999990001".to_string())
        );
        assert_eq!(normalize_number(&"9".repeat(300)).len(), 255);
    }

    #[test]
    fn varchar_fit_counts_characters() {
        let name = "é".repeat(300);
        assert_eq!(fit_varchar(&name).chars().count(), 255);
        assert_eq!(fit_varchar("Maria"), "Maria");
    }

    #[test]
    fn only_relative_recordings_become_media_urls() {
        assert_eq!(
            media_url(Some("recordings/company-1/2026/11/1.wav")),
            Some("recordings/company-1/2026/11/1.wav")
        );
        assert_eq!(
            media_url(Some("/recordings/1.wav")),
            Some("recordings/1.wav")
        );
        assert_eq!(media_url(Some("https://media.example.com/rec/1.wav")), None);
        assert_eq!(media_url(Some(&format!("r/{}", "x".repeat(300)))), None);
        assert_eq!(media_url(None), None);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(0), "0:00");
        assert_eq!(format_duration(192), "3:12");
        assert_eq!(format_duration(3723), "1:02:03");
        assert_eq!(format_duration(-5), "0:00");
    }
}
