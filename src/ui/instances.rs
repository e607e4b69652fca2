//! One stack set's stack instances: counts by Status, drifted and suspended at the top, then
//! either the account x Region grid (a cell's shape is its DetailedStatus, its colour its
//! Status, `≠` beside it when drifted) or one line per instance (worst first); the focused
//! instance's Status, drift, last operation and reason below. Also the popup of one instance
//! as DescribeStackInstance returns it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::format::{self, fit};
use super::grid::{Geometry, ACCOUNT_WIDTH};
use super::theme::Theme;
use crate::app::instances::{detailed_rank, status_rank, InstancesView};
use crate::app::{InstanceDetail, InstancesData, State};
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
    if data.view == InstancesView::Grid {
        return draw_grid_view(state, theme, frame, area);
    }
    let mut lines = vec![counts_line(data, theme), filter_line(state, theme, None, width)];
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
                theme.instance_style(instance.status),
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
            theme.instance_style(status),
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

/// The filters on the left; in the grid, the window's position and the cursor's Region on
/// the right.
fn filter_line(state: &State, theme: &Theme, grid: Option<&Geometry>, width: usize) -> Line<'static> {
    let data = &state.instances;
    let shown = data
        .filter
        .as_ref()
        .map_or("all".to_string(), |f| format!("{} only", f.label()));
    let mut left = format!(" show {shown}");
    let text = state.filter.value();
    if state.filter_editing {
        left.push_str(&format!("  filter /{text}{}", theme.text_cursor()));
    } else if !text.is_empty() {
        left.push_str(&format!("  filter /{text}"));
    }
    let mut right = Vec::new();
    let dash = theme.dash();
    match grid {
        Some(geometry) => {
            let (rows, cols) = (geometry.rows, geometry.cols);
            let accounts = data.grid_visible.len();
            if accounts > 0 {
                right.push(format!("accounts {}{dash}{} of {accounts}", rows.0 + 1, rows.1));
            }
            let regions = data.grid.regions.len();
            if cols.1 - cols.0 < regions {
                right.push(format!("regions {}{dash}{} of {regions}", cols.0 + 1, cols.1));
            }
            if let Some(region) = data.grid.regions.get(data.cursor_col) {
                right.push(region.clone());
            }
        }
        None => right.push(format!("{} of {} instances", data.visible.len(), data.rows.len())),
    }
    let right = right.join(theme.separator());
    let room = width.saturating_sub(left.width() + 2);
    let mut spans = vec![Span::styled(left, theme.bold())];
    if room >= 8 {
        spans.push(Span::styled(
            format::fit_right(&right, room, theme.ellipsis()),
            theme.dim(),
        ));
    }
    Line::from(spans)
}

/// The focused instance: where, its Status and drift, then its last operation and reason.
fn detail_lines(instance: &StackInstance, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let ellipsis = theme.ellipsis();
    let field = |label: &str, value: &str| {
        Line::from(vec![
            Span::styled(format!(" {label:<15}"), theme.dim()),
            Span::raw(fit(value, width.saturating_sub(17), ellipsis)),
        ])
    };
    let sep = theme.separator();
    let mut first = vec![
        Span::styled(format!(" {:<15}", "instance"), theme.dim()),
        Span::styled(
            format!(
                "{} {}",
                instance.status.as_str(),
                instance.detailed_status.as_deref().unwrap_or("-")
            ),
            theme.instance_style(instance.status),
        ),
    ];
    let rest = format!(
        "{sep}{} in {}{sep}drift {}{sep}OU {}",
        instance.account,
        instance.region,
        instance.drift_status.as_deref().unwrap_or("-"),
        instance.ou.as_deref().unwrap_or("-")
    );
    let used: usize = first.iter().map(|s| s.content.width()).sum();
    first.push(Span::raw(format::truncate(
        &rest,
        width.saturating_sub(used + 1),
        ellipsis,
    )));
    vec![
        Line::from(first),
        field("last operation", instance.last_operation_id.as_deref().unwrap_or("-")),
        field("reason", &one_line(instance.status_reason.as_deref().unwrap_or("-"))),
    ]
}

/// What the shapes mean, for the line under the grid when there is room for it: the
/// instances' own shapes first, then the results' ones, as many as fit in `width`.
fn legend(theme: &Theme, width: usize) -> Line<'static> {
    let glyph = |detailed: &str| theme.instance_glyph(Some(detailed));
    let entries = [
        (glyph("INOPERABLE"), "inoperable"),
        (glyph("SKIPPED_SUSPENDED_ACCOUNT"), "suspended"),
        (theme.drifted(), "drifted"),
        (glyph("FAILED"), "failed"),
        (glyph("CANCELLED"), "cancelled"),
        (glyph("SUCCEEDED"), "succeeded"),
        (glyph("RUNNING"), "running"),
        (glyph("PENDING"), "pending"),
    ];
    let mut text = String::new();
    for (glyph, what) in entries {
        let entry = format!(" {glyph} {what} ");
        if text.width() + entry.width() > width {
            break;
        }
        text.push_str(&entry);
    }
    Line::styled(text, theme.dim())
}

