//! Internal extensions as the operator writes them: Asterisk dialplan
//! patterns (`_1XX`), numeric ranges (`100-199`) or single extensions.

use std::fmt;

use serde::Deserialize;

/// One way to name internal extensions (see [`TrackerConfig::extensions`](super::TrackerConfig::extensions)):
///
/// * `_1XX`, `_2[0-4]XX`, `_9.` — an Asterisk pattern: after `_`, `X` is any
///   digit, `Z` 1–9, `N` 2–9, `[1-5]`/`[135]` one of a set, `.` one or more
///   characters, `!` zero or more, anything else itself;
/// * `100-199` — every number from 100 to 199 written with the same number
///   of digits as the bounds (so `0100` is not in it);
/// * `3001` — that extension.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionPattern {
    /// An Asterisk pattern, without its `_`.
    Dialplan(Vec<Element>),
    /// An inclusive numeric range; both bounds have `digits` digits.
    Range {
        /// Lowest.
        low: u64,
        /// Highest.
        high: u64,
        /// Digits of each bound (and of every number in it).
        digits: usize,
    },
    /// One extension.
    Exact(String),
}

/// One element of a dialplan pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Element {
    /// This character.
    Char(char),
    /// One of these characters.
    Set(Vec<char>),
    /// `.`: one or more of anything.
    OneOrMore,
    /// `!`: zero or more of anything.
    ZeroOrMore,
}

impl ExtensionPattern {
    /// Parses `text` (see the type's docs).
    pub fn parse(text: &str) -> Result<ExtensionPattern, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("an empty extension pattern".to_owned());
        }
        if let Some(p) = t.strip_prefix('_') {
            return parse_dialplan(p).map(ExtensionPattern::Dialplan);
        }
        if let Some((a, b)) = t.split_once('-')
            && !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
        {
            if a.len() != b.len() {
                return Err(format!(
                    "{t:?}: a range's bounds have as many digits as each other"
                ));
            }
            let (low, high) = (a.parse::<u64>(), b.parse::<u64>());
            let (Ok(low), Ok(high)) = (low, high) else {
                return Err(format!("{t:?}: bounds too large"));
            };
            if low > high {
                return Err(format!("{t:?}: the low bound is above the high one"));
            }
            return Ok(ExtensionPattern::Range {
                low,
                high,
                digits: a.len(),
            });
        }
        if t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '#')
        {
            return Ok(ExtensionPattern::Exact(t.to_owned()));
        }
        Err(format!(
            "{t:?} is not an extension, a range (100-199) or a pattern (_1XX)"
        ))
    }

    /// Whether `number` is one of the extensions this names.
    pub fn matches(&self, number: &str) -> bool {
        match self {
            ExtensionPattern::Exact(e) => e == number,
            ExtensionPattern::Range { low, high, digits } => {
                number.len() == *digits
                    && number.bytes().all(|b| b.is_ascii_digit())
                    && number
                        .parse::<u64>()
                        .is_ok_and(|n| (*low..=*high).contains(&n))
            }
            ExtensionPattern::Dialplan(elements) => {
                let chars: Vec<char> = number.chars().collect();
                match_from(elements, &chars)
            }
        }
    }
}

fn parse_dialplan(p: &str) -> Result<Vec<Element>, String> {
    let mut out = Vec::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c.to_ascii_uppercase() {
            'X' => Element::Set(('0'..='9').collect()),
            'Z' => Element::Set(('1'..='9').collect()),
            'N' => Element::Set(('2'..='9').collect()),
            '.' => Element::OneOrMore,
            '!' => Element::ZeroOrMore,
            '[' => {
                let mut set = Vec::new();
                let mut prev: Option<char> = None;
                loop {
                    match chars.next() {
                        None => return Err(format!("_{p}: `[` without `]`")),
                        Some(']') => break,
                        Some('-') if prev.is_some() && chars.peek().is_some_and(|n| *n != ']') => {
                            let from = prev.take().unwrap_or('0');
                            let to = chars.next().unwrap_or(from);
                            if to < from {
                                return Err(format!("_{p}: range {from}-{to} is backwards"));
                            }
                            set.extend(from..=to);
                        }
                        Some(x) => {
                            set.push(x);
                            prev = Some(x);
                        }
                    }
                }
                if set.is_empty() {
                    return Err(format!("_{p}: an empty `[]`"));
                }
                Element::Set(set)
            }
            _ if c.is_ascii_alphanumeric() || c == '*' || c == '#' || c == '+' => Element::Char(c),
            _ => return Err(format!("_{p}: {c:?} has no meaning in a pattern")),
        });
    }
    if out.is_empty() {
        return Err("`_` alone is not a pattern".to_owned());
    }
    Ok(out)
}

fn match_from(elements: &[Element], s: &[char]) -> bool {
    match elements.split_first() {
        None => s.is_empty(),
        Some((Element::OneOrMore, rest)) => (1..=s.len()).any(|n| match_from(rest, &s[n..])),
        Some((Element::ZeroOrMore, rest)) => (0..=s.len()).any(|n| match_from(rest, &s[n..])),
        Some((e, rest)) => match s.split_first() {
            None => false,
            Some((c, tail)) => {
                let ok = match e {
                    Element::Char(x) => x == c,
                    Element::Set(set) => set.contains(c),
                    _ => false,
                };
                ok && match_from(rest, tail)
            }
        },
    }
}

impl fmt::Debug for ExtensionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionPattern::Dialplan(e) => write!(f, "Dialplan({e:?})"),
            ExtensionPattern::Range { low, high, digits } => {
                write!(f, "Range({low:0digits$}-{high:0digits$})")
            }
            ExtensionPattern::Exact(e) => write!(f, "Exact({e})"),
        }
    }
}

impl<'de> Deserialize<'de> for ExtensionPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ExtensionPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> ExtensionPattern {
        ExtensionPattern::parse(t).unwrap()
    }

    #[test]
    fn dialplan_patterns_match_as_asterisk_does() {
        let x = p("_1XX");
        assert!(x.matches("100") && x.matches("199"));
        assert!(!x.matches("200") && !x.matches("10") && !x.matches("1000"));
        let z = p("_2[0-4]XX");
        assert!(z.matches("2000") && z.matches("2499"));
        assert!(!z.matches("2500"));
        assert!(p("_[135]0").matches("30") && !p("_[135]0").matches("20"));
        assert!(p("_NXX").matches("200") && !p("_NXX").matches("100"));
        assert!(p("_ZX").matches("10") && !p("_ZX").matches("01"));
        assert!(p("_9.").matches("9123") && !p("_9.").matches("9"));
        assert!(p("_9!").matches("9") && p("_9!").matches("95"));
        assert!(p("_*XX").matches("*72"));
    }

    #[test]
    fn ranges_and_single_extensions() {
        let r = p("100-199");
        assert!(r.matches("100") && r.matches("150") && r.matches("199"));
        assert!(!r.matches("200") && !r.matches("0100") && !r.matches("99") && !r.matches("1a0"));
        assert!(p("3001").matches("3001") && !p("3001").matches("30011"));
    }

    #[test]
    fn mistakes_are_refused() {
        for bad in [
            "", "_", "_1[", "_1[]", "_[9-1]", "100-99", "10-100", "1 0", "_1 X", "a/b",
        ] {
            assert!(ExtensionPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
