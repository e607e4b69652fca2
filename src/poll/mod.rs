//! The poller: the only task that calls CloudFormation. It keeps the scope on screen fresh at a
//! cadence that fits it, spends few requests doing so, and sends owned results back as `Msg`s.
//! Stop requests take their own lane: they never wait behind polling or the request ceiling.
//! It holds one client per watched Region and sends every call about a stack set to its Region.

mod limiter;
mod reads;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use limiter::RateLimiter;
use reads::{infer, key_of, FullRead, Key, RunningRead};

use crate::api::audit::{self, StopAttempt};
use crate::api::{ApiError, ErrorKind, InstanceQuery, StackSetApi};
use crate::app::{Command, InstanceRequest, Msg, ReadKind, Scope, StopRequest};
use crate::model::{CallAs, OperationResult, ResultStatus};

/// Pages of operations read for one stack set's list; older history is rarely wanted live.
const OPERATION_LIST_PAGES: usize = 3;

/// A page of a long read that fails transiently is asked again this many times...
const PAGE_RETRIES: u32 = 5;
/// ...after a pause that starts here and doubles up to the next.
const PAGE_RETRY_PAUSE: Duration = Duration::from_secs(1);
const PAGE_RETRY_PAUSE_MAX: Duration = Duration::from_secs(10);
/// Cells between two pages of a Region's RUNNING instances asked about one by one, at most this
/// many a round.
const DOUBTFUL_PER_ROUND: usize = 10;
/// A describe of the operation that failed transiently while a first read runs is asked again
/// after this long: the header is what shows a stop.
const DESCRIBE_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How often a polling error that keeps coming back is written to the log again.
const ERROR_LOG_REPEAT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct PollConfig {
    pub call_as: CallAs,
    /// Cadence while the watched operation (or one in the list) is active.
    pub active_interval: Duration,
    /// Cadence of the stack set overview and of lists with nothing active.
    pub idle_interval: Duration,
    /// Stack sets whose latest operation the overview checks per round; the rest wait their turn.
    pub checks_per_round: usize,
    /// A running operation's full re-read spreads over this many intervals...
    pub full_cycle_intervals: u32,
    /// ...but reads at least this many pages per interval (small operations: about one interval).
    pub min_full_pages: u32,
    /// Cap on transient-error backoff.
    pub max_backoff: Duration,
    /// Read-only by flag or config: the stop lane refuses, behind the dialog's own check.
    pub read_only: bool,
    /// Where calls go and as whom, for the audit line of a stop: the Region, the endpoint (None:
    /// AWS's own) and the profile (None: aws-config's default chain).
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub profile: Option<String>,
    /// Where the timestamps on results come from (throughput and ETA are reckoned on them).
    pub clock: StampClock,
}

/// The clock the poller stamps what it reads with: the wall clock, or a test's (the emulator's
/// controlled clock, so a throughput can be checked against the emulator's own time).
#[derive(Clone)]
pub struct StampClock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl StampClock {
    pub fn new(now: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        StampClock(Arc::new(now))
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl Default for StampClock {
    fn default() -> Self {
        StampClock::new(OffsetDateTime::now_utc)
    }
}

impl std::fmt::Debug for StampClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StampClock")
    }
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            call_as: CallAs::SelfAccount,
            active_interval: Duration::from_secs(5),
            idle_interval: Duration::from_secs(30),
            checks_per_round: 10,
            full_cycle_intervals: 24,
            min_full_pages: 8,
            max_backoff: Duration::from_secs(60),
            read_only: false,
            region: None,
            endpoint: None,
            profile: None,
            clock: StampClock::default(),
        }
    }
}

/// One API client per watched Region, the home Region first. Stack sets are regional, so every
/// call about one goes to its Region's client; the overview lists and checks all of them.
///
/// A map beside the unchanged `StackSetApi` trait rather than a wrapper implementing it: the
/// trait's calls carry no Region, and the scopes, messages and stop requests that do carry one
/// pick the client here, where the routing can be tested against fakes.
pub struct RegionApis<A> {
    apis: Vec<(String, Arc<A>)>,
}

impl<A> RegionApis<A> {
    /// Clients by Region, in the order given (the first is the home Region).
    pub fn new(apis: Vec<(String, Arc<A>)>) -> Self {
        RegionApis { apis }
    }

    pub fn one(region: impl Into<String>, api: Arc<A>) -> Self {
        RegionApis {
            apis: vec![(region.into(), api)],
        }
    }

    /// The watched Regions, in order.
    pub fn regions(&self) -> Vec<String> {
        self.apis.iter().map(|(region, _)| region.clone()).collect()
    }

    /// The name `region` goes by here: itself, or with a single client that client's Region
    /// (whatever a scope says, every call goes there).
    fn canonical<'a>(&'a self, region: &'a str) -> &'a str {
        match self.apis.as_slice() {
            [(only, _)] => only,
            _ => region,
        }
    }

    /// The client for `region`. With a single client every call goes to it, whatever the
    /// Region says (a client whose Region was not named, or a scope opened before it was known).
    fn get(&self, region: &str) -> Result<&Arc<A>, ApiError> {
        if let Some((_, api)) = self.apis.iter().find(|(r, _)| r == region) {
            return Ok(api);
        }
        match self.apis.as_slice() {
            [(_, api)] => Ok(api),
            _ => Err(ApiError::new(
                ErrorKind::Validation,
                format!(
                    "Region {region:?} is not one sstop watches ({}): add it to --region or regions in the config",
                    self.regions().join(", ")
                ),
            )),
        }
    }
}

/// A single client, its Region named later by the poller's config.
impl<A> From<Arc<A>> for RegionApis<A> {
    fn from(api: Arc<A>) -> Self {
        RegionApis::one(String::new(), api)
    }
}

/// Send-side of the poller, used by the event loop.
#[derive(Clone)]
pub struct PollerHandle {
    commands: UnboundedSender<Command>,
}

impl PollerHandle {
    pub fn send(&self, command: Command) {
        // The poller only goes away at shutdown, when nothing is listening anyway.
        let _ = self.commands.send(command);
    }
}

/// Start the poller on the current tokio runtime.
pub fn spawn<A: StackSetApi>(
    apis: impl Into<RegionApis<A>>,
    config: PollConfig,
    limiter: Arc<RateLimiter>,
    messages: UnboundedSender<Msg>,
) -> (PollerHandle, JoinHandle<()>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut apis = apis.into();
    for (region, _) in &mut apis.apis {
        if region.is_empty() {
            region.clone_from(&config.region.clone().unwrap_or_default());
        }
    }
    let poller = Poller {
        apis,
        config,
        limiter,
        messages,
        own: tx.clone(),
        call_as_of: Default::default(),
        error_log: Default::default(),
        overview: Default::default(),
    };
    let task = tokio::spawn(poller.run(rx));
    (PollerHandle { commands: tx }, task)
}

struct Poller<A> {
    apis: RegionApis<A>,
    config: PollConfig,
    limiter: Arc<RateLimiter>,
    messages: UnboundedSender<Msg>,
    /// Lets the stop lane ask for a refresh once its request has landed.
    own: UnboundedSender<Command>,
    /// The CallAs each stack set (by Region and name) was listed under; every later call about
    /// it uses the same.
    call_as_of: std::sync::Mutex<HashMap<(String, String), CallAs>>,
    error_log: std::sync::Mutex<ErrorLog>,
    overview: std::sync::Mutex<OverviewMemory>,
}

/// Polling errors for the log: a new one at once, the same one again only every
/// `ERROR_LOG_REPEAT` with the count of repeats in between, so an outage of hours leaves a
/// handful of lines; and one line when calls succeed again.
#[derive(Debug, Default)]
struct ErrorLog {
    /// Kind and code of the error last written.
    last: Option<(ErrorKind, Option<String>)>,
    written_at: Option<Instant>,
    repeats: u32,
}

impl ErrorLog {
    /// `Some(repeats since the last line about it)` when this error is to be written now.
    fn note(&mut self, error: &ApiError, now: Instant) -> Option<u32> {
        let key = (error.kind, error.code.clone());
        let same = self.last.as_ref() == Some(&key);
        let recent = self
            .written_at
            .is_some_and(|at| now.saturating_duration_since(at) < ERROR_LOG_REPEAT);
        if same && recent {
            self.repeats += 1;
            return None;
        }
        let repeats = if same { self.repeats } else { 0 };
        self.last = Some(key);
        self.written_at = Some(now);
        self.repeats = 0;
        Some(repeats)
    }

