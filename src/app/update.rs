//! The one function that changes state: `update(&mut State, Msg) -> Vec<Command>`.
//! Pure: no I/O, no clock, no SDK. Results for a scope the user has left are dropped by generation.

use std::time::Instant;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use time::OffsetDateTime;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::{
    keymap, layout, Action, Command, ConfirmMode, DialogFocus, Effect, ExportContent, ExportJob, Flash, FrameReport,
    Mode, Msg, OperationData, OperationsData, Overlay, ProgressSample, ReadKind, Screen, StackSetRow, StackSetsData,
    State, StopDialog, StopPhase, StopRequest,
};
use crate::api::ApiError;
use crate::model::{CallAs, Operation, OperationStatus, PermissionModel, ResultStatus};
/// Progress samples kept for throughput: three minutes of them.
const PROGRESS_WINDOW: time::Duration = time::Duration::minutes(3);

pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    if msg
        .generation()
        .is_some_and(|generation| generation != state.generation)
    {
        return Vec::new();
    }
    let was_counting = dialog_counting(state);
    let commands = dispatch(state, msg);
    // Whatever brought them (a complete read, a late describe), counts that just replaced
    // "counting…" change what the dialog says: it must be seen again before it decides.
    if was_counting && !dialog_counting(state) {
        if let Some(Overlay::Confirm(dialog)) = &mut state.overlay {
            dialog.shown_at = None;
        }
    }
    commands
}

/// The stop dialog is open and still says "counting…".
fn dialog_counting(state: &State) -> bool {
    matches!(&state.overlay, Some(Overlay::Confirm(dialog)) if state.stop_counts(dialog) == super::StopCounts::Counting)
}

fn dispatch(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Instances { result, at, .. } => {
            on_instances(state, result, at);
            Vec::new()
        }
        Msg::InstanceDescribed { request, result } => {
            on_instance_described(state, request, result);
            Vec::new()
        }
        Msg::Key(key, at) => on_key(state, key, at),
        Msg::Paste(text, at) => on_paste(state, &text, at),
        Msg::Drawn(report) => {
            on_drawn(state, report);
            Vec::new()
        }
        Msg::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Msg::Resize { width, height } => {
            state.size = (width, height);
            // The dialog must be seen whole again at the new size before it decides.
            if let Some(Overlay::Confirm(dialog)) = &mut state.overlay {
                dialog.shown_at = None;
            }
            Vec::new()
        }
        Msg::StackSets { region, result, at, .. } => {
            on_stack_sets(state, &region, result, at);
            Vec::new()
        }
        Msg::StackSetChecked {
            region,
            stack_set,
            operations,
            at,
            ..
        } => {
            on_stack_set_checked(state, &region, &stack_set, operations, at);
            Vec::new()
        }
        Msg::Operations {
            region,
            stack_set,
            result,
            at,
            ..
        } => {
            on_operations(state, &region, &stack_set, result, at);
            Vec::new()
        }
        Msg::OperationDescribed { operation, at, .. } => {
            notice_status(state, &operation);
            let data = &mut state.operation;
            data.grid.set_region_order(&operation.preferences.region_order);
            data.operation = Some(operation);
            data.freshness.fetched_at = Some(at);
            data.freshness.error = None;
            Vec::new()
        }
        Msg::ResultsPage { results, read, at, .. } => {
            on_results(state, results, read, at);
            if read != ReadKind::Partial {
                notice_failures(state);
            }
            Vec::new()
        }
        Msg::FetchFailed { error, .. } => {
            let freshness = match state.screen() {
                Screen::Pulse | Screen::StackSets => &mut state.stack_sets.freshness,
                Screen::Operations { .. } => &mut state.operations.freshness,
                Screen::Instances { .. } => &mut state.instances.freshness,
                _ => &mut state.operation.freshness,
            };
            freshness.error = Some(error);
            freshness.loading = false;
            Vec::new()
        }
        Msg::PermissionModel {
            region,
            stack_set,
            model,
        } => {
            if state.operations.stack_set == stack_set && state.operations.region == region {
                state.operations.permission_model = Some(model);
            }
            Vec::new()
        }
        Msg::StopFinished { request, result } => {
            on_stop_finished(state, request, result);
            Vec::new()
        }
        Msg::Requests(records) => {
            state.requests = records;
            Vec::new()
        }
        Msg::Exported { path, result } => {
            match result {
                Ok(rows) => flash(
                    state,
                    format!(
                        "Exported {rows} row{} to {}",
                        if rows == 1 { "" } else { "s" },
                        path.display()
                    ),
                    false,
                ),
                Err(why) => flash(state, crate::messages::export_failed(&path, &why), true),
            }
            Vec::new()
        }
    }
}

/// The watched operation's status as just described: one that ends while watched is news.
fn notice_status(state: &mut State, operation: &Operation) {
    let watched = match state.screen() {
        Screen::Operation { operation_id, .. } | Screen::Failures { operation_id, .. } => operation_id == &operation.id,
        _ => false,
    };
    if !watched {
        return;
    }
    let attention = &mut state.attention;
    if attention.operation_id != operation.id {
        *attention = super::Attention {
            operation_id: operation.id.clone(),
            ..Default::default()
        };
    }
    let was_active = attention.last_status.is_some_and(|s| s.is_active());
    attention.last_status = Some(operation.status);
    if was_active && !operation.status.is_active() {
        let stack_set = state.operation.stack_set.clone();
        let event = crate::notify::Event::operation_ended(&stack_set, &operation.id, operation.status.as_str());
        state.effects.push(Effect::Notify(event));
    }
}

/// After a read of the watched operation's results: a failure group not seen before is news,
/// except those already there when the grid first filled.
fn notice_failures(state: &mut State) {
    let Some(operation_id) = state.operation.operation.as_ref().map(|op| op.id.clone()) else {
        return;
    };
    if !state.operation.complete {
        return;
    }
    if state.attention.operation_id != operation_id {
        state.attention = super::Attention {
            operation_id: operation_id.clone(),
            ..Default::default()
        };
    }
    let groups = state.operation.grid.failure_groups();
    let seeded = state.attention.seeded;
    let mut news = Vec::new();
    for group in groups.iter().filter(|g| g.status == ResultStatus::Failed) {
        if state
            .attention
            .seen_failures
            .insert((group.status, group.reason.clone()))
            && seeded
        {
            news.push(group);
        }
    }
    state.attention.seeded = true;
    let stack_set = state.operation.stack_set.clone();
    // A burst of new causes in one read is one notification, not a flood.
    match news.as_slice() {
        [] => {}
        [group] => state.effects.push(Effect::Notify(crate::notify::Event::new_failure(
            &stack_set,
            &operation_id,
            &group.reason,
            group.count,
        ))),
        [first, rest @ ..] => {
            let reason = format!("{} (and {} more new failure reasons)", first.reason, rest.len());
            let count = news.iter().map(|g| g.count).sum();
            state.effects.push(Effect::Notify(crate::notify::Event::new_failure(
                &stack_set,
                &operation_id,
                &reason,
                count,
            )));
        }
    }
}

impl Msg {
    /// The generation a poller result was fetched under; None for messages that are not results
    /// of a watch (keys, time, stops).
    fn generation(&self) -> Option<u64> {
        match self {
            Msg::StackSets { generation, .. }
            | Msg::StackSetChecked { generation, .. }
            | Msg::Operations { generation, .. }
            | Msg::OperationDescribed { generation, .. }
            | Msg::ResultsPage { generation, .. }
            | Msg::Instances { generation, .. }
            | Msg::FetchFailed { generation, .. } => Some(*generation),
            _ => None,
        }
    }
}

