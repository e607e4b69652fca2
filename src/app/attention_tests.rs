//! Tests of `update` for getting attention and handing things on: copy (`y`/`Y`), export (`e`)
//! and the notifications queued when the watched operation ends or fails in a new way.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::model::{
    OperationAction, OperationPreferences, OperationResult, OperationStatus, PermissionModel, StackSetStatus,
};

const NOW: OffsetDateTime = datetime!(2026-11-22 03:30 UTC);

fn key(c: char) -> Msg {
    let modifiers = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Msg::Key(KeyEvent::new(KeyCode::Char(c), modifiers), Instant::now())
}

fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE), Instant::now())
}

fn operation(status: OperationStatus) -> Operation {
    Operation {
        id: "op-1".into(),
        action: OperationAction::Update,
        status,
        created: Some(NOW),
        ended: None,
        status_reason: None,
        failed_count: Some(0),
        preferences: OperationPreferences::default(),
    }
}

fn result(account: &str, region: &str, status: ResultStatus, reason: Option<&str>) -> OperationResult {
    OperationResult {
        account: account.into(),
        region: region.into(),
        status,
        status_reason: reason.map(str::to_string),
        gate_status: None,
        gate_reason: None,
        ou: Some("ou-a".into()),
    }
}

fn apply(state: &mut State, msgs: impl IntoIterator<Item = Msg>) -> Vec<Command> {
    msgs.into_iter().flat_map(|m| update(state, m)).collect()
}

fn settings() -> Settings {
    Settings {
        target: Target {
            region: Some("eu-west-1".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The operations list of `org-baseline` (service-managed) listing op-1 in `status`.
fn on_list(status: OperationStatus) -> State {
    let mut state = State::new(settings(), NOW);
    state.generation = 1;
    apply(
        &mut state,
        [Msg::StackSets {
            generation: 1,
            region: String::new(),
            result: Ok(vec![StackSetSummary {
                name: "org-baseline".into(),
                id: "org-baseline:1".into(),
                status: StackSetStatus::Active,
                permission_model: Some(PermissionModel::ServiceManaged),
                description: None,
                listed_as: None,
            }]),
            at: NOW,
        }],
    );
    // The stack set list, one key from the pulse.
    apply(&mut state, [key('o')]);
    apply(&mut state, [code(KeyCode::Enter)]);
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::Operations {
            generation,
            region: String::new(),
            stack_set: "org-baseline".into(),
            result: Ok(vec![operation(status)]),
            at: NOW,
        }],
    );
    state
}

fn page(state: &State, results: Vec<OperationResult>, read: ReadKind) -> Msg {
    Msg::ResultsPage {
        generation: state.generation,
        results,
        read,
        at: NOW,
    }
}

fn described(state: &State, status: OperationStatus) -> Msg {
    Msg::OperationDescribed {
        generation: state.generation,
        operation: operation(status),
        at: NOW,
    }
}

/// op-1's grid, RUNNING, with one failure already there.
fn on_grid() -> State {
    let mut state = on_list(OperationStatus::Running);
    apply(&mut state, [code(KeyCode::Enter)]);
    let results = vec![
        result("111111111111", "us-east-1", ResultStatus::Succeeded, None),
        result(
            "222222222222",
            "us-east-1",
            ResultStatus::Failed,
            Some("Quota, \"exceeded\" in 222222222222"),
        ),
        result("333333333333", "us-east-1", ResultStatus::Running, None),
    ];
    let msgs = [
        described(&state, OperationStatus::Running),
        page(&state, results, ReadKind::Full),
    ];
    apply(&mut state, msgs);
    state.effects.clear();
    state
}

fn copies(state: &mut State) -> Vec<String> {
    std::mem::take(&mut state.effects)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Copy { text } => Some(text),
            _ => None,
        })
        .collect()
}

fn notifications(state: &mut State) -> Vec<crate::notify::Event> {
    std::mem::take(&mut state.effects)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Notify(event) => Some(event),
            _ => None,
        })
        .collect()
}

