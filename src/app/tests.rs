//! Tests of `update`: navigation, filtering, drill-down, stale results and the stop dialog.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// The instant every test's keys count from.
fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn at_ms(ms: u64) -> Instant {
    t0() + Duration::from_millis(ms)
}

/// A key typed at t0: keys in one test without a time all come in one burst.
fn key(code: KeyCode) -> Msg {
    key_at(code, 0)
}

fn key_at(code: KeyCode, ms: u64) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE), at_ms(ms))
}

/// A frame showing whatever is open, at `ms`.
fn drawn(ms: u64) -> Msg {
    Msg::Drawn(FrameReport {
        at: at_ms(ms),
        dialog_shown: true,
        page_rows: 10,
    })
}

/// The dialog on screen at 0 ms, then a key a person presses after reading it (1 s later).
fn decide(code: KeyCode) -> [Msg; 2] {
    [drawn(0), key_at(code, 1000)]
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
        listed_as: None,
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
            region: "us-east-1".into(),
            result: Ok(vec![
                summary("alpha", PermissionModel::SelfManaged),
                summary("org-baseline", PermissionModel::ServiceManaged),
            ]),
            at: NOW,
        }],
    );
    // The stack set list, one key from the pulse.
    apply(&mut state, [ch('o')]);
    state
}

/// A state on the operations list of `org-baseline`, listing `op-1` in `status`.
fn on_operations_list(settings: Settings, status: OperationStatus) -> State {
    let mut state = state_with(settings);
    apply(&mut state, [key(KeyCode::Down), key(KeyCode::Enter)]);
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::Operations {
            generation,
            region: "us-east-1".into(),
            stack_set: "org-baseline".into(),
            result: Ok(vec![operation("op-1", status)]),
            at: NOW,
        }],
    );
    state
}

/// The open stop dialog; panics when there is none.
fn open_dialog(state: &State) -> &StopDialog {
    match &state.overlay {
        Some(Overlay::Confirm(dialog)) => dialog,
        other => panic!("no stop dialog: {other:?}"),
    }
}

/// A state looking at operation `op-1` of `org-baseline` with a small grid loaded.
fn on_operation(settings: Settings, status: OperationStatus) -> State {
    let mut state = on_operations_list(settings, status);
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
            region: "us-east-1".into(),
            stack_set: "alpha".into()
        }
    );
    assert_eq!(
        commands,
        vec![Command::Watch {
            scope: Scope::Operations {
                region: "us-east-1".into(),
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
    let dialog = open_dialog(&state);
    assert_eq!(dialog.call_as, CallAs::DelegatedAdmin, "pre-selected from --call-as");
    assert_eq!(dialog.focus, DialogFocus::Cancel);
    assert_eq!(
        state.stop_counts(dialog),
        StopCounts::Known {
            running: 1,
            pending: 2,
            failed: 1,
            exact: false
        }
    );
    apply(&mut state, [key(KeyCode::Left)]);
    let commands = apply(&mut state, decide(KeyCode::Char('y')));
    assert_eq!(
        commands,
        vec![Command::Stop(StopRequest {
            region: "us-east-1".into(),
            stack_set: "org-baseline".into(),
            operation_id: "op-1".into(),
            call_as: CallAs::SelfAccount,
            attempt: 1,
        })]
    );
    // A second y while the request is in flight sends nothing more.
    assert!(apply(&mut state, [key_at(KeyCode::Char('y'), 5000)]).is_empty());
}

#[test]
fn enter_on_the_stop_button_sends_the_stop() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [ch('s'), key(KeyCode::Tab)]);
    let commands = apply(&mut state, decide(KeyCode::Enter));
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
            region: "us-east-1".into(),
            stack_set: "alpha".into(),
            result: Ok(vec![operation("op-9", OperationStatus::Running)]),
            at: NOW,
        }],
    );
    apply(&mut state, [ch('s'), key(KeyCode::Right)]);
    let dialog = open_dialog(&state);
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
    let commands = apply(&mut state, decide(KeyCode::Enter));
    assert!(matches!(commands.as_slice(), [Command::Stop(_)]), "{commands:?}");
}

