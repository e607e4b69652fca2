//! One operation: a summary (outcome, preferences in words, counts, progress, throughput, ETA,
//! the cursor Region's progress against its tolerance, and what the next failure would do),
//! the filter line, and the account x Region grid under a row of per-Region states. Only the
//! window around the cursor is built, so a frame costs the same at a thousand results as at a
//! hundred thousand.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::format::{self, fit};
use super::grid::{Geometry, ACCOUNT_WIDTH};
use super::theme::Theme;
use crate::app::{OperationData, ResultGrid, State};
use crate::insight::{self, Outcome, RegionProgress, RegionState};
use crate::model::{OperationStatus, ResultStatus};

const SUMMARY_LINES: u16 = 6;
/// Widest tolerance gauge, in cells; larger tolerances are scaled into it.
const GAUGE_WIDTH: usize = 10;
const BAR_WIDTH: usize = 24;

/// Display order of the per-status counts.
const COUNT_ORDER: [ResultStatus; 5] = [
    ResultStatus::Succeeded,
    ResultStatus::Failed,
    ResultStatus::Running,
    ResultStatus::Pending,
    ResultStatus::Cancelled,
];

/// Draws the summary, filter line and grid; returns the grid's rows per page.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> u16 {
    let [summary, filter, grid] = Layout::vertical([
        Constraint::Length(SUMMARY_LINES),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    let data = &state.operation;
    frame.render_widget(
        Paragraph::new(summary_lines(state, theme, summary.width as usize)),
        summary,
    );
    let geometry = geometry(data, grid);
    frame.render_widget(
        Paragraph::new(filter_line(state, theme, &geometry, filter.width as usize)),
        filter,
    );
    draw_grid(state, theme, &geometry, frame.buffer_mut(), grid);
    grid.height.saturating_sub(geometry.header_lines)
}

/// The grid's geometry for the operation's results around the cursor.
fn geometry(data: &OperationData, area: Rect) -> Geometry {
    let grid = &data.grid;
    Geometry::new(
        area,
        (data.cursor_row, data.cursor_col),
        data.visible.len(),
        &grid.regions,
        |start, end| {
            Geometry::ou_column_width(
                data.visible[start..end]
                    .iter()
                    .filter_map(|r| grid.rows[*r as usize].ou.as_deref())
                    .map(UnicodeWidthStr::width)
                    .max(),
            )
        },
    )
}

fn summary_lines<'a>(state: &State, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let data = &state.operation;
    let grid = &data.grid;
    let ellipsis = theme.ellipsis();
    let sep = theme.separator();
    let loading = format!("loading{}", theme.dots());

    let first = match &data.operation {
        Some(op) => {
            let elapsed = op
                .created
                .map(|created| format::duration(op.ended.unwrap_or(state.now) - created));
            let outcome = Outcome::of(op, grid.count(ResultStatus::Failed));
            let mut spans = vec![
                Span::raw(" "),
                Span::styled(
                    outcome.long().to_string(),
                    theme
                        .outcome_style(outcome)
                        .add_modifier(ratatui::style::Modifier::BOLD),
                ),
                Span::raw(format!(" {}", op.action)),
            ];
            let mut rest = String::new();
            if let Some(elapsed) = elapsed {
                let word = if op.ended.is_some() { "took" } else { "elapsed" };
                rest.push_str(&format!("{sep}{word} {elapsed}"));
            }
            if let Some(reason) = &op.status_reason {
                rest.push_str(&format!("{sep}{reason}"));
            }
            let used: usize = spans.iter().map(|s| s.content.width()).sum();
            spans.push(Span::raw(format::truncate(
                &rest,
                width.saturating_sub(used + 1),
                ellipsis,
            )));
            Line::from(spans)
        }
        None => Line::styled(format!(" Loading operation details{}", theme.dots()), theme.dim()),
    };

    // Status words when they fit (tighter if need be), glyphs and numbers alone when they do not.
    let counts = [(true, 3), (true, 2), (false, 3)]
        .into_iter()
        .map(|(words, gap)| count_line(grid, theme, words, gap))
        .find(|line| line.width() < width)
        .unwrap_or_else(|| count_line(grid, theme, false, 2));

    let total = grid.len();
    let finished =
        grid.count(ResultStatus::Succeeded) + grid.count(ResultStatus::Failed) + grid.count(ResultStatus::Cancelled);
    if !data.complete {
        // Until a read is complete, a share "done" would be the share loaded: say so instead.
        let progress = vec![
            Span::raw(" "),
            Span::styled(format!("{loading} {total} results so far"), theme.warn()),
        ];
        return vec![
            first,
            preferences_line(state, theme, width),
            counts,
            Line::from(progress),
        ];
    }
    let filled = (finished * BAR_WIDTH).checked_div(total).unwrap_or(0);
    let percent = (finished * 100).checked_div(total).unwrap_or(0);
    let mut progress = vec![
        Span::raw(" "),
        Span::styled(theme.bar_full().repeat(filled), theme.ok()),
        Span::styled(theme.bar_empty().repeat(BAR_WIDTH - filled), theme.dim()),
        Span::raw(format!(" {finished}/{total} done {percent}%")),
    ];
    let running = data
        .operation
        .as_ref()
        .is_some_and(|op| op.status == OperationStatus::Running);
    if let Some(rate) = data.throughput_per_min() {
        progress.push(Span::raw(format!("{sep}{rate:.0}/min")));
        if let (true, Some(eta)) = (running, data.eta().and_then(format::eta)) {
            progress.push(Span::raw(format!("{sep}ETA {eta}")));
        }
    } else if running {
        progress.push(Span::styled(
            format!("{sep}ETA estimating{}", theme.dots()),
            theme.dim(),
        ));
    }
    let mut lines = vec![
        first,
        preferences_line(state, theme, width),
        counts,
        Line::from(progress),
    ];
    lines.extend(region_lines(state, theme, width));
    lines
}

