//! Transcript tests from differently built PBXs: AMI sessions modelled on
//! what a real Asterisk (13 to 22) sends for PBXs configured unlike ours
//! (FreePBX-like chan_sip with Local channels, transfers, pickups, call
//! forwarding; a PJSIP PBX with provider-named trunks), in
//! `testdata/transcripts/NN-name.ami`, each with the call records a
//! helpdesk user expects in `NN-name.expected.json`:
//!
//! * `untuned`: what the tracker must give with `TrackerConfig::default()`
//!   (no `[tracker]` section: internal calls are not recorded);
//!   The same is asked again with every well-known context name renamed
//!   (`from-pstn`, `from-trunk`, `from-external`, `from-internal`), so that
//!   only endpoints and numbers tell trunks from phones;
//! * `tunedCalls`: what it must give with the transcript's `tuned` config.
//!
//! Each expected call is a partial object of the `Call`'s JSON fields: only
//! the listed keys are compared (times as unix seconds, within 10 ms), and
//! the number of ended calls must match exactly. A failure lists every
//! mismatch of the transcript at once, naming the run, the call and the field.
//! The `.md` beside each transcript tells what happens in the call and which
//! sources its event sequence follows.

use std::path::PathBuf;

use ami_proto::Message;
use bigchat_voice::model::{Call, Effect};
use bigchat_voice::replay::Replay;
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use chrono::{DateTime, Utc};
use serde_json::Value;

fn transcripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/transcripts")
}

/// Every message of a transcript with its time: its own `Timestamp`, else
/// the previous message's time, else (the login response and the
/// `FullyBooted` Asterisk sends without one) the first time of the file.
fn load(name: &str) -> Vec<(Message, DateTime<Utc>)> {
    load_from(&transcripts_dir().join(format!("{name}.ami")), name)
}

/// Context names no rule knows, for the ones FreePBX and others share.
const RENAMED_CONTEXTS: &[(&str, &str)] = &[
    ("from-pstn", "carrier-in"),
    ("from-trunk", "carrier-in"),
    ("from-external", "did-in"),
    ("from-internal", "office"),
];

