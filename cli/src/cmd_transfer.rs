//! `bigchat-voice transfer CALL`: blind or attended transfer of a live
//! call's other party to an extension or a queue, from the agent's channel
//! (the library's [`control`] code, as the control API uses it).

use bigchat_voice::control::{self, TransferKind};
use bigchat_voice::store::Store;

use crate::args::TransferArgs;
use crate::config::Settings;
use crate::exit::{Code, coded};

/// Runs the command.
pub async fn run(settings: &Settings, args: &TransferArgs) -> anyhow::Result<()> {
    let servers = settings.servers(&args.server)?;
    let [server] = servers.as_slice() else {
        return Err(coded(
            Code::Usage,
            "transfer acts on one PBX: choose it with --server",
        ));
    };
    let target = if args.complete || args.cancel {
        None
    } else {
        Some(
            settings
                .file
                .control
                .target(args.extension.as_deref(), args.queue.as_deref())
                .map_err(|e| coded(Code::Usage, e))?,
        )
    };
    let agent = match &args.agent {
        Some(a) => a.clone(),
        None => {
            let store = crate::open_store_for_calls(settings).await?;
            let asterisk_id = crate::register_server(&store, settings, &server.config).await?;
            let filter = {
                let mut c = bigchat_voice::store::CallFilter::default();
                c.asterisk_id = Some(asterisk_id);
                c.unique_id = Some(args.call.clone());
                c.limit = Some(1);
                c
            };
            let row = store.recent_calls(&filter).await?.pop();
            store.close().await;
            let Some(row) = row else {
                return Err(coded(
                    Code::Usage,
                    format!(
                        "no call {} on {} (see `calls`)",
                        args.call, server.config.name
                    ),
                ));
            };
            row.agent_extension.ok_or_else(|| {
                coded(
                    Code::Refused,
                    format!(
                        "call {} has no agent yet (not answered?): name one with --agent",
                        args.call
                    ),
                )
            })?
        }
    };
    let (client, _events) = crate::ami::connect(server, Some("off")).await?;
    let result = match target {
        None if args.complete => control::complete_transfer(&client, &args.call, &agent)
            .await
            .map(|ch| format!("attended transfer completed ({ch} hung up)")),
        None => control::cancel_transfer(&client, &args.call, &agent)
            .await
            .map(|ch| format!("attended transfer cancelled ({ch} is back on the call)")),
        Some(exten) => {
            let kind = if args.attended {
                TransferKind::Attended
            } else {
                TransferKind::Blind
            };
            control::transfer_call(
                &client,
                &args.call,
                &agent,
                kind,
                &exten,
                settings.file.control.transfer_context.as_deref(),
            )
            .await
            .map(|t| {
                format!(
                    "{} transfer of call {} to {} from {}",
                    t.kind.as_str(),
                    args.call,
                    t.exten,
                    t.channel
                )
            })
        }
    };
    client.close().await;
    println!("{}: {}", server.config.name, result?);
    Ok(())
}
