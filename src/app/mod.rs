//! Application state and the messages that change it. `update` (in `update.rs`) is the only
//! place state changes; it does no I/O and reads no clock: time arrives in `Msg::Tick`.

pub mod grid;
pub mod instances;
pub mod keymap;
pub mod layout;
pub mod update;

use std::collections::HashMap;
use std::time::Instant;

use time::OffsetDateTime;
use tui_input::Input;

use crate::api::ApiError;
use crate::model::{
    CallAs, Operation, OperationStatus, PermissionModel, RegionConcurrency, ResultStatus, StackSetSummary,
};
pub use grid::{FailureGroup, ResultGrid};
pub use keymap::{Action, KeyMap, Mode};
pub use update::update;

/// What the poller should keep fresh: the screen the user is looking at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The estate: every watched Region's stack sets and their latest operations, for the pulse
    /// and the stack set list alike (switching between them keeps the watch).
    StackSets,
    Operations {
        region: String,
        stack_set: String,
    },
    Operation {
        region: String,
        stack_set: String,
        operation_id: String,
    },
    /// A stack set's stack instances.
    Instances {
        region: String,
        stack_set: String,
    },
}

/// Side effects `update` asks for; the event loop hands them to the poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Watch this scope from now on; results carry `generation` so stale ones can be dropped.
    Watch {
        scope: Scope,
        generation: u64,
    },
    /// Fetch the current scope now instead of at the next tick.
    RefreshNow,
    /// StopStackSetOperation, on its own lane.
    Stop(StopRequest),
    /// DescribeStackInstance, once, for the instance detail popup.
    DescribeInstance(InstanceRequest),
    Quit,
}

/// One stack instance of a stack set, as the detail popup asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRequest {
    /// The Region the stack set lives in: the call goes to that Region's client.
    pub region: String,
    pub stack_set: String,
    pub account: String,
    /// The instance's own Region (StackInstanceRegion).
    pub instance_region: String,
}

/// Work for the event loop itself rather than the poller: bytes for the terminal, a program to
/// run, a file to write. `update` queues these in `State::effects`; the loop drains them after
/// each message (the poller takes only `Command`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Put this text on the clipboard (OSC 52).
    Copy { text: String },
    /// Bell / OSC 9 / OSC 777 as configured, and the notify command.
    Notify(crate::notify::Event),
    /// Write a file, off the UI path; the outcome comes back as `Msg::Exported`.
    Export(ExportJob),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    pub path: std::path::PathBuf,
    pub content: ExportContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportContent {
    /// Every result of the operation as loaded, as CSV.
    Results(Vec<crate::model::OperationResult>),
    /// The failure groups, as a Markdown report.
    Failures {
        stack_set: String,
        operation_id: String,
        groups: Vec<FailureGroup>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    /// The Region the stack set lives in: the call goes to that Region's client.
    pub region: String,
    pub stack_set: String,
    pub operation_id: String,
    pub call_as: CallAs,
    /// Which decision sent it (counted per run): a dialog takes only the answer to its own.
    pub attempt: u64,
}

/// A stack set with its latest operation, as the overview lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetRow {
    /// The admin Region the stack set lives in (stack sets are regional).
    pub region: String,
    pub summary: StackSetSummary,
    pub latest: Option<Operation>,
    /// Its most recent operations as last checked (one page, newest first): the pulse's source.
    pub recent: Vec<Operation>,
    /// Whether any operation is QUEUED, RUNNING or STOPPING.
    pub active: bool,
    /// When `latest` was read; the overview refreshes stack sets in turns and shows the age.
    pub checked_at: Option<OffsetDateTime>,
}

