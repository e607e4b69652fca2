//! Failures by reason: FAILED and CANCELLED results grouped by StatusReason, biggest first,
//! each with its category and failed resource, and below, the selected group's hint (what to
//! do), reason, accounts and Regions.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::format::{self, fit_right};
use super::theme::Theme;
use crate::app::{FailureGroup, State};
use crate::insight::ResourceRef;

const COUNT_WIDTH: usize = 6;
const STATUS_WIDTH: usize = 11;
/// Category names are at most 14 columns (the category file's rule).
const CATEGORY_WIDTH: usize = 14;
/// The resource column fits its longest entry within these bounds.
const RESOURCE_MIN: usize = 12;
const RESOURCE_MAX: usize = 48;
/// The reason keeps at least this much; the resource column goes first when it cannot.
const REASON_MIN: usize = 16;
/// The list never takes more than this share of the body; the selected group needs room too.
const LIST_MAX_PERCENT: u16 = 45;

/// Draws the groups and the selected one's spread; returns the list's rows per page.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let data = &state.operation;
    let groups = &data.failures;
    let total: usize = groups.iter().map(|g| g.count).sum();
    let title = Line::from(vec![
        Span::styled(" Failures by reason ", theme.title()),
        Span::styled(theme.separator().trim_start().to_string(), theme.dim()),
        Span::styled(
            format!(
                "{} group{}, {total} result{} ",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" },
                if total == 1 { "" } else { "s" }
            ),
            theme.dim(),
        ),
    ]);
    if groups.is_empty() {
        let block = theme.block().title(title);
        let text = if state.filter.value().is_empty() {
            " No failed or cancelled results.".to_string()
        } else {
            format!(" No failure matches the filter {:?}.", state.filter.value())
        };
        let lines = vec![Line::raw(""), Line::styled(text, theme.dim())];
        frame.render_widget(Paragraph::new(lines).block(block), area);
        return 1;
    }
    let list_height = (groups.len() as u16 + 2)
        .min(area.height * LIST_MAX_PERCENT / 100)
        .max(3);
    let [list_area, detail_area] = Layout::vertical([Constraint::Length(list_height), Constraint::Min(3)]).areas(area);

    let inner_width = list_area.width.saturating_sub(2) as usize;
    let fixed = 1 + COUNT_WIDTH + 2 + STATUS_WIDTH + 1 + CATEGORY_WIDTH + 1;
    let longest_resource = groups
        .iter()
        .filter_map(|g| g.resource.as_ref())
        .map(|r| resource_short(r).width())
        .max();
    let resource_width = longest_resource.and_then(|longest| {
        let room = inner_width.saturating_sub(fixed + 1 + REASON_MIN);
        (room >= RESOURCE_MIN).then(|| longest.clamp(RESOURCE_MIN, RESOURCE_MAX).min(room))
    });
    let reason_width = inner_width.saturating_sub(fixed + resource_width.map_or(0, |w| w + 1));
    let (start, end) = super::window(
        data.failures_selected,
        groups.len(),
        list_height.saturating_sub(2) as usize,
    );
    let mut lines = Vec::new();
    for (offset, group) in groups[start..end].iter().enumerate() {
        let category = group.category.map_or("-", |c| c.name.as_str());
        let mut spans = vec![
            Span::styled(
                format!(" {}", fit_right(&group.count.to_string(), COUNT_WIDTH, "")),
                theme.bold(),
            ),
            Span::styled(
                format!("  {} {:<9}", theme.result_glyph(group.status), group.status.as_str()),
                theme.result_style(group.status),
            ),
            Span::styled(
                format!(" {}", format::fit(category, CATEGORY_WIDTH, theme.ellipsis())),
                if group.category.is_some() {
                    theme.heading()
                } else {
                    theme.dim()
                },
            ),
        ];
        if let Some(width) = resource_width {
            let resource = group.resource.as_ref().map_or("-".to_string(), resource_short);
            spans.push(Span::raw(format!(
                " {}",
                format::fit(&resource, width, theme.ellipsis())
            )));
        }
        // With the resource in its own column, the reason is what follows ResourceStatusReason.
        let reason = match (resource_width, group.reason.split_once("ResourceStatusReason:")) {
            (Some(_), Some((_, rest))) => rest,
            _ => group.reason.as_str(),
        };
        spans.push(Span::raw(format!(
            " {}",
            format::fit(&one_line(reason), reason_width, theme.ellipsis())
        )));
        let line = Line::from(spans);
        lines.push(if start + offset == data.failures_selected {
            line.style(theme.cursor())
        } else {
            line
        });
    }
    frame.render_widget(Paragraph::new(lines).block(theme.block().title(title)), list_area);

    if let Some(group) = groups.get(data.failures_selected) {
        draw_group(group, theme, frame, detail_area);
    }
    list_height.saturating_sub(2)
}

