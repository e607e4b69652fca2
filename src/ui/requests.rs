//! The request log overlay (`L`): the newest CloudFormation calls first, one a line: time (UTC),
//! Action, stack set, CallAs, outcome (status or error code), latency, attempts and throttles.
//! Reads `State::requests`, which the event loop refreshes from `api::reqlog` while it is open.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::format;
use super::theme::Theme;
use crate::app::State;

const MAX_WIDTH: u16 = 118;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = MAX_WIDTH.min(area.width.saturating_sub(2));
    let height = area.height;
    let inner = (width as usize).saturating_sub(2);
    let records = &state.requests;
    let errors = records.iter().filter(|r| !r.ok).count();
    let throttles: u32 = records.iter().map(|r| r.throttles).sum();
    let retries: u32 = records.iter().map(|r| r.attempts.saturating_sub(1)).sum();
    let mut lines = vec![Line::styled(
        format!(
            " {} calls kept (newest first) · {errors} failed · {retries} retries · {throttles} throttled",
            records.len()
        ),
        theme.dim(),
    )];
    // Fixed columns; the stack set takes what is left.
    let fixed = 9 + 1 + 34 + 1 + 15 + 1 + 26 + 1 + 8 + 1 + 7;
    let set_width = inner.saturating_sub(fixed + 1).max(8);
    let row = |time: &str, action: &str, set: &str, call_as: &str, outcome: &str, latency: &str, tries: &str| {
        format!(
            " {} {} {} {} {} {:>8} {:>7}",
            format::fit(time, 8, ""),
            format::fit(action, 34, theme.ellipsis()),
            format::fit(set, set_width, theme.ellipsis()),
            format::fit(call_as, 15, ""),
            format::fit(outcome, 26, theme.ellipsis()),
            latency,
            tries
        )
    };
    lines.push(Line::styled(
        row("TIME", "ACTION", "STACK SET", "CALLAS", "OUTCOME", "LATENCY", "TRIES"),
        theme.heading(),
    ));
    let room = (height as usize).saturating_sub(2 + lines.len());
    if records.is_empty() {
        lines.push(Line::styled(" No calls yet.", theme.dim()));
    }
    for r in records.iter().rev().take(room) {
        let time =
            r.at.format(time::macros::format_description!("[hour]:[minute]:[second]"))
                .unwrap_or_default();
        let tries = if r.throttles > 0 {
            format!("{}/{}T", r.attempts, r.throttles)
        } else {
            r.attempts.to_string()
        };
        let text = row(
            &time,
            &r.action,
            r.stack_set.as_deref().unwrap_or("-"),
            r.call_as.as_deref().unwrap_or("-"),
            &r.outcome,
            &format!("{}ms", r.latency.as_millis()),
            &tries,
        );
        let style = if r.ok { Default::default() } else { theme.error() };
        lines.push(Line::from(Span::styled(text, style)));
    }
    let block = theme
        .block()
        .title(Span::styled(" Requests ", theme.title()))
        .title_bottom(Span::styled(
            " TRIES: attempts/throttled · any key closes ",
            theme.dim(),
        ));
    let shown = (lines.len() as u16 + 2).min(height);
    super::popup(frame, super::centered(area, width, shown), block, lines);
}