/// Everything that arrives from outside: keys, time, and the poller's results.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key, stamped with when the terminal reader received it: the stop dialog's guard
    /// compares these times.
    Key(crossterm::event::KeyEvent, Instant),
    /// Text pasted into the terminal (bracketed paste): for the focused input, never keys.
    Paste(String, Instant),
    /// A frame reached the terminal; what it showed, so `update` knows what a person can see.
    Drawn(FrameReport),
    Tick(OffsetDateTime),
    Resize {
        width: u16,
        height: u16,
    },
    /// The list of one Region's stack sets (latest operations may be missing until
    /// `StackSetChecked` arrives); it replaces that Region's rows only.
    StackSets {
        generation: u64,
        region: String,
        result: Result<Vec<StackSetSummary>, ApiError>,
        at: OffsetDateTime,
    },
    /// One stack set's latest operations (one page, any order), checked in turn by the overview.
    StackSetChecked {
        generation: u64,
        region: String,
        stack_set: String,
        operations: Vec<Operation>,
        at: OffsetDateTime,
    },
    Operations {
        generation: u64,
        region: String,
        stack_set: String,
        result: Result<Vec<Operation>, ApiError>,
        at: OffsetDateTime,
    },
    /// ListStackInstances of the watched stack set, every page.
    Instances {
        generation: u64,
        result: Result<Vec<crate::model::StackInstance>, ApiError>,
        at: OffsetDateTime,
    },
    /// DescribeStackSetOperation of the watched operation.
    OperationDescribed {
        generation: u64,
        operation: Operation,
        at: OffsetDateTime,
    },
    /// Results for the watched operation; `read` says whether a read of them just ended.
    ResultsPage {
        generation: u64,
        results: Vec<crate::model::OperationResult>,
        read: ReadKind,
        at: OffsetDateTime,
    },
    /// A fetch for the current scope failed; the last good data stays on screen.
    FetchFailed {
        generation: u64,
        error: ApiError,
        at: OffsetDateTime,
    },
    /// The permission model of a stack set, learned for the stop dialog.
    PermissionModel {
        region: String,
        stack_set: String,
        model: PermissionModel,
    },
    StopFinished {
        request: StopRequest,
        result: Result<Option<String>, ApiError>,
    },
    /// DescribeStackInstance answered (or failed) for the detail popup.
    InstanceDescribed {
        request: InstanceRequest,
        result: Result<crate::model::StackInstanceDetail, ApiError>,
    },
    /// The request log as it stands, while its view is open.
    Requests(Vec<crate::api::reqlog::Record>),
    /// An export file was written (the number of rows), or why not.
    Exported {
        path: std::path::PathBuf,
        result: Result<usize, String>,
    },
}

/// What the last frame drew, as the view reports it: the layout facts `update` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameReport {
    pub at: Instant,
    /// The stop dialog was drawn whole, buttons and all.
    pub dialog_shown: bool,
    /// Rows of the current screen's list or grid: what page up/down moves by.
    pub page_rows: u16,
}

/// Where a batch of results stands in the poller's read of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// A page in the middle of a read: more will follow.
    Partial,
    /// The end of a full read of every status class: the grid is exact (as of the read).
    Full,
    /// The end of a cheap read of the classes that change; the rest is inferred from the last full read.
    Incremental,
}

/// A screen in the drill-down stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// The home screen: every operation in flight across the watched Regions, then those
    /// that ended in the last 24 hours.
    Pulse,
    StackSets,
    Operations {
        region: String,
        stack_set: String,
    },
    Operation {
        region: String,
        stack_set: String,
        operation_id: String,
    },
    Failures {
        region: String,
        stack_set: String,
        operation_id: String,
    },
    /// A stack set's stack instances: the state its operations left behind.
    Instances {
        region: String,
        stack_set: String,
    },
}

impl Screen {
    /// The Region and stack set a drilled-in screen is about.
    pub fn stack_set(&self) -> Option<(&str, &str)> {
        match self {
            Screen::Pulse | Screen::StackSets => None,
            Screen::Operations { region, stack_set }
            | Screen::Instances { region, stack_set }
            | Screen::Operation { region, stack_set, .. }
            | Screen::Failures { region, stack_set, .. } => Some((region, stack_set)),
        }
    }
}

/// A box drawn over the screen that takes the keys while it is open.
// One overlay at a time lives in the state: the dialog's size costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    CellDetail,
    /// The last CloudFormation calls (`L`).
    RequestLog,
    Confirm(StopDialog),
    /// One stack instance in full (`enter` on the instances screen).
    InstanceDetail(InstanceDetail),
}

