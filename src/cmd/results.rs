//! `sstop results STACK_SET OPERATION_ID`: every result of an operation, page by page, as a
//! table, JSON lines, CSV or Markdown on stdout. Each page is written as it arrives and then
//! dropped, so memory stays the same whatever the operation's size.

use std::io::Write;
use std::process::ExitCode;

use sstop::api::sdk::SdkApi;
use sstop::api::StackSetApi;
use sstop::cli::{Cli, OutputFormat, ResultsArgs};
use sstop::config::Config;
use sstop::export::{self, Format};
use sstop::model::CallAs;

use super::{call_as, call_failed, connect, interruptible, print_pages, Cut};

pub async fn run(cli: &Cli, config: &Config, args: &ResultsArgs) -> ExitCode {
    if let Err(code) = super::one_region(cli, config, "results") {
        return code;
    }
    interruptible(async {
        let api = match connect(cli, config).await {
            Ok(api) => api,
            Err(code) => return code,
        };
        print(&api, args, call_as(cli, config)).await
    })
    .await
}

fn format(output: OutputFormat) -> Format {
    match output {
        OutputFormat::Table => Format::Table,
        OutputFormat::Json => Format::JsonLines,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Markdown => Format::Markdown,
    }
}

async fn print(api: &SdkApi, args: &ResultsArgs, call_as: CallAs) -> ExitCode {
    match stream(api, args, call_as, &mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(cut) => cut.exit(|err| call_failed(err, &args.stack_set, &args.operation_id, call_as)),
    }
}

async fn stream(api: &impl StackSetApi, args: &ResultsArgs, call_as: CallAs, out: &mut impl Write) -> Result<(), Cut> {
    let format = format(args.output);
    let status = args.status.map(Into::into);
    print_pages(
        out,
        |token| api.list_results(&args.stack_set, &args.operation_id, call_as, status, token),
        |out| export::write_header(out, format),
        |out, result| export::write_row(out, format, result),
    )
    .await
}
