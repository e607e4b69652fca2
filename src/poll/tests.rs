//! Poller tests on tokio's paused clock against the in-memory fake: cadence, request counts,
//! scope changes, backoff and the stop lane.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::api::fake::{stack_set, FakeApi, FakeData};
use crate::api::ErrorKind;
use crate::model::{Operation, OperationAction, OperationPreferences, OperationStatus, PermissionModel, ResultStatus};

fn operation(id: &str, status: OperationStatus) -> Operation {
    Operation {
        id: id.into(),
        action: OperationAction::Create,
        status,
        created: None,
        ended: None,
        status_reason: None,
        failed_count: None,
        preferences: OperationPreferences::default(),
    }
}

/// `n` results: a few running and failed, half succeeded, the rest pending.
fn results(n: usize) -> Vec<OperationResult> {
    (0..n)
        .map(|i| OperationResult {
            account: format!("{:012}", i / 10),
            region: format!("region-{}", i % 10),
            status: match i % 100 {
                0..=4 => ResultStatus::Running,
                5 => ResultStatus::Failed,
                6..=55 => ResultStatus::Succeeded,
                _ => ResultStatus::Pending,
            },
            status_reason: None,
            gate_status: None,
            gate_reason: None,
            ou: None,
        })
        .collect()
}

fn fake(status: OperationStatus, n: usize) -> FakeApi {
    let mut data = FakeData::default();
    data.stack_sets
        .push((stack_set("org", PermissionModel::ServiceManaged), CallAs::SelfAccount));
    data.operations.insert("org".into(), vec![operation("op-1", status)]);
    data.results.insert("op-1".into(), results(n));
    FakeApi::new(data)
}

fn start(api: Arc<FakeApi>, config: PollConfig) -> (PollerHandle, UnboundedReceiver<Msg>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (handle, _task) = spawn(api, config, Arc::new(RateLimiter::unlimited()), tx);
    (handle, rx)
}

fn watch_operation(handle: &PollerHandle, generation: u64) {
    handle.send(Command::Watch {
        scope: Scope::Operation {
            region: "us-east-1".into(),
            stack_set: "org".into(),
            operation_id: "op-1".into(),
        },
        generation,
    });
}

fn drain(rx: &mut UnboundedReceiver<Msg>) -> Vec<Msg> {
    let mut out = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        out.push(msg);
    }
    out
}

/// Let spawned tasks run to their next timer without moving the clock.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn running_operation_is_read_in_full_then_incrementally() {
    let api = Arc::new(fake(OperationStatus::Running, 1000));
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 7);
    settle().await;
    let reads = |api: &FakeApi| -> Vec<Option<ResultStatus>> {
        api.calls()
            .iter()
            .filter(|c| c.action == "ListStackSetOperationResults")
            .map(|c| c.status)
            .collect()
    };
    // The first read whole (10 pages of 100, none filtered), then at once RUNNING, FAILED and
    // CANCELLED, which settle what it saw RUNNING; then the paced re-read's first page.
    assert_eq!(api.count("DescribeStackSetOperation"), 1);
    let first = reads(&api);
    assert_eq!(first[..10], [None; 10]);
    assert_eq!(
        first[10..],
        [
            Some(ResultStatus::Running),
            Some(ResultStatus::Failed),
            Some(ResultStatus::Cancelled),
            None
        ]
    );
    let msgs = drain(&mut rx);
    let cells = cells_until_full(&msgs).expect("complete");
    assert_eq!(cells.len(), 1000);
    // Complete only once that incremental read has sent what the first read held back.
    let kinds: Vec<ReadKind> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::ResultsPage { read, .. } => Some(*read),
            _ => None,
        })
        .collect();
    let full = kinds.iter().position(|k| *k == ReadKind::Full).expect("complete");
    assert_eq!(kinds[full - 1], ReadKind::Incremental, "{kinds:?}");

    // The re-read is paced: 10 pages at 8 an interval, 625 ms apart, so it ends at 5.6 s; the
    // round at 5 s reads RUNNING, FAILED and CANCELLED (one page each) beside it.
    tokio::time::sleep(Duration::from_millis(5001)).await;
    settle().await;
    let now = reads(&api);
    let later = &now[first.len()..];
    assert_eq!(later.iter().filter(|s| s.is_none()).count(), 8, "{later:?}");
    assert_eq!(
        later.iter().filter(|s| s.is_some()).copied().collect::<Vec<_>>(),
        vec![
            Some(ResultStatus::Running),
            Some(ResultStatus::Failed),
            Some(ResultStatus::Cancelled)
        ]
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    settle().await;
    let fulls = drain(&mut rx)
        .iter()
        .filter(|m| {
            matches!(
                m,
                Msg::ResultsPage {
                    read: ReadKind::Full,
                    ..
                }
            )
        })
        .count();
    assert_eq!(fulls, 1, "the re-read ended once");
}