/// How a stop must be confirmed (config `confirm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfirmMode {
    #[default]
    YesNo,
    TypeName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogFocus {
    Cancel,
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopPhase {
    /// Waiting for the user's decision.
    Asking,
    Sending,
    Sent {
        request_id: Option<String>,
    },
    Failed {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopDialog {
    /// The stack set's Region: where the stop goes.
    pub region: String,
    pub stack_set: String,
    pub operation_id: String,
    pub action: String,
    pub call_as: CallAs,
    /// SELF_MANAGED stack sets cannot be stopped as DELEGATED_ADMIN: the choice is not offered.
    pub delegated_admin_allowed: bool,
    pub focus: DialogFocus,
    pub mode: ConfirmMode,
    /// What the user typed in type-name mode.
    pub typed: String,
    pub phase: StopPhase,
    /// When a frame first showed the dialog whole (since it opened or its phase last asked
    /// again); None until then. Decisions count only a guard's length after it.
    pub shown_at: Option<Instant>,
    /// The last key or paste that reached the dialog, starting with the key that opened it:
    /// a decision must come a guard's length after it, so a burst cannot decide.
    pub last_input: Instant,
    /// The last frame could not show the whole dialog (the terminal is too small for it).
    pub clipped: bool,
    /// The attempt this dialog sent last, whose answer it waits for.
    pub sent: Option<u64>,
}

/// The stop dialog's counts of the operation's deployments, as the grid knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCounts {
    /// No complete read of the results yet.
    Counting,
    Known {
        running: usize,
        pending: usize,
        failed: usize,
        /// False when part of the grid is inferred from an earlier read.
        exact: bool,
    },
}

/// Where sstop's calls go; shown in the stop dialog and the header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub profile: Option<String>,
    /// The home Region (the first watched).
    pub region: Option<String>,
    /// Every watched Region, the home Region first; empty means `region` alone.
    pub regions: Vec<String>,
    pub endpoint: Option<String>,
}

impl Target {
    /// Every watched Region, the home Region first.
    pub fn watched(&self) -> Vec<String> {
        if self.regions.is_empty() {
            self.region.iter().cloned().collect()
        } else {
            self.regions.clone()
        }
    }
}

/// Settings that `update` needs; fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub call_as: CallAs,
    pub read_only: bool,
    pub confirm: ConfirmMode,
    pub keymap: KeyMap,
    pub target: Target,
    pub poll_interval_secs: u64,
    /// Draw with ASCII only (no box-drawing or glyphs beyond 7-bit).
    pub ascii: bool,
    /// NO_COLOR or `color = false`: meaning must come from glyphs and text alone.
    pub no_color: bool,
    /// How to notify (bell, OSC 9/777, a command); the event loop reads it.
    pub notify: crate::notify::NotifySettings,
    /// Where `e` writes export files; None: the current directory.
    pub export_dir: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            call_as: CallAs::SelfAccount,
            read_only: false,
            confirm: ConfirmMode::YesNo,
            keymap: KeyMap::default(),
            target: Target::default(),
            poll_interval_secs: 5,
            ascii: false,
            no_color: false,
            notify: Default::default(),
            export_dir: None,
        }
    }
}

/// How fresh the data of a screen is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    pub fetched_at: Option<OffsetDateTime>,
    /// The last failure since the last success, shown until a fetch succeeds again.
    pub error: Option<ApiError>,
    pub loading: bool,
    /// When this screen asked for data it still has none of: a silent endpoint shows for how long.
    pub waiting_since: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Default)]
pub struct StackSetsData {
    pub rows: Vec<StackSetRow>,
    pub freshness: Freshness,
    /// Indexes into `rows` that pass the filter, in order; `selected` indexes this.
    pub visible: Vec<usize>,
    pub selected: usize,
}

/// Progress at one moment: results finished, and how many may be in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressSample {
    pub at: OffsetDateTime,
    pub finished: usize,
    /// Deployments that may run at once in the Regions under way (fewer where fewer are left).
    pub slots: usize,
}

/// A Region seen to begin and to end while watched. A SEQUENTIAL rollout's Regions hold the
/// same accounts, so one watched from start to end says how long a wave really takes there,
/// the slowest slot's stragglers included, which a throughput alone cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionTiming {
    /// Shown waiting by a read after the first complete one: its start can be seen.
    pub seen_waiting: bool,
    /// Between the last read that showed it waiting and the first that showed it begun.
    pub begun: Option<OffsetDateTime>,
    /// Between the last read that showed it open and the first that showed it ended.
    pub ended: Option<OffsetDateTime>,
    /// Its waves: deployments over how many it could run at once when it began, rounded up.
    pub waves: usize,
}

