//! Who is the outside party: each channel read as a trunk, a phone or a
//! `Local/` half from what every PBX shows, with the reason kept.
//!
//! The rule, in order (the first that applies decides):
//!
//! 1. `Local/…` channels are neither: they only join two halves of a call.
//! 2. A channel of a configured trunk (`[tracker] trunks`) is a trunk.
//! 3. A channel whose endpoint is an internal extension (`PJSIP/1001-…`,
//!    `SIP/201-…`) is a phone.
//! 4. A channel that entered the dialplan in a configured context
//!    (`inboundContexts` → trunk, `internalContexts` → phone) is that; else
//!    one every FreePBX, Issabel or hand-written Asterisk names alike:
//!    `from-trunk`, `from-pstn`, `from-external`, `from-did…`,
//!    `from-sip-external`, `from-provider`, `from-carrier`, `from-outside`,
//!    `incoming`, `inbound` (trunks); `from-internal…`, `internal`,
//!    `phones`, `from-phones`, `from-users`, `from-extensions`, `agents`
//!    (phones).
//! 5. A channel whose endpoint ends in an internal extension
//!    (`PJSIP/agent1001-…`) is a phone.
//! 6. A channel whose caller number is an internal extension is a phone
//!    (phones named after people, `SIP/alice-…`, show their extension
//!    there).
//! 7. Anything else is a trunk: a caller number outside the numbering
//!    plan, or no number at all (an anonymous caller), on a channel that
//!    shows no sign of being a phone.
//!
//! A channel taken for a trunk by any rule but 2 while trunks are configured
//! is an unknown trunk, and a channel whose signals disagree (a trunk whose
//! caller number is an internal extension, a phone in a trunk's context)
//! is an overlap: both are logged as warnings naming the call.

use std::fmt;

use super::channel::{endpoint_of, extension_of_name, is_local};
use super::config::TrackerConfig;

/// What a channel is to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The outside world: a trunk to a provider.
    Trunk,
    /// An internal phone.
    Phone,
    /// A `Local/…` half.
    Local,
}

/// Why a channel got its [`Role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    LocalChannel,
    ConfiguredTrunk,
    EndpointIsExtension,
    ConfiguredInboundContext,
    ConfiguredInternalContext,
    TrunkContext,
    PhoneContext,
    EndpointEndsInExtension,
    NumberIsExtension,
    NumberOutsidePlan,
    NoPhoneSign,
}

impl Why {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Why::LocalChannel => "a Local channel",
            Why::ConfiguredTrunk => "a configured trunk",
            Why::EndpointIsExtension => "its endpoint is an internal extension",
            Why::ConfiguredInboundContext => "it entered a configured inbound context",
            Why::ConfiguredInternalContext => "it entered a configured internal context",
            Why::TrunkContext => "it entered a trunk's context",
            Why::PhoneContext => "it entered a phones' context",
            Why::EndpointEndsInExtension => "its endpoint ends in an internal extension",
            Why::NumberIsExtension => "its caller number is an internal extension",
            Why::NumberOutsidePlan => "its caller number is outside the numbering plan",
            Why::NoPhoneSign => "it shows no sign of a phone (no extension, no number)",
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Contexts that trunks deliver calls to on most PBXs.
pub(crate) const TRUNK_CONTEXTS: &[&str] = &[
    "from-trunk",
    "from-pstn",
    "from-external",
    "from-did",
    "from-sip-external",
    "from-provider",
    "from-carrier",
    "from-outside",
    "incoming",
    "inbound",
];

/// Contexts that phones place their calls in on most PBXs.
pub(crate) const PHONE_CONTEXTS: &[&str] = &[
    "from-internal",
    "internal",
    "phones",
    "from-phones",
    "from-users",
    "from-extensions",
    "agents",
];

/// `context` is `name` or `name-…` for one of `names`.
pub(crate) fn context_in(context: &str, names: &[&str]) -> bool {
    names.iter().any(|n| {
        context.len() >= n.len()
            && context.as_bytes()[..n.len()].eq_ignore_ascii_case(n.as_bytes())
            && (context.len() == n.len() || context.as_bytes()[n.len()] == b'-')
    })
}

/// How a channel was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    pub(crate) role: Role,
    pub(crate) why: Why,
    /// Another signal of the same channel says otherwise.
    pub(crate) conflict: Option<Why>,
}