/// Lines under the grid: the focused instance (three), and the legend when it fits.
const GRID_FOOT_LINES: u16 = 3;

/// The grid view; returns its rows per page.
fn draw_grid_view(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let data = &state.instances;
    let grid_area = Rect {
        y: area.y + 2,
        height: area.height.saturating_sub(2 + GRID_FOOT_LINES),
        ..area
    };
    let geometry = Geometry::new(
        grid_area,
        (data.cursor_row, data.cursor_col),
        data.grid_visible.len(),
        &data.grid.regions,
        |start, end| {
            Geometry::ou_column_width(
                data.grid_visible[start..end]
                    .iter()
                    .filter_map(|r| data.grid.ous.get(*r)?.as_deref())
                    .map(UnicodeWidthStr::width)
                    .max(),
            )
        },
    );
    let top = vec![
        counts_line(data, theme),
        filter_line(state, theme, Some(&geometry), area.width as usize),
    ];
    frame.render_widget(
        Paragraph::new(top),
        Rect {
            height: 2.min(area.height),
            ..area
        },
    );
    draw_grid(state, theme, &geometry, frame.buffer_mut(), grid_area);
    let used = geometry.header_lines as usize + (geometry.rows.1 - geometry.rows.0);
    let mut foot = Vec::new();
    // The legend takes a line the rows do not need.
    if used < grid_area.height as usize {
        foot.push(legend(theme, area.width as usize));
    }
    if let Some(instance) = crate::app::update::selected_instance(data) {
        foot.extend(detail_lines(instance, area.width as usize, theme));
    } else if !data.grid_visible.is_empty() {
        foot.push(Line::styled(" (no stack instance in this cell)", theme.dim()));
    }
    // Right under the grid (a line apart), or at the bottom when the grid fills the screen.
    let foot_height = (foot.len() as u16).min(area.height.saturating_sub(2));
    let under_grid = grid_area.y + used as u16 + 1;
    let foot_area = Rect {
        y: under_grid.min(area.bottom().saturating_sub(foot_height)),
        height: foot_height,
        ..area
    };
    frame.render_widget(Paragraph::new(foot), foot_area);
    grid_area.height.saturating_sub(geometry.header_lines).max(1)
}

