//! The pulse, sstop's home screen: every QUEUED, RUNNING and STOPPING operation across the
//! watched Regions and both CallAs, then those that ended in the last 24 hours, most urgent
//! first (the update function keeps that order). Each row says how old its data is: the
//! overview checks stack sets in turns. Reads state only.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{self, fit, fit_right};
use super::theme::Theme;
use crate::app::{PulseRow, State, Urgency};
use crate::insight::Outcome;
use crate::model::{OperationAction, OperationStatus, ResultStatus};

const MARKER: usize = 2;
const REGION_FULL: usize = 14;
const REGION_SHORT: usize = 6;
const ACTION: usize = 6;
const STATUS: usize = 9;
const ELAPSED: usize = 7;
const FAILED: usize = 6;
const DONE: usize = 5;
const CHECKED: usize = 7;
/// The NOTE column (why QUEUED, the status reason) shows from this width on.
const NOTE_FROM: usize = 120;
/// Lines of the body that are not rows: the heading, the summary and the selected row's note.
const CHROME: usize = 3;

/// Draws the pulse; returns its rows per page.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let data = &state.pulse;
    let width = area.width as usize;
    let height = (area.height as usize).saturating_sub(CHROME);
    let columns = Columns::for_width(width);
    let ellipsis = theme.ellipsis();
    if data.rows.is_empty() {
        frame.render_widget(Paragraph::new(empty_message(state, theme, width)), area);
        return height as u16;
    }
    let mut lines = vec![columns.heading(theme, ellipsis)];
    let (start, end) = super::window(data.selected, data.visible.len(), height);
    for (index, row) in data.visible[start..end]
        .iter()
        .filter_map(|i| data.rows.get(*i))
        .enumerate()
    {
        let selected = start + index == data.selected;
        lines.push(columns.row(row, state, theme, selected));
    }
    if data.visible.is_empty() {
        lines.push(Line::styled(" No operation matches the filter.", theme.dim()));
    }
    while lines.len() < height + 1 {
        lines.push(Line::raw(""));
    }
    let mut summary = summary(state, theme);
    if end - start < data.visible.len() {
        summary.push_str(&format!(
            "{}rows {}{}{} of {}",
            theme.separator(),
            start + 1,
            theme.dash(),
            end,
            data.visible.len()
        ));
    }
    lines.push(Line::styled(
        format!(" {}", format::truncate(&summary, width.saturating_sub(1), ellipsis)),
        theme.dim(),
    ));
    let note = data
        .visible
        .get(data.selected)
        .and_then(|i| data.rows.get(*i))
        .map(|row| note(row, state, theme))
        .unwrap_or_default();
    lines.push(Line::raw(format!(
        " {}",
        format::truncate(&note, width.saturating_sub(1), ellipsis)
    )));
    frame.render_widget(Paragraph::new(lines), area);
    height as u16
}

/// `1 failing · 2 running · 1 queued · 5 ended in 24h · 1,006 stack sets in 3 Regions, oldest check 7m ago`
fn summary(state: &State, theme: &Theme) -> String {
    let rows = &state.pulse.rows;
    let count = |urgency: Urgency| rows.iter().filter(|r| r.urgency() == urgency).count();
    let mut parts = vec![
        format!("{} failing", count(Urgency::Failing)),
        format!("{} running", count(Urgency::Running)),
        format!("{} queued", count(Urgency::Queued)),
        format!("{} ended in 24h", count(Urgency::Ended)),
    ];
    parts.push(estate(state));
    if !state.filter.value().is_empty() {
        parts.push(format!(
            "{} match {:?}",
            state.pulse.visible.len(),
            state.filter.value()
        ));
    }
    parts.join(theme.separator())
}

