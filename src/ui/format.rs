//! Text formatting shared by the screens: ages, timestamps, ETAs, region abbreviations,
//! and width-aware truncation, padding and word wrapping.

use time::{Duration, OffsetDateTime};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A compact duration: `12s`, `3m12s`, `2h05m`, `4d`. Negative durations (clock skew) read as `0s`.
pub fn duration(span: Duration) -> String {
    let secs = span.whole_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d", s / 86_400),
    }
}

/// How long ago `then` was, seen from `now`: `3s`, `2h05m`.
pub fn age(then: OffsetDateTime, now: OffsetDateTime) -> String {
    duration(now - then)
}

/// `11-22 03:32:00`: month-day and time, UTC, as the API reports it.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}-{:02} {:02}:{:02}:{:02}",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Rough time left, e.g. `~4m10s`; None when it is no time anyone would wait for.
pub fn eta(left: Duration) -> Option<String> {
    let secs = left.as_seconds_f64().round();
    if !(0.0..=366.0 * 86_400.0).contains(&secs) {
        return None;
    }
    Some(format!("~{}", duration(Duration::seconds(secs as i64))))
}

/// A short column label for a Region: the area, the first letter of each direction word
/// (two letters for compound ones such as `southeast`), then the number.
/// `us-east-1` -> `use1`, `eu-west-1` -> `euw1`, `ap-southeast-2` -> `apse2`, `us-gov-west-1` -> `usgw1`.
pub fn region_abbrev(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    if parts.len() < 2 {
        return region.chars().take(5).collect();
    }
    let mut out = String::from(parts[0]);
    for part in &parts[1..] {
        if part.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(part);
            continue;
        }
        let compound = ["north", "south"]
            .iter()
            .find(|p| part.starts_with(**p) && part.len() > p.len());
        match compound {
            Some(prefix) => {
                out.extend(part.chars().take(1));
                out.extend(part[prefix.len()..].chars().take(1));
            }
            None => out.extend(part.chars().take(1)),
        }
    }
    out
}

/// Cut `text` to at most `width` columns, ending in `ellipsis` when something was cut.
pub fn truncate(text: &str, width: usize, ellipsis: &str) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let keep = width.saturating_sub(ellipsis.width());
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > keep {
            break;
        }
        out.push(c);
        used += w;
    }
    if width >= ellipsis.width() {
        out.push_str(ellipsis);
    }
    out
}

/// `text` truncated and padded with spaces to exactly `width` columns.
pub fn fit(text: &str, width: usize, ellipsis: &str) -> String {
    let mut out = truncate(text, width, ellipsis);
    let used = out.width();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

/// `text` right-aligned in `width` columns (truncated when longer).
pub fn fit_right(text: &str, width: usize, ellipsis: &str) -> String {
    let cut = truncate(text, width, ellipsis);
    format!("{}{cut}", " ".repeat(width.saturating_sub(cut.width())))
}

/// Greedy word wrap to `width` columns; words longer than a line are split.
/// Used where the height of a popup must be known before drawing it.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word = word.to_string();
            loop {
                let gap = usize::from(!line.is_empty());
                if line.width() + gap + word.width() <= width {
                    if gap == 1 {
                        line.push(' ');
                    }
                    line.push_str(&word);
                    break;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    continue;
                }
                // A word wider than the line: cut it.
                let mut head = truncate(&word, width, "");
                if head.is_empty() {
                    head = word.chars().take(1).collect();
                }
                word = word[head.len()..].to_string();
                lines.push(head);
                if word.is_empty() {
                    break;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Splits `KeyMap::keys_for` output (`k/↑`, `//x`) back into single key names;
/// the `/` key itself shows up as an empty segment next to a separator.
pub fn split_keys(joined: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut current = String::new();
    let mut chars = joined.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '/' {
            current.push(c);
        } else if current.is_empty() {
            keys.push("/".to_string());
            // Skip the separator that follows a `/` key.
            if chars.peek() == Some(&'/') {
                chars.next();
            }
        } else {
            keys.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        keys.push(current);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_compactly() {
        assert_eq!(duration(Duration::seconds(12)), "12s");
        assert_eq!(duration(Duration::seconds(192)), "3m12s");
        assert_eq!(duration(Duration::seconds(2 * 3600 + 5 * 60 + 9)), "2h05m");
        assert_eq!(duration(Duration::days(4) + Duration::hours(3)), "4d");
        assert_eq!(duration(Duration::seconds(-5)), "0s");
    }

    #[test]
    fn timestamps_show_month_day_and_time() {
        assert_eq!(
            timestamp(time::macros::datetime!(2026-11-22 03:32:00 UTC)),
            "11-22 03:32:00"
        );
    }

    #[test]
    fn regions_abbreviate_by_rule() {
        assert_eq!(region_abbrev("us-east-1"), "use1");
        assert_eq!(region_abbrev("eu-west-1"), "euw1");
        assert_eq!(region_abbrev("ap-southeast-2"), "apse2");
        assert_eq!(region_abbrev("ap-south-1"), "aps1");
        assert_eq!(region_abbrev("eu-central-1"), "euc1");
        assert_eq!(region_abbrev("us-gov-west-1"), "usgw1");
        assert_eq!(region_abbrev("local"), "local");
    }

    #[test]
    fn truncation_and_wrap_respect_width() {
        assert_eq!(truncate("abcdef", 4, "…"), "abc…");
        assert_eq!(fit("ab", 4, "…"), "ab  ");
        assert_eq!(fit_right("ab", 4, "…"), "  ab");
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn key_lists_split_including_the_slash_key() {
        assert_eq!(split_keys("k/↑"), vec!["k", "↑"]);
        assert_eq!(split_keys("/"), vec!["/"]);
        assert_eq!(split_keys("//x"), vec!["/", "x"]);
        assert_eq!(split_keys("a//"), vec!["a", "/"]);
    }

    #[test]
    fn eta_is_a_time_anyone_would_wait_for() {
        assert_eq!(eta(Duration::seconds(120)).as_deref(), Some("~2m00s"));
        assert_eq!(eta(Duration::days(400)), None);
        assert_eq!(eta(Duration::seconds(-5)), None);
    }
}
