//! `bigchat-voice check`: is everything the connector needs in place?

use ami_client::ClientError;
use ami_proto::Action;
use bigchat_voice::store::AnyStore;

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
    let shown = crate::redact_url(&settings.database_url);
    // Looked at, never migrated or created: `check` changes nothing.
    match AnyStore::inspect(&settings.database_url).await {
        Ok(report) if !report.exists => {
            println!(
                "note  database {shown} does not exist yet: `bigchat-voice db migrate` (or `listen`) \
                 creates it ({})",
                crate::describe_mode(report.mode)
            );
        }
        Ok(report) if report.pending > 0 || report.legacy => {
            println!(
                "note  database {shown} ({}): {} — run `bigchat-voice db migrate` (back up first)",
                crate::describe_mode(report.mode),
                if report.legacy {
                    "an earlier bigchat-voice schema, to be upgraded".to_string()
                } else {
                    format!("{} migration(s) pending", report.pending)
                }
            );
        }
        Ok(report) => {
            println!(
                "ok    database {shown} ({}; schema up to date)",
                crate::describe_mode(report.mode),
            );
            problems += check_mapping(settings).await;
        }
        Err(e) => {
            problems += 1;
            println!("FAIL  database {shown}: {}", crate::describe_error(&e));
        }
    }
    let servers = settings.servers(args)?;
    for server in &servers {
        let name = &server.config.name;
        let (client, mut events) = match crate::ami::connect(server, None).await {
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
        for line in unmapped(&client, settings).await {
            println!("warn  {name}: {line}");
        }
        // Read classes cannot be asked for; the one a login shows is
        // `system`: Asterisk greets every session with FullyBooted.
        let booted = tokio::time::timeout(std::time::Duration::from_secs(3), async {
            while let Some(m) = events.next_event().await {
                if m.is_event("FullyBooted") {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if booted {
            println!("ok    {name}: read class system (FullyBooted): PBX restarts are recognised");
        } else {
            println!(
                "warn  {name}: no FullyBooted after login: the AMI user seems to lack the \
                 `system` read class (or `events` leaves it out); PBX restarts are then not \
                 recognised as such"
            );
        }
        println!(
            "      the tracker also reads `call` (every call), `dialplan` (recording file names, \
             VarSet; where calls enter the dialplan), `agent` (queues); `listen` warns when the \
             events show one missing"
        );
        client.close().await;
    }
    if problems == 0 {
        println!("all checks passed");
        Ok(())
    } else {
        Err(coded(Code::Usage, format!("{problems} check(s) failed")))
    }
}

/// In attach mode, the configured company, users and queues that BigChat
/// lacks (FAIL lines); the number of problems.
async fn check_mapping(settings: &Settings) -> usize {
    // Read only: nothing is created or migrated by a check.
    let users = settings.tracker.user_list();
    let queues = settings.tracker.queue_list();
    match AnyStore::inspect_references(&settings.database_url, settings.company_id, &users, &queues)
        .await
    {
        Ok(missing) => {
            for m in &missing {
                println!("FAIL  mapping: {m}");
            }
            missing.len()
        }
        Err(e) => {
            println!(
                "FAIL  cannot read BigChat's users and queues: {}",
                crate::describe_error(&e)
            );
            1
        }
    }
}

/// The PBX's phones and queues that the configuration does not map to a
/// BigChat user or queue: their calls are stored, but a call answered on
/// such a phone leaves its ticket pending with no agent, and a call through
/// such a queue takes the default queue (`"*"`) or none — and BigChat shows
/// an agent only the tickets of the agent's queues.
async fn unmapped(client: &ami_client::Client, settings: &Settings) -> Vec<String> {
    let tracker = &settings.tracker;
    let mut out = Vec::new();
    let mut phones = std::collections::BTreeSet::new();
    let mut listed = false;
    // PJSIP endpoints, then chan_sip peers (either module may be absent).
    for (action, tech) in [("PJSIPShowEndpoints", "PJSIP"), ("SIPpeers", "SIP")] {
        let Ok(list) = client.send_list(Action::new(action)).await else {
            continue;
        };
        listed = true;
        for item in &list.items {
            let Some(name) = item.get("ObjectName").map(|v| v.to_string()) else {
                continue;
            };
            let channel = format!("{tech}/{name}-0");
            if tracker.is_trunk_channel(&channel) || !tracker.is_internal_extension(&name) {
                continue;
            }
            phones.insert(name);
        }
    }
    if !listed {
        out.push(
            "cannot list the PBX's endpoints (PJSIPShowEndpoints and SIPpeers need the \
             `system` write right): extensions without a BigChat user are not named"
                .to_string(),
        );
    }
    for phone in phones {
        if tracker.user_for(&phone).is_none() {
            out.push(format!(
                "extension {phone} has no BigChat user ([tracker.users]): calls it answers stay pending"
            ));
        }
    }
    if let Ok(list) = client.send_list(Action::new("QueueSummary")).await {
        let mut queues = std::collections::BTreeSet::new();
        for item in &list.items {
            if let Some(queue) = item.get("Queue") {
                queues.insert(queue.to_string());
            }
        }
        for queue in queues {
            if !tracker.queues.contains_key(&queue) {
                let fallback = if tracker.queues.contains_key("*") {
                    "its calls go to the default queue \"*\""
                } else {
                    "its tickets get no BigChat queue, which agents do not see"
                };
                out.push(format!(
                    "PBX queue {queue:?} has no BigChat queue ([tracker.queues]): {fallback}"
                ));
            }
        }
    }
    out
}
