//! The error type of this crate.

use std::fmt;

/// Everything that can go wrong while reading or writing AMI.
///
/// Decoding problems that concern a single message (too large, too many
/// headers, cut off by the end of the stream) are *not* returned as `Err` by
/// the decoder: they come out as [`Frame::Skipped`](crate::Frame::Skipped) so
/// that the stream goes on. `Err` from the decoder only means I/O failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The underlying transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A message grew beyond the configured maximum size; it was skipped.
    #[error("message of at least {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Bytes of the message seen when the limit was crossed.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// A message carried more header lines than the configured maximum.
    #[error("message has more than {limit} header lines")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },

    /// The stream ended in the middle of a message.
    #[error("stream ended inside a message ({bytes} bytes without the closing empty line)")]
    Truncated {
        /// Bytes of the unfinished message that were dropped.
        bytes: usize,
    },

    /// A header key or value cannot be written safely: it contains CR, LF
    /// or NUL (which would let it inject extra headers or actions), or a key
    /// is empty or contains a colon.
    #[error("refusing to encode header {key:?}: {reason}")]
    InvalidHeader {
        /// The (possibly truncated, escaped) key of the offending header.
        key: String,
        /// What is wrong with it.
        reason: InvalidHeaderReason,
    },
}

/// Why a header was refused by the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidHeaderReason {
    /// The key is empty.
    EmptyKey,
    /// The key contains a colon, a space or a control character.
    BadKeyByte,
    /// The key or value contains CR, LF or NUL.
    LineBreakOrNul,
}

impl fmt::Display for InvalidHeaderReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidHeaderReason::EmptyKey => "the key is empty",
            InvalidHeaderReason::BadKeyByte => {
                "the key contains a colon, whitespace or a control character"
            }
            InvalidHeaderReason::LineBreakOrNul => "it contains CR, LF or NUL",
        })
    }
}

impl ProtoError {
    /// True for problems confined to one message; the stream can go on.
    pub fn is_per_message(&self) -> bool {
        matches!(
            self,
            ProtoError::MessageTooLarge { .. }
                | ProtoError::TooManyHeaders { .. }
                | ProtoError::Truncated { .. }
        )
    }
}

/// Checks one header for the encoder. Keys must be non-empty and free of
/// colons, whitespace and control bytes; values must be free of CR, LF, NUL.
pub(crate) fn check_header(key: &[u8], value: &[u8]) -> Result<(), ProtoError> {
    let reason = if key.is_empty() {
        Some(InvalidHeaderReason::EmptyKey)
    } else if key.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
        || memchr::memchr3(b'\r', b'\n', 0, value).is_some()
    {
        Some(InvalidHeaderReason::LineBreakOrNul)
    } else if key
        .iter()
        .any(|&b| b == b':' || b == b' ' || b == b'\t' || b < 0x20 || b == 0x7f)
    {
        Some(InvalidHeaderReason::BadKeyByte)
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => {
            let shown = &key[..key.len().min(64)];
            Err(ProtoError::InvalidHeader {
                key: String::from_utf8_lossy(shown).escape_debug().to_string(),
                reason,
            })
        }
    }
}
