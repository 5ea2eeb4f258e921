//! Decodes the capture corpus many times (for profilers such as callgrind).
//!
//! ```text
//! cargo build --release -p ami-proto --example profile_decode
//! valgrind --tool=callgrind target/release/examples/profile_decode 3
//! ```

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
    let mut data = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".server.ami"))
        .collect();
    entries.sort();
    for p in entries {
        let bytes = std::fs::read(&p).expect("read");
        let start = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        data.extend_from_slice(&bytes[start..]);
    }
    let mut total = 0usize;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let mut codec = AmiCodec::new();
        let mut buf = BytesMut::from(&data[..]);
        while let Some(frame) = codec.decode_frame(&mut buf) {
            if let Frame::Message(m) = frame {
                total += m.len();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mb = (data.len() * rounds) as f64 / 1e6;
    println!(
        "{total} headers, {mb:.1} MB in {secs:.3} s = {:.0} MB/s",
        mb / secs
    );
}
