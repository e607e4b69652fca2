//! Scale harness (`cargo bench --bench scale`): time to a complete grid, requests per poll,
//! and resident memory with 100,000 results, each beside the naive way, printed as figures.
//! Under `cargo test` (no `--bench` argument) it runs a short version so CI exercises it.

use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sstop::api::sdk::{ConnectOptions, SdkApi};
use sstop::api::StackSetApi;
use sstop::app::{self, Command, Msg, ReadKind, Scope, Screen, Settings, State};
use sstop::model::CallAs;
use sstop::poll::{PollConfig, RateLimiter};
use sstop::sim::{SimHandle, SimOptions};
use tokio::sync::mpsc;

const SET_10K: &str = "bench-10k";
const OP_10K: &str = "00000000-0000-4000-8000-000000010000";
const SET_100K: &str = "bench-100k";
const OP_100K: &str = "00000000-0000-4000-8000-000000100000";

fn scenario(name: &str) -> String {
    format!("{}/benches/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

async fn client(endpoint: String) -> SdkApi {
    let mut options = ConnectOptions::new();
    options.endpoint_url = Some(endpoint);
    options.region = Some("us-east-1".into());
    options.dummy_credentials = true;
    SdkApi::connect(&options).await.expect("client").0
}

async fn emulator(name: &str, speed: f64, latency_ms: u64) -> SimHandle {
    sstop::sim::start(SimOptions {
        scenario: Some(scenario(name)),
        speed,
        latency_ms,
        ..Default::default()
    })
    .await
    .expect("emulator")
}

/// The way `aws cloudformation list-stack-set-operation-results` pages: one chain, no filter.
async fn sequential_read(api: &SdkApi, set: &str, op: &str) -> (usize, usize) {
    let (mut results, mut requests, mut token) = (0, 0, None);
    loop {
        let page = api
            .list_results(set, op, CallAs::SelfAccount, None, token)
            .await
            .expect("page");
        requests += 1;
        results += page.items.len();
        token = page.next_token;
        if token.is_none() {
            return (results, requests);
        }
    }
}

struct Watched {
    state: State,
    first_page: Duration,
    complete: Duration,
}

/// Watch one operation through the real poller and `update` until `stop` says so.
async fn watch(
    api: SdkApi,
    config: PollConfig,
    limiter: RateLimiter,
    set: &str,
    op: &str,
    mut stop: impl FnMut(&State, &Msg) -> bool,
) -> Watched {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (poller, task) = sstop::poll::spawn(Arc::new(api), config, Arc::new(limiter), tx);
    let mut state = State::new(Settings::default(), time::OffsetDateTime::now_utc());
    state.generation = 1;
    state.screens.push(Screen::Operation {
        stack_set: set.into(),
        operation_id: op.into(),
    });
    let started = Instant::now();
    poller.send(Command::Watch {
        scope: Scope::Operation {
            stack_set: set.into(),
            operation_id: op.into(),
        },
        generation: 1,
    });
    let mut first_page = None;
    let mut complete = None;
    while let Some(msg) = rx.recv().await {
        if first_page.is_none() && matches!(&msg, Msg::ResultsPage { results, .. } if !results.is_empty()) {
            first_page = Some(started.elapsed());
        }
        let done = matches!(
            msg,
            Msg::ResultsPage {
                read: ReadKind::Full,
                ..
            }
        );
        let finish = stop(&state, &msg);
        app::update(&mut state, msg);
        if done && complete.is_none() {
            complete = Some(started.elapsed());
        }
        if finish {
            break;
        }
    }
    task.abort();
    Watched {
        state,
        first_page: first_page.unwrap_or_default(),
        complete: complete.unwrap_or_default(),
    }
}

async fn time_to_complete_grid(short: bool) {
    let latency = 50;
    let sim = emulator("mid10k", 0.001, latency).await;
    let started = Instant::now();
    let (results, requests) = sequential_read(&client(sim.endpoint_url()).await, SET_10K, OP_10K).await;
    let sequential = started.elapsed();
    let before = sim.total_requests();
    let config = PollConfig {
        active_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let watched = watch(
        client(sim.endpoint_url()).await,
        config.clone(),
        RateLimiter::unlimited(),
        SET_10K,
        OP_10K,
        |_, msg| {
            matches!(
                msg,
                Msg::ResultsPage {
                    read: ReadKind::Full,
                    ..
                }
            )
        },
    )
    .await;
    let parallel_requests = sim.total_requests() - before;
    assert_eq!(
        watched.state.operation.grid.len(),
        results,
        "both reads see every result"
    );
    let counts: Vec<String> = sstop::model::ResultStatus::ALL
        .iter()
        .map(|s| format!("{} {}", s.as_str(), watched.state.operation.grid.count(*s)))
        .collect();
    println!(
        "complete grid, {results} results mid-rollout ({}), {latency} ms per request:",
        counts.join(", ")
    );
    println!(
        "  sequential unfiltered paging (the AWS CLI way): {:>7.0} ms, {requests} requests",
        sequential.as_secs_f64() * 1e3
    );
    println!(
        "  sstop, status classes in parallel:               {:>7.0} ms, {parallel_requests} requests (first rows after {:.0} ms)",
        watched.complete.as_secs_f64() * 1e3,
        watched.first_page.as_secs_f64() * 1e3
    );
    if !short {
        let limited = watch(
            client(sim.endpoint_url()).await,
            config,
            RateLimiter::new(10.0, 20),
            SET_10K,
            OP_10K,
            |_, msg| {
                matches!(
                    msg,
                    Msg::ResultsPage {
                        read: ReadKind::Full,
                        ..
                    }
                )
            },
        )
        .await;
        println!(
            "  sstop under the default ceiling (10/s, burst 20): {:>6.0} ms",
            limited.complete.as_secs_f64() * 1e3
        );
    }
    sim.shutdown();
}

async fn requests_per_poll(short: bool) {
    let sim = emulator("mid10k", 10.0, 0).await;
    let api = client(sim.endpoint_url()).await;
    let polls = if short { 6 } else { 36 };
    let config = PollConfig {
        active_interval: Duration::from_millis(500),
        ..Default::default()
    };
    let mut rounds = 0;
    let mut per_round: Vec<u64> = Vec::new();
    let mut last_total = sim.total_requests();
    let mut first_full_seen = false;
    let watched = watch(api, config, RateLimiter::unlimited(), SET_10K, OP_10K, |_, msg| {
        if matches!(
            msg,
            Msg::ResultsPage {
                read: ReadKind::Full | ReadKind::Incremental,
                ..
            }
        ) {
            let total = sim.total_requests();
            if first_full_seen {
                per_round.push(total - last_total);
                rounds += 1;
            }
            first_full_seen = true;
            last_total = total;
        }
        rounds >= polls
    })
    .await;
    let total = watched.state.operation.grid.len() as u64;
    let baseline = 1 + total.div_ceil(100);
    let mean = per_round.iter().sum::<u64>() as f64 / per_round.len().max(1) as f64;
    let incremental: Vec<u64> = per_round.iter().copied().filter(|n| *n < baseline).collect();
    let steady = incremental.iter().sum::<u64>() as f64 / incremental.len().max(1) as f64;
    println!(
        "steady-state polling of a running {total}-result operation, {} polls:",
        per_round.len()
    );
    println!("  re-page everything each poll: {baseline} requests per poll");
    println!(
        "  sstop: {steady:.1} per incremental poll, {mean:.1} per poll counting the full re-read every 12th ({:.1}x fewer)",
        baseline as f64 / mean
    );
    sim.shutdown();
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct ChildSim(Child);

impl Drop for ChildSim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The emulator runs in a child process so the figure is the dashboard's alone.
async fn memory_with_100k() {
    let mut child = Process::new(env!("CARGO_BIN_EXE_sstop"))
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "0.001",
            "--scenario",
            &scenario("huge100k"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sstop sim");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let child = ChildSim(child);
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("address line");
    let endpoint = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address")
        .to_string();
    let (before, _) = rss_kib(std::process::id());
    let config = PollConfig {
        active_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let watched = watch(
        client(endpoint).await,
        config,
        RateLimiter::unlimited(),
        SET_100K,
        OP_100K,
        |_, msg| {
            matches!(
                msg,
                Msg::ResultsPage {
                    read: ReadKind::Full,
                    ..
                }
            )
        },
    )
    .await;
    let (after, peak) = rss_kib(std::process::id());
    println!(
        "memory with {} results loaded (emulator in another process):",
        watched.state.operation.grid.len()
    );
    println!(
        "  resident {:.1} MB (peak {:.1} MB; {:.1} MB before loading); loaded in {:.1} s",
        after as f64 / 1024.0,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        watched.complete.as_secs_f64()
    );
    drop(watched);
    drop(child);
}

fn main() {
    let short = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        time_to_complete_grid(short).await;
        requests_per_poll(short).await;
        if !short {
            memory_with_100k().await;
        }
    });
}
