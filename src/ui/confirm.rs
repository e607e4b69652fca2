//! The stop dialog: what will be stopped, what stopping does, where the call goes and as whom,
//! then the decision (buttons or typing the name) and the outcome of the request.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::format;
use super::theme::Theme;
use crate::app::{Action, ConfirmMode, DialogFocus, KeyMap, State, StopCounts, StopDialog, StopPhase};
use crate::insight;
use crate::model::{CallAs, ResultStatus};

const MAX_WIDTH: u16 = 76;
const LABEL_WIDTH: usize = 11;

/// Draws the dialog; returns whether all of it fit (a decision needs the whole dialog seen).
pub fn draw(state: &State, dialog: &StopDialog, theme: &Theme, frame: &mut Frame, area: Rect) -> bool {
    let counts = state.stop_counts(dialog);
    let width = MAX_WIDTH.min(area.width.saturating_sub(2));
    let text_width = (width as usize).saturating_sub(4);
    let mut lines: Vec<Line> = vec![Line::raw("")];

    let field = |label: &str, spans: Vec<Span<'static>>| {
        let mut all = vec![
            Span::styled(format!(" {}", format::fit(label, LABEL_WIDTH, "")), theme.heading()),
            Span::raw(" "),
        ];
        all.extend(spans);
        Line::from(all)
    };
    let value_width = text_width.saturating_sub(LABEL_WIDTH + 1);
    // The whole name, over as many lines as it takes: two stack sets that differ only at the
    // end must not look the same here, and type-name mode asks for every character of it.
    let name: Vec<char> = dialog.stack_set.chars().collect();
    for (i, part) in name.chunks(value_width.max(1)).enumerate() {
        let part: String = part.iter().collect();
        lines.push(field(
            if i == 0 { "Stack set" } else { "" },
            vec![Span::styled(part, theme.bold())],
        ));
    }
    if dialog.operation_id.width() + 1 + dialog.action.width() <= value_width {
        lines.push(field(
            "Operation",
            vec![
                Span::raw(dialog.operation_id.clone()),
                Span::styled(format!(" {}", dialog.action), theme.dim()),
            ],
        ));
    } else {
        lines.push(field("Operation", vec![Span::raw(dialog.operation_id.clone())]));
        lines.push(field("", vec![Span::styled(dialog.action.clone(), theme.dim())]));
    }
    let count = |status: ResultStatus, n: usize, word: &str| {
        let style = if n == 0 {
            theme.dim()
        } else {
            theme.result_style(status)
        };
        let text = if word.is_empty() {
            format!("{} {n}", theme.result_glyph(status))
        } else {
            format!("{} {n} {word}", theme.result_glyph(status))
        };
        Span::styled(text, style)
    };
    lines.push(field(
        "Right now",
        match counts {
            StopCounts::Counting => vec![Span::styled(format!("counting{}", theme.dots()), theme.warn())],
            StopCounts::Known {
                running,
                pending,
                failed,
                exact,
            } => {
                let counts = |words: bool| {
                    let word = |w: &'static str| if words { w } else { "" };
                    let mut spans = vec![
                        count(ResultStatus::Running, running, word("running")),
                        Span::raw(if words { "   " } else { "  " }),
                        count(ResultStatus::Pending, pending, word("pending")),
                        Span::raw(if words { "   " } else { "  " }),
                        count(ResultStatus::Failed, failed, word("failed")),
                    ];
                    if !exact {
                        spans.push(Span::styled("  (est.)", theme.dim()));
                    }
                    spans
                };
                // Words when they fit; glyphs and numbers alone on a narrow terminal.
                let wide = counts(true);
                if wide.iter().map(|s| s.content.width()).sum::<usize>() <= value_width {
                    wide
                } else {
                    counts(false)
                }
            }
        },
    ));
    // How the rollout proceeds, in words, when the dialog has room for it: never at the
    // cost of showing the dialog whole.
    let rollout_at = lines.len();
    let rollout = rollout_lines(state, dialog, value_width)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            field(
                if i == 0 { "Rollout" } else { "" },
                vec![Span::styled(part, theme.dim())],
            )
        })
        .collect::<Vec<_>>();
    lines.push(Line::raw(""));
    for part in format::wrap(&consequence(counts), text_width) {
        lines.push(Line::raw(format!(" {part}")));
    }
    for part in format::wrap(&call_target(state, dialog), text_width) {
        lines.push(Line::styled(format!(" {part}"), theme.dim()));
    }
    lines.extend(call_as_lines(dialog, &state.settings.keymap, theme, text_width));
    lines.push(Line::raw(""));
    lines.extend(decision_lines(dialog, &state.settings.keymap, theme, text_width));

    if lines.len() + rollout.len() + 2 <= area.height as usize {
        lines.splice(rollout_at..rollout_at, rollout);
    }
    // Whole means every line, full height and full width: a line cut at the border could hide
    // a count or the name.
    let needed = lines.len() as u16 + 2;
    let inner = (width as usize).saturating_sub(2);
    let shown_whole = needed <= area.height && lines.iter().all(|line| line.width() <= inner);
    let height = needed.min(area.height);
    let block = theme
        .block()
        .border_style(theme.error())
        .title(Span::styled(" Stop operation? ", theme.error()));
    super::popup(frame, super::centered(area, width, height), block, lines);
    shown_whole
}

