//! A tiny JSON object writer (one object per line, no dependency), behind every `to_json`
//! of the library: events, socket facts, certificates, the HTTPS facts, the `check` and
//! `probe` reports. One writer, so one way of quoting.

use std::fmt::Write;

/// A log record's fields, as one JSON object written only if a logger displays it: lines
/// that tell an event carry that event's JSON this way, under the key `fields`
/// (`log::info!(fields:% = Fields(|| ...); "...")`). A logger that writes JSON lines (`serve
/// --log-format json`) merges them into its line; a plain one never asks, so they cost
/// nothing there.
pub(crate) struct Fields<F: Fn() -> String>(pub F);

impl<F: Fn() -> String> std::fmt::Display for Fields<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.0)())
    }
}

/// Builds one JSON object, field by field.
pub(crate) struct Obj(String);

impl Default for Obj {
    fn default() -> Self {
        Obj::new()
    }
}

impl Obj {
    /// An empty object.
    pub(crate) fn new() -> Obj {
        Obj(String::from("{"))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_str(&mut self.0, k);
        self.0.push(':');
    }

    /// A string field.
    pub(crate) fn str(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        push_str(&mut self.0, v);
        self
    }

    /// A string field, or `null`.
    pub(crate) fn opt_str(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }

    /// A string field written only when there is a value (no `null`).
    pub(crate) fn some_str(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.str(k, v),
            None => self,
        }
    }

    /// A number field, written with `Display`.
    pub(crate) fn num(mut self, k: &str, v: impl std::fmt::Display) -> Obj {
        self.key(k);
        let _ = write!(self.0, "{v}");
        self
    }

    /// A boolean field.
    pub(crate) fn bool(self, k: &str, v: bool) -> Obj {
        self.raw(k, if v { "true" } else { "false" })
    }

    /// A list of strings.
    pub(crate) fn strs(self, k: &str, items: &[String]) -> Obj {
        let quoted: Vec<String> = items.iter().map(|s| Obj::quote(s)).collect();
        self.raw(k, &format!("[{}]", quoted.join(",")))
    }

    /// A field whose value is already JSON (an object, a list, `null`).
    pub(crate) fn raw(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        self.0.push_str(v);
        self
    }

    /// Appends the fields of `object`, a finished JSON object (`{...}`), after ours.
    pub(crate) fn extend(mut self, object: &str) -> Obj {
        let inner = object
            .strip_prefix('{')
            .and_then(|o| o.strip_suffix('}'))
            .unwrap_or("");
        if !inner.is_empty() {
            if self.0.len() > 1 {
                self.0.push(',');
            }
            self.0.push_str(inner);
        }
        self
    }

    /// `s` as a JSON string literal.
    pub(crate) fn quote(s: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, s);
        out
    }

    /// The object's text.
    pub(crate) fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::Obj;

    #[test]
    fn escapes() {
        let s = Obj::new()
            .str("a", "q\"\\\n\u{1}")
            .num("n", 3)
            .bool("b", true)
            .opt_str("z", None)
            .finish();
        assert_eq!(s, r#"{"a":"q\"\\\n\u0001","n":3,"b":true,"z":null}"#);
    }

    #[test]
    fn extends_and_lists() {
        let inner = Obj::new().num("x", 1).str("y", "z").finish();
        assert_eq!(
            Obj::new().str("e", "v").extend(&inner).finish(),
            r#"{"e":"v","x":1,"y":"z"}"#
        );
        assert_eq!(Obj::new().extend(&inner).finish(), inner);
        assert_eq!(Obj::new().num("a", 1).extend("{}").finish(), r#"{"a":1}"#);
        assert_eq!(
            Obj::new().strs("l", &["a".into(), "\"".into()]).finish(),
            r#"{"l":["a","\""]}"#
        );
    }
}
