//! Drawing: `view` renders the state read-only (no I/O, no clock: `state.now` is the time),
//! one file per screen or widget. Every screen draws only what fits, so a frame costs the same
//! whether an operation has a thousand results or a hundred thousand.

mod confirm;
mod detail;
mod failures;
mod footer;
pub mod format;
mod grid;
mod help;
mod instances;
mod operation;
mod operations;
mod pulse;
mod requests;
mod stacksets;
pub mod theme;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::app::layout::{self, FOOTER_HEIGHT, HEADER_HEIGHT, MIN_HEIGHT, MIN_WIDTH};
use crate::app::{Freshness, Overlay, Screen, State};
use theme::Theme;

/// Seconds of loading with no answer after which the header says the endpoint is silent.
const SILENCE_NOTICE_SECS: i64 = 5;

/// What a frame showed that `update` needs to know (the loop sends it back as `Msg::Drawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drawn {
    /// The stop dialog was drawn whole, buttons and all.
    pub dialog_shown: bool,
    /// Rows of the current screen's list or grid.
    pub page_rows: u16,
}

/// Draws the whole terminal from `state`, and says what it showed.
pub fn view(state: &State, frame: &mut Frame) -> Drawn {
    let area = frame.area();
    let theme = Theme::new(&state.settings);
    let mut drawn = Drawn::default();
    if !layout::fits(area.width, area.height) {
        draw_too_small(state, frame, area);
    } else {
        let [header, body, footer_area] = Layout::vertical([
            Constraint::Length(HEADER_HEIGHT),
            Constraint::Min(1),
            Constraint::Length(FOOTER_HEIGHT),
        ])
        .areas(area);
        draw_header(state, &theme, frame, header);
        drawn.page_rows = match state.screen() {
            Screen::Pulse => pulse::draw(state, &theme, frame, body),
            Screen::StackSets => stacksets::draw(state, &theme, frame, body),
            Screen::Operations { .. } => operations::draw(state, &theme, frame, body),
            Screen::Operation { .. } => operation::draw(state, &theme, frame, body),
            Screen::Failures { .. } => failures::draw(state, &theme, frame, body),
            Screen::Instances { .. } => instances::draw(state, &theme, frame, body),
        };
        match &state.overlay {
            Some(Overlay::Help) => help::draw(state, &theme, frame, body),
            Some(Overlay::CellDetail) => detail::draw(state, &theme, frame, body),
            Some(Overlay::RequestLog) => requests::draw(state, &theme, frame, body),
            Some(Overlay::InstanceDetail(detail)) => instances::draw_detail(state, detail, &theme, frame, body),
            Some(Overlay::Confirm(dialog)) => drawn.dialog_shown = confirm::draw(state, dialog, &theme, frame, body),
            None => {}
        }
        footer::draw(state, &theme, frame, footer_area);
    }
    if theme.ascii {
        force_ascii(frame, area);
    }
    drawn
}

fn draw_too_small(state: &State, frame: &mut Frame, area: Rect) {
    let quit = state.settings.keymap.keys_text(crate::app::Action::Quit);
    let text = format!(
        "terminal too small: {}x{}, need at least {MIN_WIDTH}x{MIN_HEIGHT} ({quit} quits)",
        area.width, area.height
    );
    let lines = format::wrap(&text, area.width as usize);
    let height = (lines.len() as u16).min(area.height);
    let top = area.y + area.height.saturating_sub(height) / 2;
    let target = Rect {
        x: area.x,
        y: top,
        width: area.width,
        height,
    };
    let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(lines).centered(), target);
}

/// User data (names, reasons) may hold any character; ASCII mode promises 7-bit output.
fn force_ascii(frame: &mut Frame, area: Rect) {
    let buffer = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buffer[(x, y)];
            if !cell.symbol().is_ascii() {
                cell.set_symbol("?");
            }
        }
    }
}

