//! Byte-literal tests for each decoding rule, and the capture corpus.

use std::path::{Path, PathBuf};

use ami_proto::bytes::BytesMut;
use ami_proto::{Action, AmiCodec, Frame, Limits, Message, MessageKind, ProtoError};

/// Decodes `input` fed in one piece, then signals end of stream.
fn decode_all(codec: &mut AmiCodec, input: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(f) = codec.decode_frame(&mut buf) {
        out.push(f);
    }
    while let Some(f) = codec.decode_frame_eof(&mut buf) {
        out.push(f);
    }
    out
}

fn messages(frames: &[Frame]) -> Vec<&Message> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn headers(m: &Message) -> Vec<(String, String)> {
    m.headers()
        .map(|h| (h.name.to_str().into_owned(), h.value.to_str().into_owned()))
        .collect()
}

#[test]
fn banner_then_messages() {
    let frames = decode_all(
        &mut AmiCodec::new(),
        b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nMessage: Authentication accepted\r\n\r\n",
    );
    assert_eq!(frames.len(), 2);
    let Frame::Banner(b) = &frames[0] else {
        panic!("expected banner, got {:?}", frames[0])
    };
    assert_eq!(b.product(), "Asterisk Call Manager");
    assert_eq!(b.version().unwrap(), "11.0.0");
    let m = messages(&frames);
    assert_eq!(m[0].kind(), MessageKind::Response);
    assert_eq!(m[0].response().unwrap(), "Success");
}

#[test]
fn no_banner_is_tolerated() {
    let frames = decode_all(
        &mut AmiCodec::new(),
        b"Event: FullyBooted\r\nUptime: 3\r\n\r\n",
    );
    let m = messages(&frames);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].event_name().unwrap(), "FullyBooted");
}

#[test]
fn kinds_from_first_header_only() {
    let frames = decode_all(
        &mut AmiCodec::without_banner(),
        b"Event: OriginateResponse\r\nResponse: Failure\r\n\r\n\
          Action: Ping\r\nActionID: 1\r\n\r\n\
          Foo: bar\r\n\r\n",
    );
    let m = messages(&frames);
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].kind(), MessageKind::Event);
    assert_eq!(m[0].get("Response").unwrap(), "Failure");
    assert!(m[0].response().is_none());
    assert_eq!(m[1].kind(), MessageKind::Action);
    assert_eq!(m[1].action_name().unwrap(), "Ping");
    assert_eq!(m[2].kind(), MessageKind::Other);
}

#[test]
fn headers_case_order_repeats_empty_colons() {
    let frames = decode_all(
        &mut AmiCodec::without_banner(),
        b"Event: X\r\nAccountCode: \r\nEmpty:\r\nAppData: a: b: c\r\nVariable: A=1\r\n\
          Other: 1\r\nVariable: B=2\r\nSpaced:  two\r\nTrail: x  \r\n\r\n",
    );
    let m = messages(&frames)[0];
    assert_eq!(m.get("accountcode").unwrap(), "");
    assert_eq!(m.get("EMPTY").unwrap(), "");
    assert_eq!(m.get("appdata").unwrap(), "a: b: c");
    let vars: Vec<String> = m.get_all("variable").map(|v| v.to_string()).collect();
    assert_eq!(vars, ["A=1", "B=2"]);
    // Only the single space after the colon is removed.
    assert_eq!(m.get("Spaced").unwrap(), " two");
    assert_eq!(m.get("Trail").unwrap(), "x  ");
    let names: Vec<String> = m.headers().map(|h| h.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "Event",
            "AccountCode",
            "Empty",
            "AppData",
            "Variable",
            "Other",
            "Variable",
            "Spaced",
            "Trail"
        ]
    );
    // A key is matched whole: `Channel` does not find `ChannelId`.
    let m2 = Message::parse(b"Action: Originate\r\nChannelId: 1\r\n\r\n").unwrap();
    assert!(m2.get("Channel").is_none());
}

