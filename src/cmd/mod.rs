//! The subcommands that call CloudFormation (`results`, `instances`, `stop`, `wait`, the dashboard
//! and the demo),
//! and what they share: settings merged from flags and config, connecting, failures as one line.

pub mod dashboard;
pub mod instances;
pub mod results;
pub mod stop;
pub mod wait;

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::{ApiError, ErrorKind};
use sstop::cli::Cli;
use sstop::config::Config;
use sstop::messages::{self, ReadOnlySource};
use sstop::model::CallAs;

/// Exit code for bad usage or set-up (config, flags, Region...).
pub const USAGE: u8 = 2;

/// One line on stderr, exit code 2. Newlines in the message are folded, so a wrapped
/// error can never turn into a dump.
pub fn usage_error(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("sstop: {}", messages::fold(&err.to_string()));
    ExitCode::from(USAGE)
}

/// Asks `question` on the terminal and reads y/N. Input typed before the question was on screen
/// is thrown away first: an answer must be given to the question, not typed ahead of it.
pub fn ask_yes_no(question: &str) -> bool {
    // SAFETY: tcflush on our own stdin descriptor has no memory effects; an error (stdin not a
    // tty) leaves nothing to discard.
    unsafe {
        libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim().eq_ignore_ascii_case("y")
}

/// Why a listing printed page by page stopped early.
pub enum Cut {
    Api(ApiError),
    /// stdout is closed (`| head`): not an error worth a message.
    Closed,
    /// stdout failed otherwise (a full disk behind `> file`): the output is cut short.
    Write(std::io::Error),
}

impl From<std::io::Error> for Cut {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            Cut::Closed
        } else {
            Cut::Write(error)
        }
    }
}

impl Cut {
    /// The exit for a listing that stopped: 0 for a closed pipe, 1 with a line for a write
    /// failure, the API's own for a failed call.
    pub fn exit(self, on_api: impl FnOnce(&ApiError) -> ExitCode) -> ExitCode {
        match self {
            Cut::Closed => ExitCode::SUCCESS,
            Cut::Write(error) => {
                eprintln!("sstop: writing the output failed ({error}): it is incomplete; check where stdout goes (disk space, permissions)");
                ExitCode::FAILURE
            }
            Cut::Api(error) => on_api(&error),
        }
    }
}

/// Prints a paged listing as it arrives, then drops each page, so memory stays the same whatever
/// its size: the header once the first page is in (an error on the first call prints nothing),
/// each page's rows, a flush per page. The same token twice ends it, as `api::all_pages` does.
pub async fn print_pages<T, W, F, Fut>(
    out: &mut W,
    mut page: F,
    header: impl FnOnce(&mut std::io::BufWriter<&mut W>) -> std::io::Result<()>,
    mut row: impl FnMut(&mut std::io::BufWriter<&mut W>, &T) -> std::io::Result<()>,
) -> Result<(), Cut>
where
    W: std::io::Write,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<sstop::model::Page<T>, ApiError>>,
{
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut header = Some(header);
    let mut token: Option<String> = None;
    loop {
        let next = page(token.clone()).await.map_err(Cut::Api)?;
        if let Some(header) = header.take() {
            header(&mut out)?;
        }
        for item in &next.items {
            row(&mut out, item)?;
        }
        out.flush()?;
        match next.next_token {
            None => return Ok(()),
            Some(next) if Some(&next) == token.as_ref() => {
                return Err(Cut::Api(ApiError::new(
                    ErrorKind::Other,
                    "CloudFormation sent the same page token twice: the listing was cut there",
                )))
            }
            Some(next) => token = Some(next),
        }
    }
}

/// CallAs: the flag, else the config, else SELF.
pub fn call_as(cli: &Cli, config: &Config) -> CallAs {
    cli.aws.call_as.or(config.call_as).unwrap_or(CallAs::SelfAccount)
}

/// Where read-only comes from, if it is set: the flag wins the naming, as it is the nearer.
pub fn read_only_source(cli: &Cli, config: &Config) -> Option<ReadOnlySource> {
    if cli.ui.read_only {
        Some(ReadOnlySource::Flag)
    } else if config.read_only == Some(true) {
        Some(ReadOnlySource::Config(config.source.clone()))
    } else {
        None
    }
}

