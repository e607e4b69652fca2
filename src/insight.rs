//! Rollout insight, as pure functions over model types and the result grid: an operation's
//! outcome in words, why results failed and what to do (`assets/failure_categories.toml`), the
//! operation preferences in words, and how each Region stands against its failure tolerance,
//! by the rules CloudFormation applies. Nothing here draws, polls or reads a clock.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::app::ResultGrid;
use crate::model::{
    ConcurrencyMode, GateStatus, Operation, OperationPreferences, OperationStatus, RegionConcurrency, ResultStatus,
};

// ---------------------------------------------------------------------------------------------
// Outcome

/// An operation's outcome as sstop shows it: the API status, except that a SUCCEEDED operation
/// with failed stack instances is its own outcome and never reads as plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(OperationStatus),
    SucceededWithFailures,
}

impl Outcome {
    /// From the operation's own FailedStackInstancesCount and the FAILED results sstop has
    /// seen of it (pass 0 when its results are not loaded): whichever says more.
    pub fn of(op: &Operation, failed_results: usize) -> Outcome {
        let failed = (op.failed_count.unwrap_or(0) as usize).max(failed_results);
        match op.status {
            OperationStatus::Succeeded if failed > 0 => Outcome::SucceededWithFailures,
            status => Outcome::Status(status),
        }
    }

