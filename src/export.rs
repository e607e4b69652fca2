//! Results written out as text, one row at a time: the fixed-width table, JSON lines, CSV
//! (RFC 4180) and a Markdown table. `sstop results` streams pages through these, and the
//! dashboard's export (`e`) writes files with them (`write_job`, run by the event loop, never by `update`).

use std::io::{self, Write};

use crate::model::OperationResult;

/// How a list of results is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Fixed-width columns for a person at a terminal.
    Table,
    /// One JSON object per line, with the AWS CLI's field names.
    JsonLines,
    /// RFC 4180: a header, CRLF line ends, fields quoted when they hold `,` `"` CR or LF.
    Csv,
    /// A GitHub-flavoured Markdown table, for a ticket.
    Markdown,
}

/// The AWS CLI's field names, in the order CSV columns use them.
pub const FIELDS: [&str; 7] = [
    "Account",
    "Region",
    "Status",
    "StatusReason",
    "AccountGateStatus",
    "AccountGateStatusReason",
    "OrganizationalUnitId",
];

fn fields(r: &OperationResult) -> [&str; 7] {
    [
        &r.account,
        &r.region,
        r.status.as_str(),
        r.status_reason.as_deref().unwrap_or(""),
        r.gate_status.map_or("", |g| g.as_str()),
        r.gate_reason.as_deref().unwrap_or(""),
        r.ou.as_deref().unwrap_or(""),
    ]
}

/// The lines that come before any row (none for JSON lines).
pub fn write_header(out: &mut impl Write, format: Format) -> io::Result<()> {
    match format {
        Format::Table => writeln!(
            out,
            "{:<14} {:<16} {:<10} {:<10} REASON",
            "ACCOUNT", "REGION", "STATUS", "GATE"
        ),
        Format::JsonLines => Ok(()),
        Format::Csv => write_csv_record(out, FIELDS),
        Format::Markdown => {
            writeln!(out, "| Account | Region | Status | Gate | Reason | OU |")?;
            writeln!(out, "| --- | --- | --- | --- | --- | --- |")
        }
    }
}

/// One result as one row (one line; a CSV field may hold line breaks inside its quotes).
pub fn write_row(out: &mut impl Write, format: Format, r: &OperationResult) -> io::Result<()> {
    match format {
        Format::Table => writeln!(
            out,
            "{:<14} {:<16} {:<10} {:<10} {}",
            r.account,
            r.region,
            r.status.as_str(),
            r.gate_status.map_or("-", |g| g.as_str()),
            one_line(r.status_reason.as_deref().unwrap_or(""))
        ),
        Format::JsonLines => {
            let row = serde_json::json!({
                "Account": r.account,
                "Region": r.region,
                "Status": r.status.as_str(),
                "StatusReason": r.status_reason,
                "AccountGateStatus": r.gate_status.map(|g| g.as_str()),
                "AccountGateStatusReason": r.gate_reason,
                "OrganizationalUnitId": r.ou,
            });
            serde_json::to_writer(&mut *out, &row)?;
            out.write_all(b"\n")
        }
        Format::Csv => write_csv_record(out, fields(r)),
        Format::Markdown => writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            markdown_cell(&r.account),
            markdown_cell(&r.region),
            r.status.as_str(),
            r.gate_status.map_or("-", |g| g.as_str()),
            markdown_cell(r.status_reason.as_deref().unwrap_or("")),
            markdown_cell(r.ou.as_deref().unwrap_or("")),
        ),
    }
}

/// One CSV record: fields joined by commas, CRLF at the end (RFC 4180).
pub fn write_csv_record<'a>(out: &mut impl Write, fields: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(csv_field(field).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

