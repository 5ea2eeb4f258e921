//! Small nom grammars for the pieces of AMI text that have structure.

use nom::bytes::complete::{tag, take_until, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{opt, rest};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};

/// A parsed item followed by an optional second item.
type PairResult<'a> = IResult<&'a [u8], (&'a [u8], Option<&'a [u8]>)>;

/// `Key:` then at most one space: returns (key length, value offset).
///
/// `Channel: PJSIP/a` → (7, 9). `Key:` → (3, 4). A line without a colon →
/// `None`. Only the first colon counts, so values may contain `: `.
#[inline]
pub(crate) fn header_split(line: &[u8]) -> Option<(usize, usize)> {
    let parsed: PairResult<'_> = (terminated(take_until(":"), tag(":")), opt(tag(" "))).parse(line);
    let (value, (key, _)) = parsed.ok()?;
    Some((key.len(), line.len() - value.len()))
}

/// `Asterisk Call Manager/11.0.0` → offset of the slash.
pub(crate) fn banner_split(line: &[u8]) -> Option<usize> {
    let parsed: IResult<&[u8], &[u8]> = terminated(take_until("/"), tag("/")).parse(line);
    parsed.ok().map(|(_, product)| product.len())
}

/// `1795515777.070123` → seconds since the epoch.
pub(crate) fn unix_timestamp(v: &[u8]) -> Option<f64> {
    let parsed: PairResult<'_> = (digit1, opt(preceded(tag("."), digit1))).parse(v.trim_ascii());
    let (left, (secs, frac)) = parsed.ok()?;
    if !left.is_empty() {
        return None;
    }
    let secs: f64 = std::str::from_utf8(secs).ok()?.parse().ok()?;
    let frac = match frac {
        Some(f) => {
            let digits = std::str::from_utf8(f).ok()?;
            let n: f64 = digits.parse().ok()?;
            n / 10f64.powi(digits.len() as i32)
        }
        None => 0.0,
    };
    Some(secs + frac)
}

/// `0 (Presentation Allowed, Not Screened)` → (0, "Presentation Allowed, Not Screened").
pub(crate) fn number_and_text(v: &[u8]) -> Option<(i64, &[u8])> {
    let parsed: PairResult<'_> = (
        take_while1(|b: u8| b.is_ascii_digit() || b == b'-'),
        opt(preceded(tag(" ("), terminated(take_until(")"), tag(")")))),
    )
        .parse(v);
    let (_, (num, text)) = parsed.ok()?;
    let n = std::str::from_utf8(num).ok()?.parse().ok()?;
    Some((n, text.unwrap_or(b"")))
}

/// `HH:MM:SS` (CoreShowChannel `Duration`) → seconds.
pub(crate) fn hms(v: &[u8]) -> Option<u64> {
    let num = |i| -> IResult<&[u8], u64> {
        let (i, d) = digit1(i)?;
        let n = std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        Ok((i, n))
    };
    let parsed: IResult<&[u8], (u64, u64, u64, &[u8])> = (
        terminated(num, tag(":")),
        terminated(num, tag(":")),
        num,
        rest,
    )
        .parse(v);
    let (_, (h, m, s, left)) = parsed.ok()?;
    if !left.is_empty() || h == u64::MAX || m >= 60 || s >= 60 {
        return None;
    }
    h.checked_mul(3600)?.checked_add(m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines() {
        assert_eq!(header_split(b"Channel: PJSIP/a"), Some((7, 9)));
        assert_eq!(header_split(b"Key:"), Some((3, 4)));
        assert_eq!(header_split(b"Key: "), Some((3, 5)));
        assert_eq!(header_split(b"Key:  two"), Some((3, 5)));
        assert_eq!(header_split(b"AppData: a: b"), Some((7, 9)));
        assert_eq!(header_split(b": v"), Some((0, 2)));
        assert_eq!(header_split(b"no colon"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            unix_timestamp(b"1795515777.070123"),
            Some(1795515777.070123)
        );
        assert_eq!(unix_timestamp(b"12"), Some(12.0));
        assert_eq!(unix_timestamp(b"12.5x"), None);
        assert_eq!(unix_timestamp(b""), None);
    }

    #[test]
    fn number_text() {
        assert_eq!(
            number_and_text(b"0 (Presentation Allowed, Not Screened)"),
            Some((0, &b"Presentation Allowed, Not Screened"[..]))
        );
        assert_eq!(number_and_text(b"16"), Some((16, &b""[..])));
        assert_eq!(number_and_text(b"x"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(hms(b"00:01:05"), Some(65));
        assert_eq!(hms(b"100:00:00"), Some(360000));
        assert_eq!(hms(b"00:61:00"), None);
        assert_eq!(hms(b"1:2"), None);
    }
}
