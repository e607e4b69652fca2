//! Snapshot tests of every screen and overlay, drawn into a `TestBackend` at 100x30 and 80x24
//! with a fixed clock; plus style checks that snapshots cannot make (a FAILED cell is red).
//!
//! Every state drawn here is reached the way the dashboard reaches it: from
//! `tui::initial_state`, through `app::update` only, with the messages the event loop sends
//! (keys, frames drawn, ticks, resizes) and the ones the poller sends (stack sets, checks,
//! operations, describes, result pages, failures, stop outcomes). No field is set by hand, so a
//! snapshot cannot show a state `update` never produces.

use std::time::{Duration as StdDuration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use unicode_width::UnicodeWidthStr;

use sstop::api::{ApiError, ErrorKind};
use sstop::app::{
    update, Command, ConfirmMode, FrameReport, Msg, Overlay, ReadKind, Screen, Settings, State, StopPhase, StopRequest,
    Target,
};
use sstop::model::{
    CallAs, GateStatus, Operation, OperationAction, OperationPreferences, OperationResult, OperationStatus,
    PermissionModel, RegionConcurrency, ResultStatus, StackSetStatus, StackSetSummary,
};
use sstop::tui::initial_state;
use sstop::ui::{view, Drawn};

const STACK_SET: &str = "demo-baseline";
const OPERATION_ID: &str = "ba57ca6c-2f4e-4d4b-9b1c-8f0e6a1d2c3e";
const SUCCEEDED_ID: &str = "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e";
const REQUEST_ID: &str = "3f2a9c1e-77b0-4d1e-a5c2-0d9e8f7a6b5c";
const SIZES: [(u16, u16); 2] = [(100, 30), (80, 24)];
const REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-west-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "eu-central-1",
    "us-west-2",
];
const MANY_REGIONS: [&str; 19] = [
    "us-east-1",
    "eu-west-1",
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];
const ACCOUNTS: usize = 40;
const ALREADY_EXISTS: &str = "Resource handler returned message: \"demo-baseline-logs already exists in stack \
    arn:aws:cloudformation:us-east-1:111111111111:stack/StackSet-demo-baseline/1a2b\" (RequestToken: 5f1c, \
    HandlerErrorCode: AlreadyExists)";
const NO_ROLE: &str = "Account should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship \
    to Role 'AWSCloudFormationStackSetAdministrationRole'.";
const TOLERANCE: &str = "Cancelled since failure tolerance has exceeded";

/// Results finished at each of the three full reads of the operation, 60 s apart: 15 a minute.
const FINISHED_AT_READS: [usize; 3] = [38, 53, 68];
/// How many results run at once in the rollout (those after the finished ones).
const RUNNING_AT_ONCE: usize = 5;
/// Milliseconds between keys typed in one go: faster than the stop dialog's guard.
const KEY_GAP_MS: u64 = 20;
/// Seconds before the snapshots' time that a stop's outcome arrives: its flash has left the
/// footer (it stays 5 s), so the footer shows the dialog's keys.
const OUTCOME_AGO: i64 = 6;
/// A pause in which a person reads the screen before pressing the next key.
const PAUSE_MS: u64 = 1000;

fn now() -> OffsetDateTime {
    datetime!(2026-11-22 03:30 UTC)
}

fn ago(seconds: i64) -> OffsetDateTime {
    now() - Duration::seconds(seconds)
}

fn settings() -> Settings {
    Settings {
        target: Target {
            profile: Some("org-admin".into()),
            region: Some("us-east-1".into()),
            regions: Vec::new(),
            endpoint: None,
        },
        ..Settings::default()
    }
}

fn read_only() -> Settings {
    Settings {
        read_only: true,
        ..settings()
    }
}

fn type_name() -> Settings {
    Settings {
        confirm: ConfirmMode::TypeName,
        ..settings()
    }
}

/// Drives the real `update` the way the event loop does: keys stamped with instants from a
/// fixed base (no sleeping), frames reported after drawing with the real view, and the
/// poller's results under the generation the state is watching.
struct Harness {
    state: State,
    base: Instant,
    /// Milliseconds since `base`: the instant of the next key or frame.
    ms: u64,
}

impl Harness {
    /// The dashboard as it starts, in a 100x30 terminal, at the snapshots' fixed time.
    fn new(settings: Settings) -> Self {
        let (state, commands) = initial_state(settings, None);
        assert!(matches!(commands.as_slice(), [Command::Watch { generation: 1, .. }]));
        let mut harness = Harness {
            state,
            base: Instant::now(),
            ms: 0,
        };
        harness.send(Msg::Resize { width: 100, height: 30 });
        harness.send(Msg::Tick(now()));
        harness
    }

    fn send(&mut self, msg: Msg) -> Vec<Command> {
        update(&mut self.state, msg)
    }

    /// The home Region, where a single client's stack sets live.
    fn region(&self) -> String {
        self.state.settings.target.region.clone().unwrap_or_default()
    }

    /// The generation the state watches: poller results must carry it to count.
    fn generation(&self) -> u64 {
        self.state.generation
    }

    fn instant(&self) -> Instant {
        self.base + StdDuration::from_millis(self.ms)
    }

    /// A key pressed now; the next one follows a typing gap later.
    fn press(&mut self, code: KeyCode) -> Vec<Command> {
        let at = self.instant();
        self.ms += KEY_GAP_MS;
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE), at))
    }

    fn key(&mut self, c: char) -> Vec<Command> {
        self.press(KeyCode::Char(c))
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(c);
        }
    }

    fn repeat(&mut self, code: KeyCode, times: usize) {
        for _ in 0..times {
            self.press(code);
        }
    }

    /// A key pressed after a pause to read what is on screen.
    fn pause_then(&mut self, code: KeyCode) -> Vec<Command> {
        self.ms += PAUSE_MS;
        self.press(code)
    }

    /// A frame: the real view draws the state at the terminal's size, and the loop reports
    /// what it showed (`Msg::Drawn`), as after every frame.
    fn drawn(&mut self) {
        let (width, height) = self.state.size;
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let mut shown = Drawn::default();
        terminal
            .draw(|frame| {
                shown = view(&self.state, frame);
            })
            .unwrap();
        let at = self.instant();
        self.send(Msg::Drawn(FrameReport {
            at,
            dialog_shown: shown.dialog_shown,
            page_rows: shown.page_rows,
        }));
    }

    /// The poller's overview: a listing, the latest operation of stack sets in turns, and a
    /// later listing (which keeps what the checks found, and adds a new stack set).
    fn load_stack_sets(&mut self, demo_model: PermissionModel) {
        let generation = self.generation();
        let mut listed = stack_set_summaries(demo_model);
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        let first: Vec<StackSetSummary> = listed.iter().filter(|s| s.name != "brand-new").cloned().collect();
        self.send(Msg::StackSets {
            generation,
            region: self.region(),
            result: Ok(first),
            at: ago(605),
        });
        let mut checks = stack_set_checks();
        let demo = checks.pop().expect("demo-baseline is checked last");
        for (name, latest, checked) in checks {
            self.check(name, latest, checked);
        }
        self.send(Msg::StackSets {
            generation,
            region: self.region(),
            result: Ok(listed),
            at: ago(3),
        });
        self.check(demo.0, demo.1, demo.2);
    }

    fn check(&mut self, stack_set: &str, latest: Option<Operation>, checked: i64) {
        let generation = self.generation();
        self.send(Msg::StackSetChecked {
            generation,
            region: self.region(),
            stack_set: stack_set.into(),
            operations: latest.into_iter().collect(),
            at: ago(checked),
        });
    }

    /// The poller's round on the operations screen: the stack set described, then its operations.
    fn load_operations(&mut self, model: PermissionModel) {
        let generation = self.generation();
        self.send(Msg::PermissionModel {
            region: self.region(),
            stack_set: STACK_SET.into(),
            model,
        });
        self.send(Msg::Operations {
            generation,
            region: self.region(),
            stack_set: STACK_SET.into(),
            result: Ok(demo_operations()),
            at: ago(2),
        });
    }

    /// The results of a read as the poller sends them: one page per status class.
    fn result_pages(&mut self, results: &[OperationResult], at: OffsetDateTime) {
        let generation = self.generation();
        for status in ResultStatus::ALL {
            let page: Vec<OperationResult> = results.iter().filter(|r| r.status == *status).cloned().collect();
            if !page.is_empty() {
                self.send(Msg::ResultsPage {
                    generation,
                    results: page,
                    read: ReadKind::Partial,
                    at,
                });
            }
        }
    }

    /// One round of the poller on the watched operation: the describe, a full read of every
    /// status class page by page, and the end of that read.
    fn read_operation(&mut self, results: &[OperationResult], at: OffsetDateTime) {
        let generation = self.generation();
        let failed = results.iter().filter(|r| r.status == ResultStatus::Failed).count();
        self.send(Msg::OperationDescribed {
            generation,
            operation: running_operation(failed),
            at,
        });
        self.result_pages(results, at);
        self.send(Msg::ResultsPage {
            generation,
            results: Vec::new(),
            read: ReadKind::Full,
            at,
        });
    }

    /// A polling call for the current screen failed.
    fn fetch_failed(&mut self, kind: ErrorKind, message: &str) {
        let generation = self.generation();
        self.send(Msg::FetchFailed {
            generation,
            error: ApiError::new(kind, message),
            at: now(),
        });
    }

    /// The stop dialog is drawn, and after reading it the user presses y: the request sent.
    fn confirm_stop(&mut self) -> StopRequest {
        self.drawn();
        let commands = self.pause_then(KeyCode::Char('y'));
        let request = commands.into_iter().find_map(|c| match c {
            Command::Stop(request) => Some(request),
            _ => None,
        });
        request.expect("y on the drawn dialog sends the stop")
    }

    /// The stop lane's answer, arriving when the clock read `seconds` before the snapshots'
    /// time; then the clock ticks on to it. Its flash fills the footer for a few seconds.
    fn stop_finished(&mut self, request: StopRequest, result: Result<Option<String>, ApiError>, seconds: i64) {
        self.send(Msg::Tick(ago(seconds)));
        self.send(Msg::StopFinished { request, result });
        assert_eq!(self.state.flash.as_ref().map(|f| f.at), Some(ago(seconds)));
        self.send(Msg::Tick(now()));
    }

    fn dialog_phase(&self) -> Option<&StopPhase> {
        match &self.state.overlay {
            Some(Overlay::Confirm(dialog)) => Some(&dialog.phase),
            _ => None,
        }
    }
}

