//! The counts on screen are the truth: the real poller and SDK client read a rollout that the
//! emulator moves forward between every two requests (its clock is controlled: it moves only
//! when the test says), and every read and every grid state is checked against the emulator's
//! own record of each cell.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::{ApiError, StackSetApi, StopAccepted};
use sstop::app::{Command, Msg, ReadKind, ResultGrid, Scope};
use sstop::model::{
    CallAs, Operation, OperationResult, OperationStatus, Page, ResultStatus, StackSetDetail, StackSetSummary,
};
use sstop::poll::{PollConfig, RateLimiter};
use sstop::sim::{SimHandle, SimOptions};

const SET: &str = "moving";
const OP: &str = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";

type Key = (String, String);
type Truth = HashMap<Key, ResultStatus>;

fn rank(status: ResultStatus) -> u8 {
    match status {
        ResultStatus::Pending => 0,
        ResultStatus::Running => 1,
        _ => 2,
    }
}

/// One unfiltered read from its first page to its last.
#[derive(Default)]
struct Chain {
    before: Truth,
    seen: Vec<(OperationResult, Truth, Truth)>,
}

#[derive(Default)]
struct Log {
    /// The unfiltered read in progress, if any.
    open: Option<Chain>,
    /// Unfiltered reads that reached their last page, in order.
    complete: Vec<Chain>,
}

/// The SDK client with the emulator's clock moved `step` before every request.
struct Stepping {
    inner: SdkApi,
    sim: Arc<SimHandle>,
    step: Duration,
    log: Mutex<Log>,
}

impl Stepping {
    fn truth(&self) -> Truth {
        self.sim
            .operation_results(SET, OP)
            .expect("operation exists")
            .into_iter()
            .map(|r| ((r.account, r.region), r.status))
            .collect()
    }
}

impl StackSetApi for Stepping {
    async fn list_stack_sets(&self, call_as: CallAs, next: Option<String>) -> Result<Page<StackSetSummary>, ApiError> {
        self.inner.list_stack_sets(call_as, next).await
    }

    async fn describe_stack_set(&self, stack_set: &str, call_as: CallAs) -> Result<StackSetDetail, ApiError> {
        self.inner.describe_stack_set(stack_set, call_as).await
    }

    async fn list_operations(
        &self,
        stack_set: &str,
        call_as: CallAs,
        max: i32,
        next: Option<String>,
    ) -> Result<Page<Operation>, ApiError> {
        self.inner.list_operations(stack_set, call_as, max, next).await
    }

    async fn describe_operation(&self, stack_set: &str, id: &str, call_as: CallAs) -> Result<Operation, ApiError> {
        self.sim.advance(self.step);
        self.inner.describe_operation(stack_set, id, call_as).await
    }

    async fn list_results(
        &self,
        stack_set: &str,
        id: &str,
        call_as: CallAs,
        status: Option<ResultStatus>,
        next: Option<String>,
    ) -> Result<Page<OperationResult>, ApiError> {
        self.sim.advance(self.step);
        let before = self.truth();
        if status.is_none() && next.is_none() {
            self.log.lock().unwrap().open = Some(Chain {
                before: before.clone(),
                seen: Vec::new(),
            });
        }
        let page = self.inner.list_results(stack_set, id, call_as, status, next).await?;
        if status.is_none() {
            let after = self.truth();
            let mut log = self.log.lock().unwrap();
            if let Some(chain) = log.open.as_mut() {
                chain
                    .seen
                    .extend(page.items.iter().map(|r| (r.clone(), before.clone(), after.clone())));
            }
            if page.next_token.is_none() {
                let chain = log.open.take().expect("a chain was open");
                log.complete.push(chain);
            }
        }
        Ok(page)
    }

    async fn stop_operation(&self, stack_set: &str, id: &str, call_as: CallAs) -> Result<StopAccepted, ApiError> {
        self.inner.stop_operation(stack_set, id, call_as).await
    }
}

async fn stepping_client(step: Duration) -> Arc<Stepping> {
    let sim = sstop::sim::start(SimOptions {
        scenario: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios/moving.toml").into()),
        // Real time barely moves the emulator: the test moves it.
        speed: 1e-9,
        ..Default::default()
    })
    .await
    .expect("emulator starts");
    let mut options = ConnectOptions::new();
    options.endpoint_url = Some(sim.endpoint_url());
    options.region = Some("us-east-1".into());
    options.dummy_credentials = true;
    let inner = SdkApi::connect(&options).await.expect("client").0;
    Arc::new(Stepping {
        inner,
        sim: Arc::new(sim),
        step,
        log: Mutex::new(Log::default()),
    })
}

