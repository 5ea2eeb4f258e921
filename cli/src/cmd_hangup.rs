//! `bigchat-voice hangup CALL`: hang up a live call.
//!
//! The call's channels are taken from the PBX's own list and each is hung
//! up (normal clearing). The daemon, if it runs, sees the hangup and ends
//! the record as usual.

use bigchat_voice::control;

use crate::args::HangupArgs;
use crate::config::Settings;
use crate::exit::{Code, coded};

/// Runs the command.
pub async fn run(settings: &Settings, args: &HangupArgs) -> anyhow::Result<()> {
    let servers = settings.servers(&args.server)?;
    let [server] = servers.as_slice() else {
        return Err(coded(
            Code::Usage,
            "hangup acts on one PBX: choose it with --server",
        ));
    };
    let (client, _events) = crate::ami::connect(server, Some("off")).await?;
    let result = control::hangup_call(&client, &args.call).await;
    client.close().await;
    let channels = result?;
    println!(
        "{}: hung up call {} ({})",
        server.config.name,
        args.call,
        channels.join(", ")
    );
    Ok(())
}