/// The shortest window of progress samples a throughput (and so an ETA) is taken from.
pub const THROUGHPUT_MIN_SPAN_SECS: f64 = 120.0;

/// One operation on the pulse: where it runs, what it is, and how fresh that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulseRow {
    pub region: String,
    pub stack_set: String,
    pub operation: Operation,
    /// When the stack set's operations were last read.
    pub checked_at: Option<OffsetDateTime>,
    /// For a QUEUED operation: the operation ahead of it on the same stack set, if on hand.
    pub ahead: Option<Operation>,
}

/// How urgent a pulse row is; the pulse sorts by it (failing first, ended last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Running or stopping with failed stack instances already.
    Failing,
    Running,
    Queued,
    Ended,
}

impl PulseRow {
    pub fn urgency(&self) -> Urgency {
        let op = &self.operation;
        match op.status {
            OperationStatus::Running | OperationStatus::Stopping if op.failed_count.unwrap_or(0) > 0 => {
                Urgency::Failing
            }
            OperationStatus::Running | OperationStatus::Stopping => Urgency::Running,
            OperationStatus::Queued => Urgency::Queued,
            _ => Urgency::Ended,
        }
    }
}

/// The pulse: rows derived from the overview's checks (see `update::rebuild_pulse`).
#[derive(Debug, Clone, Default)]
pub struct PulseData {
    pub rows: Vec<PulseRow>,
    /// Indexes into `rows` that pass the filter, in order; `selected` indexes this.
    pub visible: Vec<usize>,
    pub selected: usize,
}

/// Operations that ended longer ago than this leave the pulse.
pub const PULSE_ENDED_WINDOW: time::Duration = time::Duration::hours(24);

/// One stack set's stack instances, as the instances screen shows them.
#[derive(Debug, Clone, Default)]
pub struct InstancesData {
    pub region: String,
    pub stack_set: String,
    /// Sorted: INOPERABLE, then OUTDATED, then CURRENT; by account and Region within each.
    pub rows: Vec<crate::model::StackInstance>,
    /// Indexes into `rows` that pass the filters; `selected` indexes this.
    pub visible: Vec<usize>,
    pub selected: usize,
    /// `tab` cycles it: all, each Status, then each DetailedStatus and DriftStatus present.
    pub filter: Option<instances::InstanceFilter>,
    /// Counted when the instances land, not on every frame.
    pub counts: InstanceCounts,
    pub freshness: Freshness,
    pub view: instances::InstancesView,
    /// `rows` by account and Region, built when the instances land.
    pub grid: instances::InstanceGrid,
    /// Grid rows with an instance that passes the filters; `cursor_row` indexes this.
    pub grid_visible: Vec<usize>,
    pub cursor_row: usize,
    /// A column of `grid.regions`.
    pub cursor_col: usize,
}

impl InstancesData {
    /// The instance under the cursor of the view on screen, as an index into `rows`.
    pub fn focused(&self) -> Option<usize> {
        match self.view {
            instances::InstancesView::List => self.visible.get(self.selected).copied(),
            instances::InstancesView::Grid => {
                let row = *self.grid_visible.get(self.cursor_row)?;
                self.grid.cell(row, self.cursor_col)
            }
        }
    }

    /// Whether an instance passes the `tab` filter (the text filter is `update`'s).
    pub fn passes(&self, instance: &crate::model::StackInstance) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(instance))
    }
}

/// One stack instance's DescribeStackInstance, for the detail popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDetail {
    pub request: InstanceRequest,
    /// None while the call is out.
    pub result: Option<Result<crate::model::StackInstanceDetail, ApiError>>,
}

/// How many instances are in each Status, drifted, and skipped for a suspended account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceCounts {
    pub current: usize,
    pub outdated: usize,
    pub inoperable: usize,
    pub drifted: usize,
    pub suspended: usize,
}

impl InstanceCounts {
    pub fn of(rows: &[crate::model::StackInstance]) -> Self {
        use crate::model::InstanceStatus;
        let mut counts = InstanceCounts::default();
        for row in rows {
            match row.status {
                InstanceStatus::Current => counts.current += 1,
                InstanceStatus::Outdated => counts.outdated += 1,
                InstanceStatus::Inoperable => counts.inoperable += 1,
            }
            counts.drifted += usize::from(row.drift_status.as_deref() == Some("DRIFTED"));
            counts.suspended += usize::from(row.detailed_status.as_deref() == Some("SKIPPED_SUSPENDED_ACCOUNT"));
        }
        counts
    }
}

