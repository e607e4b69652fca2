//! The rollout engine: stack sets, their operations and per-account×Region results, moved along
//! an explicit clock (`advance_to`). No I/O and no wall clock here, so every rule is unit-testable.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    CallAs, ConcurrencyMode, GateStatus, OperationAction, OperationPreferences, OperationResult, OperationStatus,
    PermissionModel, RegionConcurrency, ResultStatus, StackSetStatus,
};

use super::error::SimError;

/// Simulated time: milliseconds since the Unix epoch.
pub type Millis = i64;

/// Reason AWS gives results that never started because a Region exceeded its tolerance.
pub const TOLERANCE_CANCEL_REASON: &str = "Cancelled since failure tolerance has exceeded";
/// Reason given to results that never started because someone stopped the operation.
pub const STOP_CANCEL_REASON: &str = "Cancelled since the operation was stopped";
/// Reason CloudFormation writes for a deployment skipped because its account is suspended.
pub const SUSPENDED_REASON: &str =
    "This account is suspended. To remove this instance from the stack set, run DeleteStackInstances with the RetainStacks parameter.";

#[derive(Debug, Clone)]
pub struct Ou {
    pub id: String,
    pub name: String,
    pub accounts: Vec<String>,
}

/// The emulated AWS Organization: who can be deployed to, and where.
#[derive(Debug, Clone)]
pub struct Organization {
    pub management_account: String,
    pub regions: Vec<String>,
    pub ous: Vec<Ou>,
    /// Suspended accounts: deployments to them are skipped (SKIPPED_SUSPENDED_ACCOUNT).
    pub suspended: Vec<String>,
}

impl Default for Organization {
    /// A small organization to create stack sets into when no scenario is given.
    fn default() -> Self {
        let ou = |id: &str, name: &str, first: u64, n: u64| Ou {
            id: id.to_string(),
            name: name.to_string(),
            accounts: (first..first + n).map(|a| format!("{a:012}")).collect(),
        };
        Organization {
            management_account: "111111111111".to_string(),
            regions: [
                "us-east-1",
                "us-east-2",
                "us-west-2",
                "eu-west-1",
                "eu-central-1",
                "ap-southeast-2",
            ]
            .map(String::from)
            .to_vec(),
            ous: vec![
                ou("ou-r00t-security", "Security", 200000000001, 3),
                ou("ou-r00t-workload", "Workloads", 300000000001, 6),
                ou("ou-r00t-sandboxe", "Sandbox", 400000000001, 3),
                ou("ou-r00t-suspendd", "Suspended", 999000000001, 2),
            ],
            suspended: vec!["999000000001".to_string(), "999000000002".to_string()],
        }
    }
}

impl Organization {
    pub fn ou(&self, id: &str) -> Option<&Ou> {
        self.ous.iter().find(|o| o.id == id)
    }

    pub fn is_suspended(&self, account: &str) -> bool {
        self.suspended.iter().any(|a| a == account)
    }

    pub fn ou_of(&self, account: &str) -> Option<&str> {
        self.ous
            .iter()
            .find(|o| o.accounts.iter().any(|a| a == account))
            .map(|o| o.id.as_str())
    }
}

/// Which results a rule applies to; empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub accounts: Vec<String>,
    pub ous: Vec<String>,
    pub regions: Vec<String>,
    pub actions: Vec<OperationAction>,
}

impl Matcher {
    fn matches(&self, account: &str, ou: Option<&str>, region: &str, action: OperationAction) -> bool {
        (self.accounts.is_empty() || self.accounts.iter().any(|a| a == account))
            && (self.ous.is_empty() || ou.is_some_and(|o| self.ous.iter().any(|x| x == o)))
            && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
            && (self.actions.is_empty() || self.actions.contains(&action))
    }
}

/// Deployments matching this fail with `reason` (with probability `rate`).
#[derive(Debug, Clone)]
pub struct FailureRule {
    pub matcher: Matcher,
    pub rate: f64,
    /// May hold `{account}`, `{region}`, `{stack_set}`.
    pub reason: String,
}

/// The account gate answers `status` for the matching account×Regions.
#[derive(Debug, Clone)]
pub struct GateRule {
    pub matcher: Matcher,
    pub status: GateStatus,
    pub reason: Option<String>,
}

/// How long a deployment takes, in simulated milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub deploy_ms: u32,
    pub jitter_ms: u32,
    /// How long a failing account gate takes to answer.
    pub gate_ms: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            deploy_ms: 30_000,
            jitter_ms: 12_000,
            gate_ms: 3_000,
        }
    }
}

/// Failure, gate and timing rules: global, per stack set, or per operation.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub failures: Vec<FailureRule>,
    pub gates: Vec<GateRule>,
    pub timing: Option<Timing>,
}

/// A stack instance's Status, as the User Guide defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// In sync with the stack set.
    Current,
    /// Being deployed, or its last deployment failed, was cancelled or skipped.
    Outdated,
    /// A DeleteStackInstances failed and left the stack unstable; UpdateStackSet leaves it out.
    Inoperable,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Current => "CURRENT",
            InstanceStatus::Outdated => "OUTDATED",
            InstanceStatus::Inoperable => "INOPERABLE",
        }
    }
}

/// StackInstanceStatus.DetailedStatus: a result's status plus the states only instances have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailedStatus {
    Result(ResultStatus),
    Inoperable,
    SkippedSuspendedAccount,
    /// In the model for imports, which the emulator does not perform; accepted as a filter.
    FailedImport,
}

impl DetailedStatus {
    /// Every wire value, in the service model's order.
    pub const ALL: [&'static str; 8] = [
        "PENDING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "INOPERABLE",
        "SKIPPED_SUSPENDED_ACCOUNT",
        "FAILED_IMPORT",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DetailedStatus::Result(r) => r.as_str(),
            DetailedStatus::Inoperable => "INOPERABLE",
            DetailedStatus::SkippedSuspendedAccount => "SKIPPED_SUSPENDED_ACCOUNT",
            DetailedStatus::FailedImport => "FAILED_IMPORT",
        }
    }
}

