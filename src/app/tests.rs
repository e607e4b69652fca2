//! Tests of `update`: navigation, filtering, drill-down, stale results and the stop dialog.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::api::{ApiError, ErrorKind};
use crate::model::{
    OperationAction, OperationPreferences, OperationResult, OperationStatus, PermissionModel, ResultStatus,
    StackSetStatus,
};

const NOW: OffsetDateTime = datetime!(2026-11-22 03:30 UTC);

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn summary(name: &str, model: PermissionModel) -> StackSetSummary {
    StackSetSummary {
        name: name.into(),
        id: format!("{name}:1"),
        status: StackSetStatus::Active,
        permission_model: Some(model),
        description: None,
    }
}

fn operation(id: &str, status: OperationStatus) -> Operation {
    Operation {
        id: id.into(),
        action: OperationAction::Update,
        status,
        created: Some(NOW),
        ended: None,
        status_reason: None,
        failed_count: Some(0),
        preferences: OperationPreferences::default(),
    }
}

fn result(account: &str, region: &str, status: ResultStatus, ou: &str) -> OperationResult {
    OperationResult {
        account: account.into(),
        region: region.into(),
        status,
        status_reason: (status == ResultStatus::Failed).then(|| "boom".to_string()),
        gate_status: None,
        gate_reason: None,
        ou: Some(ou.into()),
    }
}

fn apply(state: &mut State, msgs: impl IntoIterator<Item = Msg>) -> Vec<Command> {
    msgs.into_iter().flat_map(|m| update(state, m)).collect()
}

fn state_with(settings: Settings) -> State {
    let mut state = State::new(settings, NOW);
    state.generation = 1;
    apply(
        &mut state,
        [Msg::StackSets {
            generation: 1,
            result: Ok(vec![
                summary("alpha", PermissionModel::SelfManaged),
                summary("org-baseline", PermissionModel::ServiceManaged),
            ]),
            at: NOW,
        }],
    );
    state
}

/// A state looking at operation `op-1` of `org-baseline` with a small grid loaded.
fn on_operation(settings: Settings, status: OperationStatus) -> State {
    let mut state = state_with(settings);
    apply(&mut state, [key(KeyCode::Down), key(KeyCode::Enter)]);
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::Operations {
            generation,
            stack_set: "org-baseline".into(),
            result: Ok(vec![operation("op-1", status)]),
            at: NOW,
        }],
    );
    apply(&mut state, [key(KeyCode::Enter)]);
    let generation = state.generation;
    apply(
        &mut state,
        [
            Msg::OperationDescribed {
                generation,
                operation: operation("op-1", status),
                at: NOW,
            },
            Msg::ResultsPage {
                generation,
                results: vec![
                    result("111111111111", "us-east-1", ResultStatus::Succeeded, "ou-a"),
                    result("111111111111", "eu-west-1", ResultStatus::Running, "ou-a"),
                    result("222222222222", "us-east-1", ResultStatus::Failed, "ou-b"),
                    result("222222222222", "eu-west-1", ResultStatus::Pending, "ou-b"),
                    result("333333333333", "us-east-1", ResultStatus::Pending, "ou-a"),
                ],
                read: ReadKind::Full,
                at: NOW,
            },
        ],
    );
    state
}

#[test]
fn enter_and_escape_move_through_screens_and_rewatch() {
    let mut state = state_with(Settings::default());
    let commands = apply(&mut state, [key(KeyCode::Enter)]);
    assert_eq!(
        state.screen(),
        &Screen::Operations {
            stack_set: "alpha".into()
        }
    );
    assert_eq!(
        commands,
        vec![Command::Watch {
            scope: Scope::Operations {
                stack_set: "alpha".into()
            },
            generation: 2
        }]
    );
    let commands = apply(&mut state, [key(KeyCode::Esc)]);
    assert_eq!(state.screen(), &Screen::StackSets);
    assert_eq!(
        commands,
        vec![Command::Watch {
            scope: Scope::StackSets,
            generation: 3
        }]
    );
    // Esc on the first screen goes nowhere and asks for nothing.
    assert!(apply(&mut state, [key(KeyCode::Esc)]).is_empty());
}

#[test]
fn a_result_for_a_scope_the_user_left_is_ignored() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    let stale = state.generation - 1;
    apply(
        &mut state,
        [Msg::ResultsPage {
            generation: stale,
            results: vec![result("999999999999", "us-east-1", ResultStatus::Failed, "ou-z")],
            read: ReadKind::Full,
            at: NOW,
        }],
    );
    assert_eq!(state.operation.grid.len(), 5);
    assert!(state.operation.grid.find("999999999999", "us-east-1").is_none());
}