#[derive(Debug, Clone, Default)]
pub struct OperationsData {
    pub region: String,
    pub stack_set: String,
    pub permission_model: Option<PermissionModel>,
    pub operations: Vec<Operation>,
    pub freshness: Freshness,
    /// Indexes into `operations` that pass the filter, in order; `selected` indexes this.
    pub visible: Vec<usize>,
    pub selected: usize,
}

#[derive(Debug, Clone)]
pub struct OperationData {
    pub region: String,
    pub stack_set: String,
    pub operation: Option<Operation>,
    pub grid: ResultGrid,
    /// Sorted row indexes that pass the filters; recomputed when data or filters change.
    pub visible: Vec<u32>,
    /// Cursor: index into `visible`, and a column of `grid.regions`.
    pub cursor_row: usize,
    pub cursor_col: usize,
    /// True once a complete read has landed; until then the grid fills page by page.
    pub complete: bool,
    /// True when the last finished read was a full one; false when part of the grid is inferred.
    pub exact: bool,
    pub freshness: Freshness,
    /// Samples of finished results, in all and per Region, for throughput and ETA.
    pub progress: Vec<ProgressSample>,
    /// Regions seen to begin and end, for the ETA of those still to come.
    pub region_timing: HashMap<String, RegionTiming>,
    pub failures: Vec<FailureGroup>,
    pub failures_selected: usize,
}

impl OperationData {
    pub fn new(region: &str, stack_set: &str) -> Self {
        OperationData {
            region: region.to_string(),
            stack_set: stack_set.to_string(),
            operation: None,
            grid: ResultGrid::default(),
            visible: Vec::new(),
            cursor_row: 0,
            cursor_col: 0,
            complete: false,
            exact: false,
            freshness: Freshness {
                loading: true,
                ..Default::default()
            },
            progress: Vec::new(),
            region_timing: HashMap::new(),
            failures: Vec::new(),
            failures_selected: 0,
        }
    }

    /// The result under the cursor, if that cell has one.
    pub fn cursor_result(&self) -> Option<&crate::model::OperationResult> {
        let row = *self.visible.get(self.cursor_row)? as usize;
        self.grid.cell(row, self.cursor_col)
    }

    /// Results finished per minute over the sampled window (up to three minutes of transitions
    /// seen since the first complete read). None until the window spans two minutes: deployments
    /// finish in waves, and a shorter window measures one wave, not the rollout.
    pub fn throughput_per_min(&self) -> Option<f64> {
        let (first, last) = (self.progress.first()?, self.progress.last()?);
        let secs = (last.at - first.at).as_seconds_f64();
        if secs < THROUGHPUT_MIN_SPAN_SECS || last.finished <= first.finished {
            return None;
        }
        // The least-squares slope over every sample, not the two ends: a read that catches up
        // on several transitions at once moves one end, and would swing the rate with it.
        let n = self.progress.len() as f64;
        let points = || {
            self.progress
                .iter()
                .map(|s| ((s.at - first.at).as_seconds_f64(), s.finished as f64))
        };
        let (mean_t, mean_f) = points().fold((0.0, 0.0), |(t, f), (pt, pf)| (t + pt / n, f + pf / n));
        let (cov, var) = points().fold((0.0, 0.0), |(c, v), (t, f)| {
            (c + (t - mean_t) * (f - mean_f), v + (t - mean_t).powi(2))
        });
        let per_sec = cov / var;
        (per_sec > 0.0 && per_sec.is_finite()).then_some(per_sec * 60.0)
    }

    /// Seconds a wave took in the Regions watched from start to end (their mean), if any.
    fn watched_wave_secs(&self) -> Option<f64> {
        let spans: Vec<f64> = self
            .region_timing
            .values()
            .filter_map(|t| Some((t.ended? - t.begun?).as_seconds_f64() / t.waves.max(1) as f64))
            .collect();
        (!spans.is_empty()).then(|| spans.iter().sum::<f64>() / spans.len() as f64)
    }

