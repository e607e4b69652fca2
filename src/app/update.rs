//! The one function that changes state: `update(&mut State, Msg) -> Vec<Command>`.
//! Pure: no I/O, no clock, no SDK. Results for a scope the user has left are dropped by generation.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui_input::backend::crossterm::EventHandler;

use super::{
    Action, Command, ConfirmMode, DialogFocus, Flash, OperationData, Overlay, ReadKind, Screen, StackSetRow, State,
    StopDialog, StopPhase, StopRequest,
};
use crate::api::{ApiError, ErrorKind};
use crate::model::{CallAs, OperationStatus, PermissionModel, ResultStatus};

/// Rows of chrome above and below the grid; the rest of the screen pages.
const GRID_CHROME_ROWS: u16 = 9;
/// Progress samples kept for throughput: about a minute at the default interval.
const PROGRESS_SAMPLES: usize = 12;

pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Msg::Resize { width, height } => {
            state.size = (width, height);
            Vec::new()
        }
        Msg::StackSets { generation, result, at } => {
            if generation != state.generation {
                return Vec::new();
            }
            let data = &mut state.stack_sets;
            match result {
                Ok(summaries) => {
                    let selected_name = data.rows.get(data.selected).map(|r| r.summary.name.clone());
                    let old = std::mem::take(&mut data.rows);
                    data.rows = summaries
                        .into_iter()
                        .map(|summary| {
                            let previous = old.iter().find(|r| r.summary.name == summary.name);
                            StackSetRow {
                                latest: previous.and_then(|p| p.latest.clone()),
                                active: previous.is_some_and(|p| p.active),
                                checked_at: previous.and_then(|p| p.checked_at),
                                summary,
                            }
                        })
                        .collect();
                    sort_stack_sets(&mut data.rows);
                    data.selected = reselect(&data.rows, selected_name, |r| &r.summary.name);
                    data.freshness.fetched_at = Some(at);
                    data.freshness.error = None;
                }
                Err(error) => data.freshness.error = Some(error),
            }
            data.freshness.loading = false;
            Vec::new()
        }
        Msg::StackSetChecked {
            generation,
            stack_set,
            latest,
            active,
            at,
        } => {
            if generation != state.generation {
                return Vec::new();
            }
            let data = &mut state.stack_sets;
            let selected_name = data.rows.get(data.selected).map(|r| r.summary.name.clone());
            if let Some(row) = data.rows.iter_mut().find(|r| r.summary.name == stack_set) {
                row.latest = latest;
                row.active = active;
                row.checked_at = Some(at);
            }
            sort_stack_sets(&mut data.rows);
            // The top row stays selected as active stack sets rise to the top; any other follows its item.
            if data.selected != 0 {
                data.selected = reselect(&data.rows, selected_name, |r| &r.summary.name);
            }
            Vec::new()
        }
        Msg::Operations {
            generation,
            stack_set,
            result,
            at,
        } => {
            if generation != state.generation || stack_set != state.operations.stack_set {
                return Vec::new();
            }
            let data = &mut state.operations;
            match result {
                Ok(operations) => {
                    let selected_id = data.operations.get(data.selected).map(|o| o.id.clone());
                    data.operations = operations;
                    data.selected = reselect(&data.operations, selected_id, |o| &o.id);
                    data.freshness.fetched_at = Some(at);
                    data.freshness.error = None;
                }
                Err(error) => data.freshness.error = Some(error),
            }
            data.freshness.loading = false;
            Vec::new()
        }
        Msg::OperationDescribed {
            generation,
            operation,
            at,
        } => {
            if generation != state.generation {
                return Vec::new();
            }
            let data = &mut state.operation;
            data.grid.set_region_order(&operation.preferences.region_order);
            data.operation = Some(operation);
            data.freshness.fetched_at = Some(at);
            data.freshness.error = None;
            Vec::new()
        }
        Msg::ResultsPage {
            generation,
            results,
            read,
            at,
        } => {
            if generation != state.generation {
                return Vec::new();
            }
            let new_rows = state.operation.grid.merge(results);
            let data = &mut state.operation;
            if read != ReadKind::Partial {
                data.complete |= read == ReadKind::Full;
                data.exact = read == ReadKind::Full;
                data.freshness.loading = false;
                data.freshness.fetched_at = Some(at);
                data.freshness.error = None;
                let finished =
                    data.grid.len() - data.grid.count(ResultStatus::Pending) - data.grid.count(ResultStatus::Running);
                data.progress.push((at, finished));
                if data.progress.len() > PROGRESS_SAMPLES {
                    data.progress.remove(0);
                }
            }
            if new_rows || state.status_filter.is_some() {
                refilter(state);
            }
            if matches!(state.screen(), Screen::Failures { .. }) {
                state.operation.failures = state.operation.grid.failure_groups();
                clamp(&mut state.operation.failures_selected, state.operation.failures.len());
            }
            Vec::new()
        }
        Msg::FetchFailed {
            generation,
            error,
            at: _,
        } => {
            if generation != state.generation {
                return Vec::new();
            }
            let freshness = match state.screen() {
                Screen::StackSets => &mut state.stack_sets.freshness,
                Screen::Operations { .. } => &mut state.operations.freshness,
                _ => &mut state.operation.freshness,
            };
            freshness.error = Some(error);
            freshness.loading = false;
            Vec::new()
        }
        Msg::PermissionModel { stack_set, model } => {
            if state.operations.stack_set == stack_set {
                state.operations.permission_model = Some(model);
            }
            Vec::new()
        }
        Msg::StopFinished { request, result } => {
            let text = match &result {
                Ok(request_id) => format!(
                    "Stop sent for {} (request id {})",
                    request.operation_id,
                    request_id.as_deref().unwrap_or("none")
                ),
                Err(error) => stop_error_text(error),
            };
            let matches_dialog = matches!(&state.overlay, Some(Overlay::Confirm(d))
                if d.operation_id == request.operation_id && d.phase == StopPhase::Sending);
            if matches_dialog {
                if let Some(Overlay::Confirm(dialog)) = &mut state.overlay {
                    dialog.phase = match &result {
                        Ok(request_id) => StopPhase::Sent {
                            request_id: request_id.clone(),
                        },
                        Err(_) => StopPhase::Failed { message: text.clone() },
                    };
                }
            }
            state.flash = Some(Flash {
                is_error: result.is_err(),
                text,
                at: state.now,
            });
            Vec::new()
        }
    }
}

