//! What the daemon benches share: recordings built from the captures, a
//! `listen --replay` run that reports the daemon's peak memory, and fresh
//! PostgreSQL schemas.

#![allow(dead_code)] // each bench uses a part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_bigchat-voice");

/// The daemon the benches run: this build's, or `BIGCHAT_VOICE_BIN`
/// (another build, e.g. a baseline's, measured in the same session).
pub fn bin() -> String {
    std::env::var("BIGCHAT_VOICE_BIN").unwrap_or_else(|_| BIN.into())
}

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

/// The call captures that have expected records: (body without its banner,
/// records it gives).
pub fn call_captures() -> Vec<(Vec<u8>, u64)> {
    let captures = testdata("captures");
    let expected = testdata("expected");
    let mut names: Vec<String> = std::fs::read_dir(&expected)
        .expect("testdata/expected")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(str::to_owned)
        })
        .filter(|n| captures.join(format!("{n}.server.ami")).exists())
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            let records: Vec<serde_json::Value> = serde_json::from_slice(
                &std::fs::read(expected.join(format!("{n}.json"))).expect("expected records"),
            )
            .expect("expected records are a JSON array");
            let data = std::fs::read(captures.join(format!("{n}.server.ami"))).expect("capture");
            (without_banner(&data).to_vec(), records.len() as u64)
        })
        .collect()
}

/// `data` after its first line (the banner).
pub fn without_banner(data: &[u8]) -> &[u8] {
    let start = data
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(0, |i| i + 2);
    &data[start..]
}

/// A recording of every call capture repeated `copies` times, copy `k`
/// numbered `first + k` (its own Uniqueids and Linkedids: every copy is a
/// distinct call). Returns (file, events, calls).
pub fn recording(dir: &Path, name: &str, first: usize, copies: usize) -> (PathBuf, u64, u64) {
    let bodies = call_captures();
    let calls_per_copy: u64 = bodies.iter().map(|(_, n)| n).sum();
    let mut out = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    for copy in first..first + copies {
        // Uniqueids look like 1795515777.0: give each copy its own prefix.
        let prefix = format!("{:06}", 100_000 + copy);
        for (body, _) in &bodies {
            let text = String::from_utf8_lossy(body).replace("179551", &prefix);
            out.extend_from_slice(text.as_bytes());
        }
    }
    let events = out
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"Event:"))
        .count() as u64;
    let path = dir.join(name);
    std::fs::write(&path, &out).expect("write recording");
    (path, events, calls_per_copy * copies as u64)
}

pub fn sqlite(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

/// The peak resident memory (VmHWM) of process `pid` so far, in KiB.
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let v = line.strip_prefix("VmHWM:")?;
        v.trim().trim_end_matches(" kB").trim().parse().ok()
    })
}

/// `listen --replay FILE --database-url DB EXTRA...` to its end; the
/// daemon's peak memory in KiB.
pub fn replay(file: &Path, db_url: &str, extra: &[&std::ffi::OsStr]) -> u64 {
    let mut child = Command::new(bin())
        .args(["-q", "listen", "--replay"])
        .arg(file)
        .arg("--database-url")
        .arg(db_url)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn bigchat-voice");
    let mut peak = 0u64;
    loop {
        peak = peak.max(peak_kib(child.id()).unwrap_or(0));
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "listen --replay failed");
            return peak;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Call records in the database, as `bigchat-voice calls` lists them.
pub fn stored_calls(db_url: &str) -> u64 {
    let out = Command::new(BIN)
        .args(["-q", "calls", "--json", "--limit", "4000000000"])
        .arg("--database-url")
        .arg(db_url)
        .output()
        .expect("run bigchat-voice calls");
    assert!(out.status.success(), "calls failed");
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