/// How much of the estate the pulse covers, and how stale its oldest check is.
fn estate(state: &State) -> String {
    let sets = &state.stack_sets.rows;
    let mut regions: Vec<&str> = sets.iter().map(|r| r.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let watched = state.settings.target.watched().len().max(regions.len());
    let unchecked = sets.iter().filter(|r| r.checked_at.is_none()).count();
    let oldest = sets.iter().filter_map(|r| r.checked_at).min();
    let mut text = format!(
        "{} stack sets in {watched} Region{}",
        thousands(sets.len()),
        if watched == 1 { "" } else { "s" }
    );
    if unchecked > 0 {
        text.push_str(&format!(", {} not checked yet", thousands(unchecked)));
    } else if let Some(oldest) = oldest {
        text.push_str(&format!(", oldest check {} ago", format::age(oldest, state.now)));
    }
    text
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn empty_message<'a>(state: &State, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let freshness = &state.stack_sets.freshness;
    let text = match (&freshness.error, freshness.fetched_at) {
        (Some(error), _) => {
            return super::listing_failed(
                "stack sets",
                error,
                state,
                theme,
                width,
                "   Still trying; the pulse fills as soon as a call succeeds.",
            );
        }
        (None, None) => format!("Loading stack sets{}", theme.dots()),
        (None, Some(_)) => format!(
            "Nothing queued, running or stopping, and nothing ended in the last 24 h ({}).",
            estate(state)
        ),
    };
    let mut lines = vec![Line::raw("")];
    lines.extend(
        format::wrap(&text, width.saturating_sub(2))
            .into_iter()
            .map(|l| Line::styled(format!(" {l}"), theme.dim())),
    );
    lines
}

/// What the selected row adds: why it is QUEUED, its status reason, or where it is.
fn note(row: &PulseRow, state: &State, theme: &Theme) -> String {
    let op = &row.operation;
    let short = |id: &str| -> String {
        if id.chars().count() > 8 {
            format!("{}{}", id.chars().take(8).collect::<String>(), theme.ellipsis())
        } else {
            id.to_string()
        }
    };
    let place = format!("{} {} on {} in {}", op.action, short(&op.id), row.stack_set, row.region);
    if op.status == OperationStatus::Queued {
        return match &row.ahead {
            Some(ahead) => {
                let since = ahead
                    .created
                    .map(|at| format!(" for {}", format::age(at, state.now)))
                    .unwrap_or_default();
                format!(
                    "QUEUED behind {} {} ({}{since}) · {place}",
                    ahead.action,
                    short(&ahead.id),
                    ahead.status
                )
            }
            None => format!(
                "QUEUED with nothing ahead among this stack set's last operations: it may wait on another \
                 stack set (auto-deployment DependsOn) or the Region's quota of stack instance operations at once · {place}"
            ),
        };
    }
    if let Some(reason) = op.status_reason.as_deref().filter(|r| !r.is_empty()) {
        return format!("{place}: {reason}");
    }
    match row.urgency() {
        Urgency::Failing => format!(
            "{place}: {} stack instances failed so far; enter opens its grid",
            op.failed_count.unwrap_or(0)
        ),
        _ => place,
    }
}

/// Why QUEUED, or the status reason, for the NOTE column.
fn note_column(row: &PulseRow) -> String {
    let op = &row.operation;
    if op.status == OperationStatus::Queued {
        return match &row.ahead {
            Some(ahead) => format!(
                "behind {} {} ({})",
                ahead.action,
                ahead.id.chars().take(8).collect::<String>(),
                ahead.status
            ),
            None => "nothing ahead on this stack set: another's turn or a quota?".to_string(),
        };
    }
    op.status_reason.clone().unwrap_or_default()
}

/// Which columns fit, and how wide STACK SET is.
struct Columns {
    region: usize,
    name: usize,
    note: Option<usize>,
}

impl Columns {
    fn for_width(width: usize) -> Self {
        let region = if width >= 100 { REGION_FULL } else { REGION_SHORT };
        let fixed = MARKER + region + 1 + 1 + ACTION + 1 + STATUS + 1 + ELAPSED + 1 + FAILED + 1 + DONE + 1 + CHECKED;
        let room = width.saturating_sub(fixed + 1);
        if width >= NOTE_FROM {
            let name = (room / 2).clamp(20, 40);
            Columns {
                region,
                name,
                note: Some(room.saturating_sub(name + 1)),
            }
        } else {
            Columns {
                region,
                name: room.max(8),
                note: None,
            }
        }
    }

    fn heading<'a>(&self, theme: &Theme, ellipsis: &str) -> Line<'a> {
        let mut text = format!(
            "{}{} {} {} {} {} {} {} {}",
            " ".repeat(MARKER),
            fit("REGION", self.region, ""),
            fit("STACK SET", self.name, ellipsis),
            fit("ACTION", ACTION, ""),
            fit("STATUS", STATUS, ""),
            fit_right("ELAPSED", ELAPSED, ""),
            fit_right("FAILED", FAILED, ""),
            fit_right("DONE", DONE, ""),
            fit_right("CHECKED", CHECKED, ""),
        );
        if let Some(note) = self.note {
            text.push_str(&format!(" {}", fit("WHY / REASON", note, ellipsis)));
        }
        Line::styled(text, theme.heading())
    }

    fn row<'a>(&self, row: &PulseRow, state: &State, theme: &Theme, selected: bool) -> Line<'a> {
        let ellipsis = theme.ellipsis();
        let op = &row.operation;
        let outcome = Outcome::of(op, 0);
        let (glyph, glyph_style) = match row.urgency() {
            Urgency::Failing => (
                theme.result_glyph(ResultStatus::Failed),
                theme.result_style(ResultStatus::Failed),
            ),
            Urgency::Running => (
                theme.result_glyph(ResultStatus::Running),
                theme.result_style(ResultStatus::Running),
            ),
            Urgency::Queued => (
                theme.result_glyph(ResultStatus::Pending),
                theme.result_style(ResultStatus::Pending),
            ),
            Urgency::Ended => match op.status {
                OperationStatus::Succeeded => (
                    theme.result_glyph(ResultStatus::Succeeded),
                    theme.outcome_style(outcome),
                ),
                OperationStatus::Stopped => (
                    theme.result_glyph(ResultStatus::Cancelled),
                    theme.outcome_style(outcome),
                ),
                _ => (theme.result_glyph(ResultStatus::Failed), theme.outcome_style(outcome)),
            },
        };
        let region = if self.region >= REGION_FULL {
            row.region.clone()
        } else {
            format::region_abbrev(&row.region)
        };
        let action = match op.action {
            OperationAction::DetectDrift => "DRIFT",
            other => other.as_str(),
        };
        let elapsed = match (op.created, op.ended, op.status.is_active()) {
            (Some(created), _, true) => format::age(created, state.now),
            (Some(created), Some(ended), false) => format::duration(ended - created),
            _ => "-".to_string(),
        };
        let failed = match op.failed_count {
            Some(n) => n.to_string(),
            None => "-".to_string(),
        };
        let failed_style = if op.failed_count.unwrap_or(0) > 0 {
            theme.result_style(ResultStatus::Failed)
        } else {
            Style::new()
        };
        let checked = row
            .checked_at
            .map(|at| format::age(at, state.now))
            .unwrap_or_else(|| "-".into());
        let mut spans = vec![
            Span::styled(format!("{glyph} "), glyph_style),
            Span::raw(format!("{} ", fit(&region, self.region, ellipsis))),
            Span::styled(fit(&row.stack_set, self.name, ellipsis), theme.bold()),
            Span::raw(format!(" {}", fit(action, ACTION, ellipsis))),
            Span::styled(
                format!(" {}", fit(outcome.short(), STATUS, ellipsis)),
                theme.outcome_style(outcome),
            ),
            Span::raw(format!(" {}", fit_right(&elapsed, ELAPSED, ellipsis))),
            Span::styled(format!(" {}", fit_right(&failed, FAILED, ellipsis)), failed_style),
            Span::raw(format!(" {}", fit_right(&progress(row, state), DONE, ellipsis))),
            Span::styled(format!(" {}", fit_right(&checked, CHECKED, ellipsis)), theme.dim()),
        ];
        if let Some(note) = self.note {
            spans.push(Span::styled(
                format!(" {}", fit(&note_column(row), note, ellipsis)),
                theme.dim(),
            ));
        }
        let line = Line::from(spans);
        if selected {
            line.style(theme.cursor())
        } else {
            line
        }
    }
}

/// Results done of all, where sstop has read the operation's grid (the one last opened);
/// `-` elsewhere: the overview's checks carry no counts.
fn progress(row: &PulseRow, state: &State) -> String {
    let data = &state.operation;
    let same = data.region == row.region
        && data.stack_set == row.stack_set
        && data.operation.as_ref().is_some_and(|op| op.id == row.operation.id);
    if !same || !data.complete || data.grid.is_empty() {
        return "-".into();
    }
    let total = data.grid.len();
    let done = total - data.grid.count(ResultStatus::Pending) - data.grid.count(ResultStatus::Running);
    format!("{}%", done * 100 / total)
}