    /// After a round that worked: `Some(repeats not yet written)` if an error had been written.
    fn recovered(&mut self) -> Option<u32> {
        self.last.take()?;
        self.written_at = None;
        Some(std::mem::take(&mut self.repeats))
    }
}

/// What the overview keeps from one round to the next, and across visits to other screens: a
/// stack set found active before the user opened a grid is checked first when they come back.
#[derive(Default)]
struct OverviewMemory {
    /// When each stack set's (Region, name) latest operations were last checked.
    checked: HashMap<(String, String), Instant>,
    /// Stack sets last seen with an active operation; checked every round.
    active: HashSet<(String, String)>,
    /// The stack sets of every watched Region, and when they were listed.
    stack_sets: Vec<(String, String)>,
    listed_at: Option<Instant>,
}

/// What a finished round tells the scheduler.
enum RoundOutcome {
    /// Poll again after this long.
    Again(Duration),
    /// Nothing will change any more (an ended operation, read in full): stop polling this scope.
    Done,
    /// The round failed with an error retrying soon will not cure (access denied, not found,
    /// credentials): try again after this long.
    Retry(Duration),
    /// The round failed with a transient error: back off.
    Failed,
}

/// Memory the poller keeps for the scope it watches, carried from one round to the next.
#[derive(Default)]
struct ScopeMemory {
    /// Operations list: the permission model is read once.
    described: bool,
    /// Operation: rounds so far.
    rounds: u32,
    /// Operation: the unfiltered read in flight, if any.
    full: Option<FullTask>,
    /// Operation: each cell's place in the list's order, from the last complete full read.
    positions: Option<HashMap<Key, u32>>,
    /// Operation: pages the last complete full read took.
    full_pages: u32,
    /// Operation: results believed RUNNING, for concluding what finished.
    running: HashMap<Key, OperationResult>,
    /// Operation: what full reads saw since the last incremental read began that waits for the
    /// next one.
    seen_running: Arc<std::sync::Mutex<Sightings>>,
    /// Operation: the Regions its stack set has instances in (DescribeStackSet).
    stack_set_regions: Vec<String>,
    /// Operation: whether the first complete grid came from the stack instances.
    instance_read: InstanceRead,
    /// Operation: the instance read is in; the grid is complete once the next incremental read
    /// has sent the RUNNING cells it held back.
    complete_after_incremental: bool,
    /// Operation: RUNNING instances may be read to prove what left RUNNING (a CREATE, UPDATE or
    /// DELETE whose instances can be read; each Region's are checked to follow it).
    instance_checks: bool,
    /// Operation: how many deployments its preferences let run at once in each Region.
    max_concurrent: MaxConcurrent,
    /// Operation: FAILED results in each Region, as the last incremental read found them.
    failed_in_region: HashMap<String, usize>,
}

/// What an operation's preferences let run at once in one Region: MaxConcurrentCount or
/// MaxConcurrentPercentage of its accounts (rounded down, at least one; one if neither is set),
/// and under STRICT_FAILURE_TOLERANCE (the default) at most the failure tolerance plus one, less
/// the Region's failures so far.
#[derive(Debug, Clone, Copy)]
struct MaxConcurrent {
    count: Option<u32>,
    percentage: Option<u32>,
    /// Tolerance as (count, percentage); only under STRICT_FAILURE_TOLERANCE.
    strict_tolerance: Option<(Option<u32>, Option<u32>)>,
}

impl Default for MaxConcurrent {
    /// The service's default: one account at a time.
    fn default() -> Self {
        MaxConcurrent {
            count: Some(1),
            percentage: None,
            strict_tolerance: None,
        }
    }
}

impl MaxConcurrent {
    fn of(preferences: &crate::model::OperationPreferences) -> Self {
        let strict = preferences.concurrency_mode != Some(crate::model::ConcurrencyMode::SoftFailureTolerance);
        MaxConcurrent {
            count: preferences.max_concurrent_count,
            percentage: preferences.max_concurrent_percentage,
            strict_tolerance: strict.then_some((
                preferences.failure_tolerance_count,
                preferences.failure_tolerance_percentage,
            )),
        }
    }

    fn needs_region_sizes(&self) -> bool {
        self.count.is_none() || self.strict_tolerance.is_some_and(|(count, _)| count.is_none())
    }

    /// In a Region of `accounts` cells, `failed` of them FAILED so far.
    fn in_region(&self, accounts: usize, failed: usize) -> usize {
        let share = |percentage: u32| accounts * percentage as usize / 100;
        let most = match (self.count, self.percentage) {
            (Some(count), _) => count as usize,
            (None, Some(percentage)) => share(percentage),
            (None, None) => 1,
        }
        .max(1);
        match self.strict_tolerance {
            Some(tolerance) => {
                let tolerance = match tolerance {
                    (Some(count), _) => count as usize,
                    (None, Some(percentage)) => share(percentage),
                    (None, None) => 0,
                };
                most.min((tolerance + 1).saturating_sub(failed)).max(1)
            }
            None => most,
        }
    }
}

/// The first complete grid of a running CREATE or UPDATE can come from ListStackInstances,
/// one chain per Region at once, instead of the result list's one chain: each instance the
/// operation touches names it as its last operation from the start, with a DetailedStatus in
/// the result's words. Until the result list's order is known, RUNNING is read the same way.
#[derive(Debug, Default)]
enum InstanceRead {
    #[default]
    NotTried,
    /// Not used for this operation (an ended one, a DELETE, no Regions known, or the read failed).
    Declined,
    /// Used: the Regions read, and how many cells they held (None once checked against the
    /// first complete result list read; a count, not the cells: 100,000 keys cost megabytes).
    Used { regions: Vec<String>, cells: Option<usize> },
}

struct Round {
    memory: ScopeMemory,
    outcome: RoundOutcome,
}

impl<A: StackSetApi> Poller<A> {
    async fn run(self, mut commands: UnboundedReceiver<Command>) {
        let this = Arc::new(self);
        let mut scope: Option<(Scope, u64)> = None;
        let mut memory = Some(ScopeMemory::default());
        let mut round: Option<JoinHandle<Round>> = None;
        let mut next_due: Option<Instant> = None;
        let mut refresh_when_done = false;
        let mut failures: u32 = 0;
        loop {
            let due = next_due.filter(|_| round.is_none() && scope.is_some());
            tokio::select! {
                command = commands.recv() => match command {
                    None | Some(Command::Quit) => break,
                    Some(Command::Watch { scope: new_scope, generation }) => {
                        if let Some(task) = round.take() {
                            task.abort();
                        }
                        if new_scope == Scope::StackSets {
                            // Coming back to the overview lists again; what it knew of each
                            // stack set's activity stays.
                            this.lock_overview().listed_at = None;
                        }
                        scope = Some((new_scope, generation));
                        memory = Some(ScopeMemory::default());
                        failures = 0;
                        next_due = Some(Instant::now());
                    }
                    Some(Command::RefreshNow) => {
                        if round.is_some() {
                            refresh_when_done = true;
                        } else {
                            next_due = Some(Instant::now());
                        }
                    }
                    Some(Command::Stop(request)) => {
                        let generation = scope.as_ref().map(|(_, g)| *g).unwrap_or(0);
                        let watching = matches!(&scope, Some((Scope::Operation { region, stack_set, operation_id }, _))
                            if *region == request.region && *stack_set == request.stack_set && *operation_id == request.operation_id);
                        tokio::spawn(Arc::clone(&this).stop(request, watching.then_some(generation)));
                    }
                    Some(Command::DescribeInstance(request)) => {
                        tokio::spawn(Arc::clone(&this).describe_instance(request));
                    }
                },
                finished = async { round.as_mut().expect("guarded by the select condition").await }, if round.is_some() => {
                    round = None;
                    match finished {
                        Ok(Round { memory: kept, outcome }) => {
                            memory = Some(kept);
                            if matches!(outcome, RoundOutcome::Again(_) | RoundOutcome::Done) {
                                this.note_recovery();
                            }
                            next_due = match outcome {
                                RoundOutcome::Again(after) | RoundOutcome::Retry(after) => {
                                    failures = 0;
                                    Some(Instant::now() + after)
                                }
                                RoundOutcome::Done => None,
                                RoundOutcome::Failed => {
                                    failures += 1;
                                    Some(Instant::now() + this.backoff(failures))
                                }
                            };
                        }
                        // The round panicked or was aborted: start the scope afresh after a pause.
                        Err(_) => {
                            memory = Some(ScopeMemory::default());
                            next_due = Some(Instant::now() + this.config.active_interval);
                        }
                    }
                    if std::mem::take(&mut refresh_when_done) {
                        next_due = Some(Instant::now());
                    }
                }
                _ = sleep_until_opt(due), if due.is_some() => {
                    if let Some((current, generation)) = scope.clone() {
                        let kept = memory.take().unwrap_or_default();
                        round = Some(tokio::spawn(Arc::clone(&this).round(current, generation, kept)));
                    }
                }
            }
        }
        if let Some(task) = round {
            task.abort();
        }
    }