/// `LoggingBucket S3::Bucket`: the logical id and the type without its `AWS::`.
fn resource_short(resource: &ResourceRef) -> String {
    let kind = resource
        .resource_type
        .strip_prefix("AWS::")
        .unwrap_or(&resource.resource_type);
    format!("{} {kind}", resource.logical_id)
}

/// Reasons can hold newlines; a list row shows them on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn draw_group(group: &FailureGroup, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = area.width.saturating_sub(4) as usize;
    let mut lines = Vec::new();
    let status = format!("{} {}", theme.result_glyph(group.status), group.status);
    let mut first = vec![
        Span::styled(format!(" {status}"), theme.result_style(group.status)),
        Span::raw(format!(" in {} results", group.count)),
    ];
    if let Some(category) = group.category {
        first.push(Span::raw(theme.separator().to_string()));
        first.push(Span::styled(category.name.clone(), theme.heading()));
    }
    lines.push(Line::from(first));
    if let Some(category) = group.category {
        for (i, part) in format::wrap(&category.hint, width.saturating_sub(5))
            .into_iter()
            .enumerate()
        {
            let label = if i == 0 { "Fix: " } else { "     " };
            lines.push(Line::from(vec![
                Span::styled(format!(" {label}"), theme.heading()),
                Span::styled(part, theme.warn()),
            ]));
        }
    }
    if let Some(resource) = &group.resource {
        lines.push(Line::from(vec![
            Span::styled(" Resource ", theme.heading()),
            Span::raw(format!("{} ({})", resource.logical_id, resource.resource_type)),
        ]));
    }
    for part in format::wrap(&group.reason, width) {
        lines.push(Line::raw(format!(" {part}")));
    }
    lines.push(Line::raw(""));
    // Join only what can show: a group may hit thousands of accounts.
    let budget = width * area.height as usize;
    let mut list = |label: String, items: &[String]| {
        lines.push(Line::styled(format!(" {label}"), theme.heading()));
        let mut text = String::new();
        for (shown, item) in items.iter().enumerate() {
            if text.len() > budget {
                text.push_str(&format!(" and {} more", items.len() - shown));
                break;
            }
            if shown > 0 {
                text.push_str(", ");
            }
            text.push_str(item);
        }
        for part in format::wrap(&text, width) {
            lines.push(Line::raw(format!(" {part}")));
        }
    };
    list(format!("Accounts ({})", group.accounts.len()), &group.accounts);
    list(format!("Regions ({})", group.regions.len()), &group.regions);

    // Cut at the bottom with a note instead of silently losing accounts.
    let inner_height = area.height.saturating_sub(2) as usize;
    if lines.len() > inner_height && inner_height > 0 {
        let hidden = lines.len() - (inner_height - 1);
        lines.truncate(inner_height - 1);
        lines.push(Line::styled(
            format!(" {} {hidden} more lines", theme.ellipsis()),
            theme.dim(),
        ));
    }
    let block = theme.block().title(Span::styled(" Selected group ", theme.title()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
