//! Snapshot tests of every screen and overlay, drawn into a `TestBackend` at 100x30 and 80x24
//! with a fixed clock; plus style checks that snapshots cannot make (a FAILED cell is red).

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
    ConfirmMode, DialogFocus, Flash, OperationData, Overlay, ResultGrid, Screen, Settings, StackSetRow, State,
    StopDialog, StopPhase, Target,
};
use sstop::model::{
    CallAs, GateStatus, Operation, OperationAction, OperationPreferences, OperationResult, OperationStatus,
    PermissionModel, RegionConcurrency, ResultStatus, StackSetStatus, StackSetSummary,
};
use sstop::ui::view;

const STACK_SET: &str = "demo-baseline";
const OPERATION_ID: &str = "ba57ca6c-2f4e-4d4b-9b1c-8f0e6a1d2c3e";
const SIZES: [(u16, u16); 2] = [(100, 30), (80, 24)];
const REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-west-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "eu-central-1",
    "us-west-2",
];
const ALREADY_EXISTS: &str = "Resource handler returned message: \"demo-baseline-logs already exists in stack \
    arn:aws:cloudformation:us-east-1:111111111111:stack/StackSet-demo-baseline/1a2b\" (RequestToken: 5f1c, \
    HandlerErrorCode: AlreadyExists)";
const NO_ROLE: &str = "Account should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship \
    to Role 'AWSCloudFormationStackSetAdministrationRole'.";
const TOLERANCE: &str = "Cancelled since failure tolerance has exceeded";

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
            endpoint: None,
        },
        ..Settings::default()
    }
}

