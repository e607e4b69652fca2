//! The request log: the last few hundred CloudFormation calls this process made (time, Action,
//! stack set, CallAs, outcome, latency, attempts and throttles), for the dashboard's `L` view.
//! Recorded by one SDK interceptor that reads the awsQuery request form and the response, so no
//! call site has to remember to; kept in a process-wide ring buffer. Never holds credentials:
//! only the Action, StackSetName and CallAs fields of a request are read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use time::OffsetDateTime;

/// Attempts that got an answer, and those answered with throttling: what the polling's
/// adaptive rate follows (`poll::RateLimiter::adaptive`).
#[derive(Debug, Default)]
pub struct AttemptCounts {
    answered: AtomicU64,
    throttled: AtomicU64,
}

impl AttemptCounts {
    pub fn note(&self, throttled: bool) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        if throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (answered, throttled) so far.
    pub fn read(&self) -> (u64, u64) {
        (
            self.answered.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
        )
    }
}

/// The counts of every SDK client of this process (each one carries the recorder).
pub fn attempts() -> Arc<AttemptCounts> {
    static COUNTS: OnceLock<Arc<AttemptCounts>> = OnceLock::new();
    Arc::clone(COUNTS.get_or_init(Default::default))
}

/// Calls kept; the oldest go first.
pub const CAPACITY: usize = 400;

/// One call, as the log view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: OffsetDateTime,
    pub action: String,
    pub stack_set: Option<String>,
    pub call_as: Option<String>,
    /// `200` for success, else the error code (`Throttling`, `AccessDenied`...), `timeout` or
    /// `network`.
    pub outcome: String,
    pub ok: bool,
    pub latency: Duration,
    /// Attempts the SDK made (1 without retries).
    pub attempts: u32,
    /// Attempts answered with throttling.
    pub throttles: u32,
}

fn log() -> &'static Mutex<VecDeque<Record>> {
    static LOG: OnceLock<Mutex<VecDeque<Record>>> = OnceLock::new();
    LOG.get_or_init(|| Mutex::new(VecDeque::with_capacity(CAPACITY)))
}

pub fn record(entry: Record) {
    if let Ok(mut log) = log().lock() {
        push(&mut log, entry);
    }
}

fn push(log: &mut VecDeque<Record>, entry: Record) {
    if log.len() >= CAPACITY {
        log.pop_front();
    }
    log.push_back(entry);
}

/// The calls so far, oldest first.
pub fn snapshot() -> Vec<Record> {
    log()
        .lock()
        .map(|log| log.iter().cloned().collect())
        .unwrap_or_default()
}

/// Per-call state the interceptor keeps in the call's config bag.
#[derive(Debug, Clone)]
struct Call {
    started: Instant,
    at: OffsetDateTime,
    attempts: u32,
    throttles: u32,
    /// Action, StackSetName and CallAs, read from the request once it is serialized.
    fields: (String, Option<String>, Option<String>),
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

/// Records every call made through the client it is installed on.
#[derive(Debug, Default)]
pub struct Recorder;

fn body_of(bytes: Option<&[u8]>) -> &str {
    bytes.and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
}

/// The `<Code>` of an awsQuery error body.
fn error_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].trim().to_string()).filter(|c| !c.is_empty())
}

fn is_throttle(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException")
    )
}

