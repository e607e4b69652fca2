//! `sstop wait`: follow one operation (through QUEUED) until it ends, reporting each status
//! change, each new failure, and a final summary. The logic lives here, generic over the API
//! and driven by tokio's clock, so it is tested on a paused clock; `cmd/wait.rs` prints it.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use crate::api::{all_pages, ApiError, ErrorKind, StackSetApi};
use crate::app::grid::ResultGrid;
use crate::model::{CallAs, OperationStatus, ResultStatus};

/// What `wait` reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WaitEvent {
    /// The operation's status, first as found and then at each change.
    Status { operation_id: String, status: String },
    /// A result that is FAILED and was not reported before.
    Failure {
        account: String,
        region: String,
        reason: Option<String>,
    },
    /// The end: final status, counts per result status, and the failures grouped by reason.
    Summary(Summary),
    /// `--timeout` passed before the operation ended.
    Timeout { operation_id: String, status: String },
    /// A poll failed for a reason that may pass (network, throttling, a server error); the
    /// next poll tries again.
    Retrying { message: String },
    /// `--stop-if-failures`: failed results reached the threshold and StopStackSetOperation was
    /// sent (the wait goes on until the operation is STOPPED).
    StopSent {
        operation_id: String,
        failed: usize,
        threshold: usize,
        request_id: Option<String>,
    },
    /// The stop could not be sent; a transient failure is tried again at the next poll.
    StopFailed {
        operation_id: String,
        failed: usize,
        threshold: usize,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub operation_id: String,
    pub status: String,
    /// Results per status, keyed by the API's status names.
    pub counts: BTreeMap<String, usize>,
    /// Reasons with account ids, Regions and request ids masked, most frequent first.
    pub failures: Vec<FailureCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    pub reason: String,
    pub count: usize,
}

/// How the wait ended; each has its exit code (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Stopped,
    SucceededWithFailures,
    TimedOut,
}

/// How long past `--timeout` the last read may take before the wait gives up on it.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(10);

/// Exit code when the wait ended on an error that leaves the outcome unknown (credentials,
/// access denied): distinct from 1, which means the operation failed.
pub const UNKNOWN_EXIT: u8 = 6;

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Succeeded => 0,
            Outcome::Failed => 1,
            Outcome::Stopped => 3,
            Outcome::SucceededWithFailures => 4,
            Outcome::TimedOut => 5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub call_as: CallAs,
    /// Time between polls.
    pub interval: Duration,
    /// Give up after this long (exit 5).
    pub timeout: Option<Duration>,
    /// Stop the operation once this many of its results have FAILED (`--stop-if-failures`).
    pub stop_if_failures: Option<usize>,
}

/// What came of a stop `wait` sent, for the caller's audit line: the request id, or the error.
pub type StopResult<'a> = Result<Option<&'a str>, &'a ApiError>;

/// The newest operation of a stack set (`--latest`).
pub async fn latest_operation<A: StackSetApi>(
    api: &A,
    stack_set: &str,
    call_as: CallAs,
) -> Result<Option<String>, ApiError> {
    let page = api.list_operations(stack_set, call_as, 20, None).await?;
    Ok(page.items.into_iter().max_by_key(|op| op.created).map(|op| op.id))
}

/// Polls until the operation ends or the timeout passes, calling `report` with each event.
/// Each poll costs one DescribeStackSetOperation and one page per 100 FAILED results. A
/// transient failure (network, throttling, a 5xx) is reported and retried at the next poll;
/// any other error ends the wait. At the timeout the operation is read once more before
/// giving up, so an operation that ended in the last interval is not called still running.
pub async fn wait<A: StackSetApi>(
    api: &A,
    stack_set: &str,
    operation_id: &str,
    options: &WaitOptions,
    report: impl FnMut(WaitEvent),
) -> Result<Outcome, ApiError> {
    wait_and_stop(api, stack_set, operation_id, options, report, |_| {}).await
}

