//! Helpers shared by the examples in this package.
#![warn(missing_docs)]

use std::io::Read;

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame};

/// Decodes a whole AMI byte stream, calling `on_frame` for every frame.
/// The stream is read in 64 KiB chunks, as a socket would deliver it.
pub fn decode_stream(mut input: impl Read, mut on_frame: impl FnMut(Frame)) -> std::io::Result<()> {
    let mut codec = AmiCodec::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut chunk)?;
        if n == 0 {
            while let Some(frame) = codec.decode_frame_eof(&mut buf) {
                on_frame(frame);
            }
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(frame) = codec.decode_frame(&mut buf) {
            on_frame(frame);
        }
    }
}