use super::Msg;

/// Plain words for every way a stop can fail.
pub fn stop_error_text(error: &ApiError) -> String {
    match error.kind {
        ErrorKind::InvalidOperation => "The operation has already ended: nothing to stop.".to_string(),
        ErrorKind::OperationNotFound => {
            "Operation not found: it may belong to another stack set, or need another CallAs.".to_string()
        }
        ErrorKind::StackSetNotFound => format!(
            "Stack set not found as this caller: {} (a delegated-admin stack set needs CallAs DELEGATED_ADMIN).",
            error.message
        ),
        ErrorKind::AccessDenied => format!("Access denied: {}", error.message),
        ErrorKind::Throttled => {
            "Throttled by CloudFormation even after retries: try again in a moment (y).".to_string()
        }
        ErrorKind::Network | ErrorKind::Timeout => {
            format!(
                "Could not reach CloudFormation: {}. Press y to try again.",
                error.message
            )
        }
        ErrorKind::ExpiredCredentials | ErrorKind::NoCredentials => {
            format!("Credentials problem: {}", error.message)
        }
        _ => format!("Stop failed: {}", error.message),
    }
}

fn sort_stack_sets(rows: &mut [StackSetRow]) {
    rows.sort_by(|a, b| {
        b.active
            .cmp(&a.active)
            .then_with(|| a.summary.name.cmp(&b.summary.name))
    });
}

