//! Memory: peak RSS of `bigchat-voice listen --replay` (SQLite, journal
//! on) with 1 to 10,000 calls live at once.
//!
//! The load is one real capture (`testdata/captures/CAPTURE.server.ami`,
//! an inbound call answered by an agent and recorded) copied N times with
//! rewritten Uniqueids, Linkedids, channel names and bridge ids, so every
//! copy is a distinct call on distinct channels. Each copy is cut before its
//! first hang-up event (`HangupRequest`, `SoftHangupRequest`, `BridgeLeave`,
//! `Hangup`): the recording plays the first part of all N copies (every
//! call rings, is answered, bridged and recorded), then the rest of all N
//! (every call hangs up). So all N calls are up at once before any hangs
//! up; the bench checks it by running the same recording through the
//! tracker in-process and asserting that its live count reaches N.
//!
//! Prints one row per N: the daemon's peak RSS (VmHWM, read from
//! `/proc/PID/status` while it runs), its wall time, and the size of the
//! recording; the calls stored are checked against N.
//!
//! ```text
//! cargo bench -p bigchat-voice-cli --bench memory
//! cargo bench -p bigchat-voice-cli --bench memory -- 10000   # one row
//! ```
//!
//! `BIGCHAT_VOICE_MEMORY_CAPTURE` names another capture (default
//! `inbound-answered-recorded`); `BIGCHAT_VOICE_BIN` another daemon binary
//! to measure (a baseline build, say).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod support;

use bigchat_voice::replay::Replay;
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use support::bin;

const ROWS: [usize; 4] = [1, 100, 1_000, 10_000];
/// Events at which a copy is cut: the first of them starts the second part.
const HANGUP_EVENTS: [&str; 4] = [
    "HangupRequest",
    "SoftHangupRequest",
    "BridgeLeave",
    "Hangup",
];

/// The capture's messages after the banner, split into
/// (prelude: login reply and boot events, emitted once;
///  up: from the first `Newchannel` to before the first hang-up event;
///  down: the rest).
fn split_capture(name: &str) -> (String, String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/captures")
        .join(format!("{name}.server.ami"));
    let data = std::fs::read_to_string(&path).expect("capture");
    let body = &data[data.find("\r\n").map_or(0, |i| i + 2)..];
    let messages: Vec<&str> = body.split_inclusive("\r\n\r\n").collect();
    let event = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("Event: "))
            .map(str::to_owned)
    };
    let first_call = messages
        .iter()
        .position(|m| event(m).as_deref() == Some("Newchannel"))
        .expect("capture has a Newchannel");
    let first_down = messages
        .iter()
        .position(|m| event(m).is_some_and(|e| HANGUP_EVENTS.contains(&e.as_str())))
        .expect("capture has a hang-up event");
    (
        messages[..first_call].concat(),
        messages[first_call..first_down].concat(),
        messages[first_down..].concat(),
    )
}

/// Bridge ids (UUIDs) named in `text`.
fn bridge_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("BridgeUniqueid: "))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Copy `copy` of `part`: its own Uniqueids/Linkedids (the `179551`
/// prefix of the epoch part replaced by a 6-digit copy number), channel
/// names (the 8-hex-digit suffix carries the copy number) and bridge ids.
fn rewrite(part: &str, copy: usize, bridges: &[String]) -> String {
    let mut text = part
        .replace("179551", &format!("{:06}", 100_000 + copy))
        .replace("-0000000", &format!("-{copy:07x}"));
    for b in bridges {
        text = text.replace(b.as_str(), &format!("{copy:08x}{}", &b[8..]));
    }
    text
}

/// Writes the recording of `calls` simultaneous calls; returns its path.
fn recording(dir: &Path, capture: &str, calls: usize) -> PathBuf {
    let (prelude, up, down) = split_capture(capture);
    let bridges = bridge_ids(&format!("{up}{down}"));
    let path = dir.join(format!("live-{calls}.server.ami"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    use std::io::Write as _;
    out.write_all(b"Asterisk Call Manager/11.0.0\r\n")
        .and_then(|()| out.write_all(prelude.as_bytes()))
        .expect("write");
    for part in [&up, &down] {
        for copy in 0..calls {
            out.write_all(rewrite(part, copy, &bridges).as_bytes())
                .expect("write");
        }
    }
    out.flush().expect("flush");
    path
}

/// The most calls the tracker held live at once on `file`, and the calls
/// it ended.
fn tracked(file: &Path) -> (usize, usize) {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let (mut most, mut ended) = (0, 0);
    let now = chrono::Utc::now();
    for item in Replay::open(file).expect("open recording") {
        let (msg, at) = item.expect("recording reads back");
        for effect in tracker.handle(&msg, at.unwrap_or(now)) {
            if matches!(effect, bigchat_voice::model::Effect::CallEnded(_)) {
                ended += 1;
            }
        }
        most = most.max(tracker.live_count());
    }
    (most, ended)
}

/// Runs the daemon on `file`; returns its peak RSS in KiB.
fn peak_rss(file: &Path, db: &Path, journal: &Path) -> u64 {
    let db = support::sqlite(db);
    support::replay(file, &db, &["--journal-dir".as_ref(), journal.as_os_str()])
}

/// Call records in the database.
fn stored_calls(db: &Path) -> usize {
    let out = Command::new(bin())
        .args(["-q", "calls", "--json", "--limit", "4000000000"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .expect("run bigchat-voice calls");
    assert!(out.status.success(), "calls failed");
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

fn main() {
    let capture = std::env::var("BIGCHAT_VOICE_MEMORY_CAPTURE")
        .unwrap_or_else(|_| "inbound-answered-recorded".into());
    // `cargo bench` passes `--bench`; a bare number picks one row.
    let rows: Vec<usize> = {
        let picked: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if picked.is_empty() {
            ROWS.to_vec()
        } else {
            picked
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    eprintln!(
        "daemon {}, capture {capture}, SQLite, journal on; load: {}",
        bin(),
        load()
    );
    eprintln!("| live calls | peak RSS (VmHWM) | wall time | recording |");
    eprintln!("|---:|---:|---:|---:|");
    for calls in rows {
        let file = recording(dir.path(), &capture, calls);
        let (most, ended) = tracked(&file);
        assert_eq!(most, calls, "calls live at once in the recording");
        assert_eq!(ended, calls, "calls ended in the recording");
        let db = dir.path().join(format!("live-{calls}.db"));
        let journal = dir.path().join(format!("journal-{calls}"));
        let t = Instant::now();
        let peak = peak_rss(&file, &db, &journal);
        let wall = t.elapsed();
        assert_eq!(stored_calls(&db), calls, "calls stored");
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "| {calls} | {:.1} MiB | {:.2} s | {:.1} MB |",
            peak as f64 / 1024.0,
            wall.as_secs_f64(),
            size as f64 / 1e6
        );
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir_all(&journal);
    }
}

/// The machine's load average (1, 5, 15 min), for the record.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
