//! The StackSet emulator: an awsQuery HTTP server over a rollout engine (`sstop sim`, and the demo).

/// Flags of `sstop sim`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: std::net::SocketAddr,
    /// Built-in scenario name (rollout, runaway, large, fleet, instances) or a scenario TOML file.
    #[arg(long)]
    pub scenario: Option<String>,
    /// How much faster than real time the emulated clock runs (0.001 to 10000).
    #[arg(long, default_value_t = 1.0, value_parser = crate::cli::speed)]
    pub speed: f64,
    /// Extra latency added to every response, in milliseconds (0 to 60000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_ms: Option<u64>,
    /// Share of requests answered with a Throttling error (0..1).
    #[arg(long, value_parser = crate::cli::share)]
    pub throttle_rate: Option<f64>,
    /// Share of requests answered with an InternalFailure error (0..1).
    #[arg(long, value_parser = crate::cli::share)]
    pub error_rate: Option<f64>,
    /// Requests per second served before answering Throttling (a token bucket with a burst of
    /// about one second's worth, on real time). Unset: no limit.
    #[arg(long, value_parser = rate::parse_rate)]
    pub rate_limit: Option<f64>,
    /// Close a connection after this many seconds without a byte in either direction
    /// (0.1 to 3600; the injected latency is added on top).
    #[arg(long, default_value_t = 60.0, value_parser = idle_secs)]
    pub idle_timeout: f64,
    /// Write one line per request to stderr.
    #[arg(long)]
    pub log_requests: bool,
    /// Seed for every random choice (rollout timing, failures, faults).
    #[arg(long)]
    pub seed: Option<u64>,
}

mod api;
mod conn;
pub mod engine;
mod error;
mod query;
mod rate;
mod region;
pub mod scenario;
mod server;
mod validate;
mod xml;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod proptests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::model::{OperationResult, OperationStatus};

pub use error::SimError;
pub use scenario::Scenario;

use server::{Clock, Faults, Shared};

/// How to run the emulator (the library form of [`SimArgs`]).
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub listen: SocketAddr,
    pub scenario: Option<String>,
    pub speed: f64,
    pub latency_ms: u64,
    pub throttle_rate: f64,
    pub error_rate: f64,
    /// Requests per second before Throttling (see `--rate-limit`); `None`: unlimited.
    pub rate_limit: Option<f64>,
    /// Idle connections are closed after this long (see `--idle-timeout`).
    pub idle_timeout: Duration,
    pub log_requests: bool,
    pub seed: Option<u64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            scenario: None,
            speed: 1.0,
            latency_ms: 0,
            throttle_rate: 0.0,
            error_rate: 0.0,
            rate_limit: None,
            idle_timeout: conn::DEFAULT_IDLE,
            log_requests: false,
            seed: None,
        }
    }
}

impl From<SimArgs> for SimOptions {
    fn from(a: SimArgs) -> Self {
        SimOptions {
            listen: a.listen,
            scenario: a.scenario,
            speed: a.speed,
            latency_ms: a.latency_ms.unwrap_or(0),
            throttle_rate: a.throttle_rate.unwrap_or(0.0),
            error_rate: a.error_rate.unwrap_or(0.0),
            rate_limit: a.rate_limit,
            idle_timeout: Duration::from_secs_f64(a.idle_timeout),
            log_requests: a.log_requests,
            seed: a.seed,
        }
    }
}

/// A running emulator. Dropping it (or `shutdown`) stops the server and the clock task.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    clock: tokio::task::JoinHandle<()>,
}

/// clap's parser for `--idle-timeout`: seconds, 0.1 to 3600.
fn idle_secs(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("not a number of seconds from 0.1 to 3600: {text:?}")),
    }
}

