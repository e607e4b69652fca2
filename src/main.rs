//! sstop's entry point: parse flags, load the config, and run the chosen subcommand.
//! Set-up problems print one line naming the problem and the fix, and exit with code 2.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use sstop::api::audit::{self, StopAttempt};
use sstop::api::sdk::{ConnectOptions, Resolved, SdkApi};
use sstop::api::{ApiError, ErrorKind, StackSetApi};
use sstop::app::{Settings, Target};
use sstop::cli::{Cli, Commands, OutputFormat, ResultsArgs, StopArgs};
use sstop::config::Config;
use sstop::messages::{self, ReadOnlySource};
use sstop::model::{CallAs, OperationResult};
use sstop::poll::{PollConfig, RateLimiter};
use sstop::tui::{self, DashboardOptions};

mod logging;

/// Exit code for bad usage or set-up (config, flags, Region...).
const USAGE: u8 = 2;

/// The profile label the demo shows; it also marks the demo's settings.
const DEMO_PROFILE: &str = "demo";

/// The longest a dashboard start waits to check that `--stack-set`/`--operation` exist; a slow
/// or failing check hands over to the dashboard, which shows and retries the error itself.
const OPEN_CHECK: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_error(err),
    };
    if let Err(why) = logging::init() {
        // Only worth a word when a log was asked for; without one sstop works the same.
        if std::env::var_os(logging::ENV).is_some() {
            eprintln!("sstop: no log: {why}");
        }
    }
    let config = match Config::load(cli.aws.config.as_deref()) {
        Ok(config) => config,
        Err(err) => return usage_error(err),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("sstop: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, config))
}

/// One line on stderr, exit code 2. Newlines in the message are folded, so a wrapped
/// error can never turn into a dump.
fn usage_error(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("sstop: {}", fold(&err.to_string()));
    ExitCode::from(USAGE)
}

fn fold(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// clap's errors, folded into the one line every set-up problem gets; --help and --version
/// print as usual.
fn clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as Kind;
    if matches!(
        err.kind(),
        Kind::DisplayHelp | Kind::DisplayVersion | Kind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let text = err.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    eprintln!("sstop: {}; see sstop --help", parts.join("; "));
    ExitCode::from(USAGE)
}

fn call_as(cli: &Cli, config: &Config) -> CallAs {
    cli.aws
        .call_as
        .map(CallAs::from)
        .or(config.call_as.map(CallAs::from))
        .unwrap_or(CallAs::SelfAccount)
}

/// Where read-only comes from, if it is set: the flag wins the naming, as it is the nearer.
fn read_only_source(cli: &Cli, config: &Config) -> Option<ReadOnlySource> {
    if cli.ui.read_only {
        Some(ReadOnlySource::Flag)
    } else if config.read_only == Some(true) {
        Some(ReadOnlySource::Config(config.source.clone()))
    } else {
        None
    }
}

fn connect_options(cli: &Cli, config: &Config) -> ConnectOptions {
    let mut options = ConnectOptions::new();
    options.read_only = read_only_source(cli, config).is_some();
    options.profile = cli.aws.profile.clone().or(config.profile.clone());
    options.region = cli.aws.region.clone().or(config.region.clone());
    options.endpoint_url = cli.aws.endpoint_url.clone().or(config.endpoint_url.clone());
    if let Some(secs) = config.attempt_timeout {
        options.attempt_timeout = Duration::from_secs(secs.max(1));
    }
    if let Some(secs) = config.credential_timeout {
        options.credential_timeout = Duration::from_secs(secs);
    }
    options
}

async fn run(cli: Cli, config: Config) -> ExitCode {
    match &cli.command {
        Some(Commands::Sim(args)) => match sstop::sim::run(args.clone()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => usage_error(format!("{err:#}")),
        },
        Some(Commands::Demo(args)) => {
            let sim = match sstop::sim::start(sstop::sim::SimOptions {
                scenario: Some(args.scenario.clone()),
                speed: args.speed,
                ..Default::default()
            })
            .await
            {
                Ok(sim) => sim,
                Err(err) => return usage_error(format!("{err:#}")),
            };
            let mut options = ConnectOptions::new();
            options.endpoint_url = Some(sim.endpoint_url());
            options.region = Some("us-east-1".to_string());
            options.dummy_credentials = true;
            options.read_only = read_only_source(&cli, &config).is_some();
            // The demo's organization has a delegated administrator: see its stack sets too.
            let call_as = cli.aws.call_as.map(CallAs::from).unwrap_or(CallAs::DelegatedAdmin);
            dashboard(&cli, &config, options, call_as, Some(DEMO_PROFILE.to_string())).await
        }
        Some(Commands::Results(args)) => {
            interruptible(async {
                let api = match connect(&cli, &config).await {
                    Ok(api) => api,
                    Err(code) => return code,
                };
                print_results(&api, args, call_as(&cli, &config)).await
            })
            .await
        }
        Some(Commands::Stop(args)) => {
            // Read-only is absolute: refused before anything else, with no connection made.
            if let Some(source) = read_only_source(&cli, &config) {
                let options = connect_options(&cli, &config);
                let refusal = ApiError::new(ErrorKind::ReadOnly, messages::stop_refused_read_only(&source));
                audit::stop(
                    &cli_attempt(args, call_as(&cli, &config), &options, None),
                    Err(&refusal),
                );
                eprintln!("sstop: {}", refusal.message);
                return ExitCode::FAILURE;
            }
            // Checked before connecting: it needs no network, and a script should learn at once.
            if !args.yes && !std::io::stdin().is_terminal() {
                return usage_error("refusing to stop without confirmation: no terminal to ask on; pass --yes");
            }
            let call_as = call_as(&cli, &config);
            // Asked before anything is looked up, and outside `interruptible`: the answer is read
            // blocking, and ctrl-c there must end sstop as it always does.
            if !args.yes && !confirmed(args, call_as) {
                eprintln!("Not stopped.");
                return ExitCode::FAILURE;
            }
            let options = connect_options(&cli, &config);
            interruptible(async {
                let (api, resolved) = match SdkApi::connect(&options).await {
                    Ok(found) => found,
                    Err(err) => return usage_error(err),
                };
                stop(&api, args, cli_attempt(args, call_as, &options, Some(&resolved))).await
            })
            .await
        }
        None => {
            let options = connect_options(&cli, &config);
            dashboard(&cli, &config, options, call_as(&cli, &config), None).await
        }
    }
}

/// The audit facts of a stop from the command line: the Region and endpoint as resolved when
/// known, else as given.
fn cli_attempt<'a>(
    args: &'a StopArgs,
    call_as: CallAs,
    options: &'a ConnectOptions,
    resolved: Option<&'a Resolved>,
) -> StopAttempt<'a> {
    StopAttempt {
        origin: "command line",
        stack_set: &args.stack_set,
        operation_id: &args.operation_id,
        call_as,
        region: resolved.map(|r| r.region.as_str()).or(options.region.as_deref()),
        endpoint: resolved
            .and_then(|r| r.endpoint.as_deref())
            .or(options.endpoint_url.as_deref()),
        profile: options.profile.as_deref(),
    }
}

