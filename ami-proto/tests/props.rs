//! Property tests: encode → decode is the identity, and cutting a stream
//! anywhere never changes what is decoded.

use std::path::Path;

use ami_proto::bytes::BytesMut;
use ami_proto::{Action, AmiCodec, Frame, Message};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_()-]{0,15}"
}

/// Any bytes but CR, LF and NUL (Latin-1 included), possibly empty, with
/// leading/trailing spaces and colons.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF/NUL", |b| !matches!(b, b'\r' | b'\n' | 0)),
        0..40,
    )
}

fn message() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    (value(), prop::collection::vec((key(), value()), 0..12)).prop_map(|(name, rest)| {
        let mut headers = vec![("Event".to_string(), name)];
        headers.extend(rest);
        headers
    })
}

fn build(headers: &[(String, Vec<u8>)]) -> Message {
    headers
        .iter()
        .fold(Message::builder(), |b, (k, v)| b.header(k, v))
        .build()
        .expect("valid headers build")
}

/// Decodes a stream fed in pieces cut at `cuts` (positions, any order).
fn decode_cut(data: &[u8], cuts: &[usize], banner: bool) -> Vec<Message> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(data.len());
    points.sort_unstable();
    let mut codec = AmiCodec::new().expect_banner(banner);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    for p in points {
        buf.extend_from_slice(&data[pos..p]);
        pos = p;
        while let Some(f) = codec.decode_frame(&mut buf) {
            match f {
                Frame::Message(m) => out.push(m),
                Frame::Banner(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    if let Some(f) = codec.decode_frame_eof(&mut buf) {
        panic!("unexpected at eof: {f:?}");
    }
    out
}

fn corpus() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
    let mut out = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    for name in [
        "inbound-answered-recorded",
        "protocol-misc",
        "queue-answered",
    ] {
        let data = std::fs::read(dir.join(format!("{name}.server.ami"))).expect("capture");
        let start = data.windows(2).position(|w| w == b"\r\n").expect("banner") + 2;
        out.extend_from_slice(&data[start..]);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_decode_is_identity(headers in message()) {
        let m = build(&headers);
        let got: Vec<(String, Vec<u8>)> = m
            .headers()
            .map(|h| (h.name.to_string(), h.value.as_bytes().to_vec()))
            .collect();
        prop_assert_eq!(&got, &headers);
        let mut wire = BytesMut::new();
        m.encode(&mut wire).unwrap();
        let again = Message::parse(&wire).unwrap();
        prop_assert_eq!(again, m);
    }

    #[test]
    fn action_round_trip(name in "[A-Za-z]{1,20}", id in "[a-z0-9-]{1,20}",
                         headers in prop::collection::vec((key(), "[^\r\n\0]{0,30}"), 0..10)) {
        let action = headers.iter().fold(
            Action::new(name.clone()).with_action_id(id.clone()),
            |a, (k, v)| a.header(k.clone(), v.clone()),
        );
        let wire = action.to_bytes().unwrap();
        let m = Message::parse(&wire).unwrap();
        prop_assert_eq!(m.action_name().unwrap().to_string(), name);
        prop_assert_eq!(m.action_id().unwrap().to_string(), id);
        let rest: Vec<(String, String)> = m
            .headers()
            .skip(2)
            .map(|h| (h.name.to_string(), h.value.to_string()))
            .collect();
        prop_assert_eq!(rest, headers);
    }

    /// Keys and values long enough to cross the decoder's 64-byte scan
    /// blocks, colons inside values, CRLF or LF: the headers come out
    /// exactly, decoded whole (the block scan) as fed one byte at a time
    /// (line by line).
    #[test]
    fn long_lines_decode_exactly(
        msgs in prop::collection::vec(
            prop::collection::vec(
                ("[A-Za-z][A-Za-z0-9_-]{0,150}", "[ -~]{0,200}"),
                1..6,
            ),
            1..4,
        ),
        lf_only in any::<bool>(),
    ) {
        let eol: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
        let mut stream = Vec::new();
        for headers in &msgs {
            for (k, v) in headers {
                stream.extend_from_slice(k.as_bytes());
                stream.extend_from_slice(b": ");
                stream.extend_from_slice(v.as_bytes());
                stream.extend_from_slice(eol);
            }
            stream.extend_from_slice(eol);
        }
        let every_byte: Vec<usize> = (0..stream.len()).collect();
        let whole = decode_cut(&stream, &[], false);
        prop_assert_eq!(&whole, &decode_cut(&stream, &every_byte, false));
        let got: Vec<Vec<(String, String)>> = whole
            .iter()
            .map(|m| m.headers().map(|h| (h.name.to_string(), h.value.to_string())).collect())
            .collect();
        // The sender's single space after the colon is not part of the value.
        let want: Vec<Vec<(String, String)>> = msgs
            .iter()
            .map(|hs| hs.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn random_streams_survive_any_cutting(
        msgs in prop::collection::vec(message(), 1..8),
        endings in prop::collection::vec(0u8..3, 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        // Build one stream with a mix of CRLF, LF and `\n\r\n` endings.
        let mut stream = Vec::new();
        for (i, headers) in msgs.iter().enumerate() {
            let eol: &[u8] = match endings[i % endings.len()] { 0 => b"\r\n", 1 => b"\n", _ => b"\r\n" };
            for (k, v) in headers {
                stream.extend_from_slice(k.as_bytes());
                stream.extend_from_slice(b": ");
                stream.extend_from_slice(v);
                stream.extend_from_slice(eol);
            }
            if endings[i % endings.len()] == 2 {
                stream.extend_from_slice(b"\r\n\r\n");
            } else {
                stream.extend_from_slice(eol);
            }
        }
        // Values ending in CR would lose it to the line ending rule; such
        // streams are still decoded consistently, which is what we check.
        let whole = decode_cut(&stream, &[], false);
        let cut = decode_cut(&stream, &cuts, false);
        prop_assert_eq!(&whole, &cut);
        prop_assert_eq!(whole.len(), msgs.len());
    }

    #[test]
    fn captures_survive_any_cutting(cuts in prop::collection::vec(any::<usize>(), 1..64)) {
        let data = corpus();
        let whole = decode_cut(&data, &[], true);
        let cut = decode_cut(&data, &cuts, true);
        prop_assert!(whole.len() > 200);
        prop_assert_eq!(whole, cut);
    }
}
