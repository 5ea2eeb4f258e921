//! Phone number normalisation shared by the tracker and the store.

/// The one form numbers are compared in: the digits, with a leading `+`
/// kept when the number started with one (after leading blanks).
///
/// `+55 11 99999-0001`, `+5511999990001` → `+5511999990001`;
/// `5511999990001` stays as it is (no `+` is invented). Asterisk's
/// placeholders (`<unknown>`, `s`, …) have no digits and give `""`.
///
/// ```
/// use bigchat_voice::tracker::normalize_number;
/// assert_eq!(normalize_number("+55 11 99999-0001"), "+5511999990001");
/// assert_eq!(normalize_number("(011) 4000"), "0114000");
/// assert_eq!(normalize_number("<unknown>"), "");
/// ```
pub fn normalize_number(raw: &str) -> String {
    normalize_bytes(raw.as_bytes())
}

/// A dialled extension that is a feature code (`*8`, `**201`, `*97`,
/// `#1`): never a number of the outside world, whatever digits it holds.
/// A trailing `#` (a phone's "dial now" key, `5511…#`) is not one.
pub(crate) fn is_feature_code(raw: &[u8]) -> bool {
    raw.first().is_some_and(|&b| b == b'*' || b == b'#') || raw.contains(&b'*')
}

/// [`normalize_number`] on raw header bytes (any encoding).
pub(crate) fn normalize_bytes(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let plus = raw
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'+');
    for &b in raw {
        if b.is_ascii_digit() {
            if out.is_empty() && plus {
                out.push('+');
            }
            out.push(b as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_codes_are_told_from_numbers() {
        for code in ["*8", "**201", "*97", "#1", "12*3"] {
            assert!(is_feature_code(code.as_bytes()), "{code}");
        }
        for number in ["5511987654321", "+5511987654321", "5511987654321#", "201"] {
            assert!(!is_feature_code(number.as_bytes()), "{number}");
        }
    }

    #[test]
    fn forms_of_one_number_agree() {
        for raw in [
            "+55 11 99999-0001",
            "+5511999990001",
            " +55 (11) 99999 0001",
        ] {
            assert_eq!(normalize_number(raw), "+5511999990001", "{raw}");
        }
        assert_eq!(normalize_number("5511999990001"), "5511999990001");
        assert_eq!(normalize_number("1001"), "1001");
        assert_eq!(normalize_number("s"), "");
        assert_eq!(normalize_number(""), "");
        assert_eq!(normalize_number("+"), "");
        assert_eq!(normalize_number("<unknown>"), "");
        assert_eq!(normalize_number("12+34"), "1234");
    }
}
