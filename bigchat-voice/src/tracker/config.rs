//! What the tracker needs to know about the PBX: which channels are the
//! outside world, which numbers are agents, where recordings are served.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;

use super::pattern::ExtensionPattern;

/// Tracker configuration. Every field has a default, and the defaults need
/// no knowledge of the PBX: trunks and phones are told apart from what
/// every PBX shows (see the [rule](super#who-is-the-outside-party)), so
/// `TrackerConfig::default()` is a valid start for any Asterisk; the
/// fields below refine that rule.
///
/// Deserialises from any serde format (TOML in the CLI); unknown keys are
/// refused so a typo is an error, not a silent default.
///
/// ```
/// use bigchat_voice::tracker::TrackerConfig;
/// let cfg: TrackerConfig = serde_json::from_str(
///     r#"{"companyId": 7, "users": {"1001": 12}, "trunks": ["PJSIP/carrier"]}"#,
/// ).unwrap();
/// assert_eq!(cfg.company_id, 7);
/// assert_eq!(cfg.user_for("1001"), Some(12));
/// assert!(cfg.is_trunk_channel("PJSIP/carrier-0000002a"));
/// assert!(!cfg.is_trunk_channel("PJSIP/trunk-00000001"));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct TrackerConfig {
    /// BigChat company the calls belong to (used in the recording layout).
    /// Default `1`.
    pub company_id: i64,
    /// Trunk endpoints: a channel whose name is `<trunk>-<suffix>` (or
    /// `<trunk>/<suffix>`) talks to the outside world. When given, a
    /// channel the rule takes for a trunk without being listed here is
    /// logged as an unknown trunk. Default empty.
    pub trunks: Vec<String>,
    /// Dialplan contexts where calls from outside arrive. The first
    /// channel of a call that starts in one of them makes the call inbound.
    /// Default empty (the well-known names — `from-trunk`, `from-pstn`,
    /// `from-external`, … — are known without it).
    pub inbound_contexts: Vec<String>,
    /// Dialplan contexts where phones place their calls: a channel in one
    /// of them is a phone, whatever its caller number. Default empty
    /// (`from-internal`, `internal`, `phones`, … are known without it).
    pub internal_contexts: Vec<String>,
    /// Record calls between internal extensions (`direction` `internal`,
    /// no contact and no ticket). Default `false`: they are not reported.
    pub internal_calls: bool,
    /// Shortest internal extension, in digits. Default `3`.
    pub extension_min_digits: usize,
    /// Longest internal extension, in digits. Default `5`. Numbers with
    /// between `extensionMinDigits` and `extensionMaxDigits` digits (and
    /// nothing else), and the keys of `users`, are internal extensions.
    pub extension_max_digits: usize,
    /// The internal extensions, as Asterisk patterns (`_1XX`), ranges
    /// (`100-199`) or single extensions (see [`ExtensionPattern`]). When
    /// given, they replace the digit-count rule of `extensionMinDigits` /
    /// `extensionMaxDigits`, so that queue numbers and feature codes of
    /// the same length are not taken for agents. Default empty.
    pub extensions: Vec<ExtensionPattern>,
    /// Extension → BigChat `userId`. Default empty (agents are then known
    /// by extension only).
    pub users: HashMap<String, i64>,
    /// PBX queue (its name in `queues.conf`) → BigChat queue (`Queues.id`):
    /// a call's ticket joins the BigChat queue of the PBX queue it went
    /// through, and `"*"` names the queue of calls that went through none.
    /// BigChat shows an agent only the tickets of the agent's queues. Not
    /// used by the tracker itself: the daemon writes it to the store's
    /// `AsteriskQueues` ([`Self::queue_mapping`]). Default empty.
    pub queues: HashMap<String, i64>,
    /// Where recordings are served from; see [`RecordingConfig`].
    pub recording: RecordingConfig,
    /// Most calls followed at once. When a new call would exceed it, the
    /// oldest live call is forgotten (with a warning and a
    /// `NeedsReconciliation` effect). Default `10000`.
    pub max_live_calls: usize,
    /// How many ended calls are remembered so that replayed events for
    /// them are ignored (idempotency after a reconnect). Default `4096`.
    pub remember_ended_calls: usize,
    /// Slack, in seconds, when comparing `FullyBooted` uptimes: a restart
    /// is detected when the new `Uptime` is lower than the previous one
    /// plus the time elapsed between the two, minus this. Default `10`.
    pub restart_uptime_slack_secs: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            company_id: 1,
            trunks: Vec::new(),
            inbound_contexts: Vec::new(),
            internal_contexts: Vec::new(),
            internal_calls: false,
            extension_min_digits: 3,
            extension_max_digits: 5,
            extensions: Vec::new(),
            users: HashMap::new(),
            queues: HashMap::new(),
            recording: RecordingConfig::default(),
            max_live_calls: 10_000,
            remember_ended_calls: 4096,
            restart_uptime_slack_secs: 10,
        }
    }
}

