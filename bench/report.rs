//! Collecting figures over rounds, and printing them: a Markdown table per scenario (median,
//! min–max, ratio to tls-server) and the same as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Which way is better for a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// A fact, not a score (thread counts, shares).
    Neither,
}

impl Better {
    fn arrow(self) -> &'static str {
        match self {
            Better::Higher => " ↑",
            Better::Lower => " ↓",
            Better::Neither => "",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "neither",
        }
    }
}

/// One figure of one scenario: its values per server, one per round.
pub struct Row {
    pub scenario: String,
    pub figure: String,
    pub better: Better,
    pub values: BTreeMap<String, Vec<f64>>,
}

/// A scenario's description, in the order scenarios were first seen.
pub struct Scenario {
    pub name: String,
    pub about: String,
}

/// Everything measured in one run.
#[derive(Default)]
pub struct Results {
    /// Server ids, in column order; the first is the reference for ratios.
    pub servers: Vec<(String, String)>,
    pub scenarios: Vec<Scenario>,
    pub rows: Vec<Row>,
    /// (server, scenario, key) → value: what was negotiated, error counts, ...
    pub facts: BTreeMap<(String, String, String), String>,
    pub notes: Vec<String>,
    pub floor: BTreeMap<String, Vec<(String, f64)>>,
    pub env: Vec<(String, String)>,
}

/// Median, min, max.
pub fn summary(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

/// A number with sensible precision and thousands separators.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", x.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 {
            out.insert(0, '-');
        }
        out
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

impl Results {
    pub fn scenario(&mut self, name: &str, about: &str) {
        if !self.scenarios.iter().any(|s| s.name == name) {
            self.scenarios.push(Scenario {
                name: name.into(),
                about: about.into(),
            });
        }
    }