/// Draws `state` at `width` x `height` and returns the buffer.
fn draw(state: &State, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| {
            view(state, frame);
        })
        .unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer as text, one line per row, trailing spaces trimmed; wide glyphs take their columns.
fn text(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    let mut out = String::new();
    for row in buffer.content.chunks(width) {
        let mut line = String::new();
        let mut skip = 0;
        for cell in row {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            line.push_str(cell.symbol());
            skip = cell.symbol().width().saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Snapshot `state` at both sizes, named `{name}_{w}x{h}`.
fn snapshot_both(name: &str, state: &State) {
    for (width, height) in SIZES {
        assert_snapshot!(format!("{name}_{width}x{height}"), text(&draw(state, width, height)));
    }
}

fn operation(
    id: &str,
    action: OperationAction,
    status: OperationStatus,
    created: i64,
    ended: Option<i64>,
) -> Operation {
    Operation {
        id: id.into(),
        action,
        status,
        created: Some(ago(created)),
        ended: ended.map(ago),
        status_reason: None,
        failed_count: Some(0),
        preferences: OperationPreferences {
            region_concurrency: Some(RegionConcurrency::Sequential),
            region_order: vec!["us-east-1".into(), "eu-west-1".into()],
            max_concurrent_percentage: Some(10),
            failure_tolerance_count: Some(2),
            ..Default::default()
        },
    }
}

/// The operation the snapshots watch, as DescribeStackSetOperation returns it.
fn running_operation(failed: usize) -> Operation {
    let mut running = operation(
        OPERATION_ID,
        OperationAction::Update,
        OperationStatus::Running,
        754,
        None,
    );
    running.failed_count = Some(failed as u32);
    running
}

fn stack_set_summary(name: &str, model: PermissionModel) -> StackSetSummary {
    StackSetSummary {
        name: name.into(),
        id: format!("{name}:0a1b2c3d"),
        status: StackSetStatus::Active,
        permission_model: Some(model),
        description: None,
        // The poller names the CallAs each stack set was listed under.
        listed_as: Some(CallAs::SelfAccount),
    }
}

/// The stack sets as ListStackSets returns them, by name; `demo_model` is demo-baseline's.
fn stack_set_summaries(demo_model: PermissionModel) -> Vec<StackSetSummary> {
    use PermissionModel::*;
    let mut deleted = stack_set_summary("legacy-iam-roles", SelfManaged);
    deleted.status = StackSetStatus::Deleted;
    vec![
        stack_set_summary("brand-new", SelfManaged),
        stack_set_summary(STACK_SET, demo_model),
        stack_set_summary("drift-watch", ServiceManaged),
        stack_set_summary("logging-central", ServiceManaged),
        stack_set_summary("network-hub-with-a-rather-long-stack-set-name", SelfManaged),
        stack_set_summary("org-guardrails", ServiceManaged),
        deleted,
    ]
}

/// The overview's checks in the order they happen: (stack set, latest operation, seconds ago).
/// brand-new is listed only by the last listing and not checked yet.
fn stack_set_checks() -> Vec<(&'static str, Option<Operation>, i64)> {
    use OperationAction::*;
    use OperationStatus::*;
    vec![
        ("legacy-iam-roles", None, 600),
        (
            "drift-watch",
            Some(operation("d-1", DetectDrift, Stopped, 90_000, Some(89_000))),
            95,
        ),
        (
            "logging-central",
            Some(operation("l-1", Delete, Failed, 360_000, Some(359_000))),
            64,
        ),
        (
            "network-hub-with-a-rather-long-stack-set-name",
            Some(operation("n-1", Update, Succeeded, 7_500, Some(7_000))),
            31,
        ),
        ("org-guardrails", Some(operation("q-1", Create, Queued, 40, None)), 4),
        (STACK_SET, Some(operation(OPERATION_ID, Update, Running, 754, None)), 2),
    ]
}

/// demo-baseline's operations as the poller sends them: newest first.
fn demo_operations() -> Vec<Operation> {
    use OperationAction::*;
    use OperationStatus::*;
    let mut failed = operation(
        "7d1e0f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6",
        Create,
        Failed,
        86_400 * 2,
        Some(86_000 * 2),
    );
    failed.failed_count = Some(12);
    failed.status_reason = Some("The Operation 7d1e0f3a failed to create 12 stack instances.".into());
    let mut stopped = operation(
        "0f9e8d7c-6b5a-4948-8776-655443322110",
        Update,
        Stopped,
        86_400 * 5,
        Some(86_300 * 5),
    );
    stopped.failed_count = Some(1);
    vec![
        running_operation(7),
        operation(SUCCEEDED_ID, Update, Succeeded, 7_300, Some(6_900)),
        operation(
            "c0ffee00-1234-4abc-9def-0123456789ab",
            DetectDrift,
            Succeeded,
            40_000,
            Some(39_800),
        ),
        failed,
        stopped,
    ]
}

fn account(index: usize) -> String {
    format!("{:012}", 104_729_000_000u64 + index as u64 * 7_919_013)
}

fn ou(index: usize) -> String {
    let group = match index {
        0..13 => "11aa",
        13..27 => "22bb",
        _ => "33cc",
    };
    format!("ou-x9k2-{group}7q4m")
}

/// A result for account `a` in Region number `r`, following a sequential rollout
/// that has finished the first Region and is halfway through the second.
fn status_of(a: usize, r: usize) -> (ResultStatus, Option<&'static str>) {
    match r {
        0 if a % 9 == 4 => (ResultStatus::Failed, Some(ALREADY_EXISTS)),
        0 => (ResultStatus::Succeeded, None),
        1 if a % 13 == 7 => (ResultStatus::Failed, Some(NO_ROLE)),
        1 if a < 24 => (ResultStatus::Succeeded, None),
        1 if a < 29 => (ResultStatus::Running, None),
        2 if a % 17 == 3 => (ResultStatus::Cancelled, Some(TOLERANCE)),
        _ => (ResultStatus::Pending, None),
    }
}

/// Every (account, Region) cell the operation deploys to, by account then Region.
fn cells(accounts: usize, regions: usize) -> Vec<(usize, usize)> {
    (0..accounts)
        .flat_map(|a| (0..regions).map(move |r| (a, r)))
        // An account not deployed to one Region: an empty cell.
        .filter(|&(a, r)| !(a == 10 && r == regions - 1))
        .collect()
}

/// The results as a read finds them when `finished` of them have ended. The rollout ends
/// results Region by Region, account by account, so the first `finished` of the final ones in
/// that order have their final status, the next few run, and the rest wait. `usize::MAX`: as
/// the snapshots show them (58 succeeded, 7 failed, 5 running, 3 cancelled, 166 pending).
fn results_when(accounts: usize, regions: &[&str], finished: usize) -> Vec<OperationResult> {
    let cells = cells(accounts, regions.len());
    let mut ended: Vec<(usize, usize)> = cells
        .iter()
        .copied()
        .filter(|&(a, r)| status_of(a, r).0.is_final())
        .collect();
    ended.sort_by_key(|&(a, r)| (r, a));
    cells
        .iter()
        .map(|&(a, r)| {
            let (status, reason) = match ended.iter().position(|c| *c == (a, r)) {
                Some(rank) if rank < finished => status_of(a, r),
                Some(rank) if rank < finished.saturating_add(RUNNING_AT_ONCE) => (ResultStatus::Running, None),
                Some(_) => (ResultStatus::Pending, None),
                // Running at the end, so not started while earlier results were still running.
                None if finished < ended.len() => (ResultStatus::Pending, None),
                None => status_of(a, r),
            };
            OperationResult {
                account: account(a),
                region: regions[r].to_string(),
                status,
                status_reason: reason.map(str::to_string),
                gate_status: status.is_final().then_some(GateStatus::Skipped),
                gate_reason: status
                    .is_final()
                    .then(|| "No account gate function was found.".to_string()),
                ou: Some(ou(a)),
            }
        })
        .collect()
}

/// The overview with every stack set listed and checked, the top row selected.
fn stack_sets_harness(settings: Settings, demo_model: PermissionModel) -> Harness {
    let mut harness = Harness::new(settings);
    harness.load_stack_sets(demo_model);
    harness.drawn();
    // The stack set list, one key from the pulse.
    harness.key('o');
    assert_eq!(harness.state.screen(), &Screen::StackSets);
    harness.drawn();
    harness
}

/// The overview with the third row selected.
fn stack_sets_with(settings: Settings) -> State {
    let mut harness = stack_sets_harness(settings, PermissionModel::ServiceManaged);
    harness.repeat(KeyCode::Down, 2);
    harness.state
}

fn stack_sets_state() -> State {
    stack_sets_with(settings())
}

/// demo-baseline's operations, opened from the overview (it sorts first: active, then by name).
fn operations_harness(settings: Settings, demo_model: PermissionModel) -> Harness {
    let mut harness = stack_sets_harness(settings, demo_model);
    let before = harness.generation();
    harness.press(KeyCode::Enter);
    assert_eq!(harness.generation(), before + 1, "entering a screen watches it anew");
    assert_eq!(
        harness.state.screen(),
        &Screen::Operations {
            region: harness.region(),
            stack_set: STACK_SET.into()
        }
    );
    harness.load_operations(demo_model);
    harness.drawn();
    harness
}

fn operations_with(settings: Settings) -> State {
    operations_harness(settings, PermissionModel::ServiceManaged).state
}

fn operations_state() -> State {
    operations_with(settings())
}

/// The running operation opened from its list, after three full reads 60 s apart (the last
/// `last_read` seconds ago), with the cursor moved down to account 4 (FAILED in us-east-1).
fn operation_harness(settings: Settings, demo_model: PermissionModel, regions: &[&str], last_read: i64) -> Harness {
    let mut harness = operations_harness(settings, demo_model);
    harness.press(KeyCode::Enter);
    assert_eq!(
        harness.state.screen(),
        &Screen::Operation {
            region: harness.region(),
            stack_set: STACK_SET.into(),
            operation_id: OPERATION_ID.into()
        }
    );
    // The first complete read is no sample of progress (its pages span its whole length); the
    // three after it are.
    let first = (FINISHED_AT_READS[0], 180);
    for (finished, seconds) in std::iter::once(first).chain(FINISHED_AT_READS.into_iter().zip([120, 60, 0])) {
        let results = results_when(ACCOUNTS, regions, finished);
        harness.read_operation(&results, ago(last_read + seconds));
    }
    // Throughput comes from these samples: 30 results in 120 s, 15 a minute.
    let samples: Vec<(OffsetDateTime, usize)> = [120, 60, 0]
        .into_iter()
        .map(|seconds| ago(last_read + seconds))
        .zip(FINISHED_AT_READS)
        .collect();
    let progress: Vec<(OffsetDateTime, usize)> = harness
        .state
        .operation
        .progress
        .iter()
        .map(|sample| (sample.at, sample.finished))
        .collect();
    assert_eq!(progress, samples);
    harness.drawn();
    harness.repeat(KeyCode::Down, 4);
    harness
}

fn operation_with(settings: Settings) -> Harness {
    operation_harness(settings, PermissionModel::ServiceManaged, &REGIONS, 3)
}

fn operation_state() -> State {
    operation_with(settings()).state
}

/// The operation with the stop dialog just opened by `s`, then `steps`.
fn dialog_with(settings: Settings, demo_model: PermissionModel, steps: impl FnOnce(&mut Harness)) -> State {
    let mut harness = operation_harness(settings, demo_model, &REGIONS, 3);
    harness.pause_then(KeyCode::Char('s'));
    assert_eq!(harness.dialog_phase(), Some(&StopPhase::Asking));
    steps(&mut harness);
    harness.state
}

fn with_dialog(steps: impl FnOnce(&mut Harness)) -> State {
    dialog_with(settings(), PermissionModel::ServiceManaged, steps)
}

fn sending(settings: Settings) -> State {
    dialog_with(settings, PermissionModel::ServiceManaged, |h| {
        h.confirm_stop();
        assert_eq!(h.dialog_phase(), Some(&StopPhase::Sending));
    })
}

/// The stop sent and refused with `error`.
fn stop_failed_with(error: ApiError) -> State {
    with_dialog(|h| {
        let request = h.confirm_stop();
        h.stop_finished(request, Err(error), OUTCOME_AGO);
        assert!(matches!(h.dialog_phase(), Some(StopPhase::Failed { .. })));
    })
}

/// Every cell of the buffer showing `glyph`, with its foreground colour.
fn glyph_colours(buffer: &Buffer, glyph: &str) -> Vec<Color> {
    buffer
        .content
        .iter()
        .filter(|c| c.symbol() == glyph)
        .map(|c| c.fg)
        .collect()
}

#[test]
fn stack_sets() {
    snapshot_both("stack_sets", &stack_sets_state());
}

#[test]
fn stack_sets_loading_and_failing() {
    let state = Harness::new(settings()).state;
    assert_snapshot!("stack_sets_loading", text(&draw(&state, 80, 24)));
    let mut harness = Harness::new(settings());
    harness.fetch_failed(
        ErrorKind::ExpiredCredentials,
        "The security token included in the request is expired",
    );
    assert_snapshot!("stack_sets_error_no_rows", text(&draw(&harness.state, 80, 24)));
}

#[test]
fn operations() {
    snapshot_both("operations", &operations_state());
}

#[test]
fn operation_grid() {
    snapshot_both("operation_grid", &operation_state());
}

#[test]
fn operation_grid_scrolled() {
    let mut harness = operation_with(settings());
    harness.press(KeyCode::PageDown);
    let row = harness.state.operation.cursor_row;
    assert!(row > 4, "a page down moves by the rows the frame showed");
    harness.repeat(KeyCode::Down, 33 - row);
    harness.repeat(KeyCode::Right, 5);
    snapshot_both("operation_grid_scrolled", &harness.state);
}

#[test]
fn operation_grid_many_regions_scrolls_sideways() {
    let mut harness = operation_harness(settings(), PermissionModel::ServiceManaged, &MANY_REGIONS, 3);
    harness.repeat(KeyCode::Down, 16);
    harness.repeat(KeyCode::Right, 17);
    snapshot_both("operation_grid_many_regions", &harness.state);
}

#[test]
fn operation_loading_and_filtered() {
    // The first read pouring in, page by page, before the describe has answered.
    let mut harness = operations_harness(settings(), PermissionModel::ServiceManaged);
    harness.press(KeyCode::Enter);
    let results = results_when(ACCOUNTS, &REGIONS, usize::MAX);
    harness.result_pages(&results, ago(3));
    harness.drawn();
    harness.repeat(KeyCode::Down, 4);
    assert!(!harness.state.operation.complete);
    assert_snapshot!("operation_partial_load", text(&draw(&harness.state, 100, 30)));

    // FAILED only, the cursor on account 20, then a filter typed that keeps it.
    let mut harness = operation_with(settings());
    harness.press(KeyCode::Tab);
    assert_eq!(harness.state.status_filter, Some(ResultStatus::Failed));
    // The cursor stayed on account 4, now the first row; account 20 is the fourth.
    assert_eq!(harness.state.operation.cursor_row, 0);
    harness.repeat(KeyCode::Down, 3);
    harness.key('/');
    harness.keys("ou-x9k2-22");
    assert_eq!(harness.state.operation.cursor_row, 1);
    assert_snapshot!("operation_filter_editing", text(&draw(&harness.state, 100, 30)));
}

#[test]
fn cell_detail() {
    let mut harness = operation_with(settings());
    harness.key('d'); // account 4 failed in us-east-1
    snapshot_both("cell_detail", &harness.state);

    harness.press(KeyCode::Esc); // any key closes the detail
    harness.repeat(KeyCode::Down, 6);
    harness.repeat(KeyCode::Right, 5);
    harness.key('d'); // the Region account 10 was never deployed to
    assert_snapshot!("cell_detail_empty", text(&draw(&harness.state, 80, 24)));
}

#[test]
fn failures() {
    let mut harness = operation_with(settings());
    harness.key('f');
    harness.drawn();
    harness.press(KeyCode::Down);
    snapshot_both("failures", &harness.state);
}

#[test]
fn help() {
    let mut harness = operation_with(settings());
    harness.key('?');
    snapshot_both("help", &harness.state);
}

#[test]
fn stop_dialog_asking() {
    snapshot_both("stop_self", &with_dialog(|_| {}));
    snapshot_both(
        "stop_delegated_admin",
        &with_dialog(|h| {
            h.key('a');
            h.press(KeyCode::Tab);
        }),
    );
    snapshot_both(
        "stop_self_managed",
        &dialog_with(settings(), PermissionModel::SelfManaged, |h| {
            // The choice is not offered: `a` does nothing.
            h.key('a');
        }),
    );
    snapshot_both(
        "stop_type_name",
        &dialog_with(type_name(), PermissionModel::ServiceManaged, |h| h.keys("demo-base")),
    );
}

#[test]
fn stop_dialog_phases() {
    let sending = sending(settings());
    assert_snapshot!("stop_sending", text(&draw(&sending, 100, 30)));
    let sent = with_dialog(|h| {
        let request = h.confirm_stop();
        h.stop_finished(request, Ok(Some(REQUEST_ID.into())), OUTCOME_AGO);
        assert!(matches!(h.dialog_phase(), Some(StopPhase::Sent { .. })));
    });
    snapshot_both("stop_sent", &sent);
    let failed = stop_failed_with(ApiError::new(
        ErrorKind::InvalidOperation,
        "the operation has already ended: nothing to stop",
    ));
    snapshot_both("stop_failed", &failed);

    // Right when the outcome arrives, its words take the footer's place for a few seconds.
    let just_sent = with_dialog(|h| {
        let request = h.confirm_stop();
        h.stop_finished(request, Ok(Some(REQUEST_ID.into())), 0);
    });
    let screen = text(&draw(&just_sent, 100, 30));
    assert!(screen.lines().last().unwrap().contains("Stop sent for"), "{screen}");
}

#[test]
fn stop_dialog_with_endpoint_target() {
    let target = Settings {
        target: Target {
            profile: None,
            region: Some("eu-west-1".into()),
            regions: Vec::new(),
            endpoint: Some("http://127.0.0.1:4566".into()),
        },
        ..settings()
    };
    let state = dialog_with(target, PermissionModel::ServiceManaged, |_| {});
    assert_snapshot!("stop_endpoint_target", text(&draw(&state, 80, 24)));
}

#[test]
fn fetch_failing_header() {
    // The last good read 40 s ago, then a failure.
    let mut harness = operation_harness(settings(), PermissionModel::ServiceManaged, &REGIONS, 40);
    harness.fetch_failed(ErrorKind::Throttled, "Rate exceeded");
    let buffer = draw(&harness.state, 100, 30);
    assert_snapshot!("fetch_failing", text(&buffer));
    let warning = buffer
        .content
        .iter()
        .find(|c| c.symbol() == "⚠")
        .expect("the warning glyph is drawn");
    assert_eq!(warning.fg, Color::Red);
}

#[test]
fn too_small() {
    let mut harness = operation_with(settings());
    harness.send(Msg::Resize { width: 45, height: 12 });
    let screen = text(&draw(&harness.state, 45, 12));
    // The quit keys come from the keymap, ctrl-c among them: named once.
    assert_eq!(screen.matches("ctrl-c").count(), 1, "{screen}");
    assert_snapshot!("too_small", screen);
}

#[test]
fn read_only_footer() {
    let state = operation_with(read_only()).state;
    let buffer = draw(&state, 100, 30);
    let screen = text(&buffer);
    assert!(!screen.contains(" stop "), "no stop hint in read-only mode");
    assert_snapshot!("read_only", screen);
}

#[test]
fn flash_replaces_hints_while_fresh() {
    // `s` on a SUCCEEDED operation in the list, `seconds` before the snapshots' time.
    let refused = |seconds: i64| {
        let mut harness = operations_harness(settings(), PermissionModel::ServiceManaged);
        harness.press(KeyCode::Down);
        harness.send(Msg::Tick(ago(seconds)));
        harness.key('s');
        harness.send(Msg::Tick(now()));
        harness.state
    };
    let screen = text(&draw(&refused(2), 100, 30));
    assert!(screen.lines().last().unwrap().contains("Nothing to stop"), "{screen}");
    let screen = text(&draw(&refused(9), 100, 30));
    assert!(!screen.contains("Nothing to stop"));
}

/// Draws the state `build` makes from `settings`, in ASCII mode, and checks every character is
/// 7-bit. The view replaces any stray non-ASCII with `?` as a last resort, so also check that
/// no `?` appeared beyond those the same screen has in Unicode mode: the theme itself must
/// choose ASCII.
fn assert_seven_bit(settings: &Settings, build: &dyn Fn(Settings) -> State, width: u16, height: u16) -> String {
    let ascii = build(Settings {
        ascii: true,
        ..settings.clone()
    });
    let unicode = build(Settings {
        ascii: false,
        ..settings.clone()
    });
    let screen = text(&draw(&ascii, width, height));
    assert!(screen.is_ascii(), "non-ASCII in:\n{screen}");
    let questions = |s: &str| s.matches('?').count();
    let expected = questions(&text(&draw(&unicode, width, height)));
    assert_eq!(questions(&screen), expected, "a glyph was not ASCII in:\n{screen}");
    screen
}

#[test]
fn ascii_mode_is_seven_bit() {
    let failing = |settings: Settings| {
        let mut harness = operation_with(settings);
        harness.fetch_failed(ErrorKind::Network, "connection refused");
        harness.state
    };
    assert_snapshot!("ascii_operation", assert_seven_bit(&read_only(), &failing, 100, 30));

    // The instances grid's own shapes (INOPERABLE, suspended, drifted) have ASCII ones too.
    let instances = |settings: Settings| instances_harness_with(settings, scenario_instances()).state;
    let screen = assert_seven_bit(&settings(), &instances, 80, 24);
    for glyph in ["#", "o", "*"] {
        assert!(screen.contains(glyph), "{glyph}:\n{screen}");
    }
    assert_snapshot!("ascii_instances", screen);

    let delegated = |settings: Settings| {
        dialog_with(settings, PermissionModel::ServiceManaged, |h| {
            h.key('a');
        })
    };
    assert_seven_bit(&settings(), &delegated, 100, 30);
    assert_snapshot!("ascii_stop_dialog", assert_seven_bit(&settings(), &delegated, 80, 24));

    let with_key = |c: char| {
        move |settings: Settings| {
            let mut harness = operation_with(settings);
            harness.key(c);
            harness.state
        }
    };
    let filtering = |settings: Settings| {
        let mut harness = operation_with(settings);
        harness.repeat(KeyCode::Tab, 4);
        assert_eq!(harness.state.status_filter, Some(ResultStatus::Cancelled));
        harness.key('/');
        harness.state
    };
    let type_name_dialog = |settings: Settings| {
        dialog_with(
            Settings {
                confirm: ConfirmMode::TypeName,
                ..settings
            },
            PermissionModel::ServiceManaged,
            |_| {},
        )
    };
    let others: Vec<Box<dyn Fn(Settings) -> State>> = vec![
        Box::new(stack_sets_with),
        Box::new(operations_with),
        Box::new(|settings| Harness::new(settings).state),
        Box::new(with_key('?')),
        Box::new(with_key('d')),
        Box::new(with_key('f')),
        Box::new(filtering),
        Box::new(type_name_dialog),
        Box::new(sending),
    ];
    for build in &others {
        for (width, height) in SIZES {
            assert_seven_bit(&settings(), build.as_ref(), width, height);
        }
    }
}

#[test]
fn status_cells_are_coloured() {
    let buffer = draw(&operation_state(), 100, 30);
    let failed = glyph_colours(&buffer, "✗");
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|c| *c == Color::Red), "{failed:?}");
    let succeeded = glyph_colours(&buffer, "✓");
    assert!(!succeeded.is_empty());
    assert!(succeeded.iter().all(|c| *c == Color::Green), "{succeeded:?}");
    let running = glyph_colours(&buffer, "▶");
    assert!(
        !running.is_empty() && running.iter().all(|c| *c == Color::Yellow),
        "{running:?}"
    );
}

#[test]
fn no_color_means_no_colour() {
    let state = operation_with(Settings {
        no_color: true,
        ..settings()
    })
    .state;
    let buffer = draw(&state, 100, 30);
    for glyph in ["✗", "✓", "▶", "·"] {
        let colours = glyph_colours(&buffer, glyph);
        assert!(!colours.is_empty(), "{glyph} drawn");
        assert!(colours.iter().all(|c| *c == Color::Reset), "{glyph}: {colours:?}");
    }
    assert!(buffer
        .content
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
}

#[test]
fn selection_and_cursor_are_reversed() {
    use ratatui::style::Modifier;
    // Stack sets: header 2 lines, column titles, then rows; row 2 is selected.
    let buffer = draw(&stack_sets_state(), 100, 30);
    assert!(buffer[(5, 5)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(5, 4)].modifier.contains(Modifier::REVERSED));

    // Grid: exactly one reversed cell run, holding the FAILED glyph of account 4 in us-east-1.
    let state = operation_with(Settings {
        no_color: true,
        ..settings()
    })
    .state;
    let buffer = draw(&state, 100, 30);
    let reversed: Vec<&str> = buffer
        .content
        .iter()
        .filter(|c| c.modifier.contains(Modifier::REVERSED) && c.symbol() != " ")
        .map(|c| c.symbol())
        .collect();
    assert!(reversed.contains(&"✗"), "{reversed:?}");
}

/// Every way a stop can fail, worded by `stop_error_text` and drawn in the dialog.
#[test]
fn stop_dialog_outcome_messages() {
    let outcomes = [
        (
            "invalid_operation",
            ErrorKind::InvalidOperation,
            "the specified operation isn't valid",
        ),
        (
            "operation_not_found",
            ErrorKind::OperationNotFound,
            "Operation 1234 not found",
        ),
        (
            "stack_set_not_found",
            ErrorKind::StackSetNotFound,
            "StackSet org-guardrails not found",
        ),
        (
            "access_denied",
            ErrorKind::AccessDenied,
            "User is not authorized to perform cloudformation:StopStackSetOperation",
        ),
        ("throttled", ErrorKind::Throttled, "Rate exceeded"),
        ("network", ErrorKind::Network, "connection refused"),
    ];
    for (name, kind, message) in outcomes {
        let error = ApiError::new(kind, message);
        let expected = sstop::messages::stop_error_text(&error);
        let state = stop_failed_with(error);
        assert!(
            matches!(&state.overlay, Some(Overlay::Confirm(d)) if d.phase == StopPhase::Failed { message: expected.clone() }),
            "the dialog shows stop_error_text's words"
        );
        assert_snapshot!(format!("stop_outcome_{name}"), text(&draw(&state, 100, 30)));
    }
}

/// Every column of a terminal 60 wide still shows the whole dialog once it is tall enough:
/// counts fall back to glyphs and numbers, the switch hint goes, nothing is cut at the border.
#[test]
fn a_narrow_but_tall_terminal_still_shows_the_whole_dialog() {
    let mut harness = operation_with(settings());
    harness.send(Msg::Resize { width: 60, height: 30 });
    harness.pause_then(KeyCode::Char('s'));
    harness.drawn();
    let commands = harness.pause_then(KeyCode::Char('y'));
    assert!(
        matches!(commands.as_slice(), [Command::Stop(_)]),
        "the whole dialog fits 60x30, so a deliberate y decides: {commands:?}"
    );
}

/// A type-name dialog with a long typed name wraps it instead of running off the border, so
/// the dialog still counts as shown whole.
#[test]
fn a_long_typed_name_wraps_inside_the_dialog() {
    let mut harness = operation_with(type_name());
    harness.pause_then(KeyCode::Char('s'));
    harness.keys(&"x".repeat(150));
    let (width, height) = harness.state.size;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut shown = Drawn::default();
    terminal
        .draw(|frame| {
            shown = view(&harness.state, frame);
        })
        .unwrap();
    assert!(shown.dialog_shown, "{}", text(terminal.backend().buffer()));
    assert!(text(terminal.backend().buffer()).matches('x').count() >= 150);
}

// --- Rollout insight: per-Region progress, tolerance forecast, outcomes -----------------------

const INSIGHT_SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];
const BUCKET_EXISTS: &str = "ResourceLogicalId:LoggingBucket, ResourceType:AWS::S3::Bucket, \
    ResourceStatusReason:demo-baseline-logs-{account} already exists.";
const SCP_DENY: &str = "ResourceLogicalId:BreakGlassRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:User: \
    arn:aws:sts::{account}:assumed-role/stacksets-exec-5f2a9c0e/AWSCloudFormationStackSetExecutionRole is not \
    authorized to perform: iam:CreateRole on resource: arn:aws:iam::{account}:role/break-glass with an explicit \
    deny in a service control policy (Service: Iam, Status Code: 403, Request ID: 3f6c2a1e-9b7d-4c58-a0e2-6d1f8b4c7a90).";
const SUSPENDED: &str = "This account is suspended. To remove this instance from the stack set, run \
    DeleteStackInstances with the RetainStacks parameter.";
const STS_OFF: &str = "STS is not activated in this region for account:{account}. Your account administrator can \
    activate STS in this region using the IAM Console.";

fn insight_result(a: usize, region: &str, status: ResultStatus, reason: Option<&str>) -> OperationResult {
    OperationResult {
        account: account(a),
        region: region.into(),
        status,
        status_reason: reason.map(|r| r.replace("{account}", &account(a))),
        gate_status: status.is_final().then_some(GateStatus::Skipped),
        gate_reason: None,
        ou: Some(ou(a)),
    }
}

/// The operations list with `op` first (as the newest), then `op` opened and read once, with
/// `results`; the cursor moved `right` Regions to the right.
fn insight_harness(op: Operation, results: &[OperationResult], right: usize) -> Harness {
    let mut harness = stack_sets_harness(settings(), PermissionModel::ServiceManaged);
    harness.press(KeyCode::Enter);
    let generation = harness.generation();
    let mut operations = demo_operations();
    operations[0] = op.clone();
    harness.send(Msg::Operations {
        generation,
        region: harness.region(),
        stack_set: STACK_SET.into(),
        result: Ok(operations),
        at: ago(2),
    });
    harness.drawn();
    harness.press(KeyCode::Enter);
    let generation = harness.generation();
    harness.send(Msg::OperationDescribed {
        generation,
        operation: op,
        at: ago(3),
    });
    harness.result_pages(results, ago(3));
    harness.send(Msg::ResultsPage {
        generation,
        results: Vec::new(),
        read: ReadKind::Full,
        at: ago(3),
    });
    harness.drawn();
    harness.repeat(KeyCode::Right, right);
    harness
}

fn snapshot_insight(name: &str, state: &State) {
    for (width, height) in INSIGHT_SIZES {
        assert_snapshot!(format!("{name}_{width}x{height}"), text(&draw(state, width, height)));
    }
}

/// SEQUENTIAL over 6 Regions, 40 accounts, 25% at once (10), 3 failures tolerated (STRICT caps
/// at 4): us-east-1 done with one failure, eu-west-1 at its limit (3 failed) with one deployment
/// running (STRICT has shrunk it to 1), the rest waiting.
fn at_limit_operation() -> (Operation, Vec<OperationResult>) {
    let mut op = running_operation(4);
    op.preferences = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Sequential),
        region_order: REGIONS.iter().map(|r| r.to_string()).collect(),
        max_concurrent_percentage: Some(25),
        failure_tolerance_count: Some(3),
        ..Default::default()
    };
    let mut results = Vec::new();
    for a in 0..ACCOUNTS {
        let first = match a {
            6 => insight_result(a, REGIONS[0], ResultStatus::Failed, Some(BUCKET_EXISTS)),
            _ => insight_result(a, REGIONS[0], ResultStatus::Succeeded, None),
        };
        results.push(first);
        let second = match a {
            2 | 9 => insight_result(a, REGIONS[1], ResultStatus::Failed, Some(SCP_DENY)),
            5 => insight_result(a, REGIONS[1], ResultStatus::Failed, Some(NO_ROLE)),
            0..23 => insight_result(a, REGIONS[1], ResultStatus::Succeeded, None),
            23 => insight_result(a, REGIONS[1], ResultStatus::Running, None),
            _ => insight_result(a, REGIONS[1], ResultStatus::Pending, None),
        };
        results.push(second);
        for region in &REGIONS[2..] {
            results.push(insight_result(a, region, ResultStatus::Pending, None));
        }
    }
    (op, results)
}

