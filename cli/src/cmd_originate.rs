//! `bigchat-voice originate`: click-to-call.

use ami_client::StreamItem;
use ami_proto::Event;
use anyhow::Context;
use bigchat_voice::control;
use bigchat_voice::model::Effect;
use bigchat_voice::store::Store;

use crate::args::OriginateArgs;
use crate::config::{Settings, parse_pair};
use crate::exit::{Code, coded};

/// Runs the command.
pub async fn run(settings: &Settings, args: &OriginateArgs) -> anyhow::Result<()> {
    let mut req = control::OriginateRequest::new(args.from.clone(), args.to.clone());
    req.ticket_id = args.ticket;
    req.timeout = args.timeout;
    req.idempotency_key = args.idempotency_key.clone();
    req.user_id = settings.tracker.user_for(&args.from);
    for v in &args.vars {
        let (name, value) =
            parse_pair(v, "--var").map_err(|e| coded(Code::Usage, e.to_string()))?;
        req.variables.insert(name, value);
    }
    // Refuse anything unsafe before touching the database or the network.
    let to = req.validate()?;
    let servers = settings.servers(&args.server)?;
    let [server] = servers.as_slice() else {
        return Err(coded(
            Code::Usage,
            "`originate` uses one server: pick one with --server",
        ));
    };

    let store = crate::open_store_for_calls(settings).await?;
    let asterisk_id = crate::register_server(&store, settings, &server.config).await?;
    let (client, mut stream) = crate::ami::connect(server, Some("call")).await?;
    let placed = control::originate(
        &client,
        &store,
        control::Placement::new(asterisk_id, settings.company_id),
        &settings.file.originate.dialplan(),
        &req,
    )
    .await;
    let placed = match placed {
        Ok(p) => p,
        Err(e) => {
            client.close().await;
            store.close().await;
            return Err(anyhow::Error::new(e).context(format!("no call placed to {}", args.to)));
        }
    };
    let unique_id = placed.unique_id.clone();
    let action_id = placed.action_id.clone().unwrap_or_default();
    if placed.replayed {
        println!("already placed (same idempotency key): call {unique_id}");
        client.close().await;
        store.close().await;
        return Ok(());
    }
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
            if let Some(ended) = failed_call(&store, asterisk_id, &unique_id).await {
                store
                    .apply(asterisk_id, settings.company_id, &Effect::CallEnded(ended))
                    .await
                    .context("cannot record the failed call")?;
            }
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

/// The record of placed call `unique_id`, ended `failed` now (`None` when
/// a running daemon ended it already).
async fn failed_call(
    store: &bigchat_voice::store::AnyStore,
    asterisk_id: i64,
    unique_id: &str,
) -> Option<bigchat_voice::model::Call> {
    let filter = {
        let mut c = bigchat_voice::store::CallFilter::default();
        c.asterisk_id = Some(asterisk_id);
        c.unique_id = Some(unique_id.to_owned());
        c.limit = Some(1);
        c
    };
    let row = store.recent_calls(&filter).await.ok()?.pop()?;
    if row.call_status().ok()?.is_final() {
        return None;
    }
    let call = row.to_call().ok()?;
    let started = call.started_at;
    Some(control::failed(call, started))
}
