//! HTML for the handshake pages: escaping (everything a peer sent is text, never markup),
//! the page's frame with its one inline style sheet, and table rows. No script, no
//! external asset: a page works offline and as a saved file.

use super::words::Words;

/// `text` made safe anywhere in HTML or SVG: `& < > " '` become character references, and
/// control characters (which a peer may put in an SNI or ALPN name) are shown as `\xNN`.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// How many monospace columns `text` takes: two for East Asian wide characters.
pub(super) fn columns(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// `text` cut to `max` columns, with `…` where it was cut (not escaped).
pub(super) fn fit(text: &str, max: usize) -> String {
    if columns(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = if is_wide(c) { 2 } else { 1 };
        if used + w > max.saturating_sub(1) {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

fn is_wide(c: char) -> bool {
    matches!(u32::from(c), 0x1100..=0x115f | 0x2e80..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe30..=0xfe4f | 0xff00..=0xff60 | 0xffe0..=0xffe6)
}

/// One table row: a header cell (plain text) and a cell of ready HTML.
pub(super) fn row(header: &str, cell_html: &str) -> String {
    format!(
        "<tr><th scope=\"row\">{}</th><td>{cell_html}</td></tr>\n",
        esc(header)
    )
}

/// A list of peer-supplied items as escaped `<code>` elements side by side, the ones
/// `chosen` accepts marked with `mark` (words, not colour).
pub(super) fn items(
    list: &[String],
    chosen: impl Fn(&str) -> bool,
    mark: &str,
    none: &str,
) -> String {
    if list.is_empty() {
        return esc(none);
    }
    list.iter()
        .map(|item| {
            if chosen(item) {
                format!(
                    "<code class=\"chosen\">{}</code> <strong>{}</strong>",
                    esc(item),
                    esc(mark)
                )
            } else {
                format!("<code>{}</code>", esc(item))
            }
        })
        .map(|item| format!("<span class=\"item\">{item}</span>"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The whole document: `title` (plain text) and `body` (ready HTML) in a frame with the
/// style sheet and the navigation between the pages.
pub(super) fn document(words: &Words, title: &str, failures_kept: usize, body: &str) -> String {
    let lang = words.lang;
    let suffix = if lang == "ja" { "&amp;lang=ja" } else { "" };
    let plain = if lang == "ja" { "?lang=ja" } else { "" };
    let english_only = if words.english_only.is_empty() {
        String::new()
    } else {
        format!("<p class=\"note\">{}</p>\n", esc(words.english_only))
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"color-scheme\" content=\"light\">\n\
<link rel=\"icon\" href=\"data:,\">\n<title>{title} — tls-server</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<header>\n<h1>{title}</h1>\n<nav><a href=\"/{plain}\">{this}</a> · <a href=\"/failures{plain}\">{failures}</a> ({failures_kept}) · \
<a href=\"?format=json{suffix}\">{json}</a></nav>\n{english_only}</header>\n<main>\n{body}</main>\n\
<footer><p>{server} — <code>tls-server serve --mode https</code></p></footer>\n</body>\n</html>\n",
        title = esc(title),
        this = esc(words.nav_this),
        failures = esc(words.nav_failures),
        json = esc(words.nav_json),
        server = esc(super::SERVER),
    )
}

/// The style sheet: system fonts, black on white, ladders in monospace so that label
/// widths can be counted. Meaning never rests on colour alone: chosen items say so in
/// words, encrypted messages carry `*`, a failure is crossed out and labelled.
const STYLE: &str = "
body{font-family:system-ui,'DejaVu Sans','Noto Sans CJK JP',sans-serif;margin:0 auto;max-width:62rem;padding:0 1rem 2rem;color:#111;background:#fff;line-height:1.45}
header{border-bottom:1px solid #999;margin-bottom:1rem}
h1{font-size:1.6rem;margin:1rem 0 .3rem}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #ccc}
nav{margin:.3rem 0 .6rem}
.note{font-size:.9rem;color:#333}
table{border-collapse:collapse;margin:.3rem 0 1rem;width:100%}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2;width:14rem;font-weight:600}
code{font-family:'DejaVu Sans Mono','Noto Sans Mono CJK JP',monospace;font-size:.9em;overflow-wrap:anywhere}
code.chosen{font-weight:700;text-decoration:underline}
.item{display:inline-block;margin:0 1.2em .1em 0}
svg{max-width:100%;height:auto;border:1px solid #ccc;background:#fcfcfc}
svg text{font-family:'DejaVu Sans Mono','Noto Sans Mono CJK JP',monospace;font-size:12px;fill:#111}
svg .lane{stroke:#555;stroke-width:2}
svg .arrow{stroke:#111;stroke-width:1.6}
svg .head{fill:#111}
svg .who{font-size:14px;font-weight:700}
svg .small{font-size:11px;fill:#444}
svg .enc{font-style:italic}
svg .time{font-size:11px;fill:#333}
svg .gap{font-size:11px;fill:#555;font-style:italic}
svg .fail{stroke:#b00;stroke-width:3}
svg .failtext{font-weight:700;fill:#b00}
svg .ok{stroke:#060;stroke-width:3;fill:none}
svg .oktext{font-weight:700;fill:#060}
ol.steps li{margin:.2rem 0}
article{border-top:2px solid #999;margin-top:1.5rem}
footer{border-top:1px solid #ccc;margin-top:2rem;font-size:.85rem;color:#444}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\\x00b\\x0ac");
        assert_eq!(esc("日本語"), "日本語");
    }

    #[test]
    fn fits_by_columns() {
        assert_eq!(fit("abcdef", 10), "abcdef");
        assert_eq!(fit("abcdefghijkl", 6), "abcde…");
        assert_eq!(columns("鍵交換"), 6);
        assert_eq!(fit("鍵交換グループ", 7), "鍵交換…");
    }
}
