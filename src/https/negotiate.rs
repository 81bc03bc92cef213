//! Which answer a request asks for: HTML or JSON (`Accept`), English or Japanese
//! (`Accept-Language`), each with a query parameter that overrides it (`?format=json`,
//! `?lang=ja`) for people typing addresses.

use super::words::{Words, EN, JA};
use super::Request;

/// Whether to answer with the HTML page: only when `text/html` is named in `Accept` with a
/// weight at least that of JSON (`application/json`, `application/*` or `*/*`). curl's
/// `*/*` and a missing `Accept` keep JSON; a browser's `text/html,...,*/*;q=0.8` gets HTML.
/// `?format=json` or `?format=html` decides instead.
pub(super) fn wants_html(request: &Request) -> bool {
    match query_value(request, "format") {
        Some("json") => return false,
        Some("html") => return true,
        _ => {}
    }
    let Some(accept) = request.header_str("accept") else {
        return false;
    };
    let mut html: f32 = 0.0;
    let mut json: f32 = 0.0;
    for (range, q) in ranges(accept) {
        if range.eq_ignore_ascii_case("text/html") {
            html = html.max(q);
        } else if ["application/json", "application/*", "*/*"]
            .iter()
            .any(|r| range.eq_ignore_ascii_case(r))
        {
            json = json.max(q);
        }
    }
    html > 0.0 && html >= json
}

/// The labels for the language the request prefers: Japanese when `ja` (or `ja-JP`, ...)
/// weighs more in `Accept-Language` than English (`en`, `en-US`, `*`), or comes first at
/// the same weight; English otherwise. `?lang=ja` or `?lang=en` decides instead.
pub(super) fn words(request: &Request) -> &'static Words {
    match query_value(request, "lang") {
        Some("ja") => return &JA,
        Some("en") => return &EN,
        _ => {}
    }
    let Some(header) = request.header_str("accept-language") else {
        return &EN;
    };
    // (weight, is Japanese) of the best range so far; the first wins a tie.
    let mut best: Option<(f32, bool)> = None;
    for (range, q) in ranges(header) {
        let primary = range.split('-').next().unwrap_or("");
        let japanese = primary.eq_ignore_ascii_case("ja");
        if !japanese && !primary.eq_ignore_ascii_case("en") && primary != "*" {
            continue;
        }
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, japanese));
        }
    }
    match best {
        Some((_, true)) => &JA,
        _ => &EN,
    }
}

/// The ranges of a comma-separated header with their weights: `text/html;q=0.8` is
/// (`text/html`, 0.8); no `q` is 1; a `q` that is not a number from 0 to 1 is 0.
fn ranges(header: &str) -> impl Iterator<Item = (&str, f32)> {
    header.split(',').filter_map(|item| {
        let mut parts = item.split(';');
        let range = parts.next()?.trim();
        if range.is_empty() {
            return None;
        }
        let mut q = 1.0;
        for param in parts {
            if let Some((name, value)) = param.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    q = value
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
        }
        Some((range, q))
    })
}

/// The value of `name=value` in the request's query, if present.
pub(super) fn query_value<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            target: target.into(),
            version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: Vec::new(),
            number: 1,
        }
    }

    #[test]
    fn html_only_when_asked_for_by_name() {
        let html = |accept: &str| wants_html(&request("/", &[("Accept", accept)]));
        assert!(!wants_html(&request("/", &[])));
        assert!(!html("*/*"));
        assert!(!html("application/json"));
        assert!(!html("text/*"));
        assert!(html(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        ));
        assert!(html("TEXT/HTML"));
        assert!(!html("text/html;q=0.5, application/json"));
        assert!(!html("text/html;q=0"));
        assert!(!html("text/html;q=nonsense"));
        assert!(html("application/json;q=0.5, text/html"));
        assert!(!wants_html(&request(
            "/?format=json",
            &[("Accept", "text/html")]
        )));
        assert!(wants_html(&request("/?x=1&format=html", &[])));
    }

    #[test]
    fn japanese_when_preferred() {
        let lang = |v: &str| words(&request("/", &[("Accept-Language", v)])).lang;
        assert_eq!(words(&request("/", &[])).lang, "en");
        assert_eq!(lang("ja"), "ja");
        assert_eq!(lang("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7"), "ja");
        assert_eq!(lang("en-US,en;q=0.9,ja;q=0.8"), "en");
        assert_eq!(lang("en, ja"), "en");
        assert_eq!(lang("fr, ja;q=0.5"), "ja");
        assert_eq!(lang("ja;q=0, en;q=0.1"), "en");
        assert_eq!(lang("de"), "en");
        assert_eq!(words(&request("/?lang=ja", &[])).lang, "ja");
        assert_eq!(
            words(&request("/?lang=en", &[("Accept-Language", "ja")])).lang,
            "en"
        );
    }
}