    /// Nine columns at most, for list columns.
    pub fn short(self) -> &'static str {
        match self {
            Outcome::Status(status) => status.as_str(),
            Outcome::SucceededWithFailures => "SUCC+FAIL",
        }
    }

    /// In full, for headers and command output.
    pub fn long(self) -> &'static str {
        match self {
            Outcome::Status(status) => status.as_str(),
            Outcome::SucceededWithFailures => "SUCCEEDED with failures",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failure categories

/// One kind of failure: what it is called and what to do about it.
#[derive(Debug)]
pub struct Category {
    pub id: String,
    /// Short label for list columns.
    pub name: String,
    /// One line: what to do.
    pub hint: String,
    /// A reason CloudFormation really writes that falls in this category.
    pub example: String,
    pattern: Regex,
    gate_status: Option<GateStatus>,
}

impl PartialEq for Category {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Category {}

impl Category {
    fn matches(&self, reason: Option<&str>, gate: Option<GateStatus>) -> bool {
        (self.gate_status.is_some() && self.gate_status == gate) || reason.is_some_and(|r| self.pattern.is_match(r))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    category: Vec<CategorySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategorySpec {
    id: String,
    name: String,
    pattern: String,
    #[serde(default)]
    gate_status: Option<GateStatus>,
    hint: String,
    example: String,
}

const CATEGORY_FILE: &str = include_str!("../assets/failure_categories.toml");

fn parse_categories(text: &str) -> Result<Vec<Category>, String> {
    let file: CategoryFile = toml::from_str(text).map_err(|e| e.to_string())?;
    file.category
        .into_iter()
        .map(|spec| {
            let pattern = Regex::new(&spec.pattern).map_err(|e| format!("category {}: {e}", spec.id))?;
            Ok(Category {
                id: spec.id,
                name: spec.name,
                hint: spec.hint,
                example: spec.example,
                pattern,
                gate_status: spec.gate_status,
            })
        })
        .collect()
}

/// The categories of `assets/failure_categories.toml`, in the file's order (first match wins).
pub fn categories() -> &'static [Category] {
    static CATEGORIES: LazyLock<Vec<Category>> = LazyLock::new(|| {
        // The file is compiled in and a unit test parses it: a bad edit fails the tests, not a user.
        parse_categories(CATEGORY_FILE).expect("assets/failure_categories.toml is valid")
    });
    &CATEGORIES
}

/// The category of a result from its StatusReason and account gate status; None when no
/// pattern knows it (it is then grouped by its masked text alone).
pub fn classify(reason: Option<&str>, gate: Option<GateStatus>) -> Option<&'static Category> {
    categories().iter().find(|c| c.matches(reason, gate))
}

/// The resource a `ResourceLogicalId:X, ResourceType:Y, ResourceStatusReason:...` reason names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub logical_id: String,
    pub resource_type: String,
}

pub fn resource_of(reason: &str) -> Option<ResourceRef> {
    static RESOURCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"ResourceLogicalId:\s*([^,\s]+),\s*ResourceType:\s*([^,\s]+)").expect("valid pattern")
    });
    let caps = RESOURCE.captures(reason)?;
    Some(ResourceRef {
        logical_id: caps[1].to_string(),
        resource_type: caps[2].to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Preferences and per-Region arithmetic, as CloudFormation applies them

/// `pct` percent of `n`, rounded down, as CloudFormation computes tolerance and concurrency.
pub fn percent_of(n: usize, pct: u32) -> usize {
    n * pct.min(100) as usize / 100
}

/// Accounts deployed at once in a Region of `n` deployments (percentages never round to 0).
pub fn max_concurrent(prefs: &OperationPreferences, n: usize) -> usize {
    match (prefs.max_concurrent_count, prefs.max_concurrent_percentage) {
        (Some(c), _) => (c as usize).max(1),
        (None, Some(p)) => percent_of(n, p).max(1),
        (None, None) => 1,
    }
}

/// Failures a Region of `n` deployments tolerates; one more fails the operation.
pub fn tolerance(prefs: &OperationPreferences, n: usize) -> usize {
    match (prefs.failure_tolerance_count, prefs.failure_tolerance_percentage) {
        (Some(c), _) => c as usize,
        (None, Some(p)) => percent_of(n, p),
        (None, None) => 0,
    }
}

pub fn is_strict(prefs: &OperationPreferences) -> bool {
    prefs.concurrency_mode != Some(ConcurrencyMode::SoftFailureTolerance)
}

/// Deployments a Region may run at once after `failed` failures: STRICT caps it at
/// tolerance + 1 and shrinks it with each failure (never below 1); SOFT keeps MaxConcurrent.
pub fn effective_concurrency(prefs: &OperationPreferences, n: usize, failed: usize) -> usize {
    let max = max_concurrent(prefs, n);
    if is_strict(prefs) {
        max.min((tolerance(prefs, n) + 1).saturating_sub(failed)).max(1)
    } else {
        max
    }
}

/// `1,840`
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The preferences in words, e.g. `SEQUENTIAL in 6 Regions, 25% of accounts at once (STRICT:
/// at most 4), 10% failures tolerated per Region`. `regions` and `accounts` (the largest
/// Region's deployments) turn percentages into numbers when known. `compact` spells it shorter
/// for narrow screens.
pub fn preferences_in_words(
    prefs: &OperationPreferences,
    regions: Option<usize>,
    accounts: Option<usize>,
    compact: bool,
) -> String {
    let mut parts = Vec::new();
    let order = match prefs.region_concurrency {
        Some(RegionConcurrency::Parallel) => "PARALLEL",
        _ => "SEQUENTIAL",
    };
    parts.push(match regions {
        Some(n) if compact => format!(
            "{} {}",
            if order == "PARALLEL" { "PAR" } else { "SEQ" },
            plural(n, "Region", "Regions")
        ),
        Some(n) => format!("{order} in {}", plural(n, "Region", "Regions")),
        None if prefs.region_order.is_empty() || compact => order.to_string(),
        None => format!("{order} {}", prefs.region_order.join(" > ")),
    });

    let strict = is_strict(prefs);
    let n = accounts.unwrap_or(0);
    let max = max_concurrent(prefs, n);
    let tol = tolerance(prefs, n);
    let known = accounts.is_some() || prefs.max_concurrent_percentage.is_none() || prefs.max_concurrent_count.is_some();
    let tol_known =
        accounts.is_some() || prefs.failure_tolerance_percentage.is_none() || prefs.failure_tolerance_count.is_some();
    let capped = strict && known && tol_known && tol + 1 < max;
    let mut conc = match (prefs.max_concurrent_count, prefs.max_concurrent_percentage) {
        (Some(c), _) if compact => format!("{c} at once"),
        (Some(c), _) => format!("{} at once", plural(c as usize, "account", "accounts")),
        (None, Some(p)) if compact => format!("{p}% at once"),
        (None, Some(p)) => format!("{p}% of accounts at once"),
        (None, None) if compact => "1 at once".to_string(),
        (None, None) => "1 account at a time".to_string(),
    };
    if capped {
        conc.push_str(&format!(" (STRICT: at most {})", tol + 1));
    } else if prefs.max_concurrent_count.is_none() && prefs.max_concurrent_percentage.is_some() && accounts.is_some() {
        conc.push_str(&format!(" ({max})"));
    }
    parts.push(conc);

    let per = if compact { "/Region" } else { " per Region" };
    let mut tolerated = match (prefs.failure_tolerance_count, prefs.failure_tolerance_percentage) {
        (Some(0), _) | (None, None) => {
            if compact {
                "0 failures tolerated".to_string()
            } else {
                "no failure tolerated".to_string()
            }
        }
        (Some(c), _) => format!("{} tolerated{per}", plural(c as usize, "failure", "failures")),
        (None, Some(p)) => format!("{p}% failures tolerated{per}"),
    };
    if prefs.failure_tolerance_count.is_none() && prefs.failure_tolerance_percentage.is_some() && accounts.is_some() {
        tolerated.push_str(&format!(" ({tol})"));
    }
    parts.push(tolerated);
    if !strict {
        parts.push(
            if compact {
                "SOFT"
            } else {
                "SOFT: failures do not slow it"
            }
            .to_string(),
        );
    }
    parts.join(", ")
}

/// Deployments in the grid's largest Region: what percentages of accounts apply to.
pub fn largest_region(grid: &ResultGrid) -> Option<usize> {
    (0..grid.regions.len())
        .map(|col| grid.region_counts(col).iter().sum::<usize>())
        .max()
}

/// Where one Region of an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionState {
    /// Nothing started yet.
    Waiting,
    Running,
    /// Every deployment ended, none cancelled.
    Done,
    /// More failures than tolerated: this Region failed the operation.
    Failed,
    /// Ended with deployments cancelled (a stop, or another Region's failures).
    Cancelled,
}

impl RegionState {
    pub fn word(self) -> &'static str {
        match self {
            RegionState::Waiting => "waiting",
            RegionState::Running => "running",
            RegionState::Done => "done",
            RegionState::Failed => "failed",
            RegionState::Cancelled => "cancelled",
        }
    }
}

/// One Region's counts and the limits CloudFormation applies to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionProgress {
    pub region: String,
    pub total: usize,
    pub pending: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// MaxConcurrent in numbers for this Region.
    pub max_concurrent: usize,
    /// Failures tolerated in this Region.
    pub tolerance: usize,
    /// Deployments it may run at once now, given its failures (STRICT shrinks it).
    pub concurrency: usize,
    pub state: RegionState,
}