    fn call_as_for(&self, region: &str, stack_set: &str) -> CallAs {
        let call_as_of = self.call_as_of.lock().unwrap_or_else(|p| p.into_inner());
        call_as_of
            .get(&(self.apis.canonical(region).to_string(), stack_set.to_string()))
            .copied()
            .unwrap_or(self.config.call_as)
    }

    async fn list_all_stack_sets(
        &self,
        api: &A,
        call_as: CallAs,
    ) -> Result<Vec<crate::model::StackSetSummary>, ApiError> {
        crate::api::all_pages(|token| async move {
            self.limiter.acquire().await;
            api.list_stack_sets(call_as, token).await
        })
        .await
    }

    /// A polling error: logged (a repeat only now and then) and sent for the screen to show.
    fn report(&self, generation: u64, region: &str, error: ApiError) {
        let write = self.lock_error_log().note(&error, Instant::now());
        if let Some(repeats) = write {
            tracing::warn!(
                region,
                kind = ?error.kind,
                code = error.code.as_deref().unwrap_or("none"),
                request_id = error.request_id.as_deref().unwrap_or("none"),
                repeats,
                error = ?error.message,
                "polling call failed"
            );
        }
        self.send(Msg::FetchFailed {
            generation,
            error,
            at: self.now(),
        });
    }

    fn backoff(&self, failures: u32) -> Duration {
        let base = self.config.active_interval.as_secs_f64().max(1.0);
        let secs = base * 2f64.powi(failures.min(8) as i32 - 1);
        Duration::from_secs_f64(secs).min(self.config.max_backoff)
    }

    fn now(&self) -> OffsetDateTime {
        self.config.clock.now()
    }

    fn send(&self, msg: Msg) {
        let _ = self.messages.send(msg);
    }

    fn failed(&self, generation: u64, error: ApiError) -> RoundOutcome {
        let transient = error.is_transient();
        self.report(generation, "-", error);
        if transient {
            RoundOutcome::Failed
        } else {
            // Not worth hammering (access denied, not found...), but credentials can come back.
            RoundOutcome::Retry(self.config.idle_interval)
        }
    }

    fn lock_overview(&self) -> std::sync::MutexGuard<'_, OverviewMemory> {
        self.overview.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_error_log(&self) -> std::sync::MutexGuard<'_, ErrorLog> {
        self.error_log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_recovery(&self) {
        let recovered = self.lock_error_log().recovered();
        if let Some(repeats) = recovered {
            tracing::info!(repeats, "polling calls succeed again");
        }
    }

    /// The stop lane: straight to the API, exempt from the ceiling, then a describe so the
    /// new status shows at once, then a nudge for a full refresh.
    async fn stop(self: Arc<Self>, request: StopRequest, watching_generation: Option<u64>) {
        let api = self.apis.get(&request.region).map(Arc::clone);
        let result = if self.config.read_only {
            Err(ApiError::new(
                ErrorKind::ReadOnly,
                "read-only is set: StopStackSetOperation was not sent",
            ))
        } else {
            match &api {
                Ok(api) => api
                    .stop_operation(&request.stack_set, &request.operation_id, request.call_as)
                    .await
                    .map(|accepted| accepted.request_id),
                Err(error) => Err(error.clone()),
            }
        };
        // The Region the call went to: the stack set's, as the request names it.
        let region = if request.region.is_empty() {
            self.config.region.as_deref()
        } else {
            Some(request.region.as_str())
        };
        let attempt = StopAttempt {
            origin: "dashboard",
            stack_set: &request.stack_set,
            operation_id: &request.operation_id,
            call_as: request.call_as,
            region,
            endpoint: self.config.endpoint.as_deref(),
            profile: self.config.profile.as_deref(),
        };
        audit::stop(&attempt, result.as_ref().map(|id| id.as_deref()));
        let sent = result.is_ok();
        self.send(Msg::StopFinished {
            request: request.clone(),
            result,
        });
        if let (true, Some(generation), Ok(api)) = (sent, watching_generation, api) {
            if let Ok(operation) = api
                .describe_operation(&request.stack_set, &request.operation_id, request.call_as)
                .await
            {
                self.send(Msg::OperationDescribed {
                    generation,
                    operation,
                    at: self.now(),
                });
            }
            let _ = self.own.send(Command::RefreshNow);
        }
    }

    /// DescribeStackInstance for the detail popup: one call per key press, beside the round
    /// (a popup should not wait for a long listing to end) but paced by the limiter like any
    /// read. The answer goes back whatever is on screen; `update` keeps it only for its popup.
    async fn describe_instance(self: Arc<Self>, request: InstanceRequest) {
        let result = match self.apis.get(&request.region) {
            Ok(api) => {
                let api = Arc::clone(api);
                let call_as = self.call_as_for(&request.region, &request.stack_set);
                self.limiter.acquire().await;
                api.describe_instance(&request.stack_set, &request.account, &request.instance_region, call_as)
                    .await
            }
            Err(error) => Err(error),
        };
        self.send(Msg::InstanceDescribed { request, result });
    }

    async fn round(self: Arc<Self>, scope: Scope, generation: u64, memory: ScopeMemory) -> Round {
        match scope {
            Scope::StackSets => self.overview_round(generation, memory).await,
            Scope::Operations { region, stack_set } => {
                self.operations_round(generation, &region, &stack_set, memory).await
            }
            Scope::Operation {
                region,
                stack_set,
                operation_id,
            } => {
                self.operation_round(generation, &region, &stack_set, &operation_id, memory)
                    .await
            }
            Scope::Instances { region, stack_set } => {
                self.instances_round(generation, &region, &stack_set, memory).await
            }
        }
    }

