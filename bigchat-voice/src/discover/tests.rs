//! Discovery on hand-written event lists shaped as Asterisk sends them
//! (field names from res_pjsip's `pjsip_manager.xml` and
//! `pjsip_configuration.c`, `res_pjsip_outbound_registration.c`,
//! chan_sip.c of 18.26 and app_queue.c).

use ami_client::testkit::{event, response};
use ami_proto::Message;

use super::*;
use crate::tracker::TrackerConfig;

const UNKNOWN: &str =
    "Invalid/unknown command: X. Use Action: ListCommands to show available commands.";

fn pjsip_phone(n: &str) -> (Message, Vec<Message>) {
    let contact = format!("{n}/sip:{n}@192.168.1.{}:5060", n.len() * 10);
    let list = event(
        "EndpointList",
        &[
            ("ObjectType", "endpoint"),
            ("ObjectName", n),
            ("Transport", "0.0.0.0-udp"),
            ("Aor", n),
            ("Auths", n),
            ("OutboundAuths", ""),
            ("Contacts", &format!("{contact},")),
            ("DeviceState", "Not in use"),
            ("ActiveChannels", ""),
        ],
    );
    let cid = format!("\"Agent {n}\" <{n}>");
    let details = vec![
        event(
            "EndpointDetail",
            &[
                ("ObjectType", "endpoint"),
                ("ObjectName", n),
                ("Context", "from-internal"),
                ("Callerid", &cid),
                ("Aors", n),
                ("Auth", n),
                ("OutboundAuth", ""),
                ("DeviceState", "Not in use"),
            ],
        ),
        event(
            "AuthDetail",
            &[
                ("ObjectType", "auth"),
                ("ObjectName", n),
                ("Username", n),
                ("EndpointName", n),
            ],
        ),
        event(
            "AorDetail",
            &[
                ("ObjectType", "aor"),
                ("ObjectName", n),
                ("MaxContacts", "1"),
                ("Contacts", &contact),
                ("TotalContacts", "1"),
                ("ContactsRegistered", "1"),
                ("EndpointName", n),
            ],
        ),
        event(
            "ContactStatusDetail",
            &[
                ("AOR", n),
                ("URI", &contact),
                ("Status", "Reachable"),
                ("EndpointName", n),
            ],
        ),
    ];
    (list, details)
}

fn pjsip_provider() -> (Message, Vec<Message>) {
    let list = event(
        "EndpointList",
        &[
            ("ObjectType", "endpoint"),
            ("ObjectName", "provider"),
            ("Transport", "0.0.0.0-udp"),
            ("Aor", "provider"),
            ("Auths", ""),
            ("OutboundAuths", "provider"),
            ("Contacts", "provider/sip:sip.provider.example:5060,"),
            ("DeviceState", "Not in use"),
            ("ActiveChannels", ""),
        ],
    );
    let details = vec![
        event(
            "EndpointDetail",
            &[
                ("ObjectType", "endpoint"),
                ("ObjectName", "provider"),
                ("Context", "from-pstn"),
                ("Callerid", "<unknown>"),
                ("Aors", "provider"),
                ("Auth", ""),
                ("OutboundAuth", "provider"),
            ],
        ),
        event(
            "AorDetail",
            &[
                ("ObjectType", "aor"),
                ("ObjectName", "provider"),
                ("MaxContacts", "0"),
                ("Contacts", "provider/sip:sip.provider.example:5060"),
                ("TotalContacts", "1"),
                ("ContactsRegistered", "0"),
                ("EndpointName", "provider"),
            ],
        ),
        event(
            "IdentifyDetail",
            &[
                ("ObjectType", "identify"),
                ("ObjectName", "provider"),
                ("Endpoint", "provider"),
                ("Match", "203.0.113.10/255.255.255.255"),
                ("EndpointName", "provider"),
            ],
        ),
    ];
    (list, details)
}

fn registration(name: &str, endpoint: &str) -> Message {
    event(
        "OutboundRegistrationDetail",
        &[
            ("ObjectType", "registration"),
            ("ObjectName", name),
            ("ServerUri", "sip:sip.provider.example"),
            ("ClientUri", "sip:551130000000@sip.provider.example"),
            ("Endpoint", endpoint),
            ("OutboundAuth", "provider"),
            ("Line", "yes"),
            ("Status", "Registered"),
            ("NextReg", "3500"),
        ],
    )
}

