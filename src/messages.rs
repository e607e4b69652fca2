//! User-facing error wording in one place: what went wrong and what to do about it, for the
//! command line's one-line errors, the dashboard's header and the stop dialog. (Set-up errors
//! found before any call keep their words beside their cause: `ConnectError`, `ConfigError`.)

use std::path::PathBuf;

use crate::api::{ApiError, ErrorKind};
use crate::model::CallAs;

/// A failure in plain words with what to do about it, for the dashboard's header.
pub fn advice(error: &ApiError, profile: Option<&str>) -> String {
    let login = match profile {
        Some(profile) if profile != "demo" => format!("aws sso login --profile {profile}"),
        _ => "aws sso login".to_string(),
    };
    match error.kind {
        ErrorKind::ExpiredCredentials => {
            format!("credentials expired: run `{login}` or refresh your keys; sstop retries by itself")
        }
        ErrorKind::NoCredentials => {
            format!(
                "no AWS credentials found: run `{login}`, `aws configure`, or set AWS_PROFILE; sstop retries by itself"
            )
        }
        ErrorKind::CredentialSource => format!("{}; sstop retries by itself", error.message),
        ErrorKind::AccessDenied => format!("access denied: {}", error.message),
        ErrorKind::Throttled => "throttled by CloudFormation (Rate exceeded): backing off".to_string(),
        ErrorKind::Network => format!("cannot reach CloudFormation: {}", error.message),
        ErrorKind::Timeout => "CloudFormation did not answer in time: retrying".to_string(),
        ErrorKind::Service => format!("CloudFormation failed ({}): retrying", error.message),
        ErrorKind::StackSetNotFound => format!(
            "{} (a delegated administrator's stack set needs --call-as delegated-admin)",
            error.message
        ),
        _ => error.message.clone(),
    }
}

/// The footer after a copy: what went to the clipboard (its start, if long) and how.
pub fn copied(what: &str, text: &str) -> String {
    let shown: String = text.chars().take(60).collect();
    let more = if text.chars().count() > 60 { "…" } else { "" };
    format!("Copied {what} {shown}{more} (OSC 52: in tmux, set -g set-clipboard on)")
}

pub const NOTHING_TO_COPY: &str = "Nothing to copy here: move onto a row first.";

pub const NO_REGION_FOR_URL: &str = "No Region known for a console URL: pass --region or set region in the config.";

pub const EXPORT_WHERE: &str = "Export works on an operation's grid (results as CSV) or its failures (as Markdown).";

/// The footer when an export file could not be written.
pub fn export_failed(path: &std::path::Path, why: &str) -> String {
    format!(
        "Export failed: cannot write {}: {why}: set export_dir in the config to a writable directory",
        path.display()
    )
}

/// `sstop wait --stop-if-failures` under read-only: refused before anything is read.
pub fn wait_stop_refused_read_only(source: &ReadOnlySource) -> String {
    let by = match source {
        ReadOnlySource::Flag => "--read-only".to_string(),
        ReadOnlySource::Config(Some(path)) => format!("read_only in config file {}", path.display()),
        ReadOnlySource::Config(None) => "read_only in the config".to_string(),
    };
    format!(
        "--stop-if-failures would send StopStackSetOperation, but read-only is set by {by}: drop --stop-if-failures to only wait, or lift read-only to let wait stop"
    )
}

/// The footer's word when `s` is pressed under read-only.
pub const DIALOG_READ_ONLY: &str = "READ-ONLY: stopping is disabled (--read-only or read_only in the config).";

/// Why a stop failed, for the stop dialog.
pub fn stop_error_text(error: &ApiError) -> String {
    match error.kind {
        ErrorKind::InvalidOperation => "The operation has already ended: nothing to stop.".to_string(),
        ErrorKind::OperationNotFound => {
            "Operation not found: it may belong to another stack set, or need another CallAs.".to_string()
        }
        ErrorKind::StackSetNotFound => format!(
            "Stack set not found as this caller: {} (a delegated-admin stack set needs CallAs DELEGATED_ADMIN).",
            error.message
        ),
        ErrorKind::AccessDenied => format!("Access denied: {}", error.message),
        ErrorKind::Throttled => {
            "Throttled by CloudFormation even after retries: try again in a moment (y).".to_string()
        }
        ErrorKind::Network | ErrorKind::Timeout => {
            format!(
                "Could not reach CloudFormation: {}. Press y to try again.",
                error.message
            )
        }
        ErrorKind::ExpiredCredentials | ErrorKind::NoCredentials | ErrorKind::CredentialSource => {
            format!("Credentials problem: {}", error.message)
        }
        ErrorKind::ReadOnly => "Read-only is set: no stop was sent.".to_string(),
        _ => format!("Stop failed: {}", error.message),
    }
}

/// A failed call in one line for the command line, with what to do where there is something.
pub fn describe_api_error(error: &ApiError) -> String {
    let text = match error.kind {
        ErrorKind::NoCredentials => format!(
            "{}: log in (`aws sso login`), run `aws configure`, or set AWS_PROFILE",
            error.message
        ),
        ErrorKind::ExpiredCredentials => format!(
            "credentials expired or invalid ({}): log in again or refresh your keys",
            error.message
        ),
        ErrorKind::Timeout => format!(
            "{}: CloudFormation did not answer in time, after the SDK's retries: check the network, a proxy or --endpoint-url, then run it again",
            error.message
        ),
        ErrorKind::Network => format!(
            "cannot reach CloudFormation ({}): check the network, a proxy or --endpoint-url, then run it again",
            error.message
        ),
        ErrorKind::Throttled => format!(
            "throttled by CloudFormation even after the SDK's retries ({}): run it again in a minute, or lower the request rate of other tools on this account",
            error.message
        ),
        _ => match &error.code {
            Some(code) => format!("{code}: {}", error.message),
            None => error.message.clone(),
        },
    };
    fold(&text)
}

