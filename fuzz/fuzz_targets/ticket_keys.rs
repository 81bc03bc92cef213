//! The session-ticket key file (`--ticket-keys`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tls_server::fuzzing::ticket_keys(data));
