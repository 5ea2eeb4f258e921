//! `bigchat-voice check`: is everything the connector needs in place?

use ami_client::ClientError;
use ami_proto::Action;
use bigchat_voice::store::{AnyStore, Store};

use crate::args::ServerArgs;
use crate::config::Settings;
use crate::exit::{Code, coded};

/// One probe of an AMI right: the action, what it proves, and whether a
/// server error other than "Permission denied" still means the right is
/// there (e.g. Originate without a channel).
struct Probe {
    what: &'static str,
    hint: &'static str,
    action: Action,
    error_means_allowed: bool,
}

fn probes() -> Vec<Probe> {
    vec![
        Probe {
            what: "Ping (login works)",
            hint: "",
            action: Action::ping(),
            error_means_allowed: false,
        },
        Probe {
            what: "CoreShowChannels (needed by sync)",
            hint: "add `reporting` to the user's write= in manager.conf",
            action: Action::core_show_channels(),
            error_means_allowed: false,
        },
        Probe {
            what: "Originate (needed by click-to-call)",
            hint: "add `originate` to the user's write= in manager.conf",
            // No channel: Asterisk checks the right first, then refuses the
            // request as incomplete; nothing is dialled.
            action: Action::new("Originate"),
            error_means_allowed: true,
        },
        Probe {
            what: "Getvar (reading recordings' file names)",
            hint: "add `reporting` (or `call`) to the user's write= in manager.conf",
            action: Action::getvar(None, "ASTERISK_VERSION_NUM"),
            error_means_allowed: false,
        },
    ]
}

/// Runs the command.
pub async fn run(settings: &Settings, args: &ServerArgs) -> anyhow::Result<()> {
    let mut problems = 0usize;
    match &settings.config_path {
        Some(p) => println!("ok    configuration file {}", p.display()),
        None => println!("note  no configuration file (flags and environment only)"),
    }
    match AnyStore::connect(&settings.database_url).await {
        Ok(store) => {
            println!(
                "ok    database {} ({}, schema up to date)",
                crate::redact_url(&settings.database_url),
                store.backend_name()
            );
            store.close().await;
        }
        Err(e) => {
            problems += 1;
            println!(
                "FAIL  database {}: {e}",
                crate::redact_url(&settings.database_url)
            );
        }
    }
    let servers = settings.servers(args)?;
    for server in &servers {
        let name = &server.config.name;
        let (client, _events) = match crate::ami::connect(server, None).await {
            Ok(c) => c,
            Err(e) => {
                problems += 1;
                println!("FAIL  {name}: {e:#}");
                continue;
            }
        };
        println!(
            "ok    {name}: logged in to {}:{} (AMI {})",
            server.config.host,
            server.config.port,
            client.banner_version().unwrap_or_default()
        );
        for probe in probes() {
            let verdict = match client.send(probe.action).await {
                Ok(_) => Ok(()),
                Err(ClientError::ServerError { message, .. }) => {
                    let denied = message.to_ascii_lowercase().contains("permission denied");
                    if probe.error_means_allowed && !denied {
                        Ok(())
                    } else {
                        Err(message)
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            match verdict {
                Ok(()) => println!("ok    {name}: {}", probe.what),
                Err(why) => {
                    problems += 1;
                    println!("FAIL  {name}: {}: {why}", probe.what);
                    if !probe.hint.is_empty() {
                        println!("      {}", probe.hint);
                    }
                }
            }
        }
        client.close().await;
    }
    if problems == 0 {
        println!("all checks passed");
        Ok(())
    } else {
        Err(coded(Code::Failure, format!("{problems} check(s) failed")))
    }
}
