//! The rules (see the module docs): devices and their signs in, a
//! [`Proposal`] out.

use std::collections::{BTreeMap, BTreeSet};

use super::device::{
    Device, caller_id_number, is_extension_number, items, pjsip_devices, sip_devices, text,
};
use super::proposal::{
    Conflict, LeftOut, Module, ModuleState, ModuleStatus, Phone, Proposal, Queue, QueueMember,
    Reasoned, Trunk,
};
use super::ranges::compress;
use super::{Answer, Inventory, Query};

// The context names the tracker knows (one list for both).
use crate::tracker::classify::{PHONE_CONTEXTS, TRUNK_CONTEXTS, context_in};

/// Words in an endpoint's name that say it is a trunk.
const TRUNK_WORDS: &[&str] = &["trunk", "provider", "pstn", "carrier", "gateway", "sbc"];

/// How a module's refusal reads.
enum Refusal {
    /// `Invalid/unknown command`: the module is not loaded.
    NotLoaded,
    /// `Permission denied`.
    Denied,
    /// Loaded, nothing configured (`No endpoints found`).
    Empty,
    /// Anything else.
    Other(String),
}

fn refusal(message: &str) -> Refusal {
    let m = message.trim().to_ascii_lowercase();
    if m.starts_with("invalid/unknown command") {
        Refusal::NotLoaded
    } else if m.contains("permission denied") {
        Refusal::Denied
    } else if m.starts_with("no ") && m.ends_with(" found") {
        Refusal::Empty
    } else {
        Refusal::Other(message.trim().to_owned())
    }
}

/// The write class an action needs (from each module's
/// `ast_manager_register_xml()`; any one class of the set is enough).
fn right(q: &Query) -> &'static str {
    match q {
        Query::PjsipEndpoints | Query::PjsipEndpoint(_) => "system",
        Query::PjsipRegistrations | Query::SipPeers | Query::SipPeer(_) | Query::SipRegistry => {
            "system or reporting"
        }
        Query::QueueStatus => "none (any AMI user)",
    }
}

fn module_state(inv: &Inventory, q: &Query, item: &str, warnings: &mut Vec<String>) -> ModuleState {
    match inv.answer(q) {
        None => ModuleState::NotAsked,
        Some(Answer::Items(items)) => ModuleState::Found {
            items: items.iter().filter(|m| m.is_event(item)).count(),
        },
        Some(Answer::Refused(message)) => match refusal(message) {
            Refusal::NotLoaded => ModuleState::NotLoaded,
            Refusal::Empty => ModuleState::Found { items: 0 },
            Refusal::Denied => {
                warnings.push(format!(
                    "{} was refused (Permission denied): add `{}` to the AMI user's write= in manager.conf",
                    q.action_name(),
                    right(q)
                ));
                ModuleState::Denied { right: right(q) }
            }
            Refusal::Other(message) => {
                warnings.push(format!("{} was refused: {message}", q.action_name()));
                ModuleState::Failed { message }
            }
        },
    }
}

/// The items of a list that may be refused for a harmless reason; a
/// refusal for another reason is a warning.
fn optional_items<'a>(
    inv: &'a Inventory,
    q: &Query,
    warnings: &mut Vec<String>,
) -> &'a [ami_proto::Message] {
    match items(inv, q) {
        Ok(items) => items,
        Err(Some(why)) => {
            match refusal(why) {
                Refusal::NotLoaded | Refusal::Empty => {}
                Refusal::Denied => warnings.push(format!(
                    "{} was refused (Permission denied): outbound registrations are not seen; add `{}` to the AMI user's write=",
                    q.action_name(),
                    right(q)
                )),
                Refusal::Other(m) => warnings.push(format!("{} was refused: {m}", q.action_name())),
            }
            &[]
        }
        Err(None) => &[],
    }
}