/// PJSIP phones and a provider, as `collect` would have asked them.
fn record_pjsip(inv: &mut Inventory, phones: &[String], with_provider: bool) {
    let mut list = Vec::new();
    for n in phones {
        let (entry, details) = pjsip_phone(n);
        list.push(entry);
        inv.record(Query::PjsipEndpoint(n.clone()), Answer::Items(details));
    }
    if with_provider {
        let (entry, details) = pjsip_provider();
        list.push(entry);
        inv.record(
            Query::PjsipEndpoint("provider".into()),
            Answer::Items(details),
        );
        inv.record(
            Query::PjsipRegistrations,
            Answer::Items(vec![
                registration("provider", "provider"),
                // The auth of the registration comes in the same list.
                event(
                    "AuthDetail",
                    &[("ObjectType", "auth"), ("ObjectName", "provider")],
                ),
            ]),
        );
    } else {
        inv.record(Query::PjsipRegistrations, Answer::Items(vec![]));
    }
    inv.record(Query::PjsipEndpoints, Answer::Items(list));
}

fn sip_peer(name: &str, dynamic: bool) -> (Message, Message) {
    let entry = event(
        "PeerEntry",
        &[
            ("Channeltype", "SIP"),
            ("ObjectName", name),
            ("ChanObjectType", "peer"),
            (
                "IPaddress",
                if dynamic { "-none-" } else { "208.100.60.10" },
            ),
            ("IPport", if dynamic { "0" } else { "5060" }),
            ("Dynamic", if dynamic { "yes" } else { "no" }),
            ("Status", "OK (12 ms)"),
            ("Description", ""),
            ("Accountcode", ""),
        ],
    );
    let detail = if dynamic {
        let cid = format!("\"Phone {name}\" <{name}>");
        response(
            "Success",
            &[
                ("Channeltype", "SIP"),
                ("ObjectName", name),
                ("ChanObjectType", "peer"),
                ("SecretExist", "Y"),
                ("RemoteSecretExist", "N"),
                ("Context", "from-internal"),
                ("Dynamic", "Y"),
                ("Callerid", &cid),
                ("ToHost", ""),
                ("Default-Username", name),
                ("SIP-FromUser", ""),
                ("SIP-FromDomain", ""),
            ],
        )
    } else {
        response(
            "Success",
            &[
                ("Channeltype", "SIP"),
                ("ObjectName", name),
                ("ChanObjectType", "peer"),
                ("SecretExist", "Y"),
                ("RemoteSecretExist", "N"),
                ("Context", "from-trunk"),
                ("Dynamic", "N"),
                ("Callerid", ""),
                ("ToHost", "atlanta.voip.ms"),
                ("Default-Username", "123456"),
                ("SIP-FromUser", "123456"),
                ("SIP-FromDomain", "atlanta.voip.ms"),
            ],
        )
    };
    (entry, detail)
}

fn record_sip(inv: &mut Inventory, phones: &[String]) {
    let mut list = Vec::new();
    for n in phones.iter().map(String::as_str).chain(["voipms"]) {
        let (entry, detail) = sip_peer(n, n != "voipms");
        list.push(entry);
        inv.record(Query::SipPeer(n.to_owned()), Answer::Items(vec![detail]));
    }
    inv.record(Query::SipPeers, Answer::Items(list));
    inv.record(
        Query::SipRegistry,
        Answer::Items(vec![event(
            "RegistryEntry",
            &[
                ("Host", "atlanta.voip.ms"),
                ("Port", "5060"),
                ("Username", "123456"),
                ("Domain", "atlanta.voip.ms"),
                ("DomainPort", "5060"),
                ("Refresh", "105"),
                ("State", "Registered"),
                ("RegistrationTime", "1795515000"),
            ],
        )]),
    );
}

fn no_module(inv: &mut Inventory, queries: &[Query]) {
    for q in queries {
        inv.record(q.clone(), Answer::Refused(UNKNOWN.into()));
    }
}

fn numbers(r: std::ops::RangeInclusive<u32>) -> Vec<String> {
    r.map(|n| n.to_string()).collect()
}

#[derive(serde::Deserialize)]
struct File {
    tracker: TrackerConfig,
}