/// Line one: the app, where you are, READ-ONLY. Line two: how fresh the data is, and where calls go.
fn draw_header(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = area.width as usize;
    let ellipsis = theme.ellipsis();

    let badge = if state.settings.read_only { " READ-ONLY " } else { "" };
    let app = " sstop ";
    let room = width.saturating_sub(app.width() + 1 + badge.width() + 1);
    let mut crumbs = breadcrumb(state, theme, None);
    if crumbs.width() > room {
        crumbs = breadcrumb(state, theme, Some(SHORT_ID));
    }
    let mut first = vec![
        Span::styled(app, theme.title().add_modifier(ratatui::style::Modifier::REVERSED)),
        Span::raw(" "),
        Span::styled(format::fit(&crumbs, room, ellipsis), theme.bold()),
    ];
    if !badge.is_empty() {
        first.push(Span::raw(" "));
        first.push(Span::styled(badge, theme.read_only_badge()));
    }

    let (fresh_text, fresh_style) = freshness_text(freshness_of(state), state, theme);
    let target = target_text(state, theme);
    let fresh_text = format::truncate(&fresh_text, width.saturating_sub(1), ellipsis);
    let target_room = width.saturating_sub(fresh_text.width() + 4);
    let mut second = vec![Span::raw(" "), Span::styled(fresh_text.clone(), fresh_style)];
    if target_room >= 12 {
        let target = format::fit_right(&target, target_room, ellipsis);
        second.push(Span::raw("   "));
        second.push(Span::styled(target, theme.dim()));
    }
    frame.render_widget(Paragraph::new(vec![Line::from(first), Line::from(second)]), area);
}

/// Characters of an operation id kept when the breadcrumb is short of room (a uuid's first group).
const SHORT_ID: usize = 8;

/// `Pulse` or `StackSets`, then `REGION › NAME › OPERATION_ID › Failures` from the screen stack
/// (the stack set's Region before its name when several are watched; with one, the second
/// line names it); the id cut to `id_chars` when given.
fn breadcrumb(state: &State, theme: &Theme, id_chars: Option<usize>) -> String {
    let id = |id: &str| match id_chars {
        Some(n) if id.chars().count() > n => format!("{}{}", id.chars().take(n).collect::<String>(), theme.ellipsis()),
        _ => id.to_string(),
    };
    let mut parts = Vec::new();
    if state.screens.contains(&Screen::StackSets) {
        parts.push("StackSets".to_string());
    } else {
        parts.push("Pulse".to_string());
    }
    let screen = state.screen();
    if let Some((region, stack_set)) = screen.stack_set() {
        if !region.is_empty() && state.several_regions() {
            parts.push(region.to_string());
        }
        parts.push(stack_set.to_string());
    }
    match screen {
        Screen::Operation { operation_id, .. } => parts.push(id(operation_id)),
        Screen::Failures { operation_id, .. } => parts.extend([id(operation_id), "Failures".to_string()]),
        Screen::Instances { .. } => parts.push("Instances".to_string()),
        _ => {}
    }
    parts.join(theme.breadcrumb_separator())
}

fn freshness_of(state: &State) -> &Freshness {
    match state.screen() {
        Screen::Pulse | Screen::StackSets => &state.stack_sets.freshness,
        Screen::Operations { .. } => &state.operations.freshness,
        Screen::Operation { .. } | Screen::Failures { .. } => &state.operation.freshness,
        Screen::Instances { .. } => &state.instances.freshness,
    }
}

fn freshness_text(freshness: &Freshness, state: &State, theme: &Theme) -> (String, Style) {
    let ago = freshness.fetched_at.map(|at| format::age(at, state.now));
    if let Some(error) = &freshness.error {
        let shown = match &ago {
            Some(ago) => format!("showing data from {ago} ago"),
            None => "no data yet".to_string(),
        };
        let advice = error.advice(state.settings.target.profile.as_deref());
        let text = format!("{} {advice} ({shown})", theme.warning());
        return (text, theme.error());
    }
    match ago {
        Some(ago) => (format!("updated {ago} ago"), theme.dim()),
        // A silent endpoint: say so, and for how long, before the SDK's timeouts give up.
        None if freshness.loading => match freshness.waiting_since {
            Some(since) if state.now - since >= time::Duration::seconds(SILENCE_NOTICE_SECS) => (
                format!(
                    "no answer yet from CloudFormation after {}{}",
                    format::age(since, state.now),
                    theme.dots()
                ),
                theme.warn(),
            ),
            _ => (format!("loading{}", theme.dots()), theme.warn()),
        },
        None => (String::new(), Style::new()),
    }
}