async fn connect(cli: &Cli, config: &Config) -> Result<SdkApi, ExitCode> {
    SdkApi::connect(&connect_options(cli, config))
        .await
        .map(|(api, _)| api)
        .map_err(usage_error)
}

async fn dashboard(
    cli: &Cli,
    config: &Config,
    options: ConnectOptions,
    call_as: CallAs,
    profile_label: Option<String>,
) -> ExitCode {
    let keymap = match config.keymap() {
        Ok(keymap) => keymap,
        Err(err) => return usage_error(err),
    };
    let (api, resolved) = match SdkApi::connect(&options).await {
        Ok(found) => found,
        Err(err) => return usage_error(err),
    };
    let poll_secs = cli.ui.poll_interval.or(config.poll_interval).unwrap_or(5).max(1);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || config.color == Some(false);
    let settings = Settings {
        call_as,
        read_only: cli.ui.read_only || config.read_only.unwrap_or(false),
        confirm: config.confirm.unwrap_or_default(),
        keymap,
        target: Target {
            profile: profile_label.clone().or(options.profile.clone()),
            region: Some(resolved.region),
            endpoint: resolved.endpoint,
        },
        poll_interval_secs: poll_secs,
        ascii: cli.ui.ascii || config.ascii.unwrap_or(false) || !locale_is_utf8(),
        no_color,
    };
    let poll = PollConfig {
        call_as,
        active_interval: Duration::from_secs(poll_secs),
        idle_interval: Duration::from_secs(config.idle_interval.unwrap_or(30).max(1)),
        read_only: settings.read_only,
        region: settings.target.region.clone(),
        endpoint: settings.target.endpoint.clone(),
        profile: settings.target.profile.clone(),
        ..Default::default()
    };
    // The demo's emulator is on loopback and has no API budget to spare: it gets a higher default
    // ceiling so the `large` scenario fills in seconds. Against AWS the conservative default holds.
    let default_rps = if profile_label.as_deref() == Some(DEMO_PROFILE) {
        50.0
    } else {
        10.0
    };
    let rps = config.max_requests_per_second.unwrap_or(default_rps);
    let open = cli
        .ui
        .stack_set
        .clone()
        .map(|stack_set| (stack_set, cli.ui.operation.clone()));
    if let Some((stack_set, operation)) = &open {
        if let Err(code) = check_open(&api, stack_set, operation.as_deref(), call_as).await {
            return code;
        }
    }
    let options = DashboardOptions {
        settings,
        poll,
        limiter: Arc::new(RateLimiter::new(rps, rps.ceil() as u32)),
        open,
    };
    // Where and as whom, never with what credentials.
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        region = options.settings.target.region.as_deref().unwrap_or("-"),
        endpoint = options.settings.target.endpoint.as_deref().unwrap_or("default"),
        profile = options.settings.target.profile.as_deref().unwrap_or("default chain"),
        call_as = call_as.as_str(),
        "dashboard started"
    );
    match tui::run(Arc::new(api), options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sstop: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// UTF-8 unless the locale says otherwise (LC_ALL, then LC_CTYPE, then LANG).
fn locale_is_utf8() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Ok(value) = std::env::var(var) {
            if !value.is_empty() {
                let lower = value.to_ascii_lowercase();
                return lower.contains("utf-8") || lower.contains("utf8");
            }
        }
    }
    true
}