fn on_stack_sets(
    state: &mut State,
    region: &str,
    result: Result<Vec<crate::model::StackSetSummary>, ApiError>,
    at: OffsetDateTime,
) {
    let data = &mut state.stack_sets;
    match result {
        Ok(summaries) => {
            let selected = selected_stack_set(data).map(row_key);
            // This listing replaces its own Region's rows; the other Regions' stay as they are.
            let (mut old, others): (Vec<StackSetRow>, Vec<StackSetRow>) = std::mem::take(&mut data.rows)
                .into_iter()
                .partition(|r| r.region == region);
            data.rows = others;
            data.rows.extend(summaries.into_iter().map(|summary| {
                let previous = old
                    .iter()
                    .position(|r| r.summary.name == summary.name)
                    .map(|i| old.swap_remove(i));
                match previous {
                    Some(previous) => StackSetRow { summary, ..previous },
                    None => StackSetRow {
                        region: region.to_string(),
                        summary,
                        latest: None,
                        recent: Vec::new(),
                        active: false,
                        checked_at: None,
                    },
                }
            }));
            sort_stack_sets(&mut data.rows);
            refilter_stack_sets(state, selected, true);
            let data = &mut state.stack_sets;
            data.freshness.fetched_at = Some(at);
            data.freshness.error = None;
            rebuild_pulse(state);
        }
        Err(error) => data.freshness.error = Some(error),
    }
    state.stack_sets.freshness.loading = false;
}

/// A stack set's identity across Regions: its Region and name.
fn row_key(row: &StackSetRow) -> (String, String) {
    (row.region.clone(), row.summary.name.clone())
}

fn on_stack_set_checked(
    state: &mut State,
    region: &str,
    stack_set: &str,
    mut operations: Vec<Operation>,
    at: OffsetDateTime,
) {
    let data = &mut state.stack_sets;
    let selected = selected_stack_set(data).map(row_key);
    let keep_top = data.selected == 0;
    if let Some(row) = data
        .rows
        .iter_mut()
        .find(|r| r.region == region && r.summary.name == stack_set)
    {
        operations.sort_by_key(|op| std::cmp::Reverse(op.created));
        row.active = operations.iter().any(|op| op.status.is_active());
        row.latest = operations.first().cloned();
        row.recent = operations;
        row.checked_at = Some(at);
    }
    // A check is news from the overview too: whatever the header waited for has arrived.
    data.freshness.loading = false;
    sort_stack_sets(&mut data.rows);
    // The top row stays selected as active stack sets rise to the top; any other follows its item.
    refilter_stack_sets(state, selected, !keep_top);
    rebuild_pulse(state);
}

/// The pulse from the overview's checks: every QUEUED, RUNNING and STOPPING operation of every
/// watched Region and CallAs, and those that ended within the last 24 hours, most urgent first
/// (failing, running, queued, then ended newest first). The top row stays selected as rows
/// rise to it; any other selection follows its operation.
fn rebuild_pulse(state: &mut State) {
    let follow = selected_pulse(&state.pulse).map(pulse_key);
    let keep_top = state.pulse.selected == 0;
    let since = state.now - super::PULSE_ENDED_WINDOW;
    let mut rows = Vec::new();
    for row in &state.stack_sets.rows {
        for op in &row.recent {
            let recent = op.ended.or(op.created).is_some_and(|at| at >= since);
            if !op.status.is_active() && !recent {
                continue;
            }
            let ahead = if op.status == OperationStatus::Queued {
                ahead_of(op, &row.recent).cloned()
            } else {
                None
            };
            rows.push(super::PulseRow {
                region: row.region.clone(),
                stack_set: row.summary.name.clone(),
                operation: op.clone(),
                checked_at: row.checked_at,
                ahead,
            });
        }
    }
    rows.sort_by(pulse_order);
    state.pulse.rows = rows;
    refilter_pulse(state, follow, !keep_top);
}

/// The operation a QUEUED one waits behind on its stack set: the latest active operation
/// created before it (the one running, or the one queued just ahead).
pub fn ahead_of<'a>(queued: &Operation, operations: &'a [Operation]) -> Option<&'a Operation> {
    operations
        .iter()
        .filter(|op| op.id != queued.id && op.status.is_active())
        .filter(|op| match (op.created, queued.created) {
            (Some(theirs), Some(ours)) => theirs <= ours,
            _ => true,
        })
        .max_by_key(|op| (op.created, op.status != OperationStatus::Queued))
}

/// Failing first (most failures first), then running, then queued (the longest waiting first
/// in each), then ended (newest first); ties by Region, stack set and id, so the order is stable.
pub fn pulse_order(a: &super::PulseRow, b: &super::PulseRow) -> std::cmp::Ordering {
    use super::Urgency;
    let (ua, ub) = (a.urgency(), b.urgency());
    let (oa, ob) = (&a.operation, &b.operation);
    ua.cmp(&ub)
        .then_with(|| match ua {
            Urgency::Failing => ob.failed_count.cmp(&oa.failed_count).then(oa.created.cmp(&ob.created)),
            Urgency::Running | Urgency::Queued => oa.created.cmp(&ob.created),
            Urgency::Ended => ob.ended.or(ob.created).cmp(&oa.ended.or(oa.created)),
        })
        .then_with(|| a.region.cmp(&b.region))
        .then_with(|| a.stack_set.cmp(&b.stack_set))
        .then_with(|| oa.id.cmp(&ob.id))
}

fn pulse_key(row: &super::PulseRow) -> (String, String, String) {
    (row.region.clone(), row.stack_set.clone(), row.operation.id.clone())
}

fn selected_pulse(data: &super::PulseData) -> Option<&super::PulseRow> {
    data.visible.get(data.selected).and_then(|i| data.rows.get(*i))
}

/// Recompute which pulse rows pass the filter (Region, stack set, id, action or status).
fn refilter_pulse(state: &mut State, follow: Option<(String, String, String)>, follow_item: bool) {
    let needle = needle_of(state, |s| matches!(s, Screen::Pulse));
    let data = &mut state.pulse;
    data.visible = (0..data.rows.len())
        .filter(|i| {
            let row = &data.rows[*i];
            let op = &row.operation;
            let outcome = crate::insight::Outcome::of(op, 0).short();
            matches_filter(
                &needle,
                &[&row.region, &row.stack_set, &op.id, op.action.as_str(), outcome],
            )
        })
        .collect();
    if follow_item {
        if let Some(key) = follow {
            data.selected = data
                .visible
                .iter()
                .position(|i| pulse_key(&data.rows[*i]) == key)
                .unwrap_or(data.selected);
        }
    }
    clamp(&mut data.selected, data.visible.len());
}

fn on_operations(
    state: &mut State,
    region: &str,
    stack_set: &str,
    result: Result<Vec<crate::model::Operation>, ApiError>,
    at: OffsetDateTime,
) {
    if stack_set != state.operations.stack_set || region != state.operations.region {
        return;
    }
    match result {
        Ok(operations) => {
            let data = &mut state.operations;
            let selected_id = selected_operation(data).map(|o| o.id.clone());
            data.operations = operations;
            data.freshness.fetched_at = Some(at);
            data.freshness.error = None;
            refilter_operations(state, selected_id);
        }
        Err(error) => state.operations.freshness.error = Some(error),
    }
    state.operations.freshness.loading = false;
}

