//! The command line: arguments separated by NUL, through `tls_server_cli::parse` (which acts
//! on nothing; `run` would).
#![no_main]
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    let _ = tls_server_cli::parse(args);
});