/// Keep the selection on the same item after a list is replaced.
fn reselect<T>(items: &[T], previous: Option<String>, key: impl Fn(&T) -> &String) -> usize {
    previous
        .and_then(|name| items.iter().position(|item| *key(item) == name))
        .unwrap_or(0)
}

fn clamp(index: &mut usize, len: usize) {
    *index = (*index).min(len.saturating_sub(1));
}

fn refilter(state: &mut State) {
    let data = &mut state.operation;
    // Once the grid is whole the cursor follows its row; while the first read pours in, rows
    // sort in ahead of it and following would drag the cursor away from the top.
    let keep_row = if data.complete {
        data.visible.get(data.cursor_row).copied()
    } else {
        None
    };
    data.visible = data.grid.filtered_rows(state.filter.value(), state.status_filter);
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

/// Move to another screen and tell the poller to watch it under a new generation.
fn enter(state: &mut State, screen: Screen) -> Vec<Command> {
    let old_scope = state.scope();
    state.screens.push(screen);
    rescope(state, old_scope)
}

fn back(state: &mut State) -> Vec<Command> {
    if state.screens.len() <= 1 {
        return Vec::new();
    }
    let old_scope = state.scope();
    state.screens.pop();
    rescope(state, old_scope)
}

fn rescope(state: &mut State, old_scope: super::Scope) -> Vec<Command> {
    let scope = state.scope();
    if scope == old_scope {
        return Vec::new();
    }
    state.generation += 1;
    match &scope {
        super::Scope::StackSets => state.stack_sets.freshness.loading = true,
        super::Scope::Operations { stack_set } => {
            if state.operations.stack_set != *stack_set {
                state.operations = super::OperationsData {
                    stack_set: stack_set.clone(),
                    ..Default::default()
                };
            }
            state.operations.freshness.loading = true;
        }
        super::Scope::Operation { stack_set, .. } => {
            state.operation = OperationData::new(stack_set);
            state.filter.reset();
            state.filter_editing = false;
            state.status_filter = None;
        }
    }
    vec![Command::Watch {
        scope,
        generation: state.generation,
    }]
}

fn grid_page(state: &State) -> usize {
    state.size.1.saturating_sub(GRID_CHROME_ROWS).max(1) as usize
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let is_ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if is_ctrl_c {
        state.quit = true;
        return vec![Command::Quit];
    }
    match &state.overlay {
        Some(Overlay::Confirm(_)) => return on_dialog_key(state, key),
        Some(Overlay::Help) | Some(Overlay::CellDetail) => {
            let action = state.settings.keymap.action(&key);
            if action == Some(Action::Quit) && key.code != KeyCode::Char('q') {
                state.quit = true;
                return vec![Command::Quit];
            }
            state.overlay = None;
            return Vec::new();
        }
        None => {}
    }
    if state.filter_editing {
        match key.code {
            KeyCode::Enter => state.filter_editing = false,
            KeyCode::Esc => {
                state.filter.reset();
                state.filter_editing = false;
                refilter(state);
            }
            _ => {
                if state.filter.handle_event(&Event::Key(key)).is_some() {
                    refilter(state);
                }
            }
        }
        return Vec::new();
    }
    let Some(action) = state.settings.keymap.action(&key) else {
        return Vec::new();
    };
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
        _ => match state.screen().clone() {
            Screen::StackSets => on_stack_sets_key(state, action),
            Screen::Operations { stack_set } => on_operations_key(state, action, &stack_set),
            Screen::Operation {
                stack_set,
                operation_id,
            } => on_operation_key(state, action, &stack_set, &operation_id),
            Screen::Failures { .. } => on_failures_key(state, action),
        },
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
    let page = grid_page(state);
    let data = &mut state.stack_sets;
    if move_in_list(&mut data.selected, data.rows.len(), action, page) {
        return Vec::new();
    }
    match action {
        Action::Enter => match data.rows.get(data.selected) {
            Some(row) => {
                let stack_set = row.summary.name.clone();
                let model = row.summary.permission_model;
                let commands = enter(state, Screen::Operations { stack_set });
                state.operations.permission_model = state.operations.permission_model.or(model);
                commands
            }
            None => Vec::new(),
        },
        Action::Stop => {
            flash(state, "Open a stack set (enter) and pick an operation to stop.", true);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn on_operations_key(state: &mut State, action: Action, stack_set: &str) -> Vec<Command> {
    let page = grid_page(state);
    let data = &mut state.operations;
    if move_in_list(&mut data.selected, data.operations.len(), action, page) {
        return Vec::new();
    }
    let selected = data.operations.get(data.selected).cloned();
    match (action, selected) {
        (Action::Enter, Some(op)) => enter(
            state,
            Screen::Operation {
                stack_set: stack_set.to_string(),
                operation_id: op.id,
            },
        ),
        (Action::Stop, Some(op)) => open_stop_dialog(state, stack_set, &op.id),
        _ => Vec::new(),
    }
}

fn on_operation_key(state: &mut State, action: Action, stack_set: &str, operation_id: &str) -> Vec<Command> {
    let page = grid_page(state);
    let data = &mut state.operation;
    let columns = data.grid.regions.len();
    match action {
        Action::Left => data.cursor_col = data.cursor_col.saturating_sub(1),
        Action::Right => data.cursor_col = (data.cursor_col + 1).min(columns.saturating_sub(1)),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            move_in_list(&mut data.cursor_row, data.visible.len(), action, page);
        }
        Action::Enter | Action::Detail => state.overlay = Some(Overlay::CellDetail),
        Action::Filter => state.filter_editing = true,
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
            state.operation.failures = state.operation.grid.failure_groups();
            state.operation.failures_selected = 0;
            // Same scope, so no new watch: the poller keeps feeding the grid behind this screen.
            state.screens.push(Screen::Failures {
                stack_set: stack_set.to_string(),
                operation_id: operation_id.to_string(),
            });
        }
        Action::Stop => return open_stop_dialog(state, stack_set, operation_id),
        _ => {}
    }
    Vec::new()
}

fn on_failures_key(state: &mut State, action: Action) -> Vec<Command> {
    let data = &mut state.operation;
    move_in_list(&mut data.failures_selected, data.failures.len(), action, 5);
    Vec::new()
}

fn permission_model_of(state: &State, stack_set: &str) -> Option<PermissionModel> {
    if state.operations.stack_set == stack_set && state.operations.permission_model.is_some() {
        return state.operations.permission_model;
    }
    state
        .stack_sets
        .rows
        .iter()
        .find(|r| r.summary.name == stack_set)
        .and_then(|r| r.summary.permission_model)
}

fn open_stop_dialog(state: &mut State, stack_set: &str, operation_id: &str) -> Vec<Command> {
    if state.settings.read_only {
        flash(
            state,
            "READ-ONLY: stopping is disabled (--read-only or read_only in the config).",
            true,
        );
        return Vec::new();
    }
    let loaded = state.operation.operation.as_ref().filter(|op| op.id == operation_id);
    let listed = state.operations.operations.iter().find(|op| op.id == operation_id);
    let Some(operation) = loaded.or(listed).cloned() else {
        flash(
            state,
            "The operation's status is not known yet: wait for it to load.",
            true,
        );
        return Vec::new();
    };
    if !operation.status.is_stoppable() {
        let why = match operation.status {
            OperationStatus::Stopping => "it is already stopping".to_string(),
            status => format!("it is {status}"),
        };
        flash(state, format!("Nothing to stop: {why}."), true);
        return Vec::new();
    }
    let grid = &state.operation.grid;
    let grid_is_this_op = loaded.is_some() && !grid.is_empty();
    let count = |status| if grid_is_this_op { grid.count(status) } else { 0 };
    let delegated_admin_allowed = permission_model_of(state, stack_set) != Some(PermissionModel::SelfManaged);
    let call_as = if delegated_admin_allowed {
        state.settings.call_as
    } else {
        CallAs::SelfAccount
    };
    state.overlay = Some(Overlay::Confirm(StopDialog {
        stack_set: stack_set.to_string(),
        operation_id: operation_id.to_string(),
        action: operation.action.to_string(),
        running: count(ResultStatus::Running),
        pending: count(ResultStatus::Pending),
        failed: if grid_is_this_op {
            grid.count(ResultStatus::Failed)
        } else {
            operation.failed_count.unwrap_or(0) as usize
        },
        call_as,
        delegated_admin_allowed,
        focus: DialogFocus::Cancel,
        mode: state.settings.confirm,
        typed: String::new(),
        phase: StopPhase::Asking,
    }));
    Vec::new()
}

fn on_dialog_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let Some(Overlay::Confirm(dialog)) = &mut state.overlay else {
        return Vec::new();
    };
    let send = |dialog: &mut StopDialog| {
        dialog.phase = StopPhase::Sending;
        vec![Command::Stop(StopRequest {
            stack_set: dialog.stack_set.clone(),
            operation_id: dialog.operation_id.clone(),
            call_as: dialog.call_as,
        })]
    };
    match &dialog.phase {
        StopPhase::Sending => {
            // One request at a time; only closing is allowed while it is in flight.
            if key.code == KeyCode::Esc {
                state.overlay = None;
            }
            return Vec::new();
        }
        StopPhase::Sent { .. } => {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('n')
            ) {
                state.overlay = None;
            }
            return Vec::new();
        }
        StopPhase::Failed { .. } => {
            return match key.code {
                KeyCode::Char('y') => send(dialog),
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('n') => {
                    state.overlay = None;
                    Vec::new()
                }
                _ => Vec::new(),
            };
        }
        StopPhase::Asking => {}
    }
    let toggle_call_as = |dialog: &mut StopDialog| {
        if dialog.delegated_admin_allowed {
            dialog.call_as = match dialog.call_as {
                CallAs::SelfAccount => CallAs::DelegatedAdmin,
                CallAs::DelegatedAdmin => CallAs::SelfAccount,
            };
        }
    };
    match (dialog.mode, key.code) {
        (_, KeyCode::Esc) => {
            state.overlay = None;
            Vec::new()
        }
        (_, KeyCode::Left | KeyCode::Right) => {
            toggle_call_as(dialog);
            Vec::new()
        }
        (ConfirmMode::YesNo, KeyCode::Char('n')) => {
            state.overlay = None;
            Vec::new()
        }
        (ConfirmMode::YesNo, KeyCode::Char('y')) => send(dialog),
        (ConfirmMode::YesNo, KeyCode::Tab | KeyCode::BackTab) => {
            dialog.focus = match dialog.focus {
                DialogFocus::Cancel => DialogFocus::Stop,
                DialogFocus::Stop => DialogFocus::Cancel,
            };
            Vec::new()
        }
        (ConfirmMode::YesNo, KeyCode::Char('a')) => {
            toggle_call_as(dialog);
            Vec::new()
        }
        (ConfirmMode::YesNo, KeyCode::Enter) => match dialog.focus {
            DialogFocus::Stop => send(dialog),
            DialogFocus::Cancel => {
                state.overlay = None;
                Vec::new()
            }
        },
        (ConfirmMode::TypeName, KeyCode::Enter) => {
            if dialog.typed == dialog.stack_set {
                send(dialog)
            } else {
                let text = format!(
                    "Type the stack set name exactly ({}) to stop, or esc.",
                    dialog.stack_set
                );
                flash(state, text, true);
                Vec::new()
            }
        }
        (ConfirmMode::TypeName, KeyCode::Backspace) => {
            dialog.typed.pop();
            Vec::new()
        }
        (ConfirmMode::TypeName, KeyCode::Char(c)) => {
            dialog.typed.push(c);
            Vec::new()
        }
        _ => Vec::new(),
    }
}