    /// A stack set's stack instances: every page of ListStackInstances at the idle cadence, or
    /// less often for a large one (instances change only when an operation runs; `r` reads
    /// them again at once).
    async fn instances_round(&self, generation: u64, region: &str, stack_set: &str, memory: ScopeMemory) -> Round {
        let api = match self.apis.get(region) {
            Ok(api) => Arc::clone(api),
            Err(error) => {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
        };
        let call_as = self.call_as_for(region, stack_set);
        let read = crate::api::all_pages(|token| {
            let api = Arc::clone(&api);
            async move {
                self.limiter.acquire().await;
                api.list_instances(stack_set, call_as, &InstanceQuery::default(), token)
                    .await
            }
        })
        .await;
        let outcome = match read {
            Ok(instances) => {
                // About one page a second on average: a stack set of 100,000 instances is not
                // re-read every idle interval (that would be 1,000 pages each time).
                let pages = instances.len().div_ceil(100) as u64;
                self.send(Msg::Instances {
                    generation,
                    result: Ok(instances),
                    at: self.now(),
                });
                RoundOutcome::Again(self.config.idle_interval.max(Duration::from_secs(pages)))
            }
            Err(error) => self.failed(generation, error),
        };
        Round { memory, outcome }
    }

    /// One Region's stack sets, listed under SELF and (for a delegated administrator) also
    /// DELEGATED_ADMIN, each remembered with the CallAs it was found under.
    async fn list_region(&self, region: &str, api: &A) -> Result<Vec<crate::model::StackSetSummary>, ApiError> {
        // A delegated administrator sees its service-managed stack sets only with
        // DELEGATED_ADMIN, and its own self-managed ones only with SELF: list under both.
        let mut listings = vec![CallAs::SelfAccount];
        if self.config.call_as == CallAs::DelegatedAdmin {
            listings.push(CallAs::DelegatedAdmin);
        }
        let mut summaries = Vec::new();
        let mut last_error = None;
        let mut any_ok = false;
        for call_as in listings {
            match self.list_all_stack_sets(api, call_as).await {
                Ok(found) => {
                    any_ok = true;
                    let mut call_as_of = self.call_as_of.lock().unwrap_or_else(|p| p.into_inner());
                    for summary in &found {
                        call_as_of.insert((region.to_string(), summary.name.clone()), call_as);
                    }
                    summaries.extend(found);
                }
                Err(error) => last_error = Some(error),
            }
        }
        if let (false, Some(error)) = (any_ok, last_error) {
            return Err(error);
        }
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        summaries.dedup_by(|a, b| a.name == b.name);
        // The stop dialog starts on the CallAs every other call about the stack set uses.
        for summary in &mut summaries {
            summary.listed_as = Some(self.call_as_for(region, &summary.name));
        }
        Ok(summaries)
    }

    /// The overview, behind both the pulse and the stack set list: every watched Region's
    /// stack sets at the idle cadence, and each round the latest operations of a capped number
    /// of stack sets across all Regions (active ones always, then the stalest).
    async fn overview_round(&self, generation: u64, memory: ScopeMemory) -> Round {
        let list_due = self
            .lock_overview()
            .listed_at
            .is_none_or(|at| at.elapsed() >= self.config.idle_interval);
        if list_due {
            let mut listed: Vec<(String, String)> = Vec::new();
            let mut errors = Vec::new();
            for (region, api) in &self.apis.apis {
                match self.list_region(region, api).await {
                    Ok(summaries) => {
                        listed.extend(summaries.iter().map(|s| (region.clone(), s.name.clone())));
                        self.send(Msg::StackSets {
                            generation,
                            region: region.clone(),
                            result: Ok(summaries),
                            at: self.now(),
                        });
                    }
                    Err(error) => {
                        // A Region that cannot be listed keeps the stack sets it had, and the others go on.
                        let overview = self.lock_overview();
                        listed.extend(overview.stack_sets.iter().filter(|(r, _)| r == region).cloned());
                        errors.push((region.clone(), error));
                    }
                }
            }
            if errors.len() == self.apis.apis.len() {
                if let Some((_, error)) = errors.pop() {
                    let outcome = self.failed(generation, error);
                    return Round { memory, outcome };
                }
            }
            for (region, error) in errors {
                let error = ApiError {
                    message: format!("{region}: {}", error.message),
                    ..error
                };
                self.report(generation, &region, error);
            }
            let mut overview = self.lock_overview();
            overview.stack_sets = listed;
            overview.listed_at = Some(Instant::now());
        }
        let due = self.due_checks(&self.lock_overview());
        for key in due {
            let (region, name) = &key;
            let Ok(api) = self.apis.get(region) else {
                continue;
            };
            self.limiter.acquire().await;
            let call_as = self.call_as_for(region, name);
            match api.list_operations(name, call_as, 10, None).await {
                Ok(page) => {
                    let active = page.items.iter().any(|op| op.status.is_active());
                    let mut overview = self.lock_overview();
                    if active {
                        overview.active.insert(key.clone());
                    } else {
                        overview.active.remove(&key);
                    }
                    overview.checked.insert(key.clone(), Instant::now());
                    drop(overview);
                    self.send(Msg::StackSetChecked {
                        generation,
                        region: region.clone(),
                        stack_set: name.clone(),
                        operations: page.items,
                        at: self.now(),
                    });
                }
                Err(error) if error.is_transient() => {
                    let outcome = self.failed(generation, error);
                    return Round { memory, outcome };
                }
                // One stack set we may not read must not hold up the others.
                Err(error) => tracing::debug!(region, stack_set = name, %error, "latest operation not readable"),
            }
        }
        let none_active = self.lock_overview().active.is_empty();
        let outcome = RoundOutcome::Again(if none_active {
            self.config.active_interval.max(Duration::from_secs(10))
        } else {
            self.config.active_interval
        });
        Round { memory, outcome }
    }

    /// The stack sets this round checks: every active one, then the stalest of the rest
    /// (never checked first) up to `checks_per_round` in all, across every Region.
    fn due_checks(&self, memory: &OverviewMemory) -> Vec<(String, String)> {
        let mut due: Vec<(String, String)> = memory
            .stack_sets
            .iter()
            .filter(|key| memory.active.contains(*key))
            .cloned()
            .collect();
        // Stalest first; among equally stale (never checked, at the start) the Regions take
        // turns, so a Region of a few stack sets is not left waiting behind one of a thousand.
        let mut place: HashMap<&str, usize> = HashMap::new();
        let mut idle: Vec<(Option<Instant>, usize, &(String, String))> = memory
            .stack_sets
            .iter()
            .filter(|key| !memory.active.contains(*key))
            .map(|key| {
                let turn = place.entry(key.0.as_str()).or_default();
                *turn += 1;
                (memory.checked.get(key).copied(), *turn, key)
            })
            .collect();
        idle.sort_by_key(|(checked, turn, _)| (*checked, *turn));
        let idle = idle.into_iter().map(|(_, _, key)| key);
        let room = self.config.checks_per_round.saturating_sub(due.len());
        due.extend(idle.take(room).cloned());
        due
    }

    async fn operations_round(&self, generation: u64, region: &str, stack_set: &str, mut memory: ScopeMemory) -> Round {
        let call_as = self.call_as_for(region, stack_set);
        let api = match self.apis.get(region) {
            Ok(api) => Arc::clone(api),
            Err(error) => {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
        };
        if !memory.described {
            self.limiter.acquire().await;
            match api.describe_stack_set(stack_set, call_as).await {
                Ok(detail) => {
                    memory.described = true;
                    if let Some(model) = detail.summary.permission_model {
                        self.send(Msg::PermissionModel {
                            region: region.to_string(),
                            stack_set: stack_set.to_string(),
                            model,
                        });
                    }
                }
                Err(error) => {
                    let outcome = self.failed(generation, error);
                    return Round { memory, outcome };
                }
            }
        }
        let mut operations = Vec::new();
        let mut token = None;
        for _ in 0..OPERATION_LIST_PAGES {
            self.limiter.acquire().await;
            match api.list_operations(stack_set, call_as, 100, token).await {
                Ok(page) => {
                    operations.extend(page.items);
                    token = page.next_token;
                    if token.is_none() {
                        break;
                    }
                }
                Err(error) => {
                    let outcome = self.failed(generation, error);
                    return Round { memory, outcome };
                }
            }
        }
        operations.sort_by_key(|op| std::cmp::Reverse(op.created));
        let active = operations.iter().any(|op| op.status.is_active());
        self.send(Msg::Operations {
            generation,
            region: region.to_string(),
            stack_set: stack_set.to_string(),
            result: Ok(operations),
            at: self.now(),
        });
        let after = if active {
            self.config.active_interval
        } else {
            self.config.idle_interval
        };
        Round {
            memory,
            outcome: RoundOutcome::Again(after),
        }
    }

    /// One round of the watched operation: describe it; keep one unfiltered full read going
    /// (the first as fast as allowed, later ones paced); between them read the classes that
    /// change (RUNNING, then FAILED and CANCELLED) and conclude what finished; and after the
    /// operation ends, one exact read.
    async fn operation_round(
        self: &Arc<Self>,
        generation: u64,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        mut memory: ScopeMemory,
    ) -> Round {
        let full_read_failed = self.collect_full_read(&mut memory).await;
        check_instance_read(&mut memory);
        let first = memory.rounds == 0;
        memory.rounds += 1;
        // An operation opened directly (--stack-set/--operation) skipped the operations list,
        // which is where the permission model is learnt: the stop dialog's CallAs choice and
        // the console links need it, and the instance read needs the stack set's Regions. Once
        // per watch, beside the operation's describe; a refusal holds nothing up.
        let describe_stack_set = async {
            if memory.described {
                return None;
            }
            let api = self.apis.get(region).ok()?;
            self.limiter.acquire().await;
            Some(
                api.describe_stack_set(stack_set, self.call_as_for(region, stack_set))
                    .await,
            )
        };
        let (described, stack_set_detail) = tokio::join!(
            self.describe(generation, region, stack_set, operation_id, Paced::Yes),
            describe_stack_set
        );
        if let Some(detail) = stack_set_detail {
            memory.described = true;
            match detail {
                Ok(detail) => {
                    memory.stack_set_regions = detail.regions;
                    if let Some(model) = detail.summary.permission_model {
                        self.send(Msg::PermissionModel {
                            region: region.to_string(),
                            stack_set: stack_set.to_string(),
                            model,
                        });
                    }
                }
                Err(error) => tracing::debug!(stack_set, %error, "permission model not readable"),
            }
        }
        let mut operation = match described {
            Ok(operation) => operation,
            Err(error) => {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
        };
        memory.max_concurrent = MaxConcurrent::of(&operation.preferences);
        // Read RUNNING, FAILED and CANCELLED this round even if it is the first: a first complete
        // read has just ended.
        let mut read_instances_now = false;
        if matches!(memory.instance_read, InstanceRead::NotTried) {
            // While a deployment runs, its instance names the operation and says RUNNING (a
            // drift check leaves the instances as they were).
            memory.instance_checks = matches!(
                operation.action,
                crate::model::OperationAction::Create
                    | crate::model::OperationAction::Update
                    | crate::model::OperationAction::Delete
            );
            memory.instance_read = InstanceRead::Declined;
            let regions = instance_read_regions(&operation, &memory.stack_set_regions);
            if operation.status.is_active() && !regions.is_empty() {
                let read = self.read_instances_checked(generation, region, stack_set, operation_id, &regions, &memory);
                match self
                    .describing_meanwhile(generation, (region, stack_set, operation_id), read, &mut operation)
                    .await
                {
                    Ok(cells) => {
                        memory.instance_read = InstanceRead::Used {
                            regions,
                            cells: Some(cells),
                        };
                        memory.complete_after_incremental = true;
                        read_instances_now = true;
                    }
                    Err(error) => {
                        tracing::info!(stack_set, %error, "stack instances not readable; reading the result list")
                    }
                }
            }
        }
        if memory.full.is_none() && memory.positions.is_none() && operation.status.is_active() {
            if matches!(memory.instance_read, InstanceRead::Used { .. }) {
                // After the instances: the result list's order, at full speed, so what left
                // RUNNING can be judged from the list's cheap reads.
                self.start_full_read(generation, region, stack_set, operation_id, None, &mut memory);
            } else {
                // The first complete grid from the result list: read whole here, what it saw
                // RUNNING held back, then at once the incremental read that settles that (shown
                // as read, RUNNING went far above what can run at once) and marks it complete.
                let seen = Arc::clone(&memory.seen_running);
                let how = FullReadPace {
                    pace: None,
                    withhold_running: true,
                    announce_full: false,
                };
                let read = Arc::clone(self).read_everything(
                    generation,
                    region.to_string(),
                    stack_set.to_string(),
                    operation_id.to_string(),
                    how,
                    seen,
                );
                match self
                    .describing_meanwhile(generation, (region, stack_set, operation_id), read, &mut operation)
                    .await
                {
                    Ok(full) => {
                        memory.full_pages = full.pages;
                        memory.positions = Some(full.positions);
                        memory.complete_after_incremental = true;
                        read_instances_now = true;
                    }
                    Err(error) => {
                        let outcome = self.failed(generation, error);
                        return Round { memory, outcome };
                    }
                }
            }
        }
        if !operation.status.is_active() {
            // Nothing moves any more: one read that started after the end is the exact truth.
            // The read in flight is stopped first, so no page of it lands among the new one's.
            if let Some(task) = memory.full.take() {
                task.cancel().await;
            }
            let seen = Arc::clone(&memory.seen_running);
            let read = Arc::clone(self)
                .read_everything(
                    generation,
                    region.to_string(),
                    stack_set.to_string(),
                    operation_id.to_string(),
                    FullReadPace {
                        pace: None,
                        withhold_running: false,
                        announce_full: true,
                    },
                    seen,
                )
                .await;
            let outcome = match read {
                Ok(full) => {
                    memory.positions = Some(full.positions);
                    RoundOutcome::Done
                }
                Err(error) => self.failed(generation, error),
            };
            return Round { memory, outcome };
        }
        if !first || read_instances_now {
            if let Err(error) = self
                .incremental_read(generation, region, stack_set, operation_id, &mut memory)
                .await
            {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
        }
        match full_read_failed {
            // This round's calls worked: a transient failure of the full read is over; it
            // starts again below.
            Some(error) if error.is_transient() => {
                tracing::debug!(%error, "full read failed; starting it again")
            }
            Some(error) => {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
            None => {}
        }
        if memory.full.is_none() {
            let pace = self.full_read_pace(memory.full_pages);
            self.start_full_read(generation, region, stack_set, operation_id, Some(pace), &mut memory);
        }
        Round {
            memory,
            outcome: RoundOutcome::Again(self.config.active_interval),
        }
    }

    /// `work` (a first read, inside the round), with the operation described every interval
    /// while it runs: under a low rate limit that read takes minutes, and a stop or the end
    /// must reach the header meanwhile, not after it.
    /// `latest` becomes the last description, so the round goes on with the operation as it is
    /// now (ended meanwhile, it is read once more in full at once).
    async fn describing_meanwhile<T>(
        &self,
        generation: u64,
        (region, stack_set, operation_id): (&str, &str, &str),
        work: impl std::future::Future<Output = T>,
        latest: &mut crate::model::Operation,
    ) -> T {
        let described = std::sync::Mutex::new(None);
        let describe_every_interval = async {
            let interval = self.config.active_interval;
            let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // That read takes every request the rate allows: in the pace's queue this one
                // waited behind every chain's next page, and was often throttled beyond the
                // SDK's retries. One request an interval goes past the pace, as a stop does, and
                // a transient failure is asked again after a second, not an interval later.
                // Another failure is the next round's to report.
                loop {
                    match self
                        .describe(generation, region, stack_set, operation_id, Paced::No)
                        .await
                    {
                        Ok(operation) => {
                            *described.lock().unwrap_or_else(|p| p.into_inner()) = Some(operation);
                            break;
                        }
                        Err(error) if error.is_transient() => tokio::time::sleep(DESCRIBE_RETRY_PAUSE).await,
                        Err(_) => break,
                    }
                }
            }
        };
        let done = tokio::select! {
            done = work => done,
            _ = describe_every_interval => unreachable!("describes until the work is done"),
        };
        if let Some(operation) = described.into_inner().unwrap_or_else(|p| p.into_inner()) {
            *latest = operation;
        }
        done
    }

    /// Time between the pages of a repeated full read: it spreads over `full_cycle_intervals`
    /// intervals, but reads at least `min_full_pages` pages an interval, so a small operation
    /// is re-read in about one interval and a 425-page one costs a tenth of re-paging it all.
    fn full_read_pace(&self, last_pages: u32) -> Duration {
        let cycle = self.config.full_cycle_intervals.max(1);
        let per_interval = last_pages.div_ceil(cycle).max(self.config.min_full_pages.max(1));
        self.config.active_interval / per_interval
    }

    fn start_full_read(
        self: &Arc<Self>,
        generation: u64,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        pace: Option<Duration>,
        memory: &mut ScopeMemory,
    ) {
        // Once the grid holds every cell, what this read sees RUNNING waits for the next
        // incremental read, which sends it with what it concluded: merged at once, a cell that
        // started here showed beside one that had ended meanwhile, above what can run at once.
        let withhold_running = memory.positions.is_some() || matches!(memory.instance_read, InstanceRead::Used { .. });
        let task = tokio::spawn(Arc::clone(self).read_everything(
            generation,
            region.to_string(),
            stack_set.to_string(),
            operation_id.to_string(),
            FullReadPace {
                pace,
                withhold_running,
                announce_full: true,
            },
            Arc::clone(&memory.seen_running),
        ));
        memory.full = Some(FullTask(Some(task)));
    }

    /// Takes a full read that has finished: its order becomes the one absences are judged by.
    /// Returns its error if it failed.
    async fn collect_full_read(&self, memory: &mut ScopeMemory) -> Option<ApiError> {
        if !memory.full.as_ref().is_some_and(FullTask::is_finished) {
            return None;
        }
        match memory.full.take()?.join().await? {
            Ok(full) => {
                memory.full_pages = full.pages;
                memory.positions = Some(full.positions);
                None
            }
            Err(error) => Some(error),
        }
    }

    async fn describe(
        &self,
        generation: u64,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        paced: Paced,
    ) -> Result<crate::model::Operation, ApiError> {
        if paced == Paced::Yes {
            self.limiter.acquire().await;
        }
        let call_as = self.call_as_for(region, stack_set);
        let described = self
            .apis
            .get(region)?
            .describe_operation(stack_set, operation_id, call_as)
            .await;
        if let Ok(operation) = &described {
            self.send(Msg::OperationDescribed {
                generation,
                operation: operation.clone(),
                at: self.now(),
            });
        }
        described
    }

    /// The unfiltered list, page by page, each page sent as it arrives. The list holds every
    /// cell once in a fixed order whatever their statuses do, so the read misses none and
    /// repeats none; each cell shows the status it had when its page was read. Ends with a
    /// `Full` marker once the last page is in.
    async fn read_everything(
        self: Arc<Self>,
        generation: u64,
        region: String,
        stack_set: String,
        operation_id: String,
        how: FullReadPace,
        seen_running: Arc<std::sync::Mutex<Sightings>>,
    ) -> Result<FullRead, ApiError> {
        let FullReadPace {
            pace,
            withhold_running,
            announce_full,
        } = how;
        let call_as = self.call_as_for(&region, &stack_set);
        let api = Arc::clone(self.apis.get(&region)?);
        let mut full = FullRead::default();
        let mut token = None;
        loop {
            let page = self
                .page_with_retries(|| api.list_results(&stack_set, &operation_id, call_as, None, token.clone()))
                .await?;
            full.pages += 1;
            for result in &page.items {
                let next = full.positions.len() as u32;
                full.positions.entry(key_of(result)).or_insert(next);
            }
            self.send_page(generation, page.items, withhold_running, &seen_running);
            token = page.next_token;
            if token.is_none() {
                break;
            }
            if let Some(pace) = pace {
                tokio::time::sleep(pace).await;
            }
        }
        // While RUNNING is held back, the grid is complete only once an incremental read has
        // proven it (see `incremental_read`): this read's end alone proves nothing of RUNNING
        // (411 of 300 showed as complete where a Region ran 150).
        let grid_complete = seen_running.lock().unwrap_or_else(|p| p.into_inner()).grid_complete;
        if announce_full && (grid_complete || !withhold_running) {
            self.send(Msg::ResultsPage {
                generation,
                results: Vec::new(),
                read: ReadKind::Full,
                at: self.now(),
            });
        }
        Ok(full)
    }

    /// A page of a full read: what it saw RUNNING is noted for the next incremental read, and
    /// sent now too unless `withhold_running`; so are, under `withhold_running`, the cells the
    /// poller believes RUNNING that the page shows ended. (Sent at once, their leaving showed
    /// before the deployments that took their places, which wait, and RUNNING dipped.)
    fn send_page(
        &self,
        generation: u64,
        results: Vec<OperationResult>,
        withhold_running: bool,
        seen_running: &std::sync::Mutex<Sightings>,
    ) {
        let mut sightings = seen_running.lock().unwrap_or_else(|p| p.into_inner());
        let (waiting, others): (Vec<OperationResult>, Vec<OperationResult>) = results.into_iter().partition(|r| {
            r.status == ResultStatus::Running || (withhold_running && sightings.believed_running.contains(&key_of(r)))
        });
        let results = if withhold_running {
            others
        } else {
            others.into_iter().chain(waiting.iter().cloned()).collect()
        };
        sightings.seen.extend(waiting);
        drop(sightings);
        self.send(Msg::ResultsPage {
            generation,
            results,
            read: ReadKind::Partial,
            at: self.now(),
        });
    }

    /// RUNNING first, then FAILED and CANCELLED: a result that leaves RUNNING during the first
    /// read is caught by the others. What was RUNNING before and is proven gone from all three
    /// is sent as SUCCEEDED.
    async fn incremental_read(
        &self,
        generation: u64,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        memory: &mut ScopeMemory,
    ) -> Result<(), ApiError> {
        // Everything believed RUNNING before this read starts, the full read's sightings of
        // RUNNING included; those it saw ended are sent with what this read concludes.
        let mut before = std::mem::take(&mut memory.running);
        let sightings = std::mem::take(&mut memory.seen_running.lock().unwrap_or_else(|p| p.into_inner()).seen);
        let (seen_running, seen_ended): (Vec<OperationResult>, Vec<OperationResult>) =
            sightings.into_iter().partition(|r| r.status == ResultStatus::Running);
        before.extend(seen_running.into_iter().map(|r| (key_of(&r), r)));
        for result in &seen_ended {
            before.remove(&key_of(result));
        }
        let instance_regions = match (&memory.instance_read, &memory.positions) {
            (InstanceRead::Used { regions, .. }, None) => Some(regions.clone()),
            _ => None,
        };
        let running = match &instance_regions {
            // The result list's order is not known yet, so an absence across its pages proves
            // nothing; a Region's RUNNING instances fit one page, which proves every absence.
            Some(regions) => {
                self.read_running_instances(region, stack_set, operation_id, regions)
                    .await
            }
            None => self
                .read_class(region, stack_set, operation_id, ResultStatus::Running)
                .await
                .map(|pages| vec![(None, RunningRead { pages })]),
        };
        let running = match running {
            Ok(running) => running,
            Err(error) => {
                restore_unsettled(memory, before, seen_ended);
                return Err(error);
            }
        };
        // Before FAILED and CANCELLED are read, as the RUNNING read itself.
        let RunningCheck { gone, started } = if instance_regions.is_none() {
            self.running_absent_from_instances(region, stack_set, operation_id, &before, &running, memory)
                .await
        } else {
            RunningCheck::default()
        };
        let (failed, cancelled) = tokio::join!(
            self.read_class(region, stack_set, operation_id, ResultStatus::Failed),
            self.read_class(region, stack_set, operation_id, ResultStatus::Cancelled),
        );
        let (failed, cancelled) = match (failed, cancelled) {
            (Ok(failed), Ok(cancelled)) => (failed, cancelled),
            (Err(error), _) | (_, Err(error)) => {
                restore_unsettled(memory, before, seen_ended);
                return Err(error);
            }
        };
        memory.failed_in_region.clear();
        for result in failed.iter().flatten() {
            *memory.failed_in_region.entry(result.region.clone()).or_default() += 1;
        }
        let ended: HashSet<Key> = failed
            .iter()
            .chain(&cancelled)
            .flatten()
            .chain(&seen_ended)
            .map(key_of)
            .collect();
        // Everything this read learnt lands in one message: sent page by page, the new RUNNING
        // cells showed before the finished ones left, and RUNNING spiked above what can run.
        let mut results: Vec<OperationResult> = Vec::new();
        let mut believed_running = HashMap::new();
        let mut all_proven = true;
        let mut before_by_region = split_by_region(before, instance_regions.is_some());
        for (read_region, read) in running {
            let before = before_by_region.remove(&read_region).unwrap_or_default();
            let positions = if read_region.is_some() {
                // One Region's instances: their order is not the result list's.
                all_proven &= read.pages.len() <= 1;
                None
            } else {
                memory.positions.as_ref()
            };
            let mut inference = infer(before, &read, positions, &ended);
            // Absent from their Region's one page of RUNNING instances, and in neither final
            // class read after it: SUCCEEDED, as `infer` concludes where the order proves it.
            for key in gone.iter().filter(|key| !ended.contains(*key)) {
                if let Some(mut result) = inference.running.remove(key) {
                    result.status = ResultStatus::Succeeded;
                    result.status_reason = None;
                    inference.succeeded.push(result);
                }
            }
            results.extend(inference.succeeded);
            believed_running.extend(inference.running);
        }
        // Believed RUNNING in a Region not read (none known when the read began): kept.
        believed_running.extend(before_by_region.into_values().flatten());
        for result in started {
            believed_running.entry(key_of(&result)).or_insert(result);
        }
        // Seen RUNNING now, or earlier and maybe skipped since: sightings by the full read
        // included, which reach the grid only here. (No such read is in flight before the
        // first complete one, which ends with a round of these reads.)
        results.extend(believed_running.values().cloned());
        results.extend(failed.into_iter().chain(cancelled).flatten());
        results.extend(seen_ended);
        memory
            .seen_running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .believed_running = believed_running.keys().cloned().collect();
        memory.running = believed_running;
        // Until the order is known (or each Region's RUNNING fits a page), an absence across
        // pages proves nothing, so finished results can sit as RUNNING: no sample of progress.
        let read = if memory.positions.is_some() || (instance_regions.is_some() && all_proven) {
            ReadKind::Incremental
        } else {
            ReadKind::Partial
        };
        self.send(Msg::ResultsPage {
            generation,
            results,
            read,
            at: self.now(),
        });
        // Complete only once RUNNING is proven: a Region of more than a page of RUNNING
        // instances is not one snapshot, so until the result list's order is known, what ended
        // there could sit as RUNNING on the first complete screen.
        if read == ReadKind::Incremental && std::mem::take(&mut memory.complete_after_incremental) {
            memory
                .seen_running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .grid_complete = true;
            self.send(Msg::ResultsPage {
                generation,
                results: Vec::new(),
                read: ReadKind::Full,
                at: self.now(),
            });
        }
        Ok(())
    }

    /// Results believed RUNNING that the result list's RUNNING read left unproven (between two
    /// of its pages, where a page shifted by results leaving the class could have skipped them),
    /// and Regions where it saw more RUNNING than may run at once there (one seen on an early
    /// page ended and another started on a later one: the pages are not one instant), checked
    /// against their Regions' RUNNING instances: one page per Region, a snapshot, which proves
    /// every absence. Costs a request per such Region (a handful a round); none when the
    /// instances cannot be read.
    async fn running_absent_from_instances(
        &self,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        before: &HashMap<Key, OperationResult>,
        running: &[(Option<String>, RunningRead)],
        memory: &mut ScopeMemory,
    ) -> RunningCheck {
        let [(None, read)] = running else {
            return RunningCheck::default();
        };
        if !memory.instance_checks || read.pages.len() <= 1 {
            return RunningCheck::default();
        }
        let probe = infer(before.clone(), read, memory.positions.as_ref(), &HashSet::new());
        let seen: HashSet<Key> = read.results().map(key_of).collect();
        let mut regions: BTreeSet<String> = probe
            .running
            .keys()
            .filter(|key| !seen.contains(*key))
            .map(|(_, region)| region.clone())
            .collect();
        let mut believed_in: HashMap<&str, usize> = HashMap::new();
        for (_, cell_region) in probe.running.keys() {
            *believed_in.entry(cell_region).or_default() += 1;
        }
        let region_sizes = if memory.max_concurrent.needs_region_sizes() {
            cells_per_region(memory.positions.as_ref())
        } else {
            HashMap::new()
        };
        for (cell_region, believed) in believed_in {
            let size = region_sizes.get(cell_region).copied().unwrap_or(0);
            let failed = memory.failed_in_region.get(cell_region).copied().unwrap_or(0);
            if believed > memory.max_concurrent.in_region(size, failed) {
                regions.insert(cell_region.to_string());
            }
        }
        if regions.is_empty() {
            return RunningCheck::default();
        }
        let regions: Vec<String> = regions.into_iter().collect();
        match self
            .read_running_instances(region, stack_set, operation_id, &regions)
            .await
        {
            Ok(reads) => {
                // A Region's one page proves an absence only where its instances are seen to
                // follow the operation: it holds at least one of the results the RUNNING read
                // saw there moments ago. (Where they name another operation, or none, an
                // absence from them proves nothing.)
                let mut check = RunningCheck::default();
                let mut doubtful: Vec<Key> = Vec::new();
                for (read_region, read) in reads {
                    let Some(read_region) = read_region else { continue };
                    let Some(gaps) = gaps_by_account(&read) else { continue };
                    let still: HashMap<Key, &OperationResult> = read.results().map(|r| (key_of(r), r)).collect();
                    if !still.keys().any(|key| seen.contains(key)) {
                        continue;
                    }
                    // Results only move forward: one believed RUNNING and absent from the
                    // snapshot taken after it was seen has ended; one in the snapshot that the
                    // list's pages missed started behind them.
                    let (unsure, sure): (Vec<Key>, Vec<Key>) = probe
                        .running
                        .keys()
                        .filter(|key| key.1 == read_region && !still.contains_key(*key))
                        .cloned()
                        .partition(|(account, _)| gaps.iter().any(|(lo, hi)| lo < account && account < hi));
                    check.gone.extend(sure);
                    doubtful.extend(unsure);
                    check.started.extend(
                        still
                            .into_iter()
                            .filter(|(key, _)| !probe.running.contains_key(key))
                            .map(|(_, result)| result.clone()),
                    );
                }
                // Between two pages of a Region's RUNNING instances a cell stays unproven, and
                // while the pages do not move it stays there round after round, RUNNING on
                // screen until the full read comes by: each is asked about alone, a few a round.
                let asked = doubtful.into_iter().take(DOUBTFUL_PER_ROUND).map(|key| async move {
                    self.limiter.acquire().await;
                    let detail = self
                        .apis
                        .get(region)
                        .ok()?
                        .describe_instance(stack_set, &key.0, &key.1, self.call_as_for(region, stack_set))
                        .await
                        .ok()?;
                    let ended = detail.last_operation_id.as_deref() == Some(operation_id)
                        && detail.detailed_status.as_deref() != Some(ResultStatus::Running.as_str());
                    ended.then_some(key)
                });
                check
                    .gone
                    .extend(futures::future::join_all(asked).await.into_iter().flatten());
                check
            }
            Err(error) => {
                if !error.is_transient() {
                    // No permission, say: the result list alone goes on, as before.
                    memory.instance_checks = false;
                    tracing::info!(stack_set, %error, "stack instances not readable; RUNNING is judged by the result list alone");
                }
                RunningCheck::default()
            }
        }
    }

    /// `read_instances`, checked against the result list's first page: each of its results must
    /// be an instance that names the operation. (`read_instances` itself gives up where an
    /// instance names another operation: a CREATE over existing instances leaves them naming
    /// the earlier one until their deployment starts, in the emulator. This check covers
    /// results that have no instance at all yet.)
    async fn read_instances_checked(
        &self,
        generation: u64,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        regions: &[String],
        memory: &ScopeMemory,
    ) -> Result<usize, ApiError> {
        let api = self.apis.get(region)?;
        let call_as = self.call_as_for(region, stack_set);
        let sample: HashSet<Key> = self
            .page_with_retries(|| api.list_results(stack_set, operation_id, call_as, None, None))
            .await?
            .items
            .iter()
            .map(key_of)
            .collect();
        let found = std::sync::Mutex::new(HashSet::new());
        let target = (region, stack_set, operation_id);
        let cells = self
            .read_instances(generation, target, regions, memory, &|key| {
                if sample.contains(key) {
                    found.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone());
                }
            })
            .await?;
        let found = found.into_inner().unwrap_or_else(|p| p.into_inner()).len();
        if found < sample.len() {
            return Err(ApiError::new(
                ErrorKind::Other,
                format!(
                    "{} of the result list's first {} results are no instance naming the operation",
                    sample.len() - found,
                    sample.len()
                ),
            ));
        }
        Ok(cells)
    }

    /// The first complete grid from the stack instances: one ListStackInstances chain per
    /// Region, all at once, each given up (and with it the read) at the first instance that does
    /// not name this operation as its last. A
    /// Region's instances are a fixed set in a fixed order, so each chain sees each cell once,
    /// in a status it held when its page was read. Pages are sent as they come, but for the
    /// RUNNING cells, which the incremental read after it sends; returns how many cells it saw.
    async fn read_instances(
        &self,
        generation: u64,
        (region, stack_set, operation_id): (&str, &str, &str),
        regions: &[String],
        memory: &ScopeMemory,
        seen: &(dyn Fn(&Key) + Sync),
    ) -> Result<usize, ApiError> {
        let api = self.apis.get(region)?;
        let call_as = self.call_as_for(region, stack_set);
        let chains = regions.iter().map(|instance_region| {
            // Every instance of the Region, not only those naming the operation: one that names
            // another may be a target not reached yet (a CREATE over existing instances leaves
            // them so, in the emulator), and the grid would be complete with part of the total.
            // The instances prove the total only where every one of them names the operation.
            let query = InstanceQuery {
                region: Some(instance_region.clone()),
                ..Default::default()
            };
            async move {
                let mut cells = 0;
                let mut token = None;
                loop {
                    let page = self
                        .page_with_retries(|| api.list_instances(stack_set, call_as, &query, token.clone()))
                        .await?;
                    if let Some(other) = page
                        .items
                        .iter()
                        .find(|instance| instance.last_operation_id.as_deref() != Some(operation_id))
                    {
                        return Err(ApiError::new(
                            ErrorKind::Other,
                            format!(
                                "stack instance {}/{} names operation {} as its last, not this one",
                                other.account,
                                other.region,
                                other.last_operation_id.as_deref().unwrap_or("(none)")
                            ),
                        ));
                    }
                    let results = results_of_instances(&page.items)?;
                    cells += results.len();
                    results.iter().for_each(|result| seen(&key_of(result)));
                    // RUNNING ones wait for the incremental read that follows (see
                    // `start_full_read`); the grid is complete once it has sent them.
                    self.send_page(generation, results, true, &memory.seen_running);
                    token = page.next_token;
                    if token.is_none() {
                        break;
                    }
                }
                // The Region's RUNNING now, for the incremental read that follows: a deployment
                // that started after its page was read and ends before that read would be seen
                // by neither, and its cell would stay PENDING until the result list's read came
                // by. (One that starts and ends within the chain is still missed.) Only a read of
                // one page, a snapshot: over several, a cell seen on the first may end and be
                // believed RUNNING until the result list's order can prove it ended.
                if let Ok(reads) = self
                    .read_running_instances(region, stack_set, operation_id, std::slice::from_ref(instance_region))
                    .await
                {
                    let running: Vec<OperationResult> = reads
                        .into_iter()
                        .filter(|(_, read)| read.pages.len() <= 1)
                        .flat_map(|(_, read)| read.pages.into_iter().flatten())
                        .collect();
                    memory
                        .seen_running
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .seen
                        .extend(running);
                }
                Ok::<_, ApiError>(cells)
            }
        });
        // Each Region's chain sees each of its cells once, and the Regions do not overlap.
        let cells: usize = futures::future::try_join_all(chains).await?.into_iter().sum();
        if cells == 0 {
            // Nothing names this operation: the instances do not follow it here, so the
            // result list is the only record.
            return Err(ApiError::new(
                ErrorKind::Other,
                "no stack instance names the operation as its last",
            ));
        }
        Ok(cells)
    }

    /// RUNNING instances of the operation, one chain per Region, all at once.
    async fn read_running_instances(
        &self,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        regions: &[String],
    ) -> Result<Vec<(Option<String>, RunningRead)>, ApiError> {
        let api = self.apis.get(region)?;
        let call_as = self.call_as_for(region, stack_set);
        let chains = regions.iter().map(|instance_region| {
            let query = InstanceQuery {
                detailed_status: Some(ResultStatus::Running.as_str().to_string()),
                last_operation: Some(operation_id.to_string()),
                region: Some(instance_region.clone()),
            };
            async move {
                let mut read = RunningRead::default();
                let mut token = None;
                loop {
                    self.limiter.acquire().await;
                    let page = api.list_instances(stack_set, call_as, &query, token).await?;
                    read.pages.push(results_of_instances(&page.items)?);
                    token = page.next_token;
                    if token.is_none() {
                        return Ok::<_, ApiError>((Some(instance_region.clone()), read));
                    }
                }
            }
        });
        futures::future::try_join_all(chains).await
    }

    /// One page of a long read, under the limiter. A transient failure (throttling that outlasted
    /// the SDK's own retries, a timeout, a dropped connection) is asked again after a pause
    /// that doubles, up to `PAGE_RETRIES` times (throttling without limit), so a read of
    /// hundreds of pages is not lost to one bad answer and started over; anything else ends it.
    async fn page_with_retries<T, F, Fut>(&self, mut call: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let mut pause = PAGE_RETRY_PAUSE;
        let mut retries = 0;
        loop {
            self.limiter.acquire().await;
            match call().await {
                // Throttling is the service asking for a slower pace, which the limiter has
                // already taken: asked again however often. Other transient failures end the
                // read after a few tries.
                Err(error)
                    if error.kind == ErrorKind::Throttled || (error.is_transient() && retries < PAGE_RETRIES) =>
                {
                    retries += 1;
                    tracing::debug!(%error, retries, "a page of a long read failed; asking again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(PAGE_RETRY_PAUSE_MAX);
                }
                answer => return answer,
            }
        }
    }

    /// Page through one status class; returns the pages (the caller sends them, with what it
    /// concluded from them, in one message).
    async fn read_class(
        &self,
        region: &str,
        stack_set: &str,
        operation_id: &str,
        status: ResultStatus,
    ) -> Result<Vec<Vec<OperationResult>>, ApiError> {
        let mut token = None;
        let mut pages = Vec::new();
        loop {
            self.limiter.acquire().await;
            let page = self
                .apis
                .get(region)?
                .list_results(
                    stack_set,
                    operation_id,
                    self.call_as_for(region, stack_set),
                    Some(status),
                    token,
                )
                .await?;
            pages.push(page.items);
            token = page.next_token;
            if token.is_none() {
                return Ok(pages);
            }
        }
    }
}

/// The Regions to read a running operation's instances in: where its stack set has instances,
/// and those its preferences name. None for a DELETE (its instances vanish as they succeed)
/// or a drift check (it leaves the instances' last operation as it was).
fn instance_read_regions(operation: &crate::model::Operation, stack_set_regions: &[String]) -> Vec<String> {
    use crate::model::OperationAction;
    if !matches!(operation.action, OperationAction::Create | OperationAction::Update) {
        return Vec::new();
    }
    let mut regions: Vec<String> = operation.preferences.region_order.clone();
    for region in stack_set_regions {
        if !regions.contains(region) {
            regions.push(region.clone());
        }
    }
    regions
}

fn results_of_instances(instances: &[crate::model::StackInstance]) -> Result<Vec<OperationResult>, ApiError> {
    instances
        .iter()
        .map(|instance| {
            instance.as_result().ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Other,
                    format!(
                        "stack instance {}/{} has a DetailedStatus this build does not know: {:?}",
                        instance.account, instance.region, instance.detailed_status
                    ),
                )
            })
        })
        .collect()
}

/// An incremental read that failed leaves what it took for the next try: the cells believed
/// RUNNING, and the ended ones a full read held back.
fn restore_unsettled(
    memory: &mut ScopeMemory,
    before: HashMap<Key, OperationResult>,
    seen_ended: Vec<OperationResult>,
) {
    memory.running = before;
    memory
        .seen_running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .seen
        .extend(seen_ended);
}

/// What full reads saw that waits for the next incremental read, which sends it with what it
/// concludes, in one message.
#[derive(Default)]
struct Sightings {
    /// RUNNING cells, and ended cells that were believed RUNNING.
    seen: Vec<OperationResult>,
    /// The cells the last incremental read left believed RUNNING.
    believed_running: HashSet<Key>,
    /// An incremental read has declared the grid complete.
    grid_complete: bool,
}

/// Whether a request waits for the polling pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paced {
    Yes,
    No,
}