/// `sstop stop` that did not go through, in one line: AWS's refusal in the dialog's words, and
/// failures before AWS could answer (credentials, network) as any other call's.
pub fn stop_failed(error: &ApiError) -> String {
    match error.kind {
        ErrorKind::InvalidOperation
        | ErrorKind::OperationInProgress
        | ErrorKind::AccessDenied
        | ErrorKind::Throttled
        | ErrorKind::Validation
        | ErrorKind::Service
        | ErrorKind::Other => format!("AWS refused the stop: {}", fold(&stop_error_text(error))),
        _ => describe_api_error(error),
    }
}

/// The one line for a stack set or operation that is not there, with the likely fix.
pub fn not_found(error: &ApiError, stack_set: &str, operation_id: &str, call_as: CallAs) -> String {
    match (error.kind, call_as) {
        (ErrorKind::OperationNotFound, _) => format!(
            "operation {operation_id:?} not found in stack set {stack_set:?}: check the id (`sstop --stack-set {stack_set}` lists its operations)"
        ),
        (_, CallAs::SelfAccount) => format!(
            "stack set {stack_set:?} not found as SELF: check the name, or pass --call-as delegated-admin if it is a service-managed stack set of your organization"
        ),
        (_, CallAs::DelegatedAdmin) => format!(
            "stack set {stack_set:?} not found as DELEGATED_ADMIN: check the name, or pass --call-as self if it belongs to this account"
        ),
    }
}

/// `sstop stop` without --yes and no terminal to ask on.
pub const STOP_NEEDS_YES: &str = "refusing to stop without confirmation: no terminal to ask on; pass --yes";

/// `wait --stop-if-failures` with neither `--yes` nor a terminal to ask on.
pub const WAIT_STOP_NEEDS_YES: &str = "refusing --stop-if-failures without confirmation: no terminal to ask on; pass --yes with it to agree to the stop now, or drop --stop-if-failures";

/// Lines joined into one, so a wrapped error can never turn into a dump.
pub fn fold(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where read-only was set, for a message that says how to unset it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlySource {
    Flag,
    /// `read_only = true` in this config file (None: a config without a known file).
    Config(Option<PathBuf>),
}

/// `sstop stop` under read-only: why nothing was sent, and how to send it.
pub fn stop_refused_read_only(source: &ReadOnlySource) -> String {
    match source {
        ReadOnlySource::Flag => "refusing to stop: read-only is set by --read-only: remove it to stop".to_string(),
        ReadOnlySource::Config(path) => {
            let file = path
                .as_ref()
                .map_or_else(|| "the config".to_string(), |p| format!("config file {}", p.display()));
            format!(
                "refusing to stop: read-only is set by read_only in {file}: remove it (or set read_only = false) to stop"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_stop_on_the_command_line_says_who_refused() {
        let ended = ApiError::new(ErrorKind::InvalidOperation, "the operation isn't valid");
        assert_eq!(
            stop_failed(&ended),
            "AWS refused the stop: The operation has already ended: nothing to stop."
        );
        // Credentials never reached AWS: not "AWS refused".
        let helper = ApiError::new(
            ErrorKind::CredentialSource,
            "the credential_process of profile p printed bad JSON",
        );
        assert_eq!(stop_failed(&helper), helper.message);
    }

    #[test]
    fn a_command_line_timeout_or_network_failure_names_what_to_check() {
        let timeout = describe_api_error(&ApiError::new(ErrorKind::Timeout, "the request timed out"));
        assert!(timeout.starts_with("the request timed out: "), "{timeout}");
        assert!(
            timeout.contains("--endpoint-url") && timeout.contains("run it again"),
            "{timeout}"
        );
        let network = describe_api_error(&ApiError::new(ErrorKind::Network, "connection refused"));
        assert!(
            network.contains("connection refused") && network.contains("check the network"),
            "{network}"
        );
        let throttled = describe_api_error(&ApiError::new(ErrorKind::Throttled, "Rate exceeded"));
        assert!(
            throttled.contains("Rate exceeded") && throttled.contains("run it again"),
            "{throttled}"
        );
    }

    #[test]
    fn every_kind_has_stop_dialog_words() {
        let read_only = ApiError::new(ErrorKind::ReadOnly, "x");
        assert_eq!(stop_error_text(&read_only), "Read-only is set: no stop was sent.");
        let helper = ApiError::new(ErrorKind::CredentialSource, "the helper hung");
        assert_eq!(stop_error_text(&helper), "Credentials problem: the helper hung");
    }

    #[test]
    fn read_only_refusals_name_their_source_and_the_fix() {
        let flag = stop_refused_read_only(&ReadOnlySource::Flag);
        assert!(flag.contains("--read-only") && flag.contains("remove it"), "{flag}");
        let file = stop_refused_read_only(&ReadOnlySource::Config(Some(PathBuf::from("/etc/sstop.toml"))));
        assert!(file.contains("read_only in config file /etc/sstop.toml"), "{file}");
    }
}