/// A CSV field, quoted (with `"` doubled) when it holds a comma, a quote, CR or LF, or starts
/// or ends with a space (which some readers would trim).
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    let needs = text.contains([',', '"', '\r', '\n']) || text.starts_with(' ') || text.ends_with(' ');
    if needs {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// A table cell's text for Markdown: `|` escaped, line breaks as `<br>`, so a row stays a row.
pub fn markdown_cell(text: &str) -> String {
    let mut cell = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => cell.push_str("\\|"),
            '\\' => cell.push_str("\\\\"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                cell.push_str("<br>");
            }
            '\n' => cell.push_str("<br>"),
            '<' => cell.push_str("&lt;"),
            '>' => cell.push_str("&gt;"),
            c => cell.push(c),
        }
    }
    cell
}

/// Failure groups as a Markdown report: a heading naming the operation, then one table row per
/// group (status, count, category and its fix, reason, accounts, Regions), biggest first as the
/// failures screen has them.
pub fn write_failures(
    out: &mut impl Write,
    stack_set: &str,
    operation_id: &str,
    groups: &[crate::app::FailureGroup],
) -> io::Result<()> {
    writeln!(
        out,
        "## Failures of {} operation {}\n",
        markdown_cell(stack_set),
        markdown_cell(operation_id)
    )?;
    writeln!(
        out,
        "| # | Status | Count | Category | Fix | Reason | Accounts | Regions |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for (i, g) in groups.iter().enumerate() {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            g.status.as_str(),
            g.count,
            markdown_cell(g.category.map_or("", |c| c.name.as_str())),
            markdown_cell(g.category.map_or("", |c| c.hint.as_str())),
            markdown_cell(&g.reason),
            markdown_cell(&g.accounts.join(", ")),
            markdown_cell(&g.regions.join(", ")),
        )?;
    }
    Ok(())
}

/// Writes an export file from the dashboard; never overwrites (a `-2`, `-3`... is added to a
/// name already taken). Returns the path written and the number of rows.
pub fn write_job(job: &crate::app::ExportJob) -> Result<(std::path::PathBuf, usize), String> {
    use crate::app::ExportContent;
    let (file, path) = create_new(&job.path).map_err(|e| e.to_string())?;
    let mut out = io::BufWriter::new(file);
    let rows = match &job.content {
        ExportContent::Results(results) => {
            write_header(&mut out, Format::Csv).map_err(|e| e.to_string())?;
            for r in results {
                write_row(&mut out, Format::Csv, r).map_err(|e| e.to_string())?;
            }
            results.len()
        }
        ExportContent::Failures {
            stack_set,
            operation_id,
            groups,
        } => {
            write_failures(&mut out, stack_set, operation_id, groups).map_err(|e| e.to_string())?;
            groups.len()
        }
    };
    out.flush().map_err(|e| e.to_string())?;
    Ok((path, rows))
}

fn create_new(path: &std::path::Path) -> io::Result<(std::fs::File, std::path::PathBuf)> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path.extension().map(|s| s.to_string_lossy().into_owned());
    let mut candidate = path.to_path_buf();
    for n in 2..100 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((file, candidate)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let name = match &ext {
                    Some(ext) => format!("{stem}-{n}.{ext}"),
                    None => format!("{stem}-{n}"),
                };
                candidate = path.with_file_name(name);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "too many files of that name",
    ))
}