/// Action, StackSetName and CallAs of an awsQuery request form; nothing else is read.
fn request_fields(form: &str) -> (String, Option<String>, Option<String>) {
    let (mut action, mut stack_set, mut call_as) = (String::from("?"), None, None);
    for (key, value) in form_urlencoded::parse(form.as_bytes()) {
        match key.as_ref() {
            "Action" => action = value.into_owned(),
            "StackSetName" => stack_set = Some(value.into_owned()),
            "CallAs" => call_as = Some(value.into_owned()),
            _ => {}
        }
    }
    (action, stack_set, call_as)
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "sstop request log"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Call {
            started: Instant::now(),
            at: OffsetDateTime::now_utc(),
            attempts: 0,
            throttles: 0,
            fields: ("?".to_string(), None, None),
        });
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(mut call) = cfg.load::<Call>().cloned() {
            call.fields = request_fields(body_of(context.request().body().bytes()));
            cfg.interceptor_state().store_put(call);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(mut call) = cfg.load::<Call>().cloned() {
            call.attempts += 1;
            let body = body_of(context.response().and_then(|r| r.body().bytes()));
            let throttled = is_throttle(error_code(body).as_deref());
            if throttled {
                call.throttles += 1;
            }
            if context.response().is_some() {
                attempts().note(throttled);
            }
            cfg.interceptor_state().store_put(call);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>().cloned() else {
            return Ok(());
        };
        let (action, stack_set, call_as) = call.fields.clone();
        let response = context.response();
        let status = response.map(|r| r.status().as_u16());
        let outcome = match (context.output_or_error(), status) {
            (Some(Ok(_)), Some(status)) => status.to_string(),
            (Some(Ok(_)), None) => "ok".to_string(),
            (Some(Err(err)), _) if err.is_timeout_error() => "timeout".to_string(),
            (Some(Err(err)), _) if err.is_connector_error() => "network".to_string(),
            (_, Some(status)) => {
                let body = body_of(response.and_then(|r| r.body().bytes()));
                error_code(body).unwrap_or_else(|| format!("HTTP {status}"))
            }
            (_, None) => "error".to_string(),
        };
        record(Record {
            at: call.at,
            ok: matches!(context.output_or_error(), Some(Ok(_))),
            action,
            stack_set,
            call_as,
            outcome,
            latency: call.started.elapsed(),
            attempts: call.attempts,
            throttles: call.throttles,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_gives_action_stack_set_and_call_as_only() {
        let (action, set, call_as) = request_fields(
            "Action=DescribeStackSetOperation&Version=2010-05-15&StackSetName=org%20base&OperationId=x&CallAs=SELF",
        );
        assert_eq!(action, "DescribeStackSetOperation");
        assert_eq!(set.as_deref(), Some("org base"));
        assert_eq!(call_as.as_deref(), Some("SELF"));
        assert_eq!(
            error_code("<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>").as_deref(),
            Some("Throttling")
        );
        assert!(is_throttle(Some("Throttling")) && !is_throttle(Some("AccessDenied")));
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let mut ring = VecDeque::new();
        for i in 0..CAPACITY + 5 {
            push(
                &mut ring,
                Record {
                    at: OffsetDateTime::UNIX_EPOCH,
                    action: i.to_string(),
                    stack_set: None,
                    call_as: None,
                    outcome: "200".into(),
                    ok: true,
                    latency: Duration::ZERO,
                    attempts: 1,
                    throttles: 0,
                },
            );
        }
        assert_eq!(ring.len(), CAPACITY);
        assert_eq!(ring.front().map(|r| r.action.as_str()), Some("5"));
    }

    /// Calls through the real SDK client to the emulator land in the log with their Action,
    /// stack set, CallAs and outcome; a throttled call with its attempts and throttles.
    #[tokio::test]
    async fn sdk_calls_to_the_emulator_are_recorded() {
        use crate::api::sdk::{ConnectOptions, SdkApi};
        use crate::api::StackSetApi;
        use crate::model::CallAs;
        let sim = crate::sim::start(crate::sim::SimOptions {
            scenario: Some("runaway".into()),
            speed: 0.001,
            ..Default::default()
        })
        .await
        .unwrap();
        let mut options = ConnectOptions::new();
        options.endpoint_url = Some(sim.endpoint_url());
        options.region = Some("us-east-1".into());
        options.dummy_credentials = true;
        options.max_attempts = 2;
        let (api, _) = SdkApi::connect(&options).await.unwrap();
        api.describe_stack_set("vpc-flow-logs", CallAs::SelfAccount)
            .await
            .unwrap();
        api.describe_stack_set("no-such-set-reqlog", CallAs::DelegatedAdmin)
            .await
            .unwrap_err();
        sim.set_faults(1.0, 0.0, 0);
        api.describe_stack_set("vpc-flow-logs", CallAs::DelegatedAdmin)
            .await
            .unwrap_err();
        let log = snapshot();
        let found = |set: &str, call_as: &str| {
            log.iter()
                .rev()
                .find(|r| {
                    r.action == "DescribeStackSet"
                        && r.stack_set.as_deref() == Some(set)
                        && r.call_as.as_deref() == Some(call_as)
                })
                .cloned()
                .unwrap_or_else(|| panic!("no record of {set} as {call_as}: {log:?}"))
        };
        let ok = found("vpc-flow-logs", "SELF");
        assert!(
            ok.ok && ok.outcome == "200" && ok.attempts == 1 && ok.throttles == 0,
            "{ok:?}"
        );
        let missing = found("no-such-set-reqlog", "DELEGATED_ADMIN");
        assert!(
            !missing.ok && missing.outcome == "StackSetNotFoundException",
            "{missing:?}"
        );
        let throttled = found("vpc-flow-logs", "DELEGATED_ADMIN");
        assert_eq!(
            (throttled.outcome.as_str(), throttled.attempts, throttled.throttles),
            ("Throttling", 2, 2),
            "{throttled:?}"
        );
    }
}
