//! The help overlay: every action with the keys bound to it (as configured), in two columns,
//! then the keys of the stop dialog and what the grid glyphs mean.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::format;
use super::theme::Theme;
use crate::app::State;
use crate::model::ResultStatus;

const MAX_WIDTH: u16 = 84;
const KEYS_WIDTH: usize = 14;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = MAX_WIDTH.min(area.width.saturating_sub(2));
    let column_width = (width as usize).saturating_sub(3) / 2;
    let description_width = column_width.saturating_sub(KEYS_WIDTH + 2);
    let ellipsis = theme.ellipsis();

    let entries: Vec<Vec<Span>> = state
        .settings
        .keymap
        .all()
        .into_iter()
        .map(|(action, keys)| {
            vec![
                Span::styled(
                    format!(" {}", format::fit(&theme.key_name(&keys), KEYS_WIDTH, ellipsis)),
                    theme.key(),
                ),
                Span::raw(format!(
                    " {}",
                    format::fit(action.describe(), description_width, ellipsis)
                )),
            ]
        })
        .collect();
    let half = entries.len().div_ceil(2);
    let mut lines = Vec::new();
    for i in 0..half {
        let mut spans = entries[i].clone();
        if let Some(right) = entries.get(i + half) {
            spans.push(Span::raw(" "));
            spans.extend(right.iter().cloned());
        }
        lines.push(Line::from(spans));
    }

    lines.push(Line::raw(""));
    lines.push(Line::styled(" In the stop dialog", theme.heading()));
    let dialog_keys = [
        ("y", "send the stop"),
        ("n/esc", "cancel (esc also closes after sending)"),
        ("tab", "move between the buttons"),
        ("enter", "press the focused button (or confirm the typed name)"),
        ("←/→", "switch CallAs, where DELEGATED_ADMIN is offered"),
    ];
    for (key, what) in dialog_keys {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {}", format::fit(&theme.key_name(key), KEYS_WIDTH, ellipsis)),
                theme.key(),
            ),
            Span::raw(format!(
                " {}",
                format::truncate(what, (width as usize).saturating_sub(KEYS_WIDTH + 4), ellipsis)
            )),
        ]));
    }

    lines.push(Line::raw(""));
    let mut legend = vec![Span::styled(
        format!(" {}", format::fit("Grid", KEYS_WIDTH, "")),
        theme.heading(),
    )];
    for status in [
        ResultStatus::Succeeded,
        ResultStatus::Failed,
        ResultStatus::Running,
        ResultStatus::Pending,
        ResultStatus::Cancelled,
    ] {
        legend.push(Span::styled(
            format!(" {}", theme.result_glyph(status)),
            theme.result_style(status),
        ));
        legend.push(Span::raw(format!(" {} ", status.as_str().to_ascii_lowercase())));
    }
    lines.push(Line::from(legend));

    let height = (lines.len() as u16 + 2).min(area.height);
    let block = theme
        .block()
        .title(Span::styled(" Help ", theme.title()))
        .title_bottom(Span::styled(" any key closes this help ", theme.dim()));
    super::popup(frame, super::centered(area, width, height), block, lines);
}
