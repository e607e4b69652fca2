//! A client-side ceiling on requests per second, shared by every polling request (not stops).
//! A token bucket kept as "the earliest instant the next request may go" (GCRA), on tokio's
//! clock so tests with a paused clock see it exactly.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    /// Time one request "costs"; zero means no ceiling.
    interval: Duration,
    /// How far ahead of now the schedule may run: the burst allowance.
    burst_window: Duration,
    next_free: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `per_second` requests per second on average, bursts of up to `burst`. 0 disables the ceiling.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let interval = if per_second > 0.0 {
            Duration::from_secs_f64(1.0 / per_second)
        } else {
            Duration::ZERO
        };
        RateLimiter {
            interval,
            burst_window: interval * burst.max(1).saturating_sub(1),
            next_free: Mutex::new(None),
        }
    }

    pub fn unlimited() -> Self {
        RateLimiter::new(0.0, 1)
    }

    /// Wait until one more request fits under the ceiling, and take its slot.
    pub async fn acquire(&self) {
        if self.interval.is_zero() {
            return;
        }
        let wait_until = {
            let mut next_free = self.next_free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            // The theoretical arrival time of this request; it may go once it is within the burst window.
            let arrival = next_free.map_or(now, |t| t.max(now));
            *next_free = Some(arrival + self.interval);
            arrival.checked_sub(self.burst_window).unwrap_or(now).max(now)
        };
        tokio::time::sleep_until(wait_until).await;
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
}
