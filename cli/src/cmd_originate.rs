//! `bigchat-voice originate`: click-to-call.

use ami_client::StreamItem;
use ami_proto::{Event, Originate, OriginateTarget};
use anyhow::Context;
use bigchat_voice::model::{Call, CallStatus, Direction, Effect};
use bigchat_voice::store::Store;
use bigchat_voice::tracker::normalize_number;
use chrono::Utc;

use crate::args::OriginateArgs;
use crate::config::{Settings, parse_pair};
use crate::exit::{Code, coded};

/// Checks an agent extension: 1 to 20 characters, letters, digits, `_`, `-`.
pub fn validate_extension(ext: &str) -> anyhow::Result<()> {
    let ok = !ext.is_empty()
        && ext.len() <= 20
        && ext
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(coded(
            Code::Usage,
            format!("--from {ext:?} is not an extension (letters, digits, '_' or '-', at most 20)"),
        ))
    }
}

/// Checks and normalises a phone number typed by a user: digits with an
/// optional leading `+`, and the usual separators (spaces, `-`, `.`, `(`,
/// `)`), 3 to 20 digits. Anything else (letters, control characters, CR/LF)
/// is refused.
pub fn validate_number(raw: &str) -> anyhow::Result<String> {
    let trimmed = raw.trim();
    let allowed = trimmed.char_indices().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')') || (c == '+' && i == 0)
    });
    let digits = trimmed.bytes().filter(u8::is_ascii_digit).count();
    if !allowed || !(3..=20).contains(&digits) {
        return Err(coded(
            Code::Usage,
            format!(
                "--to {raw:?} is not a phone number (digits, optional leading '+', 3 to 20 digits)"
            ),
        ));
    }
    Ok(normalize_number(trimmed))
}

fn fill(template: &str, ext: &str, to: &str) -> String {
    template.replace("{ext}", ext).replace("{to}", to)
}

