//! A legacy `Response: Follows` reply whose body starts with an empty line,
//! or with a line that reads like one of its headers, encodes to bytes that
//! decode back the same (a fuzzing find: the first empty body line was
//! taken for the separator on the way back).

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame};

fn decode_one(bytes: &[u8]) -> ami_proto::Message {
    let mut codec = AmiCodec::without_banner();
    let mut buf = BytesMut::from(bytes);
    match codec.decode_frame(&mut buf) {
        Some(Frame::Message(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn bodies_that_start_like_a_separator_or_a_header_round_trip() {
    for body in [
        &b"\n\n\nlast"[..],
        b"\nline",
        b"Privilege: not a header\nmore",
        b"Message: said by the command",
        b"plain first line\n\nthen a gap",
    ] {
        let mut wire = b"Response: Follows\r\nPrivilege: Command\r\n\r\n".to_vec();
        wire.extend_from_slice(body);
        wire.extend_from_slice(b"\n--END COMMAND--\r\n\r\n");
        let m = decode_one(&wire);
        let mut again = BytesMut::new();
        m.encode(&mut again).expect("encodes");
        assert_eq!(decode_one(&again), m, "{:?}", String::from_utf8_lossy(body));
        ami_proto::fuzzing::check_reencode(&m);
    }
    // The crash input itself.
    ami_proto::fuzzing::check_decode_thoroughly(
        b"Response: Follows\r\nPrivilege: ne on\x80\r\n\n\n\n\n\n-END COMlast--END COMMAND--\r\n\r\nEvent: A: 1\n\n",
    );
}