/// How a MixMonitor file becomes a `recordingUrl`.
///
/// `recordingUrl` = `baseUrl` + `layout` with its placeholders replaced,
/// each path segment percent-encoded (RFC 3986 unreserved characters kept):
///
/// | placeholder | value |
/// |---|---|
/// | `{companyId}` | [`TrackerConfig::company_id`] |
/// | `{yyyy}`, `{mm}`, `{dd}` | the call's `startedAt` (UTC) |
/// | `{file}` | `MIXMONITOR_FILENAME` relative to `spoolDir` when it lies under it, else its file name |
/// | `{name}` | the file name alone |
/// | `{uniqueId}` | the call's Linkedid |
///
/// With the defaults, `/var/spool/asterisk/monitor/1795515777.0.wav` of a
/// call started in November 2026 for company 1 becomes
/// `recordings/company-1/2026/11/1795515777.0.wav` — the design's layout,
/// relative to wherever BigChat serves its media. The connector never
/// moves files: the operator syncs the spool directory into that layout
/// (or sets `layout = "{file}"` and serves the spool directory as is).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordingConfig {
    /// Prefix of every URL (a `/` is added if missing). `None` gives no
    /// URL, only `recordingFile`. Default `Some("recordings/")`.
    pub base_url: Option<String>,
    /// Asterisk's monitor directory. Default `/var/spool/asterisk/monitor`.
    pub spool_dir: String,
    /// Path layout under `baseUrl`. Default
    /// `company-{companyId}/{yyyy}/{mm}/{file}`.
    pub layout: String,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            base_url: Some("recordings/".to_owned()),
            spool_dir: "/var/spool/asterisk/monitor".to_owned(),
            layout: "company-{companyId}/{yyyy}/{mm}/{file}".to_owned(),
        }
    }
}

impl TrackerConfig {
    /// True if `channel` (a channel name such as `PJSIP/trunk-0000000b`)
    /// belongs to a configured trunk.
    pub fn is_trunk_channel(&self, channel: &str) -> bool {
        self.trunks.iter().any(|t| {
            channel.len() > t.len()
                && channel.as_bytes()[..t.len()].eq_ignore_ascii_case(t.as_bytes())
                && matches!(channel.as_bytes()[t.len()], b'-' | b'/')
        })
    }

    /// True if `context` is a configured inbound context.
    pub fn is_inbound_context(&self, context: &str) -> bool {
        self.inbound_contexts.iter().any(|c| c == context)
    }

    /// True if `context` is a configured internal (phones') context.
    pub fn is_internal_context(&self, context: &str) -> bool {
        self.internal_contexts.iter().any(|c| c == context)
    }

    /// True if `number` is an internal extension: a key of `users`, or one
    /// of `extensions` when given, else only digits, as many as the
    /// configured bounds allow.
    pub fn is_internal_extension(&self, number: &str) -> bool {
        if self.users.contains_key(number) {
            return true;
        }
        if !self.extensions.is_empty() {
            return self.extensions.iter().any(|p| p.matches(number));
        }
        let n = number.len();
        n >= self.extension_min_digits
            && n <= self.extension_max_digits
            && number.bytes().all(|b| b.is_ascii_digit())
    }

    /// [`Self::queues`] as rows for
    /// [`Store::map_queues`](crate::store::Store::map_queues), sorted.
    pub fn queue_mapping(&self) -> Vec<(String, Option<i64>)> {
        sorted(&self.queues)
            .into_iter()
            .map(|(queue, id)| (queue, Some(id)))
            .collect()
    }

    /// [`Self::users`], sorted by extension.
    pub fn user_list(&self) -> Vec<(String, i64)> {
        sorted(&self.users)
    }

    /// [`Self::queues`], sorted by PBX queue.
    pub fn queue_list(&self) -> Vec<(String, i64)> {
        sorted(&self.queues)
    }

    /// The BigChat user of an agent extension.
    pub fn user_for(&self, extension: &str) -> Option<i64> {
        self.users.get(extension).copied()
    }