/// One stack instance (account × Region) of a stack set.
#[derive(Debug, Clone)]
pub struct Instance {
    pub status: InstanceStatus,
    /// The StackInstanceStatus.DetailedStatus, which follows the last operation's result.
    pub detailed: DetailedStatus,
    pub reason: Option<String>,
    pub ou: Option<String>,
    pub stack_id: Option<String>,
    pub last_operation: Arc<str>,
    /// What the last drift detection found, and when; None answers NOT_CHECKED. The emulator
    /// runs no detection: scenarios set it (`[[stack_sets.drift]]`), and deployments leave it
    /// as it was, since only a detection changes what it reports.
    pub drift: Option<(DriftStatus, Millis)>,
}

/// A stack instance's DriftStatus after a detection (NOT_CHECKED is the absence of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriftStatus {
    Drifted,
    InSync,
    Unknown,
}

impl DriftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Drifted => "DRIFTED",
            DriftStatus::InSync => "IN_SYNC",
            DriftStatus::Unknown => "UNKNOWN",
        }
    }
}

impl Instance {
    /// The DriftStatus on the wire.
    pub fn drift_status(&self) -> &'static str {
        self.drift.map_or("NOT_CHECKED", |(status, _)| status.as_str())
    }
}

/// Instances by account, then Region: the order ListStackInstances returns them in.
pub type Instances = BTreeMap<String, BTreeMap<String, Instance>>;

/// What an account × Region will do once started, decided when the operation is created so
/// that a seed replays identically.
#[derive(Debug, Clone)]
struct Plan {
    duration_ms: u32,
    gate: GateStatus,
    gate_reason: Option<Arc<str>>,
    failure: Option<String>,
    /// The account is suspended: the deployment is skipped, not failed.
    suspended: bool,
}

/// One account × Region of an operation.
#[derive(Debug, Clone)]
pub struct ResultRec {
    pub account: String,
    pub region: u16,
    pub ou: Option<String>,
    pub status: ResultStatus,
    pub reason: Option<String>,
    /// Set once the gate has been consulted (when the deployment starts).
    pub gate: Option<GateStatus>,
    gate_reason: Option<Arc<str>>,
    plan: Plan,
}

impl ResultRec {
    /// The account gate's reason; the "no gate function" text is built on demand to save memory.
    pub fn gate_reason(&self, region: &str) -> Option<String> {
        match (self.gate, &self.gate_reason) {
            (_, Some(r)) => Some(r.to_string()),
            (Some(GateStatus::Skipped), None) => Some(format!(
                "Function not found: arn:aws:lambda:{region}:{}:function:AWSCloudFormationStackSetAccountGate",
                self.account
            )),
            _ => None,
        }
    }
}

/// Bookkeeping of one Region of an operation.
#[derive(Debug, Clone)]
struct RegionRun {
    pending: VecDeque<u32>,
    running: u32,
    failures: u32,
    max_concurrent: u32,
    tolerance: u32,
}

impl RegionRun {
    fn done(&self) -> bool {
        self.pending.is_empty() && self.running == 0
    }

