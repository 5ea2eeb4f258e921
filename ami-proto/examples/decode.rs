//! Decodes a recorded AMI stream and prints one JSON object per message.
//!
//! ```text
//! cargo run --release -p ami-proto --features serde --example decode -- testdata/captures/inbound-busy.server.ami
//! ```
//!
//! Messages go to stdout as JSON Lines (the banner is not printed);
//! problems go to stderr; the exit status is 1 if any message could not be
//! decoded, 2 if the file could not be read.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use std::io::Read;

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame};

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: decode FILE   (use - for standard input)");
        return ExitCode::from(2);
    };
    let input: Box<dyn std::io::Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(&path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("decode: cannot open {}: {e}", path.to_string_lossy());
                return ExitCode::from(2);
            }
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    let mut write_error = None;
    let result = decode_stream(input, |frame| match frame {
        Frame::Message(m) if write_error.is_none() => {
            let r = serde_json::to_writer(&mut out, &m)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = r {
                write_error = Some(e);
            }
        }
        Frame::Message(_) => {}
        Frame::Skipped(e) => {
            failed += 1;
            eprintln!("decode: skipped a message: {e}");
        }
        Frame::Banner(b) => eprintln!("decode: banner {:?}", b.line()),
        _ => {}
    });
    if let Err(e) = result {
        eprintln!("decode: read error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = write_error.map_or_else(|| out.flush(), Err)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("decode: write error: {e}");
        return ExitCode::from(2);
    }
    if failed > 0 {
        eprintln!("decode: {failed} message(s) failed");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Decodes a whole AMI byte stream, calling `on_frame` for every frame.
/// The stream is read in 64 KiB chunks, as a socket would deliver it.
fn decode_stream(mut input: impl Read, mut on_frame: impl FnMut(Frame)) -> std::io::Result<()> {
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
