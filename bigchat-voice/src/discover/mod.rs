//! Discovery: propose the `[tracker]` section from what the PBX itself
//! says, with the reason for every value. Sans-I/O: the AMI answers go in
//! ([`Inventory::record`]), a [`Proposal`] comes out
//! ([`Inventory::propose`]), and [`Proposal::to_toml`] writes it for the
//! operator to read. Asking the PBX is [`collect`] (feature `pipeline`),
//! or any other transport that answers the [`Query`]s.
//!
//! ```
//! use ami_client::testkit::event;
//! use bigchat_voice::discover::{Answer, Inventory, Query};
//!
//! let mut inv = Inventory::new();
//! inv.record(Query::PjsipEndpoints, Answer::Items(vec![event(
//!     "EndpointList",
//!     &[("ObjectName", "1001"), ("Aor", "1001"), ("OutboundAuths", "")],
//! )]));
//! assert_eq!(inv.follow_ups(), vec![Query::PjsipEndpoint("1001".into())]);
//! inv.record(Query::PjsipEndpoint("1001".into()), Answer::Items(vec![
//!     event("EndpointDetail", &[("ObjectName", "1001"), ("Context", "from-internal")]),
//!     event("AorDetail", &[("ObjectName", "1001"), ("MaxContacts", "1"),
//!                          ("TotalContacts", "1"), ("ContactsRegistered", "1")]),
//! ]));
//! // chan_sip is not loaded: that only means "no chan_sip".
//! inv.record(Query::SipPeers, Answer::Refused(
//!     "Invalid/unknown command: SIPpeers. Use Action: ListCommands to show available commands.".into(),
//! ));
//! let proposal = inv.propose();
//! assert_eq!(proposal.phones[0].extension, "1001");
//! assert!(proposal.to_toml("pbx1").contains("\"1001\""));
//! ```
//!
//! # What is asked
//!
//! | action | answer used | why |
//! |---|---|---|
//! | `PJSIPShowEndpoints` | `EndpointList` (`ObjectName`, `Aor`, `Auths`, `OutboundAuths`, `Contacts`) | the PJSIP endpoints |
//! | `PJSIPShowEndpoint` (each) | `EndpointDetail` (`Context`, `Callerid`, `OutboundAuth`), `AorDetail` (`MaxContacts`, `TotalContacts`, `ContactsRegistered`), `IdentifyDetail` (`Match`) | where its calls enter the dialplan; whether it registers here |
//! | `PJSIPShowRegistrationsOutbound` | `OutboundRegistrationDetail` (`ObjectName`, `ServerUri`, `Endpoint`, `OutboundAuth`, `Status`) | who we register to: providers |
//! | `SIPpeers` | `PeerEntry` (`ObjectName`, `Dynamic`) | the chan_sip peers |
//! | `SIPshowpeer` (each) | its response (`Context`, `Callerid`, `Dynamic`, `ToHost`, `Default-Username`, `SIP-FromUser`, `SIP-FromDomain`, `RemoteSecretExist`) | as for PJSIP |
//! | `SIPshowregistry` | `RegistryEntry` (`Host`, `Username`, `Domain`, `State`) | who we register to |
//! | `QueueStatus` | `QueueParams` (`Queue`, `Strategy`), `QueueMember` (`Queue`, `Name`, `Location`) | the queues and their members |
//!
//! A module that is not loaded answers `Response: Error` /
//! `Invalid/unknown command`: that only means "no PJSIP", "no chan_sip" or
//! "no queues". PJSIP with no endpoint says `No endpoints found`. A refusal
//! for want of rights (`Permission denied`) is said as a warning with the
//! right to add.
//!
//! # The rules
//!
//! Each endpoint (PJSIP) or peer (chan_sip) is read for signs:
//!
//! * **trunk signs**: it registers outbound (a PJSIP registration naming it
//!   as `endpoint`, or named like it, or using its outbound auth; a
//!   chan_sip `register =>` to its host or its name); it has outbound
//!   auth (`outbound_auth`, chan_sip `remotesecret`); it is matched by IP
//!   (`identify`); its name says so (`trunk`, `provider`, `pstn`,
//!   `carrier`, `gateway`, `sbc`) or its context is where providers' calls
//!   arrive (`from-trunk`, `from-pstn`, `from-external`, `from-did…`, …);
//! * **a fixed address**: a permanent contact in its AOR, no AOR at all, or
//!   chan_sip `host=` an address (`Dynamic: no`);
//! * **registers here**: an AOR with `max_contacts` and no permanent
//!   contact, or chan_sip `host=dynamic`;
//! * **an extension number**: its name, else its caller id number, is 2 to
//!   6 digits.
//!
//! Then:
//!
//! * a **trunk** has a trunk sign, or a fixed address and no extension
//!   number; its channel-name prefix (`PJSIP/provider`) goes to `trunks`,
//!   its context to `inboundContexts`;
//! * a **phone** registers here and has an extension number (or has a
//!   fixed address, an extension number and a phones' context such as
//!   `from-internal`); its number goes to `extensions` and to a
//!   commented-out `[tracker.users]` line;
//! * one that is both is a **conflict**: left out of both, with a warning
//!   giving both sets of reasons; one that is neither is left out and
//!   said why.
//!
//! `extensions` is exact: the phones' numbers, grouped by length, become
//! runs of consecutive numbers — a run that fills an aligned block is a
//! pattern (`200`…`299` → `_2XX`), another run a range (`1001-1010`), a
//! lone number itself. No number that is not a phone is ever covered. A
//! context that is both a trunk's and a phone's, or a trunk delivering
//! into a phones' context, is kept out of `inboundContexts` with a
//! warning.
//!
//! What the PBX cannot know — BigChat's user ids and queue ids — is written
//! as commented-out lines (`# "1001" = USER_ID`) for the operator to fill
//! in: uncommented as is, they do not parse, so none can be used unfilled.

