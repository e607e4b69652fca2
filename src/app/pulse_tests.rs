//! Tests of the pulse through `update`: what it lists across Regions, in what order, why a
//! QUEUED operation waits, and that enter and `s` open the same grid and stop dialog (with the
//! same guard) as the operations list does.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::model::{OperationAction, OperationPreferences, OperationStatus, PermissionModel, StackSetStatus};

const NOW: OffsetDateTime = datetime!(2026-11-22 03:30 UTC);
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";

fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn key_at(code: KeyCode, ms: u64) -> Msg {
    Msg::Key(
        KeyEvent::new(code, KeyModifiers::NONE),
        t0() + Duration::from_millis(ms),
    )
}

fn key(code: KeyCode) -> Msg {
    key_at(code, 0)
}

fn drawn(ms: u64) -> Msg {
    Msg::Drawn(FrameReport {
        at: t0() + Duration::from_millis(ms),
        dialog_shown: true,
        page_rows: 10,
    })
}

fn apply(state: &mut State, msgs: impl IntoIterator<Item = Msg>) -> Vec<Command> {
    msgs.into_iter().flat_map(|m| update(state, m)).collect()
}

fn summary(name: &str, model: PermissionModel, listed_as: CallAs) -> StackSetSummary {
    StackSetSummary {
        name: name.into(),
        id: format!("{name}:1"),
        status: StackSetStatus::Active,
        permission_model: Some(model),
        description: None,
        listed_as: Some(listed_as),
    }
}

/// An operation created `created` seconds before NOW, ended `ended` seconds before it (if it
/// has), with `failed` failed stack instances.
fn op(id: &str, status: OperationStatus, created: i64, ended: Option<i64>, failed: u32) -> Operation {
    Operation {
        id: id.into(),
        action: OperationAction::Update,
        status,
        created: Some(NOW - time::Duration::seconds(created)),
        ended: ended.map(|s| NOW - time::Duration::seconds(s)),
        status_reason: None,
        failed_count: Some(failed),
        preferences: OperationPreferences::default(),
    }
}

fn listed(region: &str, sets: Vec<StackSetSummary>) -> Msg {
    Msg::StackSets {
        generation: 1,
        region: region.into(),
        result: Ok(sets),
        at: NOW,
    }
}

fn checked(region: &str, stack_set: &str, operations: Vec<Operation>) -> Msg {
    Msg::StackSetChecked {
        generation: 1,
        region: region.into(),
        stack_set: stack_set.into(),
        operations,
        at: NOW - time::Duration::seconds(3),
    }
}

