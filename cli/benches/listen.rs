//! End to end: `bigchat-voice listen --replay` of a large recording into a
//! fresh SQLite file, as ops would run it. Reports events/s and calls/s and
//! prints the daemon's peak memory (VmHWM).
//!
//! The recording is every call capture of `testdata/captures` repeated
//! with rewritten Uniqueids/Linkedids, so every copy is a distinct call.
//!
//! ```text
//! cargo bench -p bigchat-voice-cli --bench listen
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const BIN: &str = env!("CARGO_BIN_EXE_bigchat-voice");
const COPIES: usize = 200;

/// Builds the recording; returns (file, events, calls).
fn recording(dir: &Path) -> (PathBuf, u64, u64) {
    let captures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures");
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/expected");
    let mut names: Vec<String> = std::fs::read_dir(&expected)
        .expect("testdata/expected")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(str::to_owned)
        })
        .filter(|n| captures.join(format!("{n}.server.ami")).exists())
        .collect();
    names.sort();
    let mut bodies = Vec::new();
    let mut calls_per_copy = 0u64;
    for n in &names {
        let records: Vec<serde_json::Value> = serde_json::from_slice(
            &std::fs::read(expected.join(format!("{n}.json"))).expect("expected records"),
        )
        .expect("expected records are a JSON array");
        calls_per_copy += records.len() as u64;
        let data = std::fs::read(captures.join(format!("{n}.server.ami"))).expect("capture");
        let start = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        bodies.push(data[start..].to_vec());
    }
    let mut out = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    for copy in 0..COPIES {
        // Uniqueids look like 1795515777.0: give each copy its own prefix.
        let prefix = format!("{:06}", 100_000 + copy);
        for body in &bodies {
            let text = String::from_utf8_lossy(body).replace("179551", &prefix);
            out.extend_from_slice(text.as_bytes());
        }
    }
    let events = out
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"Event:"))
        .count() as u64;
    let path = dir.join("large.server.ami");
    std::fs::write(&path, &out).expect("write recording");
    (path, events, calls_per_copy * COPIES as u64)
}

fn run(file: &Path, db: &Path) -> u64 {
    let mut child = Command::new(BIN)
        .args(["-q", "listen", "--replay"])
        .arg(file)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn bigchat-voice");
    let pid = child.id();
    let mut peak_kb = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for line in status.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    peak_kb =
                        peak_kb.max(v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
                }
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "listen --replay failed");
            return peak_kb;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Call records in the database, as `bigchat-voice calls` lists them.
fn stored_calls(db: &Path) -> u64 {
    let out = Command::new(BIN)
        .args(["-q", "calls", "--json", "--limit", "4000000000"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .expect("run bigchat-voice calls");
    assert!(out.status.success(), "calls failed");
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, events, calls) = recording(dir.path());
    let probe = dir.path().join("probe.db");
    let peak = run(&file, &probe);
    // The figures below count calls: make sure every one of them is stored.
    assert_eq!(stored_calls(&probe), calls, "calls stored by the probe run");
    eprintln!(
        "recording: {events} events, {calls} calls, {:.1} MB; peak RSS of the daemon: {:.1} MiB",
        std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        peak as f64 / 1024.0
    );
    let mut n = 0u32;
    for (label, throughput) in [
        ("events", Throughput::Elements(events)),
        ("calls", Throughput::Elements(calls)),
    ] {
        let mut g = c.benchmark_group(format!("listen-replay-sqlite-{label}"));
        g.throughput(throughput);
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(20));
        g.bench_function("bigchat-voice", |b| {
            b.iter_batched(
                || {
                    n += 1;
                    dir.path().join(format!("run-{n}.db"))
                },
                |db| run(&file, &db),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
