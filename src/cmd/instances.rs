//! `sstop instances STACK_SET`: a stack set's stack instances (Status, DetailedStatus, drift,
//! the operation that last touched each), page by page, as a table, JSON lines, CSV or Markdown.
//! One ListStackInstances call per 100 instances; `--detailed-status` is filtered by
//! CloudFormation, `--status` (which the API cannot filter) here.

use std::io::Write;
use std::process::ExitCode;

use sstop::api::{InstanceQuery, StackSetApi};
use sstop::cli::{Cli, InstancesArgs, OutputFormat};
use sstop::config::Config;
use sstop::export::{markdown_cell, write_csv_record};
use sstop::model::{CallAs, InstanceStatus, StackInstance};

use super::{call_as, call_failed, connect, interruptible, print_pages, Cut};

const FIELDS: [&str; 8] = [
    "Account",
    "Region",
    "Status",
    "DetailedStatus",
    "DriftStatus",
    "LastOperationId",
    "StatusReason",
    "OrganizationalUnitId",
];

pub async fn run(cli: &Cli, config: &Config, args: &InstancesArgs) -> ExitCode {
    interruptible(async {
        let api = match connect(cli, config).await {
            Ok(api) => api,
            Err(code) => return code,
        };
        let call_as = call_as(cli, config);
        match stream(&api, args, call_as, &mut std::io::stdout().lock()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(cut) => cut.exit(|err| call_failed(err, &args.stack_set, "", call_as)),
        }
    })
    .await
}

async fn stream(
    api: &impl StackSetApi,
    args: &InstancesArgs,
    call_as: CallAs,
    out: &mut impl Write,
) -> Result<(), Cut> {
    let wanted: Option<InstanceStatus> = args.status.map(Into::into);
    let query = InstanceQuery {
        detailed_status: args.detailed_status.map(|d| d.as_wire().to_string()),
        ..Default::default()
    };
    print_pages(
        out,
        |token| api.list_instances(&args.stack_set, call_as, &query, token),
        |out| write_header(out, args.output),
        |out, instance: &StackInstance| {
            if wanted.is_none_or(|w| instance.status == w) {
                write_row(out, args.output, instance)
            } else {
                Ok(())
            }
        },
    )
    .await
}

fn write_header(out: &mut impl Write, format: OutputFormat) -> std::io::Result<()> {
    match format {
        OutputFormat::Table => writeln!(
            out,
            "{:<14} {:<16} {:<10} {:<25} {:<11} {:<36} REASON",
            "ACCOUNT", "REGION", "STATUS", "DETAILED", "DRIFT", "LAST OPERATION"
        ),
        OutputFormat::Json => Ok(()),
        OutputFormat::Csv => write_csv_record(out, FIELDS),
        OutputFormat::Markdown => {
            writeln!(out, "| {} |", FIELDS.join(" | "))?;
            writeln!(out, "|{}", " --- |".repeat(FIELDS.len()))
        }
    }
}

fn write_row(out: &mut impl Write, format: OutputFormat, i: &StackInstance) -> std::io::Result<()> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    match format {
        OutputFormat::Table => writeln!(
            out,
            "{:<14} {:<16} {:<10} {:<25} {:<11} {:<36} {}",
            i.account,
            i.region,
            i.status.as_str(),
            i.detailed_status.as_deref().unwrap_or("-"),
            i.drift_status.as_deref().unwrap_or("-"),
            i.last_operation_id.as_deref().unwrap_or("-"),
            text(&i.status_reason).replace(['\r', '\n'], " ")
        ),
        OutputFormat::Json => {
            let row = serde_json::json!({
                "Account": i.account,
                "Region": i.region,
                "Status": i.status.as_str(),
                "StackInstanceStatus": i.detailed_status.as_ref().map(|d| serde_json::json!({"DetailedStatus": d})),
                "DriftStatus": i.drift_status,
                "LastOperationId": i.last_operation_id,
                "StatusReason": i.status_reason,
                "OrganizationalUnitId": i.ou,
            });
            serde_json::to_writer(&mut *out, &row)?;
            out.write_all(b"\n")
        }
        OutputFormat::Csv => write_csv_record(
            out,
            [
                i.account.as_str(),
                i.region.as_str(),
                i.status.as_str(),
                i.detailed_status.as_deref().unwrap_or(""),
                i.drift_status.as_deref().unwrap_or(""),
                i.last_operation_id.as_deref().unwrap_or(""),
                i.status_reason.as_deref().unwrap_or(""),
                i.ou.as_deref().unwrap_or(""),
            ],
        ),
        OutputFormat::Markdown => writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            markdown_cell(&i.account),
            markdown_cell(&i.region),
            i.status.as_str(),
            markdown_cell(i.detailed_status.as_deref().unwrap_or("")),
            markdown_cell(i.drift_status.as_deref().unwrap_or("")),
            markdown_cell(i.last_operation_id.as_deref().unwrap_or("")),
            markdown_cell(i.status_reason.as_deref().unwrap_or("")),
            markdown_cell(i.ou.as_deref().unwrap_or("")),
        ),
    }
}