#[test]
fn stop_outcomes_are_worded_in_the_dialog() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [ch('s')]);
    let commands = apply(&mut state, decide(KeyCode::Char('y')));
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
    let dialog = open_dialog(&state);
    assert_eq!(
        dialog.phase,
        StopPhase::Failed {
            message: "The operation has already ended: nothing to stop.".into()
        }
    );
    // y retries, once the failure has been on screen.
    assert!(apply(&mut state, [key_at(KeyCode::Char('y'), 2000)]).is_empty());
    let commands = apply(&mut state, [drawn(2000), key_at(KeyCode::Char('y'), 3000)]);
    let [Command::Stop(retry)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert_ne!(retry.attempt, request.attempt);
    // A late answer to the first attempt is not the retry's answer.
    apply(
        &mut state,
        [Msg::StopFinished {
            request: request.clone(),
            result: Ok(Some("req-41".into())),
        }],
    );
    assert_eq!(open_dialog(&state).phase, StopPhase::Sending);
    apply(
        &mut state,
        [Msg::StopFinished {
            request: retry.clone(),
            result: Ok(Some("req-42".into())),
        }],
    );
    let dialog = open_dialog(&state);
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
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), t0());
    assert_eq!(
        apply(&mut state, [ctrl_c]),
        vec![Command::Quit],
        "ctrl-c quits even from the dialog"
    );
}

/// Pastes, bursts, resizes and frames from the adversary's side: typed-ahead `s y`, a paste of
/// a filter with a newline and `s`/`y` after it, a dialog under a too-small screen.
mod guard {
    use super::*;

    fn paste(text: &str, ms: u64) -> Msg {
        Msg::Paste(text.into(), at_ms(ms))
    }

    fn stops(commands: &[Command]) -> usize {
        commands.iter().filter(|c| matches!(c, Command::Stop(_))).count()
    }

    #[test]
    fn typed_ahead_confirmation_is_discarded() {
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        let commands = apply(&mut state, [ch('s'), drawn(0), key_at(KeyCode::Char('y'), 50)]);
        assert_eq!(stops(&commands), 0);
        assert!(
            matches!(state.overlay, Some(Overlay::Confirm(_))),
            "the dialog stays open"
        );
        assert!(state.flash.as_ref().is_some_and(|f| f.text.starts_with("Not sent")));
        // Key repeat: y held down keeps the burst going; each y is under the guard.
        let repeat: Vec<Msg> = (1..40).map(|i| key_at(KeyCode::Char('y'), 50 + i * 33)).collect();
        assert_eq!(stops(&apply(&mut state, repeat)), 0);
        // After a pause, one deliberate y sends.
        assert_eq!(stops(&apply(&mut state, [key_at(KeyCode::Char('y'), 2000)])), 1);
    }

    #[test]
    fn a_dialog_never_drawn_whole_cannot_be_confirmed() {
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        apply(&mut state, [ch('s')]);
        let hidden = Msg::Drawn(FrameReport {
            at: at_ms(0),
            dialog_shown: false,
            page_rows: 3,
        });
        let commands = apply(&mut state, [hidden, key_at(KeyCode::Char('y'), 5000)]);
        assert_eq!(stops(&commands), 0);
        assert!(
            state
                .flash
                .as_ref()
                .is_some_and(|f| f.text.contains("too small to show the whole")),
            "the refusal names the cause: {:?}",
            state.flash
        );
    }

    #[test]
    fn keys_do_nothing_while_the_screen_is_too_small() {
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        apply(&mut state, [Msg::Resize { width: 40, height: 10 }]);
        let commands = apply(&mut state, [ch('s'), drawn(0), key_at(KeyCode::Char('y'), 2000)]);
        assert_eq!(stops(&commands), 0);
        assert_eq!(state.overlay, None, "s opened nothing");
        assert_eq!(apply(&mut state, [ch('q')]), vec![Command::Quit], "q still quits");
    }

    #[test]
    fn input_ignored_under_a_small_screen_still_counts_as_a_burst() {
        // Found by the property test: a paste while the screen was too small was ignored
        // without restarting the dialog's quiet period, so a y right after it decided.
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        apply(&mut state, [ch('s'), drawn(0)]);
        let commands = apply(
            &mut state,
            [
                Msg::Resize { width: 40, height: 10 },
                paste("x", 1000),
                Msg::Resize { width: 100, height: 30 },
                key_at(KeyCode::Char('y'), 1000),
            ],
        );
        assert_eq!(stops(&commands), 0);
        // Shown whole again at the restored size, then a deliberate y.
        assert_eq!(
            stops(&apply(&mut state, [drawn(1500), key_at(KeyCode::Char('y'), 2000)])),
            1
        );
    }

