//! How long one frame of the Operation screen takes at 1k, 10k and 100k results: drawing builds
//! only the visible window, so the three should cost about the same.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use time::macros::datetime;
use time::Duration;

use sstop::app::{OperationData, ProgressSample, ResultGrid, Screen, Settings, State};
use sstop::model::{
    GateStatus, Operation, OperationAction, OperationPreferences, OperationResult, OperationStatus, ResultStatus,
};
use sstop::ui::view;

/// The 17 commercial Regions a large organisation typically deploys to.
const REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

/// A state on the Operation screen with `accounts` x 17 results, cursor mid-grid.
fn state_with(accounts: usize) -> State {
    let now = datetime!(2026-11-22 03:30 UTC);
    let mut state = State::new(Settings::default(), now);
    let operation_id = "ba57ca6c-2f4e-4d4b-9b1c-8f0e6a1d2c3e";
    state.screens.push(Screen::Operation {
        region: "us-east-1".into(),
        stack_set: "bench".into(),
        operation_id: operation_id.into(),
    });
    let mut data = OperationData::new("us-east-1", "bench");
    data.operation = Some(Operation {
        id: operation_id.into(),
        action: OperationAction::Update,
        status: OperationStatus::Running,
        created: Some(now - Duration::minutes(42)),
        ended: None,
        status_reason: None,
        failed_count: Some(3),
        preferences: OperationPreferences::default(),
    });
    let statuses = ResultStatus::ALL;
    let mut results = Vec::with_capacity(accounts * REGIONS.len());
    for account in 0..accounts {
        for (col, region) in REGIONS.iter().enumerate() {
            let status = statuses[(account * 7 + col * 3) % statuses.len()];
            results.push(OperationResult {
                account: format!("{:012}", 200_000_000_000u64 + account as u64 * 1_013),
                region: region.to_string(),
                status,
                status_reason: (status == ResultStatus::Failed).then(|| "Resource already exists".to_string()),
                gate_status: Some(GateStatus::Skipped),
                gate_reason: None,
                ou: Some(format!("ou-ab12-{:08}", account / 250)),
            });
        }
    }
    data.grid = ResultGrid::new(&[]);
    data.grid.merge(results);
    data.visible = data.grid.filtered_rows("", None);
    data.cursor_row = data.visible.len() / 2;
    data.cursor_col = REGIONS.len() / 2;
    data.complete = true;
    data.freshness.fetched_at = Some(now - Duration::seconds(2));
    let sample = |ago: i64, finished| ProgressSample {
        at: now - Duration::minutes(ago),
        finished,
        slots: 17 * 25,
    };
    data.progress = vec![sample(2, 100), sample(0, 220)];
    state.operation = data;
    state
}

fn render_operation_screen(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_operation_screen");
    // 59, 589 and 5,883 accounts x 17 Regions: about 1k, 10k and 100k results.
    for (label, accounts) in [("1k", 59), ("10k", 589), ("100k", 5_883)] {
        let state = state_with(accounts);
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
        group.bench_with_input(BenchmarkId::from_parameter(label), &state, |b, state| {
            b.iter(|| {
                terminal
                    .draw(|frame| {
                        view(black_box(state), frame);
                    })
                    .expect("draw");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render_operation_screen);
criterion_main!(benches);
