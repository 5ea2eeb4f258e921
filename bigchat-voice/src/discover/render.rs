//! The proposal as a TOML `[tracker]` section: values with their reasons
//! as comments, what the PBX cannot know as commented-out lines.

use std::fmt::Write as _;

use super::proposal::{ModuleState, Proposal};

/// A TOML basic string: `"…"` with `"`, `\` and control characters escaped.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a comment: one line, no control characters (a PBX's value
/// cannot end the comment and start a key).
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn modules_line(p: &Proposal) -> String {
    let parts: Vec<String> = p
        .modules
        .iter()
        .filter(|m| m.state != ModuleState::NotAsked)
        .map(|m| {
            let noun = match m.module {
                super::Module::Pjsip => "endpoint",
                super::Module::ChanSip => "peer",
                _ => "queue",
            };
            match &m.state {
                ModuleState::Found { items } => {
                    let s = if *items == 1 { "" } else { "s" };
                    format!("{}: {items} {noun}{s}", m.module)
                }
                ModuleState::NotLoaded => format!("{}: not loaded", m.module),
                ModuleState::Denied { right } => {
                    format!("{}: not readable (write= needs {right})", m.module)
                }
                ModuleState::Failed { message } => {
                    format!("{}: refused ({})", m.module, comment(message))
                }
                _ => format!("{}: not asked", m.module),
            }
        })
        .collect();
    parts.join("; ")
}

fn array(out: &mut String, key: &str, items: &[(String, String)], none: &str) {
    if items.is_empty() {
        let _ = writeln!(out, "# {key}: {none}");
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for (value, reason) in items {
        let _ = writeln!(out, "    # {}", comment(reason));
        let _ = writeln!(out, "    {},", quoted(value));
    }
    let _ = writeln!(out, "]");
}

pub(crate) fn to_toml(p: &Proposal, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# [tracker] proposed by `bigchat-voice discover` from {}.",
        comment(source)
    );
    let _ = writeln!(
        out,
        "# Every value says why it is there: read them before using this section."
    );
    let _ = writeln!(out, "# Found: {}.", modules_line(p));
    if !p.warnings.is_empty() {
        let _ = writeln!(out, "#");
        for w in &p.warnings {
            let _ = writeln!(out, "# WARNING: {}", comment(w));
        }
    }
    if !p.left_out.is_empty() {
        let _ = writeln!(out, "#");
        let _ = writeln!(
            out,
            "# Left out (neither a trunk nor a phone by the rules):"
        );
        for l in &p.left_out {
            let _ = writeln!(out, "#   {}: {}", comment(&l.device), comment(&l.reason));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "[tracker]");
    let trunks: Vec<(String, String)> = p
        .trunks
        .iter()
        .map(|t| {
            (
                t.channel_prefix.clone(),
                format!("{}: {}", t.channel_prefix, t.reasons.join("; ")),
            )
        })
        .collect();
    array(
        &mut out,
        "trunks",
        &trunks,
        "no trunk found, so the key is left out (the default applies)",
    );
    let contexts: Vec<(String, String)> = p
        .inbound_contexts
        .iter()
        .map(|c| (c.value.clone(), c.reason.clone()))
        .collect();
    array(
        &mut out,
        "inboundContexts",
        &contexts,
        "no trunk context found, so the key is left out (the default applies)",
    );
    let extensions: Vec<(String, String)> = p
        .extensions
        .iter()
        .map(|e| (e.value.clone(), e.reason.clone()))
        .collect();
    array(
        &mut out,
        "extensions",
        &extensions,
        "no phone found, so the key is left out (the digit-count rule, extensionMinDigits/extensionMaxDigits, applies)",
    );

    if !p.phones.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "# Extension -> BigChat user id (Users.id), which the PBX cannot know:"
        );
        let _ = writeln!(
            out,
            "# uncomment a line and put the agent's user id in place of USER_ID."
        );
        let _ = writeln!(out, "[tracker.users]");
        for ph in &p.phones {
            let mut about = ph.device.clone();
            if let Some(cid) = &ph.caller_id {
                let _ = write!(about, ", caller id {cid}");
            }
            let _ = write!(about, ": {}", ph.reasons.join("; "));
            let _ = writeln!(
                out,
                "# {} = USER_ID  # {}",
                quoted(&ph.extension),
                comment(&about)
            );
        }
    }
    if !p.queues.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "# PBX queue -> BigChat queue id (Queues.id), which the PBX cannot know:"
        );
        let _ = writeln!(
            out,
            "# uncomment a line and put the queue's id in place of QUEUE_ID (\"*\": calls through no mapped queue)."
        );
        let _ = writeln!(out, "[tracker.queues]");
        for q in &p.queues {
            let mut about = String::new();
            if let Some(s) = &q.strategy {
                let _ = write!(about, "strategy {s}; ");
            }
            if q.members.is_empty() {
                about.push_str("no members");
            } else {
                let members: Vec<String> = q
                    .members
                    .iter()
                    .map(|m| match &m.extension {
                        Some(e) if *e == m.name => format!("{e} ({})", m.interface),
                        Some(e) => format!("{} = extension {e} ({})", m.name, m.interface),
                        None => format!("{} ({}, not a phone found here)", m.name, m.interface),
                    })
                    .collect();
                let _ = write!(about, "members: {}", members.join(", "));
            }
            let _ = writeln!(
                out,
                "# {} = QUEUE_ID  # {}",
                quoted(&q.name),
                comment(&about)
            );
        }
        let _ = writeln!(out, "# \"*\" = QUEUE_ID");
    }
    out
}
