//! `bigchat-voice calls`: recent call records.

use std::io::Write;

use anyhow::Context;
use bigchat_voice::model::{CallStatus, Direction};
use bigchat_voice::store::{AnyStore, CallFilter, CallRecordRow, Store};
use chrono::{DateTime, Utc};

use crate::args::CallsArgs;
use crate::config::{Settings, clock};
use crate::exit::{Code, coded};

fn time_arg(flag: &str, v: &Option<String>) -> anyhow::Result<Option<DateTime<Utc>>> {
    v.as_ref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    coded(
                        Code::Usage,
                        format!("{flag} {s:?}: {e} (use e.g. 2026-11-24T10:00:00Z)"),
                    )
                })
        })
        .transpose()
}

/// The filter the flags describe.
pub fn filter(settings: &Settings, args: &CallsArgs) -> anyhow::Result<CallFilter> {
    let status = args
        .status
        .as_deref()
        .map(|s| {
            CallStatus::parse(s).ok_or_else(|| {
                coded(
                    Code::Usage,
                    format!("--status {s:?}: use ringing, answered, on_hold, transferred, completed, busy, failed, no_answer or voicemail"),
                )
            })
        })
        .transpose()?;
    let direction = match args.direction.as_deref() {
        None => None,
        Some("inbound") => Some(Direction::Inbound),
        Some("outbound") => Some(Direction::Outbound),
        Some(other) => {
            return Err(coded(
                Code::Usage,
                format!("--direction {other:?}: use inbound or outbound"),
            ));
        }
    };
    Ok(CallFilter {
        company_id: Some(settings.company_id),
        status,
        direction,
        agent_extension: args.agent.clone(),
        since: time_arg("--since", &args.since)?,
        until: time_arg("--until", &args.until)?,
        limit: Some(args.limit),
        ..CallFilter::default()
    })
}

/// Prints rows as an aligned table.
pub fn print_table(out: &mut impl Write, rows: &[CallRecordRow]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<20} {:<9} {:<12} {:<16} {:<14} {:<8} {:>8} {:>6}  UNIQUEID",
        "STARTED (UTC)", "DIRECTION", "STATUS", "CALLER", "CALLED", "AGENT", "DURATION", "TALK"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<20} {:<9} {:<12} {:<16} {:<14} {:<8} {:>8} {:>6}  {}",
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.direction,
            r.status,
            r.caller_id,
            r.called_number,
            r.agent_extension.as_deref().unwrap_or("-"),
            clock(r.duration),
            clock(r.talk_time),
            r.unique_id
        )?;
    }
    Ok(())
}

/// Runs the command.
pub async fn run(settings: &Settings, args: &CallsArgs) -> anyhow::Result<()> {
    let filter = filter(settings, args)?;
    let store = AnyStore::connect(&settings.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                crate::redact_url(&settings.database_url)
            )
        })?;
    let rows = store.recent_calls(&filter).await?;
    store.close().await;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        rows.iter().try_for_each(|r| {
            let call = r.to_call().map_err(std::io::Error::other)?;
            let mut v = serde_json::to_value(&call).map_err(std::io::Error::other)?;
            v["id"] = r.id.into();
            v["ticketId"] = r.ticket_id.into();
            v["contactId"] = r.contact_id.into();
            v["asteriskId"] = r.asterisk_id.into();
            serde_json::to_writer(&mut out, &v).map_err(std::io::Error::other)?;
            out.write_all(b"\n")
        })
    } else if rows.is_empty() {
        writeln!(out, "no calls")
    } else {
        print_table(&mut out, &rows)
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}
