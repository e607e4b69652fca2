//! The HTTP side of the emulator: shared state, the simulated clock, faults, request counting
//! and logging, and the axum handler that turns any request into an XML answer.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::api::{self, Request};
use super::engine::{Engine, Millis};
use super::error::SimError;
use super::query::{Tokens, MAX_BODY};
use super::rate::TokenBucket;
use super::region::{self, Estates};
use super::xml;

/// Bodies beyond the limit are read and thrown away up to this size, so the client gets our
/// 413 instead of a connection reset; past it the connection is simply dropped.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Simulated time = epoch + real elapsed × speed + manual offset (tests jump ahead with it).
#[derive(Debug)]
pub struct Clock {
    epoch_ms: Millis,
    start: tokio::time::Instant,
    speed: f64,
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new(epoch_ms: Millis, speed: f64) -> Self {
        Clock {
            epoch_ms,
            start: tokio::time::Instant::now(),
            speed: if speed.is_finite() && speed > 0.0 { speed } else { 1.0 },
            offset_ms: AtomicI64::new(0),
        }
    }

    pub fn now(&self) -> Millis {
        let real = self.start.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.epoch_ms + real as Millis + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn jump(&self, ms: Millis) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed);
    }
}

/// Fault injection settings and their own seeded generator.
#[derive(Debug)]
pub struct Faults {
    pub throttle_rate: f64,
    pub error_rate: f64,
    pub latency_ms: u64,
    rng: ChaCha8Rng,
}

impl Faults {
    pub fn new(throttle_rate: f64, error_rate: f64, latency_ms: u64, seed: u64) -> Self {
        Faults {
            throttle_rate: clamp01(throttle_rate),
            error_rate: clamp01(error_rate),
            latency_ms,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17),
        }
    }

    /// Decides this request's fate: throttled, failed, or served.
    fn roll(&mut self) -> Option<SimError> {
        if self.throttle_rate > 0.0 && self.rng.random::<f64>() < self.throttle_rate {
            return Some(SimError::throttling());
        }
        if self.error_rate > 0.0 && self.rng.random::<f64>() < self.error_rate {
            return Some(SimError::internal());
        }
        None
    }
}

fn clamp01(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Everything the server task, the clock task and the handle share.
pub struct Shared {
    estates: Mutex<Estates>,
    pub clock: Clock,
    tokens: Tokens,
    faults: Mutex<Faults>,
    counts: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
    log_requests: bool,
    /// `--rate-limit`: on real time (std's Instant, which tokio's paused test clock leaves
    /// alone), since throttling is about how fast requests really arrive.
    rate: Mutex<Option<TokenBucket>>,
    rate_epoch: std::time::Instant,
    throttled: AtomicU64,
}

/// Locks a mutex even if a panic poisoned it: the data is still usable for an emulator.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(estates: Estates, clock: Clock, faults: Faults, token_secret: u64, log_requests: bool) -> Self {
        Shared {
            estates: Mutex::new(estates),
            clock,
            tokens: Tokens::new(token_secret),
            faults: Mutex::new(faults),
            counts: Mutex::new(BTreeMap::new()),
            total: AtomicU64::new(0),
            log_requests,
            rate: Mutex::new(None),
            rate_epoch: std::time::Instant::now(),
            throttled: AtomicU64::new(0),
        }
    }

    /// The injected latency now (idle connections are given this much extra time).
    pub fn latency_ms(&self) -> u64 {
        lock(&self.faults).latency_ms
    }

    fn rate_now(&self) -> f64 {
        self.rate_epoch.elapsed().as_secs_f64()
    }

    /// Sets (or with `None` lifts) the request rate limit; a new limit starts with a full bucket.
    pub fn set_rate_limit(&self, rate: Option<f64>) {
        let now = self.rate_now();
        *lock(&self.rate) = rate.map(|r| TokenBucket::new(r, now));
    }

    pub fn rate_limit(&self) -> Option<f64> {
        lock(&self.rate).as_ref().map(TokenBucket::rate)
    }

    /// `true` when the request may proceed under the rate limit.
    fn admit(&self) -> bool {
        let now = self.rate_now();
        lock(&self.rate).as_mut().is_none_or(|b| b.try_take(now))
    }

    /// Throttling replies sent so far (rate limit and random `--throttle-rate` alike).
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Runs `f` on the home Region's engine brought up to the current simulated time.
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        let mut estates = lock(&self.estates);
        let e = estates.home_engine();
        e.advance_to(self.clock.now());
        f(e)
    }

    /// Runs `f` on the engine a request for `region` would see, if it exists yet (an existing
    /// Region only: looking must not create estates).
    pub fn with_region<R>(&self, region: &str, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
        let mut estates = lock(&self.estates);
        let e = estates.get_mut(Some(region))?;
        e.advance_to(self.clock.now());
        Some(f(e))
    }

    /// The Regions with an estate, and whether requests are routed by Region at all.
    pub fn regions(&self) -> (Vec<String>, bool) {
        let estates = lock(&self.estates);
        (estates.regions(), estates.is_regional())
    }

    pub fn tick(&self) {
        lock(&self.estates).advance_to(self.clock.now());
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.counts).clone()
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn set_faults(&self, throttle_rate: f64, error_rate: f64, latency_ms: u64) {
        let mut f = lock(&self.faults);
        f.throttle_rate = clamp01(throttle_rate);
        f.error_rate = clamp01(error_rate);
        f.latency_ms = latency_ms;
    }

    fn count(&self, action: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *lock(&self.counts).entry(action.to_string()).or_insert(0) += 1;
    }

    /// Runs a parsed request against the estate of `region` (`None`: the home Region); a bug
    /// that panics becomes an InternalFailure, not a dead server.
    pub fn execute(&self, req: &Request, region: Option<&str>, request_id: &str) -> (u16, String) {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut estates = lock(&self.estates);
            // Read the clock under the lock, so no request sees time run backward.
            let now = self.clock.now();
            // Another Region's NextToken names another list: scope the check by Region. The
            // home Region keeps the plain tokens, so they read exactly as before.
            let tokens = match estates.key(region) {
                k if k == estates.home() => self.tokens,
                k => self.tokens.scoped(k),
            };
            let engine = estates.engine_for(region, now)?;
            engine.advance_to(now);
            api::dispatch(engine, &tokens, req)
        }))
        .unwrap_or_else(|_| Err(SimError::internal()));
        api::respond(req.action, outcome, request_id)
    }

    /// Parse and run one request with no faults and no socket (used by property tests).
    #[cfg(test)]
    pub fn handle_raw(&self, method: &str, content_type: Option<&str>, body: &[u8]) -> (u16, String) {
        let request_id = uuid::Uuid::new_v4().to_string();
        match api::parse_request(method, content_type, body) {
            Ok(req) => {
                self.count(req.action);
                self.execute(&req, None, &request_id)
            }
            Err(e) => {
                self.count("(invalid)");
                (e.status, xml::error(&e, &request_id))
            }
        }
    }
}