fn on_results(state: &mut State, results: Vec<crate::model::OperationResult>, read: ReadKind, at: OffsetDateTime) {
    let new_rows = state.operation.grid.merge(results);
    let data = &mut state.operation;
    if read != ReadKind::Partial {
        let was_complete = data.complete;
        data.complete |= read == ReadKind::Full;
        // Exact only once nothing moves: a running operation's full read spans many intervals.
        data.exact = read == ReadKind::Full && data.operation.as_ref().is_some_and(|op| !op.status.is_active());
        data.freshness.loading = false;
        data.freshness.fetched_at = Some(at);
        data.freshness.error = None;
        // Throughput counts only what finished while we watched: samples start at the first
        // complete read, so results that were merely loaded never count as progress.
        if data.complete && !was_complete {
            data.progress.clear();
        }
        // The first complete read is no sample either: its pages were read over its whole
        // length, and the reads after it settle what moved meanwhile.
        if data.complete && was_complete {
            if let Some(previous) = data.progress.last().map(|sample| sample.at) {
                data.note_region_timing(previous, at);
            }
            let finished =
                data.grid.len() - data.grid.count(ResultStatus::Pending) - data.grid.count(ResultStatus::Running);
            data.progress.push(ProgressSample {
                at,
                finished,
                slots: data
                    .operation
                    .as_ref()
                    .map_or(0, |op| slots(&data.grid, &op.preferences)),
            });
            // Keep the samples of the last few minutes, and the one just before them, so the
            // window always spans the whole of it.
            let keep_from = data
                .progress
                .iter()
                .rposition(|sample| at - sample.at >= PROGRESS_WINDOW)
                .unwrap_or(0);
            data.progress.drain(..keep_from);
        }
    }
    if new_rows || state.status_filter.is_some() {
        refilter(state);
    }
    if matches!(state.screen(), Screen::Failures { .. }) {
        regroup_failures(state);
    }
}

/// Deployments that may run at once in the Regions under way (fewer where fewer are left):
/// how many are in flight when the rollout goes at its pace.
fn slots(grid: &crate::app::ResultGrid, prefs: &crate::model::OperationPreferences) -> usize {
    crate::insight::region_progress(grid, prefs)
        .iter()
        .filter(|region| region.state == crate::insight::RegionState::Running)
        .map(|region| region.concurrency.min(region.pending + region.running))
        .sum()
}

fn on_stop_finished(state: &mut State, request: StopRequest, result: Result<Option<String>, ApiError>) {
    let text = match &result {
        Ok(request_id) => format!(
            "Stop sent for {} (request id {})",
            request.operation_id,
            request_id.as_deref().unwrap_or("none")
        ),
        Err(error) => crate::messages::stop_error_text(error),
    };
    if let Some(Overlay::Confirm(dialog)) = &mut state.overlay {
        if dialog.sent == Some(request.attempt) && dialog.phase == StopPhase::Sending {
            dialog.phase = match &result {
                Ok(request_id) => StopPhase::Sent {
                    request_id: request_id.clone(),
                },
                Err(_) => StopPhase::Failed { message: text.clone() },
            };
            // A retry is a new decision: the failure must be on screen before it counts.
            dialog.shown_at = None;
        }
    }
    state.flash = Some(Flash {
        is_error: result.is_err(),
        text,
        at: state.now,
    });
}

fn sort_stack_sets(rows: &mut [StackSetRow]) {
    rows.sort_by(|a, b| {
        b.active
            .cmp(&a.active)
            .then_with(|| a.summary.name.cmp(&b.summary.name))
            .then_with(|| a.region.cmp(&b.region))
    });
}

fn clamp(index: &mut usize, len: usize) {
    *index = (*index).min(len.saturating_sub(1));
}

fn selected_stack_set(data: &StackSetsData) -> Option<&StackSetRow> {
    data.visible.get(data.selected).and_then(|i| data.rows.get(*i))
}

fn selected_operation(data: &OperationsData) -> Option<&Operation> {
    data.visible.get(data.selected).and_then(|i| data.operations.get(*i))
}

/// Case-insensitive substring match of the filter against any of `fields`.
fn matches_filter(needle: &str, fields: &[&str]) -> bool {
    needle.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(needle))
}

fn needle(state: &State) -> String {
    state.filter.value().trim().to_lowercase()
}

/// The filter of the first screen on the stack that `is_screen` picks: the live one if it is
/// the current screen, else the one saved when the user went deeper.
fn needle_of(state: &State, is_screen: impl Fn(&Screen) -> bool) -> String {
    let Some(index) = state.screens.iter().position(is_screen) else {
        return String::new();
    };
    let input = if index + 1 == state.screens.len() {
        Some(&state.filter)
    } else {
        state.saved_filters.get(index)
    };
    input.map(|f| f.value().trim().to_lowercase()).unwrap_or_default()
}

/// Recompute which stack sets pass the filter; the selection follows `follow` when asked to.
fn refilter_stack_sets(state: &mut State, follow: Option<(String, String)>, follow_item: bool) {
    let needle = needle_of(state, |s| matches!(s, Screen::StackSets));
    let data = &mut state.stack_sets;
    data.visible = (0..data.rows.len())
        .filter(|i| {
            let row = &data.rows[*i];
            let s = &row.summary;
            matches_filter(&needle, &[&s.name, s.description.as_deref().unwrap_or(""), &row.region])
        })
        .collect();
    if follow_item {
        if let Some(key) = follow {
            data.selected = data
                .visible
                .iter()
                .position(|i| row_key(&data.rows[*i]) == key)
                .unwrap_or(0);
        }
    }
    clamp(&mut data.selected, data.visible.len());
}

/// Recompute which operations pass the filter (id, action or status); the selection follows its item.
fn refilter_operations(state: &mut State, follow: Option<String>) {
    let needle = needle_of(state, |s| matches!(s, Screen::Operations { .. }));
    let data = &mut state.operations;
    data.visible = (0..data.operations.len())
        .filter(|i| {
            let op = &data.operations[*i];
            matches_filter(&needle, &[&op.id, &op.action.to_string(), &op.status.to_string()])
        })
        .collect();
    if let Some(id) = follow {
        data.selected = data
            .visible
            .iter()
            .position(|i| data.operations[*i].id == id)
            .unwrap_or(0);
    }
    clamp(&mut data.selected, data.visible.len());
}

/// Failure groups of the grid that pass the filter (reason, status, account or Region).
fn regroup_failures(state: &mut State) {
    let needle = needle(state);
    let mut groups = state.operation.grid.failure_groups();
    groups.retain(|g| {
        matches_filter(
            &needle,
            &[&g.reason, g.status.as_str(), g.category.map_or("", |c| c.name.as_str())],
        ) || g.accounts.iter().any(|a| a.contains(&needle))
            || g.regions.iter().any(|r| r.contains(&needle))
    });
    // The cursor follows its group (status and reason) when counts re-sort the groups.
    let followed = state
        .operation
        .failures
        .get(state.operation.failures_selected)
        .map(|g| (g.status, g.reason.clone()));
    if let Some(at) =
        followed.and_then(|(status, reason)| groups.iter().position(|g| g.status == status && g.reason == reason))
    {
        state.operation.failures_selected = at;
    }
    state.operation.failures = groups;
    clamp(&mut state.operation.failures_selected, state.operation.failures.len());
}

/// The current screen's list after its filter changed.
fn refilter_screen(state: &mut State) {
    match state.screen() {
        Screen::Pulse => {
            let follow = selected_pulse(&state.pulse).map(pulse_key);
            refilter_pulse(state, follow, true);
        }
        Screen::StackSets => {
            let follow = selected_stack_set(&state.stack_sets).map(row_key);
            refilter_stack_sets(state, follow, true);
        }
        Screen::Operations { .. } => {
            let follow = selected_operation(&state.operations).map(|o| o.id.clone());
            refilter_operations(state, follow);
        }
        Screen::Operation { .. } => refilter(state),
        Screen::Failures { .. } => regroup_failures(state),
        Screen::Instances { .. } => refilter_instances(state),
    }
}

fn refilter(state: &mut State) {
    // The grid's own filter, also while the failures screen (with a filter of its own) is on top.
    let needle = needle_of(state, |s| matches!(s, Screen::Operation { .. }));
    let data = &mut state.operation;
    // Once the grid is whole the cursor follows its row; while the first read pours in, rows
    // sort in ahead of it and following would drag the cursor away from the top.
    let keep_row = if data.complete {
        data.visible.get(data.cursor_row).copied()
    } else {
        None
    };
    data.visible = data.grid.filtered_rows(&needle, state.status_filter);
    data.cursor_row = keep_row
        .and_then(|row| data.visible.iter().position(|r| *r == row))
        .unwrap_or(data.cursor_row);
    clamp(&mut data.cursor_row, data.visible.len());
    clamp(&mut data.cursor_col, data.grid.regions.len());
}

