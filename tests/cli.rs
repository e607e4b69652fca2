//! The binary's answers to bad input and to the command-line calls, as a person sees them: one
//! line on stderr naming the problem and the fix, and the exit code (2 for bad input). Calls go
//! to the emulator, started in this process on 127.0.0.1. Also: credentials never reach the log.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;
use sstop::model::OperationStatus;
use sstop::sim::{SimHandle, SimOptions};

const RUNAWAY_SET: &str = "vpc-flow-logs";
const RUNAWAY_OP: &str = "e1f2d3c4-b5a6-4978-8d6e-5f4a3b2c1d0e";

/// The emulator with the runaway scenario, on the runtime that keeps it serving.
struct Sim {
    handle: SimHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    fn start() -> Sim {
        Sim::with("runaway", 1.0)
    }

    /// A scenario (built-in name or file) at a clock speed; a tiny speed leaves time to
    /// `advance` alone.
    fn with(scenario: &str, speed: f64) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime
            .block_on(sstop::sim::start(SimOptions {
                scenario: Some(scenario.into()),
                speed,
                ..Default::default()
            }))
            .expect("emulator starts");
        Sim {
            handle,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        self.handle.endpoint_url()
    }

    /// An operation of the runaway stack set that has already ended.
    fn ended_operation(&self) -> String {
        self.handle
            .operation_ids(RUNAWAY_SET)
            .into_iter()
            .find(|id| {
                self.handle.operation_status(RUNAWAY_SET, id).is_some_and(|s| {
                    matches!(
                        s,
                        OperationStatus::Succeeded | OperationStatus::Failed | OperationStatus::Stopped
                    )
                })
            })
            .expect("the scenario has an ended operation")
    }
}

/// sstop with nothing from this machine: an empty home, no AWS_* variables, no instance
/// metadata, the log in the temp dir.
fn sstop(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sstop"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .timeout(std::time::Duration::from_secs(30));
    cmd
}

/// Plus dummy credentials and a Region, aimed at the emulator.
fn sstop_at(home: &Path, sim: &Sim) -> Command {
    let mut cmd = sstop(home);
    cmd.env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .args(["--endpoint-url", &sim.url()]);
    cmd
}

fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Runs, checks the exit code, and returns stderr after checking it is exactly one line of
/// ours: no backtrace, no debug dump.
fn one_line_error(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().expect("sstop runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line expected:\n{stderr}");
    assert!(stderr.starts_with("sstop: "), "{stderr}");
    for noise in [
        "panicked",
        "backtrace",
        "Error {",
        "Error:",
        "DispatchFailure",
        "{ kind",
    ] {
        assert!(!stderr.contains(noise), "{noise:?} in {stderr}");
    }
    stderr
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_unknown_profile_is_named_with_the_ones_there_are() {
    let home = home();
    let config = write(
        home.path(),
        "aws-config",
        "[profile dev]\nregion = us-east-1\n[default]\nregion = eu-west-1\n",
    );
    let creds = write(
        home.path(),
        "aws-credentials",
        "[ci]\naws_access_key_id = x\naws_secret_access_key = y\n",
    );
    let with_files = |cmd: &mut Command| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds);
    };
    let mut cmd = sstop(home.path());
    with_files(&mut cmd);
    let err = one_line_error(cmd.args(["results", "s", "o", "--profile", "nope"]), 2);
    assert!(err.contains(r#"AWS profile "nope" not found"#), "{err}");
    assert!(
        err.contains(&config.display().to_string()),
        "the file named by AWS_CONFIG_FILE: {err}"
    );
    assert!(err.contains("known profiles: ci, default, dev"), "{err}");
    assert!(err.contains("aws configure --profile nope"), "{err}");

    // AWS_PROFILE is the same flag; the dashboard checks before it takes the terminal.
    let mut cmd = sstop(home.path());
    with_files(&mut cmd);
    let err = one_line_error(cmd.env("AWS_PROFILE", "nope"), 2);
    assert!(err.contains(r#"AWS profile "nope" not found"#), "{err}");

    // A profile that exists passes the check (and the call then fails for want of an endpoint).
    let mut cmd = sstop(home.path());
    with_files(&mut cmd);
    let out = cmd
        .args([
            "results",
            "s",
            "o",
            "--profile",
            "ci",
            "--region",
            "us-east-1",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("profile"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_named_profile_without_any_config_file_is_unknown() {
    let home = home();
    let err = one_line_error(
        sstop(home.path())
            .env("AWS_CONFIG_FILE", home.path().join("missing"))
            .args(["results", "s", "o", "--profile", "dev"]),
        2,
    );
    assert!(err.contains(r#"AWS profile "dev" not found"#), "{err}");
}

#[test]
fn a_malformed_aws_config_file_is_reported_for_a_named_profile() {
    let home = home();
    let config = write(home.path(), "aws-config", "[profile dev\nregion = us-east-1\n");
    let err = one_line_error(
        sstop(home.path())
            .env("AWS_CONFIG_FILE", &config)
            .args(["results", "s", "o", "--profile", "dev"]),
        2,
    );
    assert!(
        err.contains("could not be parsed") && err.contains("must end with ']'"),
        "{err}"
    );
}

#[test]
fn no_region_anywhere() {
    let home = home();
    let err = one_line_error(sstop(home.path()).args(["results", "s", "o"]), 2);
    assert!(
        err.contains("no AWS Region is set") && err.contains("--region"),
        "{err}"
    );
}

#[test]
fn an_invalid_region_is_a_set_up_error_from_any_source() {
    let home = home();
    let bad = "../x?y#z@e";
    // The flag, for a subcommand and for the dashboard (refused before it takes the terminal).
    for args in [&["results", "s", "o", "--region", bad][..], &["--region", bad][..]] {
        let err = one_line_error(
            sstop(home.path())
                .env("AWS_ACCESS_KEY_ID", "x")
                .env("AWS_SECRET_ACCESS_KEY", "x")
                .args(args),
            2,
        );
        assert!(
            err.contains(r#"invalid AWS Region "../x?y#z@e""#) && err.contains("e.g. us-east-1"),
            "{args:?}: {err}"
        );
    }
    // The environment and the config file are checked alike.
    let err = one_line_error(
        sstop(home.path())
            .env("AWS_REGION", "Not A Region")
            .args(["results", "s", "o"]),
        2,
    );
    assert!(err.contains(r#"invalid AWS Region "Not A Region""#), "{err}");
    let config = write(home.path(), "region.toml", "region = \"us_east_1\"\n");
    let err = one_line_error(
        sstop(home.path()).args(["results", "s", "o", "--config"]).arg(&config),
        2,
    );
    assert!(err.contains(r#"invalid AWS Region "us_east_1""#), "{err}");
}

#[test]
fn several_regions_name_the_bad_one_and_the_commands_that_take_one() {
    let home = home();
    let creds = |cmd: &mut Command| {
        cmd.env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "x");
    };
    // The dashboard checks every Region of the list before taking the terminal.
    let mut cmd = sstop(home.path());
    creds(&mut cmd);
    let err = one_line_error(cmd.args(["--region", "us-east-1,eu_west_1"]), 2);
    assert!(
        err.contains(r#"invalid AWS Region "eu_west_1""#) && err.contains("e.g. us-east-1"),
        "{err}"
    );
    // An empty name in the list says how to write one.
    let err = one_line_error(sstop(home.path()).args(["--region", "us-east-1,,eu-west-1"]), 2);
    assert!(
        err.contains("empty Region name") && err.contains("--region us-east-1,eu-west-1"),
        "{err}"
    );
    // results, stop and wait act in one Region: several are refused with the fix.
    for args in [
        &["results", "s", "o"][..],
        &["stop", "s", "o", "--yes"][..],
        &["wait", "s", "o"][..],
    ] {
        let err = one_line_error(
            sstop(home.path()).args(args).args(["--region", "us-east-1,eu-west-1"]),
            2,
        );
        assert!(
            err.contains("one Region") && err.contains("--region us-east-1") && err.contains(args[0]),
            "{args:?}: {err}"
        );
    }
    // The config: regions and region together, or an empty list, name the line and the fix.
    let config = write(
        home.path(),
        "both.toml",
        "region = \"us-east-1\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n",
    );
    let err = one_line_error(sstop(home.path()).arg("--config").arg(&config), 2);
    assert!(
        err.contains("line 2") && err.contains("both region and regions"),
        "{err}"
    );
    let config = write(home.path(), "empty.toml", "regions = []\n");
    let err = one_line_error(sstop(home.path()).arg("--config").arg(&config), 2);
    assert!(err.contains("names no Region"), "{err}");
    // A config's regions reach the subcommands' check too.
    let config = write(home.path(), "two.toml", "regions = [\"us-east-1\", \"eu-west-1\"]\n");
    let err = one_line_error(
        sstop(home.path()).args(["results", "s", "o", "--config"]).arg(&config),
        2,
    );
    assert!(err.contains("regions in the config"), "{err}");
}

#[test]
fn a_malformed_endpoint_url() {
    let home = home();
    let err = one_line_error(
        sstop(home.path()).args([
            "results",
            "s",
            "o",
            "--region",
            "us-east-1",
            "--endpoint-url",
            "127.0.0.1:4566",
        ]),
        2,
    );
    assert!(
        err.contains("invalid --endpoint-url") && err.contains("http://127.0.0.1:4566"),
        "{err}"
    );
}

#[test]
fn an_invalid_call_as_is_one_line_from_clap() {
    let home = home();
    let err = one_line_error(sstop(home.path()).args(["--call-as", "root"]), 2);
    assert!(
        err.contains("'root'") && err.contains("self, delegated-admin") && err.contains("sstop --help"),
        "{err}"
    );
    let err = one_line_error(sstop(home.path()).args(["--no-such-flag"]), 2);
    assert!(err.contains("--no-such-flag"), "{err}");
    // --help still prints in full, on stdout, and succeeds.
    sstop(home.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("--call-as"));
}

#[test]
fn config_file_problems() {
    let home = home();
    let unknown = write(home.path(), "unknown.toml", "poll_interval = 5\npoll_intervall = 3\n");
    let err = one_line_error(sstop(home.path()).args(["--config"]).arg(&unknown), 2);
    assert!(
        err.contains("line 2, column 1") && err.contains("poll_intervall") && err.contains("config.example.toml"),
        "{err}"
    );

    let malformed = write(home.path(), "malformed.toml", "poll_interval = \n");
    let err = one_line_error(sstop(home.path()).args(["--config"]).arg(&malformed), 2);
    assert!(err.contains("malformed.toml, line 1"), "{err}");

    let err = one_line_error(
        sstop(home.path())
            .args(["--config"])
            .arg(home.path().join("absent.toml")),
        2,
    );
    assert!(
        err.contains("cannot read config file") && err.contains("--config"),
        "{err}"
    );
}

#[test]
fn conflicting_or_missing_key_bindings_are_config_errors_naming_them() {
    let home = home();
    // Before: accepted silently, and s-for-stop moved onto j, the key for "down".
    let clash = write(home.path(), "clash.toml", "[keys]\nstop = \"j\"\n");
    let err = one_line_error(sstop(home.path()).args(["--config"]).arg(&clash), 2);
    assert!(
        err.contains("key j is bound to both") && err.contains("down") && err.contains("stop"),
        "{err}"
    );
    // Before: accepted, leaving only ctrl-c to quit.
    let none = write(home.path(), "none.toml", "[keys]\nquit = []\n");
    let err = one_line_error(sstop(home.path()).args(["--config"]).arg(&none), 2);
    assert!(err.contains("quit has no key"), "{err}");
}

#[test]
fn numeric_settings_out_of_range_are_one_line_naming_the_key_and_range() {
    let home = home();
    // Config keys: refused at load, before any connection or terminal.
    for (text, key, range) in [
        ("poll_interval = 18446744073709551615", "poll_interval", "1 to 3600"),
        ("idle_interval = 0", "idle_interval", "1 to 3600"),
        ("attempt_timeout = 9223372036854775807", "attempt_timeout", "1 to 600"),
        (
            "max_requests_per_second = 1e-20",
            "max_requests_per_second",
            "0.1 to 1000",
        ),
    ] {
        let config = write(home.path(), "bounds.toml", &format!("{text}\n"));
        let err = one_line_error(sstop(home.path()).arg("--config").arg(&config), 2);
        assert!(err.contains(key) && err.contains(range), "{text}: {err}");
    }
    // Flags: refused by the parser, the flag and the range named.
    for (args, flag, range) in [
        (
            &["--poll-interval", "18446744073709551615"][..],
            "--poll-interval",
            "1..=3600",
        ),
        (&["--poll-interval", "0"][..], "--poll-interval", "1..=3600"),
        (&["demo", "--speed", "0"][..], "--speed", "0.001 to 10000"),
        (&["demo", "--speed", "1e300"][..], "--speed", "0.001 to 10000"),
        (&["sim", "--speed", "NaN"][..], "--speed", "0.001 to 10000"),
        (
            &["sim", "--latency-ms", "18446744073709551615"][..],
            "--latency-ms",
            "0..=60000",
        ),
        (&["sim", "--throttle-rate", "1.5"][..], "--throttle-rate", "0 to 1"),
        (&["sim", "--error-rate", "inf"][..], "--error-rate", "0 to 1"),
    ] {
        let err = one_line_error(sstop(home.path()).args(args), 2);
        assert!(err.contains(flag) && err.contains(range), "{args:?}: {err}");
    }
}

#[test]
fn a_stack_set_that_does_not_exist() {
    let sim = Sim::start();
    let home = home();
    let self_fix = r#"stack set "nope" not found as SELF: check the name, or pass --call-as delegated-admin if it is a service-managed stack set of your organization"#;
    // The dashboard checks before taking the terminal.
    let err = one_line_error(sstop_at(home.path(), &sim).args(["--stack-set", "nope"]), 2);
    assert!(err.contains(self_fix), "{err}");
    let err = one_line_error(sstop_at(home.path(), &sim).args(["results", "nope", "x"]), 2);
    assert!(err.contains(self_fix), "{err}");
    let err = one_line_error(sstop_at(home.path(), &sim).args(["stop", "nope", "x", "--yes"]), 2);
    assert!(err.contains(self_fix), "{err}");
    let err = one_line_error(
        sstop_at(home.path(), &sim).args(["results", "nope", "x", "--call-as", "delegated-admin"]),
        2,
    );
    assert!(
        err.contains(r#"stack set "nope" not found as DELEGATED_ADMIN"#) && err.contains("--call-as self"),
        "{err}"
    );
}

#[test]
fn an_operation_that_does_not_exist() {
    let sim = Sim::start();
    let home = home();
    let expected = r#"operation "nope" not found in stack set "vpc-flow-logs""#;
    let err = one_line_error(
        sstop_at(home.path(), &sim).args(["--stack-set", RUNAWAY_SET, "--operation", "nope"]),
        2,
    );
    assert!(err.contains(expected), "{err}");
    let err = one_line_error(sstop_at(home.path(), &sim).args(["results", RUNAWAY_SET, "nope"]), 2);
    assert!(err.contains(expected), "{err}");
    let err = one_line_error(
        sstop_at(home.path(), &sim).args(["stop", RUNAWAY_SET, "nope", "--yes"]),
        2,
    );
    assert!(err.contains(expected), "{err}");
}

#[test]
fn stop_without_a_terminal_needs_yes() {
    let home = home();
    // Refused before any connection is made: no endpoint or credentials needed.
    let err = one_line_error(
        sstop(home.path())
            .args(["stop", RUNAWAY_SET, RUNAWAY_OP])
            .write_stdin("y\n"),
        2,
    );
    assert!(
        err.contains("refusing to stop without confirmation") && err.contains("--yes"),
        "{err}"
    );
}

#[test]
fn stop_yes_stops_a_running_operation_and_refuses_an_ended_one() {
    let sim = Sim::start();
    let home = home();
    sstop_at(home.path(), &sim)
        .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(format!("Stop sent for {RUNAWAY_OP}")));
    let ended = sim.ended_operation();
    let err = one_line_error(
        sstop_at(home.path(), &sim).args(["stop", RUNAWAY_SET, &ended, "--yes"]),
        1,
    );
    assert!(err.contains("already ended"), "{err}");
}

#[test]
fn read_only_refuses_a_stop_by_flag_or_config_and_sends_nothing() {
    let sim = Sim::start();
    let home = home();
    let err = one_line_error(
        sstop_at(home.path(), &sim).args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes", "--read-only"]),
        1,
    );
    assert!(
        err.contains("read-only is set by --read-only") && err.contains("remove it to stop"),
        "{err}"
    );
    let config = write(home.path(), "read-only.toml", "read_only = true\n");
    let err = one_line_error(
        sstop_at(home.path(), &sim)
            .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes", "--config"])
            .arg(&config),
        1,
    );
    assert!(
        err.contains(&format!(
            "read-only is set by read_only in config file {}",
            config.display()
        )),
        "{err}"
    );
    // The emulator's own count is the witness: no stop arrived, and the operation still runs.
    assert_eq!(sim.handle.request_counts().get("StopStackSetOperation"), None);
    assert_eq!(
        sim.handle.operation_status(RUNAWAY_SET, RUNAWAY_OP),
        Some(OperationStatus::Running)
    );
    // The witness can see a stop: without read-only the same command sends one.
    sstop_at(home.path(), &sim)
        .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes"])
        .assert()
        .code(0);
    assert_eq!(sim.handle.request_counts().get("StopStackSetOperation"), Some(&1));
}

/// The audit lines of the log in the state dir.
fn audit_lines(home: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(home.join("state/sstop/sstop.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("sstop::audit"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_stop_attempt_from_the_command_line_is_audited_at_the_default_level() {
    let sim = Sim::start();
    let home = home();
    let url = sim.url();
    sstop_at(home.path(), &sim)
        .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes", "--call-as", "self"])
        .assert()
        .code(0);
    let ended = sim.ended_operation();
    sstop_at(home.path(), &sim)
        .args(["stop", RUNAWAY_SET, &ended, "--yes"])
        .assert()
        .code(1);
    sstop_at(home.path(), &sim)
        .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes", "--read-only"])
        .assert()
        .code(1);
    let lines = audit_lines(home.path());
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let expected_everywhere = [
        "origin=\"command line\"".to_string(),
        format!("stack_set=\"{RUNAWAY_SET}\""),
        "call_as=\"SELF\"".to_string(),
        format!("endpoint=\"{url}\""),
        "profile=\"default chain\"".to_string(),
    ];
    for line in &lines {
        for field in &expected_everywhere {
            assert!(line.contains(field.as_str()), "{field} missing: {line}");
        }
    }
    // The Region as resolved for the two that connected; a read-only refusal connects nowhere.
    assert!(
        lines[..2].iter().all(|l| l.contains("region=\"us-east-1\"")),
        "{lines:#?}"
    );
    let sent = &lines[0];
    assert!(
        sent.contains(" INFO sstop::audit: stop")
            && sent.contains(&format!("operation=\"{RUNAWAY_OP}\""))
            && sent.contains("outcome=\"sent\""),
        "{sent}"
    );
    assert!(
        !sent.contains("request_id=\"none\""),
        "the emulator sends a request id: {sent}"
    );
    let refused = &lines[1];
    assert!(
        refused.contains(" WARN sstop::audit: stop")
            && refused.contains("outcome=\"refused\"")
            && refused.contains("error_kind=InvalidOperation")
            && refused.contains("error_code=\"InvalidOperationException\""),
        "{refused}"
    );
    let read_only = &lines[2];
    assert!(
        read_only.contains("outcome=\"refused\"") && read_only.contains("error_kind=ReadOnly"),
        "{read_only}"
    );
}

#[test]
fn results_print_every_page_as_json_lines_csv_and_markdown() {
    let sim = Sim::start();
    let home = home();
    let run = |output: &str| {
        let out = sstop_at(home.path(), &sim)
            .args(["results", RUNAWAY_SET, RUNAWAY_OP, "--output", output])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let json = run("json");
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {l}")))
        .collect();
    assert!(rows.len() > 100, "more than one page of results: {}", rows.len());
    assert!(rows.iter().all(|r| r["Account"].is_string() && r["Status"].is_string()));
    let csv = run("csv");
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("Account,Region,Status,StatusReason,AccountGateStatus,AccountGateStatusReason,OrganizationalUnitId")
    );
    // The runaway scenario's reasons hold commas: quoted, so each record still has 7 fields.
    let failed = csv.lines().filter(|l| l.contains(",FAILED,")).collect::<Vec<_>>();
    assert!(
        !failed.is_empty() && failed.iter().all(|l| l.contains(",\"")),
        "{failed:?}"
    );
    assert_eq!(
        csv.matches("\r\n").count(),
        rows.len() + 1,
        "a header and one record per result"
    );
    let markdown = run("markdown");
    assert!(markdown.starts_with("| Account | Region | Status |"), "{markdown}");
    assert_eq!(markdown.lines().count(), rows.len() + 2);
    assert_eq!(run("table").lines().count(), rows.len() + 1);
}

#[test]
fn no_credentials_on_the_command_line_is_one_line() {
    let sim = Sim::start();
    let home = home();
    let err = one_line_error(
        sstop(home.path()).args([
            "results",
            RUNAWAY_SET,
            RUNAWAY_OP,
            "--region",
            "us-east-1",
            "--endpoint-url",
            &sim.url(),
        ]),
        1,
    );
    assert!(
        err.contains("no AWS credentials found") && err.contains("aws configure"),
        "{err}"
    );
}

#[test]
fn credentials_never_reach_the_log() {
    let sim = Sim::start();
    let home = home();
    // Shaped like real temporary credentials, so pattern-based scrubbing is exercised too.
    let key_id = "ASIAQSSTOPTEST7EXAMP";
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSSTOPSECRET";
    let token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDsstopTOKENsecretPART";
    let out = sstop(home.path())
        .env("SSTOP_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token)
        .args([
            "results",
            RUNAWAY_SET,
            RUNAWAY_OP,
            "--region",
            "us-east-1",
            "--endpoint-url",
            &sim.url(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = home.path().join("state/sstop");
    let log_path = dir.join("sstop.log");
    let log = std::fs::read_to_string(&log_path).expect("a log file in the state dir");
    // The filter worked: the SDK's trace lines are there, so the secrets had every chance to be.
    assert!(
        log.contains("TRACE") && log.contains("aws_smithy_runtime"),
        "expected SDK trace lines:\n{}",
        &log[..log.len().min(2000)]
    );
    for (what, value) in [
        ("access key id", key_id),
        ("secret key", secret),
        ("session token", token),
    ] {
        assert!(!log.contains(value), "the {what} is in the log");
        // Fragments too: a secret split or partly masked is still a leak.
        assert!(!log.contains(&value[4..20]), "part of the {what} is in the log");
    }
    let mode = std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "log file mode {mode:o}");
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "log dir mode {dir_mode:o}");
    // Nothing of the log on the terminal's streams.
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_existing_log_file_is_made_private() {
    let home = home();
    let dir = home.path().join("state/sstop");
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = write(&dir, "sstop.log", "");
    std::fs::set_permissions(&log_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Any run that gets past the flags opens the log; this one stops at the missing Region.
    sstop(home.path()).args(["results", "s", "o"]).assert().code(2);
    let mode = std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "log file mode {mode:o}");
}

#[test]
fn the_emulator_binds_loopback_and_warns_otherwise() {
    use std::io::{BufRead, Read};
    let home = home();
    let help = sstop(home.path()).args(["sim", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("[default: 127.0.0.1:4566]"));

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sstop"))
        .args(["sim", "--listen", "0.0.0.0:0"])
        .env("XDG_STATE_HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("sstop sim listening on http://0.0.0.0:"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

/// An AWS config whose profile `name` gets its credentials from `script` (a shell script body,
/// which can write to `pids` in the same dir), and an sstop config with a short lookup timeout.
struct HelperProfile {
    aws_config: std::path::PathBuf,
    sstop_config: std::path::PathBuf,
    pids: std::path::PathBuf,
}

impl HelperProfile {
    fn new(home: &Path, name: &str, script: &str) -> HelperProfile {
        let pids = home.join("pids");
        let helper = write(home, "helper.sh", &format!("#!/bin/sh\n{script}\n"));
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let aws_config = write(
            home,
            "aws-config",
            &format!(
                "[profile {name}]\nregion = us-east-1\ncredential_process = {}\n",
                helper.display()
            ),
        );
        let sstop_config = write(home, "sstop.toml", "credential_timeout = 1\n");
        HelperProfile {
            aws_config,
            sstop_config,
            pids,
        }
    }

    /// `sstop ARGS --profile NAME` aimed at the emulator, with no other credentials around.
    fn sstop(&self, home: &Path, sim: &Sim, name: &str) -> Command {
        let mut cmd = sstop(home);
        cmd.env("AWS_CONFIG_FILE", &self.aws_config)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
            .args(["--profile", name, "--endpoint-url", &sim.url(), "--config"])
            .arg(&self.sstop_config);
        cmd
    }

    fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(&self.pids)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

/// Whether process `pid` has ended or ends within `within`: a pidfd turns readable when it
/// does, so this waits on the kernel's word, not on a guessed sleep.
fn ends_within(pid: i32, within: std::time::Duration) -> bool {
    // SAFETY: plain syscalls on a descriptor this function owns.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
        if fd < 0 {
            // No such process: already gone and reaped.
            return true;
        }
        let mut watch = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = libc::poll(&mut watch, 1, within.as_millis() as i32);
        libc::close(fd);
        ready == 1
    }
}

/// `f` on a thread, its answer if it comes within `within`.
fn within<T: Send + 'static>(within: std::time::Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(within).ok()
}

#[test]
fn a_hanging_credential_process_is_cut_named_and_ended() {
    let sim = Sim::start();
    let home = home();
    // The helper and a child of its own hang; both pids are noted.
    let helper = HelperProfile::new(
        home.path(),
        "slow",
        &format!(
            "sleep 1000 &\necho $$ $! >> '{}'\nwait",
            home.path().join("pids").display()
        ),
    );
    let err = one_line_error(
        helper
            .sstop(home.path(), &sim, "slow")
            .args(["results", RUNAWAY_SET, RUNAWAY_OP]),
        1,
    );
    assert!(
        err.contains("the credential_process of profile slow did not answer within 1 s")
            && err.contains("aws configure export-credentials --profile slow")
            && err.contains("credential_timeout"),
        "{err}"
    );
    let pids = helper.pids();
    assert_eq!(pids.len(), 2, "one helper and its child: {pids:?}");
    for pid in pids {
        assert!(
            ends_within(pid, std::time::Duration::from_secs(5)),
            "process {pid} of the helper outlived sstop"
        );
    }
    assert_eq!(sim.handle.total_requests(), 0, "no call without credentials");
}

#[test]
fn bad_json_from_a_credential_process_is_named_as_such() {
    let sim = Sim::start();
    let home = home();
    let helper = HelperProfile::new(home.path(), "broken", "echo '<html>not json</html>'");
    let err = one_line_error(
        helper
            .sstop(home.path(), &sim, "broken")
            .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes"]),
        1,
    );
    assert!(
        err.contains("the credential_process of profile broken printed bad JSON")
            && !err.contains("no AWS credentials found"),
        "{err}"
    );
    assert_eq!(sim.handle.request_counts().get("StopStackSetOperation"), None);
}

#[test]
fn a_working_credential_process_is_used() {
    let sim = Sim::start();
    let home = home();
    let helper = HelperProfile::new(
        home.path(),
        "ok",
        &format!(
            "echo $$ >> '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIDHELPER\", \"SecretAccessKey\": \"s\"}}'",
            home.path().join("pids").display()
        ),
    );
    let out = helper
        .sstop(home.path(), &sim, "ok")
        .args(["results", RUNAWAY_SET, RUNAWAY_OP, "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // One run for every page of results: the credentials are kept.
    assert_eq!(helper.pids().len(), 1, "{:?}", helper.pids());
}

#[test]
fn an_interrupted_lookup_leaves_no_helper_behind() {
    let sim = Sim::start();
    let home = home();
    let started = home.path().join("started");
    let fifo = std::ffi::CString::new(started.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a path in our own temp dir.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let helper = HelperProfile::new(
        home.path(),
        "slow",
        &format!("sleep 1000 &\necho $$ $! > '{}'\nwait", started.display()),
    );
    // A long timeout: only the interrupt ends this lookup.
    write(home.path(), "sstop.toml", "credential_timeout = 600\n");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sstop"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &helper.aws_config)
        .args(["--profile", "slow", "--endpoint-url", &sim.url(), "--config"])
        .arg(&helper.sstop_config)
        .args(["results", RUNAWAY_SET, RUNAWAY_OP])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let sstop_pid = child.id() as i32;
    // The helper writes once it runs; the read blocks until then.
    let pids = within(std::time::Duration::from_secs(20), move || {
        std::fs::read_to_string(started)
    })
    .expect("the helper starts")
    .unwrap();
    let pids: Vec<i32> = pids.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(sstop_pid, libc::SIGINT) };
    let out = within(std::time::Duration::from_secs(20), move || child.wait_with_output())
        .expect("sstop ends on SIGINT")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    for pid in pids {
        assert!(
            ends_within(pid, std::time::Duration::from_secs(5)),
            "process {pid} of the helper outlived sstop"
        );
    }
}

/// `sstop wait ... --output json` started in the background against `sim`; its JSON lines as
/// they come, and its exit code once it ends.
struct Waiter {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    events: Vec<serde_json::Value>,
}

impl Waiter {
    fn start(home: &Path, sim: &Sim, args: &[&str]) -> Waiter {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sstop"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_REGION", "us-east-1")
            .args([
                "--endpoint-url",
                &sim.url(),
                "--poll-interval",
                "1",
                "wait",
                "--output",
                "json",
            ])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sstop wait starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Waiter {
            child,
            lines,
            events: Vec::new(),
        }
    }

    fn parse(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Blocks until wait has reported its first event (it has read the operation once).
    fn first_event(&mut self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("sstop wait reports within 30 s");
        let event = Waiter::parse(&line);
        self.events.push(event.clone());
        event
    }

    fn finish(mut self) -> (i32, Vec<serde_json::Value>) {
        let status = self.child.wait().expect("sstop wait ends");
        while let Ok(line) = self.lines.recv_timeout(std::time::Duration::from_secs(5)) {
            self.events.push(Waiter::parse(&line));
        }
        (status.code().unwrap_or(-1), self.events)
    }
}

fn statuses(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "status")
        .map(|e| e["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn wait_exits_4_when_an_operation_succeeds_with_failed_instances() {
    let home = home();
    let sim = Sim::with("runaway", 0.001);
    let mut waiter = Waiter::start(home.path(), &sim, &[RUNAWAY_SET, RUNAWAY_OP]);
    assert_eq!(waiter.first_event()["status"], "RUNNING");
    // The rollout runs on the emulator's clock: two simulated hours end it.
    for _ in 0..8 {
        sim.handle.advance(std::time::Duration::from_secs(900));
    }
    let (code, events) = waiter.finish();
    assert_eq!(code, 4, "{events:?}");
    assert_eq!(statuses(&events).first().map(String::as_str), Some("RUNNING"));
    assert_eq!(statuses(&events).last().map(String::as_str), Some("SUCCEEDED"));
    let failures = events.iter().filter(|e| e["event"] == "failure").count();
    let summary = events.last().expect("a summary");
    assert_eq!(summary["event"], "summary");
    let failed = summary["counts"]["FAILED"].as_u64().unwrap_or(0) as usize;
    assert!(
        failed > 0 && failed == failures,
        "each failure reported once: {failures} vs {failed}"
    );
    assert!(summary["failures"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .contains("<account>"));
}

#[test]
fn wait_exits_3_when_the_operation_is_stopped() {
    let home = home();
    let sim = Sim::with("runaway", 0.001);
    let mut waiter = Waiter::start(home.path(), &sim, &[RUNAWAY_SET, "--latest"]);
    assert_eq!(waiter.first_event()["status"], "RUNNING");
    sstop_at(home.path(), &sim)
        .args(["stop", RUNAWAY_SET, RUNAWAY_OP, "--yes"])
        .assert()
        .success();
    sim.handle.advance(std::time::Duration::from_secs(3600));
    let (code, events) = waiter.finish();
    assert_eq!(code, 3, "{events:?}");
    assert_eq!(statuses(&events).last().map(String::as_str), Some("STOPPED"));
}

#[test]
fn wait_exits_5_at_its_timeout_and_0_on_a_clean_success() {
    let home = home();
    let sim = Sim::with("runaway", 0.001);
    let (code, events) = Waiter::start(home.path(), &sim, &[RUNAWAY_SET, RUNAWAY_OP, "--timeout", "1"]).finish();
    assert_eq!(code, 5, "{events:?}");
    assert_eq!(events.last().map(|e| e["event"].clone()), Some("timeout".into()));
    // cost-anomaly-alerts' only operation ended long ago with every instance deployed.
    let (code, events) = Waiter::start(home.path(), &sim, &["cost-anomaly-alerts", "--latest"]).finish();
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(events.last().map(|e| e["status"].clone()), Some("SUCCEEDED".into()));
}

#[test]
fn wait_exits_1_when_the_operation_fails() {
    let home = home();
    // One account, one Region, no tolerance, and a failure: the operation fails.
    let scenario = write(
        home.path(),
        "fails.toml",
        r#"description = "an operation that fails"
[timing]
deploy_secs = 30
[organization]
management_account = "111111111111"
regions = ["us-east-1"]
[[organization.ous]]
id = "ou-test-one"
name = "One"
accounts = ["222222222222", "333333333333"]
[[stack_sets]]
name = "breaks"
[[stack_sets.operations]]
id = "0b0b0b0b-0000-4000-8000-000000000001"
action = "CREATE"
started_mins_ago = 0
accounts = ["222222222222", "333333333333"]
regions = ["us-east-1"]
[stack_sets.operations.preferences]
max_concurrent_count = 1
failure_tolerance_count = 0
[[stack_sets.operations.failures]]
accounts = ["222222222222"]
reason = "ResourceLogicalId:Topic, ResourceType:AWS::SNS::Topic, ResourceStatusReason:quota reached."
"#,
    );
    let sim = Sim::with(&scenario.display().to_string(), 0.001);
    let mut waiter = Waiter::start(home.path(), &sim, &["breaks", "0b0b0b0b-0000-4000-8000-000000000001"]);
    waiter.first_event();
    sim.handle.advance(std::time::Duration::from_secs(600));
    let (code, events) = waiter.finish();
    assert_eq!(code, 1, "{events:?}");
    assert_eq!(statuses(&events).last().map(String::as_str), Some("FAILED"));
}

#[test]
fn wait_follows_a_queued_operation_into_running() {
    let home = home();
    let sim = Sim::with("rollout", 0.001);
    let queued = "a41c8e22-7b3d-4f6a-8e5c-2d9b0f1a3c47";
    let mut waiter = Waiter::start(
        home.path(),
        &sim,
        &["--call-as", "delegated-admin", "org-guardrails", queued],
    );
    assert_eq!(waiter.first_event()["status"], "QUEUED");
    for _ in 0..12 {
        sim.handle.advance(std::time::Duration::from_secs(900));
    }
    let (code, events) = waiter.finish();
    let seen = statuses(&events);
    assert_eq!(seen.first().map(String::as_str), Some("QUEUED"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("SUCCEEDED"), "{seen:?}");
    let failed = events.last().map_or(0, |e| e["counts"]["FAILED"].as_u64().unwrap_or(0));
    assert_eq!(code, if failed > 0 { 4 } else { 0 }, "{events:?}");
}

#[test]
fn wait_stop_if_failures_stops_the_runaway_at_n_failures_audits_it_and_exits_3() {
    let home = home();
    let sim = Sim::with("runaway", 0.001);
    let failed_now = |sim: &Sim| {
        sim.handle
            .operation_results(RUNAWAY_SET, RUNAWAY_OP)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.status == sstop::model::ResultStatus::Failed)
            .count()
    };
    let threshold = failed_now(&sim) + 3;
    let n = threshold.to_string();
    let mut waiter = Waiter::start(
        home.path(),
        &sim,
        &["--stop-if-failures", &n, "--yes", RUNAWAY_SET, RUNAWAY_OP],
    );
    assert_eq!(waiter.first_event()["status"], "RUNNING");
    let stops = |sim: &Sim| {
        sim.handle
            .request_counts()
            .get("StopStackSetOperation")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(stops(&sim), 0, "below the threshold nothing is stopped");
    // Simulated minutes until the threshold is passed, then until the stop has taken effect.
    for _ in 0..240 {
        if failed_now(&sim) >= threshold {
            break;
        }
        sim.handle.advance(std::time::Duration::from_secs(30));
    }
    assert!(failed_now(&sim) >= threshold, "the runaway kept failing");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while stops(&sim) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(stops(&sim), 1, "wait sent the stop once the threshold was reached");
    for _ in 0..8 {
        sim.handle.advance(std::time::Duration::from_secs(900));
    }
    let (code, events) = waiter.finish();
    assert_eq!(code, 3, "{events:?}");
    assert_eq!(stops(&sim), 1, "and only once");
    let sent: Vec<_> = events.iter().filter(|e| e["event"] == "stop_sent").collect();
    assert_eq!(sent.len(), 1, "{events:?}");
    assert!(sent[0]["failed"].as_u64().unwrap_or(0) >= threshold as u64, "{sent:?}");
    assert_eq!(statuses(&events).last().map(String::as_str), Some("STOPPED"));
    let audit = audit_lines(home.path());
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].contains("wait --stop-if-failures") && audit[0].contains("outcome=\"sent\""),
        "{}",
        audit[0]
    );
}

#[test]
fn wait_stop_if_failures_is_refused_under_read_only_before_any_call() {
    let home = home();
    let sim = Sim::start();
    let err = one_line_error(
        sstop_at(home.path(), &sim).args([
            "--read-only",
            "wait",
            RUNAWAY_SET,
            RUNAWAY_OP,
            "--stop-if-failures",
            "3",
        ]),
        2,
    );
    assert!(
        err.contains("--stop-if-failures") && err.contains("--read-only") && err.contains("drop"),
        "{err}"
    );
    assert_eq!(sim.handle.total_requests(), 0, "nothing was sent");
    let audit = audit_lines(home.path());
    assert!(
        audit.len() == 1 && audit[0].contains("outcome=\"refused\""),
        "{audit:?}"
    );
    // Without the flag, read-only waits as usual.
    let (code, _) = Waiter::start(home.path(), &sim, &["cost-anomaly-alerts", "--latest"]).finish();
    assert_eq!(code, 0);
}

#[test]
fn wait_runs_the_notify_command_for_a_new_failure_reason_and_the_end() {
    let home = home();
    let sim = Sim::with("runaway", 0.001);
    let events_file = home.path().join("events.jsonl");
    let config_dir = home.path().join(".config/sstop");
    std::fs::create_dir_all(&config_dir).unwrap();
    write(
        &config_dir,
        "config.toml",
        &format!(
            "[notify]\nbell = false\ncommand = {:?}\n",
            format!("cat >> '{}'", events_file.display())
        ),
    );
    let mut waiter = Waiter::start(home.path(), &sim, &[RUNAWAY_SET, RUNAWAY_OP]);
    waiter.first_event();
    for _ in 0..8 {
        sim.handle.advance(std::time::Duration::from_secs(900));
    }
    let (code, waited) = waiter.finish();
    assert_eq!(code, 4);
    let groups = waited
        .last()
        .map_or(0, |s| s["failures"].as_array().map_or(0, Vec::len));
    assert!(groups >= 2, "the runaway fails for more than one reason: {waited:?}");
    let text = std::fs::read_to_string(&events_file).expect("the command ran");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // One new_failure per reason (account ids masked, as the summary groups them), one end.
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "new_failure").count(),
        groups,
        "{events:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "operation_ended").count(),
        1,
        "{events:?}"
    );
    let ended = events.iter().find(|e| e["event"] == "operation_ended").unwrap();
    assert_eq!(ended["status"], "SUCCEEDED");
}

/// An endpoint that answers every call as CloudFormation does when access is denied (HTTP 403,
/// an awsQuery error body); serves until the test ends.
fn access_denied_endpoint() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head and the body it announces, then answer.
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if request.len() < head_end + 4 + length {
                        continue;
                    }
                    let body = "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::111111111111:user/ci is not authorized to perform: cloudformation:DescribeStackSetOperation</Message></Error><RequestId>00000000-0000-4000-8000-000000000403</RequestId></ErrorResponse>";
                    let response = format!(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes());
                    request.clear();
                }
            });
        }
    });
    url
}

#[test]
fn wait_exits_6_when_the_outcome_cannot_be_read_and_2_on_bad_input() {
    let home = home();
    let out = sstop(home.path())
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .args([
            "--endpoint-url",
            &access_denied_endpoint(),
            "wait",
            RUNAWAY_SET,
            RUNAWAY_OP,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("not authorized"), "{stderr}");
    // Bad input: an unknown stack set, an operation id and --latest together, no operation.
    let sim = Sim::start();
    one_line_error(sstop_at(home.path(), &sim).args(["wait", "no-such-set", "--latest"]), 2);
    for args in [
        &["wait", RUNAWAY_SET, RUNAWAY_OP, "--latest"][..],
        &["wait", RUNAWAY_SET],
    ] {
        let out = sstop_at(home.path(), &sim).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn instances_print_every_page_filtered_by_status_and_detailed_status() {
    let sim = Sim::start();
    let home = home();
    let run = |extra: &[&str]| {
        let out = sstop_at(home.path(), &sim)
            .args(["instances", RUNAWAY_SET])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, json, err) = run(&["--output", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert!(rows.len() > 100, "more than one page: {}", rows.len());
    let status = |r: &serde_json::Value| r["Status"].as_str().unwrap().to_string();
    let outdated = rows.iter().filter(|r| status(r) == "OUTDATED").count();
    assert!(
        outdated > 0 && outdated < rows.len(),
        "a running rollout leaves both kinds"
    );
    // --status is filtered here, --detailed-status by the emulator: both agree with the whole list.
    let (_, csv, _) = run(&["--status", "outdated", "--output", "csv"]);
    assert_eq!(
        csv.split("\r\n").filter(|l| !l.is_empty()).count(),
        outdated + 1,
        "header + OUTDATED rows"
    );
    assert!(csv
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .all(|l| l.contains(",OUTDATED,")));
    let failed = rows
        .iter()
        .filter(|r| r["StackInstanceStatus"]["DetailedStatus"] == "FAILED")
        .count();
    assert!(failed > 0, "the runaway leaves FAILED instances");
    let (_, table, _) = run(&["--detailed-status", "failed"]);
    assert_eq!(table.lines().count(), failed + 1, "{table}");
    let (code, out, err) = run(&["--status", "inoperable"]);
    assert_eq!((code, out.lines().count()), (Some(0), 1), "only the header: {err}");
    let out = sstop_at(home.path(), &sim)
        .args(["instances", "no-such-set"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    assert!(out.stdout.is_empty(), "no header before the error");
}

#[test]
fn wait_stop_if_failures_without_a_terminal_needs_yes_and_reads_nothing() {
    let home = home();
    let sim = Sim::start();
    let err = one_line_error(
        sstop_at(home.path(), &sim)
            .args(["wait", RUNAWAY_SET, RUNAWAY_OP, "--stop-if-failures", "3"])
            .write_stdin(""),
        2,
    );
    assert!(err.contains("--yes") && err.contains("--stop-if-failures"), "{err}");
    assert_eq!(sim.handle.total_requests(), 0, "nothing was read or sent");
    // --yes alone means nothing without a stop to agree to: clap says so.
    let out = sstop_at(home.path(), &sim)
        .args(["wait", RUNAWAY_SET, RUNAWAY_OP, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stop-if-failures"));
}

#[test]
fn a_listing_that_cannot_be_written_fails() {
    let sim = Sim::start();
    let home = home();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sstop"))
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .args(["--endpoint-url", &sim.url(), "results", RUNAWAY_SET, RUNAWAY_OP])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a full disk must not look like success");
    assert!(String::from_utf8_lossy(&out.stderr).contains("incomplete"));
}
