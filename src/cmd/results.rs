//! `sstop results STACK_SET OPERATION_ID`: every result of an operation, all pages, as a table
//! or JSON on stdout.

use std::io::Write;
use std::process::ExitCode;

use sstop::api::sdk::SdkApi;
use sstop::api::{all_pages, StackSetApi};
use sstop::cli::{Cli, OutputFormat, ResultsArgs};
use sstop::config::Config;
use sstop::model::OperationResult;

use super::{call_as, call_failed, connect, interruptible};

pub async fn run(cli: &Cli, config: &Config, args: &ResultsArgs) -> ExitCode {
    interruptible(async {
        let api = match connect(cli, config).await {
            Ok(api) => api,
            Err(code) => return code,
        };
        print(&api, args, call_as(cli, config)).await
    })
    .await
}

async fn print(api: &SdkApi, args: &ResultsArgs, call_as: sstop::model::CallAs) -> ExitCode {
    let status = args.status.map(Into::into);
    let read = all_pages(|token| api.list_results(&args.stack_set, &args.operation_id, call_as, status, token)).await;
    let results = match read {
        Ok(results) => results,
        Err(err) => return call_failed(&err, &args.stack_set, &args.operation_id, call_as),
    };
    let written = match args.output {
        OutputFormat::Json => writeln!(std::io::stdout().lock(), "{}", json(&results)),
        OutputFormat::Table => write!(std::io::stdout().lock(), "{}", table(&results)),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(_) => ExitCode::SUCCESS,
    }
}

/// The AWS CLI's field names, so scripts written for it read these too.
fn json(results: &[OperationResult]) -> serde_json::Value {
    let rows = results
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
    serde_json::Value::Array(rows)
}

fn table(results: &[OperationResult]) -> String {
    let mut text = format!(
        "{:<14} {:<16} {:<10} {:<10} {}\n",
        "ACCOUNT", "REGION", "STATUS", "GATE", "REASON"
    );
    for r in results {
        text.push_str(&format!(
            "{:<14} {:<16} {:<10} {:<10} {}\n",
            r.account,
            r.region,
            r.status.as_str(),
            r.gate_status.map_or("-", |g| g.as_str()),
            r.status_reason.as_deref().unwrap_or("")
        ));
    }
    text
}
