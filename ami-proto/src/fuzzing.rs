//! Invariant checks shared by the fuzz targets and the test suite.
//!
//! Not part of the stable API: the `fuzz/` targets call these on arbitrary
//! input, and `tests/fuzz_seeds.rs` runs them over the seed corpus so CI
//! exercises the same bodies without a fuzzer.

use bytes::BytesMut;

use crate::{AmiCodec, Frame, Limits, Message};

/// A comparable summary of a frame.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Banner(Vec<u8>),
    Message(Message),
    Skipped(String),
}

fn seen(frame: Frame) -> Seen {
    match frame {
        Frame::Banner(b) => Seen::Banner(b.line().as_bytes().to_vec()),
        Frame::Message(m) => Seen::Message(m),
        Frame::Skipped(e) => Seen::Skipped(format!("{:?}", std::mem::discriminant(&e))),
    }
}

fn run(limits: Limits, data: &[u8], chunks: &[usize]) -> Vec<Seen> {
    let mut codec = AmiCodec::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    let max_chunk = chunks.iter().copied().max().unwrap_or(data.len()).max(1);
    while pos < data.len() {
        let n = if chunks.is_empty() {
            data.len()
        } else {
            chunks[i % chunks.len()].max(1)
        };
        i += 1;
        let end = (pos + n).min(data.len());
        buf.extend_from_slice(&data[pos..end]);
        pos = end;
        let before = buf.len();
        while let Some(f) = codec.decode_frame(&mut buf) {
            out.push(seen(f));
        }
        assert!(buf.len() <= before, "decoder grew the buffer");
        if !chunks.is_empty() {
            assert!(
                buf.len() <= limits.max_message_bytes + max_chunk + 16,
                "buffer {} exceeds the limit {} + chunk {}",
                buf.len(),
                limits.max_message_bytes,
                max_chunk
            );
        }
    }
    while let Some(f) = codec.decode_frame_eof(&mut buf) {
        out.push(seen(f));
    }
    assert!(buf.is_empty(), "bytes left after end of stream");
    out
}

/// Decodes `data` whole and in chunks derived from its first bytes (sizes
/// 1 to 32, so byte-by-byte feeding is among them), with the default limits
/// and with a small limit also derived from the input (16 to 1036 bytes, so
/// the over-limit paths are reached by small inputs), and checks:
/// * the decoder never grows the buffer and stays within its limit;
/// * chunking never changes the frames;
/// * every decoded message that can be encoded decodes back equal, and
///   its re-encoding is stable;
/// * decoded messages are never empty.
///
/// Four decodes per input: cheap enough for a fuzzer's ≥ 10⁴ runs a second.
pub fn check_decode(data: &[u8]) {
    let chunks: Vec<usize> = data
        .iter()
        .take(8)
        .map(|&b| usize::from(b % 32) + 1)
        .collect();
    let small = Limits {
        max_message_bytes: 16 + 4 * usize::from(data.get(8).copied().unwrap_or(71)),
        max_headers: 1 + usize::from(data.get(9).copied().unwrap_or(11) % 16),
    };
    for limits in [Limits::default(), small] {
        let whole = run(limits, data, &[]);
        let chunked = run(limits, data, &chunks);
        assert_eq!(whole, chunked, "chunking changed the result");
        for s in &whole {
            if let Seen::Message(m) = s {
                assert!(!m.is_empty() || m.is_legacy_output(), "empty message");
                check_reencode(m);
            }
        }
    }
}

/// [`check_decode`] and, besides, byte-by-byte feeding with both limits:
/// for the seed-corpus test, where speed matters less than a fuzzer's.
pub fn check_decode_thoroughly(data: &[u8]) {
    check_decode(data);
    for limits in [
        Limits::default(),
        Limits {
            max_message_bytes: 300,
            max_headers: 12,
        },
    ] {
        assert_eq!(
            run(limits, data, &[]),
            run(limits, data, &[1]),
            "byte-by-byte feeding changed the result"
        );
    }
}

/// If `m` can be encoded, decoding the encoding gives an equal message and
/// encoding again gives the same bytes.
pub fn check_reencode(m: &Message) {
    let mut first = BytesMut::new();
    if m.encode(&mut first).is_err() {
        return;
    }
    let mut codec = AmiCodec::without_banner();
    let mut buf = first.clone();
    let again = match codec.decode_frame(&mut buf) {
        Some(Frame::Message(again)) => again,
        other => panic!("re-encoded message did not decode: {other:?} from {first:?}"),
    };
    // A legacy command reply ends at `--END COMMAND--`; the blank line the
    // encoder writes after it is skipped as inter-message space.
    assert!(
        buf.iter().all(|&b| b == b'\r' || b == b'\n'),
        "re-encoding produced trailing bytes"
    );
    assert_eq!(&again, m, "re-encoded message differs");
    let mut second = BytesMut::new();
    again.encode(&mut second).expect("re-encode");
    assert_eq!(first, second, "encoding is not stable");
}

/// Builds an action from `data` (fields separated by 0xFE: name, then
/// key/value pairs) and checks the encoder either refuses it (exactly when
/// some field has CR, LF or NUL, or a key is unusable) or produces exactly
/// one message with exactly those headers.
pub fn check_encode(data: &[u8]) {
    let fields: Vec<String> = data
        .split(|&b| b == 0xFE)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let Some((name, rest)) = fields.split_first() else {
        return;
    };
    let mut action = crate::Action::new(name.clone());
    let pairs: Vec<(String, String)> = rest
        .chunks(2)
        .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
        .collect();
    for (k, v) in &pairs {
        action.push_header(k.clone(), v.clone());
    }
    let bad_byte = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    let must_fail =
        bad_byte(name) || name.is_empty() || pairs.iter().any(|(k, v)| bad_byte(k) || bad_byte(v));
    let mut out = BytesMut::new();
    match action.encode(&mut out) {
        Err(_) => assert!(out.is_empty(), "refused action left bytes behind"),
        Ok(()) => {
            assert!(!must_fail, "encoder accepted a line break or NUL: {out:?}");
            let mut codec = AmiCodec::without_banner();
            let Some(Frame::Message(m)) = codec.decode_frame(&mut out) else {
                panic!("encoded action did not decode")
            };
            assert!(out.is_empty(), "one action became more than one message");
            let got: Vec<(Vec<u8>, Vec<u8>)> = m
                .headers()
                .map(|h| (h.name.as_bytes().to_vec(), h.value.as_bytes().to_vec()))
                .collect();
            let mut want = vec![(b"Action".to_vec(), name.as_bytes().to_vec())];
            want.extend(
                pairs
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())),
            );
            // `Response: Follows` as a header would switch formats; the
            // first header is always `Action`, so it cannot happen here.
            assert_eq!(got, want, "headers changed on the wire");
        }
    }
}