impl RegionProgress {
    pub fn finished(&self) -> usize {
        self.succeeded + self.failed + self.cancelled
    }

    /// Tolerance used up while deployments still run or wait: the next failure fails the operation.
    pub fn at_limit(&self) -> bool {
        self.failed == self.tolerance && self.pending + self.running > 0
    }

    /// Still has deployments running or waiting.
    pub fn open(&self) -> bool {
        self.pending + self.running > 0
    }
}

/// Each Region of the grid in its column order (RegionOrder first), with its counts, limits
/// and state under `prefs`.
pub fn region_progress(grid: &ResultGrid, prefs: &OperationPreferences) -> Vec<RegionProgress> {
    grid.regions
        .iter()
        .enumerate()
        .map(|(col, region)| {
            let counts = grid.region_counts(col);
            let get = |s: ResultStatus| counts[crate::app::grid::status_slot(s)];
            let (pending, running, succeeded, failed, cancelled) = (
                get(ResultStatus::Pending),
                get(ResultStatus::Running),
                get(ResultStatus::Succeeded),
                get(ResultStatus::Failed),
                get(ResultStatus::Cancelled),
            );
            let total = pending + running + succeeded + failed + cancelled;
            let tol = tolerance(prefs, total);
            let state = if failed > tol {
                RegionState::Failed
            } else if pending + running == 0 && cancelled > 0 {
                RegionState::Cancelled
            } else if pending + running == 0 {
                RegionState::Done
            } else if running > 0 || succeeded + failed + cancelled > 0 {
                RegionState::Running
            } else {
                RegionState::Waiting
            };
            RegionProgress {
                region: region.clone(),
                total,
                pending,
                running,
                succeeded,
                failed,
                cancelled,
                max_concurrent: max_concurrent(prefs, total),
                tolerance: tol,
                concurrency: effective_concurrency(prefs, total, failed),
                state,
            }
        })
        .collect()
}