/// Runs the command.
pub async fn run(settings: &Settings, args: &OriginateArgs) -> anyhow::Result<()> {
    validate_extension(&args.from)?;
    let to = validate_number(&args.to)?;
    let vars = args
        .vars
        .iter()
        .map(|v| {
            let (name, value) =
                parse_pair(v, "--var").map_err(|e| coded(Code::Usage, e.to_string()))?;
            // A plain channel variable (inherited with a `_`/`__` prefix),
            // never a dialplan function such as FILE(...) or SHELL(...).
            let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                return Err(coded(
                    Code::Usage,
                    format!("--var {name:?}: a variable name is letters, digits and _"),
                ));
            }
            Ok((name, value))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let servers = settings.servers(&args.server)?;
    let [server] = servers.as_slice() else {
        return Err(coded(
            Code::Usage,
            "`originate` uses one server: pick one with --server",
        ));
    };

    let store = crate::open_store_for_calls(settings).await?;
    if let Some(ticket) = args.ticket
        && store.ticket(ticket).await?.is_none()
    {
        return Err(coded(
            Code::Usage,
            format!("--ticket {ticket}: no such ticket"),
        ));
    }
    let asterisk_id = crate::register_server(&store, settings, &server.config).await?;

    let oc = &settings.file.originate;
    let started = Utc::now();
    let unique_id = format!(
        "bcv-{}.{:06x}",
        started.timestamp_millis(),
        rand::random::<u32>() & 0xff_ffff
    );
    let mut originate = Originate::new(
        fill(&oc.channel, &args.from, &to),
        OriginateTarget::Exten {
            context: oc.context.clone(),
            exten: to.clone(),
            priority: oc.priority.clone(),
        },
    )
    .timeout(args.timeout)
    .caller_id(fill(&oc.caller_id, &args.from, &to))
    .channel_id(unique_id.clone());
    if let Some(ticket) = args.ticket {
        originate = originate.variable("BIGCHAT_TICKET", ticket.to_string())?;
    }
    for (k, v) in vars {
        originate = originate
            .variable(k, v)
            .map_err(|e| coded(Code::Usage, format!("--var: {e}")))?;
    }
    let action = originate.build();
    // Refuse anything unsafe before touching the network.
    action
        .validate()
        .map_err(|e| coded(Code::Usage, format!("refusing to originate: {e}")))?;

    let (client, mut stream) = crate::ami::connect(server, Some("call")).await?;
    let call = Call {
        caller_id: args.from.clone(),
        called_number: to.clone(),
        contact_number: to.clone(),
        agent_extension: Some(args.from.clone()),
        user_id: settings.tracker.user_for(&args.from),
        ..Call::ringing(unique_id.clone(), Direction::Outbound, started)
    };
    // The record exists before the PBX hears of the call, so that a
    // failure it reports at once (`OriginateFailed` in a running `listen`)
    // always finds it.
    if let Err(e) = store
        .apply(
            asterisk_id,
            settings.company_id,
            &Effect::CallStarted(call.clone()),
        )
        .await
    {
        client.close().await;
        return Err(anyhow::Error::new(e).context("cannot record the outbound call"));
    }
    let response = match client.send(action).await {
        Ok(r) => r,
        Err(e) => {
            client.close().await;
            let ended = failed(call, started);
            if let Err(err) = store
                .apply(asterisk_id, settings.company_id, &Effect::CallEnded(ended))
                .await
            {
                tracing::error!(error = %err, call = %unique_id, "cannot record the failed call");
            }
            store.close().await;
            return Err(
                anyhow::Error::new(e).context(format!("Asterisk did not accept the call to {to}"))
            );
        }
    };
    let action_id = response
        .action_id()
        .map(|v| v.to_string())
        .unwrap_or_default();
    println!("calling {to} from {}: call {unique_id}", args.from);
    if !args.wait {
        client.close().await;
        store.close().await;
        return Ok(());
    }

    let deadline = tokio::time::sleep(args.timeout + std::time::Duration::from_secs(30));
    tokio::pin!(deadline);
    let outcome = loop {
        tokio::select! {
            item = stream.recv() => match item {
                Some(StreamItem::Event(m)) => {
                    if let Some(Event::OriginateResponse(r)) = Event::from_message(&m)
                        && r.message().action_id().is_some_and(|id| id == action_id.as_str())
                    {
                        break Ok((r.succeeded(), r.reason()));
                    }
                }
                Some(_) => {}
                None => break Err(coded(Code::Unreachable, "connection to Asterisk closed while waiting")),
            },
            _ = &mut deadline => break Err(coded(Code::Timeout, "no answer from Asterisk in time")),
            _ = crate::signal::shutdown() => break Err(coded(Code::Interrupted, "interrupted")),
        }
    };
    client.close().await;
    let result = match outcome {
        Ok((true, _)) => {
            println!("agent {} answered; dialling {to}", args.from);
            Ok(())
        }
        Ok((false, reason)) => {
            let why = match reason {
                Some(3) => "the agent's phone did not answer",
                Some(5) => "the agent's phone is busy",
                Some(8) => "congestion",
                Some(1) => "hung up",
                _ => "the agent's phone could not be reached or rejected the call",
            };
            let ended = failed(call, started);
            store
                .apply(asterisk_id, settings.company_id, &Effect::CallEnded(ended))
                .await
                .context("cannot record the failed call")?;
            Err(coded(
                Code::CallFailed,
                format!(
                    "call to {to} failed: {why} (reason {})",
                    reason.map_or(-1, i64::from)
                ),
            ))
        }
        Err(e) => Err(e),
    };
    store.close().await;
    result
}

/// The placed call, ended `failed` now.
fn failed(mut call: Call, started: chrono::DateTime<Utc>) -> Call {
    let now = Utc::now();
    call.status = CallStatus::Failed;
    call.ended_at = Some(now);
    call.duration = (now - started).num_seconds().max(0);
    call
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_validated() {
        assert_eq!(
            validate_number("+55 11 99999-0002").unwrap(),
            "+5511999990002"
        );
        assert_eq!(validate_number("(011) 9999.0002").unwrap(), "01199990002");
        for bad in [
            "",
            "12",
            "+55\r\nAction: Command",
            "abc123",
            "55+11",
            "1".repeat(21).as_str(),
        ] {
            assert!(validate_number(bad).is_err(), "{bad:?}");
        }
        assert!(validate_extension("1001").is_ok());
        for bad in ["", "10 01", "1001\r\n", "PJSIP/1001"] {
            assert!(validate_extension(bad).is_err(), "{bad:?}");
        }
    }
}