/// Wall-clock now in milliseconds since the Unix epoch.
fn wall_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Binds, loads the scenario, spawns the server and the engine's clock task, and returns.
pub async fn start(opts: SimOptions) -> anyhow::Result<SimHandle> {
    if !(opts.speed.is_finite() && opts.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number, got {}", opts.speed);
    }
    for (name, v) in [
        ("--throttle-rate", opts.throttle_rate),
        ("--error-rate", opts.error_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            anyhow::bail!("{name} must be between 0 and 1, got {v}");
        }
    }
    if let Some(r) = opts.rate_limit {
        rate::check_rate(r).map_err(anyhow::Error::msg)?;
    }
    if opts.idle_timeout.is_zero() {
        anyhow::bail!("--idle-timeout must be above 0");
    }
    let scenario = opts.scenario.as_deref().map(Scenario::load).transpose()?;
    let now = wall_ms();
    let estates = scenario::build_estates(scenario.as_ref(), now, opts.seed)?;
    let sf = scenario.as_ref().map(|s| s.faults.clone()).unwrap_or_default();
    // A flag wins over the scenario; an unset (zero) flag leaves the scenario's value.
    let pick = |flag: f64, file: Option<f64>| if flag > 0.0 { flag } else { file.unwrap_or(0.0) };
    let latency = if opts.latency_ms > 0 {
        opts.latency_ms
    } else {
        sf.latency_ms.unwrap_or(0)
    };
    let seed = opts.seed.or(scenario.as_ref().and_then(|s| s.seed)).unwrap_or(1);
    let faults = Faults::new(
        pick(opts.throttle_rate, sf.throttle_rate),
        pick(opts.error_rate, sf.error_rate),
        latency,
        seed,
    );
    let shared = Arc::new(Shared::new(
        estates,
        Clock::new(now, opts.speed),
        faults,
        rand::random(),
        opts.log_requests,
    ));
    shared.set_rate_limit(opts.rate_limit);
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("binding {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let router = axum::Router::new().fallback(server::serve).with_state(shared.clone());
    let listener = conn::IdleListener::new(listener, opts.idle_timeout, shared.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("sstop sim server stopped: {e}");
        }
    });
    let ticking = shared.clone();
    let clock = tokio::spawn(async move {
        // Requests advance the engine too; the tick keeps it moving between them.
        let mut every = tokio::time::interval(Duration::from_millis(250));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            ticking.tick();
        }
    });
    Ok(SimHandle {
        addr,
        shared,
        server,
        clock,
    })
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url` / `AWS_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received per Action (faulted ones included; unparseable ones as `(invalid)`).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.counts()
    }

    pub fn total_requests(&self) -> u64 {
        self.shared.total()
    }

    /// The emulator's truth about an operation, whatever CallAs it needs.
    pub fn operation_status(&self, stack_set: &str, operation_id: &str) -> Option<OperationStatus> {
        self.shared
            .with_engine(|e| e.stack_set_any(stack_set)?.operation(operation_id).map(|o| o.status))
    }

    pub fn operation_results(&self, stack_set: &str, operation_id: &str) -> Option<Vec<OperationResult>> {
        self.shared.with_engine(|e| {
            let op = e.stack_set_any(stack_set)?.operation(operation_id)?;
            Some(op.results.iter().map(|r| op.result_view(r)).collect())
        })
    }

    /// Operation ids of a stack set, newest first (scenarios draw most ids from the seed).
    pub fn operation_ids(&self, stack_set: &str) -> Vec<String> {
        self.shared.with_engine(|e| {
            e.stack_set_any(stack_set)
                .map(|s| s.operations.iter().rev().map(|o| o.id.to_string()).collect())
                .unwrap_or_default()
        })
    }

    /// Like [`Self::operation_status`], in the estate a request signed for `region` sees.
    pub fn operation_status_in(&self, region: &str, stack_set: &str, operation_id: &str) -> Option<OperationStatus> {
        self.shared
            .with_region(region, |e| {
                e.stack_set_any(stack_set)?.operation(operation_id).map(|o| o.status)
            })
            .flatten()
    }

    /// Like [`Self::operation_ids`], in the estate a request signed for `region` sees.
    pub fn operation_ids_in(&self, region: &str, stack_set: &str) -> Vec<String> {
        self.shared
            .with_region(region, |e| {
                e.stack_set_any(stack_set)
                    .map(|s| s.operations.iter().rev().map(|o| o.id.to_string()).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Names of every stack set (any CallAs) in the estate a request signed for `region` sees,
    /// in creation order; empty for a Region no request has reached yet.
    pub fn stack_set_names_in(&self, region: &str) -> Vec<String> {
        self.shared
            .with_region(region, |e| e.all_stack_sets().iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Regions with their own estate, and whether requests are routed by Region at all (only
    /// when the scenario puts stack sets in more than one Region).
    pub fn regions(&self) -> (Vec<String>, bool) {
        self.shared.regions()
    }

    /// Jumps simulated time forward by `simulated` and runs everything due (for tests).
    pub fn advance(&self, simulated: Duration) {
        let ms = i64::try_from(simulated.as_millis()).unwrap_or(i64::MAX / 4);
        self.shared.clock.jump(ms);
        self.shared.tick();
    }

    pub fn set_faults(&self, throttle_rate: f64, error_rate: f64, latency_ms: u64) {
        self.shared.set_faults(throttle_rate, error_rate, latency_ms);
    }

    /// Sets or lifts (`None`) the request rate limit at runtime; a new limit starts with a full
    /// bucket. A rate that is not a positive finite number is refused.
    pub fn set_rate_limit(&self, rate: Option<f64>) -> anyhow::Result<()> {
        if let Some(r) = rate {
            rate::check_rate(r).map_err(anyhow::Error::msg)?;
        }
        self.shared.set_rate_limit(rate);
        Ok(())
    }

    pub fn rate_limit(&self) -> Option<f64> {
        self.shared.rate_limit()
    }

    /// How many requests were answered with Throttling (rate limit and `--throttle-rate`).
    pub fn throttled_count(&self) -> u64 {
        self.shared.throttled()
    }

    /// Stops the server and the clock task; open connections are dropped.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.server.abort();
        self.clock.abort();
    }
}

/// `sstop sim`: serve until Ctrl-C or SIGTERM.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let opts = SimOptions::from(args);
    if !opts.listen.ip().is_loopback() {
        eprintln!(
            "warning: sstop sim is listening on {}, which is not a loopback address: anyone who can reach it can drive the emulator",
            opts.listen
        );
    }
    let handle = start(opts).await?;
    println!("sstop sim listening on {}", handle.endpoint_url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    handle.shutdown();
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