/// The operation's preferences in words over at most two lines of `width`, once its
/// description has arrived.
fn rollout_lines(state: &State, dialog: &StopDialog, width: usize) -> Vec<String> {
    let data = &state.operation;
    let Some(op) = data.operation.as_ref().filter(|op| op.id == dialog.operation_id) else {
        return Vec::new();
    };
    let grid = &data.grid;
    let regions = (!grid.regions.is_empty()).then_some(grid.regions.len());
    let accounts = insight::largest_region(grid).filter(|_| data.complete);
    let long = insight::preferences_in_words(&op.preferences, regions, accounts, false);
    let mut parts = format::wrap(&long, width.max(1));
    if parts.len() > 2 {
        parts = format::wrap(
            &insight::preferences_in_words(&op.preferences, regions, accounts, true),
            width.max(1),
        );
        parts.truncate(2);
    }
    parts
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What StopStackSetOperation will do to the deployments, in the dialog's own numbers.
fn consequence(counts: StopCounts) -> String {
    let StopCounts::Known {
        running,
        pending,
        exact,
        ..
    } = counts
    else {
        return "Pending deployments will be cancelled; running ones will finish first. Counting them now.".to_string();
    };
    let pending = match pending {
        0 => "No pending deployments to cancel".to_string(),
        n => format!(
            "{} will be cancelled",
            plural(n, "pending deployment", "pending deployments")
        ),
    };
    let running = match running {
        0 => "none is running".to_string(),
        1 => "1 running one will finish first".to_string(),
        n => format!("{n} running ones will finish first"),
    };
    let estimate = if exact {
        ""
    } else {
        " Counts marked est. are as of the last reads: the operation is moving."
    };
    format!("{pending}; {running}.{estimate}")
}

/// `Call goes to: profile P, region R, endpoint E`, with "default" where nothing was set.
fn call_target(state: &State, dialog: &StopDialog) -> String {
    let target = &state.settings.target;
    // The stack set's own Region: that is where the stop goes.
    let region = Some(dialog.region.as_str())
        .filter(|r| !r.is_empty())
        .or(target.region.as_deref())
        .unwrap_or("default");
    let mut parts = vec![
        format!("profile {}", target.profile.as_deref().unwrap_or("default")),
        format!("region {region}"),
    ];
    if let Some(endpoint) = &target.endpoint {
        parts.push(format!("endpoint {endpoint}"));
    }
    format!("Call goes to: {}", parts.join(", "))
}

/// The CallAs choice; the switch hint only while the user is still deciding.
fn call_as_lines(dialog: &StopDialog, keymap: &KeyMap, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let label = |text: &str| Span::styled(format!(" {} ", format::fit(text, LABEL_WIDTH, "")), theme.heading());
    if !dialog.delegated_admin_allowed {
        let text = "SELF (DELEGATED_ADMIN is not available for a self-managed stack set)";
        return format::wrap(text, width.saturating_sub(LABEL_WIDTH + 1))
            .into_iter()
            .enumerate()
            .map(|(i, part)| Line::from(vec![label(if i == 0 { "Call as" } else { "" }), Span::raw(part)]))
            .collect();
    }
    let choice = |call_as: CallAs| {
        let on = dialog.call_as == call_as;
        let style = if on { theme.bold() } else { theme.dim() };
        Span::styled(format!("{} {}", theme.radio(on), call_as), style)
    };
    let mut spans = vec![
        label("Call as"),
        choice(CallAs::SelfAccount),
        Span::raw("  "),
        choice(CallAs::DelegatedAdmin),
    ];
    if matches!(dialog.phase, StopPhase::Asking | StopPhase::Failed { .. }) {
        let typing = dialog.mode == ConfirmMode::TypeName && dialog.phase == StopPhase::Asking;
        let keys = if typing {
            non_text_keys(keymap, Action::SwitchCallAs, theme)
        } else {
            theme.key_name(&keymap.keys_text(Action::SwitchCallAs))
        };
        let hint = [
            Span::raw("   "),
            Span::styled(keys, theme.key()),
            Span::styled(" switch", theme.dim()),
        ];
        // The switch hint only where it fits: the choice itself must never be cut.
        let used: usize = spans.iter().chain(&hint).map(|s| s.content.width()).sum();
        if used <= width + 1 {
            spans.extend(hint);
        }
    }
    vec![Line::from(spans)]
}

fn decision_lines(dialog: &StopDialog, keymap: &KeyMap, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let ellipsis = theme.dots();
    let keys = |action: Action| theme.key_name(&keymap.keys_text(action));
    match &dialog.phase {
        StopPhase::Asking => match dialog.mode {
            ConfirmMode::YesNo => {
                let button = |text: &str, focused: bool, style: Style| {
                    let style = if focused {
                        style.add_modifier(Modifier::REVERSED | Modifier::BOLD)
                    } else {
                        style
                    };
                    Span::styled(format!("[ {text} ]"), style)
                };
                let buttons = vec![
                    button("Cancel", dialog.focus == DialogFocus::Cancel, Style::new()),
                    Span::raw("    "),
                    button("Stop operation", dialog.focus == DialogFocus::Stop, theme.error()),
                ];
                let buttons_width: usize = buttons.iter().map(|s| s.content.width()).sum();
                let mut centred = vec![Span::raw(" ".repeat((width + 2).saturating_sub(buttons_width) / 2))];
                centred.extend(buttons);
                vec![
                    Line::from(centred),
                    Line::raw(""),
                    hint_line(
                        theme,
                        &[
                            (&keys(Action::NextButton), "move"),
                            (&keys(Action::PressButton), "choose"),
                            (&keys(Action::ConfirmStop), "stop"),
                            (&keys(Action::CancelStop), "cancel"),
                        ],
                        "  ",
                    ),
                ]
            }
            ConfirmMode::TypeName => {
                // What is typed, wrapped like the name above, so a long name never runs off.
                let typed: Vec<char> = dialog.typed.chars().chain(theme.text_cursor().chars()).collect();
                let mut lines = vec![Line::raw(" Type the stack set name to confirm:")];
                for part in typed.chunks(width.max(1)) {
                    let text: String = part.iter().collect();
                    lines.push(Line::styled(format!(" {text}"), theme.bold()));
                }
                lines.push(Line::raw(""));
                lines.push(hint_line(
                    theme,
                    &[
                        (&non_text_keys(keymap, Action::PressButton, theme), "to stop"),
                        (&non_text_keys(keymap, Action::CancelStop, theme), "to cancel"),
                    ],
                    ", ",
                ));
                lines
            }
        },
        StopPhase::Sending => vec![
            Line::styled(format!(" Sending StopStackSetOperation{ellipsis}"), theme.warn()),
            Line::raw(""),
            hint_line(theme, &[(&keys(Action::CancelStop), "to close")], ""),
        ],
        StopPhase::Sent { request_id } => {
            let id = request_id
                .as_deref()
                .map(|id| format!(" (request id {id})"))
                .unwrap_or_default();
            let text = format!("Stop sent{id}. The operation will go STOPPING, then STOPPED.");
            let mut lines: Vec<Line> = format::wrap(&text, width)
                .into_iter()
                .map(|l| Line::styled(format!(" {l}"), theme.ok()))
                .collect();
            lines.push(Line::raw(""));
            lines.push(hint_line(theme, &[(&keys(Action::CancelStop), "to close")], ""));
            lines
        }
        StopPhase::Failed { message } => {
            // The message may say "Stop failed" itself (it is the footer's text too).
            let text = format!(
                "Stop failed: {}",
                message.strip_prefix("Stop failed: ").unwrap_or(message)
            );
            let mut lines: Vec<Line> = format::wrap(&text, width)
                .into_iter()
                .map(|l| Line::styled(format!(" {l}"), theme.error()))
                .collect();
            lines.push(Line::raw(""));
            lines.push(hint_line(
                theme,
                &[
                    (&keys(Action::ConfirmStop), "to try again"),
                    (&keys(Action::CancelStop), "to close"),
                ],
                ", ",
            ));
            lines
        }
    }
}

/// The keys of an action that still act while a name is typed (printable keys are text then).
fn non_text_keys(keymap: &KeyMap, action: Action, theme: &Theme) -> String {
    let keys: Vec<String> = keymap.keys_while_typing(action).iter().map(|k| k.to_string()).collect();
    theme.key_name(&keys.join("/"))
}

/// `key what` pairs joined by `separator`, e.g. `enter to stop, esc to cancel`.
fn hint_line(theme: &Theme, hints: &[(&str, &str)], separator: &str) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (index, (key, what)) in hints.iter().enumerate() {
        if index > 0 {
            spans.push(Span::styled(separator.to_string(), theme.dim()));
        }
        spans.push(Span::styled(key.to_string(), theme.key()));
        spans.push(Span::styled(format!(" {what}"), theme.dim()));
    }
    Line::from(spans)
}