/// What a check of RUNNING against the Regions' instances proved: cells no longer RUNNING, and
/// RUNNING cells the result list's pages missed.
#[derive(Default)]
struct RunningCheck {
    gone: HashSet<Key>,
    started: Vec<OperationResult>,
}

/// Where a Region's RUNNING instances over several pages cannot prove an absence: between one
/// page's last account and the next page's first, where a page shifted by instances leaving
/// RUNNING may have skipped one. Anywhere else a missing cell was not RUNNING when its stretch
/// was read, provided the service lists them in account order, which the read itself must show
/// (every account after the one before; a page shifted the other way repeats one): None if not,
/// or if one of several pages is empty (what it stood for is unknown). One page has no gaps.
fn gaps_by_account(read: &RunningRead) -> Option<Vec<(String, String)>> {
    if read.pages.len() > 1 && read.pages.iter().any(Vec::is_empty) {
        return None;
    }
    let mut accounts = read.results().map(|r| r.account.as_str());
    let mut last = accounts.next();
    for account in accounts {
        if last.is_some_and(|last| account < last) {
            return None;
        }
        last = Some(account);
    }
    Some(
        read.pages
            .windows(2)
            .filter_map(|pair| Some((pair[0].last()?.account.clone(), pair[1].first()?.account.clone())))
            .collect(),
    )
}