#[test]
fn sequential_operation_with_a_region_at_its_tolerance_limit() {
    let (op, results) = at_limit_operation();
    let harness = insight_harness(op, &results, 1);
    snapshot_insight("insight_sequential_at_limit", &harness.state);
    let screen = text(&draw(&harness.state, 80, 24));
    assert!(
        screen.contains("eu-west-1: 3/3 failures; 1 more fails it, cancels 176 in 5 Regions"),
        "{screen}"
    );
    let screen = text(&draw(&harness.state, 200, 60));
    assert!(
        screen.contains(
            "eu-west-1: 3 of 3 failures tolerated; one more fails the operation and cancels 176 deployments in 5 Regions"
        ),
        "{screen}"
    );
    // The Region at its limit is marked by a sign, not by colour alone, and in red.
    let buffer = draw(&harness.state, 80, 24);
    let warnings = glyph_colours(&buffer, "⚠");
    assert!(
        !warnings.is_empty() && warnings.iter().all(|c| *c == Color::Red),
        "{warnings:?}"
    );
}

#[test]
fn failures_show_category_hint_and_resource_columns() {
    let (op, results) = at_limit_operation();
    let mut harness = insight_harness(op, &results, 0);
    harness.key('f');
    snapshot_insight("insight_failures", &harness.state);
    let screen = text(&draw(&harness.state, 200, 60));
    assert!(screen.contains("BreakGlassRole IAM::Role"), "{screen}");
    assert!(screen.contains("SCP deny"), "{screen}");
}

