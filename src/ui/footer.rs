//! The last line: the keys that work here (read from the keymap, so rebinding shows),
//! a READ-ONLY badge, or a recent flash message in their place.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use time::Duration;
use unicode_width::UnicodeWidthStr;

use super::format;
use super::theme::Theme;
use crate::app::{Action, KeyMap, Overlay, Screen, State, StopPhase};

/// Characters of a filter being typed that the footer shows (the end of it).
const FILTER_SHOWN: usize = 30;

/// How long a flash message replaces the key hints.
const FLASH_SECONDS: i64 = 5;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = area.width as usize;
    let badge = if state.settings.read_only { " READ-ONLY " } else { "" };
    let room = width.saturating_sub(badge.width() + 2);

    let flash = state.flash.as_ref().filter(|f| {
        let age = state.now - f.at;
        age >= Duration::ZERO && age < Duration::seconds(FLASH_SECONDS)
    });
    let mut spans = vec![Span::raw(" ")];
    match flash {
        Some(flash) => {
            let style = if flash.is_error { theme.error() } else { theme.ok() };
            spans.push(Span::styled(format::fit(&flash.text, room, theme.ellipsis()), style));
        }
        None => {
            let hints = fitting(hints(state, theme), room);
            let mut used = 0;
            for hint in hints {
                used += hint.width();
                spans.push(Span::styled(hint.key, theme.key()));
                spans.push(Span::styled(format!(" {}  ", hint.what), Style::new()));
            }
            spans.push(Span::raw(" ".repeat(room.saturating_sub(used))));
        }
    }
    if !badge.is_empty() {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(badge, theme.read_only_badge()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A key hint; when the line is too short the least important hints go first.
struct Hint {
    key: String,
    what: String,
    /// 0 is kept longest.
    rank: u8,
}

impl Hint {
    fn width(&self) -> usize {
        self.key.width() + 1 + self.what.width() + 2
    }
}

/// Drops the lowest-ranked hints until the rest fit in `room`, keeping their order.
fn fitting(mut hints: Vec<Hint>, room: usize) -> Vec<Hint> {
    while hints.iter().map(Hint::width).sum::<usize>() > room {
        let Some(worst) = hints
            .iter()
            .enumerate()
            .max_by_key(|(i, h)| (h.rank, *i))
            .map(|(i, _)| i)
        else {
            break;
        };
        hints.remove(worst);
    }
    hints
}

/// The preferred key for an action: the first without ctrl, as the keymap lists them.
pub fn key_label(keymap: &KeyMap, action: Action, theme: &Theme) -> String {
    let keys = keymap.keys_for(action);
    let key = keys.iter().find(|k| !k.ctrl).or(keys.first());
    theme.key_name(&key.map_or("?".to_string(), |k| k.to_string()))
}

/// Like `key_label`, but only keys that act while text is typed (not printable ones).
fn non_text_label(keymap: &KeyMap, action: Action, theme: &Theme) -> String {
    let key = keymap.keys_while_typing(action).first().copied();
    theme.key_name(&key.map_or("?".to_string(), |k| k.to_string()))
}

/// Keys for moving: the arrows when they are bound to the moves, else each move's own key.
fn move_label(keymap: &KeyMap, theme: &Theme, actions: &[(Action, &str)]) -> String {
    let arrows_bound = actions
        .iter()
        .all(|(action, arrow)| keymap.keys_for(*action).iter().any(|k| k.to_string() == *arrow));
    if arrows_bound && !theme.ascii {
        actions.iter().map(|(_, arrow)| *arrow).collect()
    } else if arrows_bound && actions.len() == 4 {
        "arrows".to_string()
    } else if arrows_bound {
        actions
            .iter()
            .map(|(_, arrow)| theme.key_name(arrow))
            .collect::<Vec<_>>()
            .join("/")
    } else {
        actions
            .iter()
            .map(|(action, _)| key_label(keymap, *action, theme))
            .collect::<Vec<_>>()
            .join("/")
    }
}

fn hints(state: &State, theme: &Theme) -> Vec<Hint> {
    let keymap = &state.settings.keymap;
    let key = |action| key_label(keymap, action, theme);
    let vertical = [(Action::Up, "↑"), (Action::Down, "↓")];
    let all_four = [
        (Action::Up, "↑"),
        (Action::Down, "↓"),
        (Action::Left, "←"),
        (Action::Right, "→"),
    ];
    let hint = |key: String, what: &str, rank: u8| Hint {
        key,
        what: what.to_string(),
        rank,
    };

    match &state.overlay {
        Some(Overlay::Help)
        | Some(Overlay::CellDetail)
        | Some(Overlay::RequestLog)
        | Some(Overlay::InstanceDetail(_)) => return vec![hint(key(Action::Close), "close", 0)],
        Some(Overlay::Confirm(dialog)) => {
            let cancel = non_text_label(keymap, Action::CancelStop, theme);
            return match &dialog.phase {
                StopPhase::Asking => vec![hint(cancel, "cancel", 0)],
                StopPhase::Sending => vec![hint(cancel, "close (the request still goes out)", 0)],
                StopPhase::Sent { .. } => vec![hint(cancel, "close", 0)],
                StopPhase::Failed { .. } => {
                    vec![hint(key(Action::ConfirmStop), "try again", 0), hint(cancel, "close", 0)]
                }
            };
        }
        None => {}
    }
    if state.filter_editing {
        let what = match state.screen() {
            Screen::Pulse => "Region, stack set, id, action or status",
            Screen::StackSets => "name or Region",
            Screen::Operations { .. } => "id, action or status",
            Screen::Operation { .. } => "account or OU",
            Screen::Failures { .. } => "reason, account or Region",
            Screen::Instances { .. } => "account, Region, status, operation id or reason",
        };
        // The end of a long filter is where the typing happens: show that.
        let value: Vec<char> = state.filter.value().chars().collect();
        let tail: String = value[value.len().saturating_sub(FILTER_SHOWN)..].iter().collect();
        let lead = if tail.chars().count() < value.len() {
            theme.ellipsis()
        } else {
            ""
        };
        return vec![
            hint(format!("/{lead}{tail}{}", theme.text_cursor()), what, 0),
            hint(key(Action::KeepFilter), "keep filter", 0),
            hint(key(Action::ClearFilter), "clear filter", 0),
        ];
    }
    let can_stop = !state.settings.read_only;
    let mut out = Vec::new();
    match state.screen() {
        Screen::Pulse => {
            out.push(hint(move_label(keymap, theme, &vertical), "move", 1));
            out.push(hint(key(Action::Enter), "results", 0));
            out.push(hint(key(Action::StackSets), "stack sets", 0));
            out.push(hint(key(Action::Filter), "filter", 2));
            if can_stop {
                out.push(hint(key(Action::Stop), "stop", 0));
            }
        }
        Screen::StackSets => {
            out.push(hint(move_label(keymap, theme, &vertical), "move", 1));
            out.push(hint(key(Action::Enter), "operations", 0));
            out.push(hint(key(Action::StackSets), "pulse", 1));
            out.push(hint(key(Action::Filter), "filter", 2));
        }
        Screen::Operations { .. } => {
            out.push(hint(move_label(keymap, theme, &vertical), "move", 1));
            out.push(hint(key(Action::Enter), "results", 0));
            out.push(hint(key(Action::Filter), "filter", 2));
            if can_stop {
                out.push(hint(key(Action::Stop), "stop", 0));
            }
        }
        Screen::Operation { .. } => {
            out.push(hint(move_label(keymap, theme, &all_four), "move", 1));
            out.push(hint(key(Action::Enter), "detail", 1));
            out.push(hint(key(Action::Failures), "failures", 2));
            out.push(hint(key(Action::Filter), "filter", 2));
            out.push(hint(key(Action::CycleStatus), "status", 3));
            if can_stop {
                out.push(hint(key(Action::Stop), "stop", 0));
            }
        }
        Screen::Failures { .. } => {
            out.push(hint(move_label(keymap, theme, &vertical), "move", 1));
            out.push(hint(key(Action::Filter), "filter", 2));
        }
        Screen::Instances { .. } => {
            let (moves, other_view) = match state.instances.view {
                crate::app::instances::InstancesView::Grid => (&all_four[..], "list"),
                crate::app::instances::InstancesView::List => (&vertical[..], "grid"),
            };
            out.push(hint(move_label(keymap, theme, moves), "move", 1));
            out.push(hint(key(Action::Enter), "detail", 1));
            out.push(hint(key(Action::Filter), "filter", 2));
            out.push(hint(key(Action::CycleStatus), "filter by status", 3));
            out.push(hint(key(Action::ToggleView), other_view, 2));
        }
    }
    out.push(hint(key(Action::Refresh), "refresh", 4));
    out.push(hint(key(Action::Help), "help", 0));
    if !matches!(state.screen(), Screen::Pulse | Screen::StackSets) {
        out.push(hint(key(Action::Back), "back", 1));
    }
    out.push(hint(key(Action::Quit), "quit", 0));
    out
}
