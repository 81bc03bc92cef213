//! A tiny JSON object writer for `--events json` (one object per line, no dependency).

use std::fmt::Write;

/// Builds one JSON object, field by field.
pub(crate) struct Obj(String);

impl Obj {
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

    pub(crate) fn str(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        push_str(&mut self.0, v);
        self
    }

    pub(crate) fn opt_str(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }

    pub(crate) fn num(mut self, k: &str, v: impl std::fmt::Display) -> Obj {
        self.key(k);
        let _ = write!(self.0, "{v}");
        self
    }

    pub(crate) fn bool(self, k: &str, v: bool) -> Obj {
        self.raw(k, if v { "true" } else { "false" })
    }

    pub(crate) fn raw(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        self.0.push_str(v);
        self
    }

    /// `s` as a JSON string literal.
    pub(crate) fn quote(s: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, s);
        out
    }

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
    #[test]
    fn escapes() {
        let s = super::Obj::new()
            .str("a", "q\"\\\n\u{1}")
            .num("n", 3)
            .bool("b", true)
            .opt_str("z", None)
            .finish();
        assert_eq!(s, r#"{"a":"q\"\\\n\u0001","n":3,"b":true,"z":null}"#);
    }
}
