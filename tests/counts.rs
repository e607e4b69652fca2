//! The counts on screen are the truth: the real poller and SDK client read a rollout that the
//! emulator moves forward between every two requests (its clock is controlled: it moves only
//! when the test says), and every read and every grid state is checked against the emulator's
//! own record of each cell, kept step by step.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::{ApiError, InstanceQuery, StackSetApi, StopAccepted};
use sstop::app::{self, Command, Msg, ReadKind, ResultGrid, Scope, Screen, Settings, State};
use sstop::model::{
    CallAs, Operation, OperationResult, OperationStatus, Page, ResultStatus, StackInstance, StackSetDetail,
    StackSetSummary,
};
use sstop::poll::{PollConfig, RateLimiter, StampClock};
use sstop::sim::{SimHandle, SimOptions};

const MOVING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios/moving.toml");
const SET: &str = "moving";
const OP: &str = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
/// The moving rollout's MaxConcurrentCount (30) in each of its 8 Regions.
const MAX_RUNNING: usize = 240;

type Key = (String, String);
type Truth = HashMap<Key, ResultStatus>;

fn rank(status: ResultStatus) -> u8 {
    match status {
        ResultStatus::Pending => 0,
        ResultStatus::Running => 1,
        _ => 2,
    }
}

/// One unfiltered read from its first page to its last: of the result list, or of the stack
/// instances in every Region (one chain per Region, side by side).
#[derive(Default)]
struct Chain {
    before: Truth,
    seen: Vec<(OperationResult, Truth, Truth)>,
    from_instances: bool,
    /// The steps of its first and (so far) last page.
    first_step: u64,
    last_step: u64,
}

/// What a request is, as far as the history of reads goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Request {
    /// DescribeStackSetOperation: a round of the poller begins.
    Describe,
    /// The first page of the result list's RUNNING read: an incremental read begins.
    RunningResults,
    /// A page of the RUNNING stack instances: an incremental read begins if it is the first
    /// RUNNING read of its round (the instances' check of the list's RUNNING read is not).
    RunningInstances,
    Other,
}

/// The emulator's truth step by step, kept as the step at which each cell changed: 1 step is
/// 1 request and 1 s of rollout.
struct History {
    /// Steps taken.
    step: u64,
    /// The truth now.
    now: Truth,
    /// The step at which each cell became RUNNING (or went past it), and became done.
    became_running: HashMap<Key, u64>,
    became_done: HashMap<Key, u64>,
    /// The true RUNNING count at each step.
    running: Vec<usize>,
    /// A round has begun and read nothing RUNNING yet.
    round_open: bool,
    /// The steps at which incremental reads began.
    incremental_starts: Vec<u64>,
}

impl History {
    fn new(truth: Truth) -> Self {
        let mut history = History {
            step: 0,
            now: HashMap::new(),
            became_running: HashMap::new(),
            became_done: HashMap::new(),
            running: Vec::new(),
            round_open: false,
            incremental_starts: Vec::new(),
        };
        history.record(truth);
        history
    }

    /// The truth at the current step: what changed since the step before is noted.
    fn record(&mut self, truth: Truth) {
        for (key, status) in &truth {
            let old = self.now.get(key).copied().unwrap_or(ResultStatus::Pending);
            assert!(
                rank(old) < rank(*status) || old == *status,
                "the emulator moved {key:?} from {old:?} to {status:?}"
            );
            if rank(*status) >= 1 {
                self.became_running.entry(key.clone()).or_insert(self.step);
            }
            if rank(*status) == 2 {
                self.became_done.entry(key.clone()).or_insert(self.step);
            }
        }
        self.running
            .push(truth.values().filter(|s| **s == ResultStatus::Running).count());
        self.now = truth;
    }

    /// A cell's true status at `step` (at most the current one).
    fn truth_at(&self, key: &Key, step: u64) -> ResultStatus {
        if self.became_done.get(key).is_some_and(|at| *at <= step) {
            // Done is final: the status it ended in is the one it has now.
            self.now[key]
        } else if self.became_running.get(key).is_some_and(|at| *at <= step) {
            ResultStatus::Running
        } else {
            ResultStatus::Pending
        }
    }

