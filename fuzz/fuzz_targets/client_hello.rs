//! The ClientHello parser (`explain::client_hello`): any bytes from a client.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tls_server::fuzzing::client_hello(data));