#[test]
fn command_output_both_formats_give_same_lines() {
    let modern = Message::parse(
        b"Response: Success\r\nActionID: 7\r\nMessage: Command output follows\r\n\
          Output: Channel   Location\r\nOutput: \r\nOutput: 2 active calls\r\n\r\n",
    )
    .unwrap();
    let legacy = Message::parse(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n\
          Channel   Location\n\n2 active calls\n--END COMMAND--\r\n\r\n",
    )
    .unwrap();
    let a: Vec<String> = modern.output_lines().map(|v| v.to_string()).collect();
    let b: Vec<String> = legacy.output_lines().map(|v| v.to_string()).collect();
    assert_eq!(a, ["Channel   Location", "", "2 active calls"]);
    assert_eq!(a, b);
    assert!(legacy.is_legacy_output());
    assert_eq!(legacy.action_id().unwrap(), "7");
}

#[test]
fn legacy_output_marker_on_last_line_and_following_message() {
    let frames = decode_all(
        &mut AmiCodec::without_banner(),
        b"Response: Follows\r\nPrivilege: Command\r\nline: with colon\nlast--END COMMAND--\r\n\r\n\
          Event: Next\r\n\r\n",
    );
    let m = messages(&frames);
    assert_eq!(m.len(), 2);
    let lines: Vec<String> = m[0].output_lines().map(|v| v.to_string()).collect();
    assert_eq!(lines, ["line: with colon", "last"]);
    assert_eq!(m[1].event_name().unwrap(), "Next");
}

