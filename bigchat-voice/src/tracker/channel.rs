//! What the tracker keeps per live channel, and how a channel is read
//! (trunk or agent, which extension).

use ami_proto::{ChannelBlock, Value};

use super::classify::{Role, Why, read_channel, warn_doubts};
use super::config::TrackerConfig;
use super::number::normalize_bytes;

/// A live channel, keyed by its Uniqueid in the tracker.
#[derive(Debug, Clone)]
pub(crate) struct ChannelInfo {
    /// The call it belongs to.
    pub(crate) linkedid: Box<str>,
    /// Channel name, e.g. `PJSIP/agent1001-00000001`.
    pub(crate) name: Box<str>,
    /// A trunk channel: the outside world.
    pub(crate) external: bool,
    /// Why it was read as trunk, phone or Local.
    pub(crate) why: Why,
    /// A `Local/…` half.
    pub(crate) local: bool,
    /// The agent extension this channel stands for, if any.
    pub(crate) extension: Option<Box<str>>,
    /// Bridge it is in.
    pub(crate) bridge: Option<Box<str>>,
    /// On hold right now.
    pub(crate) on_hold: bool,
}

impl ChannelInfo {
    pub(crate) fn from_block(
        block: &ChannelBlock<'_>,
        linkedid: &str,
        cfg: &TrackerConfig,
    ) -> ChannelInfo {
        let name = block.channel().map(|v| v.to_str()).unwrap_or_default();
        let number = normalize_bytes(block.caller_id_num().map_or(&b""[..], |v| v.as_bytes()));
        let reading = read_channel(&name, &number, text(block.context()).unwrap_or(""), cfg);
        warn_doubts(&reading, &name, linkedid, cfg);
        ChannelInfo {
            linkedid: linkedid.into(),
            external: reading.role == Role::Trunk,
            why: reading.why,
            local: reading.role == Role::Local,
            extension: extension_of(block, cfg).map(String::into_boxed_str),
            name: name.into(),
            bridge: None,
            on_hold: false,
        }
    }
}

/// True for `Local/…` channel names.
pub(crate) fn is_local(name: &str) -> bool {
    name.len() > 6 && name.as_bytes()[..6].eq_ignore_ascii_case(b"Local/")
}

/// A header value as `&str`, `None` for placeholders and non-UTF-8.
pub(crate) fn text(v: Option<Value<'_>>) -> Option<&str> {
    v?.non_placeholder()?.as_str()
}

/// The agent extension a channel stands for: its caller number if that is
/// an internal extension; else its endpoint (`PJSIP/1001-…` → `1001`,
/// `Local/1001@agents-…;1` → `1001`), or the endpoint's trailing digits
/// (`PJSIP/agent1001-…` → `1001`), if internal.
pub(crate) fn extension_of(block: &ChannelBlock<'_>, cfg: &TrackerConfig) -> Option<String> {
    if let Some(num) = text(block.caller_id_num())
        && cfg.is_internal_extension(num)
    {
        return Some(num.to_owned());
    }
    extension_of_name(text(block.channel())?, cfg)
}

/// [`extension_of`] from a channel or interface name alone.
pub(crate) fn extension_of_name(name: &str, cfg: &TrackerConfig) -> Option<String> {
    let endpoint = endpoint_of(name);
    if cfg.is_internal_extension(endpoint) {
        return Some(endpoint.to_owned());
    }
    let digits_from = endpoint
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let digits = &endpoint[digits_from..];
    (digits_from > 0 && cfg.is_internal_extension(digits)).then(|| digits.to_owned())
}

/// `PJSIP/agent1001-0000000a` → `agent1001`; `Local/1001@agents-0001;1` →
/// `1001`; `PJSIP/agent1002` (an interface) → `agent1002`.
pub(crate) fn endpoint_of(name: &str) -> &str {
    let after_tech = name.split_once('/').map_or(name, |(_, rest)| rest);
    if is_local(name) {
        return after_tech.split('@').next().unwrap_or(after_tech);
    }
    match after_tech.rfind('-') {
        Some(i) => &after_tech[..i],
        None => after_tech,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_from_names() {
        let c = TrackerConfig::default();
        assert_eq!(
            extension_of_name("PJSIP/agent1001-0000000a", &c).as_deref(),
            Some("1001")
        );
        assert_eq!(
            extension_of_name("PJSIP/1002-00000001", &c).as_deref(),
            Some("1002")
        );
        assert_eq!(
            extension_of_name("Local/1003@agents-00000001;2", &c).as_deref(),
            Some("1003")
        );
        assert_eq!(
            extension_of_name("PJSIP/agent1002", &c).as_deref(),
            Some("1002")
        );
        assert_eq!(extension_of_name("PJSIP/trunk-0000000b", &c), None);
        assert_eq!(extension_of_name("", &c), None);
        assert_eq!(extension_of_name("PJSIP/5511999990001-01", &c), None);
        assert_eq!(
            extension_of_name("PJSIP/agenté1001-01", &c).as_deref(),
            Some("1001")
        );
        assert_eq!(extension_of_name("PJSIP/é-01", &c), None);
    }
}
