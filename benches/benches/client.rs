//! ami-client over loopback, against the in-process fake Asterisk.
//!
//! * `client/ping_pipelined`: 1,000 `Ping`s in flight at once from one
//!   task, each matched to its reply by ActionID (round trips per second).
//! * `client/event_ingest`: the fake writes ~100,000 real events (every
//!   capture in `testdata/captures/` but `Shutdown`, repeated) to the socket; the client
//!   reads, decodes and queues them; a consumer task takes them off the
//!   `EventStream` (events per second, end to end).
//!
//! ```text
//! cargo bench -p benches --bench client
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use ami_client::ami_proto::Action;
use ami_client::ami_proto::bytes::{Bytes, BytesMut};
use ami_client::testkit::{FakeAsterisk, ReplayOptions, load_capture};
use ami_client::{Client, EventStream, StreamItem};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PINGS: usize = 1_000;
const TARGET_EVENTS: usize = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Every event of every capture, repeated to about `TARGET_EVENTS`.
fn event_blob() -> (Bytes, usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".server.ami"))
        .collect();
    names.sort();
    let opts = ReplayOptions {
        events_only: true,
        ..Default::default()
    };
    let mut one = BytesMut::new();
    let mut count = 0;
    for p in names {
        let capture = load_capture(&p, &opts).expect("capture");
        for m in capture.messages {
            // A Shutdown event ends the session (as it must): leave it out.
            if m.bytes.starts_with(b"Event: Shutdown\r\n") {
                continue;
            }
            one.extend_from_slice(&m.bytes);
            count += 1;
        }
    }
    let mut blob = BytesMut::new();
    let mut total = 0;
    while total < TARGET_EVENTS {
        blob.extend_from_slice(&one);
        total += count;
    }
    (blob.freeze(), total)
}

async fn connect(fake: &FakeAsterisk, buffer: usize) -> (Client, EventStream) {
    let config = fake.client_config().event_buffer(buffer).build();
    let (client, mut events) = Client::connect(config).await.expect("connect");
    // FullyBooted.
    events.recv().await.expect("boot event");
    (client, events)
}

fn bench_ping(c: &mut Criterion) {
    let rt = runtime();
    let (fake, client, _events) = rt.block_on(async {
        let fake = FakeAsterisk::start().await.expect("fake");
        let (client, events) = connect(&fake, 1024).await;
        (fake, client, events)
    });
    let mut g = c.benchmark_group("client");
    g.throughput(Throughput::Elements(PINGS as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("ping_pipelined", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let replies =
                        futures::future::join_all((0..PINGS).map(|_| client.send(Action::ping())))
                            .await;
                    for r in replies {
                        r.expect("pong");
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    rt.block_on(client.close());
    drop(fake);
}

fn bench_ingest(c: &mut Criterion) {
    let rt = runtime();
    let (blob, n) = event_blob();
    let (fake, client, events) = rt.block_on(async {
        let fake = FakeAsterisk::start().await.expect("fake");
        let (client, events) = connect(&fake, 65_536).await;
        (fake, client, events)
    });
    let fake = std::sync::Arc::new(fake);
    let mut events = Some(events);
    let mut missed_total = 0u64;
    let mut g = c.benchmark_group("client");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("event_ingest", |b| {
        b.iter_custom(|iters| {
            let mut stream = events.take().expect("stream");
            let (elapsed, stream, missed) = rt.block_on(async {
                let start = Instant::now();
                let mut missed = 0u64;
                for _ in 0..iters {
                    let writer = {
                        let fake = fake.clone();
                        let blob = blob.clone();
                        tokio::spawn(async move { fake.emit_raw(blob).await })
                    };
                    // The consumer: count events (and any Lagged gap).
                    let consumer = tokio::spawn(async move {
                        let mut seen = 0u64;
                        let mut missed = 0u64;
                        while seen + missed < n as u64 {
                            match stream.recv().await.expect("stream ended") {
                                StreamItem::Event(_) => seen += 1,
                                StreamItem::Lagged { missed: m } => missed += m,
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                        (stream, missed)
                    });
                    writer.await.expect("writer");
                    let (s, m) = consumer.await.expect("consumer");
                    stream = s;
                    missed += m;
                }
                (start.elapsed(), stream, missed)
            });
            events = Some(stream);
            missed_total += missed;
            elapsed
        })
    });
    g.finish();
    if missed_total > 0 {
        eprintln!("event_ingest: the consumer lagged, {missed_total} events reported as missed");
    } else {
        eprintln!("event_ingest: no event missed ({n} events per iteration)");
    }
    rt.block_on(client.close());
}

criterion_group!(benches, bench_ping, bench_ingest);
criterion_main!(benches);
