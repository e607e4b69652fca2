//! `sstop wait STACK_SET [OPERATION_ID | --latest]`: block until the operation ends, for
//! pipelines. Text lines on stderr, or JSON lines on stdout; the exit code says how it ended
//! (0 succeeded, 1 failed, 3 stopped, 4 succeeded with failed instances, 5 timed out, 6 the
//! outcome could not be read, 2 usage). `--stop-if-failures N` stops it at N failed results
//! (audited like any stop). The config's `[notify]` says how a new failure reason and the end
//! are announced: the bell and OSC 9/777 on stderr when it is a terminal, and the command.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use sstop::api::audit::{self, StopAttempt};
use sstop::api::{ApiError, ErrorKind};
use sstop::cli::{Cli, WaitArgs, WaitOutput};
use sstop::config::Config;
use sstop::messages;
use sstop::notify::{self, NotifySettings};
use sstop::settings::poll_interval_secs;
use sstop::wait::{self, WaitEvent, WaitOptions};

use super::{
    call_as, call_failed, connect, connect_options, interruptible, is_not_found, read_only_source, usage_error,
};

/// y/N on the terminal, for `--stop-if-failures`.
fn stop_agreed(args: &WaitArgs, call_as: sstop::model::CallAs) -> bool {
    super::ask_yes_no(&format!(
        "Stop operation {} of stack set {} as {} once {} of its results have FAILED?",
        args.operation_id.as_deref().unwrap_or("(the newest)"),
        args.stack_set,
        call_as.as_str(),
        args.stop_if_failures.unwrap_or_default()
    ))
}

pub async fn run(cli: &Cli, config: &Config, args: &WaitArgs) -> ExitCode {
    if let Err(code) = super::one_region(cli, config, "wait") {
        return code;
    }
    let call_as = call_as(cli, config);
    let options = connect_options(cli, config);
    // A wait that may stop is refused at once under read-only: before anything is read, so a
    // pipeline learns of the contradiction now rather than at the Nth failure.
    if args.stop_if_failures.is_some() {
        if let Some(source) = read_only_source(cli, config) {
            let refusal = ApiError::new(ErrorKind::ReadOnly, messages::wait_stop_refused_read_only(&source));
            let attempt = StopAttempt {
                origin: "wait --stop-if-failures",
                stack_set: &args.stack_set,
                operation_id: args.operation_id.as_deref().unwrap_or("(latest)"),
                call_as,
                region: options.region.as_deref(),
                endpoint: options.endpoint_url.as_deref(),
                profile: options.profile.as_deref(),
            };
            audit::stop(&attempt, Err(&refusal));
            return usage_error(&refusal.message);
        }
        // A stop sent later, unattended, is agreed to now: by --yes, or y on the terminal.
        // Asked before anything is read, and outside `interruptible`, like `sstop stop`.
        if !args.yes {
            if !std::io::stdin().is_terminal() {
                return usage_error(messages::WAIT_STOP_NEEDS_YES);
            }
            if !stop_agreed(args, call_as) {
                eprintln!("Not waiting: the stop was not agreed to.");
                return ExitCode::FAILURE;
            }
        }
    }
    interruptible(async {
        let api = match connect(cli, config).await {
            Ok(api) => api,
            Err(code) => return code,
        };
        let operation_id = match &args.operation_id {
            Some(id) => id.clone(),
            None => match wait::latest_operation(&api, &args.stack_set, call_as).await {
                Ok(Some(id)) => id,
                Ok(None) => return usage_error(format!("stack set {:?} has no operations to wait on", args.stack_set)),
                Err(err) => return call_failed(&err, &args.stack_set, "", call_as),
            },
        };
        let wait_options = WaitOptions {
            call_as,
            interval: Duration::from_secs(poll_interval_secs(cli, config)),
            timeout: args.timeout.map(Duration::from_secs),
            stop_if_failures: args.stop_if_failures.map(|n| n as usize),
        };
        let output = args.output;
        let mut notifier = Notifier::new(config.notify.resolve(), &args.stack_set, &operation_id);
        let attempt = StopAttempt {
            origin: "wait --stop-if-failures",
            stack_set: &args.stack_set,
            operation_id: &operation_id,
            call_as,
            region: options.region.as_deref(),
            endpoint: options.endpoint_url.as_deref(),
            profile: options.profile.as_deref(),
        };
        let outcome = wait::wait_and_stop(
            &api,
            &args.stack_set,
            &operation_id,
            &wait_options,
            |event| {
                notifier.hear(&event);
                print(output, &event)
            },
            |result| audit::stop(&attempt, result),
        )
        .await;
        // The notify command of the last event must not be cut short by the exit.
        notifier.finish().await;
        match outcome {
            Ok(outcome) => ExitCode::from(outcome.exit_code()),
            // Not found is bad input (2); any other error means the outcome is unknown (6),
            // never "failed" (1).
            Err(err) if is_not_found(&err) => call_failed(&err, &args.stack_set, &operation_id, call_as),
            Err(err) => {
                call_failed(&err, &args.stack_set, &operation_id, call_as);
                ExitCode::from(wait::UNKNOWN_EXIT)
            }
        }
    })
    .await
}