/// `profile prod · region us-east-1 · endpoint http://… · as SELF`
fn target_text(state: &State, theme: &Theme) -> String {
    let target = &state.settings.target;
    let watched = target.watched();
    let region = match watched.as_slice() {
        [] => "region default".to_string(),
        [one] => format!("region {one}"),
        many => format!("regions {}", many.join(",")),
    };
    let mut parts = vec![
        format!("profile {}", target.profile.as_deref().unwrap_or("default")),
        region,
    ];
    if let Some(endpoint) = &target.endpoint {
        parts.push(format!("endpoint {endpoint}"));
    }
    parts.push(format!("as {}", state.settings.call_as));
    parts.join(theme.separator())
}

/// The slice `[start, end)` of a list of `len` items to show in `height` lines, keeping
/// `cursor` in view. It depends on nothing but its arguments (the view keeps no scroll state):
/// the cursor sits mid-window once the list is longer than the window.
pub(crate) fn window(cursor: usize, len: usize, height: usize) -> (usize, usize) {
    if len <= height {
        return (0, len);
    }
    let start = cursor.min(len - 1).saturating_sub(height / 2).min(len - height);
    (start, start + height)
}

/// A rectangle of `width` x `height` centred in `area`, clipped to it.
pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Clears `area` and draws a bordered popup with `lines` inside.
pub(crate) fn popup(frame: &mut Frame, area: Rect, block: ratatui::widgets::Block, lines: Vec<Line>) {
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The body of a list whose listing failed: the error with its advice, wrapped, then what
/// happens next (`still_trying`).
pub(crate) fn listing_failed<'a>(
    what: &str,
    error: &crate::api::ApiError,
    state: &State,
    theme: &Theme,
    width: usize,
    still_trying: &'a str,
) -> Vec<Line<'a>> {
    let advice = error.advice(state.settings.target.profile.as_deref());
    let text = format!("{} Could not list {what}: {advice}", theme.warning());
    let mut lines = vec![Line::raw("")];
    lines.extend(
        format::wrap(&text, width.saturating_sub(2))
            .into_iter()
            .enumerate()
            .map(|(i, l)| Line::styled(format!("{}{l}", if i == 0 { " " } else { "   " }), theme.error())),
    );
    lines.push(Line::styled(still_trying, theme.dim()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found against an endpoint that accepts and never answers: "loading…" for 40 s, then the
    /// first word. The header now says how long the silence has lasted.
    #[test]
    fn a_silent_endpoint_is_named_with_how_long_it_has_been_silent() {
        let start = time::macros::datetime!(2026-11-22 03:30 UTC);
        let mut state = State::new(crate::app::Settings::default(), start);
        let theme = Theme::new(&state.settings);
        let (text, _) = freshness_text(&state.stack_sets.freshness, &state, &theme);
        assert_eq!(text, "loading…", "the first seconds are ordinary loading");
        crate::app::update(&mut state, crate::app::Msg::Tick(start + time::Duration::seconds(15)));
        let (text, _) = freshness_text(&state.stack_sets.freshness, &state, &theme);
        assert!(text.contains("no answer yet") && text.contains("15s"), "{text}");
    }

    #[test]
    fn window_keeps_the_cursor_visible() {
        assert_eq!(window(0, 5, 10), (0, 5));
        assert_eq!(window(0, 100, 10), (0, 10));
        assert_eq!(window(50, 100, 10), (45, 55));
        assert_eq!(window(99, 100, 10), (90, 100));
        assert_eq!(window(500, 100, 10), (90, 100));
        for cursor in 0..100 {
            let (start, end) = window(cursor, 100, 7);
            assert!(start <= cursor && cursor < end && end - start == 7);
        }
    }
}
