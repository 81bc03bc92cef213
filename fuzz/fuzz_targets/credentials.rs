//! Certificate and key files (PEM or DER) through the loader and through `check`. The input
//! is the certificate file, a NUL, then the key file.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (cert, key) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    tls_server::fuzzing::credentials(cert, key);
});