    #[test]
    fn an_alt_key_is_esc_and_a_key_read_together_so_it_cancels() {
        // Found by an adversarial run: `esc y` in one read arrives as Alt-y, and was taken as y.
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        apply(&mut state, [ch('s'), drawn(0)]);
        let alt_y = Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT), at_ms(1000));
        assert_eq!(stops(&apply(&mut state, [alt_y])), 0);
        assert_eq!(state.overlay, None, "the escape it carried closed the dialog");
        // Outside the dialog an Alt key does nothing at all (alt-s does not open it).
        let alt_s = Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::ALT), at_ms(2000));
        apply(&mut state, [alt_s]);
        assert_eq!(state.overlay, None);
    }

    #[test]
    fn counts_replacing_counting_must_be_seen_before_a_decision() {
        let mut state = on_operations_list(Settings::default(), OperationStatus::Running);
        apply(&mut state, [ch('s'), drawn(0)]);
        let generation = state.generation;
        apply(
            &mut state,
            [
                Msg::OperationDescribed {
                    generation,
                    operation: operation("op-1", OperationStatus::Running),
                    at: NOW,
                },
                Msg::ResultsPage {
                    generation,
                    results: vec![result("111111111111", "us-east-1", ResultStatus::Pending, "ou-a")],
                    read: ReadKind::Full,
                    at: NOW,
                },
            ],
        );
        // The counts appeared at 1000 ms; a y right after decides on text no one has read.
        assert_eq!(stops(&apply(&mut state, [key_at(KeyCode::Char('y'), 1000)])), 0);
        assert_eq!(
            stops(&apply(&mut state, [drawn(1100), key_at(KeyCode::Char('y'), 1500)])),
            1
        );
    }

    #[test]
    fn a_paste_is_filter_text_and_never_keys() {
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        apply(&mut state, [ch('/'), paste("222222222222\nsystem", 0)]);
        assert!(state.filter_editing, "the newline did not end the filter");
        assert_eq!(state.filter.value(), "222222222222 system");
        // A paste of s and y outside an input does nothing at all.
        apply(&mut state, [key(KeyCode::Enter)]);
        let commands = apply(&mut state, [paste("sy", 10), drawn(20), paste("y", 2000)]);
        assert_eq!(stops(&commands), 0);
        assert_eq!(state.overlay, None);
    }

    #[test]
    fn a_huge_paste_is_cut_with_a_notice() {
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        let big = "1".repeat(1 << 20);
        apply(&mut state, [ch('/'), paste(&big, 0)]);
        assert_eq!(state.filter.value().chars().count(), layout::MAX_FILTER_CHARS);
        assert!(state.flash.as_ref().is_some_and(|f| f.text.contains("Paste cut")));
        // Typing past the cap is refused too, with the same kind of notice.
        apply(&mut state, [ch('9')]);
        assert_eq!(state.filter.value().chars().count(), layout::MAX_FILTER_CHARS);
    }

    #[test]
    fn a_pasted_name_still_needs_a_deliberate_enter() {
        let settings = Settings {
            confirm: ConfirmMode::TypeName,
            ..Default::default()
        };
        let mut state = on_operation(settings, OperationStatus::Running);
        let commands = apply(
            &mut state,
            [
                ch('s'),
                drawn(0),
                paste("org-baseline", 1000),
                key_at(KeyCode::Enter, 1010),
            ],
        );
        assert_eq!(stops(&commands), 0, "enter in the paste's burst");
        assert_eq!(stops(&apply(&mut state, [key_at(KeyCode::Enter, 2000)])), 1);
    }

    #[test]
    fn stop_from_the_operations_list_opens_the_grid_and_counts_first() {
        let mut state = on_operations_list(Settings::default(), OperationStatus::Running);
        let commands = apply(&mut state, [ch('s')]);
        assert!(
            matches!(
                commands.as_slice(),
                [Command::Watch {
                    scope: Scope::Operation { .. },
                    ..
                }]
            ),
            "{commands:?}"
        );
        let dialog = open_dialog(&state);
        assert_eq!(state.stop_counts(dialog), StopCounts::Counting);
        let generation = state.generation;
        apply(
            &mut state,
            [
                Msg::OperationDescribed {
                    generation,
                    operation: operation("op-1", OperationStatus::Running),
                    at: NOW,
                },
                Msg::ResultsPage {
                    generation,
                    results: vec![result("111111111111", "us-east-1", ResultStatus::Pending, "ou-a")],
                    read: ReadKind::Partial,
                    at: NOW,
                },
            ],
        );
        let dialog = open_dialog(&state);
        assert_eq!(
            state.stop_counts(dialog),
            StopCounts::Counting,
            "a partial read is not a count"
        );
        apply(
            &mut state,
            [Msg::ResultsPage {
                generation,
                results: vec![result("222222222222", "us-east-1", ResultStatus::Pending, "ou-a")],
                read: ReadKind::Full,
                at: NOW,
            }],
        );
        let dialog = open_dialog(&state);
        assert_eq!(
            state.stop_counts(dialog),
            StopCounts::Known {
                running: 0,
                pending: 2,
                failed: 0,
                exact: false
            }
        );
    }

    #[test]
    fn lists_filter_and_the_filter_comes_back_on_the_way_back() {
        let mut state = state_with(Settings::default());
        apply(&mut state, [ch('/'), ch('o'), ch('r'), ch('g'), key(KeyCode::Enter)]);
        assert_eq!(state.stack_sets.visible.len(), 1);
        apply(&mut state, [key(KeyCode::Enter)]);
        assert_eq!(
            state.screen(),
            &Screen::Operations {
                region: "us-east-1".into(),
                stack_set: "org-baseline".into()
            }
        );
        assert_eq!(state.filter.value(), "", "a new screen starts unfiltered");
        apply(&mut state, [key(KeyCode::Esc)]);
        assert_eq!(state.filter.value(), "org");
        assert_eq!(state.stack_sets.visible.len(), 1);
    }

    /// One thing that can happen to the app, for the property test.
    #[derive(Debug, Clone)]
    enum Event {
        Key(KeyCode),
        Paste(String),
        Drawn(bool),
        Resize(u16, u16),
        Wait(u64),
        StopAnswer(bool),
    }

    fn event() -> impl proptest::strategy::Strategy<Value = Event> {
        use proptest::prelude::*;
        let keys = prop::sample::select(vec![
            KeyCode::Char('n'),
            KeyCode::Char('a'),
            KeyCode::Char('/'),
            KeyCode::Char('f'),
            KeyCode::Char('j'),
            KeyCode::Char('o'),
            KeyCode::Char('r'),
            KeyCode::Char('g'),
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::Left,
            KeyCode::Backspace,
        ]);
        prop_oneof![
            3 => Just(Event::Key(KeyCode::Char('s'))),
            3 => Just(Event::Key(KeyCode::Char('y'))),
            4 => keys.prop_map(Event::Key),
            1 => "[sy\n/a-z]{0,12}".prop_map(Event::Paste),
            3 => any::<bool>().prop_map(Event::Drawn),
            1 => (prop::sample::select(vec![20u16, 59, 60, 100]), prop::sample::select(vec![5u16, 14, 15, 30]))
                .prop_map(|(w, h)| Event::Resize(w, h)),
            3 => prop::sample::select(vec![0u64, 10, 100, 299, 300, 1000]).prop_map(Event::Wait),
            1 => any::<bool>().prop_map(Event::StopAnswer),
        ]
    }

    /// No Stop command unless the dialog was drawn whole at least the guard's length before the
    /// key, the key came the guard's length after any other input, the screen was big enough,
    /// and the command came from a key (never a paste, a frame, a resize or an answer).
    #[test]
    fn no_stop_without_a_seen_dialog_and_a_deliberate_key() {
        use proptest::strategy::Strategy;
        use proptest::test_runner::{Config, TestRunner};
        let guard = layout::CONFIRM_GUARD.as_millis() as u64;
        // A fixed seed: the same cases on every run, so a failure reproduces and the
        // non-vacuity check below cannot flicker.
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 3000,
                failure_persistence: None,
                ..Config::default()
            },
            proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let sent = std::cell::Cell::new(0usize);
        // Where the keys start: the grid, the operations list, or the pulse (the home screen).
        let strategy = (proptest::collection::vec(event(), 1..60), 0u8..3, proptest::bool::ANY);
        runner
            .run(&strategy.boxed(), |(events, start, type_name)| {
                let settings = Settings {
                    confirm: if type_name { ConfirmMode::TypeName } else { ConfirmMode::YesNo },
                    ..Default::default()
                };
                let mut state = if start == 2 {
                    super::pulse_tests::on_pulse(settings)
                } else {
                    on_operation(settings, OperationStatus::Running)
                };
                if start == 1 {
                    apply(&mut state, [key(KeyCode::Esc)]);
                    let generation = state.generation;
                    apply(
                        &mut state,
                        [Msg::Operations {
                            generation,
                            region: "us-east-1".into(),
                            stack_set: "org-baseline".into(),
                            result: Ok(vec![operation("op-1", OperationStatus::Running)]),
                            at: NOW,
                        }],
                    );
                }
                let mut now = 0u64;
                // The oracle's own record, from the events alone.
                let mut seen_whole_at: Option<u64> = None;
                let mut last_input: Option<u64> = None;
                let mut size = (100u16, 30u16);
                let mut open = false;
                for event in events {
                    let is_open = matches!(state.overlay, Some(Overlay::Confirm(_)));
                    if !is_open {
                        seen_whole_at = None;
                    }
                    let (msg, key_time) = match event {
                        Event::Key(code) => (key_at(code, now), Some(now)),
                        Event::Paste(text) => (paste(&text, now), None),
                        Event::Drawn(shown) => (
                            Msg::Drawn(FrameReport {
                                at: at_ms(now),
                                dialog_shown: shown && crate::app::layout::fits(size.0, size.1),
                                page_rows: 5,
                            }),
                            None,
                        ),
                        Event::Resize(w, h) => {
                            size = (w, h);
                            (Msg::Resize { width: w, height: h }, None)
                        }
                        Event::Wait(ms) => {
                            now += ms;
                            continue;
                        }
                        Event::StopAnswer(ok) => {
                            let request = StopRequest {
                                region: "us-east-1".into(),
                                stack_set: "org-baseline".into(),
                                operation_id: "op-1".into(),
                                call_as: CallAs::SelfAccount,
                                attempt: 1,
                            };
                            let result = if ok {
                                Ok(None)
                            } else {
                                Err(ApiError::new(ErrorKind::Throttled, "Rate exceeded"))
                            };
                            (Msg::StopFinished { request, result }, None)
                        }
                    };
                    let was_failed = matches!(&state.overlay, Some(Overlay::Confirm(d)) if matches!(d.phase, StopPhase::Failed { .. }));
                    let is_drawn = matches!(msg, Msg::Drawn(_));
                    let is_input = matches!(msg, Msg::Key(..) | Msg::Paste(..));
                    let commands = update(&mut state, msg.clone());
                    let stop_sent = stops(&commands);
                    if stop_sent > 0 {
                        let t = key_time.expect("only a key may send a stop");
                        assert!(open, "a stop from a dialog that was not open before the key");
                        let seen = seen_whole_at.expect("a stop from a dialog never drawn whole");
                        assert!(t >= seen + guard, "decided {}ms after the dialog was seen", t - seen);
                        let last = last_input.expect("the opening key is an input");
                        assert!(t >= last + guard, "decided {}ms after the previous input", t - last);
                        assert!(crate::app::layout::fits(size.0, size.1));
                        sent.set(sent.get() + stop_sent);
                    }
                    let now_open = matches!(state.overlay, Some(Overlay::Confirm(_)));
                    let now_failed = matches!(&state.overlay, Some(Overlay::Confirm(d)) if matches!(d.phase, StopPhase::Failed { .. }));
                    if now_open && (!open || (now_failed && !was_failed)) {
                        // A new question: it must be seen anew, from the frame after this.
                        seen_whole_at = None;
                    }
                    if !now_open {
                        last_input = None;
                    }
                    if is_input && now_open {
                        last_input = Some(last_input.map_or(now, |l| l.max(now)));
                    }
                    if is_drawn && now_open {
                        match msg {
                            Msg::Drawn(report) if report.dialog_shown => {
                                seen_whole_at.get_or_insert(now);
                            }
                            _ => seen_whole_at = None,
                        }
                    }
                    open = now_open;
                }
                Ok(())
            })
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(
            sent.get() > 0,
            "the generator never reached a stop: the property is vacuous"
        );
    }
}