/// How many cells each Region holds, from the result list's order.
fn cells_per_region(positions: Option<&HashMap<Key, u32>>) -> HashMap<&str, usize> {
    let mut sizes = HashMap::new();
    for (_, region) in positions.into_iter().flat_map(HashMap::keys) {
        *sizes.entry(region.as_str()).or_default() += 1;
    }
    sizes
}

/// Results believed RUNNING, by Region (`by_region`), or all under None.
fn split_by_region(
    running: HashMap<Key, OperationResult>,
    by_region: bool,
) -> HashMap<Option<String>, HashMap<Key, OperationResult>> {
    let mut split: HashMap<Option<String>, HashMap<Key, OperationResult>> = HashMap::new();
    for (key, result) in running {
        let at = by_region.then(|| key.1.clone());
        split.entry(at).or_default().insert(key, result);
    }
    split
}

/// Once the result list has been read whole, the instance read it replaced is checked against
/// it: a cell only the list holds means the instances did not follow this operation (another
/// operation touched them since, or the service reports them otherwise), which the log says.
fn check_instance_read(memory: &mut ScopeMemory) {
    let (InstanceRead::Used { cells, .. }, Some(positions)) = (&mut memory.instance_read, &memory.positions) else {
        return;
    };
    let Some(from_instances) = cells.take() else {
        return;
    };
    if positions.len() > from_instances {
        tracing::warn!(
            from_instances,
            listed = positions.len(),
            "the stack instances missed results the result list holds; the grid has them now"
        );
    }
}

/// How a full read goes: the time between its pages (None: as fast as the limiter allows), and
/// whether what it sees RUNNING waits for the next incremental read.
struct FullReadPace {
    pace: Option<Duration>,
    withhold_running: bool,
    /// Ends with a `Full` marker (the first read from the result list leaves that to the
    /// incremental read after it).
    announce_full: bool,
}

/// The full read in flight; aborted when the scope's memory goes (a new scope, a quit).
struct FullTask(Option<JoinHandle<Result<FullRead, ApiError>>>);

impl FullTask {
    fn is_finished(&self) -> bool {
        self.0.as_ref().is_some_and(|task| task.is_finished())
    }

    /// The read's result; None if it was aborted or panicked.
    async fn join(mut self) -> Option<Result<FullRead, ApiError>> {
        self.0.take()?.await.ok()
    }

    /// Stops the read and waits until it has stopped.
    async fn cancel(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for FullTask {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
