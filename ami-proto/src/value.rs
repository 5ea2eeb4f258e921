//! Header values: bytes first, with a text view that never fails.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A header key or value as it arrived on the wire, borrowed from the
/// message buffer.
///
/// AMI is a byte protocol: caller names may arrive in Latin-1 or any other
/// 8-bit encoding. `Value` keeps the exact bytes ([`as_bytes`](Self::as_bytes))
/// and offers a text view ([`to_str`](Self::to_str)) that never fails: valid
/// UTF-8 is borrowed as is; anything else is read as Latin-1 (ISO 8859-1),
/// which maps every byte to a character, so no information is lost.
///
/// ```
/// use ami_proto::Value;
/// let v = Value::new(b"Jos\xe9");
/// assert_eq!(v.to_str(), "José");
/// assert_eq!(v.as_bytes(), b"Jos\xe9");
/// assert_eq!(v.as_str(), None); // not UTF-8
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value<'a>(&'a [u8]);

impl<'a> Value<'a> {
    /// Wraps raw bytes.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Value(bytes)
    }

    /// The exact bytes received.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The value as `&str` if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.0).ok()
    }

    /// A text view that never fails: UTF-8 when valid (borrowed), else each
    /// byte read as a Latin-1 character (owned).
    pub fn to_str(&self) -> Cow<'a, str> {
        match std::str::from_utf8(self.0) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(self.0.iter().map(|&b| b as char).collect()),
        }
    }

    /// True if the value is empty.
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// Case-insensitive (ASCII) comparison with `other`.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }

    /// True for the placeholders Asterisk uses for "nothing here": the empty
    /// string, `<unknown>`, `unknown`, `<none>`, `none` and `<null>`.
    pub fn is_placeholder(&self) -> bool {
        self.0.is_empty()
            || [&b"<unknown>"[..], b"unknown", b"<none>", b"none", b"<null>"]
                .iter()
                .any(|p| self.0.eq_ignore_ascii_case(p))
    }

    /// `None` for the placeholders listed in [`is_placeholder`](Self::is_placeholder).
    pub fn non_placeholder(self) -> Option<Self> {
        if self.is_placeholder() {
            None
        } else {
            Some(self)
        }
    }

    /// Parses the value (as text) with [`FromStr`]. Returns `None` if the
    /// value is not UTF-8 or does not parse.
    pub fn parse<T: FromStr>(&self) -> Option<T> {
        self.as_str()?.trim().parse().ok()
    }
}

impl PartialEq<str> for Value<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<[u8]> for Value<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl AsRef<[u8]> for Value<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str())
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.to_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_fallback_is_lossless() {
        let raw: Vec<u8> = (0u8..=255).collect();
        let v = Value::new(&raw);
        let text = v.to_str();
        let back: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(back, raw);
    }

    #[test]
    fn placeholders() {
        for p in [
            "",
            "<unknown>",
            "unknown",
            "<none>",
            "none",
            "<null>",
            "<UNKNOWN>",
        ] {
            assert!(Value::new(p.as_bytes()).is_placeholder(), "{p}");
        }
        assert!(!Value::new(b"1001").is_placeholder());
        assert_eq!(Value::new(b"42").parse::<u32>(), Some(42));
        assert_eq!(Value::new(b"x").parse::<u32>(), None);
    }
}
