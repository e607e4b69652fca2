//! The help overlay: every layer of the keymap (as configured) with each action's keys, in two
//! columns, then what the grid glyphs mean.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::format;
use super::theme::Theme;
use crate::app::{Action, Mode, State};
use crate::model::ResultStatus;

const MAX_WIDTH: u16 = 84;
const KEYS_WIDTH: usize = 14;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = MAX_WIDTH.min(area.width.saturating_sub(2));
    let column_width = (width as usize).saturating_sub(3) / 2;
    let description_width = column_width.saturating_sub(KEYS_WIDTH + 2);
    let ellipsis = theme.ellipsis();
    let keymap = &state.settings.keymap;

    let mut lines = Vec::new();
    for mode in Mode::ALL {
        let entries: Vec<Vec<Span>> = keymap
            .layer(mode)
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
        if mode != Mode::Normal && entries.len() <= 2 {
            // A small layer on one line with its heading, so the help fits 80x24 whole.
            let mut pairs: Vec<(String, String)> = keymap
                .layer(mode)
                .into_iter()
                .map(|(action, keys)| (theme.key_name(&keys), action.describe().to_string()))
                .collect();
            if mode == Mode::Popup {
                let copy = [Action::Copy, Action::CopyUrl]
                    .map(|a| theme.key_name(&keymap.keys_text(a)))
                    .join("/");
                pairs.push((copy, "copy (detail)".to_string()));
            }
            let mut spans = vec![Span::styled(format!(" {}:", mode.describe()), theme.heading())];
            for (keys, what) in pairs {
                spans.push(Span::styled(format!("  {keys}"), theme.key()));
                spans.push(Span::raw(format!(" {what}")));
            }
            lines.push(Line::from(spans));
            continue;
        }
        if mode != Mode::Normal {
            lines.push(Line::styled(format!(" {}", mode.describe()), theme.heading()));
        }
        let half = entries.len().div_ceil(2);
        for i in 0..half {
            let mut spans = entries[i].clone();
            if let Some(right) = entries.get(i + half) {
                spans.push(Span::raw(" "));
                spans.extend(right.iter().cloned());
            }
            lines.push(Line::from(spans));
        }
    }

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
    // The row of Region states under the grid's headers, when the popup has room for it.
    if lines.len() as u16 + 3 <= area.height {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {}", format::fit("by Region", KEYS_WIDTH, "")),
                theme.heading(),
            ),
            Span::styled(format!(" {}", theme.warning()), theme.error()),
            Span::raw(" at its tolerance: the next failure fails the operation"),
        ]));
    }

    // The instances grid's own shapes (its colours are the instances' Status), when there is room.
    if lines.len() as u16 + 3 <= area.height {
        let mut spans = vec![Span::styled(
            format!(" {}", format::fit("Instances", KEYS_WIDTH, "")),
            theme.heading(),
        )];
        for (glyph, what) in [
            (theme.instance_glyph(Some("INOPERABLE")), "inoperable"),
            (theme.instance_glyph(Some("SKIPPED_SUSPENDED_ACCOUNT")), "suspended"),
            (theme.drifted(), "drifted"),
        ] {
            spans.push(Span::raw(format!(" {glyph} {what} ")));
        }
        for status in [
            crate::model::InstanceStatus::Current,
            crate::model::InstanceStatus::Outdated,
            crate::model::InstanceStatus::Inoperable,
        ] {
            spans.push(Span::styled(
                format!(" {}", status.as_str()),
                theme.instance_style(status),
            ));
        }
        lines.push(Line::from(spans));
    }

    let height = (lines.len() as u16 + 2).min(area.height);
    let block = theme
        .block()
        .title(Span::styled(" Help ", theme.title()))
        .title_bottom(Span::styled(" any key closes this help ", theme.dim()));
    super::popup(frame, super::centered(area, width, height), block, lines);
}