/// The operation's Regions with their counts and limits (empty until its results arrive).
fn region_progress(state: &State) -> Vec<RegionProgress> {
    let data = &state.operation;
    let prefs = data
        .operation
        .as_ref()
        .map(|op| op.preferences.clone())
        .unwrap_or_default();
    insight::region_progress(&data.grid, &prefs)
}

/// A Region's state as a glyph: result glyphs by meaning, a warning sign at the tolerance limit.
fn region_glyph(region: &RegionProgress, theme: &Theme) -> (&'static str, Style) {
    if region.at_limit() {
        return (theme.warning(), theme.error());
    }
    let status = match region.state {
        RegionState::Waiting => ResultStatus::Pending,
        RegionState::Running => ResultStatus::Running,
        RegionState::Done if region.failed > 0 => return (theme.result_glyph(ResultStatus::Succeeded), theme.warn()),
        RegionState::Done => ResultStatus::Succeeded,
        RegionState::Failed => ResultStatus::Failed,
        RegionState::Cancelled => ResultStatus::Cancelled,
    };
    (theme.result_glyph(status), theme.result_style(status))
}

/// `SEQUENTIAL in 6 Regions, 10% of accounts at once, 2 failures tolerated per Region`, shorter
/// when the line is narrow, numbers from the largest Region.
fn preferences_line<'a>(state: &State, theme: &Theme, width: usize) -> Line<'a> {
    let data = &state.operation;
    let Some(op) = &data.operation else {
        return Line::raw("");
    };
    let grid = &data.grid;
    let regions = (!grid.regions.is_empty()).then_some(grid.regions.len());
    let accounts = insight::largest_region(grid).filter(|_| data.complete);
    let room = width.saturating_sub(2);
    let long = insight::preferences_in_words(&op.preferences, regions, accounts, false);
    let text = if long.width() <= room {
        long
    } else {
        insight::preferences_in_words(&op.preferences, regions, accounts, true)
    };
    Line::styled(
        format!(" {}", format::truncate(&text, room, theme.ellipsis())),
        theme.dim(),
    )
}

/// The cursor Region's progress against its limits, then what the next failure would do (or,
/// once the operation failed, which Region failed it).
fn region_lines<'a>(state: &State, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let data = &state.operation;
    let regions = region_progress(state);
    let ellipsis = theme.ellipsis();
    let sep = theme.separator();
    let mut lines = Vec::new();
    match regions.get(data.cursor_col) {
        Some(region) => {
            let (glyph, style) = region_glyph(region, theme);
            let mut spans = vec![
                Span::raw(" "),
                Span::styled(format!("{glyph} {} {}", region.region, region.state.word()), style),
                Span::raw(format!("{sep}{}/{} done", region.finished(), region.total)),
                Span::raw(sep.to_string()),
            ];
            spans.extend(tolerance_gauge(region, theme));
            // Concurrency matters only while deployments run or wait.
            if region.open() {
                let mut running = format!("{sep}running {} of {}", region.running, region.concurrency);
                if region.concurrency < region.max_concurrent {
                    running.push_str(&format!(" (STRICT, from {})", region.max_concurrent));
                }
                spans.push(Span::raw(running));
            }
            lines.push(fit_line(spans, width, ellipsis));
        }
        None => lines.push(Line::raw("")),
    }
    let op = data.operation.as_ref();
    let forecast = op.and_then(|op| insight::forecast(op, &regions));
    let line = match (forecast, insight::exceeded(&regions)) {
        (Some(forecast), _) => {
            let style = if forecast.at_limit() {
                theme.error()
            } else {
                theme.dim()
            };
            let mark = if forecast.at_limit() { theme.warning() } else { " " };
            let room = width.saturating_sub(4);
            let mut text = forecast.text();
            if text.width() > room {
                text = forecast.short_text();
            }
            Line::styled(format!(" {mark} {}", format::truncate(&text, room, ellipsis)), style)
        }
        (None, Some(failed)) => Line::styled(
            format!(
                " {} {}",
                theme.result_glyph(ResultStatus::Failed),
                format::truncate(
                    &format!(
                        "{}: {} failed, {} tolerated: it failed the operation",
                        failed.region, failed.failed, failed.tolerance
                    ),
                    width.saturating_sub(4),
                    ellipsis
                )
            ),
            theme.error(),
        ),
        // Ended within tolerance but not clean: where the failures are.
        (None, None) if data.grid.count(ResultStatus::Failed) > 0 && op.is_some_and(|op| !op.status.is_active()) => {
            let failed: Vec<&str> = regions
                .iter()
                .filter(|r| r.failed > 0)
                .map(|r| r.region.as_str())
                .collect();
            let text = format!(
                "{} failed within the tolerance: {}",
                data.grid.count(ResultStatus::Failed),
                failed.join(", ")
            );
            Line::styled(
                format!(
                    " {} {}",
                    theme.result_glyph(ResultStatus::Failed),
                    format::truncate(&text, width.saturating_sub(4), ellipsis)
                ),
                theme.warn(),
            )
        }
        (None, None) => Line::raw(""),
    };
    lines.push(line);
    lines
}

