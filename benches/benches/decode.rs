//! Decode throughput, side by side in one run on the same bytes:
//!
//! * `ami-proto`: ami-proto decoding every frame;
//! * `ami-proto-headers`: the same, plus what a realistic consumer does,
//!   reading `Event`, `Uniqueid` and `Linkedid` of every message;
//! * `memmem-ceiling`: a `memchr::memmem` scan for message ends
//!   (`\r\n\r\n`), the ceiling for anything that has to find messages;
//! * `asterisk-rs-ami`: the `asterisk-rs-ami` codec.
//!
//! The input is every capture in `testdata/captures/*.server.ami` (banners
//! removed) repeated until it exceeds 10 MB, behind one banner line. The
//! codecs are fed 64 KiB at a time, as a socket reader would (the memmem
//! scan reads the buffer whole).
//!
//! This file only uses ami-proto API that exists at the `perf-baseline`
//! tag, so it can be copied over a checkout of that tag to measure the
//! baseline with the same code.
//!
//! ```text
//! cargo bench -p benches --bench decode
//! ```

use std::hint::black_box;
use std::path::Path;

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame, Message};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::Decoder;

/// Bytes handed to the decoders per read.
const CHUNK: usize = 64 * 1024;

fn corpus() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures");
    let mut bodies = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".server.ami"))
        .collect();
    names.sort();
    for p in names {
        let data = std::fs::read(&p).expect("capture");
        let start = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        bodies.extend_from_slice(&data[start..]);
    }
    let mut stream = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    while stream.len() < 10 * 1024 * 1024 {
        stream.extend_from_slice(&bodies);
    }
    stream
}

/// Feeds `data` to ami-proto in [`CHUNK`]-sized reads, handing every
/// message to `on_message`.
fn ours(data: &[u8], mut on_message: impl FnMut(Message)) {
    let mut codec = AmiCodec::new();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode_frame(&mut buf) {
            if let Frame::Message(m) = frame {
                on_message(m);
            }
        }
    }
    while let Some(frame) = codec.decode_frame_eof(&mut buf) {
        if let Frame::Message(m) = frame {
            on_message(m);
        }
    }
}

fn decode_only(data: &[u8]) -> usize {
    let mut n = 0usize;
    ours(data, |m| n += m.len());
    n
}

fn decode_and_read(data: &[u8]) -> usize {
    let mut n = 0usize;
    ours(data, |m| {
        for key in ["Event", "Uniqueid", "Linkedid"] {
            n += m.get(key).map_or(0, |v| v.as_bytes().len());
        }
    });
    n
}

fn memmem_ends(data: &[u8]) -> usize {
    memchr::memmem::find_iter(data, b"\r\n\r\n").count()
}

/// Messages `asterisk-rs-ami` decodes, fed like ours.
fn peer(data: &[u8]) -> usize {
    let mut codec = asterisk_rs_ami::AmiCodec::new();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut n = 0;
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Ok(Some(m)) = codec.decode(&mut buf) {
            n += m.headers.len().min(1);
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let data = corpus();
    let mut messages = 0usize;
    ours(&data, |_| messages += 1);
    let peer_messages = peer(&data);
    assert_eq!(
        messages, peer_messages,
        "both codecs must see the same messages"
    );
    assert!(decode_and_read(&data) > 0);
    eprintln!(
        "corpus: {:.1} MB, {messages} messages, {} message ends by memmem",
        data.len() as f64 / 1e6,
        memmem_ends(&data)
    );

    for (label, throughput) in [
        ("bytes", Throughput::Bytes(data.len() as u64)),
        ("messages", Throughput::Elements(messages as u64)),
    ] {
        let mut g = c.benchmark_group(format!("decode-{label}"));
        g.throughput(throughput);
        g.sample_size(20);
        g.bench_function("ami-proto", |b| b.iter(|| decode_only(black_box(&data))));
        g.bench_function("ami-proto-headers", |b| {
            b.iter(|| decode_and_read(black_box(&data)))
        });
        g.bench_function("memmem-ceiling", |b| {
            b.iter(|| memmem_ends(black_box(&data)))
        });
        g.bench_function("asterisk-rs-ami", |b| b.iter(|| peer(black_box(&data))));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
