//! The banner line under the message limit, and the truncated tail: the
//! same frames however the bytes are chunked (a fuzzing find: an over-long
//! banner fed whole was a banner, fed in chunks it swallowed the next
//! message).

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame, Limits, ProtoError};

/// Frames of `data` fed `chunk` bytes at a time, then the end of stream;
/// errors as their kind only (a size depends on where the limit was hit).
fn frames(limits: Limits, data: &[u8], chunk: usize) -> Vec<String> {
    let mut codec = AmiCodec::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let show = |f: Frame| match f {
        Frame::Banner(b) => format!("banner {}", b.line().as_bytes().len()),
        Frame::Message(m) => format!("message {:?}", m.get("Event").map(|v| v.to_string())),
        Frame::Skipped(ProtoError::MessageTooLarge { .. }) => "skipped: too large".into(),
        Frame::Skipped(ProtoError::Truncated { .. }) => "skipped: truncated".into(),
        Frame::Skipped(e) => format!("skipped: {e}"),
        _ => "other".into(),
    };
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(f) = codec.decode_frame(&mut buf) {
            out.push(show(f));
        }
    }
    while let Some(f) = codec.decode_frame_eof(&mut buf) {
        out.push(show(f));
    }
    assert!(buf.is_empty());
    out
}

fn all_chunkings(limits: Limits, data: &[u8]) -> Vec<String> {
    let whole = frames(limits, data, data.len());
    for chunk in [1, 2, 3, 7, 64, 255, 4096, 65536] {
        assert_eq!(frames(limits, data, chunk), whole, "chunks of {chunk}");
    }
    whole
}

fn small() -> Limits {
    Limits {
        max_message_bytes: 300,
        max_headers: 12,
    }
}

/// The shape of the fuzzer's crash file: `Asterisk Call ` and a run of
/// non-UTF-8 bytes, longer than the limit, then a message.
#[test]
fn an_over_long_banner_is_skipped_and_the_next_message_kept() {
    let mut data = b"Asterisk Call ".to_vec();
    data.extend(std::iter::repeat_n([0xFF, 0xC8], 175).flatten());
    data.extend_from_slice(b"\r\nEvent: FullyBooted\r\nStatus: Fully Booted\r\n\r\n");
    assert_eq!(
        all_chunkings(small(), &data),
        ["skipped: too large", "message Some(\"FullyBooted\")"]
    );
}

/// With the default limits: a 9 MiB banner.
#[test]
fn a_nine_mib_banner_with_default_limits() {
    let mut data = b"Asterisk Call Manager/".to_vec();
    data.resize(9 << 20, b'9');
    data.extend_from_slice(b"\r\nResponse: Success\r\nMessage: ok\r\n\r\nEvent: Ping\r\n\r\n");
    let whole = frames(Limits::default(), &data, data.len());
    assert_eq!(
        whole,
        [
            "skipped: too large",
            "message None",
            "message Some(\"Ping\")"
        ]
    );
    assert_eq!(frames(Limits::default(), &data, 64 * 1024), whole);
    assert_eq!(frames(Limits::default(), &data, 1000), whole);
}

/// A banner just under the limit is a banner; one byte more is skipped;
/// a first line with a colon within the limit is a header either way.
#[test]
fn the_banner_limit_is_the_same_fed_whole_or_in_pieces() {
    let limits = small();
    for len in [290, 299, 300, 301, 302, 400] {
        let mut data = vec![b'A'; len];
        data.extend_from_slice(b"\nEvent: X\n\n");
        let got = all_chunkings(limits, &data);
        let first = if len <= 300 {
            format!("banner {len}")
        } else {
            "skipped: too large".into()
        };
        assert_eq!(got, [first, "message Some(\"X\")".to_string()], "{len}");
    }
    let mut header = b"Event: Long ".to_vec();
    header.resize(500, b'x');
    header.extend_from_slice(b"\r\n\r\nEvent: Next\r\n\r\n");
    assert_eq!(
        all_chunkings(limits, &header),
        ["skipped: too large", "message Some(\"Next\")"]
    );
}

/// What the stream ends in the middle of is reported once, banner included.
#[test]
fn a_truncated_tail_is_reported() {
    let limits = Limits::default();
    assert_eq!(
        all_chunkings(limits, b"Asterisk Call Manager/11.0.0"),
        ["skipped: truncated"]
    );
    assert_eq!(
        all_chunkings(
            limits,
            b"Asterisk Call Manager/11.0.0\r\nEvent: Hangup\r\nChannel: x"
        ),
        ["banner 28", "skipped: truncated"]
    );
    assert_eq!(
        all_chunkings(limits, b"Asterisk Call Manager/11.0.0\r\n\r\n\r\n"),
        ["banner 28"]
    );
    let mut over = b"Asterisk ".to_vec();
    over.resize(400, b'z');
    assert_eq!(all_chunkings(small(), &over), ["skipped: too large"]);
}

proptest::proptest! {
    /// Any first line (with or without a colon, of any length around the
    /// limit) then messages: the frames do not depend on the chunk size.
    #[test]
    fn any_first_line_decodes_alike_in_any_chunks(
        first in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700),
        colon_at in proptest::option::of(0usize..700),
        chunk in 1usize..400,
        limit in 16usize..500,
    ) {
        let mut data: Vec<u8> = first.into_iter().filter(|&b| b != b'\n').collect();
        if let Some(at) = colon_at {
            let at = at.min(data.len());
            data.insert(at, b':');
        }
        data.extend_from_slice(b"\r\nEvent: A\r\n\r\nEvent: B\r\nX: 1\r\n\r\n");
        let limits = Limits { max_message_bytes: limit, max_headers: 12 };
        let whole = frames(limits, &data, data.len());
        proptest::prop_assert_eq!(frames(limits, &data, chunk), whole);
    }
}