/// The rendering parses as the real `[tracker]` section.
fn parsed(p: &Proposal) -> TrackerConfig {
    let text = p.to_toml("PBX \"pbx1\" at 127.0.0.1:5038");
    match toml::from_str::<File>(&text) {
        Ok(f) => f.tracker,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn values<T: Clone>(v: &[Reasoned<T>]) -> Vec<T> {
    v.iter().map(|r| r.value.clone()).collect()
}

#[test]
fn a_freepbx_with_pjsip_phones_and_a_registered_provider() {
    let mut inv = Inventory::new();
    record_pjsip(&mut inv, &numbers(1001..=1010), true);
    no_module(&mut inv, &[Query::SipPeers, Query::SipRegistry]);
    inv.record(
        Query::QueueStatus,
        Answer::Items(vec![
            event(
                "QueueParams",
                &[
                    ("Queue", "support"),
                    ("Strategy", "ringall"),
                    ("Calls", "0"),
                ],
            ),
            event(
                "QueueMember",
                &[
                    ("Queue", "support"),
                    ("Name", "1001"),
                    ("Location", "PJSIP/1001"),
                    ("Membership", "static"),
                ],
            ),
            event(
                "QueueMember",
                &[
                    ("Queue", "support"),
                    ("Name", "Bob"),
                    ("Location", "Local/1002@from-queue/n"),
                    ("StateInterface", "PJSIP/1002"),
                    ("Membership", "dynamic"),
                ],
            ),
        ]),
    );
    assert!(inv.follow_ups().is_empty(), "{:?}", inv.follow_ups());
    let p = inv.propose();
    assert_eq!(p.module(Module::Pjsip), &ModuleState::Found { items: 11 });
    assert_eq!(p.module(Module::ChanSip), &ModuleState::NotLoaded);
    assert_eq!(p.trunks.len(), 1);
    let trunk = &p.trunks[0];
    assert_eq!(trunk.channel_prefix, "PJSIP/provider");
    let reasons = trunk.reasons.join("; ");
    for want in [
        "registers to sip:sip.provider.example (registration provider, its endpoint: Registered)",
        "outbound_auth provider",
        "matched by IP address",
        "its context from-pstn",
    ] {
        assert!(reasons.contains(want), "{want}: {reasons}");
    }
    assert_eq!(values(&p.inbound_contexts), ["from-pstn"]);
    assert_eq!(values(&p.extensions), ["1001-1010"]);
    assert!(p.extensions[0].reason.contains("PJSIP/1001 … PJSIP/1010"));
    assert_eq!(p.phones.len(), 10);
    assert!(p.phones[0].reasons[0].contains("registers to this PBX"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(p.conflicts.is_empty() && p.left_out.is_empty());
    let q = &p.queues[0];
    assert_eq!(q.name, "support");
    assert_eq!(q.members[1].extension.as_deref(), Some("1002"));

    let cfg = parsed(&p);
    assert_eq!(cfg.trunks, ["PJSIP/provider"]);
    assert!(cfg.is_trunk_channel("PJSIP/provider-0000002a"));
    assert!(cfg.is_inbound_context("from-pstn"));
    assert!(cfg.is_internal_extension("1001") && cfg.is_internal_extension("1010"));
    assert!(!cfg.is_internal_extension("1011") && !cfg.is_internal_extension("1000"));
    // Ids are the operator's: nothing is filled in.
    assert!(cfg.users.is_empty() && cfg.queues.is_empty());
    let text = p.to_toml("pbx1");
    assert!(
        text.contains("# \"1001\" = USER_ID  # PJSIP/1001, caller id \"Agent 1001\" <1001>"),
        "{text}"
    );
    assert!(text.contains("# \"support\" = QUEUE_ID  # strategy ringall; members: 1001 (PJSIP/1001), Bob = extension 1002"), "{text}");
    // Uncommented as is, an id line does not parse: none is used unfilled.
    let filled = text.replace("# \"1001\" = USER_ID", "\"1001\" = USER_ID");
    assert!(toml::from_str::<File>(&filled).is_err());
    let filled = text.replace("# \"1001\" = USER_ID", "\"1001\" = 7");
    assert_eq!(
        toml::from_str::<File>(&filled)
            .unwrap()
            .tracker
            .user_for("1001"),
        Some(7)
    );
}

#[test]
fn a_chan_sip_pbx_with_dynamic_peers_and_a_registered_provider() {
    let mut inv = Inventory::new();
    no_module(
        &mut inv,
        &[
            Query::PjsipEndpoints,
            Query::PjsipRegistrations,
            Query::QueueStatus,
        ],
    );
    record_sip(&mut inv, &numbers(201..=205));
    let p = inv.propose();
    assert_eq!(p.module(Module::Pjsip), &ModuleState::NotLoaded);
    assert_eq!(p.module(Module::ChanSip), &ModuleState::Found { items: 6 });
    assert_eq!(p.module(Module::Queues), &ModuleState::NotLoaded);
    assert_eq!(p.trunks.len(), 1, "{p:#?}");
    let reasons = p.trunks[0].reasons.join("; ");
    assert_eq!(p.trunks[0].channel_prefix, "SIP/voipms");
    assert!(
        reasons.contains("registers to atlanta.voip.ms as 123456 (register =>: Registered)"),
        "{reasons}"
    );
    assert!(
        reasons.contains("fixed host (atlanta.voip.ms)"),
        "{reasons}"
    );
    assert_eq!(values(&p.inbound_contexts), ["from-trunk"]);
    assert_eq!(values(&p.extensions), ["201-205"]);
    assert!(p.phones.iter().all(|ph| ph.device.starts_with("SIP/2")));
    assert!(
        p.phones[0]
            .reasons
            .iter()
            .any(|r| r.contains("host=dynamic"))
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let cfg = parsed(&p);
    assert!(cfg.is_trunk_channel("SIP/voipms-00000001"));
    assert!(cfg.is_internal_extension("203") && !cfg.is_internal_extension("206"));
}

#[test]
fn a_pbx_with_both_says_its_conflicts_and_what_it_left_out() {
    let mut inv = Inventory::new();
    record_pjsip(&mut inv, &numbers(1001..=1003), false);
    // 1099: registers here like a phone but authenticates outbound like a trunk.
    let (_, details) = pjsip_phone("1099");
    let entry = event(
        "EndpointList",
        &[
            ("ObjectName", "1099"),
            ("Aor", "1099"),
            ("OutboundAuths", "branch-auth"),
        ],
    );
    // alice: registers here, no number anywhere.
    let (_, alice) = pjsip_phone("alice");
    let alice: Vec<Message> = alice
        .into_iter()
        .map(|m| {
            if m.is_event("EndpointDetail") {
                event(
                    "EndpointDetail",
                    &[
                        ("ObjectName", "alice"),
                        ("Context", "from-internal"),
                        ("Callerid", "\"Alice\" <>"),
                    ],
                )
            } else {
                m
            }
        })
        .collect();
    let Some(Answer::Items(mut list)) = inv.answer(&Query::PjsipEndpoints).cloned() else {
        panic!("recorded")
    };
    list.push(entry);
    list.push(event(
        "EndpointList",
        &[("ObjectName", "alice"), ("Aor", "alice")],
    ));
    inv.record(Query::PjsipEndpoints, Answer::Items(list));
    inv.record(Query::PjsipEndpoint("1099".into()), Answer::Items(details));
    inv.record(Query::PjsipEndpoint("alice".into()), Answer::Items(alice));
    record_sip(&mut inv, &numbers(201..=201));
    inv.record(Query::QueueStatus, Answer::Items(vec![]));

    let p = inv.propose();
    assert_eq!(
        p.trunks
            .iter()
            .map(|t| t.channel_prefix.as_str())
            .collect::<Vec<_>>(),
        ["SIP/voipms"]
    );
    assert_eq!(values(&p.extensions), ["201", "1001-1003"]);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].device, "PJSIP/1099");
    let warning = p
        .warnings
        .iter()
        .find(|w| w.starts_with("PJSIP/1099"))
        .expect("a warning");
    assert!(
        warning.contains("outbound_auth branch-auth") && warning.contains("registers to this PBX"),
        "{warning}"
    );
    assert_eq!(p.left_out.len(), 1);
    assert_eq!(p.left_out[0].device, "PJSIP/alice");
    assert!(
        p.left_out[0]
            .reason
            .contains("neither its name nor its caller id"),
        "{:?}",
        p.left_out
    );
    let text = p.to_toml("pbx1");
    assert!(
        text.contains("# WARNING: PJSIP/1099 looks like a trunk"),
        "{text}"
    );
    assert!(text.contains("#   PJSIP/alice: "), "{text}");
    let cfg = parsed(&p);
    assert!(!cfg.is_internal_extension("1099"));
    assert!(cfg.is_internal_extension("201") && cfg.is_internal_extension("1002"));
}

#[test]
fn missing_modules_mean_nothing_to_propose_not_a_failure() {
    let mut inv = Inventory::new();
    no_module(&mut inv, &Query::initial());
    assert!(inv.follow_ups().is_empty());
    let p = inv.propose();
    assert!(p.modules.iter().all(|m| m.state == ModuleState::NotLoaded));
    assert!(p.warnings.is_empty() && !p.all_denied());
    assert!(p.trunks.is_empty() && p.phones.is_empty() && p.extensions.is_empty());
    let text = p.to_toml("pbx1");
    assert!(text.contains("# trunks: no trunk found"), "{text}");
    assert_eq!(parsed(&p), TrackerConfig::default());

    // PJSIP loaded with nothing configured says so with an error.
    let mut inv = Inventory::new();
    inv.record(
        Query::PjsipEndpoints,
        Answer::Refused("No endpoints found\n".into()),
    );
    assert_eq!(
        inv.propose().module(Module::Pjsip),
        &ModuleState::Found { items: 0 }
    );
}

#[test]
fn refusals_for_rights_are_said_with_the_right_to_add() {
    let mut inv = Inventory::new();
    for q in Query::initial() {
        if q != Query::QueueStatus {
            inv.record(q, Answer::Refused("Permission denied".into()));
        }
    }
    let p = inv.propose();
    assert!(p.all_denied());
    assert_eq!(
        p.module(Module::Pjsip),
        &ModuleState::Denied { right: "system" }
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("PJSIPShowEndpoints") && w.contains("`system`")),
        "{:?}",
        p.warnings
    );

    // Endpoint details refused: the endpoint is left out, said why.
    let mut inv = Inventory::new();
    inv.record(
        Query::PjsipEndpoints,
        Answer::Items(vec![pjsip_phone("1001").0]),
    );
    assert_eq!(inv.follow_ups(), [Query::PjsipEndpoint("1001".into())]);
    inv.record(
        Query::PjsipEndpoint("1001".into()),
        Answer::Refused("Unable to retrieve endpoint 1001".into()),
    );
    let p = inv.propose();
    assert!(
        p.left_out[0]
            .reason
            .contains("PJSIPShowEndpoint 1001 was refused"),
        "{:?}",
        p.left_out
    );
}

#[test]
fn a_registration_that_names_no_endpoint_is_a_warning() {
    let mut inv = Inventory::new();
    record_pjsip(&mut inv, &numbers(1001..=1002), false);
    inv.record(
        Query::PjsipRegistrations,
        Answer::Items(vec![registration("carrier-reg", "carrier")]),
    );
    let p = inv.propose();
    assert!(p.trunks.is_empty());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("carrier-reg")
                && w.contains("it names carrier, which does not exist")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn a_trunk_in_a_phones_context_is_kept_out_of_inbound_contexts() {
    let mut inv = Inventory::new();
    record_pjsip(&mut inv, &numbers(1001..=1002), true);
    let (_, mut details) = pjsip_provider();
    details[0] = event(
        "EndpointDetail",
        &[
            ("ObjectName", "provider"),
            ("Context", "from-internal"),
            ("OutboundAuth", "provider"),
        ],
    );
    inv.record(
        Query::PjsipEndpoint("provider".into()),
        Answer::Items(details),
    );
    let p = inv.propose();
    assert_eq!(p.trunks.len(), 1);
    assert!(p.inbound_contexts.is_empty());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("from-internal") && w.contains("kept out")),
        "{:?}",
        p.warnings
    );
    parsed(&p);
}

#[test]
fn odd_names_are_quoted_so_the_section_still_parses() {
    let mut inv = Inventory::new();
    record_pjsip(&mut inv, &numbers(1001..=1001), false);
    inv.record(
        Query::QueueStatus,
        Answer::Items(vec![event(
            "QueueParams",
            &[("Queue", "sales \"east\" \\ x"), ("Strategy", "rrmemory")],
        )]),
    );
    let p = inv.propose();
    let text = p.to_toml("pbx\u{7}1");
    assert!(
        text.contains("# \"sales \\\"east\\\" \\\\ x\" = QUEUE_ID"),
        "{text}"
    );
    let filled = text
        .replace("# \"sales", "\"sales")
        .replace("= QUEUE_ID  #", "= 4  #");
    let cfg = toml::from_str::<File>(&filled).expect("parses").tracker;
    assert_eq!(cfg.queues.get("sales \"east\" \\ x"), Some(&4));
}
