//! Flags over the config over defaults, in one pure place: what the dashboard runs with
//! (`app::Settings`), how the poller paces itself (`PollConfig`) and the request ceiling. The
//! process environment arrives as a value, so every rule here is unit-tested.

use std::time::Duration;

use crate::app::{KeyMap, Settings, Target};
use crate::cli::Cli;
use crate::config::Config;
use crate::model::CallAs;
use crate::poll::PollConfig;

/// Seconds between refreshes of a running operation when neither flag nor config says.
pub const DEFAULT_POLL_SECS: u64 = 5;
/// Seconds between refreshes of the overview and of idle lists when the config does not say.
pub const DEFAULT_IDLE_SECS: u64 = 30;

/// What the dashboard needs to know about the process it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Environment {
    /// NO_COLOR is set to something.
    pub no_color: bool,
    /// The locale's character set is UTF-8 (or unsaid).
    pub utf8: bool,
}

impl Environment {
    pub fn from_process() -> Environment {
        Environment {
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            utf8: locale_is_utf8(|name| std::env::var(name).ok()),
        }
    }
}

/// UTF-8 unless the locale says otherwise (LC_ALL, then LC_CTYPE, then LANG; the first set wins).
pub fn locale_is_utf8(var: impl Fn(&str) -> Option<String>) -> bool {
    for name in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Some(value) = var(name).filter(|v| !v.is_empty()) {
            let lower = value.to_ascii_lowercase();
            return lower.contains("utf-8") || lower.contains("utf8");
        }
    }
    true
}

/// Seconds between refreshes of a running operation: the flag, else the config, else 5. The
/// dashboard and `sstop wait` both poll at it.
pub fn poll_interval_secs(cli: &Cli, config: &Config) -> u64 {
    cli.ui
        .poll_interval
        .or(config.poll_interval)
        .unwrap_or(DEFAULT_POLL_SECS)
        .max(1)
}

/// Everything the dashboard starts with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub settings: Settings,
    pub poll: PollConfig,
    /// The ceiling of polling's adaptive rate, if the config sets one (stops are exempt).
    /// Without it, 50 requests a second (`RateLimiter::polling`).
    pub max_requests_per_second: Option<f64>,
}

