//! Argument lists the CLI fuzzer (fuzz/, target cli_args) found a fault with, replayed
//! through `tls_server_cli::parse`: each must now return (an error is fine) without a
//! panic. An input is a file in `fuzz/regressions/cli_args/`: arguments separated by NUL.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// The arguments in a fuzzer input: NUL-separated.
fn args(data: &[u8]) -> Vec<OsString> {
    data.split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

/// The regressions, and the seed corpus (`fuzz/corpus/cli_args/`): the seeds are
/// ordinary command lines, so each must parse.
#[test]
fn cli_args_inputs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (kind, must_parse) in [("regressions", false), ("corpus", true)] {
        let dir = root.join(kind).join("cli_args");
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".keep") {
                continue;
            }
            let parsed = tls_server_cli::parse(args(&std::fs::read(&path).unwrap()));
            if must_parse {
                assert!(parsed.is_ok(), "{}: {:?}", path.display(), parsed.err());
            }
        }
    }
}

#[test]
fn ordinary_arguments_parse() {
    assert!(tls_server_cli::parse(args(b"serve\0--port\x000")).is_ok());
    assert!(tls_server_cli::parse(args(b"serve\0--port\0x")).is_err());
    assert!(tls_server_cli::parse(args(b"check\0--help")).is_ok());
}