/// PARALLEL in 19 Regions, 5 at once, 10% tolerated (4 of 40), SOFT: every Region deploying,
/// each at its own point.
#[test]
fn parallel_operation_in_many_regions() {
    let mut op = running_operation(0);
    op.preferences = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Parallel),
        max_concurrent_count: Some(5),
        failure_tolerance_percentage: Some(10),
        concurrency_mode: Some(sstop::model::ConcurrencyMode::SoftFailureTolerance),
        ..Default::default()
    };
    let mut results = Vec::new();
    let mut failed = 0;
    for (r, region) in MANY_REGIONS.iter().enumerate() {
        let done = (r * 7) % 36;
        let fails = r % 5;
        for a in 0..ACCOUNTS {
            let (status, reason) = if a < fails {
                failed += 1;
                (ResultStatus::Failed, Some(STS_OFF))
            } else if a < done {
                (ResultStatus::Succeeded, None)
            } else if a < done + 5 {
                (ResultStatus::Running, None)
            } else {
                (ResultStatus::Pending, None)
            };
            results.push(insight_result(a, region, status, reason));
        }
    }
    op.failed_count = Some(failed);
    let harness = insight_harness(op, &results, 4);
    snapshot_insight("insight_parallel", &harness.state);
    let screen = text(&draw(&harness.state, 80, 24));
    assert!(
        screen.contains("PAR 19 Regions") || screen.contains("PARALLEL in 19 Regions"),
        "{screen}"
    );
}

