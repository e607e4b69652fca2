//! The audit line: one log line per stop attempt, from the dashboard or the command line, at the
//! default level, saying what was stopped, where, as whom, and what came of it. Never credentials.

use super::ApiError;
use crate::model::CallAs;

/// The log target of audit lines, so they can be filtered for (`grep sstop::audit`).
pub const TARGET: &str = "sstop::audit";

/// Where a stop attempt came from and where it went.
#[derive(Debug, Clone, Copy)]
pub struct StopAttempt<'a> {
    /// "dashboard" or "command line".
    pub origin: &'static str,
    pub stack_set: &'a str,
    pub operation_id: &'a str,
    pub call_as: CallAs,
    pub region: Option<&'a str>,
    /// None: the SDK's default endpoint for the Region.
    pub endpoint: Option<&'a str>,
    /// None: aws-config's default chain.
    pub profile: Option<&'a str>,
}

/// Write the attempt's line: info when the stop was sent, warn when it was not. `result` is the
/// request id of an accepted stop, or why it was refused (by AWS or, for read-only, by sstop).
/// Names the user typed are written with Debug quoting, so a newline in one cannot forge a line.
pub fn stop(attempt: &StopAttempt<'_>, result: Result<Option<&str>, &ApiError>) {
    let StopAttempt {
        origin,
        stack_set,
        operation_id,
        call_as,
        region,
        endpoint,
        profile,
    } = *attempt;
    let region = region.unwrap_or("-");
    let endpoint = endpoint.unwrap_or("default");
    let profile = profile.unwrap_or("default chain");
    match result {
        Ok(request_id) => tracing::info!(
            target: TARGET,
            origin,
            stack_set = ?stack_set,
            operation = ?operation_id,
            call_as = call_as.as_str(),
            region = ?region,
            endpoint = ?endpoint,
            profile = ?profile,
            outcome = "sent",
            request_id = request_id.unwrap_or("none"),
            "stop"
        ),
        Err(error) => tracing::warn!(
            target: TARGET,
            origin,
            stack_set = ?stack_set,
            operation = ?operation_id,
            call_as = call_as.as_str(),
            region = ?region,
            endpoint = ?endpoint,
            profile = ?profile,
            outcome = "refused",
            error_kind = ?error.kind,
            error_code = error.code.as_deref().unwrap_or("none"),
            request_id = error.request_id.as_deref().unwrap_or("none"),
            error = ?error.message,
            "stop"
        ),
    }
}

/// Log capture for tests: what a subscriber set up as the binary's (fmt, no ANSI, level info)
/// writes, on the current thread.
#[cfg(test)]
pub(crate) mod capture {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Capture until the guard is dropped (tasks of a current-thread runtime included).
    pub fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// The lines `f` logs.
    pub fn logged(f: impl FnOnce()) -> String {
        let (captured, guard) = start();
        f();
        drop(guard);
        captured.text()
    }
}

#[cfg(test)]
mod tests {
    use super::capture::logged;
    use super::*;
    use crate::api::ErrorKind;

    fn attempt() -> StopAttempt<'static> {
        StopAttempt {
            origin: "dashboard",
            stack_set: "org-guardrails",
            operation_id: "7d3f9a61",
            call_as: CallAs::DelegatedAdmin,
            region: Some("eu-west-1"),
            endpoint: Some("http://127.0.0.1:4566"),
            profile: Some("platform-admin"),
        }
    }

    #[test]
    fn a_sent_stop_is_one_info_line_with_every_field() {
        let log = logged(|| stop(&attempt(), Ok(Some("req-42"))));
        assert_eq!(log.lines().count(), 1, "{log}");
        // The fmt layer's timestamp leads the line: the "when".
        assert!(log.starts_with("20"), "{log}");
        for field in [
            " INFO sstop::audit: stop",
            "origin=\"dashboard\"",
            "stack_set=\"org-guardrails\"",
            "operation=\"7d3f9a61\"",
            "call_as=\"DELEGATED_ADMIN\"",
            "region=\"eu-west-1\"",
            "endpoint=\"http://127.0.0.1:4566\"",
            "profile=\"platform-admin\"",
            "outcome=\"sent\"",
            "request_id=\"req-42\"",
        ] {
            assert!(log.contains(field), "{field} missing: {log}");
        }
    }

    #[test]
    fn a_refused_stop_is_a_warning_with_the_error_kind_and_code() {
        let error = ApiError {
            kind: ErrorKind::InvalidOperation,
            code: Some("InvalidOperationException".into()),
            message: "the operation has ended".into(),
            request_id: Some("req-7".into()),
        };
        let log = logged(|| stop(&attempt(), Err(&error)));
        assert_eq!(log.lines().count(), 1, "{log}");
        for field in [
            " WARN sstop::audit: stop",
            "outcome=\"refused\"",
            "error_kind=InvalidOperation",
            "error_code=\"InvalidOperationException\"",
            "request_id=\"req-7\"",
            "stack_set=\"org-guardrails\"",
        ] {
            assert!(log.contains(field), "{field} missing: {log}");
        }
    }

    #[test]
    fn a_name_with_a_newline_cannot_forge_a_line() {
        let mut forged = attempt();
        forged.stack_set = "x\n2024-01-01T00:00:00Z INFO sstop::audit: stop outcome=\"sent\"";
        let log = logged(|| stop(&forged, Ok(None)));
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("request_id=\"none\""), "{log}");
    }
}