#[test]
fn grid_rows_group_by_ou_and_cursor_moves_within_bounds() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    let data = &state.operation;
    let accounts: Vec<&str> = data
        .visible
        .iter()
        .map(|r| data.grid.rows[*r as usize].account.as_str())
        .collect();
    assert_eq!(accounts, vec!["111111111111", "333333333333", "222222222222"]);
    assert_eq!(data.grid.regions, vec!["eu-west-1", "us-east-1"]);
    apply(&mut state, [ch('j'), ch('j'), ch('j'), ch('j'), ch('l'), ch('l')]);
    assert_eq!((state.operation.cursor_row, state.operation.cursor_col), (2, 1));
    assert_eq!(
        state.operation.cursor_result().map(|r| r.status),
        Some(ResultStatus::Failed)
    );
    apply(&mut state, [ch('g'), ch('h')]);
    assert_eq!((state.operation.cursor_row, state.operation.cursor_col), (0, 0));
}

#[test]
fn enter_on_a_cell_opens_its_detail_and_any_key_closes_it() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [key(KeyCode::Enter)]);
    assert_eq!(state.overlay, Some(Overlay::CellDetail));
    apply(&mut state, [key(KeyCode::Esc)]);
    assert_eq!(state.overlay, None);
    assert!(
        matches!(state.screen(), Screen::Operation { .. }),
        "esc closes the detail, not the screen"
    );
}

#[test]
fn text_filter_narrows_rows_and_escape_clears_it() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [ch('/'), ch('2'), ch('2')]);
    assert!(state.filter_editing);
    assert_eq!(state.operation.visible.len(), 1);
    apply(&mut state, [key(KeyCode::Enter)]);
    assert!(!state.filter_editing);
    assert_eq!(state.filter.value(), "22");
    apply(&mut state, [ch('/'), key(KeyCode::Esc)]);
    assert_eq!(state.operation.visible.len(), 3);
    // OU ids match too.
    apply(
        &mut state,
        [ch('/'), ch('o'), ch('u'), ch('-'), ch('a'), key(KeyCode::Enter)],
    );
    assert_eq!(state.operation.visible.len(), 2);
}

#[test]
fn status_filter_cycles_and_keeps_rows_with_that_status() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [key(KeyCode::Tab)]);
    assert_eq!(state.status_filter, Some(ResultStatus::Failed));
    assert_eq!(state.operation.visible.len(), 1);
    apply(&mut state, [key(KeyCode::Tab)]);
    assert_eq!(state.status_filter, Some(ResultStatus::Running));
    assert_eq!(state.operation.visible.len(), 1);
    apply(&mut state, [key(KeyCode::Tab)]);
    assert_eq!(state.status_filter, Some(ResultStatus::Pending));
    assert_eq!(state.operation.visible.len(), 2);
    for _ in 0..3 {
        apply(&mut state, [key(KeyCode::Tab)]);
    }
    assert_eq!(state.status_filter, None);
    assert_eq!(state.operation.visible.len(), 3);
}

#[test]
fn failures_screen_groups_without_rewatching() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    let commands = apply(&mut state, [ch('f')]);
    assert!(commands.is_empty());
    assert!(matches!(state.screen(), Screen::Failures { .. }));
    assert_eq!(state.operation.failures.len(), 1);
    assert_eq!(state.operation.failures[0].reason, "boom");
    assert!(apply(&mut state, [key(KeyCode::Esc)]).is_empty());
}

#[test]
fn stop_then_no_escape_or_cancel_sends_nothing() {
    for close in [ch('n'), key(KeyCode::Esc), key(KeyCode::Enter)] {
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        assert!(apply(&mut state, [ch('s')]).is_empty());
        assert!(matches!(state.overlay, Some(Overlay::Confirm(_))));
        let commands = apply(&mut state, [close]);
        assert!(commands.is_empty(), "{commands:?}");
        assert_eq!(state.overlay, None);
    }
}

#[test]
fn stop_then_yes_sends_exactly_one_stop_with_the_chosen_call_as() {
    let settings = Settings {
        call_as: CallAs::DelegatedAdmin,
        ..Default::default()
    };
    let mut state = on_operation(settings, OperationStatus::Running);
    apply(&mut state, [ch('s')]);
    let Some(Overlay::Confirm(dialog)) = &state.overlay else {
        panic!("dialog not open")
    };
    assert_eq!(dialog.call_as, CallAs::DelegatedAdmin, "pre-selected from --call-as");
    assert_eq!(dialog.focus, DialogFocus::Cancel);
    assert_eq!((dialog.running, dialog.pending, dialog.failed), (1, 2, 1));
    apply(&mut state, [key(KeyCode::Left)]);
    let commands = apply(&mut state, [ch('y')]);
    assert_eq!(
        commands,
        vec![Command::Stop(StopRequest {
            stack_set: "org-baseline".into(),
            operation_id: "op-1".into(),
            call_as: CallAs::SelfAccount,
        })]
    );
    // A second y while the request is in flight sends nothing more.
    assert!(apply(&mut state, [ch('y')]).is_empty());
}

#[test]
fn enter_on_the_stop_button_sends_the_stop() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [ch('s'), key(KeyCode::Tab)]);
    let commands = apply(&mut state, [key(KeyCode::Enter)]);
    assert!(matches!(commands.as_slice(), [Command::Stop(_)]), "{commands:?}");
}

