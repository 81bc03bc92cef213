//! A failed handshake explained: the bytes go through rustls as our server reads them, then
//! the classifier and the catalogue turn the failure into sentences and JSON.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tls_server::fuzzing::first_bytes(data);
});
