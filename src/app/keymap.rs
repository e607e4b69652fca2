//! Key bindings, one layer per input mode: the actions a key can trigger in each mode, their
//! defaults, and the config's overrides. `update`, the help overlay and the footer all read
//! this one table, so what `?` and the footer say is what the keys do.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

/// Which layer of the keymap is live: what has the keyboard right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// The screens: moving, drilling down, opening things.
    Normal,
    /// Typing a filter after `/`: printable keys are text, the layer's keys end the typing.
    Filter,
    /// The stop dialog. In type-name mode printable keys are text there too.
    Dialog,
    /// Help or a cell's detail: any key closes it.
    Popup,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Normal, Mode::Filter, Mode::Dialog, Mode::Popup];

    pub fn describe(self) -> &'static str {
        match self {
            Mode::Normal => "Everywhere",
            Mode::Filter => "While typing a filter",
            Mode::Dialog => "In the stop dialog",
            Mode::Popup => "In help, detail, request log",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Normal.
    Quit,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    Filter,
    CycleStatus,
    Failures,
    Detail,
    Refresh,
    Stop,
    Help,
    Copy,
    CopyUrl,
    Export,
    RequestLog,
    StackSets,
    Instances,
    ToggleView,
    // Filter.
    KeepFilter,
    ClearFilter,
    // Dialog.
    ConfirmStop,
    CancelStop,
    NextButton,
    PressButton,
    SwitchCallAs,
    // Popup.
    Close,
}

impl Action {
    pub const ALL: [Action; 33] = [
        Action::Quit,
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Enter,
        Action::Back,
        Action::Filter,
        Action::CycleStatus,
        Action::Failures,
        Action::Detail,
        Action::Refresh,
        Action::Stop,
        Action::Help,
        Action::Copy,
        Action::CopyUrl,
        Action::Export,
        Action::RequestLog,
        Action::StackSets,
        Action::Instances,
        Action::ToggleView,
        Action::KeepFilter,
        Action::ClearFilter,
        Action::ConfirmStop,
        Action::CancelStop,
        Action::NextButton,
        Action::PressButton,
        Action::SwitchCallAs,
        Action::Close,
    ];

    /// The layer an action lives in; the config binds it there.
    pub fn mode(self) -> Mode {
        match self {
            Action::KeepFilter | Action::ClearFilter => Mode::Filter,
            Action::ConfirmStop
            | Action::CancelStop
            | Action::NextButton
            | Action::PressButton
            | Action::SwitchCallAs => Mode::Dialog,
            Action::Close => Mode::Popup,
            _ => Mode::Normal,
        }
    }

    /// The name the config uses, e.g. `cycle_status`.
    pub fn config_name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Enter => "enter",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::CycleStatus => "cycle_status",
            Action::Failures => "failures",
            Action::Detail => "detail",
            Action::Refresh => "refresh",
            Action::Stop => "stop",
            Action::Help => "help",
            Action::Copy => "copy",
            Action::CopyUrl => "copy_url",
            Action::Export => "export",
            Action::RequestLog => "request_log",
            Action::StackSets => "stack_sets",
            Action::Instances => "instances",
            Action::ToggleView => "toggle_view",
            Action::KeepFilter => "keep_filter",
            Action::ClearFilter => "clear_filter",
            Action::ConfirmStop => "confirm_stop",
            Action::CancelStop => "cancel_stop",
            Action::NextButton => "next_button",
            Action::PressButton => "press_button",
            Action::SwitchCallAs => "switch_call_as",
            Action::Close => "close",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first",
            Action::Bottom => "last",
            Action::Enter => "open",
            Action::Back => "back",
            Action::Filter => "filter the list",
            Action::CycleStatus => "status filter (grid)",
            Action::Failures => "failures by reason",
            Action::Detail => "cell detail",
            Action::Refresh => "refresh now",
            Action::Stop => "stop operation",
            Action::Help => "help",
            Action::Copy => "copy id / reason",
            Action::CopyUrl => "copy console URL",
            Action::Export => "export to a file",
            Action::RequestLog => "request log",
            Action::StackSets => "stack sets / pulse",
            Action::Instances => "stack instances",
            Action::ToggleView => "instances grid / list",
            Action::KeepFilter => "keep the filter",
            Action::ClearFilter => "clear the filter",
            Action::ConfirmStop => "send the stop",
            Action::CancelStop => "cancel / close",
            Action::NextButton => "next button",
            Action::PressButton => "press button",
            Action::SwitchCallAs => "switch CallAs",
            Action::Close => "close (any key does)",
        }
    }
}

/// A key as written in the config: `s`, `F`, `ctrl-c`, `enter`, `esc`, `up`, `pgdn`, `f5`...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeName,
    pub ctrl: bool,
}

