//! Key bindings: the actions a key can trigger, the defaults, and parsing of bindings from the config.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
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
}

impl Action {
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
            Action::Filter => "filter",
            Action::CycleStatus => "status filter",
            Action::Failures => "failures by reason",
            Action::Detail => "cell detail",
            Action::Refresh => "refresh now",
            Action::Stop => "stop operation",
            Action::Help => "help",
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
    F(u8),
}

impl Key {
    pub fn parse(text: &str) -> Result<Key, String> {
        let lower = text.to_ascii_lowercase();
        let (ctrl, rest) = match lower.strip_prefix("ctrl-") {
            Some(rest) => (true, rest.to_string()),
            None => (false, text.to_string()),
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
            "space" => KeyCodeName::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCodeName::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCodeName::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
                    _ => {
                        return Err(format!(
                            "unknown key {text:?}: use one character, ctrl-X, enter, esc, up, down, left, right, pgup, pgdn, home, end, tab, space or f1-f12"
                        ))
                    }
                }
            }
        };
        Ok(Key { code, ctrl })
    }

    pub fn from_event(event: &KeyEvent) -> Option<Key> {
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
            KeyCode::F(n) => KeyCodeName::F(n),
            _ => return None,
        };
        Some(Key { code, ctrl })
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
            KeyCodeName::F(n) => write!(f, "f{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    bindings: BTreeMap<Key, Action>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let defaults: &[(&str, Action)] = &[
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
        ];
        let bindings = defaults
            .iter()
            .map(|(key, action)| {
                (
                    Key::parse(key).unwrap_or(Key {
                        code: KeyCodeName::Esc,
                        ctrl: false,
                    }),
                    *action,
                )
            })
            .collect();
        KeyMap { bindings }
    }
}

impl KeyMap {
    /// The defaults with the config's bindings laid over them: `action = "key"` or `action = ["k1", "k2"]`.
    /// A key given to an action is taken from whatever action had it before.
    pub fn with_overrides(overrides: &BTreeMap<Action, Vec<String>>) -> Result<KeyMap, String> {
        let mut map = KeyMap::default();
        for (action, keys) in overrides {
            map.bindings.retain(|_, bound| bound != action);
            for text in keys {
                map.bindings.insert(Key::parse(text)?, *action);
            }
        }
        Ok(map)
    }

    pub fn action(&self, event: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(event)?;
        if let Some(action) = self.bindings.get(&key) {
            return Some(*action);
        }
        // Terminals report shifted letters with or without SHIFT; match on the char alone.
        None
    }

    /// The keys bound to an action, joined for the footer and help, e.g. `↑/k`.
    pub fn keys_for(&self, action: Action) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| k.to_string())
            .collect();
        keys.join("/")
    }

    /// Every action with its keys, in a stable order, for the help screen.
    pub fn all(&self) -> Vec<(Action, String)> {
        let mut actions: Vec<Action> = self.bindings.values().copied().collect();
        actions.sort();
        actions.dedup();
        actions.into_iter().map(|a| (a, self.keys_for(a))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_overrides_replace_default_keys() {
        let mut overrides = BTreeMap::new();
        overrides.insert(Action::Stop, vec!["X".to_string()]);
        let map = KeyMap::with_overrides(&overrides).unwrap();
        let x = KeyEvent::new(KeyCode::Char('X'), KeyModifiers::SHIFT);
        let s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(map.action(&x), Some(Action::Stop));
        assert_eq!(map.action(&s), None);
    }

    #[test]
    fn bad_key_names_are_rejected_with_the_fix() {
        let err = Key::parse("hyper-q").unwrap_err();
        assert!(err.contains("unknown key"), "{err}");
    }

    #[test]
    fn ctrl_c_quits_by_default() {
        let event = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(KeyMap::default().action(&event), Some(Action::Quit));
    }
}