/// Draws `state` at `width` x `height` and returns the buffer.
fn draw(state: &State, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| {
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

fn stack_set_row(name: &str, model: PermissionModel, latest: Option<Operation>, checked: Option<i64>) -> StackSetRow {
    let active = latest.as_ref().is_some_and(|op| op.status.is_active());
    StackSetRow {
        summary: StackSetSummary {
            name: name.into(),
            id: format!("{name}:0a1b2c3d"),
            status: StackSetStatus::Active,
            permission_model: Some(model),
            description: None,
            listed_as: None,
        },
        latest,
        active,
        checked_at: checked.map(ago),
    }
}

fn stack_set_rows() -> Vec<StackSetRow> {
    use OperationAction::*;
    use OperationStatus::*;
    use PermissionModel::*;
    let mut deleted = stack_set_row("legacy-iam-roles", SelfManaged, None, Some(600));
    deleted.summary.status = StackSetStatus::Deleted;
    vec![
        stack_set_row(
            STACK_SET,
            ServiceManaged,
            Some(operation(OPERATION_ID, Update, Running, 754, None)),
            Some(2),
        ),
        stack_set_row(
            "org-guardrails",
            ServiceManaged,
            Some(operation("q-1", Create, Queued, 40, None)),
            Some(4),
        ),
        stack_set_row(
            "network-hub-with-a-rather-long-stack-set-name",
            SelfManaged,
            Some(operation("n-1", Update, Succeeded, 7_500, Some(7_000))),
            Some(31),
        ),
        stack_set_row(
            "logging-central",
            ServiceManaged,
            Some(operation("l-1", Delete, Failed, 360_000, Some(359_000))),
            Some(64),
        ),
        stack_set_row(
            "drift-watch",
            ServiceManaged,
            Some(operation("d-1", DetectDrift, Stopped, 90_000, Some(89_000))),
            Some(95),
        ),
        deleted,
        stack_set_row("brand-new", SelfManaged, None, None),
    ]
}

fn stack_sets_state() -> State {
    let mut state = State::new(settings(), now());
    state.stack_sets.rows = stack_set_rows();
    state.stack_sets.visible = (0..state.stack_sets.rows.len()).collect();
    state.stack_sets.selected = 2;
    state.stack_sets.freshness.fetched_at = Some(ago(3));
    state.stack_sets.freshness.loading = false;
    state
}

fn operations_state() -> State {
    use OperationAction::*;
    use OperationStatus::*;
    let mut state = stack_sets_state();
    state.screens.push(Screen::Operations {
        stack_set: STACK_SET.into(),
    });
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
    let mut running = operation(OPERATION_ID, Update, Running, 754, None);
    running.failed_count = Some(7);
    state.operations.stack_set = STACK_SET.into();
    state.operations.permission_model = Some(PermissionModel::ServiceManaged);
    state.operations.operations = vec![
        running,
        operation(
            "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
            Update,
            Succeeded,
            7_300,
            Some(6_900),
        ),
        operation(
            "c0ffee00-1234-4abc-9def-0123456789ab",
            DetectDrift,
            Succeeded,
            40_000,
            Some(39_800),
        ),
        failed,
        stopped,
    ];
    state.operations.visible = (0..state.operations.operations.len()).collect();
    state.operations.selected = 0;
    state.operations.freshness.fetched_at = Some(ago(2));
    state.operations.freshness.loading = false;
    state
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

fn results(accounts: usize, regions: &[&str]) -> Vec<OperationResult> {
    let mut out = Vec::new();
    for a in 0..accounts {
        for (r, region) in regions.iter().enumerate() {
            if a == 10 && r == regions.len() - 1 {
                continue; // an account not deployed to one Region: an empty cell
            }
            let (status, reason) = status_of(a, r);
            out.push(OperationResult {
                account: account(a),
                region: region.to_string(),
                status,
                status_reason: reason.map(str::to_string),
                gate_status: status.is_final().then_some(GateStatus::Skipped),
                gate_reason: status
                    .is_final()
                    .then(|| "No account gate function was found.".to_string()),
                ou: Some(ou(a)),
            });
        }
    }
    out
}

fn fill_operation(data: &mut OperationData, accounts: usize, regions: &[&str]) {
    let mut running = operation(
        OPERATION_ID,
        OperationAction::Update,
        OperationStatus::Running,
        754,
        None,
    );
    running.failed_count = Some(7);
    data.operation = Some(running);
    let order: Vec<String> = vec!["us-east-1".into(), "eu-west-1".into()];
    data.grid = ResultGrid::new(&order);
    data.grid.merge(results(accounts, regions));
    data.visible = data.grid.filtered_rows("", None);
    data.complete = true;
    data.exact = true;
    data.freshness.fetched_at = Some(ago(3));
    data.freshness.loading = false;
    data.progress = vec![(ago(120), 40), (ago(60), 55), (now(), 70)];
}

fn operation_state() -> State {
    let mut state = operations_state();
    state.screens.push(Screen::Operation {
        stack_set: STACK_SET.into(),
        operation_id: OPERATION_ID.into(),
    });
    state.operation = OperationData::new(STACK_SET);
    fill_operation(&mut state.operation, 40, &REGIONS);
    state.operation.cursor_row = 4;
    state.operation.cursor_col = 0;
    state
}

fn dialog(_state: &State) -> StopDialog {
    StopDialog {
        stack_set: STACK_SET.into(),
        operation_id: OPERATION_ID.into(),
        action: "UPDATE".into(),
        call_as: CallAs::SelfAccount,
        delegated_admin_allowed: true,
        focus: DialogFocus::Cancel,
        mode: ConfirmMode::YesNo,
        typed: String::new(),
        phase: StopPhase::Asking,
        shown_at: None,
        last_input: std::time::Instant::now(),
    }
}

fn with_dialog(change: impl FnOnce(&mut StopDialog)) -> State {
    let mut state = operation_state();
    let mut stop = dialog(&state);
    change(&mut stop);
    state.overlay = Some(Overlay::Confirm(stop));
    state
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
    let state = State::new(settings(), now());
    assert_snapshot!("stack_sets_loading", text(&draw(&state, 80, 24)));
    let mut state = State::new(settings(), now());
    state.stack_sets.freshness.error = Some(ApiError::new(
        ErrorKind::ExpiredCredentials,
        "The security token included in the request is expired",
    ));
    assert_snapshot!("stack_sets_error_no_rows", text(&draw(&state, 80, 24)));
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
    let mut state = operation_state();
    state.operation.cursor_row = 33;
    state.operation.cursor_col = 5;
    snapshot_both("operation_grid_scrolled", &state);
}

#[test]
fn operation_grid_many_regions_scrolls_sideways() {
    let regions = [
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
    let mut state = operation_state();
    fill_operation(&mut state.operation, 40, &regions);
    state.operation.cursor_row = 20;
    state.operation.cursor_col = 17;
    snapshot_both("operation_grid_many_regions", &state);
}

#[test]
fn operation_loading_and_filtered() {
    let mut state = operation_state();
    state.operation.complete = false;
    state.operation.operation = None;
    assert_snapshot!("operation_partial_load", text(&draw(&state, 100, 30)));

    let mut state = operation_state();
    state.status_filter = Some(ResultStatus::Failed);
    state.filter = tui_input::Input::new("ou-x9k2-22".into());
    state.filter_editing = true;
    state.operation.visible = state
        .operation
        .grid
        .filtered_rows("ou-x9k2-22", Some(ResultStatus::Failed));
    state.operation.cursor_row = 1;
    assert_snapshot!("operation_filter_editing", text(&draw(&state, 100, 30)));
}

#[test]
fn cell_detail() {
    let mut state = operation_state();
    state.operation.cursor_row = 4; // account 4 failed in us-east-1
    state.overlay = Some(Overlay::CellDetail);
    snapshot_both("cell_detail", &state);

    state.operation.cursor_row = 10;
    state.operation.cursor_col = 5; // the Region account 10 was never deployed to
    assert_snapshot!("cell_detail_empty", text(&draw(&state, 80, 24)));
}

#[test]
fn failures() {
    let mut state = operation_state();
    state.screens.push(Screen::Failures {
        stack_set: STACK_SET.into(),
        operation_id: OPERATION_ID.into(),
    });
    state.operation.failures = state.operation.grid.failure_groups();
    state.operation.failures_selected = 1;
    snapshot_both("failures", &state);
}

#[test]
fn help() {
    let mut state = operation_state();
    state.overlay = Some(Overlay::Help);
    snapshot_both("help", &state);
}

#[test]
fn stop_dialog_asking() {
    snapshot_both("stop_self", &with_dialog(|_| {}));
    snapshot_both(
        "stop_delegated_admin",
        &with_dialog(|d| {
            d.call_as = CallAs::DelegatedAdmin;
            d.focus = DialogFocus::Stop;
        }),
    );
    snapshot_both("stop_self_managed", &with_dialog(|d| d.delegated_admin_allowed = false));
    snapshot_both(
        "stop_type_name",
        &with_dialog(|d| {
            d.mode = ConfirmMode::TypeName;
            d.typed = "demo-base".into();
        }),
    );
}

#[test]
fn stop_dialog_phases() {
    let sending = with_dialog(|d| d.phase = StopPhase::Sending);
    assert_snapshot!("stop_sending", text(&draw(&sending, 100, 30)));
    let sent = with_dialog(|d| {
        d.phase = StopPhase::Sent {
            request_id: Some("3f2a9c1e-77b0-4d1e-a5c2-0d9e8f7a6b5c".into()),
        }
    });
    snapshot_both("stop_sent", &sent);
    let failed = with_dialog(|d| {
        d.phase = StopPhase::Failed {
            message: "the operation has already ended: nothing to stop".into(),
        }
    });
    snapshot_both("stop_failed", &failed);
}

#[test]
fn stop_dialog_with_endpoint_target() {
    let mut state = with_dialog(|_| {});
    state.settings.target = Target {
        profile: None,
        region: Some("eu-west-1".into()),
        endpoint: Some("http://127.0.0.1:4566".into()),
    };
    assert_snapshot!("stop_endpoint_target", text(&draw(&state, 80, 24)));
}

#[test]
fn fetch_failing_header() {
    let mut state = operation_state();
    state.operation.freshness.error = Some(ApiError::new(ErrorKind::Throttled, "Rate exceeded"));
    state.operation.freshness.fetched_at = Some(ago(40));
    let buffer = draw(&state, 100, 30);
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
    let state = operation_state();
    assert_snapshot!("too_small", text(&draw(&state, 45, 12)));
}

#[test]
fn read_only_footer() {
    let mut state = operation_state();
    state.settings.read_only = true;
    let buffer = draw(&state, 100, 30);
    let screen = text(&buffer);
    assert!(!screen.contains(" stop "), "no stop hint in read-only mode");
    assert_snapshot!("read_only", screen);
}

#[test]
fn flash_replaces_hints_while_fresh() {
    let mut state = operation_state();
    state.flash = Some(Flash {
        text: "Nothing to stop: it is SUCCEEDED.".into(),
        is_error: true,
        at: ago(2),
    });
    let screen = text(&draw(&state, 100, 30));
    assert!(screen.lines().last().unwrap().contains("Nothing to stop"));
    state.flash = Some(Flash {
        text: "Nothing to stop: it is SUCCEEDED.".into(),
        is_error: true,
        at: ago(9),
    });
    let screen = text(&draw(&state, 100, 30));
    assert!(!screen.contains("Nothing to stop"));
}

/// Draws `state` in ASCII mode and checks every character is 7-bit. The view replaces any
/// stray non-ASCII with `?` as a last resort, so also check that no `?` appeared beyond those
/// the same screen has in Unicode mode: the theme itself must choose ASCII.
fn assert_seven_bit(state: &State, width: u16, height: u16) -> String {
    let mut ascii = state.clone();
    ascii.settings.ascii = true;
    let mut unicode = state.clone();
    unicode.settings.ascii = false;
    let screen = text(&draw(&ascii, width, height));
    assert!(screen.is_ascii(), "non-ASCII in:\n{screen}");
    let questions = |s: &str| s.matches('?').count();
    let expected = questions(&text(&draw(&unicode, width, height)));
    assert_eq!(questions(&screen), expected, "a glyph was not ASCII in:\n{screen}");
    screen
}

#[test]
fn ascii_mode_is_seven_bit() {
    let mut state = operation_state();
    state.settings.read_only = true;
    state.operation.freshness.error = Some(ApiError::new(ErrorKind::Network, "connection refused"));
    assert_snapshot!("ascii_operation", assert_seven_bit(&state, 100, 30));

    let dialog = with_dialog(|d| d.call_as = CallAs::DelegatedAdmin);
    assert_seven_bit(&dialog, 100, 30);
    assert_snapshot!("ascii_stop_dialog", assert_seven_bit(&dialog, 80, 24));

    let mut others = vec![stack_sets_state(), operations_state(), State::new(settings(), now())];
    for overlay in [Overlay::Help, Overlay::CellDetail] {
        let mut state = operation_state();
        state.overlay = Some(overlay);
        others.push(state);
    }
    let mut failures = operation_state();
    failures.screens.push(Screen::Failures {
        stack_set: STACK_SET.into(),
        operation_id: OPERATION_ID.into(),
    });
    failures.operation.failures = failures.operation.grid.failure_groups();
    others.push(failures);
    let mut filtering = operation_state();
    filtering.filter_editing = true;
    filtering.status_filter = Some(ResultStatus::Cancelled);
    others.push(filtering);
    others.push(with_dialog(|d| d.mode = ConfirmMode::TypeName));
    others.push(with_dialog(|d| d.phase = StopPhase::Sending));
    for state in &others {
        for (width, height) in SIZES {
            assert_seven_bit(state, width, height);
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
    let mut state = operation_state();
    state.settings.no_color = true;
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
    let mut state = operation_state();
    state.settings.no_color = true;
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
        let message = sstop::app::update::stop_error_text(&ApiError::new(kind, message));
        let state = with_dialog(|d| d.phase = StopPhase::Failed { message });
        assert_snapshot!(format!("stop_outcome_{name}"), text(&draw(&state, 100, 30)));
    }
}
