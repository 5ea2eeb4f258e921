//! What discovery proposes, each item with its reason.

use std::fmt;

/// A value with the reason it is proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reasoned<T> {
    /// The value.
    pub value: T,
    /// Why, in words.
    pub reason: String,
}

impl<T> Reasoned<T> {
    pub(crate) fn new(value: T, reason: impl Into<String>) -> Reasoned<T> {
        Reasoned {
            value,
            reason: reason.into(),
        }
    }
}

/// A trunk: an endpoint or peer that talks to the outside world.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trunk {
    /// The channel-name prefix for `[tracker] trunks`: `PJSIP/provider`.
    pub channel_prefix: String,
    /// The dialplan context its calls arrive in, when known.
    pub context: Option<String>,
    /// Why it is a trunk (at least one).
    pub reasons: Vec<String>,
}

/// An internal phone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Phone {
    /// Its extension number.
    pub extension: String,
    /// The endpoint or peer: `PJSIP/1001`, `SIP/201`.
    pub device: String,
    /// Its caller id as the PBX shows it (`"Alice" <1001>`), when set.
    pub caller_id: Option<String>,
    /// Its context (where its calls enter the dialplan), when known.
    pub context: Option<String>,
    /// Why it is a phone.
    pub reasons: Vec<String>,
}

/// A PBX queue. BigChat's queue id for it is the operator's to give.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Queue {
    /// Its name in `queues.conf`.
    pub name: String,
    /// Its ring strategy (`ringall`, `rrmemory`, …), when given.
    pub strategy: Option<String>,
    /// Its members.
    pub members: Vec<QueueMember>,
}

/// A member of a [`Queue`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueMember {
    /// The member's name (`Name`).
    pub name: String,
    /// The interface it is rung on (`Location`: `PJSIP/1001`,
    /// `Local/1001@from-queue/n`).
    pub interface: String,
    /// The extension of the phone behind it, when one of the phones found.
    pub extension: Option<String>,
}

/// An endpoint or peer that looks like both a trunk and a phone: left out
/// of both.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conflict {
    /// `PJSIP/name` or `SIP/name`.
    pub device: String,
    /// Why it looks like a trunk.
    pub trunk_reasons: Vec<String>,
    /// Why it looks like a phone.
    pub phone_reasons: Vec<String>,
}

/// An endpoint or peer that is neither a trunk nor a phone by the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeftOut {
    /// `PJSIP/name` or `SIP/name`.
    pub device: String,
    /// Why it was not proposed.
    pub reason: String,
}

/// A part of Asterisk discovery looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Module {
    /// res_pjsip (`PJSIPShowEndpoints`).
    Pjsip,
    /// chan_sip (`SIPpeers`).
    ChanSip,
    /// app_queue (`QueueStatus`).
    Queues,
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Module::Pjsip => "PJSIP",
            Module::ChanSip => "chan_sip",
            Module::Queues => "queues",
        })
    }
}

/// What a [`Module`]'s list answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModuleState {
    /// It answered with this many items (endpoints, peers, queues).
    Found {
        /// How many.
        items: usize,
    },
    /// Not loaded (`Invalid/unknown command`).
    NotLoaded,
    /// The AMI user may not ask (`Permission denied`).
    Denied {
        /// The write class the AMI user needs for it.
        right: &'static str,
    },
    /// It refused for another reason.
    Failed {
        /// The PBX's message.
        message: String,
    },
    /// Not asked.
    NotAsked,
}

/// One module's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModuleStatus {
    /// Which.
    pub module: Module,
    /// What it said.
    pub state: ModuleState,
}

/// The proposed `[tracker]` section, every value with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Proposal {
    /// What each module answered.
    pub modules: Vec<ModuleStatus>,
    /// For `trunks`, sorted by prefix.
    pub trunks: Vec<Trunk>,
    /// For `inboundContexts`.
    pub inbound_contexts: Vec<Reasoned<String>>,
    /// For `extensions`: patterns, ranges or numbers covering exactly the
    /// phones' numbers.
    pub extensions: Vec<Reasoned<String>>,
    /// The phones, sorted by extension (each for a `[tracker.users]` line).
    pub phones: Vec<Phone>,
    /// The queues (each for a `[tracker.queues]` line), sorted by name.
    pub queues: Vec<Queue>,
    /// Endpoints or peers that look like both; left out.
    pub conflicts: Vec<Conflict>,
    /// Endpoints or peers that are neither; left out.
    pub left_out: Vec<LeftOut>,
    /// Everything else the operator should know (refusals, registrations
    /// that match no endpoint, contexts kept out, …).
    pub warnings: Vec<String>,
}

impl Proposal {
    /// True if no endpoint or peer could be seen because the AMI user
    /// lacks the rights: neither PJSIP nor chan_sip answered with a list,
    /// and at least one refused with `Permission denied` (the other not
    /// loaded, or refused too). The proposal then says nothing of the PBX.
    pub fn all_denied(&self) -> bool {
        let devices = [Module::Pjsip, Module::ChanSip].map(|m| self.module(m));
        devices
            .iter()
            .all(|s| !matches!(s, ModuleState::Found { .. }))
            && devices
                .iter()
                .any(|s| matches!(s, ModuleState::Denied { .. }))
    }

    /// The state of `module`.
    pub fn module(&self, module: Module) -> &ModuleState {
        self.modules
            .iter()
            .find(|m| m.module == module)
            .map_or(&ModuleState::NotAsked, |m| &m.state)
    }

    /// The proposal as a TOML `[tracker]` section; `source` names the PBX
    /// in the heading comment. See [`super`] for the layout.
    pub fn to_toml(&self, source: &str) -> String {
        super::render::to_toml(self, source)
    }
}