/// `wait`, and with `stop_if_failures` the stop it may send; `audit` hears of every stop
/// attempt (sent, refused or failed) so the caller can write its audit line.
pub async fn wait_and_stop<A: StackSetApi>(
    api: &A,
    stack_set: &str,
    operation_id: &str,
    options: &WaitOptions,
    mut report: impl FnMut(WaitEvent),
    mut audit: impl FnMut(StopResult<'_>),
) -> Result<Outcome, ApiError> {
    let deadline = options.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut follower = Follower {
        stop_at: options.stop_if_failures,
        ..Default::default()
    };
    let mut last_chance = false;
    loop {
        let poll = follower.poll(api, stack_set, operation_id, options.call_as, &mut report, &mut audit);
        // A read that hangs (the SDK's timeouts and retries) may not hold the wait past its
        // deadline by more than the grace.
        let polled = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline + DEADLINE_GRACE, poll).await.ok(),
            None => Some(poll.await),
        };
        match polled {
            Some(Ok(Some(outcome))) => return Ok(outcome),
            Some(Ok(None)) => {}
            Some(Err(error)) if error.is_transient() => report(WaitEvent::Retrying {
                message: error.message.clone(),
            }),
            Some(Err(error)) => return Err(error),
            None => last_chance = true,
        }
        if last_chance {
            report(WaitEvent::Timeout {
                operation_id: operation_id.to_string(),
                status: follower
                    .last_status
                    .map_or_else(|| "unknown".to_string(), |s| s.to_string()),
            });
            return Ok(Outcome::TimedOut);
        }
        let next = tokio::time::Instant::now() + options.interval;
        match deadline {
            Some(deadline) if next >= deadline => {
                tokio::time::sleep_until(deadline).await;
                last_chance = true;
            }
            _ => tokio::time::sleep_until(next).await,
        }
    }
}

/// What the wait has seen so far: the last status, and the failures already reported.
#[derive(Default)]
struct Follower {
    last_status: Option<OperationStatus>,
    reported: HashSet<(String, String)>,
    /// `--stop-if-failures`: the threshold, and whether the stop has been accepted.
    stop_at: Option<usize>,
    stop_sent: bool,
}

