//! Reading the PBX's answers into devices (PJSIP endpoints, chan_sip
//! peers) and the signs the rules weigh.

use ami_proto::Message;

use super::{Answer, Inventory, Query};

/// A header's text, trimmed; `None` when missing, empty or a placeholder
/// (`<unknown>`, `<none>`…).
pub(crate) fn text(m: &Message, key: &str) -> Option<String> {
    let v = m.get(key)?;
    if v.is_placeholder() {
        return None;
    }
    let t = v.to_str();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A comma-separated header (`Auths: a,b,`), without empty items.
fn list(m: &Message, key: &str) -> Vec<String> {
    text(m, key)
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn number(m: &Message, key: &str) -> Option<u64> {
    text(m, key)?.parse().ok()
}

fn yes(m: &Message, key: &str) -> Option<bool> {
    let t = text(m, key)?.to_ascii_lowercase();
    match t.as_str() {
        "yes" | "y" | "true" | "1" | "on" => Some(true),
        "no" | "n" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// True for what can be an internal extension number: 2 to 6 digits.
pub(crate) fn is_extension_number(s: &str) -> bool {
    (2..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The number of a caller id as Asterisk prints it (`"Alice" <1001>`,
/// `Alice <1001>`, `<1001>`, `1001`).
pub(crate) fn caller_id_number(cid: &str) -> Option<String> {
    let n = match (cid.rfind('<'), cid.rfind('>')) {
        (Some(a), Some(b)) if a < b => &cid[a + 1..b],
        _ => cid,
    };
    let n = n.trim();
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.to_owned())
}

/// One endpoint (PJSIP) or peer (chan_sip) and its signs, each a reason.
#[derive(Debug, Clone, Default)]
pub(crate) struct Device {
    /// `PJSIP` or `SIP`.
    pub(crate) tech: &'static str,
    pub(crate) name: String,
    pub(crate) context: Option<String>,
    pub(crate) caller_id: Option<String>,
    /// Registers to us (dynamic): why.
    pub(crate) registers_here: Option<String>,
    /// A fixed address (static host): why.
    pub(crate) fixed_address: Option<String>,
    /// Registers outbound, has outbound auth, is matched by IP: why.
    pub(crate) trunk_signs: Vec<String>,
    /// Its details could not be read: why.
    pub(crate) unread: Option<String>,
    /// Outbound auth names (PJSIP), to match registrations by.
    pub(crate) outbound_auths: Vec<String>,
    /// chan_sip: the hosts a `register =>` may name it by (its name,
    /// `ToHost`, `SIP-FromDomain`) and the user names (`Default-Username`,
    /// `SIP-FromUser`).
    pub(crate) hosts: Vec<String>,
    pub(crate) users: Vec<String>,
}

impl Device {
    /// `PJSIP/name`: the channel-name prefix and how it is shown.
    pub(crate) fn id(&self) -> String {
        format!("{}/{}", self.tech, self.name)
    }
}

/// The items of a list answer, or `None` with the refusal.
pub(crate) fn items<'a>(inv: &'a Inventory, q: &Query) -> Result<&'a [Message], Option<&'a str>> {
    match inv.answer(q) {
        Some(Answer::Items(items)) => Ok(items),
        Some(Answer::Refused(why)) => Err(Some(why)),
        None => Err(None),
    }
}

/// The PJSIP endpoints with what `PJSIPShowEndpoint` said of each.
pub(crate) fn pjsip_devices(inv: &Inventory) -> Vec<Device> {
    let Ok(endpoints) = items(inv, &Query::PjsipEndpoints) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in endpoints.iter().filter(|m| m.is_event("EndpointList")) {
        let Some(name) = text(entry, "ObjectName") else {
            continue;
        };
        let mut d = Device {
            tech: "PJSIP",
            name: name.clone(),
            outbound_auths: list(entry, "OutboundAuths"),
            ..Device::default()
        };
        match items(inv, &Query::PjsipEndpoint(name.clone())) {
            Ok(details) => read_pjsip_details(&mut d, details),
            Err(why) => {
                d.unread = Some(match why {
                    Some(w) => format!("PJSIPShowEndpoint {name} was refused: {w}"),
                    None => format!("PJSIPShowEndpoint {name} was not asked"),
                });
                // The list alone: contacts, but not whether they are permanent.
                if entry
                    .get("Aor")
                    .is_none_or(|a| a.to_str().trim().is_empty())
                {
                    d.fixed_address = Some("it has no AOR, so nothing registers to it".into());
                }
            }
        }
        if !d.outbound_auths.is_empty() {
            d.trunk_signs.push(format!(
                "it authenticates to the far end (outbound_auth {})",
                d.outbound_auths.join(", ")
            ));
        }
        out.push(d);
    }
    out
}

fn read_pjsip_details(d: &mut Device, details: &[Message]) {
    let mut aors = 0;
    let mut permanent = 0u64;
    let mut registered = 0u64;
    let mut max_contacts = 0u64;
    let mut aor_names = Vec::new();
    for m in details {
        if m.is_event("EndpointDetail") {
            d.context = text(m, "Context");
            d.caller_id = text(m, "Callerid");
            for auth in list(m, "OutboundAuth") {
                if !d.outbound_auths.contains(&auth) {
                    d.outbound_auths.push(auth);
                }
            }
        } else if m.is_event("AorDetail") {
            aors += 1;
            aor_names.extend(text(m, "ObjectName"));
            let total = number(m, "TotalContacts").unwrap_or(0);
            let dynamic = number(m, "ContactsRegistered").unwrap_or(0);
            registered += dynamic;
            permanent += total.saturating_sub(dynamic);
            max_contacts = max_contacts.max(number(m, "MaxContacts").unwrap_or(0));
        } else if m.is_event("IdentifyDetail") {
            let matches = text(m, "Match").unwrap_or_default();
            d.trunk_signs.push(format!(
                "it is matched by IP address (identify {}{})",
                text(m, "ObjectName").unwrap_or_default(),
                if matches.is_empty() {
                    String::new()
                } else {
                    format!(", match {matches}")
                }
            ));
        }
    }
    let aor_text = aor_names.join(", ");
    if aors == 0 {
        d.fixed_address = Some("it has no AOR, so nothing registers to it".into());
    } else if permanent > 0 {
        d.fixed_address = Some(format!(
            "its AOR {aor_text} has a permanent contact (contact=), a fixed address"
        ));
    } else if max_contacts > 0 {
        d.registers_here = Some(format!(
            "it registers to this PBX (AOR {aor_text}, max_contacts {max_contacts}, {registered} registered now)"
        ));
    } else {
        d.fixed_address = Some(format!(
            "its AOR {aor_text} takes no registration (max_contacts 0) and has no contact"
        ));
    }
}

/// The chan_sip peers with what `SIPshowpeer` said of each.
pub(crate) fn sip_devices(inv: &Inventory) -> Vec<Device> {
    let Ok(peers) = items(inv, &Query::SipPeers) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in peers.iter().filter(|m| m.is_event("PeerEntry")) {
        let Some(name) = text(entry, "ObjectName") else {
            continue;
        };
        let mut d = Device {
            tech: "SIP",
            name: name.clone(),
            hosts: vec![name.clone()],
            ..Device::default()
        };
        let mut dynamic = yes(entry, "Dynamic");
        match items(inv, &Query::SipPeer(name.clone())) {
            Ok(detail) => {
                if let Some(m) = detail.first() {
                    d.context = text(m, "Context");
                    d.caller_id = text(m, "Callerid");
                    dynamic = yes(m, "Dynamic").or(dynamic);
                    d.hosts.extend(text(m, "ToHost"));
                    d.hosts.extend(text(m, "SIP-FromDomain"));
                    d.users.extend(text(m, "Default-Username"));
                    d.users.extend(text(m, "SIP-FromUser"));
                    if yes(m, "RemoteSecretExist") == Some(true) {
                        d.trunk_signs
                            .push("it has a remotesecret to authenticate to the far end".into());
                    }
                }
            }
            Err(why) => {
                d.unread = Some(match why {
                    Some(w) => format!("SIPshowpeer {name} was refused: {w}"),
                    None => format!("SIPshowpeer {name} was not asked"),
                });
            }
        }
        match dynamic {
            Some(true) => {
                d.registers_here = Some("it registers to this PBX (host=dynamic)".into());
            }
            Some(false) => {
                let host = d
                    .hosts
                    .get(1)
                    .cloned()
                    .or_else(|| text(entry, "IPaddress").filter(|ip| ip != "-none-"));
                d.fixed_address = Some(match host {
                    Some(h) => format!("it has a fixed host ({h})"),
                    None => "it has a fixed host (not host=dynamic)".into(),
                });
            }
            None => {}
        }
        out.push(d);
    }
    out
}