fn draw_grid(state: &State, theme: &Theme, geometry: &Geometry, buf: &mut Buffer, area: Rect) {
    let data = &state.instances;
    let grid = &data.grid;
    let ellipsis = theme.ellipsis();
    if area.height == 0 {
        return;
    }
    if data.grid_visible.is_empty() {
        let line = Line::styled(" No stack instance matches the filters.", theme.dim());
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    let right = area.right();
    let (ou_x, account_x) = geometry.label_xs(area);
    let (_, state_y) = geometry.header_ys(area);
    super::grid::draw_headers(buf, area, geometry, &grid.regions, data.cursor_col, theme);

    // Under the headers, each Region's worst instance: where to look first.
    buf.set_stringn(account_x, state_y, "worst", ACCOUNT_WIDTH, theme.dim());
    for col in geometry.cols.0..geometry.cols.1 {
        let x = geometry.glyph_x(col);
        if x >= right {
            break;
        }
        let worst = (0..grid.accounts.len())
            .filter_map(|row| grid.cell(row, col))
            .filter_map(|i| data.rows.get(i))
            .min_by_key(|i| (status_rank(i.status), detailed_rank(i.detailed_status.as_deref())));
        if let Some(instance) = worst {
            let glyph = theme.instance_glyph(instance.detailed_status.as_deref());
            buf.set_string(x, state_y, glyph, theme.instance_style(instance.status));
        }
    }

    let body_y = area.y + geometry.header_lines;
    for (line, index) in (geometry.rows.0..geometry.rows.1).enumerate() {
        let y = body_y + line as u16;
        if y >= area.bottom() {
            break;
        }
        let row = data.grid_visible[index];
        let is_cursor_row = index == data.cursor_row;
        if geometry.ou_width > 0 {
            let ou = &grid.ous[row];
            let previous = index.checked_sub(1).map(|i| &grid.ous[data.grid_visible[i]]);
            let starts_group = previous != Some(ou);
            if starts_group || line == 0 {
                let style = if starts_group { theme.bold() } else { theme.dim() };
                buf.set_string(
                    ou_x,
                    y,
                    fit(ou.as_deref().unwrap_or("-"), geometry.ou_width, ellipsis),
                    style,
                );
            }
        }
        let account_style = if is_cursor_row {
            theme.cursor_header()
        } else {
            Style::new()
        };
        buf.set_string(
            account_x,
            y,
            fit(&grid.accounts[row], ACCOUNT_WIDTH, ellipsis),
            account_style,
        );
        for col in geometry.cols.0..geometry.cols.1 {
            let x = geometry.glyph_x(col);
            if x >= right {
                break;
            }
            let (glyph, mark, style) = match grid.cell(row, col) {
                Some(i) => {
                    let instance = &data.rows[i];
                    let style = if crate::app::update::instance_passes(state, i) {
                        theme.instance_style(instance.status)
                    } else {
                        theme.dim()
                    };
                    let drifted = instance.drift_status.as_deref() == Some("DRIFTED");
                    (
                        theme.instance_glyph(instance.detailed_status.as_deref()),
                        if drifted { theme.drifted() } else { " " },
                        style,
                    )
                }
                None => (" ", " ", Style::new()),
            };
            let room = right.saturating_sub(x.saturating_sub(1)) as usize;
            if is_cursor_row && col == data.cursor_col {
                // The whole cell, so the cursor shows even where there is no instance.
                buf.set_stringn(x - 1, y, format!(" {glyph}{mark}"), room, style.patch(theme.cursor()));
            } else {
                buf.set_string(x, y, glyph, style);
                if mark != " " && x + 1 < right {
                    buf.set_string(x + 1, y, mark, theme.warn());
                }
            }
        }
    }
}

const LABEL_WIDTH: usize = 18;
const POPUP_WIDTH: u16 = 96;

/// One stack instance as DescribeStackInstance returned it, every field; or the call's error.
pub fn draw_detail(state: &State, detail: &InstanceDetail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = POPUP_WIDTH.min(area.width.saturating_sub(2));
    let text_width = (width as usize).saturating_sub(2 + 1 + LABEL_WIDTH + 1).max(10);
    let mut lines = vec![Line::raw("")];
    let mut field = |label: &str, value: String, style: Style| {
        for (i, part) in format::wrap(&value, text_width).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!(" {}", fit(label, LABEL_WIDTH, "")), theme.heading()),
                Span::raw(" "),
                Span::styled(part, style),
            ]));
        }
    };
    let request = &detail.request;
    match &detail.result {
        None => {
            field("Account", request.account.clone(), theme.bold());
            field("Region", request.instance_region.clone(), Style::new());
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" Asking CloudFormation (DescribeStackInstance){}", theme.dots()),
                theme.dim(),
            ));
        }
        Some(Err(error)) => {
            field("Account", request.account.clone(), theme.bold());
            field("Region", request.instance_region.clone(), Style::new());
            lines.push(Line::raw(""));
            let text = format!(
                "{} DescribeStackInstance failed: {}",
                theme.warning(),
                error.advice(state.settings.target.profile.as_deref())
            );
            for part in format::wrap(&text, (width as usize).saturating_sub(4)) {
                lines.push(Line::styled(format!(" {part}"), theme.error()));
            }
        }
        Some(Ok(found)) => {
            let dash = || "-".to_string();
            field("Account", found.account.clone(), theme.bold());
            field("Region", found.region.clone(), Style::new());
            let status_style = found.status.map_or(Style::new(), |s| theme.instance_style(s));
            field(
                "Status",
                found.status.map_or_else(dash, |s| s.as_str().to_string()),
                status_style,
            );
            field(
                "DetailedStatus",
                found.detailed_status.clone().unwrap_or_else(dash),
                status_style,
            );
            field(
                "StatusReason",
                found.status_reason.clone().unwrap_or_else(dash),
                Style::new(),
            );
            let drift_style = if found.drift_status.as_deref() == Some("DRIFTED") {
                theme.warn()
            } else {
                Style::new()
            };
            field(
                "DriftStatus",
                found.drift_status.clone().unwrap_or_else(dash),
                drift_style,
            );
            field(
                "LastDriftCheck",
                found.last_drift_check.map_or_else(dash, |at| {
                    format!("{} UTC ({} ago)", format::timestamp(at), format::age(at, state.now))
                }),
                Style::new(),
            );
            field(
                "LastOperationId",
                found.last_operation_id.clone().unwrap_or_else(dash),
                Style::new(),
            );
            field(
                "OrganizationalUnit",
                found.ou.clone().unwrap_or_else(dash),
                Style::new(),
            );
            field("StackId", found.stack_id.clone().unwrap_or_else(dash), Style::new());
            field(
                "StackSetId",
                found.stack_set_id.clone().unwrap_or_else(dash),
                Style::new(),
            );
            if found.parameter_overrides.is_empty() {
                field("ParameterOverrides", "none".to_string(), theme.dim());
            }
            for (n, p) in found.parameter_overrides.iter().enumerate() {
                let mut text = format!("{} = {}", p.key, p.value.as_deref().unwrap_or("-"));
                if p.use_previous_value {
                    text.push_str(" (previous value)");
                }
                if let Some(resolved) = &p.resolved_value {
                    text.push_str(&format!(" (resolved: {resolved})"));
                }
                let label = if n == 0 { "ParameterOverrides" } else { "" };
                field(label, text, Style::new());
            }
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" any key closes", theme.dim()));
    // Short of room, the fields matter more than the spacing (the footer says how to close).
    if lines.len() as u16 + 2 > area.height {
        lines.remove(0);
        lines.truncate(lines.len().saturating_sub(2));
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let title = format!(" Stack instance of {} ", request.stack_set);
    let block = theme.block().title(Span::styled(title, theme.title()));
    super::popup(frame, super::centered(area, width, height), block, lines);
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