#[test]
fn y_copies_what_is_focused_and_the_footer_says_what() {
    let mut state = on_list(OperationStatus::Running);
    apply(&mut state, [key('y')]);
    assert_eq!(copies(&mut state), vec!["op-1".to_string()]);
    assert!(state.flash.as_ref().unwrap().text.contains("Copied operation id op-1"));

    let mut state = on_grid();
    // Rows sort by OU then account: 111.., 222.., 333..; the cursor starts on the first.
    apply(&mut state, [code(KeyCode::Down), key('y')]);
    assert_eq!(copies(&mut state), vec!["222222222222".to_string()]);
    let flash = state.flash.clone().unwrap();
    assert!(
        flash.text.contains("account id 222222222222") && !flash.is_error,
        "{flash:?}"
    );

    // In the cell's detail: its full reason; the detail stays open.
    apply(&mut state, [code(KeyCode::Enter), key('y')]);
    assert_eq!(
        copies(&mut state),
        vec!["Quota, \"exceeded\" in 222222222222".to_string()]
    );
    assert_eq!(state.overlay, Some(Overlay::CellDetail));
    apply(&mut state, [key('Y')]);
    let url = copies(&mut state).pop().unwrap();
    assert!(
        url.starts_with("https://eu-west-1.console.aws.amazon.com/")
            && url.contains(
                "stacksets/org-baseline/stacks?permissions=service&account=222222222222&stackRegion=us-east-1"
            ),
        "{url}"
    );
    // Any other key still closes it.
    apply(&mut state, [key('x')]);
    assert_eq!(state.overlay, None);

    // Failures: the selected group's reason (account ids masked as the group shows them).
    apply(&mut state, [key('f'), key('y')]);
    let copied = copies(&mut state);
    assert_eq!(copied.len(), 1);
    assert!(copied[0].starts_with("Quota, \"exceeded\" in "), "{copied:?}");
    apply(&mut state, [key('Y')]);
    let url = copies(&mut state).pop().unwrap();
    assert!(
        url.ends_with("#/stacksets/org-baseline/operations?permissions=service&operationId=op-1"),
        "{url}"
    );
}

#[test]
fn y_in_the_stop_dialog_still_means_stop_and_never_copies() {
    let mut state = on_grid();
    apply(&mut state, [key('s')]);
    assert!(matches!(state.overlay, Some(Overlay::Confirm(_))));
    let at = Instant::now();
    apply(
        &mut state,
        [Msg::Drawn(FrameReport {
            at,
            dialog_shown: true,
            page_rows: 10,
        })],
    );
    let later = at + Duration::from_secs(1);
    let commands = apply(
        &mut state,
        [Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE), later)],
    );
    assert!(
        matches!(commands.as_slice(), [Command::Stop(_)]),
        "y sends the stop: {commands:?}"
    );
    assert!(copies(&mut state).is_empty());
    // The copy actions live in the screens' layer only.
    let map = KeyMap::default();
    for mode in [Mode::Dialog, Mode::Filter, Mode::Popup] {
        for (action, _) in map.layer(mode) {
            assert!(
                !matches!(action, Action::Copy | Action::CopyUrl),
                "{action:?} in {mode:?}"
            );
        }
    }
}

#[test]
fn copy_without_a_region_or_a_row_says_why() {
    let mut state = on_grid();
    state.settings.target.region = None;
    apply(&mut state, [key('Y')]);
    assert!(copies(&mut state).is_empty());
    let flash = state.flash.clone().unwrap();
    assert!(flash.is_error && flash.text.contains("--region"), "{flash:?}");
    // A filter that hides every row leaves nothing to copy.
    apply(&mut state, [key('/'), key('9'), code(KeyCode::Enter), key('y')]);
    assert!(copies(&mut state).is_empty());
    assert!(state.flash.clone().unwrap().text.contains("Nothing to copy"));
}

#[test]
fn an_operation_that_ends_while_watched_notifies_once() {
    let mut state = on_grid();
    let msg = described(&state, OperationStatus::Running);
    apply(&mut state, [msg]);
    assert!(notifications(&mut state).is_empty());
    let msgs = [
        described(&state, OperationStatus::Stopped),
        described(&state, OperationStatus::Stopped),
    ];
    apply(&mut state, msgs);
    let events = notifications(&mut state);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "operation_ended");
    assert_eq!(events[0].status.as_deref(), Some("STOPPED"));
    assert_eq!(events[0].stack_set, "org-baseline");
}

#[test]
fn an_operation_already_ended_when_opened_does_not_notify() {
    let mut state = on_list(OperationStatus::Succeeded);
    apply(&mut state, [code(KeyCode::Enter)]);
    let msg = described(&state, OperationStatus::Succeeded);
    apply(&mut state, [msg]);
    assert!(notifications(&mut state).is_empty());
}

#[test]
fn a_new_failure_reason_notifies_and_known_ones_do_not() {
    let mut state = on_grid();
    // The failure there at the first read is known; the same cause in another account is too.
    let more = vec![result(
        "333333333333",
        "us-east-1",
        ResultStatus::Failed,
        Some("Quota, \"exceeded\" in 333333333333"),
    )];
    let msg = page(&state, more, ReadKind::Incremental);
    apply(&mut state, [msg]);
    assert!(notifications(&mut state).is_empty());
    // A page in the middle of a read does not count yet; its read's end does.
    let new = vec![result(
        "111111111111",
        "us-east-1",
        ResultStatus::Failed,
        Some("Role AWSCloudFormationStackSetExecutionRole is missing"),
    )];
    let msg = page(&state, new, ReadKind::Partial);
    apply(&mut state, [msg]);
    assert!(notifications(&mut state).is_empty());
    let msg = page(&state, Vec::new(), ReadKind::Incremental);
    apply(&mut state, [msg]);
    let events = notifications(&mut state);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "new_failure");
    assert!(events[0].body.contains("ExecutionRole is missing"));
    let msg = page(&state, Vec::new(), ReadKind::Full);
    apply(&mut state, [msg]);
    assert!(notifications(&mut state).is_empty(), "told once");
}

