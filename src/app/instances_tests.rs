//! Tests of `update` on the instances screen: the grid and the list, their filters, the detail
//! popup's one DescribeStackInstance, and keys that must not stop anything.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::macros::datetime;
use time::OffsetDateTime;

use super::instances::{InstanceFilter, InstancesView};
use super::*;
use crate::api::{ApiError, ErrorKind};
use crate::model::{InstanceStatus, StackInstance, StackInstanceDetail, StackSetStatus};

const NOW: OffsetDateTime = datetime!(2026-11-22 03:30 UTC);
const UPDATE_OP: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
const CREATE_OP: &str = "4f1d2c3b-0a9e-4d8c-8b7a-6e5f4d3c2b1a";

fn key_at(code: KeyCode, at: Instant) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE), at)
}

fn apply(state: &mut State, msgs: impl IntoIterator<Item = Msg>) -> Vec<Command> {
    msgs.into_iter().flat_map(|m| update(state, m)).collect()
}

/// Keys typed in one burst, one millisecond apart.
fn keys(state: &mut State, codes: &[KeyCode]) -> Vec<Command> {
    let t0 = Instant::now();
    let msgs: Vec<Msg> = codes
        .iter()
        .enumerate()
        .map(|(n, code)| key_at(*code, t0 + Duration::from_millis(n as u64)))
        .collect();
    apply(state, msgs)
}

fn chars(state: &mut State, text: &str) -> Vec<Command> {
    let codes: Vec<KeyCode> = text.chars().map(KeyCode::Char).collect();
    keys(state, &codes)
}

fn instance(account: &str, region: &str, status: InstanceStatus, detailed: &str, drift: &str) -> StackInstance {
    StackInstance {
        account: account.into(),
        region: region.into(),
        ou: Some("ou-i5t5-workload".into()),
        status,
        detailed_status: Some(detailed.into()),
        status_reason: (detailed != "SUCCEEDED").then(|| format!("{detailed} here")),
        drift_status: Some(drift.into()),
        last_operation_id: Some(if detailed == "INOPERABLE" { CREATE_OP } else { UPDATE_OP }.into()),
    }
}

/// Three accounts x two Regions, one cell empty (510000000003 has no eu-west-1 instance).
fn instances() -> Vec<StackInstance> {
    use InstanceStatus::*;
    vec![
        instance("510000000001", "us-east-1", Current, "SUCCEEDED", "IN_SYNC"),
        instance("510000000001", "eu-west-1", Current, "SUCCEEDED", "DRIFTED"),
        instance("510000000002", "us-east-1", Outdated, "FAILED", "NOT_CHECKED"),
        instance("510000000002", "eu-west-1", Inoperable, "INOPERABLE", "NOT_CHECKED"),
        instance(
            "510000000003",
            "us-east-1",
            Outdated,
            "SKIPPED_SUSPENDED_ACCOUNT",
            "NOT_CHECKED",
        ),
    ]
}

/// The instances screen of `workload-baseline`, opened with `i` from the stack set list, its
/// instances landed.
fn on_instances() -> State {
    let mut state = State::new(Settings::default(), NOW);
    state.generation = 1;
    apply(
        &mut state,
        [Msg::StackSets {
            generation: 1,
            region: "us-east-1".into(),
            result: Ok(vec![StackSetSummary {
                name: "workload-baseline".into(),
                id: "workload-baseline:1".into(),
                status: StackSetStatus::Active,
                permission_model: Some(PermissionModel::SelfManaged),
                description: None,
                listed_as: None,
            }]),
            at: NOW,
        }],
    );
    chars(&mut state, "o");
    let commands = chars(&mut state, "i");
    assert!(
        commands.iter().any(|c| matches!(
            c,
            Command::Watch {
                scope: Scope::Instances { .. },
                ..
            }
        )),
        "{commands:?}"
    );
    let generation = state.generation;
    apply(
        &mut state,
        [Msg::Instances {
            generation,
            result: Ok(instances()),
            at: NOW,
        }],
    );
    state
}

fn focused(state: &State) -> Option<(String, String)> {
    update::selected_instance(&state.instances).map(|i| (i.account.clone(), i.region.clone()))
}

fn describes(commands: &[Command]) -> Vec<&InstanceRequest> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::DescribeInstance(request) => Some(request),
            _ => None,
        })
        .collect()
}

