//! The operations of one stack set, newest first, with the selected one's preferences and
//! status reason spelled out below the list.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{self, fit, fit_right};
use super::theme::Theme;
use crate::app::State;
use crate::insight::{self, Outcome};
use crate::model::{Operation, OperationAction};

const ID_FULL: usize = 36;
const ID_MIN: usize = 10;
const STATUS: usize = 9;
const TIME: usize = 14;
const FAILED: usize = 6;
/// Preferences get a column only when at least this much is left; otherwise they show below.
const PREFS_MIN: usize = 24;
/// Lines under the list for the selected operation.
const DETAIL_LINES: usize = 3;

/// Draws the list and the selected operation's detail; returns the list's rows per page.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let data = &state.operations;
    let width = area.width as usize;
    let height = area.height as usize;
    let list_height = height.saturating_sub(1 + DETAIL_LINES + 1).max(1);
    if data.operations.is_empty() {
        let freshness = &data.freshness;
        let text = match (&freshness.error, freshness.fetched_at) {
            (Some(error), _) => format!(
                "{} Could not list operations: {}",
                theme.warning(),
                error.advice(state.settings.target.profile.as_deref())
            ),
            (None, None) => format!("Loading operations of {}{}", data.stack_set, theme.dots()),
            (None, Some(_)) => format!("{} has no operations yet.", data.stack_set),
        };
        let style = if freshness.error.is_some() {
            theme.error()
        } else {
            theme.dim()
        };
        frame.render_widget(
            Paragraph::new(vec![Line::raw(""), Line::styled(format!(" {text}"), style)]),
            area,
        );
        return list_height as u16;
    }
    let (start, end) = super::window(data.selected, data.visible.len(), list_height);
    let shown: Vec<Operation> = data.visible[start..end]
        .iter()
        .filter_map(|i| data.operations.get(*i).cloned())
        .collect();
    let columns = Columns::for_width(width, &shown);
    let ellipsis = theme.ellipsis();

    let mut lines = vec![columns.heading(theme, ellipsis)];
    for (index, op) in shown.iter().enumerate() {
        let line = columns.row(op, state, theme);
        lines.push(if start + index == data.selected {
            line.style(theme.cursor())
        } else {
            line
        });
    }
    if data.visible.is_empty() {
        lines.push(Line::styled(
            format!(" No operation matches the filter {:?}.", state.filter.value()),
            theme.dim(),
        ));
    }
    // Pad so the detail sits at the bottom of the body.
    while lines.len() < height.saturating_sub(DETAIL_LINES) {
        lines.push(Line::raw(""));
    }
    let selected = data.visible.get(data.selected).and_then(|i| data.operations.get(*i));
    if let Some(op) = selected {
        lines.extend(detail(op, state, theme, width, start, end, data.visible.len()));
    }
    frame.render_widget(Paragraph::new(lines), area);
    list_height as u16
}

/// Preferences, reason and position for the selected operation.
fn detail<'a>(
    op: &Operation,
    state: &State,
    theme: &Theme,
    width: usize,
    start: usize,
    end: usize,
    total: usize,
) -> Vec<Line<'a>> {
    let ellipsis = theme.ellipsis();
    let room = width.saturating_sub(12);
    let mut position = format!(" {}{}{total} operations", op.id, theme.separator());
    if end - start < total {
        position.push_str(&format!(
            "{}rows {}{}{} of {total}",
            theme.separator(),
            start + 1,
            theme.dash(),
            end
        ));
    }
    if let Some(model) = state.operations.permission_model {
        position.push_str(&format!("{}{}", theme.separator(), model));
    }
    vec![
        Line::styled(position, theme.dim()),
        Line::from(vec![
            Span::styled(" preferences ", theme.heading()),
            Span::raw(format::truncate(&preferences(op, room), room, ellipsis)),
        ]),
        Line::from(vec![
            Span::styled(" reason      ", theme.heading()),
            Span::raw(format::truncate(
                op.status_reason.as_deref().unwrap_or("-"),
                room,
                ellipsis,
            )),
        ]),
    ]
}

/// The preferences in words (without Region or account numbers, which the list does not
/// know), shorter when they do not fit.
fn preferences(op: &Operation, room: usize) -> String {
    let long = insight::preferences_in_words(&op.preferences, None, None, false);
    if long.chars().count() <= room {
        long
    } else {
        insight::preferences_in_words(&op.preferences, None, None, true)
    }
}

struct Columns {
    id: usize,
    action: usize,
    prefs: Option<usize>,
}

impl Columns {
    fn for_width(width: usize, shown: &[Operation]) -> Self {
        let action = if shown.iter().any(|op| op.action == OperationAction::DetectDrift) {
            12
        } else {
            6
        };
        // One leading space and one between columns.
        let fixed = 1 + action + STATUS + TIME + TIME + FAILED + 5;
        let left = width.saturating_sub(fixed);
        let id = left.clamp(ID_MIN, ID_FULL);
        let rest = left.saturating_sub(id + 1);
        Columns {
            id,
            action,
            prefs: (rest >= PREFS_MIN).then_some(rest),
        }
    }

    fn heading<'a>(&self, theme: &Theme, ellipsis: &str) -> Line<'a> {
        let mut text = format!(
            " {} {} {} {} {} {}",
            fit("OPERATION ID", self.id, ellipsis),
            fit("ACTION", self.action, ellipsis),
            fit("STATUS", STATUS, ellipsis),
            fit("CREATED", TIME, ellipsis),
            fit("ENDED/ELAPSED", TIME, ellipsis),
            fit_right("FAILED", FAILED, ellipsis),
        );
        if let Some(prefs) = self.prefs {
            text.push_str(&format!(" {}", fit("PREFERENCES", prefs, ellipsis)));
        }
        Line::styled(text, theme.heading())
    }

    fn row<'a>(&self, op: &Operation, state: &State, theme: &Theme) -> Line<'a> {
        let ellipsis = theme.ellipsis();
        let created = op.created.map(format::timestamp).unwrap_or_else(|| "-".into());
        let (ended, ended_style) = match (op.ended, op.created) {
            (Some(ended), _) => (format::timestamp(ended), ratatui::style::Style::new()),
            (None, Some(created)) if op.status.is_active() => {
                (format!("{} so far", format::age(created, state.now)), theme.warn())
            }
            _ => ("-".into(), theme.dim()),
        };
        let outcome = Outcome::of(op, 0);
        let failed = op.failed_count.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let failed_style = if op.failed_count.unwrap_or(0) > 0 {
            theme.error()
        } else {
            theme.dim()
        };
        let mut spans = vec![
            Span::raw(format!(" {}", fit(&op.id, self.id, ellipsis))),
            Span::raw(format!(" {}", fit(op.action.as_str(), self.action, ellipsis))),
            Span::styled(
                format!(" {}", fit(outcome.short(), STATUS, ellipsis)),
                theme.outcome_style(outcome),
            ),
            Span::raw(format!(" {}", fit(&created, TIME, ellipsis))),
            Span::styled(format!(" {}", fit(&ended, TIME, ellipsis)), ended_style),
            Span::styled(format!(" {}", fit_right(&failed, FAILED, ellipsis)), failed_style),
        ];
        if let Some(prefs) = self.prefs {
            spans.push(Span::styled(
                format!(" {}", fit(&op.preferences.short(), prefs, ellipsis)),
                theme.dim(),
            ));
        }
        Line::from(spans)
    }
}