fn flash(state: &mut State, text: impl Into<String>, is_error: bool) {
    state.flash = Some(Flash {
        text: text.into(),
        is_error,
        at: state.now,
    });
}

/// Move to another screen and tell the poller to watch it under a new generation. The screen
/// left behind keeps its filter for the way back.
fn enter(state: &mut State, screen: Screen) -> Vec<Command> {
    let old_scope = state.scope();
    state.saved_filters.push(std::mem::take(&mut state.filter));
    state.filter_editing = false;
    state.screens.push(screen);
    let commands = rescope(state, old_scope);
    // Data kept from an earlier visit was filtered with a filter that is gone now.
    refilter_screen(state);
    commands
}

fn back(state: &mut State) -> Vec<Command> {
    if state.screens.len() <= 1 {
        return Vec::new();
    }
    let old_scope = state.scope();
    state.screens.pop();
    state.filter = state.saved_filters.pop().unwrap_or_default();
    state.filter_editing = false;
    let commands = rescope(state, old_scope);
    refilter_screen(state);
    commands
}

fn rescope(state: &mut State, old_scope: super::Scope) -> Vec<Command> {
    let scope = state.scope();
    if scope == old_scope {
        return Vec::new();
    }
    state.generation += 1;
    let now = state.now;
    match &scope {
        super::Scope::StackSets => {
            state.stack_sets.freshness.loading = true;
            state.stack_sets.freshness.waiting_since = Some(now);
        }
        super::Scope::Operations { region, stack_set } => {
            if state.operations.stack_set != *stack_set || state.operations.region != *region {
                state.operations = OperationsData {
                    region: region.clone(),
                    stack_set: stack_set.clone(),
                    ..Default::default()
                };
            }
            state.operations.freshness.loading = true;
            state.operations.freshness.waiting_since = Some(now);
        }
        super::Scope::Operation { region, stack_set, .. } => {
            state.operation = OperationData::new(region, stack_set);
            state.operation.freshness.waiting_since = Some(now);
            state.status_filter = None;
        }
        super::Scope::Instances { region, stack_set } => {
            state.instances = super::InstancesData {
                region: region.clone(),
                stack_set: stack_set.clone(),
                ..Default::default()
            };
            state.instances.freshness.loading = true;
            state.instances.freshness.waiting_since = Some(now);
        }
    }
    vec![Command::Watch {
        scope,
        generation: state.generation,
    }]
}

fn page(state: &State) -> usize {
    state.page_rows.max(1) as usize
}

fn on_drawn(state: &mut State, report: FrameReport) {
    state.page_rows = report.page_rows;
    if let Some(Overlay::Confirm(dialog)) = &mut state.overlay {
        dialog.clipped = !report.dialog_shown;
        if !report.dialog_shown {
            dialog.shown_at = None;
        } else if dialog.shown_at.is_none() {
            dialog.shown_at = Some(report.at);
        }
    }
}

fn on_key(state: &mut State, key: KeyEvent, at: Instant) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if keymap::is_ctrl_c(&key) {
        state.quit = true;
        return vec![Command::Quit];
    }
    let previous_input = match &state.overlay {
        Some(Overlay::Confirm(dialog)) => dialog.last_input,
        _ => at,
    };
    note_dialog_input(state, at);
    // Nothing but the notice is on screen: a key must not act on what no one can see.
    if !layout::fits(state.size.0, state.size.1) {
        if state.settings.keymap.action(Mode::Normal, &key, false) == Some(Action::Quit) {
            state.quit = true;
            return vec![Command::Quit];
        }
        return Vec::new();
    }
    match state.mode() {
        Mode::Dialog => on_dialog_key(state, key, at, previous_input),
        Mode::Popup => {
            // The copy keys (of the screens' layer) copy from a cell's detail and leave it open;
            // any other key closes help and detail.
            let action = state.settings.keymap.action(Mode::Normal, &key, false);
            if state.overlay == Some(Overlay::CellDetail) && matches!(action, Some(Action::Copy | Action::CopyUrl)) {
                if !typed_ahead_of_refused_stop(state, at) {
                    copy_from_detail(state, action == Some(Action::CopyUrl));
                }
            } else {
                state.overlay = None;
                // An `s` that only closed the popup opened no dialog: a `y` typed with it is the
                // stop's, typed ahead, not a copy.
                if action == Some(Action::Stop) {
                    state.stop_refused_at = Some(at);
                }
            }
            Vec::new()
        }
        Mode::Filter => {
            on_filter_key(state, key);
            Vec::new()
        }
        Mode::Normal => match state.settings.keymap.action(Mode::Normal, &key, false) {
            Some(action) => on_action(state, action, at),
            None => Vec::new(),
        },
    }
}

fn on_filter_key(state: &mut State, key: KeyEvent) {
    match state.settings.keymap.action(Mode::Filter, &key, true) {
        Some(Action::KeepFilter) => state.filter_editing = false,
        Some(Action::ClearFilter) => {
            state.filter.reset();
            state.filter_editing = false;
            refilter_screen(state);
        }
        _ => {
            let is_char = matches!(key.code, KeyCode::Char(_)) && !key.modifiers.contains(KeyModifiers::CONTROL);
            if is_char && state.filter.value().chars().count() >= layout::MAX_FILTER_CHARS {
                flash(
                    state,
                    format!("The filter holds at most {} characters.", layout::MAX_FILTER_CHARS),
                    true,
                );
                return;
            }
            if state.filter.handle_event(&Event::Key(key)).is_some() {
                refilter_screen(state);
            }
        }
    }
}

/// Pasted text goes to the input that has focus, as text, and nowhere else: a paste never
/// acts as keys.
fn on_paste(state: &mut State, text: &str, at: Instant) -> Vec<Command> {
    note_dialog_input(state, at);
    if !layout::fits(state.size.0, state.size.1) {
        return Vec::new();
    }
    match state.mode() {
        Mode::Filter => {
            let room = layout::MAX_FILTER_CHARS.saturating_sub(state.filter.value().chars().count());
            let (clean, cut) = clean_paste(text, room);
            let value = format!("{}{}", state.filter.value(), clean);
            state.filter = Input::new(value);
            if cut {
                flash(
                    state,
                    format!(
                        "Paste cut: the filter holds at most {} characters.",
                        layout::MAX_FILTER_CHARS
                    ),
                    true,
                );
            }
            refilter_screen(state);
        }
        Mode::Dialog => {
            let Some(Overlay::Confirm(dialog)) = &mut state.overlay else {
                return Vec::new();
            };
            if dialog.mode == ConfirmMode::TypeName && dialog.phase == StopPhase::Asking {
                let room = layout::MAX_TYPED_NAME_CHARS.saturating_sub(dialog.typed.chars().count());
                // Stack set names hold no white space: a copied name's newline or spaces go.
                let name: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let (clean, cut) = clean_paste(&name, room);
                dialog.typed.push_str(&clean);
                if cut {
                    flash(
                        state,
                        format!(
                            "Paste cut: the name box holds at most {} characters.",
                            layout::MAX_TYPED_NAME_CHARS
                        ),
                        true,
                    );
                }
            }
        }
        Mode::Normal | Mode::Popup => {
            let filter_key = state.settings.keymap.keys_text(Action::Filter);
            flash(
                state,
                format!("Paste ignored: press {filter_key} to filter first."),
                true,
            );
        }
    }
    Vec::new()
}

/// Every key or paste that reaches an open stop dialog, acted on or not (a too-small screen
/// ignores them), starts its quiet period again: whatever follows within the guard is a burst.
fn note_dialog_input(state: &mut State, at: Instant) {
    if let Some(Overlay::Confirm(dialog)) = &mut state.overlay {
        dialog.last_input = dialog.last_input.max(at);
    }
}