/// Reads the body up to MAX_BODY; beyond that drains (within DRAIN_LIMIT) and refuses.
async fn read_body(mut body: Body) -> Result<Vec<u8>, SimError> {
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(SimError::validation("The request body could not be read"));
        };
        if let Some(data) = frame.data_ref() {
            seen = seen.saturating_add(data.len());
            if seen <= MAX_BODY {
                buf.extend_from_slice(data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_BODY {
        return Err(SimError::too_large(MAX_BODY));
    }
    Ok(buf)
}

/// The one axum handler: every path and method lands here.
pub async fn serve(State(shared): State<Arc<Shared>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let request_id = uuid::Uuid::new_v4().to_string();
    let region = region::from_authorization(parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()))
        .map(str::to_string);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Refuse a declared oversize body before reading it.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let parsed = match declared {
        Some(n) if n > DRAIN_LIMIT => Err(SimError::too_large(MAX_BODY)),
        _ => match read_body(body).await {
            Ok(bytes) => api::parse_request(parts.method.as_str(), content_type.as_deref(), &bytes),
            Err(e) => Err(e),
        },
    };
    shared.count(parsed.as_ref().map(|r| r.action).unwrap_or("(invalid)"));
    // Like AWS, the rate limit counts every request that arrives, valid or not.
    let admitted = shared.admit();
    let (latency, fault) = {
        let mut f = lock(&shared.faults);
        let fault = if !admitted {
            Some(SimError::throttling())
        } else if parsed.is_ok() {
            f.roll()
        } else {
            None
        };
        (f.latency_ms, fault)
    };
    if fault.as_ref().is_some_and(|e| e.code == SimError::throttling().code) {
        shared.throttled.fetch_add(1, Ordering::Relaxed);
    }
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let (status, text) = match (&parsed, &fault) {
        (_, Some(e)) | (Err(e), None) => (e.status, xml::error(e, &request_id)),
        (Ok(req), None) => shared.execute(req, region.as_deref(), &request_id),
    };
    if shared.log_requests {
        match &parsed {
            Ok(req) => {
                let (ss, op, call_as) = req.log_fields();
                let (_, regional) = shared.regions();
                let at = match &region {
                    Some(r) if regional => format!(" region={r}"),
                    _ => String::new(),
                };
                eprintln!(
                    "sstop sim: {}{at} stack_set={ss} operation={op} call_as={call_as} -> {status}",
                    req.action
                );
            }
            Err(e) => eprintln!(
                "sstop sim: {} {} (rejected: {}) -> {status}",
                parts.method, parts.uri, e.code
            ),
        }
    }
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    resp
}