    /// How many deployments may run at once now, given the failures so far.
    fn cap(&self, mode: ConcurrencyMode) -> u32 {
        match mode {
            ConcurrencyMode::SoftFailureTolerance => self.max_concurrent,
            ConcurrencyMode::StrictFailureTolerance => self
                .max_concurrent
                .min((self.tolerance + 1).saturating_sub(self.failures))
                .max(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// A Region exceeded its tolerance: no new deployments, ends FAILED.
    Failing,
    /// A user stopped it: no new deployments, ends STOPPED.
    Stopping,
}

/// The DeploymentTargets of the request, echoed by DescribeStackSetOperation.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub accounts: Vec<String>,
    pub ous: Vec<String>,
    pub account_filter_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: Arc<str>,
    pub action: OperationAction,
    pub status: OperationStatus,
    pub prefs: OperationPreferences,
    pub created: Millis,
    pub ended: Option<Millis>,
    pub status_reason: Option<String>,
    pub targets: Option<Targets>,
    /// Regions in execution order; results refer to them by index.
    pub regions: Vec<String>,
    pub results: Vec<ResultRec>,
    pub failed_count: u32,
    /// DELETE only: the request's RetainStacks.
    pub retain_stacks: Option<bool>,
    runs: Vec<RegionRun>,
    /// SEQUENTIAL: the Region now deploying.
    cursor: usize,
    /// Running deployments by finish time.
    heap: BinaryHeap<Reverse<(Millis, u32)>>,
    halt: Option<Halt>,
}

/// Rounds a percentage of `n` down, as AWS does.
pub fn percent_of(n: u32, pct: u32) -> u32 {
    ((u64::from(n) * u64::from(pct.min(100))) / 100) as u32
}

impl Operation {
    fn mode(&self) -> ConcurrencyMode {
        self.prefs
            .concurrency_mode
            .unwrap_or(ConcurrencyMode::StrictFailureTolerance)
    }

    fn sequential(&self) -> bool {
        self.prefs.region_concurrency != Some(RegionConcurrency::Parallel)
    }

    pub fn region_of(&self, r: &ResultRec) -> &str {
        &self.regions[usize::from(r.region)]
    }

    /// The result as the domain model (and the wire) sees it.
    pub fn result_view(&self, r: &ResultRec) -> OperationResult {
        let region = self.region_of(r);
        OperationResult {
            account: r.account.clone(),
            region: region.to_string(),
            status: r.status,
            status_reason: r.reason.clone(),
            gate_status: r.gate,
            gate_reason: r.gate_reason(region),
            ou: r.ou.clone(),
        }
    }

    /// Counts of results per status, for tests and logs.
    pub fn counts(&self) -> BTreeMap<ResultStatus, usize> {
        let mut m = BTreeMap::new();
        for r in &self.results {
            *m.entry(r.status).or_insert(0) += 1;
        }
        m
    }

    /// How many deployments run in each Region right now (for invariant checks).
    pub fn running_per_region(&self) -> Vec<u32> {
        self.runs.iter().map(|r| r.running).collect()
    }

    /// Brings result `i`'s stack instance in line with the result's new `status`.
    fn update_instance(&self, instances: &mut Instances, i: usize, status: ResultStatus) {
        let r = &self.results[i];
        let region = self.region_of(r);
        let delete = self.action == OperationAction::Delete;
        if delete && status == ResultStatus::Succeeded && !r.plan.suspended {
            if let Some(per_account) = instances.get_mut(&r.account) {
                per_account.remove(region);
                if per_account.is_empty() {
                    instances.remove(&r.account);
                }
            }
            return;
        }
        if let Some(inst) = instances.get_mut(&r.account).and_then(|m| m.get_mut(region)) {
            inst.detailed = DetailedStatus::Result(status);
            inst.last_operation = self.id.clone();
            match status {
                ResultStatus::Succeeded if r.plan.suspended => {
                    inst.status = InstanceStatus::Outdated;
                    inst.detailed = DetailedStatus::SkippedSuspendedAccount;
                    inst.reason = Some(SUSPENDED_REASON.to_string());
                }
                ResultStatus::Succeeded => {
                    inst.status = InstanceStatus::Current;
                    inst.reason = None;
                    if inst.stack_id.is_none() {
                        inst.stack_id = Some(format!(
                            "arn:aws:cloudformation:{region}:{}:stack/StackSet-{}/{}",
                            r.account,
                            &self.id[..self.id.len().min(8)],
                            uuid_like(&r.account, region)
                        ));
                    }
                }
                // The User Guide: a failed DeleteStackInstances leaves the stack INOPERABLE.
                ResultStatus::Failed if delete => {
                    inst.status = InstanceStatus::Inoperable;
                    inst.detailed = DetailedStatus::Inoperable;
                    inst.reason = r.reason.clone();
                }
                _ => {
                    inst.status = InstanceStatus::Outdated;
                    inst.reason = r.reason.clone();
                }
            }
        }
    }

    /// Begins (or resumes after a queue) the rollout at `now`.
    fn start(&mut self, now: Millis, instances: &mut Instances) {
        self.status = OperationStatus::Running;
        // As on AWS, every instance an UPDATE or DELETE will reach turns OUTDATED/PENDING under
        // the new operation as it starts, not only when its own deployment begins. (A CREATE's
        // new instances are already OUTDATED/PENDING.)
        if self.action != OperationAction::Create {
            for run in &self.runs {
                for &i in &run.pending {
                    self.update_instance(instances, i as usize, ResultStatus::Pending);
                }
            }
        }
        self.pump(now, instances);
    }

    /// Starts what may start at `now`, and ends the operation once nothing is left to do.
    fn pump(&mut self, now: Millis, instances: &mut Instances) {
        if self.halt.is_none() {
            if self.sequential() {
                while self.cursor < self.runs.len() {
                    self.fill(self.cursor, now, instances);
                    if self.runs[self.cursor].done() {
                        self.cursor += 1;
                    } else {
                        break;
                    }
                }
            } else {
                for r in 0..self.runs.len() {
                    self.fill(r, now, instances);
                }
            }
        }
        let finished = self.heap.is_empty() && (self.halt.is_some() || self.runs.iter().all(RegionRun::done));
        if finished && self.status.is_active() {
            self.ended = Some(now);
            self.status = match self.halt {
                Some(Halt::Failing) => OperationStatus::Failed,
                Some(Halt::Stopping) => OperationStatus::Stopped,
                None => OperationStatus::Succeeded,
            };
        }
    }

    fn fill(&mut self, r: usize, now: Millis, instances: &mut Instances) {
        let cap = self.runs[r].cap(self.mode());
        while self.runs[r].running < cap {
            let Some(i) = self.runs[r].pending.pop_front() else {
                break;
            };
            self.runs[r].running += 1;
            let rec = &mut self.results[i as usize];
            rec.status = ResultStatus::Running;
            rec.gate = Some(rec.plan.gate);
            rec.gate_reason = rec.plan.gate_reason.clone();
            let finish = now + Millis::from(rec.plan.duration_ms);
            self.heap.push(Reverse((finish, i)));
            self.update_instance(instances, i as usize, ResultStatus::Running);
        }
    }

    /// Completes one deployment at `at`.
    fn finish(&mut self, i: u32, at: Millis, instances: &mut Instances) {
        let idx = i as usize;
        let region = usize::from(self.results[idx].region);
        self.runs[region].running = self.runs[region].running.saturating_sub(1);
        let failure = self.results[idx].plan.failure.clone();
        let status = if self.results[idx].plan.suspended {
            // Skipped, which does not count toward the failure tolerance.
            self.results[idx].reason = Some(SUSPENDED_REASON.to_string());
            ResultStatus::Succeeded
        } else if let Some(reason) = failure {
            self.results[idx].reason = Some(reason);
            self.runs[region].failures += 1;
            self.failed_count += 1;
            if self.runs[region].failures > self.runs[region].tolerance && self.halt.is_none() {
                self.halt = Some(Halt::Failing);
                self.status_reason = Some(format!(
                    "The operation failed because the failure tolerance was exceeded in Region {}",
                    self.regions[region]
                ));
                self.cancel_pending(TOLERANCE_CANCEL_REASON, instances);
            }
            ResultStatus::Failed
        } else {
            ResultStatus::Succeeded
        };
        self.results[idx].status = status;
        self.update_instance(instances, idx, status);
        self.pump(at, instances);
    }

    fn cancel_pending(&mut self, reason: &str, instances: &mut Instances) {
        for r in 0..self.runs.len() {
            let pending = std::mem::take(&mut self.runs[r].pending);
            for i in pending {
                let rec = &mut self.results[i as usize];
                rec.status = ResultStatus::Cancelled;
                rec.reason = Some(reason.to_string());
                self.update_instance(instances, i as usize, ResultStatus::Cancelled);
            }
        }
    }

    /// Processes every deployment that finishes by `t`.
    fn advance(&mut self, t: Millis, instances: &mut Instances) {
        while let Some(&Reverse((at, i))) = self.heap.peek() {
            if at > t || !self.status.is_active() {
                break;
            }
            self.heap.pop();
            self.finish(i, at, instances);
        }
    }

    fn stop(&mut self, now: Millis, instances: &mut Instances) -> Result<(), SimError> {
        match self.status {
            OperationStatus::Running => {
                self.status = OperationStatus::Stopping;
                self.halt = Some(Halt::Stopping);
                self.status_reason = None;
                self.cancel_pending(STOP_CANCEL_REASON, instances);
                self.pump(now, instances);
                Ok(())
            }
            OperationStatus::Queued => {
                self.halt = Some(Halt::Stopping);
                self.cancel_pending(STOP_CANCEL_REASON, instances);
                self.status = OperationStatus::Stopped;
                self.ended = Some(now);
                Ok(())
            }
            // A repeated stop while the first is taking effect is harmless.
            OperationStatus::Stopping => Ok(()),
            ended => Err(SimError::invalid_operation(format!(
                "Operation {} cannot be stopped: it is {ended}",
                self.id
            ))),
        }
    }
}

/// A deterministic stack id suffix, so results replay identically.
fn uuid_like(account: &str, region: &str) -> String {
    let h = fnv64(format!("{account}/{region}").as_bytes());
    format!(
        "{:08x}-{:04x}-11ef-{:04x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xffff,
        h & 0xffff_ffff_ffff
    )
}

/// FNV-1a: a small stable hash (tokens, ids); not for secrets.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[derive(Debug, Clone)]
pub struct StackSet {
    pub name: String,
    pub id: String,
    pub status: StackSetStatus,
    pub permission_model: PermissionModel,
    pub description: Option<String>,
    pub template_body: String,
    pub parameters: Vec<(String, String)>,
    pub capabilities: Vec<String>,
    pub managed_execution: bool,
    pub auto_deployment: Option<(bool, bool)>,
    /// Key/value tags, in request order (set after creation by the API layer).
    pub tags: Vec<(String, String)>,
    /// Created by a delegated administrator: visible only with CallAs=DELEGATED_ADMIN.
    pub delegated_admin: bool,
    pub created: Millis,
    pub instances: Instances,
    /// In creation order.
    pub operations: Vec<Operation>,
    op_index: HashMap<Arc<str>, usize>,
    current: Option<usize>,
    queue: VecDeque<usize>,
    pub behaviour: Behaviour,
}

impl StackSet {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:cloudformation:us-east-1:{account}:stackset/{}", self.id)
    }

    /// The Regions the stack set has instances in, sorted.
    pub fn regions(&self) -> Vec<String> {
        let mut set: Vec<&String> = self.instances.values().flat_map(|m| m.keys()).collect();
        set.sort();
        set.dedup();
        set.into_iter().cloned().collect()
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.op_index.get(id).map(|&i| &self.operations[i])
    }

    /// The operation holding the stack set, if any.
    pub fn current_operation(&self) -> Option<&Operation> {
        self.current.map(|i| &self.operations[i])
    }

    fn advance_to(&mut self, t: Millis) {
        while let Some(cur) = self.current {
            let op = &mut self.operations[cur];
            op.advance(t, &mut self.instances);
            if op.status.is_active() {
                break;
            }
            let ended = op.ended.unwrap_or(t);
            self.current = None;
            while let Some(next) = self.queue.pop_front() {
                if self.operations[next].status == OperationStatus::Queued {
                    self.current = Some(next);
                    self.operations[next].start(ended, &mut self.instances);
                    break;
                }
            }
        }
    }
}

/// A target account and the OU it was reached through.
type AccountOu = (String, Option<String>);
/// What an operation targets: (account, OU) pairs, Regions, and the targets echoed back.
type OpTargets = (Vec<AccountOu>, Vec<String>, Option<Targets>);

/// What to deploy to.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// Explicit accounts and/or OUs (the request's Accounts or DeploymentTargets).
    Explicit(Targets),
    /// Every existing instance (UpdateStackSet without targets).
    AllInstances,
}

