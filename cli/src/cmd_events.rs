//! `bigchat-voice events`: a raw event tail for debugging.

use std::io::Write;

use ami_client::StreamItem;
use ami_proto::{Message, MessageKind};
use anyhow::Context;

use crate::args::EventsArgs;
use crate::config::{Settings, parse_pair};
use crate::exit::{Code, coded};

/// Which events to show.
struct Selection {
    names: Vec<String>,
    matches: Vec<(String, String)>,
}

impl Selection {
    fn new(args: &EventsArgs) -> anyhow::Result<Selection> {
        let matches = args
            .matches
            .iter()
            .map(|m| parse_pair(m, "--match").map_err(|e| coded(Code::Usage, e.to_string())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Selection {
            names: args.events.clone(),
            matches,
        })
    }

    fn wants(&self, m: &Message) -> bool {
        if m.kind() != MessageKind::Event {
            return false;
        }
        if !self.names.is_empty() && !self.names.iter().any(|n| m.is_event(n)) {
            return false;
        }
        self.matches
            .iter()
            .all(|(k, v)| m.get_all(k).any(|got| got == v.as_str()))
    }
}

fn print(out: &mut impl Write, m: &Message, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, m)?;
        out.write_all(b"\n")?;
    } else {
        for h in m.headers() {
            writeln!(out, "{}: {}", h.name, h.value)?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Runs the command.
pub async fn run(settings: &Settings, args: &EventsArgs) -> anyhow::Result<()> {
    let selection = Selection::new(args)?;
    let stdout = std::io::stdout();
    let mut shown = 0u64;
    let limit = args.count.unwrap_or(u64::MAX);
    if let Some(path) = &args.replay {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut codec = ami_proto::AmiCodec::new();
        let mut buf = ami_proto::bytes::BytesMut::from(&data[..]);
        let mut out = stdout.lock();
        loop {
            let frame = match codec.decode_frame(&mut buf) {
                Some(f) => f,
                None => match codec.decode_frame_eof(&mut buf) {
                    Some(f) => f,
                    None => break,
                },
            };
            match frame {
                ami_proto::Frame::Message(m) if selection.wants(&m) && shown < limit => {
                    shown += 1;
                    if let Err(e) = print(&mut out, &m, args.json) {
                        return broken_pipe_ok(e);
                    }
                }
                ami_proto::Frame::Skipped(e) => tracing::warn!("skipped a message: {e}"),
                _ => {}
            }
        }
        return Ok(());
    }

    let servers = settings.servers(&args.server)?;
    let [server] = servers.as_slice() else {
        return Err(coded(
            Code::Usage,
            "`events` watches one server: pick one with --server",
        ));
    };
    let (client, mut stream) = crate::ami::connect(server, Some("on")).await?;
    tracing::info!(server = %server.config.name, "watching events (Ctrl-C to stop)");
    let mut out = stdout.lock();
    loop {
        tokio::select! {
            item = stream.recv() => match item {
                Some(StreamItem::Event(m)) => {
                    if selection.wants(&m) {
                        shown += 1;
                        if let Err(e) = print(&mut out, &m, args.json) {
                            client.close().await;
                            return broken_pipe_ok(e);
                        }
                        if shown >= limit {
                            break;
                        }
                    }
                }
                Some(StreamItem::Lagged { missed }) => {
                    tracing::warn!(missed, "output too slow: events were skipped");
                }
                Some(StreamItem::Reconnected { version }) => {
                    tracing::warn!(%version, "reconnected: events may have been missed");
                }
                Some(_) => {}
                None => break,
            },
            _ = crate::signal::shutdown() => break,
        }
    }
    client.close().await;
    Ok(())
}

fn broken_pipe_ok(e: std::io::Error) -> anyhow::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e).context("cannot write to stdout")
    }
}
