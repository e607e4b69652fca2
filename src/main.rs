//! sstop's entry point: parse flags, load the config, and run the chosen subcommand.
//! Set-up problems print one line naming the problem and the fix, and exit with code 2.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::{ApiError, StackSetApi};
use sstop::app::{Settings, Target};
use sstop::cli::{Cli, Commands, OutputFormat, ResultsArgs, StopArgs};
use sstop::config::Config;
use sstop::model::{CallAs, OperationResult};
use sstop::poll::{PollConfig, RateLimiter};
use sstop::tui::{self, DashboardOptions};

/// Exit code for bad usage or set-up (config, flags, Region...).
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
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

fn usage_error(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("sstop: {err}");
    ExitCode::from(USAGE)
}

fn call_as(cli: &Cli, config: &Config) -> CallAs {
    cli.aws.call_as.map(CallAs::from).or(config.call_as.map(CallAs::from)).unwrap_or(CallAs::SelfAccount)
}

fn connect_options(cli: &Cli, config: &Config) -> ConnectOptions {
    let mut options = ConnectOptions::new();
    options.profile = cli.aws.profile.clone().or(config.profile.clone());
    options.region = cli.aws.region.clone().or(config.region.clone());
    options.endpoint_url = cli.aws.endpoint_url.clone().or(config.endpoint_url.clone());
    if let Some(secs) = config.attempt_timeout {
        options.attempt_timeout = Duration::from_secs(secs.max(1));
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
            // The demo's organization has a delegated administrator: see its stack sets too.
            let call_as = cli.aws.call_as.map(CallAs::from).unwrap_or(CallAs::DelegatedAdmin);
            dashboard(&cli, &config, options, call_as, Some("demo".to_string())).await
        }
        Some(Commands::Results(args)) => {
            let api = match connect(&cli, &config).await {
                Ok(api) => api,
                Err(code) => return code,
            };
            print_results(&api, args, call_as(&cli, &config)).await
        }
        Some(Commands::Stop(args)) => {
            let api = match connect(&cli, &config).await {
                Ok(api) => api,
                Err(code) => return code,
            };
            stop(&api, args, call_as(&cli, &config)).await
        }
        None => {
            let options = connect_options(&cli, &config);
            dashboard(&cli, &config, options, call_as(&cli, &config), None).await
        }
    }
}

async fn connect(cli: &Cli, config: &Config) -> Result<SdkApi, ExitCode> {
    SdkApi::connect(&connect_options(cli, config)).await.map(|(api, _)| api).map_err(usage_error)
}

async fn dashboard(cli: &Cli, config: &Config, options: ConnectOptions, call_as: CallAs, profile_label: Option<String>) -> ExitCode {
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
            profile: profile_label.or(options.profile.clone()),
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
        ..Default::default()
    };
    let rps = config.max_requests_per_second.unwrap_or(10.0);
    let open = cli.ui.stack_set.clone().map(|stack_set| (stack_set, cli.ui.operation.clone()));
    let options = DashboardOptions { settings, poll, limiter: Arc::new(RateLimiter::new(rps, rps.ceil() as u32)), open };
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

fn describe_api_error(err: &ApiError) -> String {
    match &err.code {
        Some(code) => format!("{code}: {}", err.message),
        None => err.message.clone(),
    }
}

async fn print_results(api: &SdkApi, args: &ResultsArgs, call_as: CallAs) -> ExitCode {
    let mut results: Vec<OperationResult> = Vec::new();
    let mut token = None;
    loop {
        match api.list_results(&args.stack_set, &args.operation_id, call_as, args.status.map(Into::into), token).await {
            Ok(page) => {
                results.extend(page.items);
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
            Err(err) => {
                eprintln!("sstop: {}", describe_api_error(&err));
                return ExitCode::FAILURE;
            }
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
            let mut text = format!("{:<14} {:<16} {:<10} {:<10} {}\n", "ACCOUNT", "REGION", "STATUS", "GATE", "REASON");
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

async fn stop(api: &SdkApi, args: &StopArgs, call_as: CallAs) -> ExitCode {
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return usage_error("refusing to stop without confirmation: no terminal to ask on; pass --yes");
        }
        eprint!(
            "Stop operation {} of stack set {} as {}? [y/N] ",
            args.operation_id,
            args.stack_set,
            call_as.as_str()
        );
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() || !answer.trim().eq_ignore_ascii_case("y") {
            eprintln!("Not stopped.");
            return ExitCode::FAILURE;
        }
    }
    match api.stop_operation(&args.stack_set, &args.operation_id, call_as).await {
        Ok(accepted) => {
            println!(
                "Stop sent for {} (request id {})",
                args.operation_id,
                accepted.request_id.as_deref().unwrap_or("none")
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("sstop: AWS refused the stop: {}", sstop::app::update::stop_error_text(&err));
            ExitCode::FAILURE
        }
    }
}