/// A request to start an operation.
#[derive(Debug, Clone)]
pub struct OpRequest {
    pub id: Option<String>,
    pub action: OperationAction,
    pub targets: TargetSpec,
    /// Empty with AllInstances: every Region the stack set has.
    pub regions: Vec<String>,
    pub prefs: OperationPreferences,
    /// Scenario-only: extra failure rules and timing for this one operation.
    pub behaviour: Behaviour,
    /// DELETE: keep the stacks (and remove instances even in suspended accounts).
    pub retain_stacks: bool,
}

/// A new stack set.
#[derive(Debug, Clone)]
pub struct NewStackSet {
    pub name: String,
    pub permission_model: PermissionModel,
    pub description: Option<String>,
    pub template_body: String,
    pub parameters: Vec<(String, String)>,
    pub capabilities: Vec<String>,
    pub managed_execution: bool,
    pub auto_deployment: Option<(bool, bool)>,
    pub behaviour: Behaviour,
}

pub struct Engine {
    pub org: Organization,
    now: Millis,
    rng: ChaCha8Rng,
    stack_sets: Vec<StackSet>,
    /// Name and id to position in `stack_sets`.
    index: HashMap<String, usize>,
    pub behaviour: Behaviour,
}

impl Engine {
    pub fn new(org: Organization, seed: u64, now: Millis) -> Self {
        Engine {
            org,
            now,
            rng: ChaCha8Rng::seed_from_u64(seed),
            stack_sets: Vec::new(),
            index: HashMap::new(),
            behaviour: Behaviour::default(),
        }
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    /// Moves simulated time forward to `t` (never backward), running every event on the way.
    pub fn advance_to(&mut self, t: Millis) {
        if t < self.now {
            return;
        }
        self.now = t;
        for ss in &mut self.stack_sets {
            if ss.current.is_some() {
                ss.advance_to(t);
            }
        }
    }

    /// Advances by `ms` simulated milliseconds.
    pub fn step(&mut self, ms: Millis) {
        self.advance_to(self.now + ms);
    }

    /// A random UUID from the seeded generator, so a scenario replays identically.
    pub fn uuid(&mut self) -> String {
        let bytes: [u8; 16] = self.rng.random();
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    pub fn all_stack_sets(&self) -> &[StackSet] {
        &self.stack_sets
    }

    /// Stack sets a caller with `call_as` can see, in creation order.
    pub fn list_stack_sets(&self, call_as: CallAs) -> Vec<&StackSet> {
        self.stack_sets
            .iter()
            .filter(|s| s.delegated_admin == (call_as == CallAs::DelegatedAdmin))
            .collect()
    }

    fn resolve(&self, name: &str, call_as: CallAs) -> Result<usize, SimError> {
        let &i = self
            .index
            .get(name)
            .ok_or_else(|| SimError::stack_set_not_found(name))?;
        let ss = &self.stack_sets[i];
        match call_as {
            CallAs::SelfAccount if ss.delegated_admin => Err(SimError::stack_set_not_found(name)),
            CallAs::SelfAccount => Ok(i),
            CallAs::DelegatedAdmin if ss.permission_model == PermissionModel::SelfManaged => Err(SimError::validation(
                "CallAs DELEGATED_ADMIN is supported only for stack sets with the SERVICE_MANAGED permission model",
            )),
            CallAs::DelegatedAdmin if !ss.delegated_admin => Err(SimError::stack_set_not_found(name)),
            CallAs::DelegatedAdmin => Ok(i),
        }
    }

    /// A stack set by name or id, as seen by `call_as`.
    pub fn stack_set(&self, name: &str, call_as: CallAs) -> Result<&StackSet, SimError> {
        self.resolve(name, call_as).map(|i| &self.stack_sets[i])
    }

    /// Records a drift detection's finding on the stack set's instances that `matches` (account,
    /// Region) picks, checked at `at`; returns how many it marked.
    pub fn set_drift(
        &mut self,
        name: &str,
        call_as: CallAs,
        matches: impl Fn(&str, &str) -> bool,
        status: DriftStatus,
        at: Millis,
    ) -> Result<usize, SimError> {
        let i = self.resolve(name, call_as)?;
        let mut marked = 0;
        for (account, per_region) in &mut self.stack_sets[i].instances {
            for (region, instance) in per_region.iter_mut() {
                if matches(account, region) {
                    instance.drift = Some((status, at));
                    marked += 1;
                }
            }
        }
        Ok(marked)
    }

    /// A stack set ignoring CallAs (for the handle's test helpers).
    pub fn stack_set_any(&self, name: &str) -> Option<&StackSet> {
        self.index.get(name).map(|&i| &self.stack_sets[i])
    }

    pub fn operation(&self, name: &str, call_as: CallAs, op: &str) -> Result<(&StackSet, &Operation), SimError> {
        let ss = self.stack_set(name, call_as)?;
        let op = ss.operation(op).ok_or_else(|| SimError::operation_not_found(op))?;
        Ok((ss, op))
    }

    pub fn create_stack_set(&mut self, spec: NewStackSet, call_as: CallAs) -> Result<String, SimError> {
        if spec.name.is_empty()
            || spec.name.len() > 128
            || !spec.name.starts_with(|c: char| c.is_ascii_alphabetic())
            || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(SimError::validation(format!(
                "1 validation error detected: Value '{}' at 'stackSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*",
                spec.name
            )));
        }
        if call_as == CallAs::DelegatedAdmin && spec.permission_model == PermissionModel::SelfManaged {
            return Err(SimError::validation(
                "CallAs DELEGATED_ADMIN is supported only for stack sets with the SERVICE_MANAGED permission model",
            ));
        }
        if self.index.contains_key(&spec.name) {
            return Err(SimError::name_exists(&spec.name));
        }
        let id = format!("{}:{}", spec.name, self.uuid());
        let ss = StackSet {
            name: spec.name.clone(),
            id: id.clone(),
            status: StackSetStatus::Active,
            permission_model: spec.permission_model,
            description: spec.description,
            template_body: spec.template_body,
            parameters: spec.parameters,
            capabilities: spec.capabilities,
            managed_execution: spec.managed_execution,
            auto_deployment: spec.auto_deployment,
            tags: Vec::new(),
            delegated_admin: call_as == CallAs::DelegatedAdmin,
            created: self.now,
            instances: Instances::new(),
            operations: Vec::new(),
            op_index: HashMap::new(),
            current: None,
            queue: VecDeque::new(),
            behaviour: spec.behaviour,
        };
        let pos = self.stack_sets.len();
        self.index.insert(spec.name, pos);
        self.index.insert(id.clone(), pos);
        self.stack_sets.push(ss);
        Ok(id)
    }

    pub fn delete_stack_set(&mut self, name: &str, call_as: CallAs) -> Result<(), SimError> {
        let i = self.resolve(name, call_as)?;
        let ss = &self.stack_sets[i];
        if let Some(op) = ss.current_operation() {
            return Err(SimError::operation_in_progress(&ss.name, &op.id));
        }
        if !ss.instances.is_empty() {
            return Err(SimError::not_empty(&ss.name));
        }
        self.stack_sets.remove(i);
        self.index.clear();
        for (pos, s) in self.stack_sets.iter().enumerate() {
            self.index.insert(s.name.clone(), pos);
            self.index.insert(s.id.clone(), pos);
        }
        Ok(())
    }

    /// Changes stack set fields an UpdateStackSet carries.
    pub fn update_stack_set_fields(
        &mut self,
        name: &str,
        call_as: CallAs,
        f: impl FnOnce(&mut StackSet),
    ) -> Result<(), SimError> {
        let i = self.resolve(name, call_as)?;
        f(&mut self.stack_sets[i]);
        Ok(())
    }

    /// Expands targets to (account, OU) pairs, deduplicated, in request order.
    fn expand(&self, pm: PermissionModel, t: &Targets) -> Result<Vec<AccountOu>, SimError> {
        for a in &t.accounts {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SimError::validation(format!(
                    "Account {a} is not a valid 12-digit AWS account id"
                )));
            }
        }
        let mut out: Vec<AccountOu> = Vec::new();
        let mut seen = HashSet::new();
        let mut push = |a: &str, ou: Option<&str>, out: &mut Vec<AccountOu>| {
            if seen.insert(a.to_string()) {
                out.push((a.to_string(), ou.map(String::from)));
            }
        };
        match pm {
            PermissionModel::SelfManaged => {
                if !t.ous.is_empty() {
                    return Err(SimError::validation(
                        "OrganizationalUnitIds are supported only for SERVICE_MANAGED stack sets",
                    ));
                }
                if t.accounts.is_empty() {
                    return Err(SimError::missing("Accounts"));
                }
                for a in &t.accounts {
                    push(a, None, &mut out);
                }
            }
            PermissionModel::ServiceManaged => {
                if t.ous.is_empty() {
                    return Err(SimError::missing("DeploymentTargets.OrganizationalUnitIds"));
                }
                let mut ou_accounts: Vec<(&str, &str)> = Vec::new();
                for id in &t.ous {
                    let ou = self.org.ou(id).ok_or_else(|| {
                        SimError::validation(format!("OrganizationalUnitId {id} is not part of the organization"))
                    })?;
                    ou_accounts.extend(ou.accounts.iter().map(|a| (a.as_str(), ou.id.as_str())));
                }
                let listed = |a: &str| t.accounts.iter().any(|x| x == a);
                let filter = match (t.account_filter_type.as_deref(), t.accounts.is_empty()) {
                    (None, true) => "NONE",
                    (None, false) => "INTERSECTION",
                    (Some(f), _) => f,
                };
                match filter {
                    "NONE" => ou_accounts.iter().for_each(|(a, o)| push(a, Some(o), &mut out)),
                    "INTERSECTION" => ou_accounts
                        .iter()
                        .filter(|(a, _)| listed(a))
                        .for_each(|(a, o)| push(a, Some(o), &mut out)),
                    "DIFFERENCE" => ou_accounts
                        .iter()
                        .filter(|(a, _)| !listed(a))
                        .for_each(|(a, o)| push(a, Some(o), &mut out)),
                    "UNION" => {
                        ou_accounts.iter().for_each(|(a, o)| push(a, Some(o), &mut out));
                        for a in &t.accounts {
                            let ou = self.org.ou_of(a).map(String::from);
                            push(a, ou.as_deref(), &mut out);
                        }
                    }
                    other => {
                        return Err(SimError::validation(format!(
                            "AccountFilterType {other} is not one of NONE, INTERSECTION, DIFFERENCE, UNION"
                        )))
                    }
                }
            }
        }
        Ok(out)
    }

    /// Starts (or queues) an operation on a stack set and returns its id.
    /// Starts (or queues) an operation: checks the request, expands its targets into the
    /// account x Region matrix, decides every outcome up front, then registers it.
    pub fn start_operation(&mut self, name: &str, call_as: CallAs, req: OpRequest) -> Result<String, SimError> {
        let si = self.resolve(name, call_as)?;
        if let Some(retried) = self.check_op_request(si, &req)? {
            return Ok(retried);
        }
        let (pairs, regions, echo) = self.targets_of(si, &req)?;
        let order = execution_order(&regions, &req.prefs);
        // Random draws keep their order (the id, then each outcome), so a seed gives the same
        // rollout as it always has.
        let id: Arc<str> = match req.id.clone() {
            Some(id) => id.into(),
            None => self.uuid().into(),
        };
        let (mut results, runs) = self.plan_matrix(si, &req, &pairs, &order)?;
        self.plan_outcomes(si, &req, &order, &mut results);
        let op = Operation {
            id: id.clone(),
            action: req.action,
            status: OperationStatus::Queued,
            prefs: req.prefs,
            created: self.now,
            ended: None,
            status_reason: None,
            targets: echo,
            regions: order,
            results,
            failed_count: 0,
            retain_stacks: (req.action == OperationAction::Delete).then_some(req.retain_stacks),
            runs,
            cursor: 0,
            heap: BinaryHeap::new(),
            halt: None,
        };
        self.register(si, op);
        Ok(id.to_string())
    }

    /// Validates preferences, Regions and the OperationId, and whether another operation is in
    /// the way. `Ok(Some(id))` when the request repeats one already started (an SDK retry).
    fn check_op_request(&self, si: usize, req: &OpRequest) -> Result<Option<String>, SimError> {
        validate_prefs(&req.prefs)?;
        for r in &req.regions {
            if r.is_empty()
                || r.len() > 32
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(SimError::validation(format!("Region {r} is not valid")));
            }
        }
        if let Some(id) = &req.id {
            if id.is_empty() || id.len() > 128 {
                return Err(SimError::validation("OperationId must be 1 to 128 characters"));
            }
            if let Some(op) = self.stack_sets[si].operation(id) {
                // An SDK retry of the same request: answer as the first time did.
                if op.action == req.action {
                    return Ok(Some(id.clone()));
                }
                return Err(SimError::operation_id_exists(id));
            }
        }
        let ss = &self.stack_sets[si];
        if let Some(cur) = ss.current_operation() {
            if !ss.managed_execution {
                return Err(SimError::operation_in_progress(&ss.name, &cur.id));
            }
        }
        Ok(None)
    }

    /// The (account, OU) pairs and Regions an operation targets, and the targets to echo back.
    fn targets_of(&self, si: usize, req: &OpRequest) -> Result<OpTargets, SimError> {
        let ss = &self.stack_sets[si];
        let (pairs, regions, echo): OpTargets = match &req.targets {
            TargetSpec::Explicit(t) => {
                if req.regions.is_empty() {
                    return Err(SimError::missing("Regions"));
                }
                let pairs = self.expand(ss.permission_model, t)?;
                let echo =
                    (!t.ous.is_empty() || ss.permission_model == PermissionModel::ServiceManaged).then(|| t.clone());
                (pairs, dedup(&req.regions), echo)
            }
            TargetSpec::AllInstances => {
                let regions = if req.regions.is_empty() {
                    ss.regions()
                } else {
                    dedup(&req.regions)
                };
                let pairs = ss
                    .instances
                    .iter()
                    .map(|(a, m)| (a.clone(), m.values().next().and_then(|i| i.ou.clone())))
                    .collect();
                (pairs, regions, None)
            }
        };
        // AWS's quota: 100,000 stack instances per stack set; it also bounds our memory.
        if pairs.len().saturating_mul(regions.len()) > 100_000 {
            return Err(SimError::limit_exceeded(
                "An operation may target at most 100,000 stack instances",
            ));
        }
        Ok((pairs, regions, echo))
    }

    /// One PENDING result per account in each Region (in execution order), and each Region's
    /// run with its effective concurrency and failure tolerance.
    fn plan_matrix(
        &self,
        si: usize,
        req: &OpRequest,
        pairs: &[AccountOu],
        order: &[String],
    ) -> Result<(Vec<ResultRec>, Vec<RegionRun>), SimError> {
        let ss = &self.stack_sets[si];
        let must_exist = req.action != OperationAction::Create;
        let mut results = Vec::new();
        let mut runs = Vec::new();
        for (ri, region) in order.iter().enumerate() {
            let mut pending = VecDeque::new();
            for (account, ou) in pairs {
                let inst = ss.instances.get(account).and_then(|m| m.get(region));
                // UpdateStackSet leaves INOPERABLE instances out (User Guide).
                if req.action == OperationAction::Update
                    && matches!(req.targets, TargetSpec::AllInstances)
                    && inst.is_some_and(|i| i.status == InstanceStatus::Inoperable)
                {
                    continue;
                }
                let exists = inst.is_some();
                if must_exist && !exists {
                    if matches!(req.targets, TargetSpec::AllInstances) {
                        continue;
                    }
                    return Err(SimError::instance_not_found(account, region, &ss.name));
                }
                pending.push_back(results.len() as u32);
                results.push(ResultRec {
                    account: account.clone(),
                    region: ri as u16,
                    ou: ou.clone(),
                    status: ResultStatus::Pending,
                    reason: None,
                    gate: None,
                    gate_reason: None,
                    plan: Plan {
                        duration_ms: 0,
                        gate: GateStatus::Skipped,
                        gate_reason: None,
                        failure: None,
                        suspended: false,
                    },
                });
            }
            let n = pending.len() as u32;
            let max_concurrent = match (req.prefs.max_concurrent_count, req.prefs.max_concurrent_percentage) {
                (Some(c), _) => c.max(1),
                (None, Some(p)) => percent_of(n, p).max(1),
                (None, None) => 1,
            };
            let tolerance = match (
                req.prefs.failure_tolerance_count,
                req.prefs.failure_tolerance_percentage,
            ) {
                (Some(c), _) => c,
                (None, Some(p)) => percent_of(n, p),
                (None, None) => 0,
            };
            runs.push(RegionRun {
                pending,
                running: 0,
                failures: 0,
                max_concurrent,
                tolerance,
            });
        }
        if results.len() > u32::MAX as usize / 2 || order.len() > usize::from(u16::MAX) {
            return Err(SimError::validation("Too many stack instances"));
        }
        Ok((results, runs))
    }

    /// Decides every result's outcome now, in a fixed order, from the seeded generator: its
    /// deploy time, its account gate, and whether a failure rule hits it.
    fn plan_outcomes(&mut self, si: usize, req: &OpRequest, order: &[String], results: &mut [ResultRec]) {
        let global = self.behaviour.clone();
        let ss_behaviour = self.stack_sets[si].behaviour.clone();
        let stack_set = self.stack_sets[si].name.clone();
        let timing = req
            .behaviour
            .timing
            .or(ss_behaviour.timing)
            .or(global.timing)
            .unwrap_or_default();
        let failures: Vec<&FailureRule> = req
            .behaviour
            .failures
            .iter()
            .chain(&ss_behaviour.failures)
            .chain(&global.failures)
            .collect();
        let gates: Vec<&GateRule> = req
            .behaviour
            .gates
            .iter()
            .chain(&ss_behaviour.gates)
            .chain(&global.gates)
            .collect();
        for rec in results {
            let region = &order[usize::from(rec.region)];
            let ou = rec.ou.as_deref();
            let jitter = if timing.jitter_ms > 0 {
                self.rng
                    .random_range(-i64::from(timing.jitter_ms)..=i64::from(timing.jitter_ms))
            } else {
                0
            };
            let deploy = (i64::from(timing.deploy_ms) + jitter).max(1_000) as u32;
            let gate = gates
                .iter()
                .find(|g| g.matcher.matches(&rec.account, ou, region, req.action));
            let mut plan = Plan {
                duration_ms: deploy,
                gate: GateStatus::Skipped,
                gate_reason: None,
                failure: None,
                suspended: false,
            };
            if let Some(g) = gate {
                plan.gate = g.status;
                plan.gate_reason = g.reason.as_deref().map(Arc::from);
                if g.status == GateStatus::Failed {
                    plan.duration_ms = timing.gate_ms.max(1);
                    plan.failure = Some(format!(
                        "Account Gate check failed: {}",
                        g.reason
                            .as_deref()
                            .unwrap_or("the account gate function returned FAILED")
                    ));
                }
            }
            if plan.failure.is_none() {
                for f in &failures {
                    if !f.matcher.matches(&rec.account, ou, region, req.action) {
                        continue;
                    }
                    let hit = f.rate >= 1.0 || (f.rate > 0.0 && self.rng.random::<f64>() < f.rate);
                    if hit {
                        plan.failure = Some(
                            f.reason
                                .replace("{account}", &rec.account)
                                .replace("{region}", region)
                                .replace("{stack_set}", &stack_set),
                        );
                        break;
                    }
                }
            }
            // A suspended account is skipped quickly whatever the rules say; a DELETE with
            // RetainStacks still removes the instance, as SUSPENDED_REASON advises. The random
            // draws above happen all the same, so other results replay as before.
            let retained_delete = req.action == OperationAction::Delete && req.retain_stacks;
            // A RetainStacks delete only detaches the stack, so resource failures cannot
            // happen (it is the User Guide's way out of INOPERABLE); a failing gate still fails.
            if retained_delete && plan.gate != GateStatus::Failed {
                plan.failure = None;
            }
            if self.org.is_suspended(&rec.account) && !retained_delete {
                plan.suspended = true;
                plan.failure = None;
                plan.gate = GateStatus::Skipped;
                plan.gate_reason = None;
                plan.duration_ms = timing.gate_ms.max(1);
            }
            rec.plan = plan;
        }
    }

    /// Adds the operation to its stack set: a CREATE's new instances appear at once (OUTDATED),
    /// and it starts now unless another operation is current, in which case it queues.
    fn register(&mut self, si: usize, mut op: Operation) {
        let now = self.now;
        let ss = &mut self.stack_sets[si];
        let id = op.id.clone();
        if op.action == OperationAction::Create {
            for rec in &op.results {
                let region = &op.regions[usize::from(rec.region)];
                ss.instances
                    .entry(rec.account.clone())
                    .or_default()
                    .entry(region.clone())
                    .or_insert_with(|| Instance {
                        status: InstanceStatus::Outdated,
                        detailed: DetailedStatus::Result(ResultStatus::Pending),
                        reason: None,
                        ou: rec.ou.clone(),
                        stack_id: None,
                        last_operation: id.clone(),
                        drift: None,
                    });
            }
        }
        let pos = ss.operations.len();
        if ss.current.is_none() {
            op.start(now, &mut ss.instances);
            if op.status.is_active() {
                ss.current = Some(pos);
            }
        } else {
            ss.queue.push_back(pos);
        }
        ss.op_index.insert(id, pos);
        ss.operations.push(op);
    }

    pub fn stop_operation(&mut self, name: &str, call_as: CallAs, op: &str) -> Result<(), SimError> {
        let now = self.now;
        let si = self.resolve(name, call_as)?;
        let ss = &mut self.stack_sets[si];
        let &oi = ss.op_index.get(op).ok_or_else(|| SimError::operation_not_found(op))?;
        ss.operations[oi].stop(now, &mut ss.instances)?;
        if ss.current == Some(oi) && !ss.operations[oi].status.is_active() {
            // Nothing was running: hand over to the queue right away.
            ss.advance_to(now);
            if ss.current == Some(oi) {
                ss.current = None;
            }
        }
        ss.queue.retain(|&q| q != oi);
        Ok(())
    }
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    v.iter().filter(|r| seen.insert(r.as_str())).cloned().collect()
}