#[tokio::test(start_paused = true)]
async fn a_result_that_left_running_is_inferred_succeeded() {
    let api = Arc::new(fake(OperationStatus::Running, 100));
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    settle().await;
    drain(&mut rx);
    // One RUNNING result finishes between polls.
    if let Ok(mut data) = api.data.lock() {
        let results = data.results.get_mut("op-1").expect("fixture");
        results[0].status = ResultStatus::Succeeded;
    }
    tokio::time::sleep(Duration::from_millis(5001)).await;
    settle().await;
    // The incremental read's one message holds what it read (4 RUNNING, 1 FAILED) and the one
    // result it concluded SUCCEEDED.
    let read: Vec<OperationResult> = drain(&mut rx)
        .into_iter()
        .filter_map(|m| match m {
            Msg::ResultsPage {
                read: ReadKind::Incremental,
                results,
                ..
            } => Some(results),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(read.iter().filter(|r| r.status == ResultStatus::Running).count(), 4);
    assert_eq!(read.iter().filter(|r| r.status == ResultStatus::Failed).count(), 1);
    let inferred: Vec<&OperationResult> = read.iter().filter(|r| r.status == ResultStatus::Succeeded).collect();
    assert_eq!(inferred.len(), 1);
    assert_eq!(inferred[0].account, "000000000000");
    assert_eq!(inferred[0].region, "region-0");
    assert_eq!(inferred[0].status, ResultStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn an_ended_operation_is_read_once_and_never_again() {
    let api = Arc::new(fake(OperationStatus::Succeeded, 300));
    let (handle, _rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    settle().await;
    let after_first = api.calls().len();
    tokio::time::sleep(Duration::from_secs(120)).await;
    settle().await;
    assert_eq!(api.calls().len(), after_first);
}

#[tokio::test(start_paused = true)]
async fn leaving_a_scope_stops_its_reads() {
    let mut api = fake(OperationStatus::Running, 5000);
    api.results_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, _rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 2,
    });
    settle().await;
    let results_calls = api.count("ListStackSetOperationResults");
    tokio::time::sleep(Duration::from_secs(30)).await;
    settle().await;
    assert_eq!(api.count("ListStackSetOperationResults"), results_calls);
    assert!(api.count("ListStackSets") >= 1);
}

#[tokio::test(start_paused = true)]
async fn the_stop_lane_does_not_wait_behind_slow_paging() {
    let mut api = fake(OperationStatus::Running, 10_000);
    api.results_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pressed = tokio::time::Instant::now();
    handle.send(Command::Stop(StopRequest {
        region: "us-east-1".into(),
        stack_set: "org".into(),
        operation_id: "op-1".into(),
        call_as: CallAs::SelfAccount,
        attempt: 1,
    }));
    settle().await;
    let stop = api
        .calls()
        .into_iter()
        .find(|c| c.action == "StopStackSetOperation")
        .expect("stop sent");
    assert!(stop.at <= Duration::from_millis(1000) + pressed.elapsed() + Duration::from_millis(100));
    assert_eq!(pressed.elapsed(), Duration::ZERO, "sent without the clock moving");
    let finished = drain(&mut rx)
        .into_iter()
        .any(|m| matches!(m, Msg::StopFinished { result: Ok(_), .. }));
    assert!(finished);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_back_off() {
    let api = Arc::new(fake(OperationStatus::Running, 10));
    if let Ok(mut data) = api.data.lock() {
        data.fail_with = Some(ApiError::new(ErrorKind::Throttled, "Rate exceeded"));
    }
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(60)).await;
    settle().await;
    let mut rounds: Vec<u64> = api.calls().iter().map(|c| c.at.as_secs()).collect();
    let calls = rounds.len();
    rounds.dedup();
    // 5 s, then 10 s, 20 s, 40 s between attempts: 0, 5, 15, 35 within the minute. Each attempt
    // is the operation's describe; the first also describes the stack set, once per watch.
    assert_eq!(rounds, vec![0, 5, 15, 35]);
    assert_eq!(calls, 4 + 1);
    assert!(drain(&mut rx).iter().all(|m| matches!(m, Msg::FetchFailed { .. })));
}

#[tokio::test(start_paused = true)]
async fn overview_checks_a_capped_number_of_stack_sets_per_round() {
    let mut data = FakeData::default();
    for i in 0..50 {
        let name = format!("set-{i:02}");
        data.stack_sets
            .push((stack_set(&name, PermissionModel::SelfManaged), CallAs::SelfAccount));
        data.operations
            .insert(name, vec![operation("op", OperationStatus::Succeeded)]);
    }
    let api = Arc::new(FakeApi::new(data));
    let (handle, _rx) = start(Arc::clone(&api), PollConfig::default());
    handle.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    settle().await;
    assert_eq!(api.count("ListStackSets"), 1);
    assert_eq!(api.count("ListStackSetOperations"), 10);
    // Every stack set is checked within five rounds, none twice.
    tokio::time::sleep(Duration::from_secs(41)).await;
    settle().await;
    let mut checked: Vec<String> = api
        .calls()
        .into_iter()
        .filter(|c| c.action == "ListStackSetOperations")
        .filter_map(|c| c.stack_set)
        .collect();
    assert_eq!(checked.len(), 50);
    checked.sort();
    checked.dedup();
    assert_eq!(checked.len(), 50);
}

#[tokio::test(start_paused = true)]
async fn delegated_admin_lists_under_both_and_keeps_each_stack_sets_call_as() {
    let mut data = FakeData::default();
    data.stack_sets
        .push((stack_set("mine", PermissionModel::SelfManaged), CallAs::SelfAccount));
    data.stack_sets.push((
        stack_set("org", PermissionModel::ServiceManaged),
        CallAs::DelegatedAdmin,
    ));
    data.operations
        .insert("org".into(), vec![operation("op-1", OperationStatus::Running)]);
    let api = Arc::new(FakeApi::new(data));
    let config = PollConfig {
        call_as: CallAs::DelegatedAdmin,
        ..Default::default()
    };
    let (handle, _rx) = start(Arc::clone(&api), config);
    handle.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    settle().await;
    let listings: Vec<CallAs> = api
        .calls()
        .iter()
        .filter(|c| c.action == "ListStackSets")
        .map(|c| c.call_as)
        .collect();
    assert_eq!(listings, vec![CallAs::SelfAccount, CallAs::DelegatedAdmin]);
    handle.send(Command::Watch {
        scope: Scope::Operations {
            region: "us-east-1".into(),
            stack_set: "mine".into(),
        },
        generation: 2,
    });
    settle().await;
    let describe = api
        .calls()
        .into_iter()
        .find(|c| c.action == "DescribeStackSet")
        .expect("described");
    assert_eq!(describe.call_as, CallAs::SelfAccount);
    watch_operation(&handle, 3);
    settle().await;
    assert!(api
        .calls()
        .iter()
        .filter(|c| c.stack_set.as_deref() == Some("org"))
        .all(|c| c.call_as == CallAs::DelegatedAdmin));
}

#[tokio::test(start_paused = true)]
async fn first_rows_arrive_after_two_round_trips() {
    let mut api = fake(OperationStatus::Running, 5000);
    api.results_latency = Duration::from_millis(200);
    api.describe_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    let started = tokio::time::Instant::now();
    watch_operation(&handle, 1);
    let first_rows = loop {
        match rx.recv().await.expect("poller alive") {
            Msg::ResultsPage { results, .. } if !results.is_empty() => break started.elapsed(),
            _ => {}
        }
    };
    // The operation's and the stack set's describes go together (which read to use depends on
    // both), then the first page.
    assert_eq!(first_rows, Duration::from_millis(400));
}

fn stop_request() -> StopRequest {
    StopRequest {
        region: "us-east-1".into(),
        stack_set: "org".into(),
        operation_id: "op-1".into(),
        call_as: CallAs::SelfAccount,
        attempt: 1,
    }
}

#[tokio::test(start_paused = true)]
async fn a_read_only_poller_refuses_a_stop_without_calling_aws() {
    let api = Arc::new(fake(OperationStatus::Running, 10));
    let config = PollConfig {
        read_only: true,
        ..Default::default()
    };
    let (handle, mut rx) = start(Arc::clone(&api), config);
    handle.send(Command::Stop(stop_request()));
    settle().await;
    assert_eq!(api.count("StopStackSetOperation"), 0);
    let refused = drain(&mut rx)
        .into_iter()
        .any(|m| matches!(m, Msg::StopFinished { result: Err(ref e), .. } if e.kind == ErrorKind::ReadOnly));
    assert!(refused, "the dialog hears why nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn a_stop_from_the_dashboard_leaves_an_audit_line() {
    let (log, _guard) = crate::api::audit::capture::start();
    let api = Arc::new(fake(OperationStatus::Running, 10));
    let config = PollConfig {
        region: Some("us-east-1".into()),
        endpoint: Some("http://127.0.0.1:4566".into()),
        profile: Some("ops".into()),
        ..Default::default()
    };
    let (handle, _rx) = start(Arc::clone(&api), config);
    handle.send(Command::Stop(stop_request()));
    settle().await;
    // A second stop of the same operation is refused by AWS: that attempt is audited too.
    handle.send(Command::Stop(stop_request()));
    settle().await;
    let text = log.text();
    let audit: Vec<&str> = text.lines().filter(|l| l.contains("sstop::audit")).collect();
    assert_eq!(audit.len(), 2, "{text}");
    for field in [
        " INFO sstop::audit: stop",
        "origin=\"dashboard\"",
        "stack_set=\"org\"",
        "operation=\"op-1\"",
        "call_as=\"SELF\"",
        "region=\"us-east-1\"",
        "endpoint=\"http://127.0.0.1:4566\"",
        "profile=\"ops\"",
        "outcome=\"sent\"",
        "request_id=\"fake-request-1\"",
    ] {
        assert!(audit[0].contains(field), "{field} missing: {}", audit[0]);
    }
    assert!(
        audit[1].contains(" WARN ")
            && audit[1].contains("outcome=\"refused\"")
            && audit[1].contains("InvalidOperation"),
        "{}",
        audit[1]
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_outage_is_logged_a_few_times_not_every_round() {
    let (log, _guard) = crate::api::audit::capture::start();
    let api = Arc::new(fake(OperationStatus::Running, 10));
    if let Ok(mut data) = api.data.lock() {
        data.fail_with = Some(ApiError::new(ErrorKind::Throttled, "Rate exceeded"));
    }
    let (handle, _rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    // Rounds at 0, 5, 15, 35, 75, 135, 195, 255, 315, 375... (backoff capped at 60 s).
    tokio::time::sleep(Duration::from_secs(400)).await;
    settle().await;
    let text = log.text();
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("polling call failed")).collect();
    assert_eq!(failed.len(), 2, "{text}");
    assert!(
        failed[0].contains(" WARN ") && failed[0].contains("kind=Throttled"),
        "{}",
        failed[0]
    );
    assert!(failed[0].contains("repeats=0"), "{}", failed[0]);
    // The line at 315 s counts the seven rounds in between that were not written.
    assert!(failed[1].contains("repeats=7"), "{}", failed[1]);
    if let Ok(mut data) = api.data.lock() {
        data.fail_with = None;
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    settle().await;
    let text = log.text();
    assert!(
        text.lines()
            .any(|l| l.contains("polling calls succeed again") && l.contains("repeats=1")),
        "{text}"
    );
}

#[test]
fn the_error_log_writes_new_errors_at_once_and_repeats_rarely() {
    let mut log = ErrorLog::default();
    let t0 = Instant::now();
    let throttled = ApiError::new(ErrorKind::Throttled, "Rate exceeded");
    let denied = ApiError {
        code: Some("AccessDenied".into()),
        ..ApiError::new(ErrorKind::AccessDenied, "no")
    };
    assert_eq!(log.note(&throttled, t0), Some(0));
    assert_eq!(log.note(&throttled, t0 + Duration::from_secs(10)), None);
    assert_eq!(log.note(&throttled, t0 + Duration::from_secs(20)), None);
    // Another error is news.
    assert_eq!(log.note(&denied, t0 + Duration::from_secs(30)), Some(0));
    assert_eq!(log.note(&denied, t0 + Duration::from_secs(40)), None);
    // The same one, after the repeat interval, with the count of what was left out.
    assert_eq!(
        log.note(&denied, t0 + ERROR_LOG_REPEAT + Duration::from_secs(30)),
        Some(1)
    );
    assert_eq!(log.recovered(), Some(0));
    // Nothing to recover from twice; and after a recovery the error is news again.
    assert_eq!(log.recovered(), None);
    assert_eq!(
        log.note(&denied, t0 + ERROR_LOG_REPEAT + Duration::from_secs(31)),
        Some(0)
    );
}

#[tokio::test(start_paused = true)]
async fn running_is_read_every_interval_while_a_long_full_read_pages() {
    // 5,000 results: 50 pages; the repeated full read spreads over 24 intervals (3 pages each,
    // at least 8), so it spans several intervals. RUNNING must be read in every one of them.
    let api = Arc::new(fake(OperationStatus::Running, 5000));
    let (handle, _rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    settle().await;
    // The first read whole, then at once RUNNING (3 pages), FAILED and CANCELLED.
    let first_full = api.count("ListStackSetOperationResults");
    assert_eq!(first_full, 50 + 3 + 2 + 1, "and the paced re-read's first page");
    tokio::time::sleep(Duration::from_secs(40)).await;
    settle().await;
    let calls = api.calls();
    let reads: Vec<&crate::api::fake::Call> = calls
        .iter()
        .filter(|c| c.action == "ListStackSetOperationResults")
        .skip(first_full)
        .collect();
    let unfiltered = reads.iter().filter(|c| c.status.is_none()).count();
    // Begun at 0 s, 625 ms a page: its 50 pages end at 30.6 s; the round at 35 s begins the
    // next, 9 pages by 40 s.
    assert_eq!(unfiltered, 49 + 9, "the repeated read paces 8 pages an interval");
    for second in (5..40).step_by(5) {
        let window = Duration::from_secs(second)..Duration::from_secs(second + 5);
        let running = reads
            .iter()
            .filter(|c| c.status == Some(ResultStatus::Running) && window.contains(&c.at))
            .count();
        assert_eq!(running, 3, "one RUNNING chain (250 results, 3 pages) in {window:?}");
    }
}

/// `sstop --stack-set S --operation ID` watches the operation scope straight away, skipping the
/// operations list where the permission model used to be learnt; without it `Y` copied
/// `permissions=self` console URLs for a SERVICE_MANAGED stack set, and the stop dialog offered
/// DELEGATED_ADMIN for a self-managed one.
#[tokio::test(start_paused = true)]
async fn an_operation_opened_directly_learns_the_permission_model() {
    let api = Arc::new(fake(OperationStatus::Running, 100));
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let mut learned = false;
    for _ in 0..10 {
        settle().await;
        tokio::time::advance(Duration::from_secs(5)).await;
        learned |= drain(&mut rx)
            .iter()
            .any(|m| matches!(m, Msg::PermissionModel { stack_set, .. } if stack_set == "org"));
    }
    assert!(
        learned,
        "no Msg::PermissionModel in 50 s of watching the operation opened directly"
    );
}

// ---------------------------------------------------------------------------------------------
// Several Regions: one client each, every call about a stack set to its own Region.

const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";

/// Two Regions, each with its own fake client. Both hold a stack set named `org`: in us-east-1
/// listed under SELF with op-east RUNNING, in eu-west-1 under DELEGATED_ADMIN with op-west
/// QUEUED behind op-run.
fn two_regions() -> (Arc<FakeApi>, Arc<FakeApi>, RegionApis<FakeApi>) {
    let mut east = FakeData::default();
    east.stack_sets
        .push((stack_set("org", PermissionModel::ServiceManaged), CallAs::SelfAccount));
    east.operations
        .insert("org".into(), vec![operation("op-east", OperationStatus::Running)]);
    east.results.insert("op-east".into(), results(10));
    let mut west = FakeData::default();
    west.stack_sets.push((
        stack_set("org", PermissionModel::ServiceManaged),
        CallAs::DelegatedAdmin,
    ));
    west.operations.insert(
        "org".into(),
        vec![
            operation("op-run", OperationStatus::Running),
            operation("op-west", OperationStatus::Queued),
        ],
    );
    west.results.insert("op-west".into(), results(10));
    let (east, west) = (Arc::new(FakeApi::new(east)), Arc::new(FakeApi::new(west)));
    let apis = RegionApis::new(vec![
        (EAST.to_string(), Arc::clone(&east)),
        (WEST.to_string(), Arc::clone(&west)),
    ]);
    (east, west, apis)
}

fn start_regions(apis: RegionApis<FakeApi>, config: PollConfig) -> (PollerHandle, UnboundedReceiver<Msg>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (handle, _task) = spawn(apis, config, Arc::new(RateLimiter::unlimited()), tx);
    (handle, rx)
}

fn delegated_admin() -> PollConfig {
    PollConfig {
        call_as: CallAs::DelegatedAdmin,
        region: Some(EAST.into()),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn each_region_is_listed_and_checked_by_its_own_client() {
    let (east, west, apis) = two_regions();
    let (handle, mut rx) = start_regions(apis, delegated_admin());
    handle.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    settle().await;
    for api in [&east, &west] {
        let listings: Vec<CallAs> = api
            .calls()
            .iter()
            .filter(|c| c.action == "ListStackSets")
            .map(|c| c.call_as)
            .collect();
        assert_eq!(listings, vec![CallAs::SelfAccount, CallAs::DelegatedAdmin]);
    }
    let msgs = drain(&mut rx);
    let listed: Vec<(String, Vec<String>)> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::StackSets {
                region,
                result: Ok(sets),
                ..
            } => Some((region.clone(), sets.iter().map(|s| s.name.clone()).collect())),
            _ => None,
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (EAST.to_string(), vec!["org".to_string()]),
            (WEST.to_string(), vec!["org".to_string()])
        ]
    );
    let checked: Vec<(String, Vec<String>)> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::StackSetChecked { region, operations, .. } => {
                Some((region.clone(), operations.iter().map(|o| o.id.clone()).collect()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        checked,
        vec![
            (EAST.to_string(), vec!["op-east".to_string()]),
            (WEST.to_string(), vec!["op-run".to_string(), "op-west".to_string()])
        ],
        "each Region's org is its own stack set"
    );
    // Each check carried the CallAs the stack set was listed under in its own Region.
    let check_as = |api: &FakeApi| {
        api.calls()
            .iter()
            .filter(|c| c.action == "ListStackSetOperations")
            .map(|c| c.call_as)
            .collect::<Vec<_>>()
    };
    assert_eq!(check_as(&east), vec![CallAs::SelfAccount]);
    assert_eq!(check_as(&west), vec![CallAs::DelegatedAdmin]);
}

#[tokio::test(start_paused = true)]
async fn calls_and_stops_about_a_stack_set_go_to_its_region_with_its_call_as() {
    let (log, _guard) = crate::api::audit::capture::start();
    let (east, west, apis) = two_regions();
    let (handle, mut rx) = start_regions(apis, delegated_admin());
    handle.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    settle().await;
    let east_before = east.calls().len();
    handle.send(Command::Watch {
        scope: Scope::Operation {
            region: WEST.into(),
            stack_set: "org".into(),
            operation_id: "op-west".into(),
        },
        generation: 2,
    });
    settle().await;
    assert_eq!(
        east.calls().len(),
        east_before,
        "nothing about eu-west-1's org reached us-east-1"
    );
    let west_reads: Vec<_> = west
        .calls()
        .into_iter()
        .filter(|c| matches!(c.action, "DescribeStackSetOperation" | "ListStackSetOperationResults"))
        .collect();
    assert!(!west_reads.is_empty());
    assert!(
        west_reads.iter().all(|c| c.call_as == CallAs::DelegatedAdmin),
        "{west_reads:?}"
    );
    let described = drain(&mut rx).into_iter().any(
        |m| matches!(m, Msg::OperationDescribed { generation: 2, ref operation, .. } if operation.id == "op-west"),
    );
    assert!(described);

    // The stop lane: to the stack set's Region, audited with it.
    handle.send(Command::Stop(StopRequest {
        region: WEST.into(),
        stack_set: "org".into(),
        operation_id: "op-west".into(),
        call_as: CallAs::DelegatedAdmin,
        attempt: 1,
    }));
    settle().await;
    assert_eq!(
        (east.count("StopStackSetOperation"), west.count("StopStackSetOperation")),
        (0, 1)
    );
    let text = log.text();
    let audit: Vec<&str> = text.lines().filter(|l| l.contains("sstop::audit")).collect();
    assert_eq!(audit.len(), 1, "{text}");
    assert!(
        audit[0].contains("region=\"eu-west-1\"") && audit[0].contains("outcome=\"sent\""),
        "{}",
        audit[0]
    );

    // A Region sstop does not watch: refused here, nothing sent anywhere, and the words say so.
    handle.send(Command::Stop(StopRequest {
        region: "ap-south-1".into(),
        stack_set: "org".into(),
        operation_id: "op-west".into(),
        call_as: CallAs::DelegatedAdmin,
        attempt: 2,
    }));
    settle().await;
    assert_eq!(
        east.count("StopStackSetOperation") + west.count("StopStackSetOperation"),
        1
    );
    let refused = drain(&mut rx).into_iter().find_map(|m| match m {
        Msg::StopFinished { result: Err(e), .. } => Some(e),
        _ => None,
    });
    let refused = refused.expect("the dialog hears the refusal");
    assert!(
        refused.message.contains("ap-south-1") && refused.message.contains("--region"),
        "{refused:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_rotation_gives_a_small_region_its_turn_beside_a_large_one() {
    let mut east = FakeData::default();
    for i in 0..40 {
        east.stack_sets.push((
            stack_set(&format!("team-{i:03}"), PermissionModel::SelfManaged),
            CallAs::SelfAccount,
        ));
    }
    let mut west = FakeData::default();
    for name in ["eu-a", "eu-b"] {
        west.stack_sets
            .push((stack_set(name, PermissionModel::SelfManaged), CallAs::SelfAccount));
    }
    let (east, west) = (Arc::new(FakeApi::new(east)), Arc::new(FakeApi::new(west)));
    let apis = RegionApis::new(vec![
        (EAST.to_string(), Arc::clone(&east)),
        (WEST.to_string(), Arc::clone(&west)),
    ]);
    let (handle, _rx) = start_regions(apis, PollConfig::default());
    handle.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    settle().await;
    // One round: 10 checks in all, and eu-west-1's two are among them.
    assert_eq!(
        east.count("ListStackSetOperations") + west.count("ListStackSetOperations"),
        10
    );
    assert_eq!(west.count("ListStackSetOperations"), 2);
    // The next rounds (every 10 s: nothing is active) take the never-checked first: neither
    // eu-west-1 stack set comes round again while us-east-1 has unchecked ones.
    tokio::time::sleep(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(east.count("ListStackSetOperations"), 38);
    assert_eq!(west.count("ListStackSetOperations"), 2);
    let distinct = |api: &FakeApi| {
        let mut names: Vec<String> = api.calls().into_iter().filter_map(|c| c.stack_set).collect();
        names.sort();
        names.dedup();
        names.len()
    };
    assert_eq!(distinct(&east), 38, "no stack set checked twice while others wait");
    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    assert_eq!(distinct(&east), 40, "all 42 checked within five rounds");
}

/// The instances screen's reads are spread out by size: a stack set of 5,000 instances (50
/// pages) is read again every 50 s, not every 30 s idle interval, so it costs about one request
/// a second; a small one is read every idle interval.
#[tokio::test(start_paused = true)]
async fn instances_are_read_again_at_about_one_page_a_second() {
    let data = |n: usize| {
        let api = fake(OperationStatus::Running, 10);
        if let Ok(mut data) = api.data.lock() {
            let instance = |i: usize| crate::model::StackInstance {
                account: format!("{:012}", i / 10),
                region: format!("region-{}", i % 10),
                ou: None,
                status: crate::model::InstanceStatus::Current,
                detailed_status: Some("SUCCEEDED".into()),
                status_reason: None,
                drift_status: None,
                last_operation_id: None,
            };
            data.instances.insert("org".into(), (0..n).map(instance).collect());
        }
        Arc::new(api)
    };
    for (instances, expected_reads) in [(5000, 3), (300, 4)] {
        let api = data(instances);
        let (handle, _rx) = start(Arc::clone(&api), PollConfig::default());
        handle.send(Command::Watch {
            scope: Scope::Instances {
                region: String::new(),
                stack_set: "org".into(),
            },
            generation: 1,
        });
        settle().await;
        for _ in 0..101 {
            tokio::time::advance(Duration::from_secs(1)).await;
            settle().await;
        }
        let pages = instances.div_ceil(100);
        assert_eq!(
            api.count("ListStackInstances"),
            expected_reads * pages,
            "{instances} instances: {expected_reads} reads of {pages} pages in 101 s"
        );
        handle.send(Command::Quit);
    }
}

/// `fake` whose stack set's instances follow the operation: each names it as its last, with
/// the result's status as its DetailedStatus (ten Regions).
fn fake_with_instances(n: usize, last_operation: &str) -> FakeApi {
    let api = fake(OperationStatus::Running, n);
    if let Ok(mut data) = api.data.lock() {
        let instances = data.results["op-1"]
            .iter()
            .map(|r| crate::model::StackInstance {
                account: r.account.clone(),
                region: r.region.clone(),
                ou: None,
                status: crate::model::InstanceStatus::Outdated,
                detailed_status: Some(r.status.as_str().to_string()),
                status_reason: None,
                drift_status: None,
                last_operation_id: Some(last_operation.to_string()),
            })
            .collect();
        data.instances.insert("org".into(), instances);
    }
    api
}

/// Makes result `i` (and its instance) `status`.
fn set_status(api: &FakeApi, i: usize, status: ResultStatus) {
    if let Ok(mut data) = api.data.lock() {
        data.results.get_mut("op-1").expect("fixture")[i].status = status;
        if let Some(instances) = data.instances.get_mut("org") {
            instances[i].detailed_status = Some(status.as_str().to_string());
        }
    }
}

/// The grid the messages' results make, merged as the app merges them.
fn merged(msgs: Vec<Msg>) -> crate::app::ResultGrid {
    let mut grid = crate::app::ResultGrid::new(&[]);
    for msg in msgs {
        if let Msg::ResultsPage { results, .. } = msg {
            grid.merge(results);
        }
    }
    grid
}

/// Moves the clock 100 ms at a time, `tenths` times, calling `at_tenth` after each step, and
/// merges what arrives as the app would: returns the grid, whether a read completed it, and
/// the most RUNNING it showed from then on.
async fn watch_running(
    rx: &mut UnboundedReceiver<Msg>,
    tenths: u32,
    mut at_tenth: impl FnMut(u32),
) -> (crate::app::ResultGrid, bool, usize) {
    let mut grid = crate::app::ResultGrid::new(&[]);
    let mut complete = false;
    let mut most_running = 0;
    for tenth in 1..=tenths {
        tokio::time::sleep(Duration::from_millis(100)).await;
        at_tenth(tenth);
        for msg in drain(rx) {
            if let Msg::ResultsPage { results, read, .. } = msg {
                grid.merge(results);
                complete |= read == ReadKind::Full;
                if complete {
                    most_running = most_running.max(grid.count(ResultStatus::Running));
                }
            }
        }
    }
    (grid, complete, most_running)
}

fn cells_until_full(msgs: &[Msg]) -> Option<HashSet<(String, String)>> {
    let mut cells = HashSet::new();
    for msg in msgs {
        if let Msg::ResultsPage { results, read, .. } = msg {
            cells.extend(results.iter().map(|r| (r.account.clone(), r.region.clone())));
            if *read == ReadKind::Full {
                return Some(cells);
            }
        }
    }
    None
}

#[tokio::test(start_paused = true)]
async fn the_first_grid_of_a_running_create_comes_from_one_instance_chain_per_region_at_once() {
    // 5,000 results in ten Regions: 50 pages of instances, five per Region.
    let mut api = fake_with_instances(5000, "op-1");
    api.describe_latency = Duration::from_millis(200);
    api.instances_latency = Duration::from_millis(200);
    api.results_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    // The describes (together), the result list's first page (to check the instances by),
    // five pages in each Region, the Regions side by side, each Region's RUNNING as its chain
    // ends, then the incremental read: the RUNNING instances (one page a Region) and FAILED
    // and CANCELLED from the result list.
    tokio::time::sleep(Duration::from_millis(1999)).await;
    settle().await;
    let mut msgs = drain(&mut rx);
    assert!(cells_until_full(&msgs).is_none());
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    msgs.extend(drain(&mut rx));
    let cells = cells_until_full(&msgs).expect("the grid is complete after ten round trips");
    assert_eq!(cells.len(), 5000);
    let instance_pages = api
        .calls()
        .iter()
        .filter(|c| c.action == "ListStackInstances" && c.at < Duration::from_millis(1400))
        .count();
    assert_eq!(instance_pages, 50);
    // Of the result list, one page before (at 200 ms), to check the instances by; the list is
    // read whole afterwards, for its order and the account gates.
    let list_reads: Vec<Duration> = api
        .calls()
        .iter()
        .filter(|c| c.action == "ListStackSetOperationResults")
        .map(|c| c.at)
        .collect();
    assert_eq!(list_reads.first(), Some(&Duration::from_millis(200)));
    assert!(
        list_reads.get(1).is_none_or(|at| *at >= Duration::from_millis(1600)),
        "{list_reads:?}"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    settle().await;
    assert!(api.count("ListStackSetOperationResults") >= 50);
}

#[tokio::test(start_paused = true)]
async fn instances_that_do_not_name_the_operation_leave_the_grid_to_the_result_list() {
    // The instances name another operation: the instance read finds nothing of this one.
    let api = Arc::new(fake_with_instances(500, "op-0"));
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    settle().await;
    let msgs = drain(&mut rx);
    let cells = cells_until_full(&msgs).expect("complete");
    assert_eq!(cells.len(), 500);
    // The first page to check the instances by, the list's five, RUNNING, FAILED and
    // CANCELLED, and the paced re-read's first page.
    assert_eq!(api.count("ListStackSetOperationResults"), 1 + 5 + 3 + 1);
}

#[tokio::test(start_paused = true)]
async fn before_the_result_lists_order_is_known_a_regions_one_page_of_running_instances_proves_what_finished() {
    // 250 RUNNING: three pages of the result list's RUNNING class, 25 (one page) per Region.
    let mut api = fake_with_instances(5000, "op-1");
    // The result list is slow: its 50 pages take 100 s, so its order is not known for a while.
    api.results_latency = Duration::from_secs(2);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    // The result list's first page (2 s) to check the instances by, the instance read, then
    // at once the first incremental read (its FAILED and CANCELLED reads take 2 s).
    tokio::time::sleep(Duration::from_secs(5)).await;
    settle().await;
    assert!(cells_until_full(&drain(&mut rx)).is_some());
    // Result 0 (RUNNING, region-0) finishes; result 1 (RUNNING, region-1) fails.
    set_status(&api, 0, ResultStatus::Succeeded);
    set_status(&api, 1, ResultStatus::Failed);
    let running_reads_before = api.count("ListStackInstances");
    // The next round: RUNNING instances in each Region, then FAILED and CANCELLED.
    tokio::time::sleep(Duration::from_secs(7)).await;
    settle().await;
    assert_eq!(
        api.count("ListStackInstances") - running_reads_before,
        10,
        "one RUNNING read per Region"
    );
    let read: Vec<OperationResult> = drain(&mut rx)
        .into_iter()
        .filter_map(|m| match m {
            Msg::ResultsPage {
                read: ReadKind::Incremental,
                results,
                ..
            } => Some(results),
            _ => None,
        })
        .flatten()
        .collect();
    let status_of = |account: &str, region: &str| {
        read.iter()
            .filter(|r| r.account == account && r.region == region)
            .map(|r| r.status)
            .max_by_key(|s| *s as u8)
    };
    assert_eq!(status_of("000000000000", "region-0"), Some(ResultStatus::Succeeded));
    assert_eq!(status_of("000000000000", "region-1"), Some(ResultStatus::Failed));
    assert_eq!(status_of("000000000000", "region-2"), Some(ResultStatus::Running));
    // All of that before the result list was read whole.
    assert!(api.count("ListStackSetOperationResults") < 50);
}

#[tokio::test(start_paused = true)]
async fn a_running_delete_is_read_through_the_result_list_alone() {
    // A DELETE's instances vanish as they succeed: they cannot stand for its results.
    let api = Arc::new(fake_with_instances(500, "op-1"));
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0].action = OperationAction::Delete;
    }
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    settle().await;
    assert_eq!(cells_until_full(&drain(&mut rx)).map(|c| c.len()), Some(500));
    assert_eq!(api.count("ListStackInstances"), 0);
    // Its five pages, RUNNING, FAILED and CANCELLED, and the paced re-read's first page.
    assert_eq!(api.count("ListStackSetOperationResults"), 5 + 3 + 1);
}

#[tokio::test(start_paused = true)]
async fn a_full_read_never_shows_more_running_than_ran_at_once() {
    // 1,000 results, 50 RUNNING at any moment (in five pages of instances and of results).
    let mut api = fake_with_instances(1000, "op-1");
    api.results_latency = Duration::from_secs(1);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let (grid, complete, most_running) = watch_running(&mut rx, 200, |tenth| {
        if tenth == 25 {
            // The result list is read a page a second from 0 s. At 2.5 s one deployment on its
            // fourth page starts as one on its last page ends: 50 still run.
            set_status(&api, 900, ResultStatus::Succeeded);
            set_status(&api, 356, ResultStatus::Running);
        }
    })
    .await;
    assert!(complete);
    assert_eq!(grid.count(ResultStatus::Running), 50);
    assert!(most_running <= 50, "{most_running} shown RUNNING; 50 ran at once");
}

/// `enter` on an instance: one DescribeStackInstance, under the stack set's CallAs, answered
/// with the instance; polling of the scope goes on beside it. An unknown instance's error
/// comes back as the answer.
#[tokio::test(start_paused = true)]
async fn describe_instance_is_one_call_and_one_answer() {
    let api = fake(OperationStatus::Running, 10);
    if let Ok(mut data) = api.data.lock() {
        data.instances.insert(
            "org".into(),
            vec![crate::model::StackInstance {
                account: "111111111111".into(),
                region: "eu-west-1".into(),
                ou: None,
                status: crate::model::InstanceStatus::Outdated,
                detailed_status: Some("FAILED".into()),
                status_reason: Some("boom".into()),
                drift_status: Some("DRIFTED".into()),
                last_operation_id: Some("op-1".into()),
            }],
        );
    }
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    let request = |account: &str| InstanceRequest {
        region: "us-east-1".into(),
        stack_set: "org".into(),
        account: account.into(),
        instance_region: "eu-west-1".into(),
    };
    handle.send(Command::DescribeInstance(request("111111111111")));
    settle().await;
    assert_eq!(api.count("DescribeStackInstance"), 1);
    let answers: Vec<Msg> = drain(&mut rx);
    match answers.as_slice() {
        [Msg::InstanceDescribed {
            request: asked,
            result: Ok(detail),
        }] => {
            assert_eq!(asked, &request("111111111111"));
            assert_eq!(detail.drift_status.as_deref(), Some("DRIFTED"));
            assert_eq!(detail.status_reason.as_deref(), Some("boom"));
        }
        other => panic!("{other:?}"),
    }
    handle.send(Command::DescribeInstance(request("222222222222")));
    settle().await;
    assert!(matches!(
        drain(&mut rx).as_slice(),
        [Msg::InstanceDescribed { result: Err(_), .. }]
    ));
    // Nothing asks again on its own.
    tokio::time::advance(Duration::from_secs(120)).await;
    settle().await;
    assert_eq!(api.count("DescribeStackInstance"), 2);
    handle.send(Command::Quit);
}

#[tokio::test(start_paused = true)]
async fn a_deployment_that_ends_between_two_pages_of_running_is_proven_by_its_regions_instances() {
    // 5,000 results, RUNNING at 5 of every 100 plus result 3,950: 251, three pages of the class.
    // Page 2 ends at 3,904 and page 3 starts at 3,950; once 3,950 ends, page 3 starts at 4,000
    // and 3,950 lies between two pages, where a shifted page could have skipped it.
    let api = Arc::new(fake_with_instances(5000, "op-1"));
    set_status(&api, 3950, ResultStatus::Running);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    // The instance read, then the result list whole (its order), then paced re-reads from 5 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    settle().await;
    set_status(&api, 3950, ResultStatus::Succeeded);
    // The round at 10 s: long before the paced re-read reaches page 40 (about 30 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    settle().await;
    let grid = merged(drain(&mut rx));
    assert_eq!(
        grid.find("000000000395", "region-0").map(|r| r.status),
        Some(ResultStatus::Succeeded)
    );
    assert_eq!(grid.count(ResultStatus::Running), 250);
}

/// The RUNNING read's pages see a hand-over in one Region: `ended` (on page 1) ends and
/// `started` (on a later page) starts between its first and second page, once the result
/// list's order is known. Returns the grid after 90 s and the most RUNNING it showed.
async fn hand_over_between_running_pages(
    api: FakeApi,
    ended: usize,
    started: usize,
) -> (crate::app::ResultGrid, usize) {
    let mut api = api;
    api.results_latency = Duration::from_millis(500);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let mut first_page: Option<Duration> = None;
    let mut moved = false;
    let (grid, complete, most_running) = watch_running(&mut rx, 900, |tenth| {
        let now = Duration::from_millis(100 * u64::from(tenth));
        if moved || now < Duration::from_secs(60) {
            return;
        }
        match first_page {
            // By 60 s the result list's order is known (its whole read takes 25 s): RUNNING
            // is read from it. The first page of such a read, 500 ms long:
            None => {
                let running: Vec<Duration> = api
                    .calls()
                    .iter()
                    .filter(|c| c.action == "ListStackSetOperationResults" && c.status == Some(ResultStatus::Running))
                    .map(|c| c.at)
                    .collect();
                first_page = running.iter().copied().find(|at| {
                    *at >= Duration::from_secs(60)
                        && !running.iter().any(|b| b < at && *at - *b < Duration::from_millis(600))
                });
            }
            Some(at) if now >= at + Duration::from_millis(750) => {
                set_status(&api, ended, ResultStatus::Succeeded);
                set_status(&api, started, ResultStatus::Running);
                moved = true;
            }
            Some(_) => {}
        }
    })
    .await;
    assert!(complete && moved);
    handle.send(Command::Quit);
    (grid, most_running)
}

#[tokio::test(start_paused = true)]
async fn running_read_over_several_pages_never_shows_more_than_may_run_at_once_in_a_region() {
    // 5,000 results, 50 RUNNING in each of region-0 to region-4 (MaxConcurrentCount 50): three
    // pages of the RUNNING class. Between its first and second page, result 1 (region-1, on
    // page 1) ends and result 4,961 (region-1, on page 3) starts: region-1 still runs 50.
    let api = fake_with_instances(5000, "op-1");
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0]
            .preferences
            .max_concurrent_count = Some(50);
    }
    let (grid, most_running) = hand_over_between_running_pages(api, 1, 4961).await;
    assert_eq!(grid.count(ResultStatus::Running), 250);
    assert!(most_running <= 250, "{most_running} shown RUNNING; 250 ran at once");
}

#[tokio::test(start_paused = true)]
async fn a_region_running_more_than_a_page_is_checked_by_its_instances_in_account_order() {
    // As above, but region-0 runs 150 (MaxConcurrentCount 150): its RUNNING instances take two
    // pages, which prove an absence by their accounts' order. Result 0 (region-0, on page 1)
    // ends as result 4,960 (region-0, on the last page) starts.
    let api = fake_with_instances(5000, "op-1");
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0]
            .preferences
            .max_concurrent_count = Some(150);
    }
    let region_0_pending: Vec<usize> = (0..5000).filter(|i| i % 10 == 0 && i % 100 >= 56).collect();
    for &i in &region_0_pending[..100] {
        set_status(&api, i, ResultStatus::Running);
    }
    let (grid, most_running) = hand_over_between_running_pages(api, 0, 4960).await;
    assert_eq!(grid.count(ResultStatus::Running), 350);
    assert!(most_running <= 350, "{most_running} shown RUNNING; 350 ran at once");
}

#[tokio::test(start_paused = true)]
async fn a_deployment_that_starts_behind_the_instance_read_and_ends_before_the_next_read_is_seen() {
    // 4,600 results: region-0 holds 100 (one page of instances), the nine others 500 (five),
    // at 200 ms a page, after the result list's first page (1 s). Result 960 (region-0, read
    // PENDING at 1.2 s) starts at 1.3 s and ends at 1.5 s: after its Region's chain ended,
    // before the other Regions' chains end (2.0 s) and the first incremental read follows.
    let mut api = fake_with_instances(5000, "op-1");
    if let Ok(mut data) = api.data.lock() {
        let region_0_beyond_100 = |account: &str, region: &str| region == "region-0" && account >= "000000000100";
        data.results
            .get_mut("op-1")
            .expect("fixture")
            .retain(|r| !region_0_beyond_100(&r.account, &r.region));
        data.instances
            .get_mut("org")
            .expect("fixture")
            .retain(|i| !region_0_beyond_100(&i.account, &i.region));
    }
    api.instances_latency = Duration::from_millis(200);
    api.results_latency = Duration::from_secs(1);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let (grid, complete, _) = watch_running(&mut rx, 50, |tenth| match tenth {
        13 => set_status(&api, 960, ResultStatus::Running),
        15 => set_status(&api, 960, ResultStatus::Succeeded),
        _ => {}
    })
    .await;
    // At 5 s the result list's own read (a second a page) has not reached result 960's page.
    assert!(complete);
    assert!(api.count("ListStackSetOperationResults") < 10);
    assert_eq!(
        grid.find("000000000096", "region-0").map(|r| r.status),
        Some(ResultStatus::Succeeded)
    );
    handle.send(Command::Quit);
}

#[tokio::test(start_paused = true)]
async fn running_holds_steady_while_deployments_hand_over_under_a_full_read() {
    // 1,000 results, 10 RUNNING in each of region-0 to region-4. Every 100 ms one deployment
    // ends and a pending one in the same Region starts: 50 run at every moment, while the
    // paced full read (ten pages, one every 625 ms) passes cells that ended and started.
    let api = Arc::new(fake_with_instances(1000, "op-1"));
    let mut running: Vec<std::collections::VecDeque<usize>> = (0..5)
        .map(|region| (0..1000).filter(|i| i % 10 == region && i % 100 < 5).collect())
        .collect();
    let mut pending: Vec<std::collections::VecDeque<usize>> = (0..5)
        .map(|region| (0..1000).filter(|i| i % 10 == region && i % 100 >= 56).collect())
        .collect();
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let mut grid = crate::app::ResultGrid::new(&[]);
    let (mut complete, mut least, mut most) = (false, usize::MAX, 0);
    for tenth in 1..=300u32 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tenth >= 30 {
            let region = tenth as usize % 5;
            if let Some(next) = pending[region].pop_front() {
                let ended = running[region].pop_front().expect("ten run");
                set_status(&api, ended, ResultStatus::Succeeded);
                set_status(&api, next, ResultStatus::Running);
                running[region].push_back(next);
            }
        }
        for msg in drain(&mut rx) {
            if let Msg::ResultsPage { results, read, .. } = msg {
                grid.merge(results);
                complete |= read == ReadKind::Full;
                if complete {
                    least = least.min(grid.count(ResultStatus::Running));
                    most = most.max(grid.count(ResultStatus::Running));
                }
            }
        }
    }
    assert!(complete);
    assert!(pending.iter().all(|queue| queue.is_empty()), "every hand-over made");
    assert_eq!(
        (least, most),
        (50, 50),
        "RUNNING shown between {least} and {most}; 50 ran"
    );
    handle.send(Command::Quit);
}

/// Makes region-0 of `fake_with_instances(5000, ..)` run 150 at once (two pages of RUNNING
/// instances); returns the deployments to end and to start, in order, for hand-overs there.
fn region_0_runs_150(api: &FakeApi) -> (std::collections::VecDeque<usize>, std::vec::IntoIter<usize>) {
    let mut region_0_pending: Vec<usize> = (0..5000).filter(|i| i % 10 == 0 && i % 100 >= 56).collect();
    let later = region_0_pending.split_off(100);
    for i in region_0_pending {
        set_status(api, i, ResultStatus::Running);
    }
    let ending = (0..5000).filter(|i| i % 100 == 0).collect();
    (ending, later.into_iter())
}

#[tokio::test(start_paused = true)]
async fn a_region_running_more_than_a_page_is_complete_only_once_its_running_is_proven() {
    // 5,000 results; region-0 runs 150 at once (two pages of RUNNING instances, which are not one
    // snapshot), the four others 50. From 0.5 s to 3 s a deployment in region-0 ends and another
    // starts every 100 ms: 350 run at every moment. The result list, whose order proves what
    // ended, is read whole by about 26 s; rounds at 5, 10, 15 and 20 s read RUNNING by Region.
    let mut api = fake_with_instances(5000, "op-1");
    api.results_latency = Duration::from_millis(500);
    let api = Arc::new(api);
    let (mut ending, mut starting) = region_0_runs_150(&api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let (grid, complete, most_running) = watch_running(&mut rx, 400, |tenth| {
        if (5..30).contains(&tenth) {
            if let (Some(ended), Some(next)) = (ending.pop_front(), starting.next()) {
                set_status(&api, ended, ResultStatus::Succeeded);
                set_status(&api, next, ResultStatus::Running);
            }
        }
    })
    .await;
    assert!(complete);
    assert_eq!(grid.count(ResultStatus::Running), 350);
    assert!(most_running <= 350, "{most_running} shown RUNNING; 350 ran at once");
    handle.send(Command::Quit);
}

#[tokio::test(start_paused = true)]
async fn the_result_lists_first_read_does_not_complete_a_grid_whose_running_is_unproven() {
    // As above, but the result list is read whole within a second of the instances (10 ms a
    // page), long before the next round; region-0's two pages of RUNNING instances (100 ms
    // each) see deployments hand over between them from the start.
    let mut api = fake_with_instances(5000, "op-1");
    api.results_latency = Duration::from_millis(10);
    api.instances_latency = Duration::from_millis(100);
    let api = Arc::new(api);
    let (mut ending, mut starting) = region_0_runs_150(&api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let (grid, complete, most_running) = watch_running(&mut rx, 200, |tenth| {
        if (1..30).contains(&tenth) {
            if let (Some(ended), Some(next)) = (ending.pop_front(), starting.next()) {
                set_status(&api, ended, ResultStatus::Succeeded);
                set_status(&api, next, ResultStatus::Running);
            }
        }
    })
    .await;
    assert!(complete);
    assert_eq!(grid.count(ResultStatus::Running), 350);
    assert!(most_running <= 350, "{most_running} shown RUNNING; 350 ran at once");
    handle.send(Command::Quit);
}

#[tokio::test(start_paused = true)]
async fn instances_that_miss_part_of_the_operation_do_not_make_the_first_grid() {
    // Half the instances still name an earlier operation (a CREATE over existing instances,
    // say): a grid from them would be complete with half the total.
    let api = Arc::new(fake_with_instances(1000, "op-1"));
    if let Ok(mut data) = api.data.lock() {
        for instance in data.instances.get_mut("org").expect("fixture").iter_mut().step_by(2) {
            instance.last_operation_id = Some("op-0".into());
        }
    }
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(12)).await;
    settle().await;
    let cells = cells_until_full(&drain(&mut rx)).expect("complete");
    assert_eq!(cells.len(), 1000, "the first complete grid holds every result");
}

#[tokio::test(start_paused = true)]
async fn a_create_partly_over_existing_instances_is_never_complete_with_part_of_its_total() {
    // A CREATE over 500 new instances and 500 existing ones, which name an earlier operation
    // until their deployment starts. The result list's first page holds only new ones, so the
    // first-page check alone let a grid of 500 be declared complete.
    let mut api = fake_with_instances(1000, "op-1");
    if let Ok(mut data) = api.data.lock() {
        for instance in data.instances.get_mut("org").expect("fixture").iter_mut().skip(500) {
            instance.last_operation_id = Some("op-0".into());
            instance.status = crate::model::InstanceStatus::Current;
            instance.detailed_status = Some("SUCCEEDED".into());
        }
    }
    api.results_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(12)).await;
    settle().await;
    let cells = cells_until_full(&drain(&mut rx)).expect("complete");
    assert_eq!(cells.len(), 1000, "the first complete grid holds every result");
}

#[tokio::test(start_paused = true)]
async fn the_operations_status_is_read_every_interval_while_the_first_read_pages() {
    // No instances to read: the first grid comes from the result list's 50 pages, 10 s at
    // 200 ms a page. A stop two seconds in must reach the header within an interval, not
    // after the read.
    let mut api = fake(OperationStatus::Running, 5000);
    api.results_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0].status = OperationStatus::Stopping;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    settle().await;
    let msgs = drain(&mut rx);
    assert!(cells_until_full(&msgs).is_none(), "the first read is still paging");
    assert!(
        msgs.iter()
            .any(|m| matches!(m, Msg::OperationDescribed { operation, .. }
            if operation.status == OperationStatus::Stopping)),
        "the stop is in the header while the first read pages"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_describe_during_the_first_read_is_asked_again_within_the_interval() {
    // As above, but the first describe after the stop is throttled (the first read takes every
    // request the rate allows): asked again a second later, not an interval later.
    let mut api = fake(OperationStatus::Running, 5000);
    api.results_latency = Duration::from_millis(200);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0].status = OperationStatus::Stopping;
        data.throttle_next = Some(("DescribeStackSetOperation", 2));
    }
    tokio::time::sleep(Duration::from_millis(5500)).await;
    settle().await;
    let msgs = drain(&mut rx);
    assert!(cells_until_full(&msgs).is_none(), "the first read is still paging");
    assert!(
        msgs.iter()
            .any(|m| matches!(m, Msg::OperationDescribed { operation, .. }
            if operation.status == OperationStatus::Stopping)),
        "the stop is in the header 7.5 s in, through two throttled describes"
    );
}

#[tokio::test(start_paused = true)]
async fn the_describe_during_a_first_read_does_not_queue_behind_its_pages() {
    // Five requests a second, and the instance read's ten chains each waiting for their next
    // page: a describe in that queue waited about two seconds behind them.
    let api = Arc::new(fake_with_instances(5000, "op-1"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (handle, _task) = spawn(
        Arc::clone(&api),
        PollConfig::default(),
        Arc::new(RateLimiter::new(5.0, 1)),
        tx,
    );
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0].status = OperationStatus::Stopping;
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    settle().await;
    let msgs = drain(&mut rx);
    assert!(cells_until_full(&msgs).is_none(), "the instance read is still paging");
    assert!(
        msgs.iter()
            .any(|m| matches!(m, Msg::OperationDescribed { operation, .. }
            if operation.status == OperationStatus::Stopping)),
        "the stop is in the header 5.5 s in"
    );
    handle.send(Command::Quit);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_page_of_the_instance_read_is_asked_again_not_given_up() {
    let mut api = fake_with_instances(5000, "op-1");
    // The result list is slow: giving the instances up would leave the grid loading for 200 s.
    api.results_latency = Duration::from_secs(4);
    // More throttles than other failures are asked again: throttling only asks for a slower
    // pace (under `--rate-limit 5` the instance read was given up after 44 s).
    if let Ok(mut data) = api.data.lock() {
        data.throttle_next = Some(("ListStackInstances", 70));
    }
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(120)).await;
    settle().await;
    let cells = cells_until_full(&drain(&mut rx)).expect("complete within 120 s");
    assert_eq!(cells.len(), 5000);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_page_of_a_full_read_is_asked_again_where_it_was() {
    let api = Arc::new(fake(OperationStatus::Running, 5000));
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let unfiltered = |api: &FakeApi| {
        api.calls()
            .iter()
            .filter(|c| c.action == "ListStackSetOperationResults" && c.status.is_none())
            .count()
    };
    // The first read whole at once (50 pages); the paced re-read starts with it, a page every
    // 625 ms. At 20 s, two thirds of the way through it, two of its pages are throttled (and
    // maybe an incremental read's).
    tokio::time::sleep(Duration::from_secs(20)).await;
    settle().await;
    assert_eq!(unfiltered(&api) - 50, 33);
    drain(&mut rx);
    if let Ok(mut data) = api.data.lock() {
        data.throttle_next = Some(("ListStackSetOperationResults", 2));
    }
    let mut done = false;
    for _ in 0..1200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if drain(&mut rx).iter().any(|m| {
            matches!(
                m,
                Msg::ResultsPage {
                    read: ReadKind::Full,
                    ..
                }
            )
        }) {
            done = true;
            break;
        }
    }
    assert!(done, "the re-read ends");
    // Its 50 pages and the ones asked again; starting over would have been 33 more.
    let pages = unfiltered(&api) - 50;
    assert!(pages <= 50 + 2, "{pages} pages for one re-read of 50");
}

#[tokio::test(start_paused = true)]
async fn the_first_grid_from_the_result_list_never_shows_more_running_than_ran_at_once() {
    // 5,000 results, 250 RUNNING at any moment: three pages of the class, so before the list's
    // order is known an absence proves nothing. No instances: the result list makes the grid.
    let mut api = fake(OperationStatus::Running, 5000);
    api.results_latency = Duration::from_secs(1);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let (grid, complete, most_running) = watch_running(&mut rx, 900, |tenth| {
        if tenth == 25 {
            // Page 1 (read at 1 s) saw result 0 RUNNING; it ends as result 3,956 (page 40,
            // read at 40 s) starts: 250 still run.
            set_status(&api, 0, ResultStatus::Succeeded);
            set_status(&api, 3956, ResultStatus::Running);
        }
    })
    .await;
    assert!(complete);
    assert_eq!(grid.len(), 5000);
    assert!(most_running <= 250, "{most_running} shown RUNNING; 250 ran at once");
}

#[tokio::test(start_paused = true)]
async fn a_result_skipped_by_a_shifted_page_stays_running_where_the_instances_do_not_follow() {
    // The instances name another operation, so they cannot stand for this one's results: an
    // absence from them proves nothing. (Read as if they did, the skipped result below was
    // called SUCCEEDED while it ran.)
    let mut api = fake_with_instances(5000, "op-0");
    // The fake's clock starts here (the paused clock has not moved since it was made).
    let t0 = tokio::time::Instant::now();
    api.results_latency = Duration::from_secs(1);
    let api = Arc::new(api);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    let running_calls = |api: &FakeApi| -> Vec<Duration> {
        api.calls()
            .iter()
            .filter(|c| c.status == Some(ResultStatus::Running))
            .map(|c| c.at)
            .collect()
    };
    // Past the first complete read and its first round of RUNNING (three pages).
    let mut complete = false;
    while !complete {
        tokio::time::sleep(Duration::from_millis(100)).await;
        complete = cells_until_full(&drain(&mut rx)).is_some();
    }
    let chains_done = running_calls(&api).len();
    assert_eq!(chains_done % 3, 0);
    // The next RUNNING chain: its first page answers with the class as it is 1 s after the
    // request; half a second later result 0 (on that page) ends, so the second page, asked by
    // offset, starts one further on and skips result 2,000, which still runs.
    let started = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(at) = running_calls(&api).get(chains_done) {
            break *at;
        }
    };
    tokio::time::sleep_until(t0 + started + Duration::from_millis(1500)).await;
    if let Ok(mut data) = api.data.lock() {
        data.results.get_mut("op-1").expect("fixture")[0].status = ResultStatus::Succeeded;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    let skipped: Vec<ResultStatus> = drain(&mut rx)
        .into_iter()
        .filter_map(|m| match m {
            Msg::ResultsPage { results, .. } => Some(results),
            _ => None,
        })
        .flatten()
        .filter(|r| r.account == "000000000200" && r.region == "region-0")
        .map(|r| r.status)
        .collect();
    assert!(
        !skipped.contains(&ResultStatus::Succeeded),
        "result 2,000 runs but was sent as {skipped:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_that_ends_a_deployment_between_two_pages_of_running_is_proven_by_its_regions_instances() {
    // As the CREATE case above, for a DELETE: its instances are no first grid (they vanish as
    // they succeed), but while a deployment runs its instance names the operation and says
    // RUNNING, so a Region's one page still proves an absence.
    let api = Arc::new(fake_with_instances(5000, "op-1"));
    if let Ok(mut data) = api.data.lock() {
        data.operations.get_mut("org").expect("fixture")[0].action = OperationAction::Delete;
    }
    set_status(&api, 3950, ResultStatus::Running);
    let (handle, mut rx) = start(Arc::clone(&api), PollConfig::default());
    watch_operation(&handle, 1);
    tokio::time::sleep(Duration::from_secs(6)).await;
    settle().await;
    set_status(&api, 3950, ResultStatus::Succeeded);
    tokio::time::sleep(Duration::from_secs(6)).await;
    settle().await;
    let grid = merged(drain(&mut rx));
    assert_eq!(
        grid.find("000000000395", "region-0").map(|r| r.status),
        Some(ResultStatus::Succeeded)
    );
}

#[test]
fn what_may_run_at_once_in_a_region_follows_the_preferences() {
    use crate::model::{ConcurrencyMode, OperationPreferences};
    let prefs = |count, percentage, tolerance, mode| OperationPreferences {
        max_concurrent_count: count,
        max_concurrent_percentage: percentage,
        failure_tolerance_count: tolerance,
        concurrency_mode: mode,
        ..Default::default()
    };
    let soft = Some(ConcurrencyMode::SoftFailureTolerance);
    let strict = Some(ConcurrencyMode::StrictFailureTolerance);
    // SOFT: the count, or the percentage of the Region's accounts rounded down, at least one.
    assert_eq!(
        super::MaxConcurrent::of(&prefs(Some(30), None, Some(20), soft)).in_region(240, 5),
        30
    );
    assert_eq!(
        super::MaxConcurrent::of(&prefs(None, Some(10), None, soft)).in_region(245, 0),
        24
    );
    assert_eq!(
        super::MaxConcurrent::of(&prefs(None, Some(10), None, soft)).in_region(5, 0),
        1
    );
    // STRICT (also the default): at most the tolerance plus one, less the failures so far.
    assert_eq!(
        super::MaxConcurrent::of(&prefs(Some(30), None, Some(20), strict)).in_region(240, 0),
        21
    );
    assert_eq!(
        super::MaxConcurrent::of(&prefs(Some(30), None, Some(20), None)).in_region(240, 5),
        16
    );
    assert_eq!(
        super::MaxConcurrent::of(&prefs(Some(30), None, None, None)).in_region(240, 0),
        1
    );
    assert_eq!(
        super::MaxConcurrent::of(&prefs(Some(30), None, Some(2), None)).in_region(240, 9),
        1
    );
    assert_eq!(
        super::MaxConcurrent::of(&prefs(None, None, None, soft)).in_region(240, 0),
        1
    );
}

#[test]
fn running_instances_prove_absences_only_in_account_order_and_outside_page_breaks() {
    let page = |accounts: &[u32]| -> Vec<OperationResult> {
        accounts
            .iter()
            .map(|a| OperationResult {
                account: format!("{a:012}"),
                region: "region-0".into(),
                status: ResultStatus::Running,
                status_reason: None,
                gate_status: None,
                gate_reason: None,
                ou: None,
            })
            .collect()
    };
    let read = |pages: &[&[u32]]| super::reads::RunningRead {
        pages: pages.iter().map(|p| page(p)).collect(),
    };
    assert_eq!(super::gaps_by_account(&read(&[&[1, 5, 9]])), Some(vec![]));
    // A page that shifted back repeats its neighbour's last account: still in order.
    assert_eq!(
        super::gaps_by_account(&read(&[&[1, 5], &[5, 9], &[12, 20]])),
        Some(vec![
            (format!("{:012}", 5), format!("{:012}", 5)),
            (format!("{:012}", 9), format!("{:012}", 12)),
        ])
    );
    // Listed in another order, or an empty page among several: nothing is proven.
    assert_eq!(super::gaps_by_account(&read(&[&[1, 9], &[5, 12]])), None);
    assert_eq!(super::gaps_by_account(&read(&[&[1, 9], &[]])), None);
    assert_eq!(super::gaps_by_account(&read(&[&[]])), Some(vec![]));
}