#[test]
fn the_dialog_starts_on_the_call_as_the_stack_set_was_listed_under() {
    // A delegated admin's own stack set is found under SELF; stopping it as DELEGATED_ADMIN fails.
    let settings = Settings {
        call_as: CallAs::DelegatedAdmin,
        ..Default::default()
    };
    let mut state = State::new(settings, NOW);
    state.generation = 1;
    let mut own = summary("org-baseline", PermissionModel::ServiceManaged);
    own.listed_as = Some(CallAs::SelfAccount);
    apply(
        &mut state,
        [Msg::StackSets {
            generation: 1,
            region: "us-east-1".into(),
            result: Ok(vec![own]),
            at: NOW,
        }],
    );
    // The stack set list, one key from the pulse.
    apply(&mut state, [ch('o')]);
    apply(&mut state, [key(KeyCode::Enter)]);
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::Operations {
            generation,
            region: "us-east-1".into(),
            stack_set: "org-baseline".into(),
            result: Ok(vec![operation("op-1", OperationStatus::Running)]),
            at: NOW,
        }],
    );
    apply(&mut state, [ch('s')]);
    let dialog = open_dialog(&state);
    assert_eq!(dialog.call_as, CallAs::SelfAccount);
    assert!(dialog.delegated_admin_allowed, "the other choice stays offered");
}

