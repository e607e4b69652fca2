//! A client-side ceiling on requests per second, shared by every polling request (not stops).
//! A token bucket kept as "the earliest instant the next request may go" (GCRA), on tokio's
//! clock so tests with a paused clock see it exactly. In adaptive mode the rate follows
//! CloudFormation's answers: down by 30% when an attempt was throttled (at most once a second),
//! up by one request a second for each second without (doubling each second until the first
//! throttle), between a floor that never stalls the screen and a ceiling.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::api::reqlog::AttemptCounts;

/// How far a throttle cuts the rate.
const BACKOFF: f64 = 0.7;
/// At most one cut per this long: one burst of throttled attempts is one signal.
const CUT_SPACING: Duration = Duration::from_secs(1);
/// Requests a second regained per second without a throttle, once one has been seen.
const REGAIN_PER_SEC: f64 = 1.0;
/// Before the first throttle: the rate's growth factor per second.
const SLOW_START_GROWTH_PER_SEC: f64 = 2.0;

#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
    /// Adaptive mode: what it follows, and its bounds.
    adaptive: Option<Adaptive>,
}

#[derive(Debug)]
struct Adaptive {
    counts: Arc<AttemptCounts>,
    floor: f64,
    ceiling: f64,
}

#[derive(Debug)]
struct State {
    /// Requests per second now; 0 means no ceiling.
    rate: f64,
    burst: u32,
    next_free: Option<Instant>,
    /// Adaptive mode: throttles seen so far, and when the rate last changed.
    throttled_seen: u64,
    last_cut: Option<Instant>,
    last_change: Option<Instant>,
}

impl State {
    fn interval(&self) -> Duration {
        if self.rate > 0.0 {
            Duration::from_secs_f64(1.0 / self.rate)
        } else {
            Duration::ZERO
        }
    }
}

impl RateLimiter {
    /// `per_second` requests per second on average, bursts of up to `burst`. 0 disables the ceiling.
    pub fn new(per_second: f64, burst: u32) -> Self {
        RateLimiter {
            state: Mutex::new(State {
                rate: per_second.max(0.0),
                burst: burst.max(1),
                next_free: None,
                throttled_seen: 0,
                last_cut: None,
                last_change: None,
            }),
            adaptive: None,
        }
    }

    pub fn unlimited() -> Self {
        RateLimiter::new(0.0, 1)
    }

    /// Starts at `start` requests a second and follows the throttles in `counts`, between
    /// `floor` and `ceiling`.
    pub fn adaptive(counts: Arc<AttemptCounts>, start: f64, floor: f64, ceiling: f64) -> Self {
        let floor = floor.max(0.1);
        let ceiling = ceiling.max(floor);
        let limiter = RateLimiter::new(start.clamp(floor, ceiling), start.clamp(floor, ceiling).ceil() as u32);
        if let Ok(mut state) = limiter.state.lock() {
            state.throttled_seen = counts.read().1;
        }
        RateLimiter {
            adaptive: Some(Adaptive { counts, floor, ceiling }),
            ..limiter
        }
    }

    /// Polling's pace in the dashboard: from 10 requests a second, down on throttling, up
    /// again without, between 2 (the screen never stalls) and `ceiling` (the config's
    /// `max_requests_per_second`, default 50), fed by the request log's attempt counts.
    pub fn polling(ceiling: Option<f64>) -> Self {
        let ceiling = ceiling.unwrap_or(50.0);
        RateLimiter::adaptive(
            crate::api::reqlog::attempts(),
            10.0_f64.min(ceiling),
            2.0_f64.min(ceiling),
            ceiling,
        )
    }

    /// Requests per second allowed now (0: no ceiling).
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wait until one more request fits under the ceiling, and take its slot.
    pub async fn acquire(&self) {
        let wait_until = {
            let mut state = self.lock();
            let now = Instant::now();
            if let Some(adaptive) = &self.adaptive {
                follow(&mut state, adaptive, now);
            }
            let interval = state.interval();
            if interval.is_zero() {
                return;
            }
            let burst_window = interval * state.burst.saturating_sub(1);
            // The theoretical arrival time of this request; it may go once it is within the burst window.
            let arrival = state.next_free.map_or(now, |t| t.max(now));
            state.next_free = Some(arrival + interval);
            arrival.checked_sub(burst_window).unwrap_or(now).max(now)
        };
        tokio::time::sleep_until(wait_until).await;
    }
}