/// Announces a failure reason the first time it is seen, and the end, as `[notify]` says.
struct Notifier {
    settings: NotifySettings,
    stack_set: String,
    operation_id: String,
    reasons: HashSet<String>,
    /// Escapes go to stderr only when it is a terminal: a log file gets no bells.
    terminal: bool,
    in_tmux: bool,
    commands: Vec<tokio::task::JoinHandle<()>>,
}

impl Notifier {
    fn new(settings: NotifySettings, stack_set: &str, operation_id: &str) -> Notifier {
        Notifier {
            settings,
            stack_set: stack_set.to_string(),
            operation_id: operation_id.to_string(),
            reasons: HashSet::new(),
            terminal: std::io::stderr().is_terminal(),
            in_tmux: std::env::var_os("TMUX").is_some_and(|v| !v.is_empty()),
            commands: Vec::new(),
        }
    }

    fn hear(&mut self, event: &WaitEvent) {
        let news = match event {
            WaitEvent::Failure { reason, .. } => {
                let reason = reason.as_deref().unwrap_or("(no reason given)");
                let pattern = sstop::app::grid::reason_pattern(reason);
                if !self.reasons.insert(pattern.clone()) {
                    return;
                }
                notify::Event::new_failure(&self.stack_set, &self.operation_id, &pattern, 1)
            }
            WaitEvent::Summary(summary) => {
                notify::Event::operation_ended(&self.stack_set, &self.operation_id, &summary.status)
            }
            _ => return,
        };
        if self.terminal {
            let bytes = notify::escapes(&self.settings, &news, self.in_tmux);
            let _ = std::io::stderr().lock().write_all(bytes.as_bytes());
        }
        if let Some(command) = self.settings.command.clone() {
            self.commands.push(tokio::spawn(notify::run_command(
                command,
                news,
                self.settings.command_timeout,
            )));
        }
    }

    /// Waits for the commands still running (each is killed at its own timeout).
    async fn finish(self) {
        for command in self.commands {
            let _ = command.await;
        }
    }
}

/// One event: a JSON line on stdout, or a line of text on stderr. A closed pipe is ignored;
/// the exit code still tells the outcome.
fn print(output: WaitOutput, event: &WaitEvent) {
    match output {
        WaitOutput::Json => {
            if let Ok(line) = serde_json::to_string(event) {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
        }
        WaitOutput::Text => {
            let _ = writeln!(std::io::stderr().lock(), "{}", text(event));
        }
    }
}

fn text(event: &WaitEvent) -> String {
    match event {
        WaitEvent::Status { operation_id, status } => format!("{operation_id}: {status}"),
        WaitEvent::Failure {
            account,
            region,
            reason,
        } => format!(
            "FAILED {account} {region}: {}",
            reason.as_deref().unwrap_or("(no reason given)")
        ),
        WaitEvent::Summary(summary) => {
            let counts: Vec<String> = summary
                .counts
                .iter()
                .map(|(status, n)| format!("{n} {}", status.to_ascii_lowercase()))
                .collect();
            // SUCCEEDED with failed results is not plain success: say so.
            let failed = summary.counts.get("FAILED").is_some_and(|n| *n > 0);
            let status = if summary.status == "SUCCEEDED" && failed {
                sstop::insight::Outcome::SucceededWithFailures.long()
            } else {
                summary.status.as_str()
            };
            let mut text = format!(
                "{} ended {}: {}",
                summary.operation_id,
                status,
                if counts.is_empty() {
                    "no results".to_string()
                } else {
                    counts.join(", ")
                }
            );
            for failure in &summary.failures {
                text.push_str(&format!("\n  {} x {}", failure.count, failure.reason));
            }
            text
        }
        WaitEvent::Timeout { operation_id, status } => {
            format!("{operation_id}: still {status} when --timeout passed")
        }
        WaitEvent::Retrying { message } => format!("could not read the operation ({message}); trying again"),
        WaitEvent::StopSent {
            operation_id,
            failed,
            threshold,
            request_id,
        } => format!(
            "{failed} failed results (--stop-if-failures {threshold}): stop sent for {operation_id} (request id {}); waiting for it to stop",
            request_id.as_deref().unwrap_or("none")
        ),
        WaitEvent::StopFailed {
            operation_id,
            failed,
            threshold,
            message,
        } => format!("{failed} failed results (--stop-if-failures {threshold}): could not stop {operation_id}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sstop::wait::Summary;

    #[test]
    fn a_success_with_failed_results_is_not_called_plain_success() {
        let summary = |failed: usize| {
            let mut counts = std::collections::BTreeMap::new();
            counts.insert("SUCCEEDED".to_string(), 9);
            if failed > 0 {
                counts.insert("FAILED".to_string(), failed);
            }
            WaitEvent::Summary(Summary {
                operation_id: "op".into(),
                status: "SUCCEEDED".into(),
                counts,
                failures: Vec::new(),
            })
        };
        assert_eq!(text(&summary(0)), "op ended SUCCEEDED: 9 succeeded");
        assert_eq!(
            text(&summary(2)),
            "op ended SUCCEEDED with failures: 2 failed, 9 succeeded"
        );
    }
}
