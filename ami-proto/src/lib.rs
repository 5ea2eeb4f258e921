//! # ami-proto
//!
//! The Asterisk Manager Interface (AMI) wire format, sans I/O: a streaming,
//! zero-copy decoder and a validating encoder, with typed views of the
//! events a call tracker needs and builders for the actions a connector
//! sends. It plugs into tokio through [`tokio_util::codec`] but does no I/O
//! itself.
//!
//! ```
//! use ami_proto::{Action, AmiCodec, Event, Frame};
//! use bytes::BytesMut;
//!
//! let mut codec = AmiCodec::new();
//! let mut buf = BytesMut::from(
//!     &b"Asterisk Call Manager/11.0.0\r\n\
//!        Event: Newchannel\r\nChannel: PJSIP/trunk-00000000\r\n\
//!        CallerIDNum: +5511999990001\r\nUniqueid: 1795515777.0\r\n\
//!        Linkedid: 1795515777.0\r\n\r\n"[..],
//! );
//! let mut events = 0;
//! while let Some(frame) = codec.decode_frame(&mut buf) {
//!     match frame {
//!         Frame::Banner(b) => assert_eq!(b.version().unwrap(), "11.0.0"),
//!         Frame::Message(m) => {
//!             if let Some(Event::Newchannel(e)) = Event::from_message(&m) {
//!                 assert_eq!(e.channel().caller_id_num().unwrap(), "+5511999990001");
//!                 events += 1;
//!             }
//!         }
//!         Frame::Skipped(err) => panic!("{err}"),
//!         _ => {}
//!     }
//! }
//! assert_eq!(events, 1);
//!
//! // Actions are validated as they are encoded.
//! let mut out = BytesMut::new();
//! Action::ping().with_action_id("a-1").encode(&mut out).unwrap();
//! assert!(Action::hangup("x\r\nAction: Logoff", None).encode(&mut out).is_err());
//! ```
//!
//! See [`AmiCodec`] for the exact decoding rules (line endings, limits,
//! legacy command output) and [`Value`] for how bytes become text.
//!
//! ## Features
//! * `serde`: `Serialize` for [`Message`] (a JSON object; repeated keys
//!   become arrays) and [`Value`].
#![warn(missing_docs)]

mod action;
mod blocks;
mod codec;
mod error;
mod events;
#[doc(hidden)]
pub mod fuzzing;
mod message;
mod parse;
mod scan;
#[cfg(feature = "serde")]
mod serde_impl;
mod value;

pub use action::{Action, Originate, OriginateTarget, escape_variable_value};
pub use blocks::{BridgeBlock, ChannelBlock};
pub use codec::{AmiCodec, Banner, Frame, Limits, encode_banner};
pub use error::{InvalidHeaderReason, ProtoError};
pub use events::*;
pub use message::{Header, Message, MessageBuilder, MessageKind};
pub use value::Value;

/// Re-exported so users need not depend on `bytes` themselves.
pub use bytes;