/// `--stack-set`/`--operation` must name something that exists before the screen is taken over:
/// a typo should end in a line naming it, not in an empty dashboard. Only "not found" stops
/// the start; credentials, network and throttling are the dashboard's to show and retry.
async fn check_open(api: &SdkApi, stack_set: &str, operation: Option<&str>, call_as: CallAs) -> Result<(), ExitCode> {
    let check = async {
        api.describe_stack_set(stack_set, call_as).await?;
        if let Some(operation) = operation {
            api.describe_operation(stack_set, operation, call_as).await?;
        }
        Ok::<(), ApiError>(())
    };
    match tokio::time::timeout(OPEN_CHECK, check).await {
        Ok(Err(err)) if is_not_found(&err) => Err(usage_error(not_found(
            &err,
            stack_set,
            operation.unwrap_or(""),
            call_as,
        ))),
        _ => Ok(()),
    }
}

fn is_not_found(err: &ApiError) -> bool {
    matches!(err.kind, ErrorKind::StackSetNotFound | ErrorKind::OperationNotFound)
}

/// The one line for a stack set or operation that is not there, with the likely fix.
fn not_found(err: &ApiError, stack_set: &str, operation_id: &str, call_as: CallAs) -> String {
    match (err.kind, call_as) {
        (ErrorKind::OperationNotFound, _) => format!(
            "operation {operation_id:?} not found in stack set {stack_set:?}: check the id (`sstop --stack-set {stack_set}` lists its operations)"
        ),
        (_, CallAs::SelfAccount) => format!(
            "stack set {stack_set:?} not found as SELF: check the name, or pass --call-as delegated-admin if it is a service-managed stack set of your organization"
        ),
        (_, CallAs::DelegatedAdmin) => format!(
            "stack set {stack_set:?} not found as DELEGATED_ADMIN: check the name, or pass --call-as self if it belongs to this account"
        ),
    }
}

/// A failed call in one line for the command line, with what to do where there is something.
fn describe_api_error(err: &ApiError) -> String {
    let text = match err.kind {
        ErrorKind::NoCredentials => format!(
            "{}: log in (`aws sso login`), run `aws configure`, or set AWS_PROFILE",
            err.message
        ),
        ErrorKind::ExpiredCredentials => format!(
            "credentials expired or invalid ({}): log in again or refresh your keys",
            err.message
        ),
        _ => match &err.code {
            Some(code) => format!("{code}: {}", err.message),
            None => err.message.clone(),
        },
    };
    fold(&text)
}

