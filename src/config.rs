//! The TOML config: every key optional, unknown keys rejected, errors that name the file, the
//! line and column, and the key. Read from the platform config dir or `--config PATH`.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
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

/// `call_as = "self" | "delegated-admin"` (or the API's SELF, DELEGATED_ADMIN), read into the
/// domain type with the spellings `model` declares.
fn call_as_setting<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<CallAs>, D::Error> {
    let text = String::deserialize(deserializer)?;
    CallAs::parse_setting(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("unknown call_as {text:?}: use \"self\" or \"delegated-admin\""))
    })
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
    /// Several admin Regions watched at once; exclusive with `region`.
    pub regions: Option<Vec<String>>,
    pub endpoint_url: Option<String>,
    #[serde(default, deserialize_with = "call_as_setting")]
    pub call_as: Option<CallAs>,
    pub read_only: Option<bool>,
    pub confirm: Option<ConfirmMode>,
    /// false draws without colour, as NO_COLOR does.
    pub color: Option<bool>,
    pub ascii: Option<bool>,
    /// Ceiling on polling requests per second (stops are exempt).
    pub max_requests_per_second: Option<f64>,
    /// Seconds one attempt may take before it is cut and retried.
    pub attempt_timeout: Option<u64>,
    /// Seconds one credentials lookup (a `credential_process`, SSO...) may take before it is cut.
    pub credential_timeout: Option<u64>,
    /// Where the dashboard's `e` writes export files (default: the current directory).
    pub export_dir: Option<PathBuf>,
    /// `[notify]`: bell, osc9, osc777, command, command_timeout.
    #[serde(default)]
    pub notify: crate::notify::NotifyConfig,
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

/// Accepted ranges of the numeric settings (config keys and flags alike), checked when they are
/// read so no later arithmetic on them can overflow.
pub const POLL_INTERVAL: RangeInclusive<u64> = 1..=3600;
pub const IDLE_INTERVAL: RangeInclusive<u64> = 1..=3600;
pub const ATTEMPT_TIMEOUT: RangeInclusive<u64> = 1..=600;
pub const CREDENTIAL_TIMEOUT: RangeInclusive<u64> = 1..=600;
pub const MAX_REQUESTS_PER_SECOND: RangeInclusive<f64> = 0.1..=1000.0;
pub const NOTIFY_COMMAND_TIMEOUT: RangeInclusive<u64> = 1..=600;

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
            let message = err.message().trim();
            let key = text.lines().nth(line - 1).and_then(key_of);
            let range = key
                .and_then(range_of)
                .map_or_else(String::new, |r| format!(" (use {r})"));
            let message = match key {
                Some(key) if !message.contains(key) => format!("{key}: {message}{range}"),
                _ => format!("{message}{range}"),
            };
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        config.validate(path, text)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let out_of_range = |key: &str, value: String| {
            let line = key_line(text, key).map_or_else(String::new, |n| format!("line {n}: "));
            let range = range_of(key).unwrap_or_default();
            invalid(format!("{line}{key} = {value} is out of range: use {range}"))
        };
        if self.region.is_some() && self.regions.is_some() {
            let line = key_line(text, "regions").map_or_else(String::new, |n| format!("line {n}: "));
            return Err(invalid(format!(
                "{line}both region and regions are set: keep one (regions = [\"us-east-1\", \"eu-west-1\"] watches several)"
            )));
        }
        if let Some(regions) = &self.regions {
            let line = key_line(text, "regions").map_or_else(String::new, |n| format!("line {n}: "));
            if regions.is_empty() {
                return Err(invalid(format!(
                    "{line}regions = [] names no Region: list at least one, e.g. regions = [\"us-east-1\"]"
                )));
            }
            if let Some(blank) = regions.iter().find(|r| r.trim().is_empty() || r.contains(',')) {
                return Err(invalid(format!(
                    "{line}regions holds {blank:?}: give one Region per string, e.g. regions = [\"us-east-1\", \"eu-west-1\"]"
                )));
            }
        }
        for (key, value, range) in [
            ("poll_interval", self.poll_interval, POLL_INTERVAL),
            ("idle_interval", self.idle_interval, IDLE_INTERVAL),
            ("attempt_timeout", self.attempt_timeout, ATTEMPT_TIMEOUT),
            ("credential_timeout", self.credential_timeout, CREDENTIAL_TIMEOUT),
            ("command_timeout", self.notify.command_timeout, NOTIFY_COMMAND_TIMEOUT),
        ] {
            if let Some(value) = value.filter(|v| !range.contains(v)) {
                return Err(out_of_range(key, value.to_string()));
            }
        }
        if let Some(rps) = self
            .max_requests_per_second
            .filter(|v| !MAX_REQUESTS_PER_SECOND.contains(v))
        {
            // Debug keeps 1e-20 short where Display would spell out every zero.
            return Err(out_of_range("max_requests_per_second", format!("{rps:?}")));
        }
        self.keymap().map_err(|message| invalid(format!("[keys]: {message}")))?;
        if let Some(dir) = self.export_dir.as_ref().filter(|d| !d.is_dir()) {
            let line = key_line(text, "export_dir").map_or_else(String::new, |n| format!("line {n}: "));
            return Err(invalid(format!(
                "{line}export_dir = {:?} is not a directory: create it, or point export_dir at one",
                dir.display().to_string()
            )));
        }
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