pub(crate) fn propose(inv: &Inventory) -> Proposal {
    let mut p = Proposal::default();
    let mut warnings = Vec::new();
    for (module, q, item) in [
        (Module::Pjsip, Query::PjsipEndpoints, "EndpointList"),
        (Module::ChanSip, Query::SipPeers, "PeerEntry"),
        (Module::Queues, Query::QueueStatus, "QueueParams"),
    ] {
        let state = module_state(inv, &q, item, &mut warnings);
        p.modules.push(ModuleStatus { module, state });
    }

    let mut devices = pjsip_devices(inv);
    pjsip_registrations(inv, &mut devices, &mut warnings);
    let mut peers = sip_devices(inv);
    sip_registry(inv, &mut peers, &mut warnings);
    devices.extend(peers);

    for d in &devices {
        classify(d, &mut p);
    }
    p.trunks
        .sort_by(|a, b| a.channel_prefix.cmp(&b.channel_prefix));
    p.phones.sort_by(|a, b| {
        (a.extension.len(), &a.extension, &a.device).cmp(&(
            b.extension.len(),
            &b.extension,
            &b.device,
        ))
    });
    inbound_contexts(&mut p, &mut warnings);
    extensions(&mut p, &mut warnings);
    queues(inv, &mut p);
    for c in &p.conflicts {
        warnings.push(format!(
            "{} looks like a trunk ({}) and like a phone ({}): left out of both; add it to trunks or extensions yourself",
            c.device,
            c.trunk_reasons.join("; "),
            c.phone_reasons.join("; ")
        ));
    }
    p.warnings = warnings;
    p
}

/// Ties each PJSIP outbound registration to its endpoint: the one it
/// names (`endpoint=`), else the one of its name (FreePBX names both after
/// the trunk), else the one with its outbound auth.
fn pjsip_registrations(inv: &Inventory, devices: &mut [Device], warnings: &mut Vec<String>) {
    for reg in optional_items(inv, &Query::PjsipRegistrations, warnings)
        .iter()
        .filter(|m| m.is_event("OutboundRegistrationDetail"))
    {
        let name = text(reg, "ObjectName").unwrap_or_default();
        let server = text(reg, "ServerUri").unwrap_or_default();
        let status = text(reg, "Status").unwrap_or_else(|| "status unknown".into());
        let auth = text(reg, "OutboundAuth");
        let named = text(reg, "Endpoint");
        let index = named
            .as_ref()
            .and_then(|e| devices.iter().position(|d| &d.name == e))
            .or_else(|| devices.iter().position(|d| d.name == name))
            .or_else(|| {
                let auth = auth.as_ref()?;
                let mut with = devices
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.outbound_auths.contains(auth));
                match (with.next(), with.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            });
        match index {
            Some(i) => {
                let how = if named.as_deref() == Some(devices[i].name.as_str()) {
                    "its endpoint"
                } else if devices[i].name == name {
                    "named like it"
                } else {
                    "with its outbound auth"
                };
                devices[i].trunk_signs.push(format!(
                    "it registers to {server} (registration {name}, {how}: {status})"
                ));
            }
            None => warnings.push(format!(
                "PJSIP registration {name} to {server} ({status}) matches no endpoint{}: its provider's calls arrive on whichever endpoint identifies them",
                named.map(|e| format!(" (it names {e}, which does not exist)")).unwrap_or_default()
            )),
        }
    }
}

/// Ties each chan_sip `register =>` line to its peer: the one whose name,
/// `host=` or `fromdomain=` is the registration's host (narrowed by user
/// name when several are), else the only one with its user name.
fn sip_registry(inv: &Inventory, peers: &mut [Device], warnings: &mut Vec<String>) {
    for reg in optional_items(inv, &Query::SipRegistry, warnings)
        .iter()
        .filter(|m| m.is_event("RegistryEntry"))
    {
        let host = text(reg, "Host").unwrap_or_default();
        let domain = text(reg, "Domain").unwrap_or_default();
        let user = text(reg, "Username").unwrap_or_default();
        let state = text(reg, "State").unwrap_or_else(|| "state unknown".into());
        let by_host: Vec<usize> = peers
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                d.hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(&host) || h.eq_ignore_ascii_case(&domain))
            })
            .map(|(i, _)| i)
            .collect();
        let by_user: Vec<usize> = peers
            .iter()
            .enumerate()
            .filter(|(_, d)| !user.is_empty() && d.users.contains(&user))
            .map(|(i, _)| i)
            .collect();
        let index = match (by_host.as_slice(), by_user.as_slice()) {
            ([one], _) => Some(*one),
            ([], [one]) => Some(*one),
            (many, users) if many.len() > 1 => {
                let both: Vec<usize> = many.iter().filter(|i| users.contains(i)).copied().collect();
                (both.len() == 1).then(|| both[0])
            }
            _ => None,
        };
        match index {
            Some(i) => peers[i].trunk_signs.push(format!(
                "it registers to {host} as {user} (register =>: {state})"
            )),
            None => warnings.push(format!(
                "chan_sip registration to {host} as {user} ({state}) matches no peer by host or user name"
            )),
        }
    }
}