    /// The least and the most cells truly RUNNING at any step of `from..=to`.
    fn running_range(&self, from: u64, to: u64) -> (usize, usize) {
        let window = &self.running[from as usize..=to as usize];
        (*window.iter().min().unwrap(), *window.iter().max().unwrap())
    }

    /// The poll interval in steps: the longest gap between the starts of two consecutive
    /// incremental reads, the one under way (from the last start to now) included.
    fn interval(&self) -> u64 {
        let closed = self.incremental_starts.windows(2).map(|w| w[1] - w[0]).max();
        let open = self.incremental_starts.last().map(|last| self.step - last);
        closed.into_iter().chain(open).max().unwrap_or(0)
    }
}

#[derive(Default)]
struct Log {
    /// The unfiltered read in progress, if any.
    open: Option<Chain>,
    /// The read of every Region's instances in progress, and the Regions whose chain ended.
    instances_open: Option<(Chain, HashSet<String>)>,
    /// Unfiltered reads that reached their last page, in order.
    complete: Vec<Chain>,
}

/// The SDK client with the emulator's clock moved `step` before every request.
struct Stepping {
    inner: SdkApi,
    sim: Arc<SimHandle>,
    step: Duration,
    set: &'static str,
    op: &'static str,
    /// Steps taken: the emulator's time since the start, in steps.
    steps: AtomicU64,
    /// The step at which the operation was first seen ended.
    ended_at: Mutex<Option<u64>>,
    log: Mutex<Log>,
    history: Mutex<History>,
}

impl Stepping {
    /// Moves the emulator one step before `request`, notes the truth there and whether an
    /// incremental read begins; returns the step.
    fn advance(&self, request: Request) -> u64 {
        let mut history = self.history.lock().unwrap();
        self.sim.advance(self.step);
        let step = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        history.step = step;
        history.record(self.truth());
        match request {
            Request::Describe => history.round_open = true,
            Request::RunningResults => {
                history.round_open = false;
                history.incremental_starts.push(step);
            }
            Request::RunningInstances if std::mem::take(&mut history.round_open) => {
                history.incremental_starts.push(step);
            }
            _ => {}
        }
        drop(history);
        let ended = self
            .sim
            .operation_status(self.set, self.op)
            .is_some_and(|s| !s.is_active());
        let mut ended_at = self.ended_at.lock().unwrap();
        if ended && ended_at.is_none() {
            *ended_at = Some(step);
        }
        step
    }

    /// The emulator's time since the start, as the poller stamps it.
    fn elapsed(&self) -> Duration {
        self.step * self.steps.load(Ordering::SeqCst) as u32
    }

