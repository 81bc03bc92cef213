//! Reading the JSON the server prints (`--events json`, `check --json`, `probe --json`)
//! with serde_json, and accessors that fail with the whole line when a field is missing
//! or of the wrong type.

use serde_json::Value;

/// One JSON object, with the line it came from for failure messages.
#[derive(Debug, Clone)]
pub struct Obj {
    pub line: String,
    pub value: Value,
}

/// Parses `line` as a JSON object, or panics saying why it is not one.
pub fn json(line: &str) -> Obj {
    match serde_json::from_str::<Value>(line) {
        Ok(value) if value.is_object() => Obj {
            line: line.to_string(),
            value,
        },
        Ok(other) => panic!("not a JSON object ({other}): {line}"),
        Err(e) => panic!("not JSON ({e}): {line}"),
    }
}

impl Obj {
    pub fn get(&self, key: &str) -> &Value {
        self.value
            .get(key)
            .unwrap_or_else(|| panic!("no {key:?} in {}", self.line))
    }

    pub fn str(&self, key: &str) -> &str {
        self.get(key)
            .as_str()
            .unwrap_or_else(|| panic!("{key:?} is not a string in {}", self.line))
    }

    /// A string field if there is one.
    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    pub fn num(&self, key: &str) -> f64 {
        self.get(key)
            .as_f64()
            .unwrap_or_else(|| panic!("{key:?} is not a number in {}", self.line))
    }

    pub fn bool(&self, key: &str) -> bool {
        self.get(key)
            .as_bool()
            .unwrap_or_else(|| panic!("{key:?} is not a boolean in {}", self.line))
    }

    pub fn is_null(&self, key: &str) -> bool {
        self.get(key).is_null()
    }

    pub fn event(&self) -> &str {
        self.str("event")
    }

    /// A nested object.
    pub fn obj(&self, key: &str) -> Obj {
        let value = self.get(key).clone();
        assert!(
            value.is_object(),
            "{key:?} is not an object in {}",
            self.line
        );
        Obj {
            line: self.line.clone(),
            value,
        }
    }

    /// A list of objects.
    pub fn objs(&self, key: &str) -> Vec<Obj> {
        self.get(key)
            .as_array()
            .unwrap_or_else(|| panic!("{key:?} is not a list in {}", self.line))
            .iter()
            .map(|v| Obj {
                line: self.line.clone(),
                value: v.clone(),
            })
            .collect()
    }

    /// A list of strings.
    pub fn strs(&self, key: &str) -> Vec<String> {
        self.get(key)
            .as_array()
            .unwrap_or_else(|| panic!("{key:?} is not a list in {}", self.line))
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{v} in {key:?} is not a string"))
                    .to_string()
            })
            .collect()
    }
}