/// An operation that SUCCEEDED with two failed instances (within its tolerance).
fn succeeded_with_failures() -> (Operation, Vec<OperationResult>) {
    let mut op = running_operation(2);
    op.status = OperationStatus::Succeeded;
    op.ended = Some(ago(60));
    op.preferences.failure_tolerance_count = Some(2);
    let mut results = Vec::new();
    for a in 0..ACCOUNTS {
        for region in &REGIONS {
            let (status, reason) = match (a, *region) {
                (3, "eu-west-1") => (ResultStatus::Failed, Some(SUSPENDED)),
                (17, "us-west-2") => (ResultStatus::Failed, Some(STS_OFF)),
                _ => (ResultStatus::Succeeded, None),
            };
            results.push(insight_result(a, region, status, reason));
        }
    }
    (op, results)
}

#[test]
fn succeeded_with_failures_is_never_plain_success() {
    let (op, results) = succeeded_with_failures();
    let mut harness = insight_harness(op, &results, 1);
    snapshot_insight("insight_succeeded_with_failures", &harness.state);
    let buffer = draw(&harness.state, 80, 24);
    let screen = text(&buffer);
    assert!(screen.contains("SUCCEEDED with failures UPDATE"), "{screen}");
    // The outcome word is yellow, not the green of success.
    let outcome_cells: Vec<Color> = (1..24).map(|x| buffer[(x, 2)].fg).collect();
    assert!(outcome_cells.iter().all(|c| *c == Color::Yellow), "{outcome_cells:?}");
    // Back on the list, the operation's STATUS column says so too.
    harness.press(KeyCode::Esc);
    let list = text(&draw(&harness.state, 80, 24));
    assert_snapshot!("insight_operations_succeeded_with_failures_80x24", list);
    assert!(list.contains("SUCC+FAIL"), "{list}");
}

