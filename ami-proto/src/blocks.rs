//! The channel block and the bridge block shared by many events.

use crate::message::Message;
use crate::value::Value;

/// The channel block (`Channel`, `ChannelState`, … `Uniqueid`, `Linkedid`)
/// of an event, under an optional prefix (`Dest`, `Transferer`,
/// `LocalOne`, …). Borrowing view: nothing is copied.
///
/// ```
/// use ami_proto::{ChannelBlock, Message};
/// let m = Message::parse(b"Event: DialBegin\r\nDestChannel: PJSIP/a-1\r\nDestUniqueid: 9.2\r\n\r\n").unwrap();
/// let dest = ChannelBlock::new(&m, "Dest");
/// assert!(dest.is_present());
/// assert_eq!(dest.uniqueid().unwrap(), "9.2");
/// assert!(!ChannelBlock::new(&m, "").is_present()); // Originate: no caller block
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ChannelBlock<'a> {
    msg: &'a Message,
    prefix: &'static str,
}

macro_rules! block_fields {
    ($( $(#[$doc:meta])* $method:ident => $key:literal ),* $(,)?) => {
        $(
            $(#[$doc])*
            #[inline]
            pub fn $method(&self) -> Option<Value<'a>> {
                self.msg.get_prefixed(self.prefix, $key)
            }
        )*
    };
}

impl<'a> ChannelBlock<'a> {
    /// The block of `msg` whose keys start with `prefix` (`""` for none).
    pub fn new(msg: &'a Message, prefix: &'static str) -> ChannelBlock<'a> {
        ChannelBlock { msg, prefix }
    }

    /// The prefix of this block.
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// True if the message carries this block (its `Channel` or `Uniqueid`).
    pub fn is_present(&self) -> bool {
        self.channel().is_some() || self.uniqueid().is_some()
    }

    block_fields! {
        /// Channel name, e.g. `PJSIP/agent1001-00000001`.
        channel => "Channel",
        /// State description (`Ring`, `Ringing`, `Up`, …).
        channel_state_desc => "ChannelStateDesc",
        /// Caller number (`<unknown>` when unset).
        caller_id_num => "CallerIDNum",
        /// Caller name (C-escaped by Asterisk; `<unknown>` when unset).
        caller_id_name => "CallerIDName",
        /// Connected line number.
        connected_line_num => "ConnectedLineNum",
        /// Connected line name.
        connected_line_name => "ConnectedLineName",
        /// Language.
        language => "Language",
        /// Account code.
        account_code => "AccountCode",
        /// Dialplan context.
        context => "Context",
        /// Dialplan extension.
        exten => "Exten",
        /// Dialplan priority (raw).
        priority => "Priority",
        /// The channel's unique id.
        uniqueid => "Uniqueid",
        /// The Uniqueid of the oldest channel of the call: groups its legs.
        linkedid => "Linkedid",
        /// Tenant id (Asterisk 20.10+/21.5+/22+), when set.
        tenantid => "Tenantid",
    }

    /// Numeric channel state (0 Down … 6 Up, 7 Busy).
    pub fn channel_state(&self) -> Option<u8> {
        self.msg.get_prefixed(self.prefix, "ChannelState")?.parse()
    }

    /// The `ChanVariable: name=value` lines of this block, split at the
    /// first `=`.
    pub fn chan_variables(&self) -> impl Iterator<Item = (Value<'a>, Value<'a>)> + 'a {
        let prefix = self.prefix.as_bytes();
        let msg = self.msg;
        msg.headers().filter_map(move |h| {
            let name = h.name.as_bytes();
            let key_ok = name.len() == prefix.len() + 12
                && name[..prefix.len()].eq_ignore_ascii_case(prefix)
                && name[prefix.len()..].eq_ignore_ascii_case(b"ChanVariable");
            if !key_ok {
                return None;
            }
            let v = h.value.as_bytes();
            let eq = memchr::memchr(b'=', v)?;
            Some((Value::new(&v[..eq]), Value::new(&v[eq + 1..])))
        })
    }

    /// The value of channel variable `name` from `ChanVariable` lines.
    pub fn chan_variable(&self, name: &str) -> Option<Value<'a>> {
        self.chan_variables()
            .find(|(k, _)| k.eq_ignore_case(name))
            .map(|(_, v)| v)
    }
}

/// The bridge block (`BridgeUniqueid`, `BridgeType`, …) under an optional
/// prefix (`Orig`, `Second`, `To`, `From`).
#[derive(Clone, Copy, Debug)]
pub struct BridgeBlock<'a> {
    msg: &'a Message,
    prefix: &'static str,
}

impl<'a> BridgeBlock<'a> {
    /// The block of `msg` whose keys start with `prefix`.
    pub fn new(msg: &'a Message, prefix: &'static str) -> BridgeBlock<'a> {
        BridgeBlock { msg, prefix }
    }

    /// True if the message carries this block.
    pub fn is_present(&self) -> bool {
        self.uniqueid().is_some()
    }

    block_fields! {
        /// Bridge id.
        uniqueid => "BridgeUniqueid",
        /// Subclass, e.g. `basic`.
        bridge_type => "BridgeType",
        /// Technology: `simple_bridge`, `native_rtp`, `softmix`, `holding_bridge`.
        technology => "BridgeTechnology",
        /// Creator (`<unknown>` if none).
        creator => "BridgeCreator",
        /// Name (`<unknown>` if none).
        name => "BridgeName",
        /// Video source mode.
        video_source_mode => "BridgeVideoSourceMode",
    }

    /// Number of channels in the bridge.
    pub fn num_channels(&self) -> Option<u32> {
        self.msg
            .get_prefixed(self.prefix, "BridgeNumChannels")?
            .parse()
    }
}