/// The transcript with every well-known context renamed: only endpoints
/// and numbers are left to tell trunks from phones.
fn load_renamed(name: &str) -> Vec<(Message, DateTime<Utc>)> {
    let mut text = std::fs::read(transcripts_dir().join(format!("{name}.ami")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    for (from, to) in RENAMED_CONTEXTS {
        text = replace_all(&text, from.as_bytes(), to.as_bytes());
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join(format!("{name}.ami"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    load_from(&path, name)
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn load_from(path: &std::path::Path, name: &str) -> Vec<(Message, DateTime<Utc>)> {
    let items: Vec<(Message, Option<DateTime<Utc>>)> = Replay::open(path)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let first = items
        .iter()
        .find_map(|(_, at)| *at)
        .unwrap_or_else(|| panic!("{name}: no event has a Timestamp"));
    let mut last = first;
    items
        .into_iter()
        .map(|(m, at)| {
            let at = at.unwrap_or(last);
            last = at;
            (m, at)
        })
        .collect()
}

fn ended_calls(cfg: TrackerConfig, items: &[(Message, DateTime<Utc>)]) -> Vec<Call> {
    let mut tracker = Tracker::new(cfg);
    let mut out = Vec::new();
    for (m, at) in items {
        tracker.handle_into(m, *at, &mut out);
    }
    out.into_iter()
        .filter_map(|e| match e {
            Effect::CallEnded(c) => Some(c),
            _ => None,
        })
        .collect()
}

const TIME_FIELDS: [&str; 3] = ["startedAt", "answeredAt", "endedAt"];

fn unix_seconds(v: &Value) -> Option<f64> {
    let s = v.as_str()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    Some(t.timestamp_micros() as f64 / 1e6)
}

/// Compares one call against its expected partial object.
fn compare(run: &str, want: &Value, got: &Call, mismatches: &mut Vec<String>) {
    let got_json = serde_json::to_value(got).expect("Call serializes");
    let id = want["uniqueId"].as_str().unwrap_or("?");
    let Some(fields) = want.as_object() else {
        mismatches.push(format!("{run}: expected call {want} is not an object"));
        return;
    };
    for (key, w) in fields {
        let g = got_json.get(key).unwrap_or(&Value::Null);
        let ok = if TIME_FIELDS.contains(&key.as_str()) {
            match (w, unix_seconds(g)) {
                (Value::Null, None) => g.is_null(),
                // `true`: present, whatever the time.
                (Value::Bool(true), Some(_)) => true,
                (Value::Number(n), Some(t)) => (n.as_f64().unwrap_or(f64::NAN) - t).abs() < 0.010,
                _ => false,
            }
        } else {
            w == g
        };
        if !ok {
            let shown = match unix_seconds(g) {
                Some(t) if TIME_FIELDS.contains(&key.as_str()) => format!("{g} (= {t:.6})"),
                _ => g.to_string(),
            };
            mismatches.push(format!("{run}: call {id}: {key} = {shown}, want {w}"));
        }
    }
}

fn check_run(run: &str, want: &[Value], got: &[Call], mismatches: &mut Vec<String>) {
    if got.len() != want.len() {
        let ids: Vec<String> = got
            .iter()
            .map(|c| {
                format!(
                    "{} ({} {})",
                    c.unique_id,
                    c.direction.as_str(),
                    c.status.as_str()
                )
            })
            .collect();
        mismatches.push(format!(
            "{run}: {} ended calls, want {}; got [{}]",
            got.len(),
            want.len(),
            ids.join(", ")
        ));
    }
    let mut used = vec![false; got.len()];
    for w in want {
        let id = w["uniqueId"].as_str().unwrap_or_default();
        match got
            .iter()
            .enumerate()
            .find(|(i, c)| !used[*i] && c.unique_id == id)
        {
            Some((i, c)) => {
                used[i] = true;
                compare(run, w, c, mismatches);
                // Every record says why it got its direction.
                let why = c.classification.as_deref().unwrap_or("");
                if !why.starts_with(&format!("{}: ", c.direction.as_str())) {
                    mismatches.push(format!("{run}: call {id}: classification {why:?}"));
                }
            }
            None => mismatches.push(format!("{run}: call {id} missing (no CallEnded)")),
        }
    }
    for (c, u) in got.iter().zip(&used) {
        if !u {
            mismatches.push(format!(
                "{run}: extra call {} ({} {}, caller {}, called {})",
                c.unique_id,
                c.direction.as_str(),
                c.status.as_str(),
                c.caller_id,
                c.called_number
            ));
        }
    }
}

/// All mismatches of one transcript, untuned and tuned.
fn mismatches(name: &str) -> Vec<String> {
    let path = transcripts_dir().join(format!("{name}.expected.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let items = load(name);
    let mut out = Vec::new();
    let list = |k: &str| -> Vec<Value> {
        expected[k]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: `{k}` is not a list"))
            .clone()
    };
    let untuned = ended_calls(TrackerConfig::default(), &items);
    check_run(
        &format!("{name} [untuned]"),
        &list("untuned"),
        &untuned,
        &mut out,
    );
    // The same with no context name to go by.
    let renamed = ended_calls(TrackerConfig::default(), &load_renamed(name));
    check_run(
        &format!("{name} [untuned, contexts renamed]"),
        &list("untuned"),
        &renamed,
        &mut out,
    );
    match serde_json::from_value::<TrackerConfig>(expected["tuned"].clone()) {
        Ok(cfg) => {
            let tuned = ended_calls(cfg, &items);
            check_run(
                &format!("{name} [tuned]"),
                &list("tunedCalls"),
                &tuned,
                &mut out,
            );
        }
        Err(e) => out.push(format!(
            "{name} [tuned]: the tuned config {} is refused: {e}",
            expected["tuned"]
        )),
    }
    out
}

fn check(name: &str) {
    let m = mismatches(name);
    assert!(
        m.is_empty(),
        "{} mismatch(es) in {name}:\n  {}",
        m.len(),
        m.join("\n  ")
    );
}

macro_rules! transcripts {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($name);
            }
        )*

        /// Every transcript in the directory has its expected records and
        /// its test here.
        #[test]
        fn every_transcript_is_tested() {
            let listed = [$($name),*];
            let mut found: Vec<String> = std::fs::read_dir(transcripts_dir())
                .expect("testdata/transcripts")
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name().to_str().and_then(|n| n.strip_suffix(".ami")).map(str::to_owned)
                })
                .collect();
            found.sort();
            for name in &found {
                assert!(listed.contains(&name.as_str()), "{name}.ami has no test");
                assert!(
                    transcripts_dir().join(format!("{name}.expected.json")).exists(),
                    "{name}.ami has no expected.json"
                );
                assert!(
                    transcripts_dir().join(format!("{name}.md")).exists(),
                    "{name}.ami has no .md"
                );
            }
            assert_eq!(found.len(), listed.len(), "listed transcripts missing: {listed:?}");
        }
    };
}

transcripts! {
    t01_chansip_inbound_answered => "01-chansip-inbound-answered",
    t02_chansip_ringgroup_local => "02-chansip-ringgroup-local",
    t03_chansip_outbound_phone => "03-chansip-outbound-phone",
    t04_chansip_click_to_dial_three_locals => "04-chansip-click-to-dial-three-locals",
    t05_chansip_click_to_call_internal => "05-chansip-click-to-call-internal",
    t06_chansip_attended_transfer => "06-chansip-attended-transfer",
    t07_chansip_blonde_transfer => "07-chansip-blonde-transfer",
    t08_chansip_directed_pickup => "08-chansip-directed-pickup",
    t09_chansip_group_pickup => "09-chansip-group-pickup",
    t10_chansip_call_forward_external => "10-chansip-call-forward-external",
    t11_chansip_internal_call => "11-chansip-internal-call",
    t12_pjsip_telnyx_inbound_answered => "12-pjsip-telnyx-inbound-answered",
    t13_pjsip_telnyx_inbound_no_answer => "13-pjsip-telnyx-inbound-no-answer",
}