/// Reads a channel from its name, its caller number (normalised) and the
/// context it is in.
pub(crate) fn read_channel(
    name: &str,
    number: &str,
    context: &str,
    cfg: &TrackerConfig,
) -> Reading {
    let decided = |role, why| Reading {
        role,
        why,
        conflict: None,
    };
    if is_local(name) {
        return decided(Role::Local, Why::LocalChannel);
    }
    let number_says = (!number.is_empty()).then(|| {
        if cfg.is_internal_extension(number) {
            (Role::Phone, Why::NumberIsExtension)
        } else {
            (Role::Trunk, Why::NumberOutsidePlan)
        }
    });
    let context_says = if cfg.is_inbound_context(context) {
        Some((Role::Trunk, Why::ConfiguredInboundContext))
    } else if cfg.is_internal_context(context) {
        Some((Role::Phone, Why::ConfiguredInternalContext))
    } else if context_in(context, TRUNK_CONTEXTS) {
        Some((Role::Trunk, Why::TrunkContext))
    } else if context_in(context, PHONE_CONTEXTS) {
        Some((Role::Phone, Why::PhoneContext))
    } else {
        None
    };
    let endpoint = endpoint_of(name);
    let (role, why) = if cfg.is_trunk_channel(name) {
        (Role::Trunk, Why::ConfiguredTrunk)
    } else if !endpoint.is_empty() && cfg.is_internal_extension(endpoint) {
        (Role::Phone, Why::EndpointIsExtension)
    } else if let Some(said) = context_says {
        said
    } else if extension_of_name(name, cfg).is_some() {
        (Role::Phone, Why::EndpointEndsInExtension)
    } else if let Some(said) = number_says {
        said
    } else {
        (Role::Trunk, Why::NoPhoneSign)
    };
    // A trunk's caller is whoever calls: only an internal number is odd
    // there. A phone may show any number (its DID), but not a trunk's
    // context.
    let conflict = match role {
        Role::Trunk => number_says
            .filter(|(r, _)| *r == Role::Phone)
            .or(context_says.filter(|(r, _)| *r == Role::Phone))
            .map(|(_, w)| w),
        Role::Phone => context_says
            .filter(|(r, _)| *r == Role::Trunk)
            .map(|(_, w)| w),
        Role::Local => None,
    };
    Reading {
        role,
        why,
        conflict,
    }
}

/// Logs what is doubtful about a channel's reading, naming its call.
pub(crate) fn warn_doubts(reading: &Reading, name: &str, linkedid: &str, cfg: &TrackerConfig) {
    if reading.role == Role::Trunk && !cfg.trunks.is_empty() && reading.why != Why::ConfiguredTrunk
    {
        tracing::warn!(
            linkedid,
            channel = name,
            reason = reading.why.as_str(),
            "channel taken for a trunk that is not in [tracker] trunks"
        );
    }
    if let Some(other) = reading.conflict {
        tracing::warn!(
            linkedid,
            channel = name,
            taken_for = match reading.role {
                Role::Trunk => "trunk",
                Role::Phone => "phone",
                Role::Local => "local",
            },
            because = reading.why.as_str(),
            but = other.as_str(),
            "channel's signals disagree; set [tracker] trunks, extensions or contexts"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, number: &str, context: &str) -> (Role, Why) {
        let r = read_channel(name, number, context, &TrackerConfig::default());
        (r.role, r.why)
    }

    #[test]
    fn untuned_pbxs_are_read_from_their_own_signals() {
        use Role::*;
        // Our own PBX.
        assert_eq!(
            role("PJSIP/trunk-00000001", "+5511999990001", "from-trunk").0,
            Trunk
        );
        assert_eq!(role("PJSIP/agent1001-00000002", "1001", "agents").0, Phone);
        // chan_sip, FreePBX: trunk named after the provider.
        assert_eq!(
            role("SIP/voipprovider-00000012", "5511987654321", "from-pstn"),
            (Trunk, Why::TrunkContext)
        );
        assert_eq!(
            role("SIP/201-00000013", "201", "from-internal"),
            (Phone, Why::EndpointIsExtension)
        );
        // Phones named after people show their extension as caller.
        assert_eq!(
            role("PJSIP/alice-00000003", "101", "default"),
            (Phone, Why::NumberIsExtension)
        );
        assert_eq!(
            role("PJSIP/telnyx-0000003f", "+14155550100", "default"),
            (Trunk, Why::NumberOutsidePlan)
        );
        // An anonymous caller on a channel that is no phone.
        assert_eq!(
            role("PJSIP/telnyx-0000003f", "", "default"),
            (Trunk, Why::NoPhoneSign)
        );
        assert_eq!(
            role("Local/201@from-internal-00000001;2", "201", "from-internal").0,
            Local
        );
        // A phone in from-internal whose caller ID is its DID.
        assert_eq!(
            role("SIP/bob-00000001", "551133334444", "from-internal"),
            (Phone, Why::PhoneContext)
        );
    }

    #[test]
    fn configuration_refines_and_conflicts_are_seen() {
        let cfg: TrackerConfig = serde_json::from_str(
            r#"{"trunks": ["SIP/carrier"], "inboundContexts": ["did"], "extensions": ["_2XX"]}"#,
        )
        .unwrap();
        let r = read_channel("SIP/carrier-00000001", "204", "did", &cfg);
        assert_eq!((r.role, r.why), (Role::Trunk, Why::ConfiguredTrunk));
        assert_eq!(r.conflict, Some(Why::NumberIsExtension));
        let r = read_channel("SIP/other-00000002", "5511987654321", "did", &cfg);
        assert_eq!(
            (r.role, r.why),
            (Role::Trunk, Why::ConfiguredInboundContext)
        );
        // 4-digit numbers are outside `_2XX`.
        let r = read_channel("SIP/carol-00000003", "1001", "x", &cfg);
        assert_eq!((r.role, r.why), (Role::Trunk, Why::NumberOutsidePlan));
        let r = read_channel("SIP/201-00000004", "201", "from-pstn", &cfg);
        assert_eq!(r.role, Role::Phone);
        assert_eq!(r.conflict, Some(Why::TrunkContext));
        assert!(context_in("from-internal-xfer", PHONE_CONTEXTS));
        assert!(!context_in("from-internalx", PHONE_CONTEXTS));
        assert!(context_in("FROM-PSTN", TRUNK_CONTEXTS));
    }
}