#[test]
fn line_endings_never_merge_or_split() {
    // Bare LF, CRLF, and the `\n\r\n\r\n` Asterisk produces for messages
    // that already end in a newline.
    let input = b"Event: A\nX: 1\n\nEvent: B\r\nX: 2\r\n\r\n\
                  Response: Success\r\nMessage: Park successful\n\r\n\r\n\
                  Event: C\r\nX: 3\n\r\n";
    let frames = decode_all(&mut AmiCodec::without_banner(), input);
    let m = messages(&frames);
    let names: Vec<String> = m
        .iter()
        .map(|m| {
            m.event_name()
                .or_else(|| m.response())
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, ["A", "B", "Success", "C"]);
    assert_eq!(m[2].get("Message").unwrap(), "Park successful");
    assert_eq!(frames.len(), 4, "no extra or skipped frames: {frames:?}");
}

#[test]
fn raw_newline_in_value_continues_it() {
    let m =
        Message::parse(b"Response: Success\r\nVariable: X\r\nValue: line1\nline2\r\n\r\n").unwrap();
    assert_eq!(m.get("Value").unwrap().as_bytes(), b"line1\nline2");
    assert_eq!(m.len(), 3);
}

#[test]
fn latin1_values_are_kept() {
    let m = Message::parse(b"Event: Newchannel\r\nCallerIDName: Jos\xe9 Mar\xeda\r\n\r\n").unwrap();
    let v = m.get("CallerIDName").unwrap();
    assert_eq!(v.as_bytes(), b"Jos\xe9 Mar\xeda");
    assert_eq!(v.to_str(), "José María");
}

#[test]
fn over_limit_message_is_skipped_once_and_stream_goes_on() {
    let limits = Limits {
        max_message_bytes: 256,
        max_headers: 8,
    };
    let mut input = b"Event: Before\r\n\r\n".to_vec();
    input.extend_from_slice(b"Event: Huge\r\n");
    for i in 0..100 {
        input.extend_from_slice(format!("Filler{i}: {}\r\n", "x".repeat(20)).as_bytes());
    }
    input.extend_from_slice(b"\r\nEvent: Many\r\n");
    for i in 0..20 {
        input.extend_from_slice(format!("H{i}: 1\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\nEvent: After\r\n\r\n");

    // Whole, and byte by byte: same outcome.
    for chunk in [input.len(), 1, 7] {
        let mut codec = AmiCodec::with_limits(limits).expect_banner(false);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        let mut peak = 0;
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode_frame(&mut buf) {
                frames.push(f);
            }
            peak = peak.max(buf.len());
        }
        while let Some(f) = codec.decode_frame_eof(&mut buf) {
            frames.push(f);
        }
        assert!(
            peak <= limits.max_message_bytes + chunk,
            "buffer grew to {peak}"
        );
        let summary: Vec<String> = frames
            .iter()
            .map(|f| match f {
                Frame::Message(m) => m.event_name().map(|v| v.to_string()).unwrap_or_default(),
                Frame::Skipped(ProtoError::MessageTooLarge { .. }) => "too-large".into(),
                Frame::Skipped(ProtoError::TooManyHeaders { .. }) => "too-many".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            ["Before", "too-large", "too-many", "After"],
            "chunk {chunk}"
        );
    }
}

#[test]
fn over_limit_legacy_output_skips_to_end_marker() {
    let limits = Limits {
        max_message_bytes: 128,
        max_headers: 1000,
    };
    let mut input = b"Response: Follows\r\nPrivilege: Command\r\n".to_vec();
    for i in 0..50 {
        input.extend_from_slice(format!("output line {i}\n\n").as_bytes());
    }
    input.extend_from_slice(b"--END COMMAND--\r\n\r\nEvent: After\r\n\r\n");
    for chunk in [input.len(), 1, 5] {
        let mut codec = AmiCodec::with_limits(limits).expect_banner(false);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode_frame(&mut buf) {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2, "chunk {chunk}: {frames:?}");
        assert!(matches!(
            frames[0],
            Frame::Skipped(ProtoError::MessageTooLarge { .. })
        ));
        let Frame::Message(m) = &frames[1] else {
            panic!("{:?}", frames[1])
        };
        assert_eq!(m.event_name().unwrap(), "After");
    }
}

#[test]
fn truncated_stream_reported_once() {
    let frames = decode_all(
        &mut AmiCodec::without_banner(),
        b"Event: A\r\n\r\nEvent: B\r\nX: 1\r\n",
    );
    assert_eq!(frames.len(), 2);
    assert!(matches!(
        frames[1],
        Frame::Skipped(ProtoError::Truncated { .. })
    ));
    // Trailing blank lines are not a message.
    let frames = decode_all(&mut AmiCodec::without_banner(), b"Event: A\r\n\r\n\r\n\r\n");
    assert_eq!(frames.len(), 1);
}

#[test]
fn garbage_never_panics_and_is_kept_as_messages() {
    let inputs: [&[u8]; 6] = [
        b"\0\0\0\r\n\r\n",
        b"\xff\xfe:\xfd\r\n\r\n",
        b":\r\n\r\n",
        b"\r\r\r\n\r\n",
        b"no colon at all\n\n",
        b"\n\n\n\n",
    ];
    for input in inputs {
        let frames = decode_all(&mut AmiCodec::new(), input);
        for f in &frames {
            if let Frame::Message(m) = f {
                assert!(!m.is_empty());
            }
        }
    }
    let frames = decode_all(&mut AmiCodec::without_banner(), b"garbage line\r\n\r\n");
    let m = messages(&frames);
    assert_eq!(headers(m[0]), [("garbage line".to_string(), String::new())]);
}

#[test]
fn resume_scanning_is_linear() {
    // A 2 MB message fed one byte at a time. Rescanning from the start of
    // the buffer on every call would need ~2e12 byte visits; resuming
    // needs ~2e6. (Not timed: quadratic behaviour would simply not finish.)
    let mut input = b"Response: Success\r\nActionID: big\r\n".to_vec();
    let line = format!("Output: {}\r\n", "y".repeat(200));
    while input.len() < 2_000_000 {
        input.extend_from_slice(line.as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    let mut codec = AmiCodec::without_banner();
    let mut buf = BytesMut::with_capacity(input.len());
    let mut got = None;
    for &b in &input {
        buf.extend_from_slice(&[b]);
        if let Some(f) = codec.decode_frame(&mut buf) {
            got = Some(f);
        }
    }
    let Some(Frame::Message(m)) = got else {
        panic!("no message")
    };
    assert_eq!(m.raw().len(), input.len());
    assert!(m.output_lines().count() > 9000);
}

#[test]
fn encoder_refuses_injection_and_round_trips() {
    let mut out = BytesMut::new();
    let phone = "+5511999990002\r\nAction: Command\r\nCommand: core stop now";
    let err = Action::new("Originate")
        .header("Exten", phone)
        .encode(&mut out)
        .unwrap_err();
    assert!(matches!(err, ProtoError::InvalidHeader { .. }), "{err}");
    assert!(out.is_empty());

    let a = Action::new("Setvar")
        .with_action_id("id-1")
        .header("Variable", "X")
        .header("Value", "a: b");
    a.encode(&mut out).unwrap();
    let m = Message::parse(&out).unwrap();
    assert_eq!(m.action_name().unwrap(), "Setvar");
    assert_eq!(m.action_id().unwrap(), "id-1");
    assert_eq!(m.get("Value").unwrap(), "a: b");
}

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures")
}

fn capture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(captures_dir())
        .expect("testdata/captures exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".server.ami").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 16,
        "expected the whole corpus, found {names:?}"
    );
    names
}

/// Every capture decodes with zero errors into exactly the messages its
/// timeline lists, byte for byte, whole and in small chunks.
#[test]
fn every_capture_decodes_exactly() {
    for name in capture_names() {
        let data = std::fs::read(captures_dir().join(format!("{name}.server.ami"))).unwrap();
        let timeline =
            std::fs::read_to_string(captures_dir().join(format!("{name}.timeline.jsonl"))).unwrap();
        // (offset, len) per timeline line; the first is the banner.
        let spans: Vec<(usize, usize)> = timeline
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["bytes"].as_u64().unwrap() as usize,
                    v["len"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        let frames = decode_all(&mut AmiCodec::new(), &data);
        assert!(
            matches!(frames[0], Frame::Banner(_)),
            "{name}: banner first"
        );
        let msgs = messages(&frames);
        assert_eq!(msgs.len(), spans.len() - 1, "{name}: message count");
        assert_eq!(frames.len(), spans.len(), "{name}: no skipped frames");
        for (m, (off, len)) in msgs.iter().zip(&spans[1..]) {
            assert_eq!(
                &m.raw()[..],
                &data[*off..off + len],
                "{name}: message at {off}"
            );
        }
        let events = msgs
            .iter()
            .filter(|m| m.kind() == MessageKind::Event)
            .count();
        let expected_events = data
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"Event:"))
            .count();
        assert_eq!(events, expected_events, "{name}: event count");

        for chunk in [1usize, 3, 64, 1000] {
            let mut codec = AmiCodec::new();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut banners = 0;
            for piece in data.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(frame) = codec.decode_frame(&mut buf) {
                    match frame {
                        Frame::Banner(_) => banners += 1,
                        Frame::Message(m) => got.push(m),
                        other => panic!("{name}: chunk {chunk}: {other:?}"),
                    }
                }
            }
            assert_eq!(banners, 1);
            assert_eq!(got.len(), msgs.len(), "{name}: chunk {chunk}");
            assert!(
                got.iter().zip(&msgs).all(|(a, b)| a == *b),
                "{name}: chunk {chunk}"
            );
        }
    }
}

#[test]
fn capture_specifics() {
    let data = std::fs::read(captures_dir().join("protocol-misc.server.ami")).unwrap();
    let frames = decode_all(&mut AmiCodec::new(), &data);
    let msgs = messages(&frames);
    let outputs: Vec<usize> = msgs
        .iter()
        .filter(|m| {
            m.get("Message")
                .is_some_and(|v| v == "Command output follows")
        })
        .map(|m| m.output_lines().count())
        .collect();
    assert_eq!(
        outputs,
        [1, 2],
        "two Command replies with 1 and 2 output lines"
    );
    let list_start = msgs.iter().filter(|m| m.is_list_start()).count();
    let list_end = msgs.iter().filter(|m| m.is_list_complete()).count();
    assert!(
        list_start >= 2 && list_start == list_end,
        "{list_start} vs {list_end}"
    );

    let ts = std::fs::read(captures_dir().join("inbound-answered-timestamps.server.ami")).unwrap();
    let frames = decode_all(&mut AmiCodec::new(), &ts);
    let stamped = messages(&frames)
        .iter()
        .filter_map(|m| m.timestamp())
        .filter(|t| *t > 1.7e9)
        .count();
    assert!(stamped > 50, "{stamped} events with Timestamp");
}