    pub fn add(&mut self, scenario: &str, figure: &str, better: Better, server: &str, value: f64) {
        let row = match self
            .rows
            .iter_mut()
            .position(|r| r.scenario == scenario && r.figure == figure)
        {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(Row {
                    scenario: scenario.into(),
                    figure: figure.into(),
                    better,
                    values: BTreeMap::new(),
                });
                self.rows.last_mut().unwrap()
            }
        };
        row.values.entry(server.into()).or_default().push(value);
    }

    pub fn fact(&mut self, server: &str, scenario: &str, key: &str, value: impl ToString) {
        self.facts.insert(
            (server.into(), scenario.into(), key.into()),
            value.to_string(),
        );
    }

    /// The row of one figure of one scenario.
    pub fn row(&self, scenario: &str, figure: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.scenario == scenario && r.figure == figure)
    }

    pub fn median(&self, scenario: &str, figure: &str, server: &str) -> Option<f64> {
        self.row(scenario, figure)
            .and_then(|r| r.values.get(server))
            .and_then(|v| summary(v))
            .map(|s| s.0)
    }

    fn reference(&self) -> &str {
        self.servers.first().map(|s| s.0.as_str()).unwrap_or("")
    }

    /// The tables, as Markdown: one per scenario, servers as rows, figures as columns.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        let reference = self.reference().to_string();
        for sc in &self.scenarios {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.scenario == sc.name).collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n### {} — {}\n", sc.name, sc.about);
            let mut header = String::from("| server |");
            let mut rule = String::from("|---|");
            for r in &rows {
                let _ = write!(header, " {}{} |", r.figure, r.better.arrow());
                rule.push_str("---|");
            }
            let _ = writeln!(out, "{header}\n{rule}");
            for (id, label) in &self.servers {
                if !rows.iter().any(|r| r.values.contains_key(id)) {
                    continue;
                }
                let mut line = format!("| {label} |");
                for r in &rows {
                    let cell = match r.values.get(id).and_then(|v| summary(v)) {
                        None => "-".to_string(),
                        Some((med, lo, hi)) => {
                            let mut c = format!("{} ({}–{})", num(med), num(lo), num(hi));
                            if *id != reference && r.better != Better::Neither {
                                if let Some((rmed, _, _)) =
                                    r.values.get(&reference).and_then(|v| summary(v))
                                {
                                    if rmed != 0.0 {
                                        let _ = write!(c, " ×{:.2}", med / rmed);
                                    }
                                }
                            }
                            c
                        }
                    };
                    let _ = write!(line, " {cell} |");
                }
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    pub fn json(&self) -> String {
        let mut o = String::from("{\n");
        let _ = writeln!(o, "  \"environment\": {{");
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("    {}: {}", q(k), q(v)))
            .collect();
        let _ = writeln!(o, "{}\n  }},", env.join(",\n"));
        let servers: Vec<String> = self
            .servers
            .iter()
            .map(|(id, label)| format!("{{\"id\": {}, \"label\": {}}}", q(id), q(label)))
            .collect();
        let _ = writeln!(o, "  \"servers\": [{}],", servers.join(", "));
        let _ = writeln!(o, "  \"reference\": {},", q(self.reference()));
        let scenarios: Vec<String> = self
            .scenarios
            .iter()
            .map(|s| {
                format!(
                    "    {{\"name\": {}, \"about\": {}}}",
                    q(&s.name),
                    q(&s.about)
                )
            })
            .collect();
        let _ = writeln!(o, "  \"scenarios\": [\n{}\n  ],", scenarios.join(",\n"));
        let reference = self.reference();
        let mut rows = Vec::new();
        for r in &self.rows {
            let ref_med = r
                .values
                .get(reference)
                .and_then(|v| summary(v))
                .map(|s| s.0);
            let mut per = Vec::new();
            for (id, values) in &r.values {
                let Some((med, lo, hi)) = summary(values) else {
                    continue;
                };
                let ratio = match ref_med {
                    Some(rm) if rm != 0.0 => f(med / rm),
                    _ => "null".into(),
                };
                let vals: Vec<String> = values.iter().map(|v| f(*v)).collect();
                per.push(format!(
                    "        {}: {{\"median\": {}, \"min\": {}, \"max\": {}, \"ratio_to_reference\": {}, \"rounds\": [{}]}}",
                    q(id),
                    f(med),
                    f(lo),
                    f(hi),
                    ratio,
                    vals.join(", ")
                ));
            }
            rows.push(format!(
                "    {{\"scenario\": {}, \"figure\": {}, \"better\": {}, \"servers\": {{\n{}\n      }}}}",
                q(&r.scenario),
                q(&r.figure),
                q(r.better.name()),
                per.join(",\n")
            ));
        }
        let _ = writeln!(o, "  \"results\": [\n{}\n  ],", rows.join(",\n"));
        let facts: Vec<String> = self
            .facts
            .iter()
            .map(|((s, sc, k), v)| {
                format!(
                    "    {{\"server\": {}, \"scenario\": {}, \"key\": {}, \"value\": {}}}",
                    q(s),
                    q(sc),
                    q(k),
                    q(v)
                )
            })
            .collect();
        let _ = writeln!(o, "  \"facts\": [\n{}\n  ],", facts.join(",\n"));
        let floor: Vec<String> = self
            .floor
            .iter()
            .map(|(provider, figures)| {
                let f: Vec<String> = figures
                    .iter()
                    .map(|(k, v)| format!("{}: {}", q(k), f(*v)))
                    .collect();
                format!("    {}: {{{}}}", q(provider), f.join(", "))
            })
            .collect();
        let _ = writeln!(o, "  \"floor\": {{\n{}\n  }},", floor.join(",\n"));
        let notes: Vec<String> = self.notes.iter().map(|n| format!("    {}", q(n))).collect();
        let _ = writeln!(o, "  \"notes\": [\n{}\n  ]\n}}", notes.join(",\n"));
        o
    }
}

/// A JSON string.
pub fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

/// A JSON number (null for NaN and infinities).
pub fn f(x: f64) -> String {
    if x.is_finite() {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        "null".into()
    }
}