/// The subset of key codes that can be bound, ordered so bindings list stably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeName {
    Char(char),
    Enter,
    Esc,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Tab,
    BackTab,
    Backspace,
    F(u8),
}

const KEY_NAMES: &str = "use one character, ctrl-X, enter, esc, up, down, left, right, pgup, pgdn, home, end, tab, backtab, backspace, space or f1-f12";

impl Key {
    pub fn parse(text: &str) -> Result<Key, String> {
        let lower = text.to_ascii_lowercase();
        let (ctrl, rest) = match lower.strip_prefix("ctrl-") {
            Some(_) => (true, &text[5..]),
            None => (false, text),
        };
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" => KeyCodeName::Enter,
            "esc" | "escape" => KeyCodeName::Esc,
            "up" => KeyCodeName::Up,
            "down" => KeyCodeName::Down,
            "left" => KeyCodeName::Left,
            "right" => KeyCodeName::Right,
            "pgup" | "pageup" => KeyCodeName::PageUp,
            "pgdn" | "pagedown" => KeyCodeName::PageDown,
            "home" => KeyCodeName::Home,
            "end" => KeyCodeName::End,
            "tab" => KeyCodeName::Tab,
            "backtab" | "shift-tab" => KeyCodeName::BackTab,
            "backspace" => KeyCodeName::Backspace,
            "space" => KeyCodeName::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyCodeName::F(n),
                _ => return Err(format!("unknown key {text:?}: {KEY_NAMES}")),
            },
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => {
                        KeyCodeName::Char(if ctrl { c.to_ascii_lowercase() } else { c })
                    }
                    _ => return Err(format!("unknown key {text:?}: {KEY_NAMES}")),
                }
            }
        };
        Ok(Key { code, ctrl })
    }

    pub fn from_event(event: &KeyEvent) -> Option<Key> {
        // Alt is how a terminal delivers ESC glued to the next key (`esc y` in one read): such
        // a key is bound to nothing, so it can never be read as the key without its escape.
        if event
            .modifiers
            .intersects(KeyModifiers::ALT | KeyModifiers::META | KeyModifiers::SUPER)
        {
            return None;
        }
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let code = match event.code {
            KeyCode::Char(c) => KeyCodeName::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::Enter => KeyCodeName::Enter,
            KeyCode::Esc => KeyCodeName::Esc,
            KeyCode::Up => KeyCodeName::Up,
            KeyCode::Down => KeyCodeName::Down,
            KeyCode::Left => KeyCodeName::Left,
            KeyCode::Right => KeyCodeName::Right,
            KeyCode::PageUp => KeyCodeName::PageUp,
            KeyCode::PageDown => KeyCodeName::PageDown,
            KeyCode::Home => KeyCodeName::Home,
            KeyCode::End => KeyCodeName::End,
            KeyCode::Tab => KeyCodeName::Tab,
            KeyCode::BackTab => KeyCodeName::BackTab,
            KeyCode::Backspace => KeyCodeName::Backspace,
            KeyCode::F(n) => KeyCodeName::F(n),
            _ => return None,
        };
        Some(Key { code, ctrl })
    }

    /// A key that types a character into a text input (so a text layer cannot bind it).
    pub fn is_text(&self) -> bool {
        !self.ctrl && matches!(self.code, KeyCodeName::Char(_))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        match self.code {
            KeyCodeName::Char(' ') => f.write_str("space"),
            KeyCodeName::Char(c) => write!(f, "{c}"),
            KeyCodeName::Enter => f.write_str("enter"),
            KeyCodeName::Esc => f.write_str("esc"),
            KeyCodeName::Up => f.write_str("↑"),
            KeyCodeName::Down => f.write_str("↓"),
            KeyCodeName::Left => f.write_str("←"),
            KeyCodeName::Right => f.write_str("→"),
            KeyCodeName::PageUp => f.write_str("pgup"),
            KeyCodeName::PageDown => f.write_str("pgdn"),
            KeyCodeName::Home => f.write_str("home"),
            KeyCodeName::End => f.write_str("end"),
            KeyCodeName::Tab => f.write_str("tab"),
            KeyCodeName::BackTab => f.write_str("backtab"),
            KeyCodeName::Backspace => f.write_str("backspace"),
            KeyCodeName::F(n) => write!(f, "f{n}"),
        }
    }
}

