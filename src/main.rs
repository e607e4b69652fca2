//! sstop's entry point: parse flags, start the log, load the config, and hand over to the
//! chosen subcommand (`cmd/`). Set-up problems print one line naming the problem and the fix,
//! and exit with code 2.

use std::process::ExitCode;

use clap::Parser;

use sstop::cli::{Cli, Commands};
use sstop::config::Config;

use cmd::{usage_error, USAGE};

mod cmd;
mod logging;

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

async fn run(cli: Cli, config: Config) -> ExitCode {
    match &cli.command {
        Some(Commands::Sim(args)) => match sstop::sim::run(args.clone()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => usage_error(format!("{err:#}")),
        },
        Some(Commands::Demo(args)) => cmd::dashboard::demo(&cli, &config, args).await,
        Some(Commands::Results(args)) => cmd::results::run(&cli, &config, args).await,
        Some(Commands::Instances(args)) => cmd::instances::run(&cli, &config, args).await,
        Some(Commands::Stop(args)) => cmd::stop::run(&cli, &config, args).await,
        Some(Commands::Wait(args)) => cmd::wait::run(&cli, &config, args).await,
        None => cmd::dashboard::run(&cli, &config).await,
    }
}
