//! `serde` support: a message is a JSON object; repeated keys become arrays.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::message::Message;
use crate::value::Value;

/// Serialises as an object in first-seen key order. A key that appears once
/// maps to a string; a key that repeats (compared case-insensitively, first
/// spelling kept) maps to an array of strings in order. Legacy
/// `Response: Follows` bodies appear as an `Output` array, like modern
/// replies. Values use the lossless text view of [`Value::to_str`].
impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let headers: Vec<(Value<'_>, Value<'_>)> =
            self.headers().map(|h| (h.name, h.value)).collect();
        let mut keys: Vec<Value<'_>> = Vec::with_capacity(headers.len());
        for (k, _) in &headers {
            if !keys
                .iter()
                .any(|seen| seen.as_bytes().eq_ignore_ascii_case(k.as_bytes()))
            {
                keys.push(*k);
            }
        }
        let legacy_lines: Vec<Value<'_>> = if self.is_legacy_output() {
            self.output_lines().collect()
        } else {
            Vec::new()
        };
        let extra_output =
            self.is_legacy_output() && !keys.iter().any(|k| k.eq_ignore_case("Output"));
        let mut map = serializer.serialize_map(Some(keys.len() + usize::from(extra_output)))?;
        for key in &keys {
            let values: Vec<Value<'_>> = headers
                .iter()
                .filter(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key.as_bytes()))
                .map(|(_, v)| *v)
                .collect();
            if key.eq_ignore_case("Output") && self.is_legacy_output() {
                map.serialize_entry(&*key.to_str(), &TextList(&legacy_lines))?;
            } else if values.len() == 1 {
                map.serialize_entry(&*key.to_str(), &*values[0].to_str())?;
            } else {
                map.serialize_entry(&*key.to_str(), &TextList(&values))?;
            }
        }
        if extra_output {
            map.serialize_entry("Output", &TextList(&legacy_lines))?;
        }
        map.end()
    }
}

struct TextList<'a, 'b>(&'b [Value<'a>]);

impl Serialize for TextList<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|v| v.to_str()))
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_str())
    }
}

#[cfg(test)]
mod tests {
    use crate::Message;

    #[test]
    fn repeated_keys_become_arrays() {
        let m = Message::parse(
            b"Response: Success\r\nActionID: 1\r\nMessage: Command output follows\r\nOutput: a\r\nOutput: b\r\n\r\n",
        )
        .unwrap();
        let j = serde_json::to_value(&m).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"Response": "Success", "ActionID": "1",
                "Message": "Command output follows", "Output": ["a", "b"]})
        );
        let legacy = Message::parse(
            b"Response: Follows\r\nPrivilege: Command\r\nline one\nline: two\n--END COMMAND--\r\n\r\n",
        )
        .unwrap();
        let j = serde_json::to_value(&legacy).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"Response": "Follows", "Privilege": "Command",
                "Output": ["line one", "line: two"]})
        );
    }
}