    /// The URL of a recording (see [`RecordingConfig`]), or `None` if no
    /// base URL is configured or the path is empty.
    pub fn recording_url(
        &self,
        file: &str,
        started_at: DateTime<Utc>,
        unique_id: &str,
    ) -> Option<String> {
        let base = self.recording.base_url.as_deref()?;
        if file.is_empty() {
            return None;
        }
        let name = file.rsplit('/').next().unwrap_or(file);
        let spool = self.recording.spool_dir.trim_end_matches('/');
        let relative = file
            .strip_prefix(spool)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !spool.is_empty() && !rest.is_empty())
            .unwrap_or(name);
        let path = self
            .recording
            .layout
            .replace("{companyId}", &self.company_id.to_string())
            .replace("{yyyy}", &format!("{:04}", started_at.year()))
            .replace("{mm}", &format!("{:02}", started_at.month()))
            .replace("{dd}", &format!("{:02}", started_at.day()))
            .replace("{uniqueId}", unique_id)
            .replace("{name}", name)
            .replace("{file}", relative);
        let mut url = String::with_capacity(base.len() + path.len() + 1);
        url.push_str(base);
        if !base.is_empty() && !base.ends_with('/') {
            url.push('/');
        }
        for (i, segment) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
            if i > 0 {
                url.push('/');
            }
            percent_encode_into(segment, &mut url);
        }
        Some(url)
    }
}

fn sorted(map: &HashMap<String, i64>) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
    rows.sort();
    rows
}

fn percent_encode_into(segment: &str, out: &mut String) {
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn defaults_know_no_pbx() {
        let c = TrackerConfig::default();
        assert!(!c.is_trunk_channel("PJSIP/trunk-0000000b"));
        assert!(!c.is_inbound_context("from-trunk"));
        let c: TrackerConfig = serde_json::from_str(r#"{"trunks": ["PJSIP/trunk"]}"#).unwrap();
        assert!(c.is_trunk_channel("PJSIP/trunk-0000000b"));
        assert!(c.is_trunk_channel("PJSIP/trunk/sip:x"));
        assert!(!c.is_trunk_channel("PJSIP/trunk"));
        assert!(!c.is_trunk_channel("PJSIP/trunkX-1"));
        assert!(!c.is_trunk_channel("PJSIP/agent1001-0000000a"));
        assert!(c.is_internal_extension("1001"));
        assert!(!c.is_internal_extension("+5511999990002"));
        assert!(!c.is_internal_extension("12"));
        assert!(!c.is_internal_extension("s"));
    }

    #[test]
    fn recording_url_layout() {
        let c = TrackerConfig::default();
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 10, 22, 57).unwrap();
        assert_eq!(
            c.recording_url("/var/spool/asterisk/monitor/1795515777.0.wav", t, "x")
                .unwrap(),
            "recordings/company-1/2026/11/1795515777.0.wav"
        );
        // Sub-directories under the spool directory are kept; odd bytes encoded.
        assert_eq!(
            c.recording_url("/var/spool/asterisk/monitor/q 1/a#b.wav", t, "x")
                .unwrap(),
            "recordings/company-1/2026/11/q%201/a%23b.wav"
        );
        // Outside the spool directory: the file name only.
        assert_eq!(
            c.recording_url("/tmp/rec/1.wav", t, "x").unwrap(),
            "recordings/company-1/2026/11/1.wav"
        );
        let mut c2 = c.clone();
        c2.recording.base_url = Some("https://media.example.com/rec".into());
        c2.recording.layout = "{uniqueId}/{name}".into();
        assert_eq!(
            c2.recording_url("/x/1.wav", t, "17.3").unwrap(),
            "https://media.example.com/rec/17.3/1.wav"
        );
        c2.recording.base_url = None;
        assert_eq!(c2.recording_url("/x/1.wav", t, "17.3"), None);
    }

    #[test]
    fn extension_patterns_replace_the_digit_count() {
        let c: TrackerConfig =
            serde_json::from_str(r#"{"extensions": ["_10XX", "2000-2049"], "users": {"7777": 3}}"#)
                .unwrap();
        for internal in ["1001", "1099", "2000", "2049", "7777"] {
            assert!(c.is_internal_extension(internal), "{internal}");
        }
        // The queue number and feature codes of the same length are not agents.
        for outside in ["4000", "1100", "2050", "*72", "5511999990001"] {
            assert!(!c.is_internal_extension(outside), "{outside}");
        }
        // Without patterns: the digit count, as before.
        assert!(TrackerConfig::default().is_internal_extension("4000"));
        let err = serde_json::from_str::<TrackerConfig>(r#"{"extensions": ["_1["]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("without `]`"), "{err}");
    }
}
