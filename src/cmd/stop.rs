//! `sstop stop STACK_SET OPERATION_ID [--yes]`: exit 0 sent, 1 refused (by AWS, or by sstop under
//! read-only), 2 bad usage. Every attempt leaves an audit line in the log.

use std::io::IsTerminal;
use std::process::ExitCode;

use sstop::api::audit::{self, StopAttempt};
use sstop::api::sdk::{ConnectOptions, Resolved, SdkApi};
use sstop::api::{ApiError, ErrorKind, StackSetApi};
use sstop::cli::{Cli, StopArgs};
use sstop::config::Config;
use sstop::messages;
use sstop::model::CallAs;

use super::{call_as, call_failed, connect_options, interruptible, is_not_found, read_only_source, usage_error};

pub async fn run(cli: &Cli, config: &Config, args: &StopArgs) -> ExitCode {
    if let Err(code) = super::one_region(cli, config, "stop") {
        return code;
    }
    let call_as = call_as(cli, config);
    let options = connect_options(cli, config);
    // Read-only is absolute: refused before anything else, with no connection made.
    if let Some(source) = read_only_source(cli, config) {
        let refusal = ApiError::new(ErrorKind::ReadOnly, messages::stop_refused_read_only(&source));
        audit::stop(&attempt(args, call_as, &options, None), Err(&refusal));
        eprintln!("sstop: {}", refusal.message);
        return ExitCode::FAILURE;
    }
    // Checked before connecting: it needs no network, and a script should learn at once.
    if !args.yes && !std::io::stdin().is_terminal() {
        return usage_error(messages::STOP_NEEDS_YES);
    }
    // Asked before anything is looked up, and outside `interruptible`: the answer is read
    // blocking, and ctrl-c there must end sstop as it always does.
    if !args.yes && !confirmed(args, call_as) {
        eprintln!("Not stopped.");
        return ExitCode::FAILURE;
    }
    interruptible(async {
        let (api, resolved) = match SdkApi::connect(&options).await {
            Ok(found) => found,
            Err(err) => return usage_error(err),
        };
        send(&api, args, attempt(args, call_as, &options, Some(&resolved))).await
    })
    .await
}

/// The audit facts of a stop from the command line: the Region and endpoint as resolved when
/// known, else as given.
fn attempt<'a>(
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

/// y/N on the terminal.
fn confirmed(args: &StopArgs, call_as: CallAs) -> bool {
    super::ask_yes_no(&format!(
        "Stop operation {} of stack set {} as {}?",
        args.operation_id,
        args.stack_set,
        call_as.as_str()
    ))
}

async fn send(api: &SdkApi, args: &StopArgs, attempt: StopAttempt<'_>) -> ExitCode {
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
            eprintln!("sstop: {}", messages::stop_failed(&err));
            ExitCode::FAILURE
        }
    }
}
