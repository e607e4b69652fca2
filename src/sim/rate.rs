//! A token bucket for `--rate-limit`: AWS throttles by request rate with some burst allowance,
//! so a client that polls too fast sees `Throttling` while a patient one never does.
//!
//! Time is passed in (seconds on any monotonic scale), so the bucket is tested without sleeping.

/// Requests per second with a burst of about one second's worth.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// A full bucket refilling at `rate` per second; it holds `max(rate, 1)` tokens so even a
    /// slow limit lets one request through.
    pub fn new(rate: f64, now: f64) -> Self {
        let burst = rate.max(1.0);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes one token if there is one; `false` means "throttle this request".
    pub fn try_take(&mut self, now: f64) -> bool {
        // A clock that goes backward (it should not) refills nothing rather than panicking.
        let elapsed = (now - self.last).max(0.0);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        // A hair of slack so float rounding does not refuse a request that arrives exactly on time.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// Checks a `--rate-limit` value: a finite number of requests per second above zero.
pub fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0 {
        Ok(rate)
    } else {
        Err(format!(
            "--rate-limit must be a number of requests per second above 0 (at most 1000000), got {rate}"
        ))
    }
}

/// clap's parser for `--rate-limit`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number of requests per second: {text:?}"))?;
    check_rate(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(b: &mut TokenBucket, now: f64, tries: usize) -> usize {
        (0..tries).filter(|_| b.try_take(now)).count()
    }

    #[test]
    fn a_burst_of_the_rate_then_throttled() {
        let mut b = TokenBucket::new(5.0, 100.0);
        assert_eq!(taken(&mut b, 100.0, 20), 5);
        assert!(!b.try_take(100.0));
    }

    #[test]
    fn refills_at_the_rate() {
        let mut b = TokenBucket::new(5.0, 0.0);
        assert_eq!(taken(&mut b, 0.0, 5), 5);
        // 0.1 s at 5/s is half a token: still throttled.
        assert!(!b.try_take(0.1));
        // 0.2 s in all: one token.
        assert!(b.try_take(0.2));
        assert!(!b.try_take(0.2));
        // A long pause refills only up to the burst.
        assert_eq!(taken(&mut b, 60.0, 100), 5);
    }

    #[test]
    fn steady_requests_at_the_rate_all_pass_and_faster_ones_do_not() {
        let mut b = TokenBucket::new(10.0, 0.0);
        let mut ok = 0;
        // 10 s at exactly 10/s after the burst is spent: all pass.
        assert_eq!(taken(&mut b, 0.0, 10), 10);
        for i in 1..=100 {
            ok += usize::from(b.try_take(f64::from(i) * 0.1));
        }
        assert_eq!(ok, 100);
        // 20/s for 10 s: about half are refused.
        let mut b = TokenBucket::new(10.0, 0.0);
        let passed = (1..=200).filter(|i| b.try_take(f64::from(*i) * 0.05)).count();
        assert!((100..=111).contains(&passed), "passed {passed}");
    }

    #[test]
    fn slow_limits_still_allow_one_request() {
        let mut b = TokenBucket::new(0.5, 0.0);
        assert!(b.try_take(0.0));
        assert!(!b.try_take(1.0));
        assert!(b.try_take(2.0));
    }

    #[test]
    fn time_going_backward_does_not_refill() {
        let mut b = TokenBucket::new(1.0, 10.0);
        assert!(b.try_take(10.0));
        assert!(!b.try_take(5.0));
        assert!(!b.try_take(10.5));
        assert!(b.try_take(11.0));
    }

    #[test]
    fn bad_rates_are_refused() {
        assert!(parse_rate("abc").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-3").is_err());
        assert!(parse_rate("inf").is_err());
        assert!(parse_rate("NaN").is_err());
        assert_eq!(parse_rate(" 2.5 ").unwrap(), 2.5);
    }
}
