//! Extension numbers compressed into `[tracker] extensions` entries that
//! cover exactly those numbers.

use std::collections::BTreeMap;

/// Compresses extension numbers (digits only; anything else is kept as
/// itself) into entries for `[tracker] extensions`, each with the numbers
/// it covers. Numbers are grouped by length; each run of consecutive
/// numbers becomes an Asterisk pattern when it fills an aligned block
/// (`200`…`299` → `_2XX`, `1000`…`1009` → `_100X`), else a range
/// (`1001-1010`), and a lone number stays itself. Every entry matches
/// exactly the numbers of its run: nothing else is covered.
///
/// ```
/// use bigchat_voice::discover::compress;
/// let numbers: Vec<String> = (1001..=1010).chain(200..=299).chain([3001]).map(|n| n.to_string()).collect();
/// let got: Vec<String> = compress(&numbers).into_iter().map(|(entry, _)| entry).collect();
/// assert_eq!(got, ["_2XX", "1001-1010", "3001"]);
/// ```
pub fn compress(numbers: &[String]) -> Vec<(String, Vec<String>)> {
    let mut by_len: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut other: Vec<String> = Vec::new();
    for n in numbers {
        match n.parse::<u64>() {
            Ok(v) if n.len() <= 18 && n.bytes().all(|b| b.is_ascii_digit()) => {
                by_len.entry(n.len()).or_default().push(v);
            }
            _ => other.push(n.clone()),
        }
    }
    let mut out = Vec::new();
    for (len, mut values) in by_len {
        values.sort_unstable();
        values.dedup();
        let mut i = 0;
        while i < values.len() {
            let mut j = i;
            while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
                j += 1;
            }
            let (low, high) = (values[i], values[j]);
            let covered: Vec<String> = values[i..=j].iter().map(|v| format!("{v:0len$}")).collect();
            out.push((entry(low, high, len), covered));
            i = j + 1;
        }
    }
    other.sort();
    other.dedup();
    out.extend(other.into_iter().map(|n| (n.clone(), vec![n])));
    out
}

/// The entry for the run `low..=high` of `len`-digit numbers.
fn entry(low: u64, high: u64, len: usize) -> String {
    if low == high {
        return format!("{low:0len$}");
    }
    // An aligned block that is exactly the run: low = p·10^k,
    // high = low + 10^k − 1.
    for k in (1..=len.min(18)).rev() {
        let block = 10u64.pow(k as u32);
        if low.is_multiple_of(block) && high - low == block - 1 {
            let prefix_len = len - k;
            let prefix = if prefix_len == 0 {
                String::new()
            } else {
                format!("{:0prefix_len$}", low / block)
            };
            return format!("_{prefix}{}", "X".repeat(k));
        }
    }
    format!("{low:0len$}-{high:0len$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::ExtensionPattern;

    fn strings(v: impl IntoIterator<Item = u64>) -> Vec<String> {
        v.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn runs_become_patterns_ranges_or_numbers() {
        let got: Vec<String> = compress(&strings((1001..=1010).chain(200..=299).chain([3001])))
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(got, ["_2XX", "1001-1010", "3001"]);
        let got: Vec<String> = compress(&strings((1000..=1009).chain(1020..=1021)))
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(got, ["_100X", "1020-1021"]);
        let got: Vec<String> = compress(&strings(1000..=1999))
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(got, ["_1XXX"]);
        // 200..=305 is no aligned block: one exact range.
        let got: Vec<String> = compress(&strings(200..=305))
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(got, ["200-305"]);
        let got: Vec<String> = compress(&["0100".into(), "0101".into(), "alice".into()])
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(got, ["0100-0101", "alice"]);
    }

    /// Whatever the numbers, the entries parse and match exactly them
    /// among all numbers of the same lengths.
    #[test]
    fn entries_cover_exactly_the_numbers() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            let mut numbers = std::collections::BTreeSet::new();
            for _ in 0..(round % 40 + 1) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let v = if round % 3 == 0 {
                    seed % 1000
                } else {
                    100 + seed % 300
                };
                numbers.insert(format!("{v:03}"));
                if round % 5 == 0 {
                    // Whole blocks too.
                    for w in (v / 10 * 10)..(v / 10 * 10 + 10) {
                        numbers.insert(format!("{w:03}"));
                    }
                }
            }
            let numbers: Vec<String> = numbers.into_iter().collect();
            let patterns: Vec<ExtensionPattern> = compress(&numbers)
                .into_iter()
                .map(|(e, _)| ExtensionPattern::parse(&e).expect("parses"))
                .collect();
            for v in 0..1000u64 {
                let n = format!("{v:03}");
                let want = numbers.contains(&n);
                let got = patterns.iter().any(|p| p.matches(&n));
                assert_eq!(got, want, "{n} with {numbers:?}");
            }
        }
    }
}
