//! The cell detail popup: everything known about the result under the grid cursor,
//! with the full StatusReason that the grid has no room for.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::format;
use super::theme::Theme;
use crate::app::State;

const LABEL_WIDTH: usize = 13;
const MAX_WIDTH: u16 = 84;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let data = &state.operation;
    let width = MAX_WIDTH.min(area.width.saturating_sub(4));
    let text_width = (width as usize).saturating_sub(2 + 1 + LABEL_WIDTH + 1).max(10);
    let row = data
        .visible
        .get(data.cursor_row)
        .and_then(|r| data.grid.rows.get(*r as usize));
    let region = data.grid.regions.get(data.cursor_col);

    let mut lines = vec![Line::raw("")];
    let mut field = |label: &str, value: String, style: Style| {
        for (i, part) in format::wrap(&value, text_width).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!(" {}", format::fit(label, LABEL_WIDTH, "")), theme.heading()),
                Span::raw(" "),
                Span::styled(part, style),
            ]));
        }
    };
    field("Account", row.map_or("-".into(), |r| r.account.clone()), theme.bold());
    let region_text = region.map_or("-".into(), |r| format!("{r} ({})", format::region_abbrev(r)));
    field("Region", region_text, Style::new());
    let ou = row.and_then(|r| r.ou.clone()).unwrap_or_else(|| "-".into());
    field("OU", ou, Style::new());
    match data.cursor_result() {
        Some(result) => {
            let status = format!("{} {}", theme.result_glyph(result.status), result.status);
            field("Status", status, theme.result_style(result.status));
            field(
                "Reason",
                result.status_reason.clone().unwrap_or_else(|| "-".into()),
                Style::new(),
            );
            let gate = result.gate_status.map_or("-".to_string(), |g| g.to_string());
            field("Account gate", gate, Style::new());
            if let Some(reason) = &result.gate_reason {
                field("Gate reason", reason.clone(), Style::new());
            }
        }
        None => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(" No result in this cell.", theme.dim()));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" esc to close", theme.dim()));

    let height = (lines.len() as u16 + 2).min(area.height);
    let block = theme.block().title(Span::styled(" Result ", theme.title()));
    super::popup(frame, super::centered(area, width, height), block, lines);
}
