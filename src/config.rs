//! The TOML config: every key optional, unknown keys rejected, errors that name the file, the
//! line and column, and the key. Read from the platform config dir or `--config PATH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::app::{Action, ConfirmMode, KeyMap};
use crate::model::CallAs;

/// One key or several for an action.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Keys {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallAsSetting {
    #[serde(rename = "self", alias = "SELF")]
    SelfAccount,
    #[serde(alias = "DELEGATED_ADMIN")]
    DelegatedAdmin,
}

impl From<CallAsSetting> for CallAs {
    fn from(value: CallAsSetting) -> Self {
        match value {
            CallAsSetting::SelfAccount => CallAs::SelfAccount,
            CallAsSetting::DelegatedAdmin => CallAs::DelegatedAdmin,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Seconds between refreshes of a running operation.
    pub poll_interval: Option<u64>,
    /// Seconds between refreshes of the overview and of lists with nothing running.
    pub idle_interval: Option<u64>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub call_as: Option<CallAsSetting>,
    pub read_only: Option<bool>,
    pub confirm: Option<ConfirmMode>,
    /// false draws without colour, as NO_COLOR does.
    pub color: Option<bool>,
    pub ascii: Option<bool>,
    /// Ceiling on polling requests per second (stops are exempt).
    pub max_requests_per_second: Option<f64>,
    /// Seconds one attempt may take before it is cut and retried.
    pub attempt_timeout: Option<u64>,
    #[serde(default)]
    pub keys: BTreeMap<Action, Keys>,
    /// The file this was read from, for messages that name where a setting came from.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read config file {path}: {source}: check that it exists and is readable, or pass another with --config"
    )]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}, line {line}, column {column}: {message}: fix it, or see config.example.toml for every key and its values")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Where the config lives when `--config` is not given, e.g. `~/.config/sstop/config.toml` on Linux.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "sstop").map(|dirs| dirs.config_dir().join("config.toml"))
}

impl Config {
    /// Load `explicit` (which must exist), else the default path if it exists, else defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match default_path() {
                Some(path) if path.exists() => path,
                _ => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|err| {
            let (line, column) = err.span().map(|span| line_column(text, span.start)).unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: err.message().trim().to_string(),
            }
        })?;
        config.validate(path)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if self.poll_interval == Some(0) {
            return Err(invalid("poll_interval must be at least 1 (seconds)".into()));
        }
        if self.idle_interval == Some(0) {
            return Err(invalid("idle_interval must be at least 1 (seconds)".into()));
        }
        if let Some(rps) = self.max_requests_per_second {
            if !(rps.is_finite() && rps > 0.0) {
                return Err(invalid(
                    "max_requests_per_second must be a number above 0, e.g. 10".into(),
                ));
            }
        }
        self.keymap().map_err(|message| invalid(format!("[keys]: {message}")))?;
        Ok(())
    }

    pub fn keymap(&self) -> Result<KeyMap, String> {
        let overrides: BTreeMap<Action, Vec<String>> = self
            .keys
            .iter()
            .map(|(action, keys)| {
                let keys = match keys {
                    Keys::One(key) => vec![key.clone()],
                    Keys::Many(keys) => keys.clone(),
                };
                (*action, keys)
            })
            .collect();
        KeyMap::with_overrides(&overrides)
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../config.example.toml");
        let config = Config::parse(text, Path::new("config.example.toml")).unwrap();
        assert_eq!(config.poll_interval, Some(5));
    }

    #[test]
    fn unknown_key_names_line_column_and_key() {
        let err = Config::parse("poll_interval = 5\npoll_intervall = 3\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml, line 2, column 1"), "{err}");
        assert!(err.contains("poll_intervall"), "{err}");
    }

    #[test]
    fn bad_value_is_reported() {
        let err = Config::parse("call_as = \"root\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains("root") || err.contains("variant"), "{err}");
        let err = Config::parse("[keys]\nstop = \"hyper-s\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key"), "{err}");
        let err = Config::parse("[keys]\nexplode = \"x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("explode"), "{err}");
    }
}