    /// After a read that followed the first complete one (`previous` was the read before):
    /// which Regions began and which ended since.
    pub fn note_region_timing(&mut self, previous: OffsetDateTime, at: OffsetDateTime) {
        let Some(operation) = &self.operation else {
            return;
        };
        let between = previous + (at - previous) / 2;
        for region in crate::insight::region_progress(&self.grid, &operation.preferences) {
            let timing = self.region_timing.entry(region.region.clone()).or_default();
            if region.state == crate::insight::RegionState::Waiting {
                timing.seen_waiting = true;
                continue;
            }
            if timing.seen_waiting && timing.begun.is_none() {
                timing.begun = Some(between);
                timing.waves = region.total.div_ceil(region.concurrency.max(1));
            }
            if !region.open() && timing.begun.is_some() && timing.ended.is_none() {
                timing.ended = Some(between);
            }
        }
    }

    /// Time left. One deployment takes, on average, the deployments that may run at once over
    /// the throughput (Little's law, with the number at once as CloudFormation sets it: STRICT
    /// shrinks it with each failure); each Region then needs one such time per wave left
    /// (deployments left over the number it may run at once; for a Region not yet begun,
    /// rounded up: its last wave takes a whole deployment's time however few it holds). Regions side by side (PARALLEL) end with the slowest;
    /// one after another (SEQUENTIAL), their times add up. Without the operation's preferences,
    /// what is left over the throughput.
    pub fn eta(&self) -> Option<time::Duration> {
        let per_min = self.throughput_per_min()?;
        let now = self.progress.last()?.at;
        let total_left = self.grid.count(ResultStatus::Pending) + self.grid.count(ResultStatus::Running);
        let overall = time::Duration::seconds_f64(total_left as f64 * 60.0 / per_min);
        let Some(operation) = &self.operation else {
            return Some(overall);
        };
        let mean_slots = self.progress.iter().map(|s| s.slots as f64).sum::<f64>() / self.progress.len().max(1) as f64;
        if mean_slots < 1.0 {
            return Some(overall);
        }
        let one_deployment = mean_slots * 60.0 / per_min;
        let per_wave = self.watched_wave_secs();
        let prefs = &operation.preferences;
        let times = crate::insight::region_progress(&self.grid, prefs)
            .into_iter()
            .filter(|region| region.open())
            .map(|region| {
                let (left, at_once) = (region.pending + region.running, region.concurrency.max(1));
                let timing = self.region_timing.get(&region.region);
                if region.state == crate::insight::RegionState::Waiting {
                    let waves = left.div_ceil(at_once) as f64;
                    // A Region watched whole knows better: its slowest slot set its end.
                    let watched = per_wave.map_or(0.0, |per_wave| per_wave * waves);
                    (one_deployment * waves).max(watched)
                } else {
                    // Under way, its deployments no longer start together: no whole waves, and
                    // the last ones take about half a deployment's time on average.
                    let from_rate = one_deployment * (left as f64 / at_once as f64).max(0.5);
                    let watched = match (per_wave, timing.and_then(|t| Some((t.begun?, t.waves)))) {
                        (Some(per_wave), Some((begun, waves))) => {
                            per_wave * waves as f64 - (now - begun).as_seconds_f64()
                        }
                        _ => 0.0,
                    };
                    from_rate.max(watched)
                }
            });
        let secs = if prefs.region_concurrency == Some(RegionConcurrency::Parallel) {
            times.fold(0.0, f64::max)
        } else {
            times.sum()
        };
        Some(time::Duration::seconds_f64(secs))
    }
}

/// A short message in the footer: what just happened, or why a key did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub is_error: bool,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct State {
    pub settings: Settings,
    pub now: OffsetDateTime,
    pub screens: Vec<Screen>,
    pub overlay: Option<Overlay>,
    pub generation: u64,
    pub stack_sets: StackSetsData,
    pub pulse: PulseData,
    pub operations: OperationsData,
    pub instances: InstancesData,
    pub operation: OperationData,
    /// The current screen's filter, typed after `/`: account or OU on the grid, names, ids
    /// and reasons on the lists.
    pub filter: Input,
    /// The filters of the screens below the current one, restored on the way back.
    pub saved_filters: Vec<Input>,
    pub filter_editing: bool,
    pub status_filter: Option<ResultStatus>,
    pub flash: Option<Flash>,
    pub size: (u16, u16),
    /// Rows a page moves, as the last frame drew the current screen.
    pub page_rows: u16,
    /// Stop requests sent so far; numbers each one.
    pub stop_attempts: u64,
    pub quit: bool,
    /// When `s` last opened no dialog (read-only, nothing to stop): a copy key within the guard
    /// after it is the stop's `y` typed ahead, not a copy, and leaves the refusal on screen.
    pub stop_refused_at: Option<Instant>,
    /// Effects queued by `update` for the event loop, drained after each message.
    pub effects: Vec<Effect>,
    /// The last CloudFormation calls, oldest first, for the request log view.
    pub requests: Vec<crate::api::reqlog::Record>,
    /// What the watched operation looked like, to notice it ending or failing in a new way.
    pub attention: Attention,
}

