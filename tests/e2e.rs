//! End to end: the real SDK client, poller and event loop against the emulator on loopback.
//! The loop is driven by key events and draws into a `TestBackend`; tests read its screen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::{ErrorKind, StackSetApi};
use sstop::app::{self, Msg, ReadKind, Scope, Settings, State, Target};
use sstop::model::{CallAs, OperationStatus, ResultStatus};
use sstop::poll::{PollConfig, RateLimiter, RegionApis};
use sstop::sim::{SimHandle, SimOptions};
use sstop::tui::{self, DashboardOptions, Exit, InputEvent};
use tokio::sync::{mpsc, watch};

const ROLLOUT_SET: &str = "org-guardrails";
const ROLLOUT_OP: &str = "7d3f9a61-2c4b-4e8f-9a1d-5b6c7e8f9012";
const RUNAWAY_SET: &str = "vpc-flow-logs";
const RUNAWAY_OP: &str = "e1f2d3c4-b5a6-4978-8d6e-5f4a3b2c1d0e";

async fn emulator(scenario: &str, speed: f64) -> SimHandle {
    sstop::sim::start(SimOptions {
        scenario: Some(scenario.into()),
        speed,
        ..Default::default()
    })
    .await
    .expect("emulator starts")
}

async fn client(sim: &SimHandle) -> SdkApi {
    let mut options = ConnectOptions::new();
    options.endpoint_url = Some(sim.endpoint_url());
    options.region = Some("us-east-1".into());
    options.dummy_credentials = true;
    options.attempt_timeout = Duration::from_secs(5);
    options.max_attempts = 4;
    SdkApi::connect(&options).await.expect("client").0
}

async fn all_results(api: &SdkApi, set: &str, op: &str, call_as: CallAs, status: Option<ResultStatus>) -> usize {
    let mut token = None;
    let mut count = 0;
    loop {
        let page = api.list_results(set, op, call_as, status, token).await.expect("page");
        assert!(page.items.len() <= 100);
        count += page.items.len();
        token = page.next_token;
        if token.is_none() {
            return count;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_client_speaks_to_the_emulator_as_to_aws() {
    let sim = emulator("rollout", 1.0).await;
    let api = client(&sim).await;

    let own: Vec<String> = api
        .list_stack_sets(CallAs::SelfAccount, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(
        !own.contains(&ROLLOUT_SET.to_string()),
        "a delegated-admin stack set is hidden from SELF: {own:?}"
    );
    let delegated = api.list_stack_sets(CallAs::DelegatedAdmin, None).await.unwrap().items;
    assert!(delegated.iter().any(|s| s.name == ROLLOUT_SET));

    let err = api
        .describe_stack_set(ROLLOUT_SET, CallAs::SelfAccount)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::StackSetNotFound);
    let operation = api
        .describe_operation(ROLLOUT_SET, ROLLOUT_OP, CallAs::DelegatedAdmin)
        .await
        .unwrap();
    assert_eq!(operation.status, OperationStatus::Running);
    assert_eq!(
        operation.preferences.region_order.first().map(String::as_str),
        Some("us-east-1")
    );

    let total = all_results(&api, ROLLOUT_SET, ROLLOUT_OP, CallAs::DelegatedAdmin, None).await;
    assert_eq!(total, 900, "150 accounts x 6 Regions");
    // The status classes partition the results (the clock is frozen between reads at speed 1 only
    // approximately, so compare against the emulator's own count per class instead of a sum).
    let truth = sim.operation_results(ROLLOUT_SET, ROLLOUT_OP).unwrap();
    let failed_truth = truth.iter().filter(|r| r.status == ResultStatus::Failed).count();
    let failed = all_results(
        &api,
        ROLLOUT_SET,
        ROLLOUT_OP,
        CallAs::DelegatedAdmin,
        Some(ResultStatus::Failed),
    )
    .await;
    assert!(
        failed >= failed_truth && failed > 0,
        "failed {failed}, emulator said {failed_truth} a moment before"
    );

    let err = api
        .stop_operation(ROLLOUT_SET, ROLLOUT_OP, CallAs::SelfAccount)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::StackSetNotFound,
        "a SELF stop of a delegated-admin stack set fails"
    );
    let err = api
        .stop_operation(ROLLOUT_SET, "no-such-op", CallAs::DelegatedAdmin)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::OperationNotFound);
    let accepted = api
        .stop_operation(ROLLOUT_SET, ROLLOUT_OP, CallAs::DelegatedAdmin)
        .await
        .unwrap();
    assert!(accepted.request_id.is_some());
    let status = api
        .describe_operation(ROLLOUT_SET, ROLLOUT_OP, CallAs::DelegatedAdmin)
        .await
        .unwrap()
        .status;
    assert!(
        matches!(status, OperationStatus::Stopping | OperationStatus::Stopped),
        "{status}"
    );
    sim.advance(Duration::from_secs(3600));
    let status = api
        .describe_operation(ROLLOUT_SET, ROLLOUT_OP, CallAs::DelegatedAdmin)
        .await
        .unwrap()
        .status;
    assert_eq!(status, OperationStatus::Stopped);
    let err = api
        .stop_operation(ROLLOUT_SET, ROLLOUT_OP, CallAs::DelegatedAdmin)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::InvalidOperation,
        "an ended operation cannot be stopped"
    );
    sim.shutdown();
}