/// Pasted text as one line of at most `room` characters: line breaks become spaces and other
/// control characters go. Returns whether anything was cut.
fn clean_paste(text: &str, room: usize) -> (String, bool) {
    let mut out = String::new();
    let mut count = 0;
    for c in text.chars() {
        let c = match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => continue,
            c => c,
        };
        if count == room {
            return (out, true);
        }
        out.push(c);
        count += 1;
    }
    (out, false)
}

fn on_action(state: &mut State, action: Action, at: Instant) -> Vec<Command> {
    match action {
        Action::Quit => {
            state.quit = true;
            vec![Command::Quit]
        }
        Action::Help => {
            state.overlay = Some(Overlay::Help);
            Vec::new()
        }
        Action::Refresh => {
            flash(state, "Refreshing…", false);
            vec![Command::RefreshNow]
        }
        Action::Back => back(state),
        Action::Filter => {
            state.filter_editing = true;
            Vec::new()
        }
        Action::Copy | Action::CopyUrl if typed_ahead_of_refused_stop(state, at) => Vec::new(),
        Action::Copy => {
            copy_focused(state);
            Vec::new()
        }
        Action::CopyUrl => {
            copy_url(state);
            Vec::new()
        }
        Action::Export => {
            export(state);
            Vec::new()
        }
        Action::RequestLog => {
            state.overlay = Some(Overlay::RequestLog);
            Vec::new()
        }
        Action::Instances => open_instances(state),
        Action::Stop => {
            let commands = on_screen_action(state, action, at);
            if !matches!(state.overlay, Some(Overlay::Confirm(_))) {
                state.stop_refused_at = Some(at);
            }
            commands
        }
        _ => on_screen_action(state, action, at),
    }
}

/// A copy key within the dialog's guard after an `s` that opened no dialog: `sy` typed ahead.
/// It does nothing, so the footer keeps saying why nothing was stopped.
fn typed_ahead_of_refused_stop(state: &State, at: Instant) -> bool {
    state
        .stop_refused_at
        .is_some_and(|refused| at >= refused && at < refused + layout::CONFIRM_GUARD)
}

fn on_screen_action(state: &mut State, action: Action, at: Instant) -> Vec<Command> {
    match state.screen().clone() {
        Screen::Pulse => on_pulse_key(state, action, at),
        Screen::StackSets => on_stack_sets_key(state, action),
        Screen::Operations { region, stack_set } => on_operations_key(state, action, &region, &stack_set, at),
        Screen::Operation {
            region,
            stack_set,
            operation_id,
        } => on_operation_key(state, action, &region, &stack_set, &operation_id, at),
        Screen::Failures { .. } => on_failures_key(state, action),
        Screen::Instances { .. } => on_instances_key(state, action),
    }
}

