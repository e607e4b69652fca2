//! Command-line flags (clap), shaped like the AWS CLI's where they overlap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::{CallAs, ResultStatus};

#[derive(Debug, Parser)]
#[command(
    name = "sstop",
    version,
    about = "Watch AWS CloudFormation StackSet operations live, and stop a runaway one",
    after_help = "Environment: AWS_PROFILE, AWS_REGION and the rest of the AWS SDK's settings; NO_COLOR turns \
                  colour off; SSTOP_LOG sets the log filter (default info, e.g. SSTOP_LOG=debug). The log is \
                  sstop.log in the state dir ($XDG_STATE_HOME/sstop, else ~/.local/state/sstop), readable by \
                  you only."
)]
pub struct Cli {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(subcommand)]
    pub command: Option<Commands>,
}

#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// AWS profile from ~/.aws/config (SSO profiles included).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// AWS Region, e.g. us-east-1.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send calls here instead of AWS (AWS_ENDPOINT_URL works too), e.g. http://127.0.0.1:4566.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Whose authority every call is made with.
    #[arg(long, global = true, value_enum)]
    pub call_as: Option<CallAs>,
    /// Config file (default: the platform config dir's sstop/config.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct UiArgs {
    /// Never send StopStackSetOperation.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Open this stack set's operations.
    #[arg(long)]
    pub stack_set: Option<String>,
    /// With --stack-set: open this operation's grid.
    #[arg(long, requires = "stack_set")]
    pub operation: Option<String>,
    /// Draw with ASCII only (automatic when the locale is not UTF-8).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// Seconds between refreshes of a running operation (1 to 3600).
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(crate::config::POLL_INTERVAL))]
    pub poll_interval: Option<u64>,
}

/// `--call-as self|delegated-admin` (the API's SELF and DELEGATED_ADMIN work too): the domain
/// type itself, so its spellings are declared once, in `model`.
impl ValueEnum for CallAs {
    fn value_variants<'a>() -> &'a [Self] {
        CallAs::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.cli_name()).alias(self.as_str()))
    }
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run the dashboard against the built-in StackSet emulator: no AWS account needed.
    Demo(DemoArgs),
    /// Run the StackSet emulator as an HTTP server for the AWS CLI, SDKs and tests.
    Sim(crate::sim::SimArgs),
    /// Print every result of an operation (all pages, streamed page by page) and exit.
    Results(ResultsArgs),
    /// Print a stack set's stack instances (Status, DetailedStatus, drift, last operation) and exit.
    Instances(InstancesArgs),
    /// Stop an operation (asks y/N on a terminal; --yes without one).
    Stop(StopArgs),
    /// Wait until an operation ends (following it through QUEUED). Exit codes: 0 succeeded,
    /// 1 failed, 3 stopped, 4 succeeded with failed instances, 5 --timeout reached, 6 outcome
    /// unknown, 2 usage.
    Wait(WaitArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WaitOutput {
    /// A line per event on stderr.
    Text,
    /// JSON lines on stdout: one per status change, new failure, and the final summary.
    Json,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["operation_id", "latest"])))]
pub struct WaitArgs {
    pub stack_set: String,
    pub operation_id: Option<String>,
    /// Wait on the stack set's newest operation.
    #[arg(long)]
    pub latest: bool,
    /// Give up after this many seconds (exit 5); 1 to 604800.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout: Option<u64>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: WaitOutput,
    /// Stop the operation (StopStackSetOperation, audited) once this many of its results have
    /// FAILED, then wait for it to be STOPPED (exit 3). Refused under --read-only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub stop_if_failures: Option<u64>,
    /// With --stop-if-failures: the stop is agreed to now. Without a terminal to ask on it is
    /// required; on a terminal, sstop asks y/N before it starts waiting.
    #[arg(long, requires = "stop_if_failures")]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Built-in scenario (rollout, runaway, large, fleet, instances) or a scenario TOML file.
    #[arg(long, default_value = "rollout")]
    pub scenario: String,
    /// How much faster than real time the emulated rollout runs (0.001 to 10000).
    #[arg(long, default_value_t = 4.0, value_parser = speed)]
    pub speed: f64,
}

/// `--speed` of the demo and the emulator: a zero or endless clock is no rollout to watch.
pub fn speed(text: &str) -> Result<f64, String> {
    bounded_f64(text, 0.001, 10_000.0)
}

/// `--throttle-rate` and `--error-rate`: shares of requests.
pub fn share(text: &str) -> Result<f64, String> {
    bounded_f64(text, 0.0, 1.0)
}

/// A number within `min..=max`; the error names the range (clap adds the flag).
fn bounded_f64(text: &str, min: f64, max: f64) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number: use {min} to {max}"))?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("out of range: use {min} to {max}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Fixed-width columns.
    Table,
    /// JSON lines: one object per result, with the AWS CLI's field names.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A Markdown table, for a ticket.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<StatusArg> for ResultStatus {
    fn from(value: StatusArg) -> Self {
        match value {
            StatusArg::Pending => ResultStatus::Pending,
            StatusArg::Running => ResultStatus::Running,
            StatusArg::Succeeded => ResultStatus::Succeeded,
            StatusArg::Failed => ResultStatus::Failed,
            StatusArg::Cancelled => ResultStatus::Cancelled,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ResultsArgs {
    pub stack_set: String,
    pub operation_id: String,
    /// Only results in this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct InstancesArgs {
    pub stack_set: String,
    /// Only instances in this Status.
    #[arg(long, value_enum)]
    pub status: Option<InstanceStatusArg>,
    /// Only instances in this DetailedStatus (CloudFormation filters them).
    #[arg(long, value_enum)]
    pub detailed_status: Option<DetailedStatusArg>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstanceStatusArg {
    Current,
    Outdated,
    Inoperable,
}

impl From<InstanceStatusArg> for crate::model::InstanceStatus {
    fn from(value: InstanceStatusArg) -> Self {
        match value {
            InstanceStatusArg::Current => crate::model::InstanceStatus::Current,
            InstanceStatusArg::Outdated => crate::model::InstanceStatus::Outdated,
            InstanceStatusArg::Inoperable => crate::model::InstanceStatus::Inoperable,
        }
    }
}

/// The DETAILED_STATUS values ListStackInstances filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetailedStatusArg {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Inoperable,
    SkippedSuspendedAccount,
    FailedImport,
}

impl DetailedStatusArg {
    pub fn as_wire(self) -> &'static str {
        match self {
            DetailedStatusArg::Pending => "PENDING",
            DetailedStatusArg::Running => "RUNNING",
            DetailedStatusArg::Succeeded => "SUCCEEDED",
            DetailedStatusArg::Failed => "FAILED",
            DetailedStatusArg::Cancelled => "CANCELLED",
            DetailedStatusArg::Inoperable => "INOPERABLE",
            DetailedStatusArg::SkippedSuspendedAccount => "SKIPPED_SUSPENDED_ACCOUNT",
            DetailedStatusArg::FailedImport => "FAILED_IMPORT",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    pub stack_set: String,
    pub operation_id: String,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long)]
    pub yes: bool,
}