/// What notifications compare against: the watched operation's last status and the failure
/// groups already seen (or already there when the grid first filled).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    pub operation_id: String,
    pub last_status: Option<crate::model::OperationStatus>,
    /// (status, reason pattern) of every failure group seen so far.
    pub seen_failures: std::collections::HashSet<(ResultStatus, String)>,
    /// The groups present at the first complete read are known, not new.
    pub seeded: bool,
}

impl State {
    pub fn new(settings: Settings, now: OffsetDateTime) -> Self {
        State {
            settings,
            now,
            screens: vec![Screen::Pulse],
            overlay: None,
            generation: 0,
            stack_sets: StackSetsData {
                freshness: Freshness {
                    loading: true,
                    waiting_since: Some(now),
                    ..Default::default()
                },
                ..Default::default()
            },
            pulse: PulseData::default(),
            operations: OperationsData::default(),
            instances: InstancesData::default(),
            operation: OperationData::new("", ""),
            filter: Input::default(),
            saved_filters: Vec::new(),
            filter_editing: false,
            status_filter: None,
            flash: None,
            size: (100, 30),
            page_rows: 10,
            stop_attempts: 0,
            quit: false,
            stop_refused_at: None,
            effects: Vec::new(),
            requests: Vec::new(),
            attention: Attention::default(),
        }
    }

    /// Whether several Regions are watched: lists and headers then name each stack set's Region
    /// (with one, the header's `region` says it for all).
    pub fn several_regions(&self) -> bool {
        self.settings.target.watched().len() > 1
    }

    /// The layer of the keymap that has the keyboard.
    pub fn mode(&self) -> Mode {
        match &self.overlay {
            Some(Overlay::Confirm(_)) => Mode::Dialog,
            Some(Overlay::Help | Overlay::CellDetail | Overlay::RequestLog | Overlay::InstanceDetail(_)) => Mode::Popup,
            None if self.filter_editing => Mode::Filter,
            None => Mode::Normal,
        }
    }

    /// What the stop dialog can say of the operation's deployments right now.
    pub fn stop_counts(&self, dialog: &StopDialog) -> StopCounts {
        let data = &self.operation;
        let same = data.operation.as_ref().is_some_and(|op| op.id == dialog.operation_id)
            && data.region == dialog.region
            && data.stack_set == dialog.stack_set;
        if !same || !data.complete {
            return StopCounts::Counting;
        }
        StopCounts::Known {
            running: data.grid.count(ResultStatus::Running),
            pending: data.grid.count(ResultStatus::Pending),
            failed: data.grid.count(ResultStatus::Failed),
            exact: data.exact,
        }
    }

    pub fn screen(&self) -> &Screen {
        self.screens.last().unwrap_or(&Screen::Pulse)
    }

    /// The scope the poller should watch for the current screen.
    pub fn scope(&self) -> Scope {
        match self.screen() {
            Screen::Pulse | Screen::StackSets => Scope::StackSets,
            Screen::Operations { region, stack_set } => Scope::Operations {
                region: region.clone(),
                stack_set: stack_set.clone(),
            },
            Screen::Instances { region, stack_set } => Scope::Instances {
                region: region.clone(),
                stack_set: stack_set.clone(),
            },
            Screen::Operation {
                region,
                stack_set,
                operation_id,
            }
            | Screen::Failures {
                region,
                stack_set,
                operation_id,
            } => Scope::Operation {
                region: region.clone(),
                stack_set: stack_set.clone(),
                operation_id: operation_id.clone(),
            },
        }
    }
}

#[cfg(test)]
mod attention_tests;
#[cfg(test)]
mod instances_tests;
#[cfg(test)]
mod pulse_tests;
#[cfg(test)]
mod tests;
