//! The library's layers import only downwards (ARCHITECTURE.md draws them). Every
//! `crate::` path in `src/` outside comments is checked: a module may name its own unit
//! (folder or file) and the units below it, never one beside or above it. `make check`
//! runs this test; a wrong-way import fails it with the file, the line and the rule.

use std::path::{Path, PathBuf};

/// The units, bottom to top, with their rank; equal ranks may not import each other.
const UNITS: &[(&str, u32)] = &[
    ("util", 0),
    ("setting", 1),
    ("error", 2),
    ("tls", 3),
    ("explain", 4),
    ("check", 5),
    ("connection", 6),
    // The public handles: one unit (a socket wraps a connection, events carry sockets).
    ("handles", 7),
    ("server", 8),
    ("https", 9),
    ("probe", 9),
    ("pki", 9),
    ("lib", 10),
    ("fuzzing", 10),
    ("serialize", 10),
];

/// Root files that make up the handles unit.
const HANDLES: &[&str] = &[
    "event", "events", "socket", "stream", "handler", "options", "summary",
];

/// The unit a module belongs to: its folder under src/, or its root file.
fn unit(module: &str) -> &'static str {
    if HANDLES.contains(&module) {
        return "handles";
    }
    UNITS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(name, _)| *name)
        .unwrap_or_else(|| panic!("src/{module} is in no layer: add it to UNITS in tests/layers.rs and to ARCHITECTURE.md"))
}

fn rank(unit: &str) -> u32 {
    UNITS
        .iter()
        .find(|(n, _)| *n == unit)
        .expect("known unit")
        .1
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first segment after each `crate::` on a line of code (comments removed).
fn crate_paths(line: &str) -> Vec<String> {
    let code = match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    };
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `$crate::` and `my_crate::` are not ours.
            !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(at, m)| {
            code[at + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// `use crate::{a, b::c}` imports several units at once.
fn grouped(line: &str) -> Vec<String> {
    let Some((_, rest)) = line.split_once("use crate::{") else {
        return Vec::new();
    };
    rest.split(',')
        .map(|part| {
            part.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn violations(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        let from = unit(module);
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines().enumerate();
        while let Some((n, first_line)) = lines.next() {
            if first_line.trim_start().starts_with("//") {
                continue;
            }
            // A `use crate::{` group that rustfmt spread over several lines is one import.
            let mut joined = first_line.to_string();
            if joined.trim_start().contains("use crate::{") && !joined.contains('}') {
                for (_, more) in lines.by_ref() {
                    joined.push_str(more.trim());
                    if more.contains('}') {
                        break;
                    }
                }
            }
            let line = joined.as_str();
            let mut targets = crate_paths(line);
            targets.extend(grouped(line));
            for target in targets {
                if target.is_empty() || target.starts_with(char::is_uppercase) {
                    if target.starts_with(char::is_uppercase) {
                        found.push(format!(
                            "src/{}:{}: `crate::{target}` goes through the root's re-exports; name the module instead",
                            rel.display(),
                            n + 1
                        ));
                    }
                    continue;
                }
                let to = unit(&target);
                if to != from && rank(to) >= rank(from) {
                    found.push(format!(
                        "src/{}:{}: {from} (layer {}) imports {to} (layer {}): a module may import only from layers below its own — `{}`",
                        rel.display(),
                        n + 1,
                        rank(from),
                        rank(to),
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn layers_import_only_downwards() {
    let found = violations(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        found.is_empty(),
        "imports against the layers (ARCHITECTURE.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_wrong_way_import() {
    // A copy of src/ in which the bottom layer names the top one must fail.
    let dir = std::env::temp_dir().join(format!("tls-server-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src/util")).unwrap();
    std::fs::create_dir_all(dir.join("src/server")).unwrap();
    std::fs::write(
        dir.join("src/util/mod.rs"),
        "use crate::server::Server;\npub(crate) use crate::{\n    tls,\n    setting,\n};\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/server/mod.rs"),
        "use crate::util::x;\n// crate::https in a comment\n",
    )
    .unwrap();
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].contains("src/util/mod.rs:1: util (layer 0) imports server"),
        "{found:?}"
    );
    assert!(
        found[1].contains("src/util/mod.rs:2: util (layer 0) imports tls"),
        "{found:?}"
    );
    assert!(found[2].contains("imports setting"), "{found:?}");
}

#[test]
fn paths_are_read_from_code_only() {
    assert_eq!(
        crate_paths("use crate::tls::setup::Setup; // crate::server"),
        ["tls"]
    );
    assert_eq!(
        crate_paths("let x = $crate::a + my_crate::b + crate::c::d;"),
        ["c"]
    );
    assert_eq!(
        grouped("use crate::{check, tls::Provider};"),
        ["check", "tls"]
    );
}