/// What the next failures of the most exposed Region would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    pub region: String,
    pub failed: usize,
    pub tolerance: usize,
    /// Failures that would fail the operation: 1 when the Region is at its limit.
    pub failures_to_fail: usize,
    /// Deployments not started yet, all of which a failed operation cancels, and the Regions
    /// they are in.
    pub cancels: usize,
    pub cancels_regions: usize,
    /// Running now in that Region: under SOFT all of them may fail at once.
    pub running: usize,
    pub strict: bool,
}

impl Forecast {
    pub fn at_limit(&self) -> bool {
        self.failures_to_fail == 1
    }

    /// `eu-west-1: 3 of 3 failures tolerated; one more fails the operation and cancels 1,840
    /// deployments in 3 Regions`
    pub fn text(&self) -> String {
        let used = if self.tolerance == 0 {
            "no failure tolerated".to_string()
        } else {
            format!("{} of {} failures tolerated", self.failed, self.tolerance)
        };
        let next = match (self.failures_to_fail, self.tolerance) {
            (1, 0) => "the first fails the operation".to_string(),
            (1, _) => "one more fails the operation".to_string(),
            (n, _) => format!("{n} more fail the operation"),
        };
        let cancels = if self.cancels > 0 {
            format!(
                " and cancel{} {} in {}",
                if self.failures_to_fail == 1 { "s" } else { "" },
                plural(self.cancels, "deployment", "deployments"),
                plural(self.cancels_regions, "Region", "Regions")
            )
        } else {
            String::new()
        };
        let soft = if !self.strict && self.at_limit() && self.running > 1 {
            format!(" ({} running now, SOFT)", self.running)
        } else {
            String::new()
        };
        format!("{}: {used}; {next}{cancels}{soft}", self.region)
    }

    /// The same, shorter: `eu-west-1: 3/3 failures; 1 more fails it, cancels 1,840 in 3 Regions`
    pub fn short_text(&self) -> String {
        let next = match self.failures_to_fail {
            1 => "1 more fails it".to_string(),
            n => format!("{n} more fail it"),
        };
        let cancels = if self.cancels > 0 {
            format!(
                ", cancel{} {} in {}",
                if self.failures_to_fail == 1 { "s" } else { "" },
                thousands(self.cancels),
                plural(self.cancels_regions, "Region", "Regions")
            )
        } else {
            String::new()
        };
        format!(
            "{}: {}/{} failures; {next}{cancels}",
            self.region, self.failed, self.tolerance
        )
    }
}

/// The Region closest to failing the operation, while `op` can still fail: among Regions with
/// deployments running or waiting (in a SEQUENTIAL rollout, the one deploying now; in a
/// PARALLEL one, the one with the least tolerance left). None once the operation has ended.
pub fn forecast(op: &Operation, regions: &[RegionProgress]) -> Option<Forecast> {
    if !matches!(op.status, OperationStatus::Running | OperationStatus::Queued) {
        return None;
    }
    let started = |r: &&RegionProgress| r.running > 0 || r.finished() > 0;
    let open: Vec<&RegionProgress> = regions.iter().filter(|r| r.open() && r.failed <= r.tolerance).collect();
    let candidates: Vec<&RegionProgress> = if open.iter().any(started) {
        open.iter().copied().filter(started).collect()
    } else {
        open.iter().take(1).copied().collect()
    };
    let region = candidates
        .into_iter()
        .min_by_key(|r| (r.tolerance - r.failed, std::cmp::Reverse(r.running)))?;
    Some(Forecast {
        region: region.region.clone(),
        failed: region.failed,
        tolerance: region.tolerance,
        failures_to_fail: region.tolerance - region.failed + 1,
        cancels: regions.iter().map(|r| r.pending).sum(),
        cancels_regions: regions.iter().filter(|r| r.pending > 0).count(),
        running: region.running,
        strict: is_strict(&op.preferences),
    })
}

/// The Region that exceeded its tolerance, for an operation that has failed.
pub fn exceeded(regions: &[RegionProgress]) -> Option<&RegionProgress> {
    regions.iter().find(|r| r.state == RegionState::Failed)
}

#[cfg(test)]
mod tests;