/// A device's extension number and why: its name, else its caller id.
fn extension_of(d: &Device) -> Option<(String, String)> {
    if is_extension_number(&d.name) {
        return Some((d.name.clone(), format!("its name is the number {}", d.name)));
    }
    let cid = d.caller_id.as_deref()?;
    let n = caller_id_number(cid).filter(|n| is_extension_number(n))?;
    Some((n.clone(), format!("its caller id {cid} is the number {n}")))
}

fn classify(d: &Device, p: &mut Proposal) {
    let id = d.id();
    let mut trunk = d.trunk_signs.clone();
    let lower = d.name.to_ascii_lowercase();
    if let Some(word) = TRUNK_WORDS.iter().find(|w| lower.contains(*w)) {
        trunk.push(format!("its name says {word}"));
    }
    let context = d.context.as_deref();
    if let Some(c) = context.filter(|c| context_in(c, TRUNK_CONTEXTS)) {
        trunk.push(format!("its context {c} is where providers' calls arrive"));
    }
    let phone_context = context.filter(|c| context_in(c, PHONE_CONTEXTS));
    let number = extension_of(d);

    let mut phone = Vec::new();
    let is_phone = match (&number, &d.registers_here, &d.fixed_address, phone_context) {
        (Some((_, why)), Some(dynamic), _, _) => {
            phone.push(dynamic.clone());
            phone.push(why.clone());
            true
        }
        (Some((_, why)), None, Some(fixed), Some(c)) => {
            phone.push(why.clone());
            phone.push(format!(
                "its context {c} is where phones place calls ({fixed})"
            ));
            true
        }
        _ => false,
    };
    if is_phone && let Some(c) = phone_context {
        let said = format!("its context {c}");
        if !phone.iter().any(|r| r.starts_with(&said)) {
            phone.push(format!("its context {c} is where phones place calls"));
        }
    }
    let fixed_trunk = match (&d.fixed_address, &number) {
        (Some(fixed), None) => Some(format!("{fixed}, and no extension number")),
        _ => None,
    };
    let is_trunk = !trunk.is_empty() || fixed_trunk.is_some();
    trunk.extend(fixed_trunk);

    if is_trunk && is_phone {
        p.conflicts.push(Conflict {
            device: id,
            trunk_reasons: trunk,
            phone_reasons: phone,
        });
    } else if is_trunk {
        if let Some(c) = context
            && !context_in(c, TRUNK_CONTEXTS)
        {
            trunk.push(format!("its calls arrive in {c}"));
        }
        p.trunks.push(Trunk {
            channel_prefix: id,
            context: d.context.clone(),
            reasons: trunk,
        });
    } else if is_phone {
        let (extension, _) = number.unwrap_or_default();
        p.phones.push(Phone {
            extension,
            device: id,
            caller_id: d.caller_id.clone(),
            context: d.context.clone(),
            reasons: phone,
        });
    } else {
        let reason = if let Some(unread) = &d.unread {
            format!("{unread}, and the list alone does not tell")
        } else {
            match (&number, &d.registers_here, &d.fixed_address) {
                (None, Some(dynamic), _) => format!(
                    "{dynamic}, but neither its name nor its caller id is an extension number"
                ),
                (Some((n, _)), None, Some(fixed)) => format!(
                    "{fixed} with the extension number {n}, in context {}: a phone with a fixed address? add {n} to extensions yourself if so",
                    context.unwrap_or("(none)")
                ),
                _ => "it shows no sign of a trunk or a phone".to_owned(),
            }
        };
        p.left_out.push(LeftOut { device: id, reason });
    }
}