#[test]
fn throughput_counts_only_what_finished_after_the_first_complete_read() {
    let state = on_operation(Settings::default(), OperationStatus::Running);
    // on_operation's one full read is no sample: it was read over its whole length.
    assert!(state.operation.progress.is_empty());
    assert_eq!(state.operation.throughput_per_min(), None);
    // A fresh watch: incremental reads before the first full one must not count as progress.
    let mut state = on_operations_list(Settings::default(), OperationStatus::Running);
    apply(&mut state, [key(KeyCode::Enter)]);
    let generation = state.generation;
    let done = |account: &str| result(account, "us-east-1", ResultStatus::Succeeded, "ou-a");
    apply(
        &mut state,
        [
            Msg::ResultsPage {
                generation,
                results: vec![done("111111111111")],
                read: ReadKind::Incremental,
                at: NOW,
            },
            Msg::ResultsPage {
                generation,
                results: (0..50).map(|i| done(&format!("2000000000{i:02}"))).collect(),
                read: ReadKind::Full,
                at: NOW + time::Duration::seconds(30),
            },
        ],
    );
    assert!(state.operation.progress.is_empty(), "the loading jump is not a sample");
    let incremental = |account: &str, secs| Msg::ResultsPage {
        generation,
        results: vec![done(account)],
        read: ReadKind::Incremental,
        at: NOW + time::Duration::seconds(secs),
    };
    apply(
        &mut state,
        [incremental("300000000001", 35), incremental("300000000002", 155)],
    );
    assert_eq!(
        state.operation.throughput_per_min(),
        Some(0.5),
        "1 finished in the 120 s between the first two samples"
    );
}