#[test]
fn the_grid_is_the_first_view_and_its_cursor_moves_within_bounds() {
    let mut state = on_instances();
    let data = &state.instances;
    assert_eq!(data.view, InstancesView::Grid);
    assert_eq!(data.grid.regions, vec!["eu-west-1", "us-east-1"]);
    assert_eq!(data.grid.accounts, vec!["510000000001", "510000000002", "510000000003"]);
    assert_eq!(focused(&state), Some(("510000000001".into(), "eu-west-1".into())));
    chars(&mut state, "jjjjllll");
    assert_eq!((state.instances.cursor_row, state.instances.cursor_col), (2, 1));
    assert_eq!(focused(&state), Some(("510000000003".into(), "us-east-1".into())));
    chars(&mut state, "h");
    assert_eq!(focused(&state), None, "510000000003 has no eu-west-1 instance");
    chars(&mut state, "gh");
    assert_eq!((state.instances.cursor_row, state.instances.cursor_col), (0, 0));
}

#[test]
fn v_switches_to_the_list_and_back_on_the_same_instance() {
    let mut state = on_instances();
    chars(&mut state, "jl");
    let on = focused(&state);
    assert_eq!(on, Some(("510000000002".into(), "us-east-1".into())));
    chars(&mut state, "v");
    assert_eq!(state.instances.view, InstancesView::List);
    assert_eq!(focused(&state), on, "the list opens on the grid's instance");
    // The list is worst first: INOPERABLE, then OUTDATED...
    chars(&mut state, "g");
    assert_eq!(focused(&state), Some(("510000000002".into(), "eu-west-1".into())));
    chars(&mut state, "v");
    assert_eq!(state.instances.view, InstancesView::Grid);
    assert_eq!((state.instances.cursor_row, state.instances.cursor_col), (1, 0));
}

#[test]
fn enter_on_a_cell_sends_exactly_one_describe_and_fills_the_popup() {
    let mut state = on_instances();
    chars(&mut state, "jl");
    let commands = keys(&mut state, &[KeyCode::Enter]);
    let asked = describes(&commands);
    assert_eq!(commands.len(), 1, "{commands:?}");
    let request = InstanceRequest {
        region: "us-east-1".into(),
        stack_set: "workload-baseline".into(),
        account: "510000000002".into(),
        instance_region: "us-east-1".into(),
    };
    assert_eq!(asked, vec![&request]);
    assert_eq!(state.mode(), Mode::Popup);
    let Some(Overlay::InstanceDetail(detail)) = &state.overlay else {
        panic!("{:?}", state.overlay);
    };
    assert_eq!(detail.result, None, "loading until the answer lands");

    // An answer about another instance (a popup closed and opened again) is not this one's.
    let other = InstanceRequest {
        account: "510000000001".into(),
        ..request.clone()
    };
    apply(
        &mut state,
        [Msg::InstanceDescribed {
            request: other,
            result: Err(ApiError::new(ErrorKind::Throttled, "Rate exceeded")),
        }],
    );
    assert!(matches!(&state.overlay, Some(Overlay::InstanceDetail(d)) if d.result.is_none()));
    let found = StackInstanceDetail {
        stack_set_id: Some("workload-baseline:1".into()),
        account: "510000000002".into(),
        region: "us-east-1".into(),
        stack_id: None,
        parameter_overrides: Vec::new(),
        status: Some(InstanceStatus::Outdated),
        detailed_status: Some("FAILED".into()),
        status_reason: Some("boom".into()),
        ou: None,
        drift_status: Some("NOT_CHECKED".into()),
        last_drift_check: None,
        last_operation_id: Some(UPDATE_OP.into()),
    };
    apply(
        &mut state,
        [Msg::InstanceDescribed {
            request: request.clone(),
            result: Ok(found.clone()),
        }],
    );
    assert!(matches!(&state.overlay, Some(Overlay::InstanceDetail(d)) if d.result == Some(Ok(found.clone()))));
    // Any key closes it, and asks nothing.
    let commands = chars(&mut state, "j");
    assert!(commands.is_empty(), "{commands:?}");
    assert_eq!(state.overlay, None);
    assert!(matches!(state.screen(), Screen::Instances { .. }));
    // An answer that lands after the popup closed opens nothing.
    apply(
        &mut state,
        [Msg::InstanceDescribed {
            request,
            result: Ok(found),
        }],
    );
    assert_eq!(state.overlay, None);
}

