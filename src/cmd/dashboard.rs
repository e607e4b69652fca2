//! The dashboard (no subcommand) and the demo: settings merged from flags and config, the
//! checks that must pass before the terminal is taken over, then the TUI.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::{ApiError, StackSetApi};
use sstop::app::{Settings, Target};
use sstop::cli::{Cli, DemoArgs};
use sstop::config::Config;
use sstop::messages;
use sstop::model::CallAs;
use sstop::poll::{RateLimiter, RegionApis};
use sstop::settings::{Environment, Resolved};
use sstop::tui::{self, DashboardOptions};

use super::{call_as, connect_options, is_not_found, read_only_source, regions, usage_error};

/// The profile label the demo shows; it also marks the demo's settings.
const DEMO_PROFILE: &str = "demo";

/// The longest a dashboard start waits to check that `--stack-set`/`--operation` exist; a slow
/// or failing check hands over to the dashboard, which shows and retries the error itself.
const OPEN_CHECK: Duration = Duration::from_secs(10);

/// `sstop` with no subcommand: the dashboard against AWS (or the endpoint given).
pub async fn run(cli: &Cli, config: &Config) -> ExitCode {
    let regions = match regions(cli, config) {
        Ok(regions) => regions,
        Err(err) => return usage_error(err),
    };
    dashboard(
        cli,
        config,
        connect_options(cli, config),
        &regions,
        call_as(cli, config),
        None,
    )
    .await
}

/// `sstop demo`: the emulator on a free loopback port, and the dashboard against it.
pub async fn demo(cli: &Cli, config: &Config, args: &DemoArgs) -> ExitCode {
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
    // `--region` (or the config) picks the Regions to watch; else every admin Region of the
    // scenario.
    let regions = match regions(cli, config) {
        Ok(regions) if !regions.is_empty() => regions,
        Ok(_) => demo_regions(&sim),
        Err(err) => return usage_error(err),
    };
    let mut options = ConnectOptions::new();
    options.endpoint_url = Some(sim.endpoint_url());
    options.region = regions.first().cloned();
    options.dummy_credentials = true;
    options.read_only = read_only_source(cli, config).is_some();
    // The demo's organization has a delegated administrator: see its stack sets too.
    let call_as = cli.aws.call_as.unwrap_or(CallAs::DelegatedAdmin);
    dashboard(cli, config, options, &regions, call_as, Some(DEMO_PROFILE.to_string())).await
}

/// The admin Regions the demo's scenario has stack sets in; us-east-1 alone for a scenario that
/// keeps them in one (the emulator then answers every Region from that one estate). The
/// emulator does not say which is its home Region: us-east-1 goes first when it is one of them.
fn demo_regions(sim: &sstop::sim::SimHandle) -> Vec<String> {
    let (mut regions, regional) = sim.regions();
    if !regional || regions.is_empty() {
        return vec!["us-east-1".to_string()];
    }
    if let Some(at) = regions.iter().position(|r| r == "us-east-1") {
        let home = regions.remove(at);
        regions.insert(0, home);
    }
    regions
}

async fn dashboard(
    cli: &Cli,
    config: &Config,
    options: ConnectOptions,
    regions: &[String],
    call_as: CallAs,
    profile_label: Option<String>,
) -> ExitCode {
    if let Err(err) = config.keymap() {
        return usage_error(err);
    }
    let (api, resolved) = match SdkApi::connect(&options).await {
        Ok(found) => found,
        Err(err) => return usage_error(err),
    };
    // One client per watched Region, the home Region (resolved, maybe from the environment) first.
    let mut apis = vec![(resolved.region.clone(), Arc::new(api.clone()))];
    for region in regions.iter().skip(1) {
        match api.for_region(region) {
            Ok(other) => apis.push((region.clone(), Arc::new(other))),
            Err(err) => return usage_error(err),
        }
    }
    let target = Target {
        profile: profile_label.clone().or(options.profile.clone()),
        region: Some(resolved.region),
        regions: apis.iter().map(|(region, _)| region.clone()).collect(),
        endpoint: resolved.endpoint,
    };
    let Resolved {
        settings,
        poll,
        max_requests_per_second: rps,
    } = match Settings::resolve(cli, config, Environment::from_process(), call_as, target) {
        Ok(resolved) => resolved,
        Err(err) => return usage_error(err),
    };
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
        limiter: Arc::new(RateLimiter::polling(rps)),
        open,
    };
    // Where and as whom, never with what credentials.
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        regions = options.settings.target.watched().join(","),
        endpoint = options.settings.target.endpoint.as_deref().unwrap_or("default"),
        profile = options.settings.target.profile.as_deref().unwrap_or("default chain"),
        call_as = call_as.as_str(),
        "dashboard started"
    );
    match tui::run(RegionApis::new(apis), options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sstop: {err:#}");
            ExitCode::FAILURE
        }
    }
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
        Ok(Err(err)) if is_not_found(&err) => Err(usage_error(messages::not_found(
            &err,
            stack_set,
            operation.unwrap_or(""),
            call_as,
        ))),
        _ => Ok(()),
    }
}