/// Up/down/page/top/bottom over a list of `len` items; true when the action was a move.
fn move_in_list(index: &mut usize, len: usize, action: Action, page: usize) -> bool {
    let last = len.saturating_sub(1);
    *index = match action {
        Action::Up => index.saturating_sub(1),
        Action::Down => (*index + 1).min(last),
        Action::PageUp => index.saturating_sub(page),
        Action::PageDown => (*index + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => return false,
    };
    true
}

fn on_stack_sets_key(state: &mut State, action: Action) -> Vec<Command> {
    let page = page(state);
    let data = &mut state.stack_sets;
    if move_in_list(&mut data.selected, data.visible.len(), action, page) {
        return Vec::new();
    }
    match action {
        Action::Enter => match selected_stack_set(data) {
            Some(row) => {
                let stack_set = row.summary.name.clone();
                let region = row.region.clone();
                let model = row.summary.permission_model;
                let commands = enter(state, Screen::Operations { region, stack_set });
                state.operations.permission_model = state.operations.permission_model.or(model);
                commands
            }
            None => Vec::new(),
        },
        Action::Stop => {
            flash(state, "Open a stack set (enter) and pick an operation to stop.", true);
            Vec::new()
        }
        // The stack set list sits on the pulse: the same key goes back to it.
        Action::StackSets if state.screens.len() >= 2 => back(state),
        _ => Vec::new(),
    }
}

/// The pulse: enter opens the selected operation's grid; `s` opens that grid with the stop
/// dialog over it, exactly as on an operations list (the same checks, the same dialog and
/// guard); the stack set list is one key away.
fn on_pulse_key(state: &mut State, action: Action, at: Instant) -> Vec<Command> {
    let page = page(state);
    let data = &mut state.pulse;
    if move_in_list(&mut data.selected, data.visible.len(), action, page) {
        return Vec::new();
    }
    let selected = selected_pulse(data).cloned();
    match (action, selected) {
        (Action::StackSets, _) => enter(state, Screen::StackSets),
        (Action::Enter, Some(row)) => enter(
            state,
            Screen::Operation {
                region: row.region,
                stack_set: row.stack_set,
                operation_id: row.operation.id,
            },
        ),
        (Action::Stop, Some(row)) => {
            if let Err(why) = check_stoppable(state, &row.operation) {
                flash(state, why, true);
                return Vec::new();
            }
            let mut commands = enter(
                state,
                Screen::Operation {
                    region: row.region.clone(),
                    stack_set: row.stack_set.clone(),
                    operation_id: row.operation.id.clone(),
                },
            );
            commands.extend(open_stop_dialog(
                state,
                &row.region,
                &row.stack_set,
                &row.operation.id,
                at,
            ));
            commands
        }
        (Action::Stop, None) => {
            let why = if state.settings.read_only {
                crate::messages::DIALOG_READ_ONLY
            } else {
                "Nothing to stop: no operation is selected on the pulse."
            };
            flash(state, why, true);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn on_operations_key(state: &mut State, action: Action, region: &str, stack_set: &str, at: Instant) -> Vec<Command> {
    let page = page(state);
    let data = &mut state.operations;
    if move_in_list(&mut data.selected, data.visible.len(), action, page) {
        return Vec::new();
    }
    let selected = selected_operation(data).cloned();
    match (action, selected) {
        (Action::Enter, Some(op)) => enter(
            state,
            Screen::Operation {
                region: region.to_string(),
                stack_set: stack_set.to_string(),
                operation_id: op.id,
            },
        ),
        // The list has no counts of the operation's deployments: stop from its grid, where the
        // dialog can count them.
        (Action::Stop, Some(op)) => {
            if let Err(why) = check_stoppable(state, &op) {
                flash(state, why, true);
                return Vec::new();
            }
            let mut commands = enter(
                state,
                Screen::Operation {
                    region: region.to_string(),
                    stack_set: stack_set.to_string(),
                    operation_id: op.id.clone(),
                },
            );
            commands.extend(open_stop_dialog(state, region, stack_set, &op.id, at));
            commands
        }
        _ => Vec::new(),
    }
}

fn on_operation_key(
    state: &mut State,
    action: Action,
    region: &str,
    stack_set: &str,
    operation_id: &str,
    at: Instant,
) -> Vec<Command> {
    let page = page(state);
    let data = &mut state.operation;
    let columns = data.grid.regions.len();
    match action {
        Action::Left => data.cursor_col = data.cursor_col.saturating_sub(1),
        Action::Right => data.cursor_col = (data.cursor_col + 1).min(columns.saturating_sub(1)),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            move_in_list(&mut data.cursor_row, data.visible.len(), action, page);
        }
        Action::Enter | Action::Detail => state.overlay = Some(Overlay::CellDetail),
        Action::CycleStatus => {
            state.status_filter = match state.status_filter {
                None => Some(ResultStatus::Failed),
                Some(ResultStatus::Failed) => Some(ResultStatus::Running),
                Some(ResultStatus::Running) => Some(ResultStatus::Pending),
                Some(ResultStatus::Pending) => Some(ResultStatus::Cancelled),
                Some(ResultStatus::Cancelled) => Some(ResultStatus::Succeeded),
                Some(ResultStatus::Succeeded) => None,
            };
            refilter(state);
        }
        Action::Failures => {
            state.operation.failures_selected = 0;
            // Same scope, so no new watch: the poller keeps feeding the grid behind this screen.
            // `enter` groups the failures for the new screen.
            return enter(
                state,
                Screen::Failures {
                    region: region.to_string(),
                    stack_set: stack_set.to_string(),
                    operation_id: operation_id.to_string(),
                },
            );
        }
        Action::Stop => return open_stop_dialog(state, region, stack_set, operation_id, at),
        _ => {}
    }
    Vec::new()
}

fn on_failures_key(state: &mut State, action: Action) -> Vec<Command> {
    let page = page(state);
    let data = &mut state.operation;
    move_in_list(&mut data.failures_selected, data.failures.len(), action, page);
    Vec::new()
}

fn permission_model_of(state: &State, region: &str, stack_set: &str) -> Option<PermissionModel> {
    let operations = &state.operations;
    if operations.stack_set == stack_set && operations.region == region && operations.permission_model.is_some() {
        return operations.permission_model;
    }
    stack_set_row(state, region, stack_set).and_then(|r| r.summary.permission_model)
}

/// The overview's row of a stack set, by Region and name.
fn stack_set_row<'a>(state: &'a State, region: &str, stack_set: &str) -> Option<&'a StackSetRow> {
    state
        .stack_sets
        .rows
        .iter()
        .find(|r| r.summary.name == stack_set && r.region == region)
}

/// Why an operation cannot be stopped, in words for the footer; Ok when it can.
fn check_stoppable(state: &State, operation: &Operation) -> Result<(), String> {
    if state.settings.read_only {
        return Err(crate::messages::DIALOG_READ_ONLY.to_string());
    }
    if !operation.status.is_stoppable() {
        let why = match operation.status {
            OperationStatus::Stopping => "it is already stopping".to_string(),
            status => format!("it is {status}"),
        };
        return Err(format!("Nothing to stop: {why}."));
    }
    Ok(())
}

fn open_stop_dialog(state: &mut State, region: &str, stack_set: &str, operation_id: &str, at: Instant) -> Vec<Command> {
    let same_set = |data_region: &str, data_set: &str| data_region == region && data_set == stack_set;
    let loaded = Some(&state.operation)
        .filter(|data| same_set(&data.region, &data.stack_set))
        .and_then(|data| data.operation.as_ref())
        .filter(|op| op.id == operation_id);
    let listed = Some(&state.operations)
        .filter(|data| same_set(&data.region, &data.stack_set))
        .and_then(|data| data.operations.iter().find(|op| op.id == operation_id));
    let on_pulse = state
        .pulse
        .rows
        .iter()
        .find(|row| same_set(&row.region, &row.stack_set) && row.operation.id == operation_id)
        .map(|row| &row.operation);
    let Some(operation) = loaded.or(listed).or(on_pulse).cloned() else {
        let why = if state.settings.read_only {
            crate::messages::DIALOG_READ_ONLY
        } else {
            "The operation's status is not known yet: wait for it to load."
        };
        flash(state, why, true);
        return Vec::new();
    };
    if let Err(why) = check_stoppable(state, &operation) {
        flash(state, why, true);
        return Vec::new();
    }
    let delegated_admin_allowed = permission_model_of(state, region, stack_set) != Some(PermissionModel::SelfManaged);
    // Start on the CallAs the stack set was found under, which every other call about it uses.
    let listed_as = stack_set_row(state, region, stack_set).and_then(|r| r.summary.listed_as);
    let call_as = match (delegated_admin_allowed, listed_as) {
        (false, _) => CallAs::SelfAccount,
        (true, Some(listed)) => listed,
        (true, None) => state.settings.call_as,
    };
    state.overlay = Some(Overlay::Confirm(StopDialog {
        region: region.to_string(),
        stack_set: stack_set.to_string(),
        operation_id: operation_id.to_string(),
        action: operation.action.to_string(),
        call_as,
        delegated_admin_allowed,
        focus: DialogFocus::Cancel,
        mode: state.settings.confirm,
        typed: String::new(),
        phase: StopPhase::Asking,
        shown_at: None,
        last_input: at,
        clipped: false,
        sent: None,
    }));
    Vec::new()
}

/// Whether a decision key arriving `at` is deliberate: the dialog has been seen whole for the
/// guard's length, and the key is not part of a burst.
fn deliberate(dialog: &StopDialog, previous_input: Instant, at: Instant) -> bool {
    let guard = layout::CONFIRM_GUARD;
    dialog
        .shown_at
        .is_some_and(|shown| at >= shown + guard && at >= previous_input + guard)
}

/// What a key does to the stop dialog.
enum DialogStep {
    Stay,
    Close,
    Flash(String),
    /// A decision to send: it still has to pass the guard.
    Decide,
}

/// `previous_input`: the dialog's last input before this key.
fn on_dialog_key(state: &mut State, key: KeyEvent, at: Instant, previous_input: Instant) -> Vec<Command> {
    let keymap = state.settings.keymap.clone();
    let Some(Overlay::Confirm(dialog)) = &mut state.overlay else {
        return Vec::new();
    };
    let typing = dialog.mode == ConfirmMode::TypeName && dialog.phase == StopPhase::Asking;
    // An Alt key in the dialog is most likely ESC and a key read together: take the ESC.
    let action = if key.modifiers.intersects(KeyModifiers::ALT | KeyModifiers::META) {
        Some(Action::CancelStop)
    } else {
        keymap.action(Mode::Dialog, &key, typing)
    };
    match dialog_step(dialog, action, &key, typing) {
        DialogStep::Stay => Vec::new(),
        DialogStep::Close => {
            state.overlay = None;
            Vec::new()
        }
        DialogStep::Flash(text) => {
            flash(state, text, true);
            Vec::new()
        }
        DialogStep::Decide => send_if_deliberate(state, at, previous_input),
    }
}

/// The dialog's own rules for a key, phase by phase; sending is left to the guard.
fn dialog_step(dialog: &mut StopDialog, action: Option<Action>, key: &KeyEvent, typing: bool) -> DialogStep {
    match (&dialog.phase, action) {
        // Backing out is never dangerous: it acts at once, in every phase.
        (_, Some(Action::CancelStop)) => DialogStep::Close,
        // After the outcome, enter dismisses it as esc does.
        (StopPhase::Sent { .. } | StopPhase::Failed { .. }, Some(Action::PressButton)) => DialogStep::Close,
        (StopPhase::Failed { .. }, Some(Action::ConfirmStop)) => DialogStep::Decide,
        // A failure as the wrong caller is put right by switching CallAs before the retry.
        (StopPhase::Failed { .. }, Some(Action::SwitchCallAs)) => {
            switch_call_as(dialog);
            DialogStep::Stay
        }
        (StopPhase::Sending | StopPhase::Sent { .. } | StopPhase::Failed { .. }, _) => DialogStep::Stay,
        (StopPhase::Asking, Some(Action::SwitchCallAs)) => {
            switch_call_as(dialog);
            DialogStep::Stay
        }
        (StopPhase::Asking, Some(Action::NextButton)) if !typing => {
            dialog.focus = match dialog.focus {
                DialogFocus::Cancel => DialogFocus::Stop,
                DialogFocus::Stop => DialogFocus::Cancel,
            };
            DialogStep::Stay
        }
        (StopPhase::Asking, Some(Action::ConfirmStop)) if !typing => DialogStep::Decide,
        (StopPhase::Asking, Some(Action::PressButton)) if typing => {
            if dialog.typed == dialog.stack_set {
                DialogStep::Decide
            } else {
                DialogStep::Flash(format!(
                    "Type the stack set name exactly ({}) to stop, or esc.",
                    dialog.stack_set
                ))
            }
        }
        (StopPhase::Asking, Some(Action::PressButton)) => match dialog.focus {
            DialogFocus::Stop => DialogStep::Decide,
            DialogFocus::Cancel => DialogStep::Close,
        },
        (StopPhase::Asking, _) if typing => {
            match key.code {
                KeyCode::Backspace => {
                    dialog.typed.pop();
                }
                KeyCode::Char(c)
                    if !key.modifiers.contains(KeyModifiers::CONTROL)
                        && dialog.typed.chars().count() < layout::MAX_TYPED_NAME_CHARS =>
                {
                    dialog.typed.push(c);
                }
                _ => {}
            }
            DialogStep::Stay
        }
        (StopPhase::Asking, _) => DialogStep::Stay,
    }
}

/// SELF <-> DELEGATED_ADMIN, where DELEGATED_ADMIN is offered.
fn switch_call_as(dialog: &mut StopDialog) {
    if dialog.delegated_admin_allowed {
        dialog.call_as = match dialog.call_as {
            CallAs::SelfAccount => CallAs::DelegatedAdmin,
            CallAs::DelegatedAdmin => CallAs::SelfAccount,
        };
    }
}

/// Sends the stop if the decision passed the guard; otherwise says why not.
fn send_if_deliberate(state: &mut State, at: Instant, previous_input: Instant) -> Vec<Command> {
    let Some(Overlay::Confirm(dialog)) = &mut state.overlay else {
        return Vec::new();
    };
    if !deliberate(dialog, previous_input, at) {
        let why = if dialog.clipped {
            "Not sent: the terminal is too small to show the whole stop dialog; make it larger (or close this one with esc)."
        } else {
            "Not sent: the stop dialog takes a decision only after it has been on screen and the keys have been still for 0.3 s. Press it again."
        };
        flash(state, why, true);
        return Vec::new();
    }
    state.stop_attempts += 1;
    dialog.phase = StopPhase::Sending;
    dialog.sent = Some(state.stop_attempts);
    vec![Command::Stop(StopRequest {
        region: dialog.region.clone(),
        stack_set: dialog.stack_set.clone(),
        operation_id: dialog.operation_id.clone(),
        call_as: dialog.call_as,
        attempt: state.stop_attempts,
    })]
}

/// Queues `text` for the clipboard and says in the footer what went there.
fn copy(state: &mut State, what: &str, text: String) {
    let shown = crate::messages::copied(what, &text);
    state.effects.push(Effect::Copy { text });
    flash(state, shown, false);
}

/// `y` on a screen: what the cursor is on. Stack set name, operation id, a cell's account id,
/// a failure group's reason, an instance's account id.
fn copy_focused(state: &mut State) {
    let focused: Option<(&str, String)> = match state.screen() {
        Screen::Pulse => selected_pulse(&state.pulse).map(|row| ("operation id", row.operation.id.clone())),
        Screen::StackSets => {
            selected_stack_set(&state.stack_sets).map(|row| ("stack set name", row.summary.name.clone()))
        }
        Screen::Operations { .. } => selected_operation(&state.operations).map(|op| ("operation id", op.id.clone())),
        Screen::Operation { .. } => {
            let data = &state.operation;
            data.visible
                .get(data.cursor_row)
                .and_then(|row| data.grid.rows.get(*row as usize))
                .map(|row| ("account id", row.account.clone()))
        }
        Screen::Failures { .. } => {
            let data = &state.operation;
            data.failures
                .get(data.failures_selected)
                .map(|group| ("reason", group.reason.clone()))
        }
        Screen::Instances { .. } => selected_instance(&state.instances).map(|i| ("account id", i.account.clone())),
    };
    match focused {
        Some((what, text)) => copy(state, what, text),
        None => flash(state, crate::messages::NOTHING_TO_COPY, true),
    }
}

/// `y` / `Y` in a cell's detail: its full reason, or the stack instance's console URL.
fn copy_from_detail(state: &mut State, url: bool) {
    let Some(result) = state.operation.cursor_result().cloned() else {
        flash(state, crate::messages::NOTHING_TO_COPY, true);
        return;
    };
    if url {
        let Some(region) = admin_region(state, &state.operation.region) else {
            flash(state, crate::messages::NO_REGION_FOR_URL, true);
            return;
        };
        let stack_set = state.operation.stack_set.clone();
        let model = permission_model_of(state, &state.operation.region, &stack_set);
        let link = crate::console::stack_instance_url(&region, &stack_set, &result.account, &result.region, model);
        copy(state, "stack instance URL", link);
        return;
    }
    match result.status_reason {
        Some(reason) if !reason.is_empty() => copy(state, "reason", reason),
        _ => flash(state, "This cell has no reason to copy.", true),
    }
}

/// `Y`: the console URL of the operation on screen (or selected in the list).
fn copy_url(state: &mut State) {
    let (region, stack_set, operation_id) = match state.screen().clone() {
        Screen::Operation {
            region,
            stack_set,
            operation_id,
        }
        | Screen::Failures {
            region,
            stack_set,
            operation_id,
        } => (region, stack_set, operation_id),
        Screen::Pulse => match selected_pulse(&state.pulse) {
            Some(row) => (row.region.clone(), row.stack_set.clone(), row.operation.id.clone()),
            None => {
                flash(state, crate::messages::NOTHING_TO_COPY, true);
                return;
            }
        },
        Screen::Operations { region, stack_set } => match selected_operation(&state.operations) {
            Some(op) => (region, stack_set, op.id.clone()),
            None => {
                flash(state, crate::messages::NOTHING_TO_COPY, true);
                return;
            }
        },
        Screen::StackSets | Screen::Instances { .. } => {
            flash(
                state,
                "Open a stack set's operations to copy an operation's console URL.",
                true,
            );
            return;
        }
    };
    let Some(console_region) = admin_region(state, &region) else {
        flash(state, crate::messages::NO_REGION_FOR_URL, true);
        return;
    };
    let model = permission_model_of(state, &region, &stack_set);
    let link = crate::console::operation_url(&console_region, &stack_set, &operation_id, model);
    copy(state, "operation console URL", link);
}

/// The admin Region of a stack set for a console URL: the one it was found in, else the home Region.
fn admin_region(state: &State, region: &str) -> Option<String> {
    if region.is_empty() {
        state.settings.target.region.clone()
    } else {
        Some(region.to_string())
    }
}

/// A stack set name or id as a piece of a file name: letters, digits, `-`, `_` and `.` only.
fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

/// `e`: the operation's results (grid) as CSV, or its failure groups (failures) as Markdown,
/// to a file named after the stack set, operation and time; written by the event loop.
fn export(state: &mut State) {
    let (stack_set, operation_id, failures) = match state.screen().clone() {
        Screen::Operation {
            stack_set,
            operation_id,
            ..
        } => (stack_set, operation_id, false),
        Screen::Failures {
            stack_set,
            operation_id,
            ..
        } => (stack_set, operation_id, true),
        _ => {
            flash(state, crate::messages::EXPORT_WHERE, true);
            return;
        }
    };
    if !state.operation.complete {
        // A part of the grid written as if it were the whole would mislead whoever reads the file.
        flash(
            state,
            "Nothing exported: the results are still loading; press e again once the first complete read has landed.",
            true,
        );
        return;
    }
    let stamp = state
        .now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let (kind, extension) = if failures {
        ("failures", "md")
    } else {
        ("results", "csv")
    };
    let short_id: String = operation_id.chars().take(8).collect();
    let name = format!(
        "sstop-{}-{}-{kind}-{stamp}.{extension}",
        file_safe(&stack_set),
        file_safe(&short_id)
    );
    let dir = state.settings.export_dir.clone().unwrap_or_else(|| ".".into());
    let content = if failures {
        ExportContent::Failures {
            stack_set,
            operation_id,
            groups: state.operation.failures.clone(),
        }
    } else {
        ExportContent::Results(state.operation.grid.results.clone())
    };
    state.effects.push(Effect::Export(ExportJob {
        path: dir.join(name),
        content,
    }));
    flash(state, "Exporting…", false);
}

/// ListStackInstances landed: keep them sorted worst first, index them by account and Region,
/// and keep each view's cursor on its instance.
fn on_instances(state: &mut State, result: Result<Vec<crate::model::StackInstance>, ApiError>, at: OffsetDateTime) {
    let data = &mut state.instances;
    data.freshness.loading = false;
    match result {
        Ok(mut rows) => {
            rows.sort_by(|a, b| {
                super::instances::status_rank(a.status)
                    .cmp(&super::instances::status_rank(b.status))
                    .then_with(|| a.account.cmp(&b.account))
                    .then_with(|| a.region.cmp(&b.region))
            });
            let key = |i: &crate::model::StackInstance| (i.account.clone(), i.region.clone());
            let follow_list = data.visible.get(data.selected).and_then(|i| data.rows.get(*i)).map(key);
            let follow_grid = data
                .grid_visible
                .get(data.cursor_row)
                .and_then(|row| data.grid.accounts.get(*row))
                .zip(data.grid.regions.get(data.cursor_col))
                .map(|(account, region)| (account.clone(), region.clone()));
            data.counts = super::InstanceCounts::of(&rows);
            data.grid = super::instances::InstanceGrid::build(&rows);
            data.rows = rows;
            data.freshness.fetched_at = Some(at);
            data.freshness.error = None;
            refilter_instances(state);
            let data = &mut state.instances;
            if let Some((account, region)) = follow_list {
                if let Some(at) = data
                    .visible
                    .iter()
                    .position(|i| data.rows[*i].account == account && data.rows[*i].region == region)
                {
                    data.selected = at;
                }
            }
            if let Some((account, region)) = follow_grid {
                place_grid_cursor(data, &account, &region);
            }
        }
        Err(error) => data.freshness.error = Some(error),
    }
}

/// Puts the grid cursor on an account and Region, when that account's row is shown.
fn place_grid_cursor(data: &mut super::InstancesData, account: &str, region: &str) {
    if let Some(row) = data.grid.accounts.iter().position(|a| a == account) {
        if let Some(at) = data.grid_visible.iter().position(|r| *r == row) {
            data.cursor_row = at;
        }
    }
    if let Some(col) = data.grid.regions.iter().position(|r| r == region) {
        data.cursor_col = col;
    }
}

/// The instance under the cursor of the view on screen (the list's line, or the grid's cell).
pub(crate) fn selected_instance(data: &super::InstancesData) -> Option<&crate::model::StackInstance> {
    data.rows.get(data.focused()?)
}

/// Whether an instance passes the `tab` filter and the text filter (account, Region, OU,
/// DetailedStatus, drift, last operation id, reason).
fn instance_shown(data: &super::InstancesData, needle: &str, i: &crate::model::StackInstance) -> bool {
    data.passes(i)
        && matches_filter(
            needle,
            &[
                &i.account,
                &i.region,
                i.ou.as_deref().unwrap_or(""),
                i.detailed_status.as_deref().unwrap_or(""),
                i.drift_status.as_deref().unwrap_or(""),
                i.last_operation_id.as_deref().unwrap_or(""),
                i.status_reason.as_deref().unwrap_or(""),
            ],
        )
}

/// The list's instances and the grid's accounts that pass the filters: an account stays in
/// the grid when any of its instances passes (the others show faint beside it).
fn refilter_instances(state: &mut State) {
    let needle = needle(state);
    let data = &mut state.instances;
    data.visible = (0..data.rows.len())
        .filter(|n| instance_shown(data, &needle, &data.rows[*n]))
        .collect();
    data.grid_visible = (0..data.grid.accounts.len())
        .filter(|row| {
            data.grid
                .row_cells(*row)
                .any(|(_, i)| instance_shown(data, &needle, &data.rows[i]))
        })
        .collect();
    clamp(&mut data.selected, data.visible.len());
    clamp(&mut data.cursor_row, data.grid_visible.len());
    clamp(&mut data.cursor_col, data.grid.regions.len());
}

/// Whether an instance passes the filters now (the grid draws those that do not faint).
pub(crate) fn instance_passes(state: &State, index: usize) -> bool {
    let data = &state.instances;
    data.rows
        .get(index)
        .is_some_and(|i| instance_shown(data, &needle(state), i))
}

fn on_instances_key(state: &mut State, action: Action) -> Vec<Command> {
    use super::instances::InstancesView;
    let page = page(state);
    let data = &mut state.instances;
    let moved = match data.view {
        InstancesView::List => move_in_list(&mut data.selected, data.visible.len(), action, page),
        InstancesView::Grid => match action {
            Action::Left => {
                data.cursor_col = data.cursor_col.saturating_sub(1);
                true
            }
            Action::Right => {
                data.cursor_col = (data.cursor_col + 1).min(data.grid.regions.len().saturating_sub(1));
                true
            }
            _ => move_in_list(&mut data.cursor_row, data.grid_visible.len(), action, page),
        },
    };
    if moved {
        return Vec::new();
    }
    match action {
        Action::CycleStatus => {
            let choices = super::instances::filter_choices(&data.rows);
            data.filter = super::instances::next_filter(data.filter.as_ref(), &choices);
            data.selected = 0;
            data.cursor_row = 0;
            refilter_instances(state);
            Vec::new()
        }
        Action::ToggleView => {
            // The other view opens on the same instance, when it shows it.
            let focused = selected_instance(data).map(|i| (i.account.clone(), i.region.clone()));
            data.view = match data.view {
                InstancesView::Grid => InstancesView::List,
                InstancesView::List => InstancesView::Grid,
            };
            if let Some((account, region)) = focused {
                match data.view {
                    InstancesView::Grid => place_grid_cursor(data, &account, &region),
                    InstancesView::List => {
                        if let Some(at) = data
                            .visible
                            .iter()
                            .position(|i| data.rows[*i].account == account && data.rows[*i].region == region)
                        {
                            data.selected = at;
                        }
                    }
                }
            }
            Vec::new()
        }
        Action::Enter | Action::Detail => describe_focused_instance(state),
        Action::Stop => {
            flash(
                state,
                "Stack instances are not an operation: open one (esc, then an operation) to stop it.",
                true,
            );
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// `enter` on an instance: its detail popup, and one DescribeStackInstance to fill it.
fn describe_focused_instance(state: &mut State) -> Vec<Command> {
    let data = &state.instances;
    let Some(instance) = selected_instance(data) else {
        flash(state, "No stack instance here: move to a cell that has one.", true);
        return Vec::new();
    };
    let request = super::InstanceRequest {
        region: data.region.clone(),
        stack_set: data.stack_set.clone(),
        account: instance.account.clone(),
        instance_region: instance.region.clone(),
    };
    state.overlay = Some(Overlay::InstanceDetail(super::InstanceDetail {
        request: request.clone(),
        result: None,
    }));
    vec![Command::DescribeInstance(request)]
}

/// `i`: the stack instances of the stack set selected (pulse, stack set list) or on screen.
fn open_instances(state: &mut State) -> Vec<Command> {
    let target = match state.screen() {
        Screen::Pulse => selected_pulse(&state.pulse).map(|row| (row.region.clone(), row.stack_set.clone())),
        Screen::StackSets => {
            selected_stack_set(&state.stack_sets).map(|row| (row.region.clone(), row.summary.name.clone()))
        }
        Screen::Instances { .. } => return Vec::new(),
        screen => screen
            .stack_set()
            .map(|(region, stack_set)| (region.to_string(), stack_set.to_string())),
    };
    match target {
        Some((region, stack_set)) => enter(state, Screen::Instances { region, stack_set }),
        None => {
            flash(state, "Select a stack set to see its stack instances.", true);
            Vec::new()
        }
    }
}

/// DescribeStackInstance answered: shown if its popup is still open on that instance.
fn on_instance_described(
    state: &mut State,
    request: super::InstanceRequest,
    result: Result<crate::model::StackInstanceDetail, ApiError>,
) {
    if let Some(Overlay::InstanceDetail(detail)) = &mut state.overlay {
        if detail.request == request {
            detail.result = Some(result);
        }
    }
}