#[test]
fn enter_in_the_list_and_d_describe_the_focused_instance_and_an_empty_cell_asks_nothing() {
    let mut state = on_instances();
    chars(&mut state, "jjh");
    let commands = keys(&mut state, &[KeyCode::Enter]);
    assert!(describes(&commands).is_empty(), "{commands:?}");
    assert_eq!(state.overlay, None);
    assert!(state.flash.as_ref().is_some_and(|f| f.is_error));
    chars(&mut state, "vg");
    let commands = keys(&mut state, &[KeyCode::Enter]);
    assert_eq!(describes(&commands).len(), 1);
    assert_eq!(describes(&commands)[0].account, "510000000002");
    assert_eq!(describes(&commands)[0].instance_region, "eu-west-1");
    keys(&mut state, &[KeyCode::Esc]);
    let commands = chars(&mut state, "d");
    assert_eq!(describes(&commands).len(), 1);
}

#[test]
fn tab_cycles_status_detailed_and_drift_filters_over_both_views() {
    let mut state = on_instances();
    let mut seen = Vec::new();
    loop {
        keys(&mut state, &[KeyCode::Tab]);
        let Some(filter) = state.instances.filter.clone() else {
            break;
        };
        let data = &state.instances;
        seen.push((filter.label(), data.visible.len(), data.grid_visible.len()));
        assert!(seen.len() < 20, "the cycle ends: {seen:?}");
    }
    assert_eq!(
        seen,
        vec![
            ("INOPERABLE".to_string(), 1, 1),
            ("OUTDATED".to_string(), 2, 2),
            ("CURRENT".to_string(), 2, 1),
            ("detailed FAILED".to_string(), 1, 1),
            ("detailed INOPERABLE".to_string(), 1, 1),
            ("detailed SKIPPED_SUSPENDED_ACCOUNT".to_string(), 1, 1),
            ("detailed SUCCEEDED".to_string(), 2, 1),
            ("drift DRIFTED".to_string(), 1, 1),
            ("drift IN_SYNC".to_string(), 1, 1),
            ("drift NOT_CHECKED".to_string(), 3, 2),
        ]
    );
    assert_eq!(state.instances.visible.len(), 5, "back to all");
    // On DRIFTED the grid keeps 510000000001's row, and enter describes what the cursor is on.
    state.instances.filter = None;
    while state.instances.filter != Some(InstanceFilter::Drift("DRIFTED".into())) {
        keys(&mut state, &[KeyCode::Tab]);
    }
    assert_eq!(state.instances.grid_visible, vec![0]);
    let index = |region: &str| {
        state
            .instances
            .rows
            .iter()
            .position(|i| i.account == "510000000001" && i.region == region)
            .unwrap()
    };
    assert!(update::instance_passes(&state, index("eu-west-1")));
    assert!(
        !update::instance_passes(&state, index("us-east-1")),
        "its IN_SYNC instance shows faint"
    );
}

#[test]
fn the_text_filter_finds_instances_by_last_operation_id() {
    let mut state = on_instances();
    chars(&mut state, "/4f1d2c3b");
    keys(&mut state, &[KeyCode::Enter]);
    let data = &state.instances;
    assert_eq!(
        data.visible.len(),
        1,
        "only the INOPERABLE one was last touched by the CREATE"
    );
    assert_eq!(data.grid_visible, vec![1]);
    assert_eq!(focused(&state), Some(("510000000002".into(), "eu-west-1".into())));
    chars(&mut state, "l");
    assert_eq!(
        focused(&state),
        Some(("510000000002".into(), "us-east-1".into())),
        "shown faint"
    );
    chars(&mut state, "v");
    assert_eq!(
        focused(&state),
        Some(("510000000002".into(), "eu-west-1".into())),
        "the list shows only what passes"
    );
}

#[test]
fn a_burst_of_s_and_y_on_the_instances_screen_sends_no_stop() {
    let mut state = on_instances();
    let commands = chars(&mut state, "sysysy");
    assert!(!commands.iter().any(|c| matches!(c, Command::Stop(_))), "{commands:?}");
    assert!(!matches!(state.overlay, Some(Overlay::Confirm(_))));
    assert!(matches!(state.screen(), Screen::Instances { .. }));
    // And after a pause, y alone still sends nothing.
    let later = Instant::now() + Duration::from_secs(2);
    let commands = apply(&mut state, [key_at(KeyCode::Char('y'), later)]);
    assert!(!commands.iter().any(|c| matches!(c, Command::Stop(_))));
}

#[test]
fn instances_that_land_keep_the_grid_cursor_on_its_cell() {
    let mut state = on_instances();
    chars(&mut state, "jjl");
    let on = focused(&state);
    let generation = state.generation;
    let mut fewer = instances();
    fewer.remove(0);
    apply(
        &mut state,
        [Msg::Instances {
            generation,
            result: Ok(fewer),
            at: NOW,
        }],
    );
    assert_eq!(focused(&state), on);
}
