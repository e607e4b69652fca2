//! Colours, glyphs and borders, chosen once from the settings: a 16-colour base palette
//! (tmux's default TERM has 8 colours), plain styles under NO_COLOR, 7-bit glyphs in ASCII mode.
//! Every status differs by glyph shape as well as colour, so meaning survives without colour.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::widgets::{Block, BorderType, Borders};

use crate::app::Settings;
use crate::insight::Outcome;
use crate::model::{OperationStatus, ResultStatus};

/// Box-drawing made of `+ - |` for terminals and logs that only take 7-bit text.
const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub ascii: bool,
    pub no_color: bool,
}

impl Theme {
    pub fn new(settings: &Settings) -> Self {
        Theme {
            ascii: settings.ascii,
            no_color: settings.no_color,
        }
    }

    /// A foreground colour, or nothing under NO_COLOR.
    pub fn fg(&self, color: Color) -> Style {
        if self.no_color {
            Style::new()
        } else {
            Style::new().fg(color)
        }
    }

    /// Emphasis that survives NO_COLOR: bold is not a colour.
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn heading(&self) -> Style {
        self.fg(Color::Gray).add_modifier(Modifier::BOLD)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The cursor and the selected row: reversed, readable with or without colour.
    pub fn cursor(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Row and column headers of the cursor cell.
    pub fn cursor_header(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn read_only_badge(&self) -> Style {
        if self.no_color {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn result_glyph(&self, status: ResultStatus) -> &'static str {
        match (status, self.ascii) {
            (ResultStatus::Succeeded, false) => "✓",
            (ResultStatus::Failed, false) => "✗",
            (ResultStatus::Running, false) => "▶",
            (ResultStatus::Pending, false) => "·",
            (ResultStatus::Cancelled, false) => "⊘",
            (ResultStatus::Succeeded, true) => "+",
            (ResultStatus::Failed, true) => "X",
            (ResultStatus::Running, true) => ">",
            (ResultStatus::Pending, true) => ".",
            (ResultStatus::Cancelled, true) => "-",
        }
    }

    pub fn result_style(&self, status: ResultStatus) -> Style {
        match status {
            ResultStatus::Succeeded => self.fg(Color::Green),
            ResultStatus::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            ResultStatus::Running => self.fg(Color::Yellow),
            ResultStatus::Pending => self.fg(Color::DarkGray),
            ResultStatus::Cancelled => self.fg(Color::Magenta),
        }
    }

    /// A stack instance's cell: its DetailedStatus as a shape (a result's glyph for the words
    /// results share; INOPERABLE and a suspended account's skip have their own).
    pub fn instance_glyph(&self, detailed: Option<&str>) -> &'static str {
        match detailed {
            Some("INOPERABLE") => self.pick("■", "#"),
            Some("SKIPPED_SUSPENDED_ACCOUNT") => self.pick("○", "o"),
            Some("FAILED_IMPORT") => self.result_glyph(ResultStatus::Failed),
            Some(text) => text
                .parse::<ResultStatus>()
                .map_or("?", |status| self.result_glyph(status)),
            None => "?",
        }
    }

    /// A stack instance's Status as a colour: CURRENT green, OUTDATED yellow, INOPERABLE red.
    pub fn instance_style(&self, status: crate::model::InstanceStatus) -> Style {
        match status {
            crate::model::InstanceStatus::Current => self.fg(Color::Green),
            crate::model::InstanceStatus::Outdated => self.fg(Color::Yellow),
            crate::model::InstanceStatus::Inoperable => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// Beside an instance's glyph: drift detection found it DRIFTED.
    pub fn drifted(&self) -> &'static str {
        self.pick("≠", "*")
    }

    /// An operation's outcome: SUCCEEDED with failures is yellow, never the green of success.
    pub fn outcome_style(&self, outcome: Outcome) -> Style {
        match outcome {
            Outcome::Status(status) => self.operation_style(status),
            Outcome::SucceededWithFailures => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        }
    }

    pub fn operation_style(&self, status: OperationStatus) -> Style {
        match status {
            OperationStatus::Running | OperationStatus::Stopping => self.fg(Color::Yellow),
            OperationStatus::Queued => self.fg(Color::Cyan),
            OperationStatus::Succeeded => self.fg(Color::Green),
            OperationStatus::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            OperationStatus::Stopped => self.fg(Color::Magenta),
        }
    }

    /// A bordered block in the theme's border set.
    pub fn block(&self) -> Block<'static> {
        let block = Block::new().borders(Borders::ALL).border_style(self.dim());
        if self.ascii {
            block.border_set(ASCII_BORDER)
        } else {
            block.border_type(BorderType::Rounded)
        }
    }

    /// `…`, or `~` in ASCII mode (one column, so column widths stay the same).
    pub fn ellipsis(&self) -> &'static str {
        self.pick("…", "~")
    }

    /// Trailing dots for "Loading…": `…`, or `...` in ASCII mode.
    pub fn dots(&self) -> &'static str {
        self.pick("…", "...")
    }

    pub fn breadcrumb_separator(&self) -> &'static str {
        self.pick(" › ", " > ")
    }

    pub fn separator(&self) -> &'static str {
        self.pick(" · ", " | ")
    }

    pub fn active_marker(&self) -> &'static str {
        self.pick("●", "*")
    }

    pub fn warning(&self) -> &'static str {
        self.pick("⚠", "!")
    }

    pub fn dash(&self) -> &'static str {
        self.pick("–", "-")
    }

    pub fn text_cursor(&self) -> &'static str {
        self.pick("█", "_")
    }

    pub fn bar_full(&self) -> &'static str {
        self.pick("█", "#")
    }

    pub fn bar_empty(&self) -> &'static str {
        self.pick("░", ".")
    }

    pub fn radio(&self, on: bool) -> &'static str {
        match (on, self.ascii) {
            (true, false) => "(•)",
            (true, true) => "(*)",
            (false, _) => "( )",
        }
    }

    /// Key names as `KeyMap` spells them, with arrows spelled out in ASCII mode.
    pub fn key_name(&self, key: &str) -> String {
        if !self.ascii {
            return key.to_string();
        }
        key.replace('↑', "up")
            .replace('↓', "down")
            .replace('←', "left")
            .replace('→', "right")
    }

    fn pick(&self, unicode: &'static str, ascii: &'static str) -> &'static str {
        if self.ascii {
            ascii
        } else {
            unicode
        }
    }
}