/// SEQUENTIAL: RegionOrder first (only the operation's Regions), then the rest in request order.
pub fn execution_order(regions: &[String], prefs: &OperationPreferences) -> Vec<String> {
    if prefs.region_concurrency == Some(RegionConcurrency::Parallel) {
        return regions.to_vec();
    }
    let mut out: Vec<String> = Vec::new();
    for r in &prefs.region_order {
        if regions.contains(r) && !out.contains(r) {
            out.push(r.clone());
        }
    }
    for r in regions {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

fn validate_prefs(p: &OperationPreferences) -> Result<(), SimError> {
    if p.max_concurrent_count.is_some() && p.max_concurrent_percentage.is_some() {
        return Err(SimError::validation(
            "Specify either MaxConcurrentCount or MaxConcurrentPercentage, not both",
        ));
    }
    if p.failure_tolerance_count.is_some() && p.failure_tolerance_percentage.is_some() {
        return Err(SimError::validation(
            "Specify either FailureToleranceCount or FailureTolerancePercentage, not both",
        ));
    }
    if p.max_concurrent_count == Some(0) {
        return Err(SimError::validation(
            "1 validation error detected: Value '0' at 'operationPreferences.maxConcurrentCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    if let Some(pc) = p.max_concurrent_percentage {
        if !(1..=100).contains(&pc) {
            return Err(SimError::validation(format!(
                "1 validation error detected: Value '{pc}' at 'operationPreferences.maxConcurrentPercentage' failed to satisfy constraint: Member must have value between 1 and 100"
            )));
        }
    }
    if let Some(pc) = p.failure_tolerance_percentage {
        if pc > 100 {
            return Err(SimError::validation(format!(
                "1 validation error detected: Value '{pc}' at 'operationPreferences.failureTolerancePercentage' failed to satisfy constraint: Member must have value between 0 and 100"
            )));
        }
    }
    Ok(())
}
