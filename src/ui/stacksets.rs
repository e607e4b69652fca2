//! The stack set list: every stack set of every watched Region with its latest operation,
//! active ones first (the update function keeps that order), and how long ago each one was
//! last checked.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{self, fit, fit_right};
use super::theme::Theme;
use crate::app::{StackSetRow, State};
use crate::insight::Outcome;
use crate::model::{PermissionModel, StackSetStatus};

/// Column widths; NAME takes what is left.
const MARKER: usize = 2;
const MODEL: usize = 7;
const STATUS: usize = 7;
const ACTION: usize = 12;
const OP_STATUS: usize = 9;
const AGE: usize = 6;
const CHECKED: usize = 11;
/// REGION: the full name where there is room, else the short label (`apse2`).
const REGION_FULL: usize = 14;
const REGION_SHORT: usize = 6;

/// Draws the list; returns its rows per page.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let data = &state.stack_sets;
    let height = (area.height as usize).saturating_sub(2);
    if data.rows.is_empty() {
        frame.render_widget(Paragraph::new(empty_message(state, theme, area.width as usize)), area);
        return height as u16;
    }
    let layout = Columns::for_width(area.width as usize, state.several_regions());
    let ellipsis = theme.ellipsis();
    let active = data.rows.iter().filter(|r| r.active).count();
    let mut lines = vec![layout.heading(theme, ellipsis)];

    let (start, end) = super::window(data.selected, data.visible.len(), height);
    for (index, row) in data.visible[start..end]
        .iter()
        .filter_map(|i| data.rows.get(*i))
        .enumerate()
    {
        let selected = start + index == data.selected;
        lines.push(layout.row(row, state, theme, selected));
    }
    if data.visible.is_empty() {
        lines.push(Line::styled(" No stack set matches the filter.", theme.dim()));
    }
    let mut regions: Vec<&str> = data.rows.iter().map(|r| r.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let in_regions = if regions.len() > 1 {
        format!(" in {} Regions", regions.len())
    } else {
        String::new()
    };
    let mut summary = format!(
        "{} stack sets{in_regions}, {active} with an active operation",
        data.rows.len()
    );
    if !state.filter.value().is_empty() {
        summary.push_str(&format!(
            "{}{} match {:?}",
            theme.separator(),
            data.visible.len(),
            state.filter.value()
        ));
    }
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
    lines.push(Line::styled(format!(" {summary}"), theme.dim()));
    frame.render_widget(Paragraph::new(lines), area);
    height as u16
}

fn empty_message<'a>(state: &State, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let freshness = &state.stack_sets.freshness;
    let (text, style) = match (&freshness.error, freshness.fetched_at) {
        (Some(error), _) => {
            return super::listing_failed(
                "stack sets",
                error,
                state,
                theme,
                width,
                "   Still trying; the list appears as soon as a call succeeds.",
            );
        }
        (None, None) => (format!("Loading stack sets{}", theme.dots()), theme.dim()),
        (None, Some(_)) => (
            format!(
                "No stack sets found for this account (as {}) in {}.",
                state.settings.call_as,
                state.settings.target.watched().join(", ")
            ),
            theme.dim(),
        ),
    };
    vec![Line::raw(""), Line::styled(format!(" {text}"), style)]
}

/// Which columns fit, and how wide NAME is.
struct Columns {
    name: usize,
    /// 0: one Region is watched and the header names it.
    region: usize,
    show_status: bool,
    show_checked: bool,
}

impl Columns {
    fn for_width(width: usize, several_regions: bool) -> Self {
        let wide = width >= 80;
        let region = match (several_regions, width >= 100) {
            (false, _) => 0,
            (true, true) => REGION_FULL,
            (true, false) => REGION_SHORT,
        };
        // With a REGION column under 100 columns, the stack set's own STATUS (nearly always
        // ACTIVE) gives NAME its room.
        let show_status = wide && (region == 0 || width >= 100);
        let mut fixed = MARKER + region + usize::from(region > 0) + MODEL + ACTION + OP_STATUS + AGE + 4 + 1;
        if wide {
            fixed += CHECKED + 1;
        }
        if show_status {
            fixed += STATUS + 1;
        }
        Columns {
            region,
            name: width.saturating_sub(fixed).max(8),
            show_status,
            show_checked: wide,
        }
    }

    fn heading<'a>(&self, theme: &Theme, ellipsis: &str) -> Line<'a> {
        let region = if self.region > 0 {
            format!("{} ", fit("REGION", self.region, ""))
        } else {
            String::new()
        };
        let mut text = format!(
            "{}{region}{} {}",
            " ".repeat(MARKER),
            fit("NAME", self.name, ellipsis),
            fit("MODEL", MODEL, ellipsis)
        );
        if self.show_status {
            text.push_str(&format!(" {}", fit("STATUS", STATUS, ellipsis)));
        }
        text.push_str(&format!(
            " {} {} {}",
            fit("LAST OP", ACTION, ellipsis),
            fit("OP STATUS", OP_STATUS, ellipsis),
            fit_right("AGE", AGE, ellipsis)
        ));
        if self.show_checked {
            text.push_str(&format!(" {}", fit_right("CHECKED", CHECKED, ellipsis)));
        }
        Line::styled(text, theme.heading())
    }

    fn row<'a>(&self, row: &StackSetRow, state: &State, theme: &Theme, selected: bool) -> Line<'a> {
        let ellipsis = theme.ellipsis();
        let marker = if row.active { theme.active_marker() } else { " " };
        let model = match row.summary.permission_model {
            Some(PermissionModel::SelfManaged) => "SELF",
            Some(PermissionModel::ServiceManaged) => "SERVICE",
            None => "-",
        };
        let status_style = if row.summary.status == StackSetStatus::Deleted {
            theme.dim()
        } else {
            Style::new()
        };
        let region = match self.region {
            0 => String::new(),
            REGION_FULL => format!("{} ", fit(&row.region, self.region, ellipsis)),
            _ => format!("{} ", fit(&format::region_abbrev(&row.region), self.region, ellipsis)),
        };
        let mut spans = vec![
            Span::styled(format!("{marker} "), theme.warn()),
            Span::raw(region),
            Span::styled(fit(&row.summary.name, self.name, ellipsis), theme.bold()),
            Span::raw(format!(" {}", fit(model, MODEL, ellipsis))),
        ];
        if self.show_status {
            spans.push(Span::styled(
                format!(" {}", fit(row.summary.status.as_str(), STATUS, ellipsis)),
                status_style,
            ));
        }
        let (action, status, status_style, age) = match &row.latest {
            Some(op) => (
                op.action.as_str().to_string(),
                Outcome::of(op, 0).short().to_string(),
                theme.outcome_style(Outcome::of(op, 0)),
                op.created
                    .map(|at| format::age(at, state.now))
                    .unwrap_or_else(|| "-".into()),
            ),
            None if row.checked_at.is_some() => ("(none)".into(), String::new(), theme.dim(), "-".into()),
            None => ("-".into(), String::new(), theme.dim(), "-".into()),
        };
        spans.push(Span::raw(format!(" {}", fit(&action, ACTION, ellipsis))));
        spans.push(Span::styled(
            format!(" {}", fit(&status, OP_STATUS, ellipsis)),
            status_style,
        ));
        spans.push(Span::raw(format!(" {}", fit_right(&age, AGE, ellipsis))));
        if self.show_checked {
            let checked = match row.checked_at {
                Some(at) => format!("{} ago", format::age(at, state.now)),
                None => "-".into(),
            };
            spans.push(Span::styled(
                format!(" {}", fit_right(&checked, CHECKED, ellipsis)),
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