#[test]
fn e_exports_results_as_csv_or_failures_as_markdown_with_a_dated_name() {
    let mut state = on_grid();
    state.settings.export_dir = Some("/exports".into());
    apply(&mut state, [key('e')]);
    let jobs: Vec<ExportJob> = std::mem::take(&mut state.effects)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Export(job) => Some(job),
            _ => None,
        })
        .collect();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].path,
        std::path::PathBuf::from("/exports/sstop-org-baseline-op-1-results-20261122T033000Z.csv")
    );
    assert!(matches!(&jobs[0].content, ExportContent::Results(r) if r.len() == 3));
    apply(&mut state, [key('f'), key('e')]);
    match state.effects.pop() {
        Some(Effect::Export(ExportJob {
            path,
            content: ExportContent::Failures { groups, .. },
        })) => {
            assert!(path.ends_with("sstop-org-baseline-op-1-failures-20261122T033000Z.md"));
            assert_eq!(groups.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    let path = std::path::PathBuf::from("/exports/x.md");
    apply(
        &mut state,
        [Msg::Exported {
            path: path.clone(),
            result: Ok(1),
        }],
    );
    assert_eq!(state.flash.clone().unwrap().text, "Exported 1 row to /exports/x.md");
    apply(
        &mut state,
        [Msg::Exported {
            path,
            result: Err("Permission denied".into()),
        }],
    );
    let flash = state.flash.clone().unwrap();
    assert!(flash.is_error && flash.text.contains("export_dir"), "{flash:?}");
    // Elsewhere it says where it works.
    let mut state = on_list(OperationStatus::Running);
    apply(&mut state, [key('e')]);
    assert!(state.effects.is_empty());
    assert!(state.flash.clone().unwrap().text.contains("Export works on"));
}

#[test]
fn y_typed_ahead_of_a_refused_stop_keeps_the_refusal_and_a_later_y_copies() {
    let mut state = on_grid();
    state.settings.read_only = true;
    let t = Instant::now();
    let press = |c: char, ms: u64| {
        Msg::Key(
            KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            t + Duration::from_millis(ms),
        )
    };
    apply(&mut state, [press('s', 0), press('y', 50)]);
    assert!(copies(&mut state).is_empty());
    assert!(state.flash.clone().unwrap().text.contains("READ-ONLY"));
    apply(&mut state, [press('y', 1000)]);
    assert_eq!(copies(&mut state), vec!["111111111111".to_string()]);
}

#[test]
fn l_shows_the_request_log_newest_first_and_any_key_closes_it() {
    use crate::api::reqlog::Record;
    let mut state = on_grid();
    apply(&mut state, [key('L')]);
    assert_eq!(state.overlay, Some(Overlay::RequestLog));
    assert_eq!(state.mode(), Mode::Popup);
    let record = |action: &str, ok: bool, outcome: &str, attempts: u32, throttles: u32| Record {
        at: NOW,
        action: action.into(),
        stack_set: Some("org-baseline".into()),
        call_as: Some("DELEGATED_ADMIN".into()),
        outcome: outcome.into(),
        ok,
        latency: Duration::from_millis(42),
        attempts,
        throttles,
    };
    apply(
        &mut state,
        [Msg::Requests(vec![
            record("DescribeStackSetOperation", true, "200", 1, 0),
            record("ListStackSetOperationResults", false, "Throttling", 3, 3),
        ])],
    );
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).unwrap();
    terminal
        .draw(|frame| {
            crate::ui::view(&state, frame);
        })
        .unwrap();
    let buffer = terminal.backend().buffer();
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect()
        })
        .collect();
    let text = rows.join("\n");
    let newest = rows
        .iter()
        .position(|r| r.contains("ListStackSetOperationResults"))
        .expect(&text);
    let older = rows
        .iter()
        .position(|r| r.contains("DescribeStackSetOperation"))
        .expect(&text);
    assert!(newest < older, "newest first:\n{text}");
    assert!(
        rows[newest].contains("Throttling") && rows[newest].contains("3/3T"),
        "{}",
        rows[newest]
    );
    assert!(
        rows[older].contains("DELEGATED_ADMIN") && rows[older].contains("42ms"),
        "{}",
        rows[older]
    );
    assert!(
        text.contains("2 calls kept") && text.contains("1 failed") && text.contains("3 throttled"),
        "{text}"
    );
    apply(&mut state, [key('j')]);
    assert_eq!(state.overlay, None);
}