/// Exit code for a failed call: 2 when the input named something that is not there.
fn call_failed(err: &ApiError, stack_set: &str, operation_id: &str, call_as: CallAs) -> ExitCode {
    tracing::warn!(kind = ?err.kind, code = err.code.as_deref().unwrap_or("none"), request_id = err.request_id.as_deref().unwrap_or("none"), error = ?err.message, "call failed");
    if is_not_found(err) {
        return usage_error(not_found(err, stack_set, operation_id, call_as));
    }
    eprintln!("sstop: {}", describe_api_error(err));
    ExitCode::FAILURE
}

async fn print_results(api: &SdkApi, args: &ResultsArgs, call_as: CallAs) -> ExitCode {
    let mut results: Vec<OperationResult> = Vec::new();
    let mut token = None;
    loop {
        match api
            .list_results(
                &args.stack_set,
                &args.operation_id,
                call_as,
                args.status.map(Into::into),
                token,
            )
            .await
        {
            Ok(page) => {
                results.extend(page.items);
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
            Err(err) => return call_failed(&err, &args.stack_set, &args.operation_id, call_as),
        }
    }
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        OutputFormat::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "Account": r.account,
                        "Region": r.region,
                        "Status": r.status.as_str(),
                        "StatusReason": r.status_reason,
                        "AccountGateStatus": r.gate_status.map(|g| g.as_str()),
                        "AccountGateStatusReason": r.gate_reason,
                        "OrganizationalUnitId": r.ou,
                    })
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(rows))
        }
        OutputFormat::Table => {
            let mut text = format!(
                "{:<14} {:<16} {:<10} {:<10} {}\n",
                "ACCOUNT", "REGION", "STATUS", "GATE", "REASON"
            );
            for r in &results {
                text.push_str(&format!(
                    "{:<14} {:<16} {:<10} {:<10} {}\n",
                    r.account,
                    r.region,
                    r.status.as_str(),
                    r.gate_status.map_or("-", |g| g.as_str()),
                    r.status_reason.as_deref().unwrap_or("")
                ));
            }
            write!(out, "{text}")
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(_) => ExitCode::SUCCESS,
    }
}

/// y/N on the terminal.
fn confirmed(args: &StopArgs, call_as: CallAs) -> bool {
    eprint!(
        "Stop operation {} of stack set {} as {}? [y/N] ",
        args.operation_id,
        args.stack_set,
        call_as.as_str()
    );
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim().eq_ignore_ascii_case("y")
}

/// A subcommand's network work, cut short by ctrl-c, SIGTERM or SIGHUP: returning instead of
/// dying by the signal lets the runtime's shutdown end a credential_process still running in
/// its own process group (the terminal's ctrl-c does not reach that group).
async fn interruptible(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return work.await;
    };
    let (name, number) = tokio::select! {
        code = work => return code,
        _ = int.recv() => ("SIGINT", libc::SIGINT),
        _ = term.recv() => ("SIGTERM", libc::SIGTERM),
        _ = hup.recv() => ("SIGHUP", libc::SIGHUP),
    };
    eprintln!("sstop: interrupted by {name}");
    ExitCode::from(128 + number as u8)
}

async fn stop(api: &SdkApi, args: &StopArgs, attempt: StopAttempt<'_>) -> ExitCode {
    let call_as = attempt.call_as;
    let result = api.stop_operation(&args.stack_set, &args.operation_id, call_as).await;
    audit::stop(&attempt, result.as_ref().map(|accepted| accepted.request_id.as_deref()));
    match result {
        Ok(accepted) => {
            println!(
                "Stop sent for {} (request id {})",
                args.operation_id,
                accepted.request_id.as_deref().unwrap_or("none")
            );
            ExitCode::SUCCESS
        }
        Err(err) if is_not_found(&err) => call_failed(&err, &args.stack_set, &args.operation_id, call_as),
        Err(err) => {
            eprintln!(
                "sstop: AWS refused the stop: {}",
                fold(&sstop::app::update::stop_error_text(&err))
            );
            ExitCode::FAILURE
        }
    }
}
