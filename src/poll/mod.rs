//! The poller: the only task that calls CloudFormation. It keeps the scope on screen fresh at a
//! cadence that fits it, spends few requests doing so, and sends owned results back as `Msg`s.
//! Stop requests take their own lane: they never wait behind polling or the request ceiling.

mod limiter;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use limiter::RateLimiter;

use crate::api::audit::{self, StopAttempt};
use crate::api::{ApiError, ErrorKind, StackSetApi};
use crate::app::{Command, Msg, ReadKind, Scope, StopRequest};
use crate::model::{CallAs, OperationResult, ResultStatus};

/// Pages of operations read for one stack set's list; older history is rarely wanted live.
const OPERATION_LIST_PAGES: usize = 3;

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
    /// A full re-read of a running operation every this many polls; incremental reads between.
    pub full_read_every: u32,
    /// Cap on transient-error backoff.
    pub max_backoff: Duration,
    /// Read-only by flag or config: the stop lane refuses, behind the dialog's own check.
    pub read_only: bool,
    /// Where calls go and as whom, for the audit line of a stop: the Region, the endpoint (None:
    /// AWS's own) and the profile (None: aws-config's default chain).
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub profile: Option<String>,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            call_as: CallAs::SelfAccount,
            active_interval: Duration::from_secs(5),
            idle_interval: Duration::from_secs(30),
            checks_per_round: 10,
            full_read_every: 12,
            max_backoff: Duration::from_secs(60),
            read_only: false,
            region: None,
            endpoint: None,
            profile: None,
        }
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
    api: Arc<A>,
    config: PollConfig,
    limiter: Arc<RateLimiter>,
    messages: UnboundedSender<Msg>,
) -> (PollerHandle, JoinHandle<()>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let poller = Poller {
        api,
        config,
        limiter,
        messages,
        own: tx.clone(),
        call_as_of: Default::default(),
        error_log: Default::default(),
    };
    let task = tokio::spawn(poller.run(rx));
    (PollerHandle { commands: tx }, task)
}

struct Poller<A> {
    api: Arc<A>,
    config: PollConfig,
    limiter: Arc<RateLimiter>,
    messages: UnboundedSender<Msg>,
    /// Lets the stop lane ask for a refresh once its request has landed.
    own: UnboundedSender<Command>,
    /// The CallAs each stack set was listed under; every later call about it uses the same.
    call_as_of: std::sync::Mutex<HashMap<String, CallAs>>,
    error_log: std::sync::Mutex<ErrorLog>,
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
    /// Overview: when each stack set's latest operation was last checked.
    checked: HashMap<String, Instant>,
    /// Overview: stack sets last seen with an active operation; checked every round.
    active: HashSet<String>,
    /// Overview: the list of stack sets and when it was read.
    stack_sets: Vec<String>,
    listed_at: Option<Instant>,
    /// Operations list: the permission model is read once.
    described: bool,
    /// Operation: a full read has completed.
    have_full: bool,
    /// Operation: incremental rounds since the last full read.
    since_full: u32,
    /// Operation: results seen RUNNING in the last read, for inferring what finished.
    running: HashMap<(String, String), OperationResult>,
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
                        let watching = matches!(&scope, Some((Scope::Operation { stack_set, operation_id }, _))
                            if *stack_set == request.stack_set && *operation_id == request.operation_id);
                        tokio::spawn(Arc::clone(&this).stop(request, watching.then_some(generation)));
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

    fn call_as_for(&self, stack_set: &str) -> CallAs {
        let call_as_of = self.call_as_of.lock().unwrap_or_else(|p| p.into_inner());
        call_as_of.get(stack_set).copied().unwrap_or(self.config.call_as)
    }

    async fn list_all_stack_sets(&self, call_as: CallAs) -> Result<Vec<crate::model::StackSetSummary>, ApiError> {
        crate::api::all_pages(|token| async move {
            self.limiter.acquire().await;
            self.api.list_stack_sets(call_as, token).await
        })
        .await
    }