/// The accepted range of a numeric key, in words, for messages.
fn range_of(key: &str) -> Option<String> {
    let secs = |r: RangeInclusive<u64>| format!("{} to {} (seconds)", r.start(), r.end());
    match key {
        "poll_interval" => Some(secs(POLL_INTERVAL)),
        "idle_interval" => Some(secs(IDLE_INTERVAL)),
        "attempt_timeout" => Some(secs(ATTEMPT_TIMEOUT)),
        "credential_timeout" => Some(secs(CREDENTIAL_TIMEOUT)),
        "command_timeout" => Some(secs(NOTIFY_COMMAND_TIMEOUT)),
        "max_requests_per_second" => Some(format!(
            "{} to {}",
            MAX_REQUESTS_PER_SECOND.start(),
            MAX_REQUESTS_PER_SECOND.end()
        )),
        _ => None,
    }
}

/// The line (from 1) where a top-level `key = ...` is set.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines().position(|line| key_of(line) == Some(key)).map(|i| i + 1)
}

/// The bare key a `key = value` line sets.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    bare.then_some(key)
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
    fn notify_table_and_export_dir_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "export_dir = {:?}\n[notify]\nbell = false\nosc9 = true\ncommand = \"cat >> /tmp/x\"\ncommand_timeout = 3\n",
            dir.path().display().to_string()
        );
        let config = Config::parse(&text, Path::new("c.toml")).unwrap();
        let notify = config.notify.resolve();
        assert!(!notify.bell && notify.osc9 && !notify.osc777);
        assert_eq!(notify.command.as_deref(), Some("cat >> /tmp/x"));
        assert_eq!(notify.command_timeout, std::time::Duration::from_secs(3));
        assert_eq!(
            Config::default().notify.resolve(),
            crate::notify::NotifySettings::default()
        );
        let err = Config::parse("[notify]\nbel = true\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("bel"), "{err}");
        let err = Config::parse("[notify]\ncommand_timeout = 0\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("command_timeout") && err.contains("1 to 600"), "{err}");
        let err = Config::parse("export_dir = \"/no/such/dir\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("not a directory"), "{err}");
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
    fn numbers_out_of_range_name_the_key_its_line_and_the_range() {
        for (text, key, range) in [
            (
                "poll_interval = 18446744073709551615\n",
                "poll_interval",
                "use 1 to 3600 (seconds)",
            ),
            ("poll_interval = 0\n", "poll_interval", "use 1 to 3600 (seconds)"),
            ("idle_interval = 86400\n", "idle_interval", "use 1 to 3600 (seconds)"),
            (
                "attempt_timeout = 9223372036854775807\n",
                "attempt_timeout",
                "use 1 to 600 (seconds)",
            ),
            (
                "credential_timeout = 0\n",
                "credential_timeout",
                "use 1 to 600 (seconds)",
            ),
            (
                "max_requests_per_second = 1e-20\n",
                "max_requests_per_second",
                "use 0.1 to 1000",
            ),
            (
                "max_requests_per_second = nan\n",
                "max_requests_per_second",
                "use 0.1 to 1000",
            ),
            (
                "max_requests_per_second = inf\n",
                "max_requests_per_second",
                "use 0.1 to 1000",
            ),
        ] {
            let text = format!("ascii = true\n{text}");
            let err = Config::parse(&text, Path::new("c.toml")).unwrap_err().to_string();
            assert!(err.starts_with("config file c.toml"), "{err}");
            assert!(err.contains(&format!("line 2: {key} = ")), "{err}");
            assert!(err.contains(range), "{err}");
        }
        // The edges are accepted.
        let ok = "poll_interval = 3600\nidle_interval = 1\nattempt_timeout = 600\nmax_requests_per_second = 0.1\n";
        assert!(Config::parse(ok, Path::new("c.toml")).is_ok());
    }

    #[test]
    fn a_negative_number_names_its_key() {
        let err = Config::parse("ascii = true\npoll_interval = -1\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("poll_interval"), "{err}");
        assert!(err.contains("use 1 to 3600 (seconds)"), "{err}");
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