fn two_regions() -> Settings {
    Settings {
        target: Target {
            region: Some(EAST.into()),
            regions: vec![EAST.into(), WEST.into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The pulse as the dashboard opens it, the overview's first answers in.
fn fresh(settings: Settings) -> State {
    let mut state = State::new(settings, NOW);
    state.generation = 1;
    state
}

/// The pulse with one RUNNING operation, op-1 of `org-baseline`: where the stop-guard property
/// test starts one of its runs.
pub(super) fn on_pulse(settings: Settings) -> State {
    let mut state = fresh(settings);
    apply(
        &mut state,
        [
            listed(
                EAST,
                vec![summary(
                    "org-baseline",
                    PermissionModel::ServiceManaged,
                    CallAs::SelfAccount,
                )],
            ),
            checked(
                EAST,
                "org-baseline",
                vec![op("op-1", OperationStatus::Running, 60, None, 0)],
            ),
        ],
    );
    assert_eq!(state.screen(), &Screen::Pulse);
    state
}

/// Two Regions: a stack set of the same name in each, and every kind of row the pulse has.
fn estate() -> State {
    let mut state = fresh(two_regions());
    apply(
        &mut state,
        [
            listed(
                EAST,
                vec![
                    summary("org", PermissionModel::ServiceManaged, CallAs::SelfAccount),
                    summary("quiet", PermissionModel::SelfManaged, CallAs::SelfAccount),
                ],
            ),
            listed(
                WEST,
                vec![summary("org", PermissionModel::ServiceManaged, CallAs::DelegatedAdmin)],
            ),
            // us-east-1 org: one running cleanly for 10 min, one queued behind it, one that
            // ended an hour ago with failures, one that ended two days ago.
            checked(
                EAST,
                "org",
                vec![
                    op("e-run", OperationStatus::Running, 600, None, 0),
                    op("e-queued", OperationStatus::Queued, 300, None, 0),
                    op("e-ended", OperationStatus::Succeeded, 7200, Some(3600), 4),
                    op("e-old", OperationStatus::Succeeded, 200_000, Some(190_000), 0),
                ],
            ),
            // quiet: ended 10 minutes ago, stopped.
            checked(
                EAST,
                "quiet",
                vec![op("q-stopped", OperationStatus::Stopped, 900, Some(600), 0)],
            ),
            // eu-west-1 org: running with failures already (failing), and a second queued
            // behind the first queued one.
            checked(
                WEST,
                "org",
                vec![
                    op("w-failing", OperationStatus::Running, 120, None, 3),
                    op("w-queued-1", OperationStatus::Queued, 100, None, 0),
                    op("w-queued-2", OperationStatus::Queued, 50, None, 0),
                ],
            ),
        ],
    );
    state
}

fn rows(state: &State) -> Vec<(String, String)> {
    state
        .pulse
        .visible
        .iter()
        .map(|i| {
            let row = &state.pulse.rows[*i];
            (row.region.clone(), row.operation.id.clone())
        })
        .collect()
}

#[test]
fn the_pulse_is_home_and_lists_every_region_most_urgent_first() {
    let state = estate();
    assert_eq!(state.screen(), &Screen::Pulse);
    let want = [
        (WEST, "w-failing"),
        (EAST, "e-run"),
        (EAST, "e-queued"),
        (WEST, "w-queued-1"),
        (WEST, "w-queued-2"),
        (EAST, "q-stopped"),
        (EAST, "e-ended"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(r, id)| (r.to_string(), id.to_string())).collect();
    assert_eq!(
        rows(&state),
        want,
        "failing, running, queued (longest waiting first), ended newest first"
    );
    assert!(
        !rows(&state).iter().any(|(_, id)| id == "e-old"),
        "ended more than 24 h ago: not on the pulse"
    );
    // The urgency the view colours by.
    let urgencies: Vec<Urgency> = state.pulse.rows.iter().map(PulseRow::urgency).collect();
    assert_eq!(
        urgencies,
        [
            Urgency::Failing,
            Urgency::Running,
            Urgency::Queued,
            Urgency::Queued,
            Urgency::Queued,
            Urgency::Ended,
            Urgency::Ended
        ]
    );
}

#[test]
fn a_queued_operation_names_the_one_ahead_of_it_on_its_own_stack_set() {
    let state = estate();
    let ahead = |id: &str| {
        state
            .pulse
            .rows
            .iter()
            .find(|r| r.operation.id == id)
            .and_then(|r| r.ahead.as_ref())
            .map(|a| a.id.clone())
    };
    assert_eq!(ahead("e-queued").as_deref(), Some("e-run"));
    // The second in the queue waits for the first, not for the one running.
    assert_eq!(ahead("w-queued-2").as_deref(), Some("w-queued-1"));
    assert_eq!(ahead("w-queued-1").as_deref(), Some("w-failing"));
    assert_eq!(ahead("e-run"), None, "only QUEUED rows say why");
    // Alone in its queue: nothing on its own stack set is ahead of it (the view then names
    // the other reasons an operation waits).
    let mut state = estate();
    apply(
        &mut state,
        [checked(
            EAST,
            "quiet",
            vec![op("q-alone", OperationStatus::Queued, 30, None, 0)],
        )],
    );
    let row = state.pulse.rows.iter().find(|r| r.operation.id == "q-alone").unwrap();
    assert_eq!(row.ahead, None);
}

#[test]
fn a_new_check_reorders_the_pulse_and_the_selection_follows_its_operation() {
    let mut state = estate();
    apply(&mut state, [key(KeyCode::Down), key(KeyCode::Down)]);
    assert_eq!(rows(&state)[state.pulse.selected].1, "e-queued");
    // e-run starts failing: it rises above nothing (w-failing has more failures) but the
    // selection stays on e-queued wherever it moves.
    apply(
        &mut state,
        [checked(
            EAST,
            "org",
            vec![
                op("e-run", OperationStatus::Running, 600, None, 1),
                op("e-queued", OperationStatus::Queued, 300, None, 0),
            ],
        )],
    );
    assert_eq!(rows(&state)[0].1, "w-failing", "most failures first");
    assert_eq!(rows(&state)[1].1, "e-run", "failing now");
    assert_eq!(rows(&state)[state.pulse.selected].1, "e-queued");
}

#[test]
fn enter_opens_the_grid_in_the_operations_region_and_esc_comes_back() {
    let mut state = estate();
    let commands = apply(&mut state, [key(KeyCode::Enter)]);
    let grid = Scope::Operation {
        region: WEST.into(),
        stack_set: "org".into(),
        operation_id: "w-failing".into(),
    };
    assert_eq!(
        commands,
        vec![Command::Watch {
            scope: grid,
            generation: 2
        }]
    );
    assert_eq!(state.operation.region, WEST);
    let commands = apply(&mut state, [key(KeyCode::Esc)]);
    assert_eq!(state.screen(), &Screen::Pulse);
    assert_eq!(
        commands,
        vec![Command::Watch {
            scope: Scope::StackSets,
            generation: 3
        }]
    );
}

#[test]
fn o_switches_to_the_stack_set_list_and_back_without_a_new_watch() {
    let mut state = estate();
    assert!(
        apply(&mut state, [key(KeyCode::Char('o'))]).is_empty(),
        "the same scope"
    );
    assert_eq!(state.screen(), &Screen::StackSets);
    // Both Regions' stack sets, the same name twice.
    let names: Vec<(String, String)> = state
        .stack_sets
        .rows
        .iter()
        .map(|r| (r.region.clone(), r.summary.name.clone()))
        .collect();
    assert!(names.contains(&(EAST.into(), "org".into())) && names.contains(&(WEST.into(), "org".into())));
    assert!(apply(&mut state, [key(KeyCode::Esc)]).is_empty());
    assert_eq!(state.screen(), &Screen::Pulse);
    apply(&mut state, [key(KeyCode::Char('o')), key(KeyCode::Char('o'))]);
    assert_eq!(state.screen(), &Screen::Pulse, "o again goes back");
    // Enter on the list opens that Region's stack set.
    apply(&mut state, [key(KeyCode::Char('o'))]);
    let west = state
        .stack_sets
        .visible
        .iter()
        .position(|i| state.stack_sets.rows[*i].region == WEST)
        .unwrap();
    for _ in 0..west {
        apply(&mut state, [key(KeyCode::Down)]);
    }
    let commands = apply(&mut state, [key(KeyCode::Enter)]);
    assert_eq!(
        commands,
        vec![Command::Watch {
            scope: Scope::Operations {
                region: WEST.into(),
                stack_set: "org".into()
            },
            generation: 2
        }]
    );
}

#[test]
fn s_on_the_pulse_opens_the_grid_under_the_guarded_dialog_with_the_regions_call_as() {
    let mut state = estate();
    // s and y in one burst: the dialog opens over the grid, the y decides nothing.
    let commands = apply(
        &mut state,
        [key_at(KeyCode::Char('s'), 0), key_at(KeyCode::Char('y'), 10)],
    );
    assert!(!commands.iter().any(|c| matches!(c, Command::Stop(_))), "{commands:?}");
    assert_eq!(
        state.screen(),
        &Screen::Operation {
            region: WEST.into(),
            stack_set: "org".into(),
            operation_id: "w-failing".into()
        }
    );
    let Some(Overlay::Confirm(dialog)) = &state.overlay else {
        panic!("no dialog: {:?}", state.overlay);
    };
    assert_eq!(dialog.region, WEST);
    assert_eq!(dialog.call_as, CallAs::DelegatedAdmin, "as eu-west-1's org was listed");
    assert_eq!(state.stop_counts(dialog), StopCounts::Counting, "the grid counts first");
    // Seen whole, then a deliberate y: one stop, to eu-west-1.
    let commands = apply(&mut state, [drawn(100), key_at(KeyCode::Char('y'), 1100)]);
    let stops: Vec<&StopRequest> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Stop(request) => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(stops.len(), 1);
    assert_eq!(
        (
            stops[0].region.as_str(),
            stops[0].stack_set.as_str(),
            stops[0].operation_id.as_str()
        ),
        (WEST, "org", "w-failing")
    );
    assert_eq!(stops[0].call_as, CallAs::DelegatedAdmin);
}

#[test]
fn s_on_an_ended_row_or_read_only_says_why_and_opens_nothing() {
    let mut state = estate();
    apply(&mut state, [key(KeyCode::End), key(KeyCode::Char('s'))]);
    assert_eq!(state.screen(), &Screen::Pulse);
    assert!(state.overlay.is_none());
    let flash = state.flash.clone().unwrap();
    assert!(flash.is_error && flash.text.contains("SUCCEEDED"), "{flash:?}");
    let mut state = estate();
    state.settings.read_only = true;
    apply(&mut state, [key(KeyCode::Char('s'))]);
    assert!(state.overlay.is_none() && state.screen() == &Screen::Pulse);
    let mut empty = fresh(two_regions());
    apply(&mut empty, [key(KeyCode::Char('s'))]);
    assert!(empty.overlay.is_none());
    assert!(empty.flash.unwrap().text.contains("Nothing to stop"));
}

#[test]
fn the_filter_matches_region_stack_set_and_status() {
    let mut state = estate();
    apply(&mut state, [key(KeyCode::Char('/'))]);
    for c in "eu-west".chars() {
        apply(&mut state, [key(KeyCode::Char(c))]);
    }
    assert!(rows(&state).iter().all(|(region, _)| region == WEST));
    assert_eq!(rows(&state).len(), 3);
    apply(&mut state, [key(KeyCode::Esc)]);
    apply(&mut state, [key(KeyCode::Char('/'))]);
    for c in "queued".chars() {
        apply(&mut state, [key(KeyCode::Char(c))]);
    }
    assert_eq!(rows(&state).len(), 3);
}

#[test]
fn a_region_listing_replaces_only_its_own_rows() {
    let mut state = estate();
    // eu-west-1 listed again without org: its rows go, us-east-1's stay with their checks.
    apply(&mut state, [listed(WEST, Vec::new())]);
    assert!(state.stack_sets.rows.iter().all(|r| r.region == EAST));
    assert!(rows(&state).iter().all(|(region, _)| region == EAST));
    let org = state.stack_sets.rows.iter().find(|r| r.summary.name == "org").unwrap();
    assert_eq!(org.recent.len(), 4, "the check survives the relisting");
}

#[test]
fn y_and_capital_y_on_the_pulse_copy_the_operation_id_and_its_console_url_in_its_region() {
    let mut state = estate();
    apply(&mut state, [key(KeyCode::Char('y'))]);
    apply(&mut state, [key_at(KeyCode::Char('Y'), 1000)]);
    let copies: Vec<String> = state
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Copy { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert_eq!(copies[0], "w-failing");
    assert!(
        copies[1].starts_with("https://eu-west-1.console.aws.amazon.com/")
            && copies[1].contains("operationId=w-failing"),
        "the stack set's own Region, not the home Region: {}",
        copies[1]
    );
}