#[test]
fn no_rate_until_the_samples_span_two_minutes() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    let generation = state.generation;
    let read = |results, read, secs| Msg::ResultsPage {
        generation,
        results,
        read,
        at: NOW + time::Duration::seconds(secs),
    };
    let done = |account: &str| OperationResult {
        account: account.into(),
        region: "us-east-1".into(),
        status: ResultStatus::Succeeded,
        status_reason: None,
        gate_status: None,
        gate_reason: None,
        ou: None,
    };
    apply(&mut state, [read(vec![], ReadKind::Incremental, 0)]);
    apply(
        &mut state,
        [read(vec![done("400000000001")], ReadKind::Incremental, 60)],
    );
    apply(
        &mut state,
        [read(vec![done("400000000002")], ReadKind::Incremental, 119)],
    );
    assert_eq!(
        state.operation.throughput_per_min(),
        None,
        "under two minutes is a wave or two, not a rate"
    );
    apply(&mut state, [read(vec![], ReadKind::Incremental, 120)]);
    let rate = state.operation.throughput_per_min().expect("two minutes of samples");
    assert!((rate - 1.0).abs() < 0.02, "2 finished in 2 minutes, read {rate}");
    // Samples older than three minutes leave the window (but the one just before it stays).
    apply(&mut state, [read(vec![], ReadKind::Incremental, 400)]);
    assert_eq!(
        state.operation.progress.first().map(|p| p.at),
        Some(NOW + time::Duration::seconds(120))
    );
}

#[test]
fn a_resize_makes_the_dialog_be_seen_again_before_it_decides() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [ch('s'), drawn(0)]);
    // Reflowed by a resize, then y at once: the frame that showed it whole was another size.
    let commands = apply(
        &mut state,
        [Msg::Resize { width: 90, height: 28 }, key_at(KeyCode::Char('y'), 2000)],
    );
    assert!(commands.is_empty(), "{commands:?}");
    let commands = apply(&mut state, [drawn(2100), key_at(KeyCode::Char('y'), 2500)]);
    assert!(matches!(commands.as_slice(), [Command::Stop(_)]), "{commands:?}");
}

#[test]
fn the_grid_keeps_its_own_filter_while_the_failures_screen_filters() {
    let mut state = on_operation(Settings::default(), OperationStatus::Running);
    apply(&mut state, [key(KeyCode::Tab)]);
    assert_eq!(state.operation.visible.len(), 1, "rows with a FAILED cell");
    apply(
        &mut state,
        [ch('f'), ch('/'), ch('x'), ch('y'), ch('z'), key(KeyCode::Enter)],
    );
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::ResultsPage {
            generation,
            results: vec![],
            read: ReadKind::Incremental,
            at: NOW,
        }],
    );
    assert_eq!(
        state.operation.visible.len(),
        1,
        "the failures filter must not empty the grid behind it"
    );
}