/// The default bindings of every layer.
const DEFAULTS: &[(&str, Action)] = &[
    ("q", Action::Quit),
    ("ctrl-c", Action::Quit),
    ("up", Action::Up),
    ("k", Action::Up),
    ("down", Action::Down),
    ("j", Action::Down),
    ("left", Action::Left),
    ("h", Action::Left),
    ("right", Action::Right),
    ("l", Action::Right),
    ("pgup", Action::PageUp),
    ("ctrl-b", Action::PageUp),
    ("pgdn", Action::PageDown),
    ("ctrl-f", Action::PageDown),
    ("g", Action::Top),
    ("home", Action::Top),
    ("G", Action::Bottom),
    ("end", Action::Bottom),
    ("enter", Action::Enter),
    ("esc", Action::Back),
    ("/", Action::Filter),
    ("tab", Action::CycleStatus),
    ("f", Action::Failures),
    ("d", Action::Detail),
    ("r", Action::Refresh),
    ("s", Action::Stop),
    ("?", Action::Help),
    ("y", Action::Copy),
    ("Y", Action::CopyUrl),
    ("e", Action::Export),
    ("L", Action::RequestLog),
    ("o", Action::StackSets),
    ("i", Action::Instances),
    ("v", Action::ToggleView),
    ("enter", Action::KeepFilter),
    ("esc", Action::ClearFilter),
    ("y", Action::ConfirmStop),
    ("n", Action::CancelStop),
    ("esc", Action::CancelStop),
    ("tab", Action::NextButton),
    ("backtab", Action::NextButton),
    ("enter", Action::PressButton),
    ("left", Action::SwitchCallAs),
    ("right", Action::SwitchCallAs),
    ("a", Action::SwitchCallAs),
    ("esc", Action::Close),
];

/// ctrl-c always quits, in every mode; it cannot be rebound, so there is always a way out.
pub fn is_ctrl_c(event: &KeyEvent) -> bool {
    event.code == KeyCode::Char('c') && event.modifiers.contains(KeyModifiers::CONTROL)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    layers: BTreeMap<Mode, BTreeMap<Key, Action>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let mut layers: BTreeMap<Mode, BTreeMap<Key, Action>> = BTreeMap::new();
        for (text, action) in DEFAULTS {
            if let Ok(key) = Key::parse(text) {
                layers.entry(action.mode()).or_default().insert(key, *action);
            }
        }
        KeyMap { layers }
    }
}

impl KeyMap {
    /// The defaults with the config's bindings laid over them: `action = "key"` or
    /// `action = ["k1", "k2"]`, each in its action's layer. A rebound action loses its default
    /// keys. A key left bound to two actions of one layer, an action left with no key, or a
    /// printable key on a layer where printable keys are text, is an error naming them.
    pub fn with_overrides(overrides: &BTreeMap<Action, Vec<String>>) -> Result<KeyMap, String> {
        let mut map = KeyMap::default();
        for action in overrides.keys() {
            if let Some(layer) = map.layers.get_mut(&action.mode()) {
                layer.retain(|_, bound| bound != action);
            }
        }
        for (action, keys) in overrides {
            if keys.is_empty() {
                return Err(format!(
                    "{} has no key: give it at least one, e.g. {} = \"{}\"{}",
                    action.config_name(),
                    action.config_name(),
                    {
                        let defaults = KeyMap::default().keys_for(*action);
                        let plain = defaults.iter().find(|k| !k.ctrl).or(defaults.first());
                        plain.map_or("x".to_string(), Key::to_string)
                    },
                    if *action == Action::Stop {
                        " (to never stop from this machine, set read_only = true)"
                    } else {
                        ""
                    }
                ));
            }
            for text in keys {
                let key = Key::parse(text).map_err(|err| format!("{}: {err}", action.config_name()))?;
                if key.is_text() && action.mode() == Mode::Filter {
                    return Err(format!(
                        "{} = {text:?}: while a filter is typed, printable keys are text; use enter, esc, tab, a ctrl- key or an f-key",
                        action.config_name()
                    ));
                }
                if key.ctrl && key.code == KeyCodeName::Char('c') && *action != Action::Quit {
                    return Err(format!(
                        "{} = {text:?}: ctrl-c always quits and cannot be bound to anything else",
                        action.config_name()
                    ));
                }
                let layer = map.layers.entry(action.mode()).or_default();
                if let Some(other) = layer.get(&key).filter(|other| *other != action) {
                    return Err(format!(
                        "key {key} is bound to both {} and {}: bind one of them to another key, e.g. {} = [\"…\"]",
                        other.config_name(),
                        action.config_name(),
                        other.config_name()
                    ));
                }
                layer.insert(key, *action);
            }
        }
        // ctrl-c quits whatever the config says (update checks it first); keep it listed.
        if let Ok(ctrl_c) = Key::parse("ctrl-c") {
            map.layers.entry(Mode::Normal).or_default().insert(ctrl_c, Action::Quit);
        }
        Ok(map)
    }

    /// The action of a key in a layer. Text layers (a filter, the type-name box) leave
    /// printable keys to the input: pass `text_input` then.
    pub fn action(&self, mode: Mode, event: &KeyEvent, text_input: bool) -> Option<Action> {
        let key = Key::from_event(event)?;
        if text_input && key.is_text() {
            return None;
        }
        self.layers.get(&mode)?.get(&key).copied()
    }