// ---------------------------------------------------------------------------------------------
// The pulse: the home screen across Regions.

const PULSE_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

fn pulse_settings() -> Settings {
    Settings {
        call_as: CallAs::DelegatedAdmin,
        target: Target {
            profile: Some("org-admin".into()),
            region: Some(PULSE_REGIONS[0].into()),
            regions: PULSE_REGIONS.iter().map(|r| r.to_string()).collect(),
            endpoint: None,
        },
        ..Settings::default()
    }
}

fn summary_as(name: &str, model: PermissionModel, listed_as: CallAs) -> StackSetSummary {
    StackSetSummary {
        name: name.into(),
        id: format!("{name}:6f1c"),
        status: StackSetStatus::Active,
        permission_model: Some(model),
        description: None,
        listed_as: Some(listed_as),
    }
}

/// Three Regions as the overview reports them: listings, then each stack set's latest
/// operations checked at various ages (the rotation checks the rest in turns).
fn pulse_harness() -> Harness {
    use OperationAction::*;
    use OperationStatus::*;
    let mut harness = Harness::new(pulse_settings());
    let generation = harness.generation();
    let east: Vec<StackSetSummary> = [
        (
            "org-guardrails",
            PermissionModel::ServiceManaged,
            CallAs::DelegatedAdmin,
        ),
        ("network-baseline", PermissionModel::SelfManaged, CallAs::SelfAccount),
        ("logging-pipeline", PermissionModel::SelfManaged, CallAs::SelfAccount),
        ("team-baseline-001", PermissionModel::SelfManaged, CallAs::SelfAccount),
        ("team-baseline-002", PermissionModel::SelfManaged, CallAs::SelfAccount),
    ]
    .into_iter()
    .map(|(name, model, call_as)| summary_as(name, model, call_as))
    .collect();
    let west = vec![
        summary_as("eu-data-residency", PermissionModel::SelfManaged, CallAs::SelfAccount),
        summary_as(
            "eu-security-baseline",
            PermissionModel::ServiceManaged,
            CallAs::DelegatedAdmin,
        ),
    ];
    let apac = vec![
        summary_as(
            "apac-guardduty",
            PermissionModel::ServiceManaged,
            CallAs::DelegatedAdmin,
        ),
        summary_as("apac-config", PermissionModel::ServiceManaged, CallAs::DelegatedAdmin),
    ];
    for (region, sets) in [
        (PULSE_REGIONS[0], east),
        (PULSE_REGIONS[1], west),
        (PULSE_REGIONS[2], apac),
    ] {
        harness.send(Msg::StackSets {
            generation,
            region: region.into(),
            result: Ok(sets),
            at: ago(20),
        });
    }
    let mut failing = operation("5d4c3b2a-1f0e-4d9c-8b7a-695847362514", Create, Running, 131, None);
    failing.failed_count = Some(7);
    let running = operation("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", Create, Running, 491, None);
    let queued = operation("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", Update, Queued, 191, None);
    let mut ended_failed = operation(
        "9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a",
        Update,
        Failed,
        5_400,
        Some(4_700),
    );
    ended_failed.failed_count = Some(25);
    ended_failed.status_reason = Some("Failure tolerance exceeded in eu-west-1: 4 of 3 failed.".into());
    let mut with_failures = operation(
        "2b3c4d5e-6f70-4a8b-9cad-beef01234567",
        Update,
        Succeeded,
        9_000,
        Some(7_200),
    );
    with_failures.failed_count = Some(2);
    let checks: Vec<(&str, &str, Vec<Operation>, i64)> = vec![
        (PULSE_REGIONS[0], "logging-pipeline", vec![failing], 2),
        (PULSE_REGIONS[0], "org-guardrails", vec![queued, running], 4),
        (
            PULSE_REGIONS[0],
            "network-baseline",
            vec![operation(
                "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5e",
                Create,
                Running,
                131,
                None,
            )],
            9,
        ),
        (
            PULSE_REGIONS[0],
            "team-baseline-001",
            vec![operation(
                "3c4d5e6f-7081-4a92-b3c4-d5e6f7081920",
                Update,
                Stopped,
                3_000,
                Some(2_400),
            )],
            62,
        ),
        (PULSE_REGIONS[0], "team-baseline-002", vec![with_failures], 125),
        (
            PULSE_REGIONS[1],
            "eu-data-residency",
            vec![operation(
                "b9bcb587-0c1d-4e2f-8a3b-4c5d6e7f8091",
                Update,
                Succeeded,
                600,
                Some(290),
            )],
            14,
        ),
        (PULSE_REGIONS[1], "eu-security-baseline", vec![ended_failed], 31),
        (
            PULSE_REGIONS[2],
            "apac-guardduty",
            vec![operation(
                "164803f2-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
                Create,
                Running,
                371,
                None,
            )],
            6,
        ),
        // Queued with nothing ahead of it on its own stack set.
        (
            PULSE_REGIONS[2],
            "apac-config",
            vec![operation(
                "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
                Update,
                Queued,
                75,
                None,
            )],
            6,
        ),
    ];
    for (region, stack_set, operations, checked) in checks {
        harness.send(Msg::StackSetChecked {
            generation,
            region: region.into(),
            stack_set: stack_set.into(),
            operations,
            at: ago(checked),
        });
    }
    harness.drawn();
    assert_eq!(harness.state.screen(), &Screen::Pulse);
    harness
}