    fn backoff(&self, failures: u32) -> Duration {
        let base = self.config.active_interval.as_secs_f64().max(1.0);
        let secs = base * 2f64.powi(failures.min(8) as i32 - 1);
        Duration::from_secs_f64(secs).min(self.config.max_backoff)
    }

    fn send(&self, msg: Msg) {
        let _ = self.messages.send(msg);
    }

    fn failed(&self, generation: u64, error: ApiError) -> RoundOutcome {
        let transient = error.is_transient();
        let write = self.lock_error_log().note(&error, Instant::now());
        if let Some(repeats) = write {
            tracing::warn!(
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
            at: OffsetDateTime::now_utc(),
        });
        if transient {
            RoundOutcome::Failed
        } else {
            // Not worth hammering (access denied, not found...), but credentials can come back.
            RoundOutcome::Retry(self.config.idle_interval)
        }
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
        let result = if self.config.read_only {
            Err(ApiError::new(
                ErrorKind::ReadOnly,
                "read-only is set: StopStackSetOperation was not sent",
            ))
        } else {
            self.api
                .stop_operation(&request.stack_set, &request.operation_id, request.call_as)
                .await
                .map(|accepted| accepted.request_id)
        };
        let attempt = StopAttempt {
            origin: "dashboard",
            stack_set: &request.stack_set,
            operation_id: &request.operation_id,
            call_as: request.call_as,
            region: self.config.region.as_deref(),
            endpoint: self.config.endpoint.as_deref(),
            profile: self.config.profile.as_deref(),
        };
        audit::stop(&attempt, result.as_ref().map(|id| id.as_deref()));
        let sent = result.is_ok();
        self.send(Msg::StopFinished {
            request: request.clone(),
            result,
        });
        if let (true, Some(generation)) = (sent, watching_generation) {
            if let Ok(operation) = self
                .api
                .describe_operation(&request.stack_set, &request.operation_id, request.call_as)
                .await
            {
                self.send(Msg::OperationDescribed {
                    generation,
                    operation,
                    at: OffsetDateTime::now_utc(),
                });
            }
            let _ = self.own.send(Command::RefreshNow);
        }
    }

    async fn round(self: Arc<Self>, scope: Scope, generation: u64, memory: ScopeMemory) -> Round {
        match scope {
            Scope::StackSets => self.overview_round(generation, memory).await,
            Scope::Operations { stack_set } => self.operations_round(generation, &stack_set, memory).await,
            Scope::Operation {
                stack_set,
                operation_id,
            } => {
                self.operation_round(generation, &stack_set, &operation_id, memory)
                    .await
            }
        }
    }