/// Every cell of the grid shows a status it really held between `since` and `now`, and every
/// cell is there once.
fn check_grid(grid: &ResultGrid, since: &Truth, now: &Truth) -> Result<(), String> {
    if grid.len() != now.len() {
        return Err(format!("grid has {} cells, the operation {}", grid.len(), now.len()));
    }
    for ((account, region), truth_now) in now {
        let shown = grid
            .find(account, region)
            .ok_or_else(|| format!("{account}/{region} missing"))?
            .status;
        let truth_then = since[&(account.clone(), region.clone())];
        let held = rank(truth_then) <= rank(shown)
            && rank(shown) <= rank(*truth_now)
            && (rank(shown) < 2 || shown == *truth_now);
        if !held {
            return Err(format!(
                "{account}/{region} shown {shown:?}, was {truth_then:?} then and is {truth_now:?} now"
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_and_every_screen_of_a_moving_rollout_is_true() {
    // 1 s of rollout between any two requests: cells move pending -> running -> done while a
    // read pages through them.
    let api = stepping_client(Duration::from_secs(1)).await;
    let config = PollConfig {
        call_as: CallAs::SelfAccount,
        active_interval: Duration::from_millis(60),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (poller, _task) = sstop::poll::spawn(Arc::clone(&api), config, Arc::new(RateLimiter::unlimited()), tx);
    poller.send(Command::Watch {
        scope: Scope::Operation {
            stack_set: SET.into(),
            operation_id: OP.into(),
        },
        generation: 1,
    });

    let at_watch = api.truth();
    let mut grid = ResultGrid::new(&[]);
    let mut fulls = 0;
    let mut checks = 0;
    let mut ended = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while !ended {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the rollout ends and is read within 4 minutes")
            .expect("poller alive");
        match msg {
            Msg::ResultsPage { results, read, .. } => {
                grid.merge(results);
                if read == ReadKind::Full {
                    fulls += 1;
                    ended = api.sim.operation_status(SET, OP).is_some_and(|s| !s.is_active());
                }
            }
            Msg::FetchFailed { error, .. } => panic!("a read failed: {error:?}"),
            _ => continue,
        }
        if fulls == 0 {
            continue;
        }
        // Every cell is at least as far as it was when the last complete read began (for a
        // poller that reads otherwise: when the watch began).
        let since = {
            let log = api.log.lock().unwrap();
            log.complete
                .get(fulls - 1)
                .map_or_else(|| at_watch.clone(), |chain| chain.before.clone())
        };
        check_grid(&grid, &since, &api.truth()).unwrap_or_else(|e| panic!("after full read {fulls}: {e}"));
        checks += 1;
    }

    // Each complete unfiltered read: every cell exactly once, in a status it held during the page.
    let log = api.log.lock().unwrap();
    assert!(log.complete.len() >= 2, "only {} full reads", log.complete.len());
    let total = log.complete[0].before.len();
    eprintln!("{} complete full reads, {checks} screens checked", log.complete.len());
    for (n, chain) in log.complete.iter().enumerate() {
        let mut seen: HashMap<Key, usize> = HashMap::new();
        for (result, before, after) in &chain.seen {
            let key = (result.account.clone(), result.region.clone());
            *seen.entry(key.clone()).or_default() += 1;
            let (from, to) = (before[&key], after[&key]);
            assert!(
                rank(from) <= rank(result.status)
                    && rank(result.status) <= rank(to)
                    && (rank(result.status) < 2 || result.status == to),
                "read {n}: {key:?} read {:?}, was {from:?} before the page and {to:?} after",
                result.status
            );
        }
        assert_eq!(seen.len(), total, "read {n} saw {} of {total} cells", seen.len());
        assert!(seen.values().all(|c| *c == 1), "read {n} saw a cell twice");
    }
    // The rollout really moved during the reads: the first read began with work left.
    let first = &log.complete[0].before;
    assert!(first.values().any(|s| *s == ResultStatus::Pending));
    assert!(checks > 50, "{checks} screens checked");
    assert!(matches!(
        api.sim.operation_status(SET, OP),
        Some(OperationStatus::Succeeded | OperationStatus::Failed)
    ));
}