    /// The keys bound to an action, in a stable order.
    pub fn keys_for(&self, action: Action) -> Vec<Key> {
        self.layers
            .get(&action.mode())
            .map(|layer| layer.iter().filter(|(_, a)| **a == action).map(|(k, _)| *k).collect())
            .unwrap_or_default()
    }

    /// The keys of an action that still act while text is typed (printable keys are text then).
    pub fn keys_while_typing(&self, action: Action) -> Vec<Key> {
        self.keys_for(action).into_iter().filter(|k| !k.is_text()).collect()
    }

    /// The keys of an action joined for the footer and help, e.g. `↑/k`.
    pub fn keys_text(&self, action: Action) -> String {
        self.keys_for(action)
            .iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every action of a layer with its keys, in declaration order, for the help screen.
    pub fn layer(&self, mode: Mode) -> Vec<(Action, String)> {
        Action::ALL
            .iter()
            .filter(|a| a.mode() == mode)
            .map(|a| (*a, self.keys_text(*a)))
            .filter(|(_, keys)| !keys.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn overrides(pairs: &[(Action, &[&str])]) -> BTreeMap<Action, Vec<String>> {
        pairs
            .iter()
            .map(|(a, keys)| (*a, keys.iter().map(|k| k.to_string()).collect()))
            .collect()
    }

    #[test]
    fn config_overrides_replace_default_keys() {
        let map = KeyMap::with_overrides(&overrides(&[(Action::Stop, &["X"])])).unwrap();
        let x = KeyEvent::new(KeyCode::Char('X'), KeyModifiers::SHIFT);
        assert_eq!(map.action(Mode::Normal, &x, false), Some(Action::Stop));
        assert_eq!(map.action(Mode::Normal, &press(KeyCode::Char('s')), false), None);
    }

    #[test]
    fn bad_key_names_are_rejected_with_the_fix() {
        let err = Key::parse("hyper-q").unwrap_err();
        assert!(err.contains("unknown key"), "{err}");
        assert!(Key::parse("f13").is_err());
        assert!(Key::parse("f0").is_err());
    }

    #[test]
    fn a_key_bound_to_two_actions_of_a_layer_names_both() {
        let err = KeyMap::with_overrides(&overrides(&[(Action::Stop, &["j"])])).unwrap_err();
        assert!(
            err.contains("stop") && err.contains("down") && err.contains("key j"),
            "{err}"
        );
        // Moving `down` off j first makes it free.
        KeyMap::with_overrides(&overrides(&[(Action::Stop, &["j"]), (Action::Down, &["down"])])).unwrap();
        // The same key in different layers is no conflict: n cancels in the dialog only.
        KeyMap::with_overrides(&overrides(&[(Action::Refresh, &["n"])])).unwrap();
        // y copies on the screens and stops in the dialog: binding it elsewhere on the screens
        // names the copy.
        let err = KeyMap::with_overrides(&overrides(&[(Action::Refresh, &["y"])])).unwrap_err();
        assert!(err.contains("copy") && err.contains("refresh"), "{err}");
        let err = KeyMap::with_overrides(&overrides(&[(Action::ConfirmStop, &["n"])])).unwrap_err();
        assert!(err.contains("cancel_stop") && err.contains("confirm_stop"), "{err}");
    }

    #[test]
    fn an_action_with_no_key_is_an_error() {
        let err = KeyMap::with_overrides(&overrides(&[(Action::Quit, &[])])).unwrap_err();
        assert!(err.contains("quit has no key"), "{err}");
    }

    #[test]
    fn printable_keys_cannot_drive_a_text_layer_and_ctrl_c_stays_quit() {
        let err = KeyMap::with_overrides(&overrides(&[(Action::KeepFilter, &["x"])])).unwrap_err();
        assert!(err.contains("printable keys are text"), "{err}");
        let err = KeyMap::with_overrides(&overrides(&[(Action::Stop, &["ctrl-c"])])).unwrap_err();
        assert!(err.contains("ctrl-c always quits"), "{err}");
    }

    #[test]
    fn text_inputs_keep_printable_keys() {
        let map = KeyMap::default();
        let y = press(KeyCode::Char('y'));
        assert_eq!(map.action(Mode::Dialog, &y, false), Some(Action::ConfirmStop));
        assert_eq!(map.action(Mode::Dialog, &y, true), None);
        assert_eq!(
            map.action(Mode::Dialog, &press(KeyCode::Esc), true),
            Some(Action::CancelStop)
        );
    }

    #[test]
    fn every_action_has_a_default_key_in_its_own_layer() {
        let map = KeyMap::default();
        for action in Action::ALL {
            assert!(!map.keys_for(action).is_empty(), "{action:?} has no default key");
        }
    }
}
