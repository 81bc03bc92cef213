//! What a client sends the HTTPS responder after the handshake, in small reads.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tls_server::fuzzing::https_request(data);
});
