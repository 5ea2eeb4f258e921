//! Shared helpers of the tracker tests: captures, replay, effect checks.
#![allow(dead_code)]

pub mod build;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ami_proto::Message;
use bigchat_voice::model::{Call, Effect};
use bigchat_voice::replay::Replay;
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use chrono::{DateTime, Utc};

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Names of the captures that have an expected JSON (the ones with calls).
pub fn captures_with_calls() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(testdata().join("expected"))
        .expect("testdata/expected")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// Every message of a capture with its time (timeline `at`, else the
/// Timestamp header, else the previous message's time).
pub fn load(name: &str) -> Vec<(Message, DateTime<Utc>)> {
    let path = testdata()
        .join("captures")
        .join(format!("{name}.server.ami"));
    let mut last: Option<DateTime<Utc>> = None;
    let mut out = Vec::new();
    for item in Replay::open(&path).expect("capture") {
        let (msg, at) = item.expect("capture read");
        let at = at.or(last);
        last = at;
        if let Some(at) = at {
            out.push((msg, at));
        }
    }
    out
}

/// Feeds messages to `tracker`, returning all effects in order.
pub fn feed(tracker: &mut Tracker, items: &[(Message, DateTime<Utc>)]) -> Vec<Effect> {
    let mut out = Vec::new();
    for (m, at) in items {
        tracker.handle_into(m, *at, &mut out);
    }
    out
}

pub fn run(name: &str) -> Vec<Effect> {
    let mut t = Tracker::new(TrackerConfig::default());
    feed(&mut t, &load(name))
}

/// The ended calls, by Linkedid.
pub fn ended(effects: &[Effect]) -> BTreeMap<String, Call> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallEnded(c) => Some((c.unique_id.clone(), c.clone())),
            _ => None,
        })
        .collect()
}

pub fn unique_id(e: &Effect) -> Option<&str> {
    match e {
        Effect::CallStarted(c) | Effect::CallUpdated(c) | Effect::CallEnded(c) => {
            Some(&c.unique_id)
        }
        _ => None,
    }
}

/// Per call: exactly one CallStarted first, updates while live, at most
/// one CallEnded, last, with a final status.
pub fn assert_well_formed(effects: &[Effect]) {
    // 1 = live, 2 = ended.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for e in effects {
        let Some(id) = unique_id(e) else { continue };
        let s = state.get(id).copied().unwrap_or(0);
        let next = match e {
            Effect::CallStarted(_) => {
                assert_eq!(s, 0, "second CallStarted for {id}");
                1
            }
            Effect::CallUpdated(_) => {
                assert_eq!(s, 1, "CallUpdated outside the life of {id}");
                1
            }
            Effect::CallEnded(c) => {
                assert_eq!(s, 1, "CallEnded outside the life of {id}");
                assert!(c.status.is_final(), "{id} ended as {:?}", c.status);
                2
            }
            _ => s,
        };
        state.insert(id, next);
    }
}

/// Reads a Master.csv (cdr_csv) file: quoted fields, `""` escapes.
pub fn read_cdr(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(testdata().join("captures").join(format!("{name}.cdr.csv")))
        .expect("cdr");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_csv_line)
        .collect()
}

fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// One CDR row, the columns the tests need.
#[derive(Debug, Clone)]
pub struct CdrRow {
    pub start: DateTime<Utc>,
    pub answer: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
    pub duration: i64,
    pub billsec: i64,
    pub disposition: String,
    pub linkedid: String,
}

pub fn cdr_rows(name: &str) -> Vec<CdrRow> {
    let t = |s: &str| {
        (!s.is_empty()).then(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .expect("cdr time")
                .and_utc()
        })
    };
    read_cdr(name)
        .into_iter()
        .map(|f| {
            assert_eq!(f.len(), 21, "{f:?}");
            CdrRow {
                start: t(&f[9]).expect("start"),
                answer: t(&f[10]),
                end: t(&f[11]).expect("end"),
                duration: f[12].parse().expect("duration"),
                billsec: f[13].parse().expect("billsec"),
                disposition: f[14].clone(),
                linkedid: f[19].clone(),
            }
        })
        .collect()
}