    /// The overview: the list of stack sets at the idle cadence, and each round the latest
    /// operation of a capped number of stack sets (active ones always, then the stalest).
    async fn overview_round(&self, generation: u64, mut memory: ScopeMemory) -> Round {
        let list_due = memory
            .listed_at
            .is_none_or(|at| at.elapsed() >= self.config.idle_interval);
        if list_due {
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
                match self.list_all_stack_sets(call_as).await {
                    Ok(found) => {
                        any_ok = true;
                        let mut call_as_of = self.call_as_of.lock().unwrap_or_else(|p| p.into_inner());
                        for summary in &found {
                            call_as_of.insert(summary.name.clone(), call_as);
                        }
                        summaries.extend(found);
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            if let (false, Some(error)) = (any_ok, last_error) {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
            summaries.sort_by(|a, b| a.name.cmp(&b.name));
            summaries.dedup_by(|a, b| a.name == b.name);
            // The stop dialog starts on the CallAs every other call about the stack set uses.
            for summary in &mut summaries {
                summary.listed_as = Some(self.call_as_for(&summary.name));
            }
            memory.stack_sets = summaries.iter().map(|s| s.name.clone()).collect();
            self.send(Msg::StackSets {
                generation,
                result: Ok(summaries),
                at: OffsetDateTime::now_utc(),
            });
            memory.listed_at = Some(Instant::now());
        }
        let mut due: Vec<String> = memory
            .stack_sets
            .iter()
            .filter(|n| memory.active.contains(*n))
            .cloned()
            .collect();
        let mut idle: Vec<&String> = memory
            .stack_sets
            .iter()
            .filter(|n| !memory.active.contains(*n))
            .collect();
        idle.sort_by_key(|n| memory.checked.get(*n).copied());
        let room = self.config.checks_per_round.saturating_sub(due.len());
        due.extend(idle.into_iter().take(room).cloned());
        for name in due {
            self.limiter.acquire().await;
            match self.api.list_operations(&name, self.call_as_for(&name), 10, None).await {
                Ok(page) => {
                    let active = page.items.iter().any(|op| op.status.is_active());
                    let latest = page.items.into_iter().max_by_key(|op| op.created);
                    if active {
                        memory.active.insert(name.clone());
                    } else {
                        memory.active.remove(&name);
                    }
                    memory.checked.insert(name.clone(), Instant::now());
                    self.send(Msg::StackSetChecked {
                        generation,
                        stack_set: name,
                        latest,
                        active,
                        at: OffsetDateTime::now_utc(),
                    });
                }
                Err(error) if error.is_transient() => {
                    let outcome = self.failed(generation, error);
                    return Round { memory, outcome };
                }
                // One stack set we may not read must not hold up the others.
                Err(error) => tracing::debug!(stack_set = name, %error, "latest operation not readable"),
            }
        }
        let outcome = RoundOutcome::Again(if memory.active.is_empty() {
            self.config.active_interval.max(Duration::from_secs(10))
        } else {
            self.config.active_interval
        });
        Round { memory, outcome }
    }

    async fn operations_round(&self, generation: u64, stack_set: &str, mut memory: ScopeMemory) -> Round {
        let call_as = self.call_as_for(stack_set);
        if !memory.described {
            self.limiter.acquire().await;
            match self.api.describe_stack_set(stack_set, call_as).await {
                Ok(detail) => {
                    memory.described = true;
                    if let Some(model) = detail.summary.permission_model {
                        self.send(Msg::PermissionModel {
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
            match self.api.list_operations(stack_set, call_as, 100, token).await {
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
            stack_set: stack_set.to_string(),
            result: Ok(operations),
            at: OffsetDateTime::now_utc(),
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

    /// One round of the watched operation: describe it, read its results (all classes, or
    /// only the ones that change), infer what finished, and say when to come back.
    async fn operation_round(
        &self,
        generation: u64,
        stack_set: &str,
        operation_id: &str,
        mut memory: ScopeMemory,
    ) -> Round {
        let first = !memory.have_full;
        let (described, early_reads) = self
            .describe_and_first_read(generation, stack_set, operation_id, first)
            .await;
        let operation = match described {
            Ok(operation) => operation,
            Err(error) => {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
        };
        let active = operation.status.is_active();
        // An ended operation gets one exact read; a running one a full read now and then, and
        // between them only the classes that change, with what finished inferred.
        let full = first || !active || memory.since_full + 1 >= self.config.full_read_every;
        let outcomes = match early_reads {
            Some(reads) => reads,
            None => {
                let classes: &[ResultStatus] = if full {
                    ResultStatus::ALL
                } else {
                    &[ResultStatus::Running, ResultStatus::Failed, ResultStatus::Cancelled]
                };
                self.read_classes(generation, stack_set, operation_id, classes, !full)
                    .await
            }
        };
        let inferred = match absorb_reads(&mut memory, outcomes, full) {
            Ok(inferred) => inferred,
            Err(error) => {
                let outcome = self.failed(generation, error);
                return Round { memory, outcome };
            }
        };
        let read = if full { ReadKind::Full } else { ReadKind::Incremental };
        self.send(Msg::ResultsPage {
            generation,
            results: inferred,
            read,
            at: OffsetDateTime::now_utc(),
        });
        let outcome = if active {
            RoundOutcome::Again(self.config.active_interval)
        } else {
            RoundOutcome::Done
        };
        Round { memory, outcome }
    }

    /// DescribeStackSetOperation, sent to the screen as soon as it answers. The first read is
    /// full whatever the status, so it starts beside the describe: rows appear after one round
    /// trip. Returns the describe and, on the first round, that read.
    async fn describe_and_first_read(
        &self,
        generation: u64,
        stack_set: &str,
        operation_id: &str,
        first: bool,
    ) -> (
        Result<crate::model::Operation, ApiError>,
        Option<Vec<Result<ClassRead, ApiError>>>,
    ) {
        let call_as = self.call_as_for(stack_set);
        let describe = async {
            self.limiter.acquire().await;
            let described = self.api.describe_operation(stack_set, operation_id, call_as).await;
            if let Ok(operation) = &described {
                self.send(Msg::OperationDescribed {
                    generation,
                    operation: operation.clone(),
                    at: OffsetDateTime::now_utc(),
                });
            }
            described
        };
        if first {
            let reads = self.read_classes(generation, stack_set, operation_id, ResultStatus::ALL, false);
            let (described, reads) = tokio::join!(describe, reads);
            (described, Some(reads))
        } else {
            (describe.await, None)
        }
    }

    /// Read several status classes at once, each its own paging chain.
    async fn read_classes(
        &self,
        generation: u64,
        stack_set: &str,
        operation_id: &str,
        classes: &[ResultStatus],
        keep_keys: bool,
    ) -> Vec<Result<ClassRead, ApiError>> {
        let reads = classes
            .iter()
            .map(|status| self.read_class(generation, stack_set, operation_id, *status, keep_keys));
        futures::future::join_all(reads).await
    }

    /// Page through one status class, sending each page as it arrives so rows appear at once.
    /// Keeps only what the inference needs: the RUNNING results, and the keys seen when asked.
    async fn read_class(
        &self,
        generation: u64,
        stack_set: &str,
        operation_id: &str,
        status: ResultStatus,
        keep_keys: bool,
    ) -> Result<ClassRead, ApiError> {
        let mut token = None;
        let mut read = ClassRead::default();
        loop {
            self.limiter.acquire().await;
            let page = self
                .api
                .list_results(
                    stack_set,
                    operation_id,
                    self.call_as_for(stack_set),
                    Some(status),
                    token,
                )
                .await?;
            for result in &page.items {
                if keep_keys {
                    read.keys.push((result.account.clone(), result.region.clone()));
                }
                if result.status == ResultStatus::Running {
                    read.running.push(result.clone());
                }
            }
            self.send(Msg::ResultsPage {
                generation,
                results: page.items,
                read: ReadKind::Partial,
                at: OffsetDateTime::now_utc(),
            });
            token = page.next_token;
            if token.is_none() {
                return Ok(read);
            }
        }
    }
}

/// Folds a round's class reads into the scope's memory: the results now RUNNING (for the next
/// inference) and, after an incremental read, the results inferred SUCCEEDED. Results only move
/// forward, so one that was RUNNING and is in no class read (RUNNING, FAILED, CANCELLED) can only
/// have succeeded. The first failed read fails the round and leaves the memory as it was.
fn absorb_reads(
    memory: &mut ScopeMemory,
    outcomes: Vec<Result<ClassRead, ApiError>>,
    full: bool,
) -> Result<Vec<OperationResult>, ApiError> {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut running = HashMap::new();
    for outcome in outcomes {
        let read = outcome?;
        seen.extend(read.keys);
        running.extend(
            read.running
                .into_iter()
                .map(|r| ((r.account.clone(), r.region.clone()), r)),
        );
    }
    let mut inferred = Vec::new();
    if !full {
        for (key, mut result) in std::mem::take(&mut memory.running) {
            if !seen.contains(&key) {
                result.status = ResultStatus::Succeeded;
                result.status_reason = None;
                inferred.push(result);
            }
        }
    }
    memory.running = running;
    if full {
        memory.have_full = true;
        memory.since_full = 0;
    } else {
        memory.since_full += 1;
    }
    Ok(inferred)
}

/// What one status class's read leaves for the inference.
#[derive(Default)]
struct ClassRead {
    keys: Vec<(String, String)>,
    running: Vec<OperationResult>,
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