/// Feed the poller's messages through `update` until the watched operation has ended and been
/// read in full; `on_read` sees the state after each finished read. Returns the state.
async fn watch_until_final(
    api: SdkApi,
    call_as: CallAs,
    (set, op): (&str, &str),
    (interval, within): (Duration, Duration),
    mut on_read: impl FnMut(ReadKind, &State),
) -> State {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let config = PollConfig {
        call_as,
        active_interval: interval,
        max_backoff: Duration::from_secs(2),
        ..Default::default()
    };
    let (poller, task) = sstop::poll::spawn(Arc::new(api), config, Arc::new(RateLimiter::unlimited()), tx);
    let mut state = State::new(
        Settings {
            call_as,
            ..Default::default()
        },
        time::OffsetDateTime::now_utc(),
    );
    state.generation = 1;
    state.screens.push(app::Screen::Operation {
        region: "us-east-1".into(),
        stack_set: set.into(),
        operation_id: op.into(),
    });
    let scope = Scope::Operation {
        region: "us-east-1".into(),
        stack_set: set.into(),
        operation_id: op.into(),
    };
    poller.send(app::Command::Watch { scope, generation: 1 });
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("operation ended in time")
            .expect("poller alive");
        let read = match &msg {
            Msg::ResultsPage { read, .. } if *read != ReadKind::Partial => Some(*read),
            _ => None,
        };
        app::update(&mut state, msg);
        if let Some(read) = read {
            on_read(read, &state);
            let ended = state
                .operation
                .operation
                .as_ref()
                .is_some_and(|o| !o.status.is_active());
            if ended && read == ReadKind::Full {
                break;
            }
        }
    }
    task.abort();
    state
}