/// `failures 2/3 ■■□`: the Region's tolerance used, as numbers and a gauge of at most
/// `GAUGE_WIDTH` cells; red at the limit or past it.
fn tolerance_gauge<'a>(region: &RegionProgress, theme: &Theme) -> Vec<Span<'a>> {
    if region.tolerance == 0 {
        let style = if region.failed > 0 { theme.error() } else { theme.dim() };
        return vec![Span::styled(format!("failed {}, none tolerated", region.failed), style)];
    }
    let cells = region.tolerance.min(GAUGE_WIDTH);
    let used = (region.failed.min(region.tolerance) * cells).div_ceil(region.tolerance);
    let style = if region.failed >= region.tolerance {
        theme.error()
    } else if region.failed > 0 {
        theme.warn()
    } else {
        theme.dim()
    };
    vec![
        Span::styled(format!("failures {}/{} ", region.failed, region.tolerance), style),
        Span::styled(theme.bar_full().repeat(used), style),
        Span::styled(theme.bar_empty().repeat(cells - used), theme.dim()),
    ]
}

/// Spans cut to `width` columns, the last kept one truncated with an ellipsis.
fn fit_line<'a>(spans: Vec<Span<'a>>, width: usize, ellipsis: &str) -> Line<'a> {
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = span.content.width();
        if used + w <= width {
            used += w;
            out.push(span);
        } else {
            let room = width.saturating_sub(used);
            if room > 0 {
                out.push(Span::styled(
                    format::truncate(&span.content, room, ellipsis),
                    span.style,
                ));
            }
            break;
        }
    }
    Line::from(out)
}

fn count_line<'a>(grid: &ResultGrid, theme: &Theme, words: bool, gap: usize) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for status in COUNT_ORDER {
        let n = grid.count(status);
        let style = if n == 0 {
            theme.dim()
        } else {
            theme.result_style(status)
        };
        spans.push(Span::styled(format!("{} {n}", theme.result_glyph(status)), style));
        if words {
            let word_style = if n == 0 { theme.dim() } else { Style::new() };
            spans.push(Span::styled(
                format!(" {}", status.as_str().to_ascii_lowercase()),
                word_style,
            ));
        }
        spans.push(Span::raw(" ".repeat(gap)));
    }
    let total = if gap > 2 {
        format!("of {} results", grid.len())
    } else {
        format!("of {}", grid.len())
    };
    spans.push(Span::styled(total, theme.dim()));
    Line::from(spans)
}

