//! `bigchat-voice calls`: recent call records.

use std::io::Write;

use anyhow::Context;
use bigchat_voice::model::{Call, CallStatus, Direction};
use bigchat_voice::store::{CallFilter, CallRecordRow, Store, format_duration};
use chrono::{DateTime, Utc};

use crate::args::CallsArgs;
use crate::config::Settings;
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
        Some(d) => match Direction::parse(d) {
            Some(d) => Some(d),
            None => {
                return Err(coded(
                    Code::Usage,
                    format!("--direction {d:?}: use inbound, outbound or internal"),
                ));
            }
        },
    };
    Ok({
        let mut c = CallFilter::default();
        c.company_id = Some(settings.company_id);
        c.status = status;
        c.direction = direction;
        c.agent_extension = args.agent.clone();
        c.since = time_arg("--since", &args.since)?;
        c.until = time_arg("--until", &args.until)?;
        c.limit = Some(args.limit);
        c
    })
}

/// Prints calls as an aligned table (also the `listen --replay` summary).
pub fn print_table<'a>(
    out: &mut impl Write,
    calls: impl IntoIterator<Item = &'a Call>,
) -> std::io::Result<()> {
    writeln!(out, "{}", table_header())?;
    for c in calls {
        writeln!(out, "{}", table_row(c))?;
    }
    Ok(())
}

/// The header line of [`print_table`].
pub fn table_header() -> String {
    format!(
        "{:<20} {:<9} {:<12} {:<16} {:<14} {:<8} {:>8} {:>6}  UNIQUEID",
        "STARTED (UTC)", "DIRECTION", "STATUS", "CALLER", "CALLED", "AGENT", "DURATION", "TALK"
    )
}

/// One call's line of [`print_table`] (no line end).
pub fn table_row(c: &Call) -> String {
    format!(
        "{:<20} {:<9} {:<12} {:<16} {:<14} {:<8} {:>8} {:>6}  {}",
        c.started_at.format("%Y-%m-%d %H:%M:%S"),
        c.direction.as_str(),
        c.status.as_str(),
        c.caller_id,
        c.called_number,
        c.agent_extension.as_deref().unwrap_or("-"),
        format_duration(c.duration),
        format_duration(c.talk_time),
        c.unique_id
    )
}

/// Runs the command.
pub async fn run(settings: &Settings, args: &CallsArgs) -> anyhow::Result<()> {
    let filter = filter(settings, args)?;
    let store = crate::open_store(settings, bigchat_voice::store::Creation::Nothing).await?;
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
        rows.iter()
            .map(CallRecordRow::to_call)
            .collect::<Result<Vec<Call>, _>>()
            .map_err(std::io::Error::other)
            .and_then(|calls| print_table(&mut out, &calls))
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}