/// How to reach CloudFormation: each flag, else its config key, else aws-config's default.
pub fn connect_options(cli: &Cli, config: &Config) -> ConnectOptions {
    let mut options = ConnectOptions::new();
    options.read_only = read_only_source(cli, config).is_some();
    options.profile = cli.aws.profile.clone().or(config.profile.clone());
    // The home Region (the first watched); the dashboard makes a client for each of the others.
    options.region = regions(cli, config).ok().and_then(|list| list.into_iter().next());
    options.endpoint_url = cli.aws.endpoint_url.clone().or(config.endpoint_url.clone());
    if let Some(secs) = config.attempt_timeout {
        options.attempt_timeout = Duration::from_secs(secs.max(1));
    }
    if let Some(secs) = config.credential_timeout {
        options.credential_timeout = Duration::from_secs(secs);
    }
    options
}

/// The Regions to watch: `--region` (one, or several separated by commas), else the config's
/// `regions` or `region`. Empty: aws-config's default chain picks one (AWS_REGION, the profile).
/// Repeats are dropped; an empty name is an error saying how to write the list.
pub fn regions(cli: &Cli, config: &Config) -> Result<Vec<String>, String> {
    let list: Vec<String> = match (&cli.aws.region, &config.regions) {
        (Some(flag), _) => {
            let list: Vec<String> = flag.split(',').map(|r| r.trim().to_string()).collect();
            if list.iter().any(String::is_empty) {
                return Err(format!(
                    "--region {flag:?} holds an empty Region name: list Regions separated by commas, e.g. --region us-east-1,eu-west-1"
                ));
            }
            list
        }
        (None, Some(list)) => list.iter().map(|r| r.trim().to_string()).collect(),
        (None, None) => config.region.iter().cloned().collect(),
    };
    let mut unique: Vec<String> = Vec::new();
    for region in list {
        if !unique.contains(&region) {
            unique.push(region);
        }
    }
    Ok(unique)
}

/// `results`, `stop` and `wait` act on one stack set, which lives in one Region: several
/// Regions (from `--region a,b` or the config's `regions`) are a usage error naming the fix.
pub fn one_region(cli: &Cli, config: &Config, command: &str) -> Result<(), ExitCode> {
    let list = regions(cli, config).map_err(usage_error)?;
    if list.len() > 1 {
        let source = if cli.aws.region.is_some() {
            "--region"
        } else {
            "regions in the config"
        };
        return Err(usage_error(format!(
            "sstop {command} acts on one stack set in one Region, but {source} names {} ({}): pass the stack set's Region alone, e.g. --region {}",
            list.len(),
            list.join(", "),
            list[0]
        )));
    }
    Ok(())
}

pub async fn connect(cli: &Cli, config: &Config) -> Result<SdkApi, ExitCode> {
    SdkApi::connect(&connect_options(cli, config))
        .await
        .map(|(api, _)| api)
        .map_err(usage_error)
}

pub fn is_not_found(err: &ApiError) -> bool {
    matches!(err.kind, ErrorKind::StackSetNotFound | ErrorKind::OperationNotFound)
}

/// A failed call, logged, and its exit code: 2 when the input named something that is not
/// there, 1 otherwise.
pub fn call_failed(err: &ApiError, stack_set: &str, operation_id: &str, call_as: CallAs) -> ExitCode {
    tracing::warn!(
        kind = ?err.kind,
        code = err.code.as_deref().unwrap_or("none"),
        request_id = err.request_id.as_deref().unwrap_or("none"),
        error = ?err.message,
        "call failed"
    );
    if is_not_found(err) {
        return usage_error(messages::not_found(err, stack_set, operation_id, call_as));
    }
    eprintln!("sstop: {}", messages::describe_api_error(err));
    ExitCode::FAILURE
}

/// A subcommand's network work, cut short by ctrl-c, SIGTERM or SIGHUP: returning instead of
/// dying by the signal lets the runtime's shutdown end a credential_process still running in
/// its own process group (the terminal's ctrl-c does not reach that group).
pub async fn interruptible(work: impl Future<Output = ExitCode>) -> ExitCode {
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