#[test]
fn pulse_across_regions() {
    let mut harness = pulse_harness();
    // The queued operation selected: the line under the list says what it waits behind.
    for _ in 0..4 {
        harness.press(KeyCode::Down);
    }
    let state = &harness.state;
    for (width, height) in [(80, 24), (200, 60)] {
        assert_snapshot!(format!("pulse_{width}x{height}"), text(&draw(state, width, height)));
    }
    // Colour as meaning's second carrier: the failing row's glyph is red, the stopped one is not.
    let buffer = draw(state, 80, 24);
    let row_of = |needle: &str| {
        (0..buffer.area.height)
            .find(|y| {
                let line: String = (0..buffer.area.width).map(|x| buffer[(x, *y)].symbol()).collect();
                line.contains(needle)
            })
            .expect("row on screen")
    };
    assert_eq!(buffer[(0, row_of("logging-pipeline"))].fg, Color::Red);
    assert_ne!(buffer[(0, row_of("team-baseline-001"))].fg, Color::Red);
}

#[test]
fn pulse_drills_into_an_operation_naming_its_region() {
    let mut harness = pulse_harness();
    // apac-guardduty: the fourth row (failing, then running by age).
    let target = harness
        .state
        .pulse
        .visible
        .iter()
        .position(|i| harness.state.pulse.rows[*i].stack_set == "apac-guardduty")
        .expect("on the pulse");
    for _ in 0..target {
        harness.press(KeyCode::Down);
    }
    harness.press(KeyCode::Enter);
    let screen = text(&draw(&harness.state, 80, 24));
    let header = screen.lines().next().unwrap_or_default().to_string();
    assert!(
        header.contains("Pulse › ap-southeast-2 › apac-guardduty › 164803f2"),
        "{screen}"
    );
}

#[test]
fn stop_dialog_opened_from_the_pulse_names_the_stack_sets_region() {
    let mut harness = pulse_harness();
    let target = harness
        .state
        .pulse
        .visible
        .iter()
        .position(|i| harness.state.pulse.rows[*i].stack_set == "apac-guardduty")
        .expect("on the pulse");
    for _ in 0..target {
        harness.press(KeyCode::Down);
    }
    harness.pause_then(KeyCode::Char('s'));
    assert_eq!(harness.dialog_phase(), Some(&StopPhase::Asking));
    harness.drawn();
    let screen = text(&draw(&harness.state, 80, 24));
    assert_snapshot!("pulse_stop_dialog_80x24", screen);
}

const UPDATE_OP: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
const DELETE_OP: &str = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";

fn instance(
    account: &str,
    region: &str,
    status: sstop::model::InstanceStatus,
    detailed: &str,
    drift: &str,
    reason: Option<&str>,
) -> sstop::model::StackInstance {
    sstop::model::StackInstance {
        account: account.into(),
        region: region.into(),
        ou: None,
        status,
        detailed_status: Some(detailed.into()),
        status_reason: reason.map(str::to_string),
        drift_status: Some(drift.into()),
        last_operation_id: Some(if detailed == "INOPERABLE" { DELETE_OP } else { UPDATE_OP }.into()),
    }
}

/// The instances the `instances` scenario leaves: 12 accounts x 3 Regions less one deleted;
/// OUTDATED (failed, cancelled, suspended), INOPERABLE, drifted and in sync ones among them.
/// Self-managed: no OU.
fn scenario_instances() -> Vec<sstop::model::StackInstance> {
    use sstop::model::InstanceStatus::{Current, Inoperable, Outdated};
    let mut out = Vec::new();
    let accounts = (1..=10)
        .map(|n| format!("5100000000{n:02}"))
        .chain(["590000000001".to_string(), "590000000002".to_string()]);
    for account in accounts {
        for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
            let a = account.as_str();
            let drift = match (a, region) {
                ("510000000001" | "510000000003", _) => "IN_SYNC",
                ("510000000002", "us-east-1" | "eu-west-1") | ("510000000005", "ap-southeast-2") => "DRIFTED",
                _ => "NOT_CHECKED",
            };
            out.push(match (a, region) {
                ("510000000009", "eu-west-1") => continue,
                ("510000000010", "eu-west-1") => instance(
                    a,
                    region,
                    Inoperable,
                    "INOPERABLE",
                    drift,
                    Some("ResourceLogicalId:LogsBucket, ResourceType:AWS::S3::Bucket, ResourceStatusReason:The bucket you tried to delete is not empty (Service: S3, Status Code: 409)."),
                ),
                (_, "ap-southeast-2") if a.starts_with("59") => {
                    instance(a, region, Outdated, "CANCELLED", drift, Some(TOLERANCE))
                }
                (_, _) if a.starts_with("59") => {
                    instance(a, region, Outdated, "SKIPPED_SUSPENDED_ACCOUNT", drift, Some(SUSPENDED))
                }
                ("510000000006", "us-east-1") => instance(
                    a,
                    region,
                    Outdated,
                    "FAILED",
                    drift,
                    Some("Stack:arn:aws:cloudformation:us-east-1:510000000006:stack/StackSet-workload-baseline-4f1d2c3b/7c1e9a20 is in UPDATE_ROLLBACK_FAILED state and can not be updated."),
                ),
                ("510000000007" | "510000000008", "ap-southeast-2") => {
                    instance(a, region, Outdated, "FAILED", drift, Some("ResourceLogicalId:DeployRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:not authorized"))
                }
                ("510000000009" | "510000000010", "ap-southeast-2") => {
                    instance(a, region, Outdated, "CANCELLED", drift, Some(TOLERANCE))
                }
                _ => instance(a, region, Current, "SUCCEEDED", drift, None),
            });
        }
    }
    out
}

/// The instances screen of the stack set list's selected stack set, `instances` landed.
fn instances_harness(instances: Vec<sstop::model::StackInstance>) -> Harness {
    instances_harness_with(settings(), instances)
}

