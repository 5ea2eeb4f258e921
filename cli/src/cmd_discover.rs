//! `bigchat-voice discover`: propose the `[tracker]` section from the PBX.
//!
//! Logs in, asks the PBX its endpoints, peers, registrations and queues
//! (read-only actions; see `bigchat_voice::discover`), and prints the
//! proposed section with the reason for every value. Nothing is written
//! unless `--output FILE` asks for it, and an existing file is only
//! replaced with `--force`.

use std::io::Write as _;

use anyhow::Context;
use bigchat_voice::discover;

use crate::args::DiscoverArgs;
use crate::config::Settings;
use crate::exit::{Code, coded};

/// Runs the command.
pub async fn run(settings: &Settings, args: &DiscoverArgs) -> anyhow::Result<()> {
    // Said before anything is asked of the PBX.
    if let Some(path) = &args.output
        && !args.force
        && path.exists()
    {
        return Err(refuse_existing(path));
    }
    let servers = settings.servers(&args.server)?;
    let [server] = servers.as_slice() else {
        return Err(coded(
            Code::Usage,
            "discover looks at one PBX: choose it with --server",
        ));
    };
    let c = &server.config;
    let (client, _events) = crate::ami::connect(server, Some("off")).await?;
    let version = client
        .banner_version()
        .map(|v| format!(" (AMI {v})"))
        .unwrap_or_default();
    let inventory = discover::collect(&client).await;
    client.close().await;
    let inventory = inventory.with_context(|| format!("discovery on {:?} failed", c.name))?;
    let proposal = inventory.propose();
    for warning in &proposal.warnings {
        tracing::warn!(server = %c.name, "{warning}");
    }
    if proposal.all_denied() {
        return Err(coded(
            Code::Refused,
            format!(
                "{}: the AMI user may not list endpoints, peers or registrations: {}",
                c.name,
                proposal.warnings.join("; ")
            ),
        ));
    }
    let source = format!("PBX {:?} at {}:{}{version}", c.name, c.host, c.port);
    let text = proposal.to_toml(&source);
    match &args.output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to stdout")?;
        }
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true);
            if args.force {
                options.create(true).truncate(true);
            } else {
                // Checked again here, atomically: a file made meanwhile is kept.
                options.create_new(true);
            }
            let mut file = match options.open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(refuse_existing(path));
                }
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
                    );
                }
            };
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote the proposed [tracker] section to {} ({} trunk(s), {} phone(s), {} queue(s), {} warning(s))",
                path.display(),
                proposal.trunks.len(),
                proposal.phones.len(),
                proposal.queues.len(),
                proposal.warnings.len()
            );
        }
    }
    Ok(())
}

fn refuse_existing(path: &std::path::Path) -> anyhow::Error {
    coded(
        Code::Usage,
        format!(
            "{} already exists: not overwritten (use --force to replace it)",
            path.display()
        ),
    )
}