impl Settings {
    /// The dashboard's settings: each flag, else its config key, else the default. `target` is
    /// where calls go once aws-config has resolved it; `call_as` has been chosen already (the
    /// demo defaults it differently). Fails only on a config `[keys]` table that does not make
    /// a keymap (the config loader has checked it already, so in practice never).
    pub fn resolve(
        cli: &Cli,
        config: &Config,
        env: Environment,
        call_as: CallAs,
        target: Target,
    ) -> Result<Resolved, String> {
        let keymap: KeyMap = config.keymap()?;
        let poll_secs = poll_interval_secs(cli, config);
        let idle_secs = config.idle_interval.unwrap_or(DEFAULT_IDLE_SECS).max(1);
        let read_only = cli.ui.read_only || config.read_only == Some(true);
        let settings = Settings {
            call_as,
            read_only,
            confirm: config.confirm.unwrap_or_default(),
            keymap,
            target,
            poll_interval_secs: poll_secs,
            ascii: cli.ui.ascii || config.ascii == Some(true) || !env.utf8,
            no_color: env.no_color || config.color == Some(false),
            notify: config.notify.resolve(),
            export_dir: config.export_dir.clone(),
        };
        let poll = PollConfig {
            call_as,
            active_interval: Duration::from_secs(poll_secs),
            idle_interval: Duration::from_secs(idle_secs),
            read_only,
            region: settings.target.region.clone(),
            endpoint: settings.target.endpoint.clone(),
            profile: settings.target.profile.clone(),
            ..Default::default()
        };
        Ok(Resolved {
            settings,
            poll,
            max_requests_per_second: config.max_requests_per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::app::ConfirmMode;

    const PLAIN: Environment = Environment {
        no_color: false,
        utf8: true,
    };

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("sstop").chain(args.iter().copied())).expect("valid flags")
    }

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("test.toml")).expect("valid config")
    }

    fn target() -> Target {
        Target {
            profile: Some("ops".into()),
            region: Some("eu-west-1".into()),
            regions: Vec::new(),
            endpoint: Some("http://127.0.0.1:4566".into()),
        }
    }

    fn resolve(cli: &Cli, config: &Config, env: Environment) -> Resolved {
        Settings::resolve(cli, config, env, CallAs::SelfAccount, target()).expect("resolves")
    }

    #[test]
    fn defaults_when_nothing_is_said() {
        let r = resolve(&cli(&[]), &Config::default(), PLAIN);
        assert_eq!(r.settings.poll_interval_secs, DEFAULT_POLL_SECS);
        assert_eq!(r.poll.active_interval, Duration::from_secs(DEFAULT_POLL_SECS));
        assert_eq!(r.poll.idle_interval, Duration::from_secs(DEFAULT_IDLE_SECS));
        assert!(!r.settings.read_only && !r.poll.read_only);
        assert_eq!(r.settings.confirm, ConfirmMode::YesNo);
        assert!(!r.settings.ascii && !r.settings.no_color);
        assert_eq!(r.max_requests_per_second, None, "the default ceiling applies");
    }

    #[test]
    fn a_flag_beats_the_config_which_beats_the_default() {
        let file = config("poll_interval = 9\nidle_interval = 60\n");
        let r = resolve(&cli(&[]), &file, PLAIN);
        assert_eq!(r.settings.poll_interval_secs, 9);
        assert_eq!(r.poll.idle_interval, Duration::from_secs(60));
        let r = resolve(&cli(&["--poll-interval", "2"]), &file, PLAIN);
        assert_eq!(r.settings.poll_interval_secs, 2);
        assert_eq!(r.poll.active_interval, Duration::from_secs(2));
    }

    #[test]
    fn read_only_from_either_reaches_the_dialog_and_the_poller() {
        for (flags, text) in [(&["--read-only"][..], ""), (&[][..], "read_only = true\n")] {
            let r = resolve(&cli(flags), &config(text), PLAIN);
            assert!(r.settings.read_only, "{flags:?} {text:?}");
            assert!(r.poll.read_only, "{flags:?} {text:?}");
        }
        let r = resolve(&cli(&[]), &config("read_only = false\n"), PLAIN);
        assert!(!r.settings.read_only);
    }

    #[test]
    fn colour_and_ascii_follow_the_environment_flags_and_config() {
        let r = resolve(
            &cli(&[]),
            &Config::default(),
            Environment {
                no_color: true,
                utf8: true,
            },
        );
        assert!(r.settings.no_color);
        let r = resolve(&cli(&[]), &config("color = false\n"), PLAIN);
        assert!(r.settings.no_color);
        let r = resolve(
            &cli(&[]),
            &Config::default(),
            Environment {
                no_color: false,
                utf8: false,
            },
        );
        assert!(r.settings.ascii, "a non-UTF-8 locale draws ASCII");
        assert!(resolve(&cli(&["--ascii"]), &Config::default(), PLAIN).settings.ascii);
        assert!(resolve(&cli(&[]), &config("ascii = true\n"), PLAIN).settings.ascii);
    }

    #[test]
    fn a_fixed_ceiling_only_when_the_config_sets_one() {
        let file = config("max_requests_per_second = 3\n");
        assert_eq!(resolve(&cli(&[]), &file, PLAIN).max_requests_per_second, Some(3.0));
    }

    #[test]
    fn the_poller_audits_stops_with_the_target_and_confirm_mode_comes_from_the_config() {
        let r = resolve(&cli(&[]), &config("confirm = \"type-name\"\n"), PLAIN);
        assert_eq!(r.settings.confirm, ConfirmMode::TypeName);
        assert_eq!(r.poll.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.poll.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(r.poll.profile.as_deref(), Some("ops"));
    }

    #[test]
    fn the_locale_decides_utf8_in_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert!(locale_is_utf8(env(&[])));
        assert!(!locale_is_utf8(env(&[("LANG", "C")])));
        assert!(locale_is_utf8(env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "C")])));
        assert!(!locale_is_utf8(env(&[("LC_CTYPE", "POSIX"), ("LANG", "en_US.utf8")])));
        assert!(locale_is_utf8(env(&[("LC_ALL", ""), ("LANG", "en_US.utf8")])));
    }
}