#[test]
fn a_failed_stop_can_switch_call_as_before_the_retry_and_a_pasted_name_loses_its_newline() {
    let settings = Settings {
        call_as: CallAs::SelfAccount,
        ..Default::default()
    };
    let mut state = on_operation(settings, OperationStatus::Running);
    apply(&mut state, [ch('s')]);
    let commands = apply(&mut state, decide(KeyCode::Char('y')));
    let [Command::Stop(request)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    let error = ApiError::new(ErrorKind::StackSetNotFound, "StackSet org-baseline not found");
    apply(
        &mut state,
        [Msg::StopFinished {
            request: request.clone(),
            result: Err(error),
        }],
    );
    apply(&mut state, [key_at(KeyCode::Char('a'), 1500)]);
    assert_eq!(open_dialog(&state).call_as, CallAs::DelegatedAdmin);
    let commands = apply(&mut state, [drawn(1600), key_at(KeyCode::Char('y'), 2500)]);
    assert!(
        matches!(commands.as_slice(), [Command::Stop(r)] if r.call_as == CallAs::DelegatedAdmin),
        "{commands:?}"
    );

    let settings = Settings {
        confirm: ConfirmMode::TypeName,
        ..Default::default()
    };
    let mut state = on_operation(settings, OperationStatus::Running);
    apply(
        &mut state,
        [ch('s'), drawn(0), Msg::Paste("org-baseline\n".into(), at_ms(500))],
    );
    assert_eq!(open_dialog(&state).typed, "org-baseline");
    assert!(matches!(
        apply(&mut state, [key_at(KeyCode::Enter, 1500)]).as_slice(),
        [Command::Stop(_)]
    ));
}

/// Paths into the stop dialog and the copy keys found by trying to break them.
mod found_by_breaking {
    use super::*;

    fn stops(commands: &[Command]) -> usize {
        commands.iter().filter(|c| matches!(c, Command::Stop(_))).count()
    }

    #[test]
    fn counts_replacing_counting_after_a_late_describe_must_be_seen_before_a_decision() {
        // The poller starts the full read before the describe answers. When the full read of a
        // small operation lands first (describe throttled and retried), `on_results` cannot
        // match the dialog's operation (none described yet) and does not re-arm the guard; the
        // counts then replace "counting…" when the describe lands, and a y right after sends.
        let mut state = on_operations_list(Settings::default(), OperationStatus::Running);
        apply(&mut state, [ch('s'), drawn(0)]);
        let generation = state.generation;
        apply(
            &mut state,
            [Msg::ResultsPage {
                generation,
                results: vec![result("111111111111", "us-east-1", ResultStatus::Pending, "ou-a")],
                read: ReadKind::Full,
                at: NOW,
            }],
        );
        assert_eq!(state.stop_counts(open_dialog(&state)), StopCounts::Counting);
        apply(&mut state, [drawn(500)]);
        apply(
            &mut state,
            [Msg::OperationDescribed {
                generation,
                operation: operation("op-1", OperationStatus::Running),
                at: NOW,
            }],
        );
        assert!(matches!(
            state.stop_counts(open_dialog(&state)),
            StopCounts::Known { .. }
        ));
        // The counts appeared at 1000 ms; a y at once decides on text no one has read.
        assert_eq!(
            stops(&apply(&mut state, [key_at(KeyCode::Char('y'), 1000)])),
            0,
            "the counts replaced counting… and were never drawn, yet y sent the stop"
        );
    }

    #[test]
    fn a_y_typed_right_after_an_s_in_a_popup_copies_nothing() {
        // README (Copy): "a `y` typed right after an `s` that could not open the dialog copies
        // nothing". With a cell's detail, the request log or help open, `s` only closes the
        // popup (no stop attempt, no refusal noted), so the `y` typed with it copies.
        for open in [KeyCode::Enter, KeyCode::Char('L'), KeyCode::Char('?')] {
            let mut state = on_operation(Settings::default(), OperationStatus::Running);
            apply(&mut state, [key_at(open, 0)]);
            state.effects.clear();
            apply(
                &mut state,
                [key_at(KeyCode::Char('s'), 1000), key_at(KeyCode::Char('y'), 1010)],
            );
            assert!(
                state.effects.is_empty(),
                "{open:?} then `sy`: the y copied {:?} (footer {:?})",
                state.effects,
                state.flash.as_ref().map(|f| &f.text)
            );
        }
    }

    #[test]
    fn the_failure_group_under_the_cursor_stays_when_counts_reorder_the_groups() {
        // The failures screen keeps its selection by position while groups are re-sorted by
        // count on every results page: the cursor silently moves to another reason, and `y`
        // (or a person reading the "Selected group" pane) gets a group they did not pick.
        fn failed(account: &str, region: &str, reason: &str) -> OperationResult {
            OperationResult {
                status_reason: Some(reason.to_string()),
                ..result(account, region, ResultStatus::Failed, "ou-a")
            }
        }
        let mut state = on_operation(Settings::default(), OperationStatus::Running);
        let generation = state.generation;
        let page = |results: Vec<OperationResult>| Msg::ResultsPage {
            generation,
            results,
            read: ReadKind::Full,
            at: NOW,
        };
        apply(
            &mut state,
            [page(vec![
                failed("444444444444", "us-east-1", "alpha broke"),
                failed("555555555555", "us-east-1", "alpha broke"),
                failed("666666666666", "us-east-1", "alpha broke"),
                failed("777777777777", "us-east-1", "beta broke"),
            ])],
        );
        apply(&mut state, [ch('f'), key(KeyCode::Down)]);
        let picked = state.operation.failures[state.operation.failures_selected]
            .reason
            .clone();
        assert_eq!(picked, "beta broke");
        // More of "beta broke" arrive: it becomes the biggest group.
        apply(
            &mut state,
            [page(vec![
                failed("888888888888", "us-east-1", "beta broke"),
                failed("999999999999", "us-east-1", "beta broke"),
                failed("101010101010", "us-east-1", "beta broke"),
            ])],
        );
        state.effects.clear();
        apply(&mut state, [key_at(KeyCode::Char('y'), 5000)]);
        assert_eq!(
            state.effects,
            vec![Effect::Copy { text: picked.clone() }],
            "the cursor was on {picked:?}; y copied something else"
        );
    }
}

#[test]
fn a_region_watched_from_start_to_end_sets_the_eta_of_the_regions_still_to_come() {
    use crate::model::{RegionConcurrency, ResultStatus::*};
    let regions = ["r1", "r2", "r3"];
    let mut data = OperationData::new("us-east-1", "org-baseline");
    let mut op = operation("op-1", OperationStatus::Running);
    op.preferences.region_concurrency = Some(RegionConcurrency::Sequential);
    op.preferences.region_order = regions.iter().map(|r| r.to_string()).collect();
    op.preferences.max_concurrent_count = Some(5);
    // STRICT runs at most one more than the tolerance at once.
    op.preferences.failure_tolerance_count = Some(4);
    data.operation = Some(op);
    // Ten accounts in each Region: two waves of five.
    let set = |data: &mut OperationData, region: &str, statuses: &[ResultStatus]| {
        data.grid.merge(
            statuses
                .iter()
                .enumerate()
                .map(|(i, s)| result(&format!("{:012}", i + 1), region, *s, "ou-1"))
                .collect(),
        );
    };
    set(&mut data, "r1", &[Succeeded; 10]);
    set(&mut data, "r2", &[Pending; 10]);
    set(&mut data, "r3", &[Pending; 10]);
    let at = |secs: i64| NOW + time::Duration::seconds(secs);
    // As `update` records them: `slots` is what the Regions under way may run at once.
    let step = |data: &mut OperationData, prev: i64, now: i64, slots: usize| {
        data.note_region_timing(at(prev), at(now));
        let finished = data.grid.len() - data.grid.count(Pending) - data.grid.count(Running);
        data.progress.push(ProgressSample {
            at: at(now),
            finished,
            slots,
        });
    };
    step(&mut data, -10, 0, 0);
    // r2 begins between 0 s and 20 s; most of it is done quickly, one straggler ends late.
    set(&mut data, "r2", &[Running; 5]);
    step(&mut data, 0, 20, 5);
    set(&mut data, "r2", &[[Succeeded; 5], [Running; 5]].concat());
    step(&mut data, 20, 100, 5);
    set(&mut data, "r2", &[[Succeeded; 9].as_slice(), &[Running]].concat());
    step(&mut data, 100, 180, 1);
    set(&mut data, "r2", &[Succeeded; 10]);
    step(&mut data, 180, 400, 0);
    let timing = &data.region_timing["r2"];
    assert_eq!(
        (timing.begun, timing.ended, timing.waves),
        (Some(at(10)), Some(at(290)), 2)
    );
    // r3: two waves of what r2's took (280 s over 2), not two of the rate's mean deployment.
    let eta = data.eta().expect("an ETA").as_seconds_f64();
    assert!((eta - 280.0).abs() < 1.0, "{eta}");
    data.region_timing.clear();
    let from_rate = data.eta().expect("an ETA").as_seconds_f64();
    assert!(from_rate < 250.0, "the rate alone says less: {from_rate}");
    // A Region begun before the watch (never seen waiting) gives no timing.
    assert!(!data.region_timing.contains_key("r1") || data.region_timing["r1"].begun.is_none());
}
