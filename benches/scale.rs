//! Scale harness (`cargo bench --bench scale`): time to a complete grid, requests per poll,
//! and resident memory with 100,000 results, each beside the naive way, printed as figures.
//! Under `cargo test` (no `--bench` argument) it runs a short version so CI exercises it.
//! `SCALE_ONLY=overview,pulse cargo bench --bench scale` runs the named parts only (grid,
//! rate_limit, budget, overview, pulse, memory).

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
const SET_LARGE: &str = "org-config-rules";
const OP_LARGE: &str = "5c0f7a2e-4d1b-4e8a-9a42-000000042500";
const OP_100K: &str = "00000000-0000-4000-8000-000000100000";

/// A bench scenario's file, or the name of a built-in one (`large`).
fn scenario(name: &str) -> String {
    let file = format!("{}/benches/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    if std::path::Path::new(&file).exists() {
        file
    } else {
        name.to_string()
    }
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
        region: "us-east-1".into(),
        stack_set: set.into(),
        operation_id: op.into(),
    });
    let started = Instant::now();
    poller.send(Command::Watch {
        scope: Scope::Operation {
            region: "us-east-1".into(),
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

/// What a full read costs through the AWS CLI's own library: boto3's paginator, one chain, no
/// filter (`aws cloudformation list-stack-set-operation-results` pages the same way). None
/// when the test venv with boto3 is not there.
fn boto3_read(endpoint: &str, set: &str, op: &str) -> Option<(usize, Duration)> {
    let python = format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"));
    if !std::path::Path::new(&python).exists() {
        return None;
    }
    let script = r#"
import sys, time, boto3
endpoint, set_name, op = sys.argv[1:4]
client = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench")
client.describe_stack_set_operation(StackSetName=set_name, OperationId=op)  # connect and load
started = time.monotonic()
count = 0
for page in client.get_paginator("list_stack_set_operation_results").paginate(
        StackSetName=set_name, OperationId=op, PaginationConfig={"PageSize": 100}):
    count += len(page["Summaries"])
print(count, time.monotonic() - started)
"#;
    let out = Process::new(python)
        .args(["-c", script, endpoint, set, op])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let count = words.next()?.parse().ok()?;
    let secs: f64 = words.next()?.parse().ok()?;
    Some((count, Duration::from_secs_f64(secs)))
}

fn until_full(_: &State, msg: &Msg) -> bool {
    matches!(
        msg,
        Msg::ResultsPage {
            read: ReadKind::Full,
            ..
        }
    )
}

/// Goal: the complete grid as fast as the API allows, against the AWS CLI's way in the same run.
async fn time_to_complete_grid(short: bool) {
    let latency = 50;
    let cases: &[(&str, &str, &str)] = if short {
        &[("mid10k", SET_10K, OP_10K)]
    } else {
        &[("mid10k", SET_10K, OP_10K), ("large", SET_LARGE, OP_LARGE)]
    };
    for (name, set, op) in cases {
        // Slow enough that the rollout barely moves between the reads compared.
        let sim = emulator(name, 0.001, latency).await;
        let started = Instant::now();
        let (results, requests) = sequential_read(&client(sim.endpoint_url()).await, set, op).await;
        let sequential = started.elapsed();
        let boto3 = boto3_read(&sim.endpoint_url(), set, op);
        let before = sim.total_requests();
        let config = PollConfig {
            active_interval: Duration::from_secs(3600),
            ..Default::default()
        };
        // The dashboard's own pace.
        let limiter = RateLimiter::polling(None);
        let watched = watch(client(sim.endpoint_url()).await, config, limiter, set, op, until_full).await;
        let sstop_requests = sim.total_requests() - before;
        assert_eq!(
            watched.state.operation.grid.len(),
            results,
            "both reads see every result"
        );
        println!("complete grid, {results} results of a running operation, {latency} ms per request:");
        if let Some((count, took)) = boto3 {
            assert_eq!(count, results);
            println!(
                "  boto3 paginator (the AWS CLI's library), one chain: {:>7.0} ms",
                took.as_secs_f64() * 1e3
            );
        }
        println!(
            "  Rust SDK, one unfiltered chain:                     {:>7.0} ms, {requests} requests",
            sequential.as_secs_f64() * 1e3
        );
        print!(
            "  sstop (instances by Region, dashboard's pace):      {:>7.0} ms, {sstop_requests} requests, first rows after {:.0} ms",
            watched.complete.as_secs_f64() * 1e3,
            watched.first_page.as_secs_f64() * 1e3
        );
        match boto3 {
            Some((_, took)) => println!(
                " ({:.2}x boto3's time)",
                watched.complete.as_secs_f64() / took.as_secs_f64()
            ),
            None => println!(),
        }
        sim.shutdown();
    }
}

/// The unfiltered chain paced by a limiter, as the poller paces it. A page that fails after the
/// SDK's retries is asked again, as the poller's next round would.
async fn paced_read(api: &SdkApi, limiter: &RateLimiter, set: &str, op: &str) -> usize {
    let (mut pages, mut token) = (0, None);
    loop {
        limiter.acquire().await;
        let page = match api
            .list_results(set, op, CallAs::SelfAccount, None, token.clone())
            .await
        {
            Ok(page) => page,
            Err(error) if error.is_transient() => continue,
            Err(error) => panic!("page: {error:?}"),
        };
        pages += 1;
        token = page.next_token;
        if token.is_none() {
            return pages;
        }
    }
}

/// Goal: under a rate limit of 20 requests a second, few throttled once the adaptive rate has
/// settled, and not much slower than the limit allows; under throttling that has nothing to do
/// with sstop's own rate (30% of answers at random), reads go on at the floor instead of stalling.
async fn under_a_rate_limit(short: bool) {
    let limit = 20.0;
    let sim = sstop::sim::start(SimOptions {
        scenario: Some(scenario("mid10k")),
        speed: 0.001,
        rate_limit: Some(limit),
        ..Default::default()
    })
    .await
    .expect("emulator");
    let api = client(sim.endpoint_url()).await;
    let limiter = RateLimiter::polling(None);
    let reads = if short { 2 } else { 6 };
    println!("reading {reads} times the 101 pages of a 10,000-result operation, sstop sim --rate-limit {limit}, the dashboard's adaptive pace:");
    for n in 1..=reads {
        let (sent_before, throttled_before) = (sim.total_requests(), sim.throttled_count());
        let started = Instant::now();
        let pages = paced_read(&api, &limiter, SET_10K, OP_10K).await;
        let took = started.elapsed();
        let sent = sim.total_requests() - sent_before;
        let throttled = sim.throttled_count() - throttled_before;
        println!(
            "  read {n}: {:>5.1} s ({:.2}x the {:.1} s {limit}/s allows), {sent} requests, {throttled} throttled ({:.1}%), pace now {:.1}/s",
            took.as_secs_f64(),
            took.as_secs_f64() / (pages as f64 / limit),
            pages as f64 / limit,
            throttled as f64 * 100.0 / sent.max(1) as f64,
            limiter.rate()
        );
    }
    sim.set_rate_limit(None).expect("lift the limit");
    sim.set_faults(0.3, 0.0, 0);
    let started = Instant::now();
    let (sent_before, throttled_before) = (sim.total_requests(), sim.throttled_count());
    let pages = paced_read(&api, &limiter, SET_10K, OP_10K).await;
    println!(
        "  with 30% of answers throttled at random instead: {pages} pages in {:.1} s, {} requests, {} throttled, pace now {:.1}/s",
        started.elapsed().as_secs_f64(),
        sim.total_requests() - sent_before,
        sim.throttled_count() - throttled_before,
        limiter.rate()
    );
    sim.shutdown();
}

/// Goal: over five minutes of a running 42,500-result operation, at most a tenth of the
/// requests that re-paging everything every interval would send, counted by the emulator.
/// Time runs ten times faster on both sides (0.5 s intervals, the emulator at 10x), so five
/// minutes of polling take thirty seconds.
async fn budget(short: bool) {
    let (name, set, op, intervals) = if short {
        ("mid10k", SET_10K, OP_10K, 12)
    } else {
        ("large", SET_LARGE, OP_LARGE, 60)
    };
    let sim = emulator(name, 10.0, 0).await;
    let interval = Duration::from_millis(500);
    let config = PollConfig {
        active_interval: interval,
        ..Default::default()
    };
    let before = sim.total_requests();
    let started = Instant::now();
    let watched = watch(
        client(sim.endpoint_url()).await,
        config,
        RateLimiter::unlimited(),
        set,
        op,
        |_, _| started.elapsed() >= interval * intervals,
    )
    .await;
    let sent = sim.total_requests() - before;
    let pages = (watched.state.operation.grid.len() as u64).div_ceil(100);
    let baseline = intervals as u64 * (1 + pages);
    println!(
        "{intervals} intervals of a running {}-result operation (5 s intervals scaled to {} ms):",
        watched.state.operation.grid.len(),
        interval.as_millis()
    );
    println!("  re-page everything every interval: {baseline} requests (1 describe + {pages} pages each)");
    println!(
        "  sstop, counted by the emulator:    {sent} requests ({:.3} of it)",
        sent as f64 / baseline as f64
    );
    sim.shutdown();
}

/// A scenario of `count` stack sets in one Region, `active` of them with an operation running.
fn many_stack_sets(count: usize, active: usize) -> tempfile::NamedTempFile {
    let mut toml = String::from(
        "description = \"many stack sets\"\nseed = 1\n[timing]\ndeploy_secs = 600\n\
         [organization]\nmanagement_account = \"111111111111\"\nregions = [\"us-east-1\"]\n\
         [[organization.ous]]\nid = \"ou-many-accounts\"\nname = \"Many\"\naccount_count = 2\n\
         first_account = 910000000001\n",
    );
    for n in 0..count {
        let started = if n < active { 1 } else { 600 };
        toml.push_str(&format!(
            "[[stack_sets]]\nname = \"team-{n:04}\"\npermission_model = \"SERVICE_MANAGED\"\n\
             [[stack_sets.operations]]\naction = \"CREATE\"\nstarted_mins_ago = {started}\n\
             ous = [\"ou-many-accounts\"]\n"
        ));
    }
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::io::Write::write_all(&mut file, toml.as_bytes()).expect("write scenario");
    file
}

/// Goal: the overview's requests per minute stay bounded whatever the number of stack sets.
/// Intervals are scaled ten times down (0.5 s active, 3 s idle), so six seconds stand for a
/// minute; the emulator counts the requests.
async fn overview_at_scale(short: bool) {
    let counts: &[usize] = if short { &[10, 100] } else { &[10, 100, 1000] };
    println!("stack set overview, requests per (scaled) minute, 3 stack sets with an operation running:");
    for &count in counts {
        let file = many_stack_sets(count, 3);
        let sim = sstop::sim::start(SimOptions {
            scenario: Some(file.path().display().to_string()),
            speed: 1.0,
            ..Default::default()
        })
        .await
        .expect("emulator");
        let config = PollConfig {
            active_interval: Duration::from_millis(500),
            idle_interval: Duration::from_secs(3),
            ..Default::default()
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let api = client(sim.endpoint_url()).await;
        let (poller, task) = sstop::poll::spawn(Arc::new(api), config, Arc::new(RateLimiter::unlimited()), tx);
        poller.send(Command::Watch {
            scope: Scope::StackSets,
            generation: 1,
        });
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        // The first minute lists everything once; the second is the steady state.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let before = sim.total_requests();
        tokio::time::sleep(Duration::from_secs(6)).await;
        let per_minute = sim.total_requests() - before;
        task.abort();
        drain.abort();
        println!(
            "  {count:>5} stack sets: {per_minute:>4} requests a minute (re-reading each one's operations every interval: {})",
            12 * (count + count.div_ceil(100))
        );
        sim.shutdown();
    }
}

/// Goal: the pulse (the home screen) across Regions keeps to the overview's budget. The
/// built-in `fleet` scenario watched as a delegated administrator in its three admin Regions
/// (1,006 stack sets, 1,000 of them in us-east-1; six operations running, one queued),
/// intervals scaled ten times down as above. Prints the steady minute's requests by action,
/// and how long the rotation takes to have checked every stack set once.
async fn pulse_on_the_fleet(short: bool) {
    let sim = sstop::sim::start(SimOptions {
        scenario: Some("fleet".into()),
        speed: 1.0,
        ..Default::default()
    })
    .await
    .expect("emulator");
    let home = client(sim.endpoint_url()).await;
    let mut apis = Vec::new();
    for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
        apis.push((region.to_string(), Arc::new(home.for_region(region).expect("Region"))));
    }
    let config = PollConfig {
        call_as: CallAs::DelegatedAdmin,
        active_interval: Duration::from_millis(500),
        idle_interval: Duration::from_secs(3),
        ..Default::default()
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (poller, task) = sstop::poll::spawn(
        sstop::poll::RegionApis::new(apis),
        config,
        Arc::new(RateLimiter::unlimited()),
        tx,
    );
    poller.send(Command::Watch {
        scope: Scope::StackSets,
        generation: 1,
    });
    let started = Instant::now();
    let checked = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let all_checked = Arc::new(std::sync::Mutex::new(None::<Duration>));
    let (seen, done) = (Arc::clone(&checked), Arc::clone(&all_checked));
    let drain = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if let Msg::StackSetChecked { region, stack_set, .. } = msg {
                let mut seen = seen.lock().unwrap();
                seen.insert((region, stack_set));
                if seen.len() == 1006 {
                    done.lock().unwrap().get_or_insert(started.elapsed());
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = sim.request_counts();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = sim.request_counts();
    let by_action: Vec<String> = after
        .iter()
        .map(|(action, n)| (action, n - before.get(action).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(action, n)| format!("{action} {n}"))
        .collect();
    let total: u64 = after.values().sum::<u64>() - before.values().sum::<u64>();
    println!("pulse on the fleet scenario (3 Regions, 1,006 stack sets, as DELEGATED_ADMIN), one (scaled) minute:");
    println!("  {total} requests ({})", by_action.join(", "));
    if !short {
        // Every stack set checked once: at 10 a round, about 101 rounds of the active interval.
        let deadline = Instant::now() + Duration::from_secs(120);
        while all_checked.lock().unwrap().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let once = *all_checked.lock().unwrap();
        println!(
            "  every stack set checked once after {} (scaled; x10 for real time)",
            once.map_or("more than 120 s".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
        );
    }
    task.abort();
    drain.abort();
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
    let only = std::env::var("SCALE_ONLY").ok();
    let run = |part: &str| {
        only.as_deref()
            .is_none_or(|parts| parts.split(',').any(|p| p.trim() == part))
    };
    runtime.block_on(async {
        if run("grid") {
            time_to_complete_grid(short).await;
        }
        if run("rate_limit") {
            under_a_rate_limit(short).await;
        }
        if run("budget") {
            budget(short).await;
        }
        if run("overview") {
            overview_at_scale(short).await;
        }
        if run("pulse") {
            pulse_on_the_fleet(short).await;
        }
        if !short && run("memory") {
            memory_with_100k().await;
        }
    });
}
