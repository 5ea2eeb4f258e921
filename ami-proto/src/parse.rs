//! Small nom grammars for the pieces of AMI text that have structure.

use nom::bytes::complete::{tag, take_till, take_until, take_while1};
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
    // `take_till` is a plain byte loop: keys are short, so this beats a
    // vectorised search and its call overhead.
    let split: IResult<&[u8], &[u8], ()> = take_till(|b| b == b':').parse(line);
    let (after_key, key) = split.ok()?;
    if after_key.is_empty() {
        return None;
    }
    let space = usize::from(after_key.get(1) == Some(&b' '));
    Some((key.len(), key.len() + 1 + space))
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

/// True for a line that, right after `Response: Follows`, is one more
/// header of the reply (`Privilege`, `ActionID`, `Message`) rather than
/// the start of its body.
pub(crate) fn is_follows_header(line: &[u8]) -> bool {
    header_split(line).is_some_and(|(key_end, _)| {
        let key = &line[..key_end];
        [&b"Privilege"[..], b"ActionID", b"Message"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
    })
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

/// Position of the first LF in `h`. Lines are short (~20 bytes on average),
/// so the first 64 bytes are scanned eight at a time with plain integer
/// arithmetic, and only longer lines pay for a vectorised `memchr` call.
#[inline(always)]
pub(crate) fn find_lf(h: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const PAT: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= h.len() {
        if i >= 64 {
            return memchr::memchr(b'\n', &h[i..]).map(|p| p + i);
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&h[i..i + 8]);
        let w = u64::from_le_bytes(word) ^ PAT;
        // The lowest flagged byte is exactly the first LF.
        let t = w.wrapping_sub(LO) & !w & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    h[i..].iter().position(|&b| b == b'\n').map(|p| p + i)
}

#[cfg(test)]
mod find_tests {
    use super::find_lf;

    #[test]
    fn finds_first_lf_everywhere() {
        for len in 0..200 {
            for pos in 0..=len {
                let mut h = vec![b'a'; len];
                if pos < len {
                    h[pos] = b'\n';
                    if pos + 1 < len {
                        h[pos + 1] = b'\n';
                    }
                }
                let want = h.iter().position(|&b| b == b'\n');
                assert_eq!(find_lf(&h), want, "len {len} pos {pos}");
            }
        }
        // Bytes just around LF's value must not confuse the bit trick.
        let h = [0x0b, 0x09, 0x8a, 0x0a];
        assert_eq!(find_lf(&h), Some(3));
        let h = [0x0b, 0x09, 0x8a, 0x0b, 0x0c, 0x00, 0xff, 0x8a, 0x0a];
        assert_eq!(find_lf(&h), Some(8));
    }
}
