//! Small helpers every layer may use: the JSON object writer, dates as OpenSSL and HTTP
//! print them, and the text of a panic. They know nothing about TLS or the server.

pub(crate) mod json;
pub(crate) mod time;

/// The text of a caught panic's payload.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".into()
    }
}
