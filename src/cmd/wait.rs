//! `sstop wait STACK_SET [OPERATION_ID | --latest]`: block until the operation ends, for
//! pipelines. Text lines on stderr, or JSON lines on stdout; the exit code says how it ended
//! (0 succeeded, 1 failed, 3 stopped, 4 succeeded with failed instances, 5 timed out, 6 the
//! outcome could not be read, 2 usage).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use sstop::cli::{Cli, WaitArgs, WaitOutput};
use sstop::config::Config;
use sstop::settings::poll_interval_secs;
use sstop::wait::{self, WaitEvent, WaitOptions};

use super::{call_as, call_failed, connect, interruptible, is_not_found, usage_error};

pub async fn run(cli: &Cli, config: &Config, args: &WaitArgs) -> ExitCode {
    interruptible(async {
        let api = match connect(cli, config).await {
            Ok(api) => api,
            Err(code) => return code,
        };
        let call_as = call_as(cli, config);
        let operation_id = match &args.operation_id {
            Some(id) => id.clone(),
            None => match wait::latest_operation(&api, &args.stack_set, call_as).await {
                Ok(Some(id)) => id,
                Ok(None) => return usage_error(format!("stack set {:?} has no operations to wait on", args.stack_set)),
                Err(err) => return call_failed(&err, &args.stack_set, "", call_as),
            },
        };
        let options = WaitOptions {
            call_as,
            interval: Duration::from_secs(poll_interval_secs(cli, config)),
            timeout: args.timeout.map(Duration::from_secs),
        };
        let output = args.output;
        let outcome = wait::wait(&api, &args.stack_set, &operation_id, &options, |event| {
            print(output, &event)
        })
        .await;
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