    fn truth(&self) -> Truth {
        self.sim
            .operation_results(self.set, self.op)
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
        self.advance(Request::Describe);
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
        let request = if status == Some(ResultStatus::Running) && next.is_none() {
            Request::RunningResults
        } else {
            Request::Other
        };
        let step = self.advance(request);
        let before = self.truth();
        if status.is_none() && next.is_none() {
            self.log.lock().unwrap().open = Some(Chain {
                before: before.clone(),
                seen: Vec::new(),
                from_instances: false,
                first_step: step,
                last_step: step,
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
                chain.last_step = step;
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

    async fn list_instances(
        &self,
        stack_set: &str,
        call_as: CallAs,
        query: &InstanceQuery,
        next: Option<String>,
    ) -> Result<Page<StackInstance>, ApiError> {
        let request = if query.detailed_status.as_deref() == Some(ResultStatus::Running.as_str()) {
            Request::RunningInstances
        } else {
            Request::Other
        };
        let step = self.advance(request);
        let before = self.truth();
        let whole = query.detailed_status.is_none();
        if whole {
            let mut log = self.log.lock().unwrap();
            if log.instances_open.is_none() {
                log.instances_open = Some((
                    Chain {
                        before: before.clone(),
                        seen: Vec::new(),
                        from_instances: true,
                        first_step: step,
                        last_step: step,
                    },
                    HashSet::new(),
                ));
            }
        }
        let page = self.inner.list_instances(stack_set, call_as, query, next).await?;
        if whole {
            let after = self.truth();
            let regions = before.keys().map(|(_, region)| region).collect::<HashSet<_>>().len();
            let mut log = self.log.lock().unwrap();
            let (chain, done) = log.instances_open.as_mut().expect("a read was open");
            for instance in &page.items {
                let result = instance.as_result().expect("a DetailedStatus sstop knows");
                chain.seen.push((result, before.clone(), after.clone()));
            }
            chain.last_step = chain.last_step.max(step);
            if page.next_token.is_none() {
                done.insert(query.region.clone().expect("one chain per Region"));
                if done.len() == regions {
                    let (chain, _) = log.instances_open.take().expect("open");
                    log.complete.push(chain);
                }
            }
        }
        Ok(page)
    }
}

async fn stepping_client(scenario: &str, set: &'static str, op: &'static str, step: Duration) -> Arc<Stepping> {
    let sim = sstop::sim::start(SimOptions {
        scenario: Some(scenario.into()),
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
    let at_start: Truth = sim
        .operation_results(set, op)
        .expect("operation exists")
        .into_iter()
        .map(|r| ((r.account, r.region), r.status))
        .collect();
    Arc::new(Stepping {
        inner,
        sim: Arc::new(sim),
        step,
        set,
        op,
        steps: AtomicU64::new(0),
        ended_at: Mutex::new(None),
        log: Mutex::new(Log::default()),
        history: Mutex::new(History::new(at_start)),
    })
}

/// How far back a screen may lag, in steps: the poll interval (`History::interval`) plus the
/// duration of the read that produced it, taken as the longest unfiltered read so far, the one
/// under way included (first page to last).
#[derive(Clone, Copy)]
struct Lag {
    interval: u64,
    read: u64,
}

impl Lag {
    fn now(history: &History, log: &Log) -> Self {
        let now = history.step;
        let complete = log.complete.iter().map(|chain| chain.last_step - chain.first_step);
        let open = log
            .open
            .iter()
            .chain(log.instances_open.iter().map(|(chain, _)| chain))
            .map(|chain| now - chain.first_step);
        Lag {
            interval: history.interval(),
            read: complete.chain(open).max().unwrap_or(0),
        }
    }

    fn steps(self) -> u64 {
        self.interval + self.read
    }
}

/// The grid against the truth now and `lag` steps ago: (a) every cell is there once; (b) every
/// cell shows a status between its truth then and now (a done one: the one it has now), which
/// bounds each count; (c) RUNNING, which goes up and down, is shown within the range the true
/// count took in that window; (d) never above what may run at once. Every check that fails is
/// told, with its figures.
fn check_grid(grid: &ResultGrid, history: &History, lag: Lag) -> Result<(), String> {
    let now = history.step;
    let since = now.saturating_sub(lag.steps());
    let mut failed = Vec::new();
    if grid.len() != history.now.len() {
        failed.push(format!(
            "(a) total: the grid has {} cells, the operation {}",
            grid.len(),
            history.now.len()
        ));
    }
    let missing: Vec<&Key> = history
        .now
        .keys()
        .filter(|(account, region)| grid.find(account, region).is_none())
        .collect();
    if let Some((account, region)) = missing.first() {
        failed.push(format!(
            "(a) total: {} cells missing, {account}/{region} first",
            missing.len()
        ));
    }
    // Cells behind their truth L steps ago, with the lag that would have let each pass, and
    // cells ahead of the truth now.
    let mut behind: Vec<(u64, String)> = Vec::new();
    let mut ahead: Vec<String> = Vec::new();
    for key @ (account, region) in history.now.keys() {
        let Some(shown) = grid.find(account, region).map(|result| result.status) else {
            continue;
        };
        let (then, truth_now) = (history.truth_at(key, since), history.truth_at(key, now));
        let moved = |at: Option<&u64>| at.map_or("never".to_string(), |at| format!("at step {at}"));
        let story = format!(
            "{account}/{region} shown {shown:?}, {then:?} at step {since}, {truth_now:?} now (RUNNING {}, done {})",
            moved(history.became_running.get(key)),
            moved(history.became_done.get(key)),
        );
        if rank(shown) > rank(truth_now) || (rank(shown) == 2 && shown != truth_now) {
            ahead.push(story);
        } else if rank(shown) < rank(then) {
            let left = if rank(shown) == 0 {
                history.became_running[key]
            } else {
                history.became_done[key]
            };
            behind.push((now - left + 1, story));
        }
    }
    if let Some((need, story)) = behind.iter().max_by_key(|(need, _)| *need) {
        failed.push(format!(
            "(b) cells: {} shown behind their truth L steps ago; worst {story}: shown as of {need} steps ago",
            behind.len()
        ));
    }
    if let Some(story) = ahead.first() {
        failed.push(format!(
            "(b) cells: {} shown ahead of their truth now; first {story}",
            ahead.len()
        ));
    }
    let shown = grid.count(ResultStatus::Running);
    let (least, most) = history.running_range(since, now);
    if shown < least || shown > most {
        failed.push(format!(
            "(c) RUNNING: {shown} shown, the truth was {least} to {most} over steps {since}..={now} (now {})",
            history.running[now as usize]
        ));
    }
    // RUNNING goes up and down, but never above what may run at once: 30 in each of 8 Regions.
    if shown > MAX_RUNNING {
        failed.push(format!(
            "(d) RUNNING: {shown} shown, more than the {MAX_RUNNING} that can run at once"
        ));
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "at step {now}, L = {} steps (interval {} + read {}): {}",
        lag.steps(),
        lag.interval,
        lag.read,
        failed.join("; ")
    ))
}

fn spread(name: &str, mut values: Vec<u64>) -> String {
    values.sort_unstable();
    format!(
        "{name} min {} median {} max {}",
        values[0],
        values[values.len() / 2],
        values[values.len() - 1]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_and_every_screen_of_a_moving_rollout_is_true() {
    // 1 s of rollout between any two requests: cells move pending -> running -> done while a
    // read pages through them.
    let api = stepping_client(MOVING, SET, OP, Duration::from_secs(1)).await;
    let config = PollConfig {
        call_as: CallAs::SelfAccount,
        active_interval: Duration::from_millis(60),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (poller, _task) = sstop::poll::spawn(Arc::clone(&api), config, Arc::new(RateLimiter::unlimited()), tx);
    poller.send(Command::Watch {
        scope: Scope::Operation {
            region: "us-east-1".into(),
            stack_set: SET.into(),
            operation_id: OP.into(),
        },
        generation: 1,
    });

    let mut grid = ResultGrid::new(&[]);
    let mut fulls = 0;
    let mut checks = 0;
    let mut lags = Vec::new();
    let mut ended = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while !ended {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the rollout ends and is read within 4 minutes")
            .expect("poller alive");
        let last = match msg {
            Msg::ResultsPage { results, read, .. } => {
                let last = format!("{read:?} message of {} results", results.len());
                grid.merge(results);
                if read == ReadKind::Full {
                    fulls += 1;
                    ended = api.sim.operation_status(SET, OP).is_some_and(|s| !s.is_active());
                }
                last
            }
            Msg::FetchFailed { error, .. } => panic!("a read failed: {error:?}"),
            _ => continue,
        };
        if fulls == 0 {
            continue;
        }
        // The emulator stands still while the screen is judged.
        let (lag, checked) = {
            let history = api.history.lock().unwrap();
            let lag = Lag::now(&history, &api.log.lock().unwrap());
            (lag, check_grid(&grid, &history, lag))
        };
        checked.unwrap_or_else(|e| panic!("after full read {fulls}, a {last}: {e}"));
        lags.push(lag);
        checks += 1;
    }

    // Each complete unfiltered read: every cell exactly once, in a status it held during the page.
    let log = api.log.lock().unwrap();
    assert!(log.complete.len() >= 2, "only {} full reads", log.complete.len());
    let total = log.complete[0].before.len();
    eprintln!("{} complete full reads, {checks} screens checked", log.complete.len());
    eprintln!(
        "lag in steps: {}; {}; {}",
        spread("L", lags.iter().map(|lag| lag.steps()).collect()),
        spread("interval", lags.iter().map(|lag| lag.interval).collect()),
        spread("read", lags.iter().map(|lag| lag.read).collect()),
    );
    // The first complete grid came from the stack instances, one chain per Region; the result
    // list's reads came after it.
    assert!(log.complete[0].from_instances);
    assert!(log.complete[1..].iter().all(|chain| !chain.from_instances));
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

/// Watches a rollout to its end through the real poller and `update`, on the emulator's clock,
/// and returns (seconds watched, ETA shown in seconds, true seconds left) at every read.
async fn etas(scenario: &str, set: &'static str, op: &'static str, call_as: CallAs) -> Vec<(f64, f64, f64)> {
    let api = stepping_client(scenario, set, op, Duration::from_secs(1)).await;
    let start = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let clock_api = Arc::clone(&api);
    let config = PollConfig {
        call_as,
        active_interval: Duration::from_millis(60),
        clock: StampClock::new(move || start + clock_api.elapsed()),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (poller, _task) = sstop::poll::spawn(Arc::clone(&api), config, Arc::new(RateLimiter::unlimited()), tx);
    let mut state = State::new(Settings::default(), start);
    state.generation = 1;
    state.screens.push(Screen::Operation {
        region: "us-east-1".into(),
        stack_set: set.into(),
        operation_id: op.into(),
    });
    poller.send(Command::Watch {
        scope: Scope::Operation {
            region: "us-east-1".into(),
            stack_set: set.into(),
            operation_id: op.into(),
        },
        generation: 1,
    });
    let mut shown = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the rollout ends within 4 minutes")
            .expect("poller alive");
        let judged = match &msg {
            Msg::ResultsPage { read, at, .. } => Some((*read, *at)),
            Msg::FetchFailed { error, .. } => panic!("a read failed: {error:?}"),
            _ => None,
        };
        app::update(&mut state, msg);
        let Some((read, at)) = judged else { continue };
        if read == ReadKind::Partial {
            continue;
        }
        if api.ended_at.lock().unwrap().is_some() {
            break;
        }
        let data = &state.operation;
        if let Some(eta) = data.eta() {
            shown.push(((at - start).as_seconds_f64(), eta.as_seconds_f64()));
        }
    }
    let end = api.ended_at.lock().unwrap().expect("ended") as f64 * api.step.as_secs_f64();
    shown.into_iter().map(|(at, eta)| (at, eta, end - at)).collect()
}

/// After two minutes of watching, the ETA is within `bound` of the time the rollout really took
/// to end, for as long as more than two minutes are left (in the last minutes one wave more or
/// less is most of what is left).
fn check_etas(name: &str, etas: &[(f64, f64, f64)], bound: f64) {
    let judged: Vec<&(f64, f64, f64)> = etas
        .iter()
        .filter(|(at, _, left)| *at >= 120.0 && *left >= 120.0)
        .collect();
    assert!(judged.len() >= 10, "{name}: only {} ETAs to judge", judged.len());
    let mut errors: Vec<f64> = judged.iter().map(|(_, eta, left)| (eta - left) / left).collect();
    errors.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "{name}: {} ETAs judged, error min {:+.0}%, median {:+.0}%, max {:+.0}%",
        errors.len(),
        errors[0] * 100.0,
        errors[errors.len() / 2] * 100.0,
        errors[errors.len() - 1] * 100.0
    );
    for (at, eta, left) in judged {
        assert!(
            (eta - left).abs() <= bound * left,
            "{name}: at {at:.0} s the ETA said {eta:.0} s, {left:.0} s were left"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eta_of_a_sequential_rollout_is_within_a_quarter_after_two_minutes() {
    let etas = etas(
        "rollout",
        "org-guardrails",
        "7d3f9a61-2c4b-4e8f-9a1d-5b6c7e8f9012",
        CallAs::DelegatedAdmin,
    )
    .await;
    // A Region not yet begun takes longer than its waves at the mean rate: its slowest slot
    // sets its end. From the rate alone this was -26% to +20%; with the wave time of the
    // Regions watched whole, four runs gave -22% to +21% (median about 0).
    check_etas("SEQUENTIAL", &etas, 0.25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eta_of_a_parallel_rollout_is_within_a_quarter_after_two_minutes() {
    let etas = etas(MOVING, SET, OP, CallAs::SelfAccount).await;
    check_etas("PARALLEL", &etas, 0.25);
}