/// Filters on the left; the window position and the cursor column's full Region on the right.
fn filter_line<'a>(state: &State, theme: &Theme, geometry: &Geometry, width: usize) -> Line<'a> {
    let data = &state.operation;
    let mut left = vec![Span::styled(" show ", theme.dim())];
    match state.status_filter {
        Some(status) => {
            left.push(Span::styled(
                theme.result_glyph(status).to_string(),
                theme.result_style(status),
            ));
            left.push(Span::styled(format!(" {status} only"), theme.bold()));
        }
        None => left.push(Span::raw("all")),
    }
    let text = state.filter.value();
    if state.filter_editing {
        let cursor = state.filter.cursor();
        let before: String = text.chars().take(cursor).collect();
        let after: String = text.chars().skip(cursor).collect();
        left.push(Span::styled("  filter /", theme.dim()));
        left.push(Span::styled(before, theme.bold()));
        left.push(Span::styled(theme.text_cursor().to_string(), theme.key()));
        left.push(Span::styled(after, theme.bold()));
    } else if !text.is_empty() {
        left.push(Span::styled("  filter ", theme.dim()));
        left.push(Span::styled(format!("/{text}"), theme.bold()));
    }

    let mut right = Vec::new();
    let (rows, cols) = (geometry.rows, geometry.cols);
    let dash = theme.dash();
    if !data.visible.is_empty() {
        right.push(format!("rows {}{dash}{} of {}", rows.0 + 1, rows.1, data.visible.len()));
    }
    let regions = data.grid.regions.len();
    if cols.1 - cols.0 < regions {
        right.push(format!("regions {}{dash}{} of {regions}", cols.0 + 1, cols.1));
    }
    if let Some(region) = data.grid.regions.get(data.cursor_col) {
        right.push(region.clone());
    }
    let right = right.join(theme.separator());
    let used: usize = left.iter().map(|s| s.content.width()).sum();
    let room = width.saturating_sub(used + 2);
    if room >= 8 {
        left.push(Span::styled(
            format::fit_right(&right, room, theme.ellipsis()),
            theme.dim(),
        ));
    }
    Line::from(left)
}

fn draw_grid(state: &State, theme: &Theme, geometry: &Geometry, buf: &mut Buffer, area: Rect) {
    let data = &state.operation;
    let grid = &data.grid;
    let ellipsis = theme.ellipsis();
    if data.visible.is_empty() {
        let text = if grid.is_empty() && !data.complete {
            format!("Loading results{}", theme.dots())
        } else if grid.is_empty() {
            "This operation has no results.".to_string()
        } else {
            format!("No account matches the filter ({} accounts in all).", grid.rows.len())
        };
        let line = Line::styled(format!(" {text}"), theme.dim());
        buf.set_line(area.x, area.y + 1.min(area.height.saturating_sub(1)), &line, area.width);
        return;
    }
    let right = area.right();
    let (ou_x, account_x) = geometry.label_xs(area);
    let (_, state_y) = geometry.header_ys(area);
    super::grid::draw_headers(buf, area, geometry, &grid.regions, data.cursor_col, theme);

    // Under the headers, each Region's state: a glyph, and a warning sign at its tolerance limit;
    // none until a read is complete (a Region half loaded is not half done).
    let regions = if data.complete {
        region_progress(state)
    } else {
        Vec::new()
    };
    buf.set_stringn(account_x, state_y, "by Region", ACCOUNT_WIDTH, theme.dim());
    for col in geometry.cols.0..geometry.cols.1 {
        let x = geometry.glyph_x(col);
        if x >= right {
            break;
        }
        if let Some(region) = regions.get(col) {
            let (glyph, style) = region_glyph(region, theme);
            buf.set_string(x, state_y, glyph, style);
        }
    }

    let body_y = area.y + geometry.header_lines;
    for (line, index) in (geometry.rows.0..geometry.rows.1).enumerate() {
        let y = body_y + line as u16;
        let row_index = data.visible[index] as usize;
        let row = &grid.rows[row_index];
        let is_cursor_row = index == data.cursor_row;
        if geometry.ou_width > 0 {
            let previous_ou = index.checked_sub(1).map(|i| &grid.rows[data.visible[i] as usize].ou);
            let starts_group = previous_ou != Some(&row.ou);
            if starts_group || line == 0 {
                let ou = row.ou.as_deref().unwrap_or("-");
                let style = if starts_group { theme.bold() } else { theme.dim() };
                buf.set_string(ou_x, y, fit(ou, geometry.ou_width, ellipsis), style);
            }
        }
        let account_style = if is_cursor_row {
            theme.cursor_header()
        } else {
            Style::new()
        };
        buf.set_string(account_x, y, fit(&row.account, ACCOUNT_WIDTH, ellipsis), account_style);

        for col in geometry.cols.0..geometry.cols.1 {
            let x = geometry.glyph_x(col);
            if x >= right {
                break;
            }
            let is_cursor = is_cursor_row && col == data.cursor_col;
            let (glyph, style) = match grid.cell(row_index, col) {
                Some(result) => (theme.result_glyph(result.status), theme.result_style(result.status)),
                None => (" ", Style::new()),
            };
            if is_cursor {
                // The whole narrow cell, so the cursor shows even on an empty cell.
                let cell_x = x.saturating_sub(1);
                let span = format!(" {glyph} ");
                buf.set_stringn(
                    cell_x,
                    y,
                    span,
                    right.saturating_sub(cell_x) as usize,
                    style.patch(theme.cursor()),
                );
            } else {
                buf.set_string(x, y, glyph, style);
            }
        }
    }
}