#[cfg(feature = "pipeline")]
mod collect;
mod device;
mod proposal;
mod ranges;
mod render;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use ami_proto::{Action, Message};

#[cfg(feature = "pipeline")]
pub use collect::{DiscoverError, collect};
pub use proposal::{
    Conflict, LeftOut, Module, ModuleState, ModuleStatus, Phone, Proposal, Queue, QueueMember,
    Reasoned, Trunk,
};
pub use ranges::compress;

/// One question to the PBX.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Query {
    /// `PJSIPShowEndpoints`: the PJSIP endpoints (`EndpointList`).
    PjsipEndpoints,
    /// `PJSIPShowEndpoint` for one endpoint: its details (`EndpointDetail`,
    /// `AorDetail`, `AuthDetail`, `TransportDetail`, `IdentifyDetail`, …).
    PjsipEndpoint(String),
    /// `PJSIPShowRegistrationsOutbound`: the outbound registrations
    /// (`OutboundRegistrationDetail`).
    PjsipRegistrations,
    /// `SIPpeers`: the chan_sip peers (`PeerEntry`).
    SipPeers,
    /// `SIPshowpeer` for one peer (one response, not a list).
    SipPeer(String),
    /// `SIPshowregistry`: chan_sip's `register =>` lines (`RegistryEntry`).
    SipRegistry,
    /// `QueueStatus`: the queues (`QueueParams`) and members (`QueueMember`).
    QueueStatus,
}

impl Query {
    /// The questions asked first; [`Inventory::follow_ups`] gives the rest.
    pub fn initial() -> Vec<Query> {
        vec![
            Query::PjsipEndpoints,
            Query::PjsipRegistrations,
            Query::SipPeers,
            Query::SipRegistry,
            Query::QueueStatus,
        ]
    }

    /// The AMI action's name.
    pub fn action_name(&self) -> &'static str {
        match self {
            Query::PjsipEndpoints => "PJSIPShowEndpoints",
            Query::PjsipEndpoint(_) => "PJSIPShowEndpoint",
            Query::PjsipRegistrations => "PJSIPShowRegistrationsOutbound",
            Query::SipPeers => "SIPpeers",
            Query::SipPeer(_) => "SIPshowpeer",
            Query::SipRegistry => "SIPshowregistry",
            Query::QueueStatus => "QueueStatus",
        }
    }

    /// The AMI action to send (without ActionID).
    pub fn action(&self) -> Action {
        let action = Action::new(self.action_name());
        match self {
            Query::PjsipEndpoint(name) => action.header("Endpoint", name.clone()),
            Query::SipPeer(name) => action.header("Peer", name.clone()),
            _ => action,
        }
    }

    /// Whether the answer is an event list (all but `SIPshowpeer`, which
    /// answers with one response).
    pub fn is_list(&self) -> bool {
        !matches!(self, Query::SipPeer(_))
    }
}

/// What the PBX answered to a [`Query`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Answer {
    /// The list items, in order (for `SIPshowpeer`: its one response).
    Items(Vec<Message>),
    /// `Response: Error`, with its `Message:` text.
    Refused(String),
}

/// The answers collected so far.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    answers: BTreeMap<Query, Answer>,
}

impl Inventory {
    /// Nothing asked yet.
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// Keeps the answer to `query` (a second answer replaces the first).
    /// `AuthDetail` items are not kept: they carry the PBX's passwords,
    /// and no rule needs them (the endpoint's own `OutboundAuth` does).
    pub fn record(&mut self, query: Query, answer: Answer) {
        let answer = match answer {
            Answer::Items(mut items) => {
                items.retain(|m| !m.is_event("AuthDetail"));
                Answer::Items(items)
            }
            refused => refused,
        };
        self.answers.insert(query, answer);
    }

    /// The answer to `query`, if recorded.
    pub fn answer(&self, query: &Query) -> Option<&Answer> {
        self.answers.get(query)
    }

    /// The detail questions that the lists recorded so far call for and
    /// that are not answered yet: `PJSIPShowEndpoint` for each endpoint,
    /// `SIPshowpeer` for each peer. Empty once everything is asked.
    pub fn follow_ups(&self) -> Vec<Query> {
        let mut out = Vec::new();
        for (list, event, detail) in [
            (
                Query::PjsipEndpoints,
                "EndpointList",
                Query::PjsipEndpoint as fn(String) -> Query,
            ),
            (Query::SipPeers, "PeerEntry", Query::SipPeer),
        ] {
            for name in self.listed(&list, event) {
                let q = detail(name);
                if !self.answers.contains_key(&q) && !out.contains(&q) {
                    out.push(q);
                }
            }
        }
        out
    }

    /// The `ObjectName`s of the `event` items of a list answer.
    fn listed(&self, list: &Query, event: &str) -> Vec<String> {
        match self.answers.get(list) {
            Some(Answer::Items(items)) => items
                .iter()
                .filter(|m| m.is_event(event))
                .filter_map(|m| device::text(m, "ObjectName"))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The proposal these answers support (see the module docs for the
    /// rules).
    pub fn propose(&self) -> Proposal {
        rules::propose(self)
    }
}