/// Adaptive mode: cut on a new throttle, regain with time.
fn follow(state: &mut State, adaptive: &Adaptive, now: Instant) {
    let (_, throttled) = adaptive.counts.read();
    let since_change = state
        .last_change
        .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
    if throttled > state.throttled_seen {
        state.throttled_seen = throttled;
        let spaced = state
            .last_cut
            .is_none_or(|t| now.saturating_duration_since(t) >= CUT_SPACING);
        if spaced {
            state.rate = (state.rate * BACKOFF).max(adaptive.floor);
            state.last_cut = Some(now);
            state.last_change = Some(now);
            // The slot schedule was made at the old rate: start it afresh.
            state.next_free = None;
            state.burst = 1;
        }
    } else if state.last_change.is_none() {
        state.last_change = Some(now);
    } else if state.rate < adaptive.ceiling && since_change >= Duration::from_millis(100) {
        let secs = since_change.as_secs_f64();
        state.rate = if state.last_cut.is_none() {
            // No throttle yet: nothing is known of the service's limit, so the rate doubles
            // each second (TCP's slow start) rather than creeping up one request at a time.
            state.rate * SLOW_START_GROWTH_PER_SEC.powf(secs)
        } else {
            state.rate + REGAIN_PER_SEC * secs
        }
        .min(adaptive.ceiling);
        state.last_change = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_average_rate_after_the_burst() {
        let limiter = RateLimiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1),
            "burst goes at once: {:?}",
            start.elapsed()
        );
        for _ in 0..10 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(950) && elapsed <= Duration::from_millis(1050),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let limiter = RateLimiter::unlimited();
        let start = Instant::now();
        for _ in 0..1000 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_cuts_on_throttles_once_a_second_and_regains_without() {
        let counts = Arc::new(AttemptCounts::default());
        let limiter = RateLimiter::adaptive(Arc::clone(&counts), 20.0, 2.0, 50.0);
        limiter.acquire().await;
        assert_eq!(limiter.rate(), 20.0);
        // A burst of three throttled attempts: one cut.
        for _ in 0..3 {
            counts.note(true);
        }
        limiter.acquire().await;
        assert!((limiter.rate() - 14.0).abs() < 1e-9, "{}", limiter.rate());
        counts.note(true);
        limiter.acquire().await;
        assert!(
            (limiter.rate() - 14.0).abs() < 1e-9,
            "a second cut within a second is the same burst"
        );
        // Five quiet seconds give back five requests a second.
        tokio::time::advance(Duration::from_secs(5)).await;
        counts.note(false);
        limiter.acquire().await;
        assert!((limiter.rate() - 19.0).abs() < 0.2, "{}", limiter.rate());
        // Never below the floor, never above the ceiling.
        for _ in 0..20 {
            tokio::time::advance(Duration::from_secs(2)).await;
            counts.note(true);
            limiter.acquire().await;
        }
        assert_eq!(limiter.rate(), 2.0);
        tokio::time::advance(Duration::from_secs(600)).await;
        limiter.acquire().await;
        assert_eq!(limiter.rate(), 50.0);
    }

    #[tokio::test(start_paused = true)]
    async fn before_the_first_throttle_the_rate_doubles_each_second() {
        let counts = Arc::new(AttemptCounts::default());
        let limiter = RateLimiter::adaptive(Arc::clone(&counts), 10.0, 2.0, 50.0);
        let start = Instant::now();
        // 300 requests: at 10 a second and one more each second that is 19 s; doubling
        // (10, 20, 40, then the ceiling of 50) takes about 8 s.
        for _ in 0..300 {
            limiter.acquire().await;
        }
        let took = start.elapsed();
        assert!(took <= Duration::from_secs(9), "{took:?}");
        assert_eq!(limiter.rate(), 50.0);
        // After a throttle it climbs back one request a second.
        counts.note(true);
        limiter.acquire().await;
        assert!((limiter.rate() - 35.0).abs() < 1e-9, "{}", limiter.rate());
        tokio::time::advance(Duration::from_secs(4)).await;
        limiter.acquire().await;
        assert!((limiter.rate() - 39.0).abs() < 0.2, "{}", limiter.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_paces_requests_at_the_current_rate() {
        let counts = Arc::new(AttemptCounts::default());
        let limiter = RateLimiter::adaptive(Arc::clone(&counts), 4.0, 2.0, 4.0);
        let start = Instant::now();
        for _ in 0..12 {
            limiter.acquire().await;
        }
        // A burst of 4, then 8 more at 4 a second.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1950) && elapsed <= Duration::from_millis(2050),
            "{elapsed:?}"
        );
    }
}