fn inbound_contexts(p: &mut Proposal, warnings: &mut Vec<String>) {
    let mut by_context: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &p.trunks {
        match &t.context {
            Some(c) => by_context
                .entry(c.clone())
                .or_default()
                .push(t.channel_prefix.clone()),
            None => warnings.push(format!(
                "trunk {} shows no context: its calls' context is not proposed",
                t.channel_prefix
            )),
        }
    }
    let phone_contexts: BTreeSet<&str> = p
        .phones
        .iter()
        .filter_map(|ph| ph.context.as_deref())
        .collect();
    for (context, trunks) in by_context {
        let list = trunks.join(", ");
        if phone_contexts.contains(context.as_str()) {
            warnings.push(format!(
                "context {context} is both a trunk's ({list}) and phones': kept out of inboundContexts, or every call the phones place would count as inbound"
            ));
        } else if context_in(&context, PHONE_CONTEXTS) {
            warnings.push(format!(
                "trunk {list} delivers calls into {context}, a phones' context: kept out of inboundContexts"
            ));
        } else {
            let reason = if trunks.len() == 1 {
                format!("the context of trunk {list}")
            } else {
                format!("the context of trunks {list}")
            };
            p.inbound_contexts.push(Reasoned::new(context, reason));
        }
    }
}

fn extensions(p: &mut Proposal, warnings: &mut Vec<String>) {
    let mut devices: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ph in &p.phones {
        devices
            .entry(ph.extension.clone())
            .or_default()
            .push(ph.device.clone());
    }
    for (n, ds) in &devices {
        if ds.len() > 1 {
            warnings.push(format!(
                "extension {n} is more than one phone: {}",
                ds.join(", ")
            ));
        }
    }
    let numbers: Vec<String> = devices.keys().cloned().collect();
    for (entry, covered) in compress(&numbers) {
        let names: Vec<&str> = covered
            .iter()
            .flat_map(|n| devices.get(n).into_iter().flatten().map(String::as_str))
            .collect();
        let reason = match names.as_slice() {
            [one] => format!("the phone {one}"),
            few if few.len() <= 4 => format!("the phones {}", few.join(", ")),
            many => format!(
                "the {} phones {} … {}, every number between them",
                many.len(),
                many[0],
                many[many.len() - 1]
            ),
        };
        p.extensions.push(Reasoned::new(entry, reason));
    }
}

/// `PJSIP/1001` → `1001`; `Local/1001@from-queue/n` → `1001`.
fn interface_endpoint(interface: &str) -> &str {
    let rest = interface.split_once('/').map_or(interface, |(_, r)| r);
    rest.split(['@', '/']).next().unwrap_or(rest)
}

fn queues(inv: &Inventory, p: &mut Proposal) {
    let Ok(list) = items(inv, &Query::QueueStatus) else {
        return;
    };
    let mut queues: BTreeMap<String, Queue> = BTreeMap::new();
    for m in list {
        let Some(name) = text(m, "Queue") else {
            continue;
        };
        if m.is_event("QueueParams") {
            let q = queues
                .entry(name.clone())
                .or_insert_with(|| new_queue(&name));
            q.strategy = text(m, "Strategy");
        } else if m.is_event("QueueMember") {
            let interface = text(m, "Location")
                .or_else(|| text(m, "StateInterface"))
                .unwrap_or_default();
            let endpoint = interface_endpoint(&interface);
            let extension = p
                .phones
                .iter()
                .find(|ph| ph.extension == endpoint || ph.device.ends_with(&format!("/{endpoint}")))
                .map(|ph| ph.extension.clone());
            let member = QueueMember {
                name: text(m, "Name").unwrap_or_else(|| interface.clone()),
                interface,
                extension,
            };
            queues
                .entry(name.clone())
                .or_insert_with(|| new_queue(&name))
                .members
                .push(member);
        }
    }
    p.queues = queues.into_values().collect();
}

fn new_queue(name: &str) -> Queue {
    Queue {
        name: name.to_owned(),
        strategy: None,
        members: Vec::new(),
    }
}