/// Line breaks and tabs as spaces: the table keeps one line per result.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '\r' | '\n' | '\t') { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GateStatus, ResultStatus};

    fn result(reason: &str) -> OperationResult {
        OperationResult {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            status: ResultStatus::Failed,
            status_reason: Some(reason.into()),
            gate_status: Some(GateStatus::Succeeded),
            gate_reason: None,
            ou: Some("ou-ab12-cdef".into()),
        }
    }

    fn written(format: Format, rows: &[OperationResult]) -> String {
        let mut out = Vec::new();
        write_header(&mut out, format).unwrap();
        for r in rows {
            write_row(&mut out, format, r).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    /// A small RFC 4180 reader, written from the RFC, to read back what we wrote.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    c => field.push(c),
                }
                continue;
            }
            match c {
                '"' => {
                    assert!(field.is_empty(), "a quote inside an unquoted field: {text:?}");
                    quoted = true;
                }
                ',' => record.push(std::mem::take(&mut field)),
                '\r' => {
                    assert_eq!(chars.next(), Some('\n'), "CR without LF");
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                '\n' => panic!("a bare LF outside quotes: {text:?}"),
                c => field.push(c),
            }
        }
        assert!(!quoted, "an unclosed quote");
        assert!(field.is_empty() && record.is_empty(), "the last record has no CRLF");
        records
    }

    #[test]
    fn csv_parses_back_with_commas_quotes_and_line_breaks_in_a_reason() {
        let nasty = "Resource \"Topic\", type AWS::SNS::Topic:\nquota, reached.\r\n  next line ";
        let rows = [result(nasty), result("plain")];
        let records = parse_csv(&written(Format::Csv, &rows));
        assert_eq!(records.len(), 3);
        assert_eq!(records[0], FIELDS.map(String::from).to_vec());
        assert_eq!(records[1][3], nasty);
        assert_eq!(records[1][0], "111122223333");
        assert_eq!(records[1][4], "SUCCEEDED");
        assert_eq!(records[1][5], "");
        assert_eq!(records[2][3], "plain");
        assert!(records.iter().all(|r| r.len() == FIELDS.len()));
    }

    #[test]
    fn json_lines_are_one_object_per_line() {
        let rows = [result("a \"quoted\"\nreason"), result("plain")];
        let text = written(Format::JsonLines, &rows);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for (line, r) in lines.iter().zip(&rows) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["StatusReason"].as_str(), r.status_reason.as_deref());
            assert_eq!(v["Account"], "111122223333");
            assert_eq!(v["AccountGateStatusReason"], serde_json::Value::Null);
        }
    }

    #[test]
    fn markdown_rows_stay_one_line_with_six_cells() {
        let text = written(Format::Markdown, &[result("pipe | here\nand <b>")]);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let row = lines[2];
        assert!(row.contains("pipe \\| here<br>and &lt;b&gt;"), "{row}");
        // Unescaped pipes delimit exactly 6 cells.
        let bars = row.replace("\\|", "").matches('|').count();
        assert_eq!(bars, 7, "{row}");
    }

    #[test]
    fn an_export_job_writes_a_new_file_that_parses_and_never_overwrites() {
        use crate::app::{ExportContent, ExportJob, FailureGroup};
        let dir = tempfile::tempdir().unwrap();
        let job = ExportJob {
            path: dir.path().join("out.csv"),
            content: ExportContent::Results(vec![result("a, \"b\"\nc")]),
        };
        let (first, rows) = write_job(&job).unwrap();
        let (second, _) = write_job(&job).unwrap();
        assert_eq!((first.clone(), rows), (dir.path().join("out.csv"), 1));
        assert_eq!(second, dir.path().join("out-2.csv"));
        let records = parse_csv(&std::fs::read_to_string(&first).unwrap());
        assert_eq!(records[1][3], "a, \"b\"\nc");
        let job = ExportJob {
            path: dir.path().join("f.md"),
            content: ExportContent::Failures {
                stack_set: "set".into(),
                operation_id: "op".into(),
                groups: vec![FailureGroup {
                    status: ResultStatus::Failed,
                    category: None,
                    resource: None,
                    reason: "quota | reached".into(),
                    count: 2,
                    accounts: vec!["1".into(), "2".into()],
                    regions: vec!["eu-west-1".into()],
                }],
            },
        };
        let (path, rows) = write_job(&job).unwrap();
        assert_eq!(rows, 1);
        let text = std::fs::read_to_string(path).unwrap();
        let row = text.lines().last().unwrap();
        assert_eq!(row, "| 1 | FAILED | 2 |  |  | quota \\| reached | 1, 2 | eu-west-1 |");
        let missing = ExportJob {
            path: dir.path().join("no/such/dir/x.csv"),
            content: ExportContent::Results(Vec::new()),
        };
        assert!(write_job(&missing).is_err());
    }

    #[test]
    fn table_keeps_one_line_per_result() {
        let text = written(Format::Table, &[result("two\nlines")]);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("two lines"));
    }
}
