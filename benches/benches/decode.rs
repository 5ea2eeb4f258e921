//! Decode throughput: ami-proto vs the `asterisk-rs-ami` codec, on the same
//! bytes, in the same run.
//!
//! The input is every capture in `testdata/captures/*.server.ami` (banners
//! removed) repeated until it exceeds 10 MB, behind one banner line.
//!
//! ```text
//! cargo bench -p benches --bench decode
//! ```

use std::path::Path;

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::Decoder;

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

fn ours(data: &[u8]) -> usize {
    let mut codec = AmiCodec::new();
    let mut buf = BytesMut::from(data);
    let mut n = 0;
    while let Some(frame) = codec.decode_frame(&mut buf) {
        if let Frame::Message(m) = frame {
            n += m.len().min(1);
        }
    }
    n
}

fn peer(data: &[u8]) -> usize {
    let mut codec = asterisk_rs_ami::AmiCodec::new();
    let mut buf = BytesMut::from(data);
    let mut n = 0;
    while let Ok(Some(m)) = codec.decode(&mut buf) {
        n += m.headers.len().min(1);
    }
    n
}

fn bench(c: &mut Criterion) {
    let data = corpus();
    let messages = ours(&data);
    let peer_messages = peer(&data);
    assert_eq!(
        messages, peer_messages,
        "both codecs must see the same messages"
    );
    eprintln!(
        "corpus: {:.1} MB, {messages} messages",
        data.len() as f64 / 1e6
    );

    for (label, throughput) in [
        ("bytes", Throughput::Bytes(data.len() as u64)),
        ("messages", Throughput::Elements(messages as u64)),
    ] {
        let mut g = c.benchmark_group(format!("decode-{label}"));
        g.throughput(throughput);
        g.sample_size(20);
        g.bench_function("ami-proto", |b| {
            b.iter_batched(
                || BytesMut::from(&data[..]),
                |mut buf| {
                    let mut codec = AmiCodec::new();
                    let mut n = 0usize;
                    while let Some(frame) = codec.decode_frame(&mut buf) {
                        if let Frame::Message(m) = frame {
                            n += m.len();
                        }
                    }
                    n
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function("asterisk-rs-ami", |b| {
            b.iter_batched(
                || BytesMut::from(&data[..]),
                |mut buf| {
                    let mut codec = asterisk_rs_ami::AmiCodec::new();
                    let mut n = 0usize;
                    while let Ok(Some(m)) = codec.decode(&mut buf) {
                        n += m.headers.len();
                    }
                    n
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