fn assert_grid_matches_emulator(state: &State, sim: &SimHandle, set: &str, op: &str) {
    let truth = sim.operation_results(set, op).expect("operation exists");
    let grid = &state.operation.grid;
    assert_eq!(grid.len(), truth.len(), "no result lost, none duplicated");
    for expected in &truth {
        let seen = grid
            .find(&expected.account, &expected.region)
            .expect("every cell present");
        assert_eq!(seen, expected, "cell {} {}", expected.account, expected.region);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_polling_converges_on_the_emulators_final_state() {
    let sim = emulator("rollout", 400.0).await;
    let api = client(&sim).await;
    let state = watch_until_final(
        api,
        CallAs::DelegatedAdmin,
        (ROLLOUT_SET, ROLLOUT_OP),
        (Duration::from_millis(300), Duration::from_secs(60)),
        |_, _| {},
    )
    .await;
    assert!(state.operation.exact);
    assert_grid_matches_emulator(&state, &sim, ROLLOUT_SET, ROLLOUT_OP);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_lose_nothing() {
    let sim = emulator("rollout", 400.0).await;
    sim.set_faults(0.30, 0.05, 0);
    let api = client(&sim).await;
    let state = watch_until_final(
        api,
        CallAs::DelegatedAdmin,
        (ROLLOUT_SET, ROLLOUT_OP),
        (Duration::from_millis(300), Duration::from_secs(90)),
        |_, _| {},
    )
    .await;
    assert_grid_matches_emulator(&state, &sim, ROLLOUT_SET, ROLLOUT_OP);
    let counts = sim.request_counts();
    assert!(counts.values().sum::<u64>() > 20, "{counts:?}");
    sim.shutdown();
}

/// A running dashboard on a `TestBackend`, fed keys through the event loop's input channel.
struct Dashboard {
    keys: mpsc::UnboundedSender<InputEvent>,
    screen: watch::Receiver<String>,
    task: tokio::task::JoinHandle<anyhow::Result<Exit>>,
}

impl Dashboard {
    fn start(api: SdkApi, settings: Settings) -> Dashboard {
        Dashboard::start_regions(RegionApis::from(Arc::new(api)), settings)
    }

    /// The dashboard over one client per Region.
    fn start_regions(apis: RegionApis<SdkApi>, settings: Settings) -> Dashboard {
        let (keys, input) = mpsc::unbounded_channel();
        let (screen_tx, screen) = watch::channel(String::new());
        let observer: tui::Observer = Box::new(move |_state, buffer| {
            let text = buffer
                .content
                .chunks(buffer.area.width as usize)
                .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n");
            let _ = screen_tx.send(text);
        });
        let poll = PollConfig {
            call_as: settings.call_as,
            active_interval: Duration::from_millis(500),
            ..Default::default()
        };
        let options = DashboardOptions {
            settings,
            poll,
            limiter: Arc::new(RateLimiter::new(50.0, 50)),
            open: None,
        };
        let task = tokio::spawn(async move {
            let mut terminal = Terminal::new(TestBackend::new(100, 30))?;
            tui::drive(&mut terminal, apis, options, input, Some(observer)).await
        });
        Dashboard { keys, screen, task }
    }

    fn press(&self, code: KeyCode) {
        self.press_at(code, Instant::now());
    }

    fn press_at(&self, code: KeyCode, at: Instant) {
        let event = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
        let _ = self.keys.send(InputEvent::Terminal(event, at));
    }

    /// A key pressed by a person who has read the dialog: stamped a second ahead, as if after
    /// a pause, so the dialog's guard lets it decide without the test sleeping.
    fn press_after_pause(&self, code: KeyCode) {
        self.press_at(code, Instant::now() + Duration::from_secs(1));
    }

    async fn wait_for(&mut self, what: &str) -> String {
        let wanted = what.to_string();
        let found = tokio::time::timeout(Duration::from_secs(20), self.screen.wait_for(|s| s.contains(&wanted)))
            .await
            .ok()
            .and_then(|r| r.ok())
            .map(|screen| screen.clone());
        match found {
            Some(screen) => screen,
            None => panic!("{what:?} never appeared; screen:\n{}", *self.screen.borrow()),
        }
    }

    async fn wait_gone(&mut self, what: &str) {
        let unwanted = what.to_string();
        let gone = tokio::time::timeout(
            Duration::from_secs(20),
            self.screen.wait_for(|s| !s.contains(&unwanted)),
        )
        .await
        .is_ok();
        assert!(gone, "{what:?} never went away; screen:\n{}", *self.screen.borrow());
    }

    /// Move the selection down until the selected line contains `what` (lists are highlighted
    /// by position, so look the line up and count).
    /// The list may re-sort between the look and the keys (a refresh lands): if the screen
    /// opened is not `what`'s (its title names it), back out and try again.
    async fn open_line(&mut self, what: &str) {
        for _ in 0..3 {
            let screen = self.wait_for(what).await;
            let lines: Vec<&str> = screen.lines().collect();
            let target = lines.iter().position(|l| l.contains(what)).expect("line present");
            let first = lines
                .iter()
                .position(|l| l.contains("NAME") || l.contains("OPERATION ID") || l.contains("STACK SET"))
                .expect("table header")
                + 1;
            self.press(KeyCode::Char('g'));
            for _ in first..target {
                self.press(KeyCode::Char('j'));
            }
            self.press(KeyCode::Enter);
            let wanted = what.to_string();
            let opened = tokio::time::timeout(
                Duration::from_secs(5),
                self.screen
                    .wait_for(|s| s.lines().next().is_some_and(|title| title.contains(&wanted))),
            )
            .await
            .is_ok_and(|r| r.is_ok());
            if opened {
                return;
            }
            self.press(KeyCode::Esc);
        }
        panic!("{what:?} could not be opened; screen:\n{}", *self.screen.borrow());
    }

    /// Types `text` into the current screen's filter and keeps it.
    fn filter(&self, text: &str) {
        self.press(KeyCode::Char('/'));
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
        self.press(KeyCode::Enter);
    }

    /// From the pulse (the home screen) to the stack set list.
    async fn stack_set_list(&mut self) {
        self.wait_for("Pulse").await;
        self.press(KeyCode::Char('o'));
        self.wait_for(" NAME ").await;
    }

    async fn quit(self) {
        self.press(KeyCode::Char('q'));
        let exit = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("quits")
            .expect("task");
        assert_eq!(exit.expect("loop ok"), Exit::Quit);
    }
}

async fn wait_status(sim: &SimHandle, set: &str, op: &str, wanted: OperationStatus) {
    for _ in 0..200 {
        if sim.operation_status(set, op) == Some(wanted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{op} never reached {wanted}; it is {:?}", sim.operation_status(set, op));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_runaway_operation_by_keypress() {
    let sim = emulator("runaway", 20.0).await;
    let mut ui = Dashboard::start(client(&sim).await, Settings::default());
    ui.stack_set_list().await;
    ui.open_line(RUNAWAY_SET).await;
    ui.open_line(RUNAWAY_OP).await;
    ui.wait_for("RUNNING").await;
    ui.wait_for("of 1600 results").await;
    // s and y typed in one burst: the y lands before anyone could have read the dialog.
    let burst = Instant::now();
    ui.press_at(KeyCode::Char('s'), burst);
    ui.press_at(KeyCode::Char('y'), burst);
    let dialog = ui.wait_for("Not sent").await;
    assert!(dialog.contains("Stop operation?"), "{dialog}");
    assert!(dialog.contains("pending deployments will be cancelled"), "{dialog}");
    assert_eq!(
        sim.operation_status(RUNAWAY_SET, RUNAWAY_OP),
        Some(OperationStatus::Running),
        "nothing sent yet"
    );
    assert_eq!(sim.request_counts().get("StopStackSetOperation"), None);
    ui.press_after_pause(KeyCode::Char('y'));
    ui.wait_for("Stop sent").await;
    let stopping = sim.operation_status(RUNAWAY_SET, RUNAWAY_OP);
    assert!(
        matches!(stopping, Some(OperationStatus::Stopping | OperationStatus::Stopped)),
        "{stopping:?}"
    );
    ui.press(KeyCode::Esc);
    sim.advance(Duration::from_secs(600));
    wait_status(&sim, RUNAWAY_SET, RUNAWAY_OP, OperationStatus::Stopped).await;
    ui.wait_for("STOPPED").await;
    let results = sim.operation_results(RUNAWAY_SET, RUNAWAY_OP).unwrap();
    assert!(results.iter().all(|r| r.status.is_final()));
    assert!(results.iter().filter(|r| r.status == ResultStatus::Cancelled).count() > 100);
    ui.quit().await;
    let stops = sim.request_counts().get("StopStackSetOperation").copied();
    assert_eq!(stops, Some(1), "exactly one stop was sent");
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_as_delegated_admin_and_seeing_a_self_call_fail() {
    let sim = emulator("rollout", 4.0).await;
    let settings = Settings {
        call_as: CallAs::DelegatedAdmin,
        ..Default::default()
    };
    let mut ui = Dashboard::start(client(&sim).await, settings);
    ui.stack_set_list().await;
    ui.open_line(ROLLOUT_SET).await;
    ui.open_line(ROLLOUT_OP).await;
    ui.wait_for("of 900 results").await;
    // First as SELF: the emulator answers as AWS does, and the dialog says so.
    ui.press(KeyCode::Char('s'));
    ui.wait_for("Stop operation?").await;
    ui.press(KeyCode::Left);
    ui.press_after_pause(KeyCode::Char('y'));
    ui.wait_for("Stack set not found as this caller").await;
    assert_eq!(
        sim.operation_status(ROLLOUT_SET, ROLLOUT_OP),
        Some(OperationStatus::Running)
    );
    ui.press(KeyCode::Esc);
    // The old dialog must be gone first, or the next wait would see it and the y would land
    // before the new dialog is drawn (which the guard rightly refuses).
    ui.wait_gone("Stop operation?").await;
    // Then as DELEGATED_ADMIN, pre-selected from the settings.
    ui.press(KeyCode::Char('s'));
    ui.wait_for("Stop operation?").await;
    ui.press_after_pause(KeyCode::Char('y'));
    ui.wait_for("Stop sent").await;
    ui.press(KeyCode::Esc);
    sim.advance(Duration::from_secs(600));
    wait_status(&sim, ROLLOUT_SET, ROLLOUT_OP, OperationStatus::Stopped).await;
    ui.wait_for("STOPPED").await;
    ui.quit().await;
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_polling_costs_a_fraction_of_re_paging_and_ends_exact() {
    const SET: &str = "bench-10k";
    const OP: &str = "00000000-0000-4000-8000-000000010000";
    let scenario = format!("{}/benches/scenarios/mid10k.toml", env!("CARGO_MANIFEST_DIR"));
    let sim = sstop::sim::start(SimOptions {
        scenario: Some(scenario),
        speed: 150.0,
        ..Default::default()
    })
    .await
    .expect("emulator");
    let mut incremental_costs = Vec::new();
    let mut last_total = 0;
    let mut fulls = 0;
    let timing = (Duration::from_millis(250), Duration::from_secs(90));
    let state = watch_until_final(client(&sim).await, CallAs::SelfAccount, (SET, OP), timing, |read, _| {
        let total = sim.total_requests();
        fulls += usize::from(read == ReadKind::Full);
        // The steady state: after the first grid (from the stack instances) and the result
        // list's first read in full, which the start pays for once (the scale bench counts it).
        if read == ReadKind::Incremental && fulls >= 2 {
            incremental_costs.push(total - last_total);
        }
        last_total = total;
    })
    .await;
    let baseline = 1 + 10_000u64.div_ceil(100);
    assert!(
        incremental_costs.len() >= 3,
        "saw {} incremental polls",
        incremental_costs.len()
    );
    // Each interval carries a slice of the paced full re-read beside the RUNNING, FAILED and
    // CANCELLED reads, so one interval can cost more than another: the budget is the mean.
    let mean = incremental_costs.iter().sum::<u64>() as f64 / incremental_costs.len() as f64;
    assert!(
        mean * 5.0 <= baseline as f64,
        "incremental polls cost {incremental_costs:?} requests (mean {mean:.1}); re-paging costs {baseline}"
    );
    assert!(state.operation.exact);
    assert_grid_matches_emulator(&state, &sim, SET, OP);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pulse_shows_operations_from_two_regions_and_opens_one_of_each() {
    const EAST: &str = "us-east-1";
    const WEST: &str = "eu-west-1";
    let sim = emulator("fleet", 1.0).await;
    let east = client(&sim).await;
    let west = east.for_region(WEST).expect("a valid Region");
    let apis = RegionApis::new(vec![
        (EAST.to_string(), Arc::new(east)),
        (WEST.to_string(), Arc::new(west)),
    ]);
    let settings = Settings {
        call_as: CallAs::DelegatedAdmin,
        target: Target {
            region: Some(EAST.into()),
            regions: vec![EAST.into(), WEST.into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let mut ui = Dashboard::start_regions(apis, settings);
    // Running in eu-west-1 (one SELF, one DELEGATED_ADMIN) and in us-east-1, among its 1,000.
    let screen = ui.wait_for("eu-data-residency").await;
    assert!(screen.contains("Pulse"), "{screen}");
    ui.wait_for("eu-security-baseline").await;
    let screen = ui.wait_for("network-baseline").await;
    let region_of = |screen: &str, name: &str| {
        screen
            .lines()
            .find(|l| l.contains(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_string())
    };
    assert_eq!(
        region_of(&screen, "eu-data-residency").as_deref(),
        Some(WEST),
        "{screen}"
    );
    assert_eq!(
        region_of(&screen, "network-baseline").as_deref(),
        Some(EAST),
        "{screen}"
    );
    assert!(
        !screen.contains("apac-"),
        "ap-southeast-2 is not watched, so its stack sets are not listed:\n{screen}"
    );
    // The stack set list names both Regions.
    ui.press(KeyCode::Char('o'));
    let list = ui.wait_for("in 2 Regions").await;
    assert!(list.contains(" REGION "), "{list}");
    ui.press(KeyCode::Esc);
    ui.wait_for(" STACK SET ").await;

    // One of each: eu-west-1's UPDATE, read through the eu-west-1 client...
    ui.filter("eu-data-residency");
    ui.press(KeyCode::Enter);
    ui.wait_for("Pulse › eu-west-1 › eu-data-residency").await;
    ui.wait_for(" UPDATE ").await;
    ui.wait_gone("Loading results").await;
    ui.press(KeyCode::Esc);
    ui.wait_for(" STACK SET ").await;
    // (the filter comes back with the pulse: clear it)
    ui.press(KeyCode::Char('/'));
    ui.press(KeyCode::Esc);
    // ...and us-east-1's CREATE, through the us-east-1 client.
    ui.filter("network-baseline");
    ui.press(KeyCode::Enter);
    ui.wait_for("Pulse › us-east-1 › network-baseline").await;
    ui.wait_for(" CREATE ").await;
    ui.wait_gone("Loading results").await;
    ui.quit().await;
    // Each Region's estate answered the calls about its own stack set.
    let east_ops = sim.operation_ids_in(EAST, "network-baseline");
    let west_ops = sim.operation_ids_in(WEST, "eu-data-residency");
    assert!(!east_ops.is_empty() && !west_ops.is_empty());
    assert!(
        sim.operation_ids_in(EAST, "eu-data-residency").is_empty(),
        "eu-data-residency lives in eu-west-1 only"
    );
    sim.shutdown();
}

/// The instances screen's scope: every page of ListStackInstances through the real SDK client,
/// as many instances as the emulator holds, OUTDATED ones among them while the rollout runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instances_scope_reads_every_stack_instance() {
    let sim = emulator("rollout", 1.0).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let config = PollConfig {
        call_as: CallAs::DelegatedAdmin,
        ..Default::default()
    };
    let (poller, task) = sstop::poll::spawn(
        Arc::new(client(&sim).await),
        config,
        Arc::new(RateLimiter::unlimited()),
        tx,
    );
    // The stack set must be listed first, so its CallAs is known: the overview does that.
    poller.send(app::Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    while !matches!(rx.recv().await, Some(Msg::StackSets { .. })) {}
    poller.send(app::Command::Watch {
        scope: Scope::Instances {
            region: "us-east-1".into(),
            stack_set: ROLLOUT_SET.into(),
        },
        generation: 2,
    });
    let instances = loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(Msg::Instances {
                generation: 2, result, ..
            })) => break result.expect("instances"),
            Ok(Some(_)) => continue,
            other => panic!("no instances: {other:?}"),
        }
    };
    task.abort();
    // 150 accounts x 6 Regions; more than one page of 100.
    assert_eq!(instances.len(), 900);
    let outdated = instances
        .iter()
        .filter(|i| i.status == sstop::model::InstanceStatus::Outdated)
        .count();
    assert!(outdated > 0 && outdated < 900, "{outdated} OUTDATED");
    sim.shutdown();
}

/// The `instances` scenario through the dashboard: the grid shows every state its history left
/// (INOPERABLE, OUTDATED failed and cancelled, skipped for suspended accounts, drifted), a
/// filter on drift keeps the drifted accounts, and `enter` on the INOPERABLE cell reaches the
/// emulator as exactly one DescribeStackInstance whose answer fills the popup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instances_view_shows_every_state_and_describes_one_instance() {
    let sim = emulator("instances", 1.0).await;
    let mut ui = Dashboard::start(client(&sim).await, Settings::default());
    ui.stack_set_list().await;
    ui.open_line("workload-baseline").await;
    ui.wait_for("StackSets › workload-baseline").await;
    ui.wait_for(" DELETE ").await;
    ui.press(KeyCode::Char('i'));
    let screen = ui.wait_for("INOPERABLE 1").await;
    assert!(screen.contains("Instances"), "{screen}");
    for (what, text) in [
        // The UPDATE exceeded its tolerance in ap-southeast-2 before it reached the suspended
        // accounts there: those deployments were cancelled, not skipped.
        (
            "counts",
            "CURRENT 23   OUTDATED 11   INOPERABLE 1   drifted 3   suspended 4   of 35",
        ),
        ("Regions", "apse2   euw1   use1"),
        ("inoperable", "■"),
        ("suspended", "○"),
        ("failed", "✗"),
        ("cancelled", "⊘"),
        ("drifted", "≠"),
        ("suspended accounts", "590000000002"),
    ] {
        assert!(screen.contains(text), "{what} ({text}) not shown:\n{screen}");
    }
    assert_eq!(sim.request_counts().get("DescribeStackInstance"), None);

    // tab through the filters (3 Statuses, 5 DetailedStatus) to the drifted ones: two accounts.
    for _ in 0..9 {
        ui.press(KeyCode::Tab);
    }
    let screen = ui.wait_for("show drift DRIFTED only").await;
    assert!(screen.contains("accounts 1–2 of 2"), "{screen}");
    ui.press(KeyCode::Tab);
    ui.wait_for("show drift IN_SYNC only").await;
    ui.press(KeyCode::Tab);
    ui.press(KeyCode::Tab);
    ui.wait_for("show all").await;

    // The instance the failed DELETE left INOPERABLE: its last operation id finds it.
    ui.filter("7a6b5c4d");
    ui.wait_for("accounts 1–1 of 1").await;
    ui.press(KeyCode::Char('h'));
    ui.press(KeyCode::Char('h'));
    ui.press(KeyCode::Char('l'));
    let screen = ui.wait_for("INOPERABLE INOPERABLE · 510000000010 in eu-west-1").await;
    assert!(screen.contains("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"), "{screen}");
    ui.press(KeyCode::Enter);
    let popup = ui.wait_for("StackSetId").await;
    for field in [
        "Stack instance of workload-baseline",
        "Account            510000000010",
        "Region             eu-west-1",
        "DetailedStatus     INOPERABLE",
        "The bucket you tried to delete is not empty",
        "DriftStatus        NOT_CHECKED",
        "LastOperationId    7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
        "StackId            arn:aws:cloudformation:eu-west-1:510000000010:stack/",
    ] {
        assert!(popup.contains(field), "{field:?} not in the popup:\n{popup}");
    }
    assert_eq!(sim.request_counts().get("DescribeStackInstance"), Some(&1));
    ui.press(KeyCode::Esc);
    ui.wait_gone("StackSetId").await;
    ui.quit().await;
    assert_eq!(
        sim.request_counts().get("DescribeStackInstance"),
        Some(&1),
        "nothing but the key asks"
    );
    sim.shutdown();
}