fn instances_harness_with(settings: Settings, instances: Vec<sstop::model::StackInstance>) -> Harness {
    let mut harness = stack_sets_harness(settings, PermissionModel::ServiceManaged);
    let commands = harness.key('i');
    let Screen::Instances { stack_set, .. } = harness.state.screen().clone() else {
        panic!("i opened {:?}", harness.state.screen());
    };
    assert!(
        commands.iter().any(|c| matches!(c, Command::Watch { scope: sstop::app::Scope::Instances { stack_set: s, .. }, .. } if *s == stack_set)),
        "{commands:?}"
    );
    let generation = harness.generation();
    harness.send(Msg::Instances {
        generation,
        result: Ok(instances),
        at: now(),
    });
    harness.drawn();
    harness
}

/// `i` on the stack set list opens the selected stack set's instances as an account x Region
/// grid: OUTDATED, INOPERABLE, drifted and suspended-account ones among them, counts on top.
#[test]
fn instances() {
    let mut harness = instances_harness(scenario_instances());
    let shown = text(&draw(&harness.state, 80, 24));
    assert!(
        shown.contains("CURRENT 23") && shown.contains("OUTDATED 11") && shown.contains("INOPERABLE 1"),
        "{shown}"
    );
    assert!(shown.contains("drifted 3") && shown.contains("suspended 4"), "{shown}");
    assert!(
        shown.contains("510000000010") && shown.contains("590000000002"),
        "every account at 80x24:\n{shown}"
    );
    snapshot_both("instances", &harness.state);
    assert_snapshot!("instances_200x60", text(&draw(&harness.state, 200, 60)));

    // Colour is the Status, shape the DetailedStatus: the INOPERABLE cell is red, a FAILED one
    // yellow (OUTDATED), a drifted one green with its mark.
    let buffer = draw(&harness.state, 80, 24);
    let in_row = |account: &str, glyph: &str| -> Vec<Color> {
        let y = text(&buffer)
            .lines()
            .position(|l| l.contains(account))
            .expect("row shown") as u16;
        (0..80)
            .map(|x| &buffer[(x, y)])
            .filter(|c| c.symbol() == glyph)
            .map(|c| c.fg)
            .collect()
    };
    assert_eq!(in_row("510000000010", "■"), vec![Color::Red]);
    assert_eq!(in_row("510000000010", "⊘"), vec![Color::Yellow]);
    assert_eq!(in_row("510000000006", "✗"), vec![Color::Yellow]);
    assert_eq!(in_row("590000000002", "○"), vec![Color::Yellow; 2]);
    assert_eq!(in_row("510000000002", "✓"), vec![Color::Green; 3]);
    assert_eq!(in_row("510000000002", "≠").len(), 2);
    assert_eq!(
        glyph_colours(&buffer, "≠").len(),
        3 + 1,
        "three drifted, and the legend"
    );

    // tab: INOPERABLE only; its account stays, the rest of its row faint.
    harness.press(KeyCode::Tab);
    let buffer = draw(&harness.state, 80, 24);
    let shown = text(&buffer);
    assert!(shown.contains("show INOPERABLE only"), "{shown}");
    assert!(shown.contains("accounts 1–1 of 1"), "{shown}");
    assert!(!shown.contains("510000000001"), "{shown}");
    assert!(
        !glyph_colours(&buffer, "✓").contains(&Color::Green),
        "the rest of the row is faint"
    );

    // v: the list, worst first.
    // tab through every filter (3 Statuses, 5 DetailedStatus, 3 DriftStatus) back to all.
    harness.repeat(KeyCode::Tab, 11);
    assert!(
        harness.state.instances.filter.is_none(),
        "{:?}",
        harness.state.instances.filter
    );
    harness.key('v');
    assert_snapshot!("instances_list_80x24", text(&draw(&harness.state, 80, 24)));
}

/// 40 accounts x 19 Regions at 80x24: a window of rows and Regions around the cursor, and the
/// header says which.
#[test]
fn instances_grid_scrolls_at_80x24_and_survives_30x8() {
    use sstop::model::InstanceStatus::{Current, Outdated};
    let mut many = Vec::new();
    for a in 0..40 {
        for (r, region) in MANY_REGIONS.iter().enumerate() {
            let (status, detailed) = if (a * 7 + r) % 23 == 0 {
                (Outdated, "FAILED")
            } else {
                (Current, "SUCCEEDED")
            };
            let drift = if (a + r) % 31 == 0 { "DRIFTED" } else { "NOT_CHECKED" };
            let mut one = instance(&format!("5100000001{a:02}"), region, status, detailed, drift, None);
            one.ou = Some(format!("ou-i5t5-team{}", a / 10));
            many.push(one);
        }
    }
    let mut harness = instances_harness(many);
    harness.repeat(KeyCode::Char('l'), 12);
    harness.repeat(KeyCode::Char('j'), 30);
    let shown = text(&draw(&harness.state, 80, 24));
    assert!(shown.contains("of 40") && shown.contains("of 19"), "{shown}");
    assert_snapshot!("instances_many_80x24", shown);
    for (width, height) in [(30, 8), (40, 12), (61, 16)] {
        let shown = text(&draw(&harness.state, width, height));
        assert!(!shown.trim().is_empty(), "{width}x{height}");
    }
}

/// `enter` on a cell: the popup asks, then shows everything DescribeStackInstance returned; an
/// error shows in it.
#[test]
fn instance_detail() {
    let mut harness = instances_harness(scenario_instances());
    // The INOPERABLE one: 510000000010's row, eu-west-1's column.
    let data = &harness.state.instances;
    let row = data.grid.accounts.iter().position(|a| a == "510000000010").unwrap();
    let col = data.grid.regions.iter().position(|r| r == "eu-west-1").unwrap();
    harness.repeat(KeyCode::Char('j'), row);
    harness.repeat(KeyCode::Char('l'), col);
    let commands = harness.press(KeyCode::Enter);
    let [Command::DescribeInstance(request)] = commands.as_slice() else {
        panic!("{commands:?}");
    };
    assert_eq!(
        (request.account.as_str(), request.instance_region.as_str()),
        ("510000000010", "eu-west-1")
    );
    let request = request.clone();
    harness.drawn();
    assert_snapshot!("instance_detail_loading", text(&draw(&harness.state, 80, 24)));
    harness.send(Msg::InstanceDescribed {
        request: request.clone(),
        result: Ok(sstop::model::StackInstanceDetail {
            stack_set_id: Some("workload-baseline:5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f".into()),
            account: "510000000010".into(),
            region: "eu-west-1".into(),
            stack_id: Some("arn:aws:cloudformation:eu-west-1:510000000010:stack/StackSet-workload-baseline-4f1d2c3b/0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a".into()),
            parameter_overrides: vec![sstop::model::ParameterOverride {
                key: "RetentionDays".into(),
                value: Some("90".into()),
                use_previous_value: false,
                resolved_value: None,
            }],
            status: Some(sstop::model::InstanceStatus::Inoperable),
            detailed_status: Some("INOPERABLE".into()),
            status_reason: Some("ResourceLogicalId:LogsBucket, ResourceType:AWS::S3::Bucket, ResourceStatusReason:The bucket you tried to delete is not empty (Service: S3, Status Code: 409).".into()),
            ou: None,
            drift_status: Some("DRIFTED".into()),
            last_drift_check: Some(ago(1800)),
            last_operation_id: Some("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d".into()),
        }),
    });
    harness.drawn();
    let shown = text(&draw(&harness.state, 80, 24));
    for field in [
        "StackSetId",
        "StackId",
        "ParameterOverrides",
        "RetentionDays = 90",
        "DetailedStatus",
        "StatusReason",
        "LastDriftCheck",
        "30m",
        "LastOperationId",
        "OrganizationalUnit",
    ] {
        assert!(shown.contains(field), "{field}:\n{shown}");
    }
    assert_snapshot!("instance_detail_80x24", shown);
    assert_snapshot!("instance_detail_200x60", text(&draw(&harness.state, 200, 60)));
    harness.press(KeyCode::Esc);
    harness.press(KeyCode::Enter);
    harness.send(Msg::InstanceDescribed {
        request,
        result: Err(ApiError {
            kind: ErrorKind::Other,
            code: Some("StackInstanceNotFoundException".into()),
            message: "Stack instance 510000000010 in eu-west-1 of stack set workload-baseline not found".into(),
            request_id: None,
        }),
    });
    harness.drawn();
    assert_snapshot!("instance_detail_error", text(&draw(&harness.state, 80, 24)));
}