impl Follower {
    /// One poll: the status (reported when it changed), new failures, and the outcome once the
    /// operation has ended.
    async fn poll<A: StackSetApi>(
        &mut self,
        api: &A,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
        report: &mut impl FnMut(WaitEvent),
        audit: &mut impl FnMut(StopResult<'_>),
    ) -> Result<Option<Outcome>, ApiError> {
        let operation = api.describe_operation(stack_set, operation_id, call_as).await?;
        if self.last_status != Some(operation.status) {
            report(WaitEvent::Status {
                operation_id: operation_id.to_string(),
                status: operation.status.to_string(),
            });
            self.last_status = Some(operation.status);
        }
        let failed =
            all_pages(|token| api.list_results(stack_set, operation_id, call_as, Some(ResultStatus::Failed), token))
                .await?;
        for result in failed {
            if self.reported.insert((result.account.clone(), result.region.clone())) {
                report(WaitEvent::Failure {
                    account: result.account,
                    region: result.region,
                    reason: result.status_reason,
                });
            }
        }
        let failed = self.reported.len();
        let threshold_met = self.stop_at.filter(|n| failed >= *n);
        if let Some(threshold) = threshold_met.filter(|_| !self.stop_sent && operation.status.is_stoppable()) {
            let result = api.stop_operation(stack_set, operation_id, call_as).await;
            audit(result.as_ref().map(|accepted| accepted.request_id.as_deref()));
            match result {
                Ok(accepted) => {
                    self.stop_sent = true;
                    report(WaitEvent::StopSent {
                        operation_id: operation_id.to_string(),
                        failed,
                        threshold,
                        request_id: accepted.request_id,
                    });
                }
                // It ended between the read and the stop: the next poll reads how.
                Err(error) if error.kind == ErrorKind::InvalidOperation => {}
                Err(error) => {
                    report(WaitEvent::StopFailed {
                        operation_id: operation_id.to_string(),
                        failed,
                        threshold,
                        message: error.message.clone(),
                    });
                    // Throttling or the network: the next poll tries again. Anything else
                    // (access denied, read-only) would fail every time: end the wait on it.
                    if !error.is_transient() {
                        return Err(error);
                    }
                }
            }
        }
        if operation.status.is_active() {
            return Ok(None);
        }
        let summary = summarize(api, stack_set, operation_id, call_as, operation.status).await?;
        // The results and the operation's own FailedStackInstancesCount: whichever says more.
        let failed_instances = summary
            .counts
            .get(ResultStatus::Failed.as_str())
            .copied()
            .unwrap_or(0)
            .max(operation.failed_count.unwrap_or(0) as usize);
        report(WaitEvent::Summary(summary));
        Ok(Some(match operation.status {
            OperationStatus::Succeeded if failed_instances > 0 => Outcome::SucceededWithFailures,
            OperationStatus::Succeeded => Outcome::Succeeded,
            OperationStatus::Stopped => Outcome::Stopped,
            _ => Outcome::Failed,
        }))
    }
}

/// One full read of the ended operation: counts per status and failures by reason.
async fn summarize<A: StackSetApi>(
    api: &A,
    stack_set: &str,
    operation_id: &str,
    call_as: CallAs,
    status: OperationStatus,
) -> Result<Summary, ApiError> {
    let results = all_pages(|token| api.list_results(stack_set, operation_id, call_as, None, token)).await?;
    // The dashboard's grid counts and groups them, reasons masked the same way.
    let mut grid = ResultGrid::default();
    grid.merge(results);
    let counts = ResultStatus::ALL
        .iter()
        .filter(|status| grid.count(**status) > 0)
        .map(|status| (status.as_str().to_string(), grid.count(*status)))
        .collect();
    let failures = grid
        .failure_groups()
        .into_iter()
        .filter(|group| group.status == ResultStatus::Failed)
        .map(|group| FailureCount {
            reason: group.reason,
            count: group.count,
        })
        .collect();
    Ok(Summary {
        operation_id: operation_id.to_string(),
        status: status.to_string(),
        counts,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::api::fake::{FakeApi, FakeData};
    use crate::model::{Operation, OperationAction, OperationPreferences};

    fn operation(status: OperationStatus) -> Operation {
        Operation {
            id: "op".into(),
            action: OperationAction::Update,
            status,
            created: None,
            ended: None,
            status_reason: None,
            failed_count: Some(0),
            preferences: OperationPreferences::default(),
        }
    }

    fn set_status(api: &FakeApi, status: OperationStatus) {
        if let Ok(mut data) = api.data.lock() {
            data.operations.insert("set".into(), vec![operation(status)]);
        }
    }

    /// Network errors are retried, not taken for a failed rollout; and an operation that ends
    /// between the last poll and the deadline is seen ending, not reported still running.
    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_and_the_deadline_gets_a_last_read() {
        let api = Arc::new(FakeApi::new(FakeData {
            fail_with: Some(ApiError::new(ErrorKind::Network, "connection reset")),
            ..Default::default()
        }));
        set_status(&api, OperationStatus::Running);
        let events = Arc::new(Mutex::new(Vec::new()));
        let options = WaitOptions {
            call_as: CallAs::SelfAccount,
            interval: Duration::from_secs(10),
            timeout: Some(Duration::from_secs(25)),
            stop_if_failures: None,
        };
        let task = tokio::spawn({
            let (api, events) = (Arc::clone(&api), Arc::clone(&events));
            async move {
                wait(&*api, "set", "op", &options, |e| {
                    if let Ok(mut events) = events.lock() {
                        events.push(e);
                    }
                })
                .await
            }
        });
        // Polls at 0 s and 10 s fail; the one at 20 s reads RUNNING.
        tokio::time::sleep(Duration::from_secs(15)).await;
        if let Ok(mut data) = api.data.lock() {
            data.fail_with = None;
        }
        // It ends at 22 s: after the last interval's poll, before the 25 s deadline.
        tokio::time::sleep(Duration::from_secs(7)).await;
        set_status(&api, OperationStatus::Succeeded);
        let outcome = task.await.expect("wait runs").expect("no error ends the wait");
        assert_eq!(outcome, Outcome::Succeeded);
        let events = events.lock().map(|e| e.clone()).unwrap_or_default();
        let retries = events
            .iter()
            .filter(|e| matches!(e, WaitEvent::Retrying { .. }))
            .count();
        assert_eq!(retries, 2, "{events:?}");
        assert!(matches!(events.last(), Some(WaitEvent::Summary(_))), "{events:?}");
    }

    /// Found trying a hanging endpoint: each read can take the SDK's timeouts and retries, so
    /// `--timeout` was exceeded by minutes. The wait now ends by the deadline plus a grace.
    #[tokio::test(start_paused = true)]
    async fn a_hanging_endpoint_cannot_hold_the_wait_past_its_timeout() {
        let mut api = FakeApi::new(FakeData::default());
        api.describe_latency = Duration::from_secs(3600);
        set_status(&api, OperationStatus::Running);
        let options = WaitOptions {
            call_as: CallAs::SelfAccount,
            interval: Duration::from_secs(10),
            timeout: Some(Duration::from_secs(30)),
            stop_if_failures: None,
        };
        let started = tokio::time::Instant::now();
        let mut events = Vec::new();
        let outcome = wait(&api, "set", "op", &options, |e| events.push(e)).await;
        assert!(matches!(outcome, Ok(Outcome::TimedOut)), "{outcome:?}");
        assert!(
            started.elapsed() <= Duration::from_secs(30) + DEADLINE_GRACE,
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(events.last(), Some(WaitEvent::Timeout { .. })), "{events:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_transient_error_ends_the_wait_as_an_error_not_a_failure() {
        let api = FakeApi::new(FakeData {
            fail_with: Some(ApiError::new(ErrorKind::AccessDenied, "not authorized")),
            ..Default::default()
        });
        set_status(&api, OperationStatus::Running);
        let options = WaitOptions {
            call_as: CallAs::SelfAccount,
            interval: Duration::from_secs(10),
            timeout: None,
            stop_if_failures: None,
        };
        let error = wait(&api, "set", "op", &options, |_| {}).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::AccessDenied);
    }

    fn failed(account: &str) -> crate::model::OperationResult {
        crate::model::OperationResult {
            account: account.into(),
            region: "us-east-1".into(),
            status: ResultStatus::Failed,
            status_reason: Some(format!("quota reached in {account}")),
            gate_status: None,
            gate_reason: None,
            ou: None,
        }
    }

    /// Two failures, then a third: the stop goes out once, at the third, is audited, and the
    /// wait follows the operation to STOPPED (exit 3). Below the threshold nothing is sent.
    #[tokio::test(start_paused = true)]
    async fn stop_if_failures_stops_once_at_the_threshold_and_waits_for_stopped() {
        let api = Arc::new(FakeApi::new(FakeData::default()));
        set_status(&api, OperationStatus::Running);
        if let Ok(mut data) = api.data.lock() {
            data.results
                .insert("op".into(), vec![failed("111111111111"), failed("222222222222")]);
        }
        let options = WaitOptions {
            call_as: CallAs::SelfAccount,
            interval: Duration::from_secs(10),
            timeout: None,
            stop_if_failures: Some(3),
        };
        let events = Arc::new(Mutex::new(Vec::new()));
        let audited = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (api, events, audited) = (Arc::clone(&api), Arc::clone(&events), Arc::clone(&audited));
            async move {
                wait_and_stop(
                    &*api,
                    "set",
                    "op",
                    &options,
                    |e| events.lock().unwrap().push(e),
                    |r| {
                        audited
                            .lock()
                            .unwrap()
                            .push(r.map(|id| id.map(str::to_string)).map_err(|e| e.clone()))
                    },
                )
                .await
            }
        });
        tokio::time::sleep(Duration::from_secs(15)).await;
        let stops = |api: &FakeApi| {
            api.calls
                .lock()
                .unwrap()
                .iter()
                .filter(|c| format!("{c:?}").contains("StopStackSetOperation"))
                .count()
        };
        assert_eq!(stops(&api), 0, "two failures are below the threshold");
        if let Ok(mut data) = api.data.lock() {
            data.results.get_mut("op").unwrap().push(failed("333333333333"));
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(stops(&api), 1, "sent once, not at every poll while STOPPING");
        set_status(&api, OperationStatus::Stopped);
        let outcome = task.await.unwrap().unwrap();
        assert_eq!((outcome, outcome.exit_code()), (Outcome::Stopped, 3));
        let events = events.lock().unwrap().clone();
        let sent: Vec<_> = events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    WaitEvent::StopSent {
                        failed: 3,
                        threshold: 3,
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(sent.len(), 1, "{events:?}");
        assert_eq!(*audited.lock().unwrap(), vec![Ok(Some("fake-request-1".to_string()))]);
    }
}