#[test]
fn read_only_never_opens_the_dialog() {
    let settings = Settings {
        read_only: true,
        ..Default::default()
    };
    let mut state = on_operation(settings, OperationStatus::Running);
    let commands = apply(&mut state, [ch('s'), ch('y'), key(KeyCode::Enter)]);
    assert!(commands.iter().all(|c| !matches!(c, Command::Stop(_))), "{commands:?}");
    assert_eq!(
        state.overlay,
        Some(Overlay::CellDetail),
        "enter fell through to the grid"
    );
    assert!(state.flash.as_ref().is_some_and(|f| f.text.contains("READ-ONLY")));
}

#[test]
fn stop_on_an_ended_operation_says_why_and_sends_nothing() {
    let mut state = on_operation(Settings::default(), OperationStatus::Succeeded);
    let commands = apply(&mut state, [ch('s'), ch('y')]);
    assert!(commands.is_empty());
    assert_eq!(state.overlay, None);
    assert_eq!(
        state.flash.as_ref().map(|f| f.text.as_str()),
        Some("Nothing to stop: it is SUCCEEDED.")
    );
}

#[test]
fn self_managed_stack_sets_are_not_offered_delegated_admin() {
    let settings = Settings {
        call_as: CallAs::DelegatedAdmin,
        ..Default::default()
    };
    let mut state = state_with(settings);
    apply(&mut state, [key(KeyCode::Enter)]);
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::Operations {
            generation,
            stack_set: "alpha".into(),
            result: Ok(vec![operation("op-9", OperationStatus::Running)]),
            at: NOW,
        }],
    );
    apply(&mut state, [ch('s'), key(KeyCode::Right)]);
    let Some(Overlay::Confirm(dialog)) = &state.overlay else {
        panic!("dialog not open")
    };
    assert!(!dialog.delegated_admin_allowed);
    assert_eq!(dialog.call_as, CallAs::SelfAccount);
}

#[test]
fn type_name_mode_needs_the_exact_name() {
    let settings = Settings {
        confirm: ConfirmMode::TypeName,
        ..Default::default()
    };
    let mut state = on_operation(settings, OperationStatus::Running);
    apply(&mut state, [ch('s')]);
    let wrong: Vec<Msg> = "org-base".chars().map(ch).chain([key(KeyCode::Enter)]).collect();
    assert!(apply(&mut state, wrong).is_empty());
    // y and n are just letters here.
    assert!(apply(&mut state, [ch('y'), key(KeyCode::Backspace)]).is_empty());
    let rest: Vec<Msg> = "line".chars().map(ch).collect();
    apply(&mut state, rest);
    let commands = apply(&mut state, [key(KeyCode::Enter)]);
    assert!(matches!(commands.as_slice(), [Command::Stop(_)]), "{commands:?}");
}

#[test]
fn stop_outcomes_are_worded_in_the_dialog() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    let commands = apply(&mut state, [ch('s'), ch('y')]);
    let [Command::Stop(request)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    let error = ApiError::new(ErrorKind::InvalidOperation, "the specified operation isn't valid");
    apply(
        &mut state,
        [Msg::StopFinished {
            request: request.clone(),
            result: Err(error),
        }],
    );
    let Some(Overlay::Confirm(dialog)) = &state.overlay else {
        panic!("dialog closed")
    };
    assert_eq!(
        dialog.phase,
        StopPhase::Failed {
            message: "The operation has already ended: nothing to stop.".into()
        }
    );
    // y retries.
    let commands = apply(&mut state, [ch('y')]);
    assert!(matches!(commands.as_slice(), [Command::Stop(_)]));
    apply(
        &mut state,
        [Msg::StopFinished {
            request: request.clone(),
            result: Ok(Some("req-42".into())),
        }],
    );
    let Some(Overlay::Confirm(dialog)) = &state.overlay else {
        panic!("dialog closed")
    };
    assert_eq!(
        dialog.phase,
        StopPhase::Sent {
            request_id: Some("req-42".into())
        }
    );
}

#[test]
fn fetch_failures_keep_the_last_data() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::FetchFailed {
            generation,
            error: ApiError::new(ErrorKind::Throttled, "Rate exceeded"),
            at: NOW,
        }],
    );
    assert_eq!(state.operation.grid.len(), 5);
    assert_eq!(
        state.operation.freshness.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Throttled)
    );
    apply(
        &mut state,
        [Msg::ResultsPage {
            generation,
            results: vec![],
            read: ReadKind::Incremental,
            at: NOW,
        }],
    );
    assert!(state.operation.freshness.error.is_none());
    assert!(
        !state.operation.exact,
        "an incremental read leaves part of the grid inferred"
    );
}

#[test]
fn quit_keys_quit() {
    let mut state = state_with(Settings::default());
    assert_eq!(apply(&mut state, [ch('q')]), vec![Command::Quit]);
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [ch('s')]);
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(
        apply(&mut state, [ctrl_c]),
        vec![Command::Quit],
        "ctrl-c quits even from the dialog"
    );
}
