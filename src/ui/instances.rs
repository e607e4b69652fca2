//! One stack set's stack instances: counts by Status, DetailedStatus and drift at the top, then
//! one row per instance (worst first), with the selected one's reason and last operation below.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::fit;
use super::theme::Theme;
use crate::app::{InstancesData, State};
use crate::model::{InstanceStatus, StackInstance};

const ACCOUNT: usize = 13;
const REGION: usize = 15;
const STATUS: usize = 11;
const DETAILED: usize = 26;
const DRIFT: usize = 12;
/// Lines under the list for the selected instance.
const DETAIL_LINES: usize = 3;

/// Draws the counts, the list and the selected instance; returns the list's rows per page.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let data = &state.instances;
    let width = area.width as usize;
    let height = area.height as usize;
    let list_height = height.saturating_sub(2 + 1 + DETAIL_LINES).max(1);
    let ellipsis = theme.ellipsis();
    if data.rows.is_empty() {
        let text = match (&data.freshness.error, data.freshness.fetched_at) {
            (Some(error), _) => format!(
                "{} Could not list stack instances: {}",
                theme.warning(),
                error.advice(state.settings.target.profile.as_deref())
            ),
            (None, None) => format!("Loading the stack instances of {}{}", data.stack_set, theme.dots()),
            (None, Some(_)) => format!("{} has no stack instances.", data.stack_set),
        };
        let style = if data.freshness.error.is_some() {
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
    let mut lines = vec![counts_line(data, theme), filter_line(state, theme)];
    let reason_width = width.saturating_sub(1 + ACCOUNT + REGION + STATUS + DETAILED + DRIFT);
    lines.push(Line::styled(
        fit(
            &format!(
                " {:<ACCOUNT$}{:<REGION$}{:<STATUS$}{:<DETAILED$}{:<DRIFT$}{}",
                "ACCOUNT", "REGION", "STATUS", "DETAILED STATUS", "DRIFT", "REASON"
            ),
            width,
            ellipsis,
        ),
        theme.heading(),
    ));
    let (start, end) = super::window(data.selected, data.visible.len(), list_height);
    for (index, row) in data.visible[start..end].iter().enumerate() {
        let Some(instance) = data.rows.get(*row) else { continue };
        let line = Line::from(vec![
            Span::raw(format!(" {:<ACCOUNT$}", fit(&instance.account, ACCOUNT - 1, ellipsis))),
            Span::raw(format!("{:<REGION$}", fit(&instance.region, REGION - 1, ellipsis))),
            Span::styled(
                format!("{:<STATUS$}", instance.status.as_str()),
                status_style(instance.status, theme),
            ),
            Span::raw(format!(
                "{:<DETAILED$}",
                fit(
                    instance.detailed_status.as_deref().unwrap_or("-"),
                    DETAILED - 1,
                    ellipsis
                )
            )),
            Span::raw(format!(
                "{:<DRIFT$}",
                fit(instance.drift_status.as_deref().unwrap_or("-"), DRIFT - 1, ellipsis)
            )),
            Span::styled(
                fit(
                    &one_line(instance.status_reason.as_deref().unwrap_or("")),
                    reason_width,
                    ellipsis,
                ),
                theme.dim(),
            ),
        ]);
        lines.push(if start + index == data.selected {
            line.style(theme.cursor())
        } else {
            line
        });
    }
    if data.visible.is_empty() {
        lines.push(Line::styled(" No stack instance matches the filters.", theme.dim()));
    }
    while lines.len() < height.saturating_sub(DETAIL_LINES) {
        lines.push(Line::raw(""));
    }
    if let Some(instance) = crate::app::update::selected_instance(data) {
        lines.extend(detail_lines(instance, width, theme));
    }
    frame.render_widget(Paragraph::new(lines), area);
    list_height as u16
}

/// `CURRENT 812   OUTDATED 86   INOPERABLE 2   drifted 3   suspended 2   of 900`.
fn counts_line(data: &InstancesData, theme: &Theme) -> Line<'static> {
    let counts = &data.counts;
    let mut spans = vec![Span::raw(" ")];
    for (status, count) in [
        (InstanceStatus::Current, counts.current),
        (InstanceStatus::Outdated, counts.outdated),
        (InstanceStatus::Inoperable, counts.inoperable),
    ] {
        spans.push(Span::styled(
            format!("{} {count}", status.as_str()),
            status_style(status, theme),
        ));
        spans.push(Span::raw("   "));
    }
    spans.push(Span::raw(format!(
        "drifted {}   suspended {}   of {}",
        counts.drifted,
        counts.suspended,
        data.rows.len()
    )));
    Line::from(spans)
}

fn filter_line(state: &State, theme: &Theme) -> Line<'static> {
    let data = &state.instances;
    let status = data.status_filter.map_or("all statuses", |s| s.as_str());
    let text = state.filter.value();
    let filter = if text.is_empty() {
        String::new()
    } else {
        format!(" · filter {text:?}")
    };
    Line::styled(
        format!(
            " showing {status}{filter} · {} of {}",
            data.visible.len(),
            data.rows.len()
        ),
        theme.dim(),
    )
}

fn detail_lines(instance: &StackInstance, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let ellipsis = theme.ellipsis();
    let field = |label: &str, value: &str| {
        Line::from(vec![
            Span::styled(format!(" {label:<15}"), theme.dim()),
            Span::raw(fit(value, width.saturating_sub(17), ellipsis)),
        ])
    };
    vec![
        field(
            "instance",
            &format!(
                "{} in {} · OU {}",
                instance.account,
                instance.region,
                instance.ou.as_deref().unwrap_or("-")
            ),
        ),
        field("last operation", instance.last_operation_id.as_deref().unwrap_or("-")),
        field("reason", &one_line(instance.status_reason.as_deref().unwrap_or("-"))),
    ]
}

fn status_style(status: InstanceStatus, theme: &Theme) -> ratatui::style::Style {
    match status {
        InstanceStatus::Current => theme.ok(),
        InstanceStatus::Outdated => theme.warn(),
        InstanceStatus::Inoperable => theme.error(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
