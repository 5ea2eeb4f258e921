//! Call tracker throughput: events per second through
//! `bigchat_voice::tracker::Tracker`, on every shared capture.
//!
//! The input is the events (not the responses) of every
//! `testdata/captures/*.server.ami`, captures in the order they were
//! recorded, each event with its timeline time, decoded once outside the
//! timed loop. One iteration feeds them all to a fresh tracker (as the
//! connector's event stream would), effects included.
//!
//! ```text
//! cargo bench -p benches --bench tracker
//! ```

use std::path::Path;

use ami_proto::Message;
use bigchat_voice::model::Effect;
use bigchat_voice::replay::Replay;
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> Vec<(Message, DateTime<Utc>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures");
    let mut captures: Vec<Vec<(Message, DateTime<Utc>)>> = std::fs::read_dir(&dir)
        .expect("testdata/captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".server.ami"))
        .map(|p| {
            let mut last = None;
            Replay::open(&p)
                .expect("capture")
                .map(|item| item.expect("capture read"))
                .filter_map(|(m, at)| {
                    last = at.or(last);
                    Some((m, last?))
                })
                .filter(|(m, _)| m.event_name().is_some())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect();
    captures.sort_by_key(|c| c[0].1);
    captures.into_iter().flatten().collect()
}

fn bench(c: &mut Criterion) {
    let events = corpus();
    let cfg = TrackerConfig::default();
    let run = |events: &[(Message, DateTime<Utc>)]| {
        let mut tracker = Tracker::new(cfg.clone());
        let mut out: Vec<Effect> = Vec::with_capacity(16);
        let mut effects = 0;
        for (m, at) in events {
            tracker.handle_into(m, *at, &mut out);
            effects += out.len();
            out.clear();
        }
        effects
    };
    let effects = run(&events);
    eprintln!(
        "tracker bench: {} events -> {effects} effects per pass",
        events.len()
    );
    let mut group = c.benchmark_group("tracker");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("captures", |b| b.iter(|| run(&events)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
