//! A tiny XML writer for awsQuery responses: escaped text, nested elements, the two envelopes.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::engine::Millis;
use super::error::SimError;

pub const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// ISO 8601 with milliseconds, e.g. `2026-11-22T03:32:00.293Z`.
pub fn timestamp(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let base = OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .replace_millisecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let s = base
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string());
    // Rfc3339 writes `...:SSZ` for whole seconds; insert the milliseconds before the Z.
    let trimmed = s.trim_end_matches('Z');
    format!("{trimmed}.{millis:03}Z")
}

/// Builds a response body element by element.
#[derive(Debug, Default)]
pub struct Xml {
    buf: String,
}

impl Xml {
    pub fn new() -> Self {
        Xml {
            buf: String::with_capacity(1024),
        }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text));
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }

    pub fn num(&mut self, tag: &str, n: impl std::fmt::Display) -> &mut Self {
        self.leaf(tag, &n.to_string())
    }

    pub fn time(&mut self, tag: &str, ms: Millis) -> &mut Self {
        self.leaf(tag, &timestamp(ms))
    }

    /// `<tag><member>a</member>…</tag>`
    pub fn list(&mut self, tag: &str, items: &[String]) -> &mut Self {
        self.open(tag);
        for i in items {
            self.leaf("member", i);
        }
        self.close(tag)
    }

    pub fn into_string(self) -> String {
        self.buf
    }
}

/// Wraps a result body in `<{Action}Response><{Action}Result>…`.
pub fn envelope(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>\n"
    )
}

/// The `<ErrorResponse>` envelope.
pub fn error(err: &SimError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>\n",
        if err.sender { "Sender" } else { "Receiver" },
        err.code,
        escape(&err.message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(timestamp(1_795_318_320_293), "2026-11-22T03:32:00.293Z");
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
    }
}
