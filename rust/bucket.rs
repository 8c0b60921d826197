//! A token bucket for per-consumer and per-venue rate limits.

use crate::error::CoreError;

/// Refills continuously at `rate` tokens per second up to `burst`; starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ns: Option<u64>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Result<Self, CoreError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(CoreError::Value(format!(
                "rate must be a positive number, got {rate}"
            )));
        }
        if !(burst.is_finite() && burst > 0.0) {
            return Err(CoreError::Value(format!(
                "burst must be a positive number, got {burst}"
            )));
        }
        Ok(TokenBucket {
            rate,
            burst,
            tokens: burst,
            last_ns: None,
        })
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn burst(&self) -> f64 {
        self.burst
    }

    fn check(&self, n: f64) -> Result<(), CoreError> {
        if !(n.is_finite() && n > 0.0) {
            return Err(CoreError::Value(format!(
                "n must be a positive number, got {n}"
            )));
        }
        if n > self.burst {
            return Err(CoreError::Value(format!(
                "n = {n} can never be acquired: it exceeds burst = {}",
                self.burst
            )));
        }
        Ok(())
    }

    /// Adds what accrued since the last call. A timestamp earlier than the last one adds
    /// nothing: the clock is treated as never going back.
    fn refill(&mut self, now_ns: u64) {
        match self.last_ns {
            None => self.last_ns = Some(now_ns),
            Some(last) if now_ns > last => {
                let accrued = (now_ns - last) as f64 * self.rate / 1e9;
                self.tokens = (self.tokens + accrued).min(self.burst);
                self.last_ns = Some(now_ns);
            }
            Some(_) => {}
        }
    }

    /// Takes `n` tokens if available now.
    pub fn try_acquire(&mut self, n: f64, now_ns: u64) -> Result<bool, CoreError> {
        self.check(n)?;
        self.refill(now_ns);
        if self.tokens >= n {
            self.tokens -= n;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Seconds until `n` tokens are available (0.0 when they are now).
    pub fn time_until(&mut self, n: f64, now_ns: u64) -> Result<f64, CoreError> {
        self.check(n)?;
        self.refill(now_ns);
        Ok(if self.tokens >= n {
            0.0
        } else {
            (n - self.tokens) / self.rate
        })
    }

    pub fn tokens(&mut self, now_ns: u64) -> f64 {
        self.refill(now_ns);
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_full_and_refills() {
        let mut b = TokenBucket::new(10.0, 5.0).unwrap();
        for _ in 0..5 {
            assert!(b.try_acquire(1.0, 0).unwrap());
        }
        assert!(!b.try_acquire(1.0, 0).unwrap());
        assert!((b.time_until(1.0, 0).unwrap() - 0.1).abs() < 1e-12);
        assert!(b.try_acquire(1.0, 100_000_000).unwrap());
        assert!(
            (b.tokens(10_000_000_000) - 5.0).abs() < 1e-12,
            "capped at burst"
        );
    }

    #[test]
    fn clock_going_back_adds_nothing() {
        let mut b = TokenBucket::new(1.0, 1.0).unwrap();
        assert!(b.try_acquire(1.0, 5_000_000_000).unwrap());
        assert_eq!(b.tokens(1_000_000_000), 0.0);
        assert!((b.tokens(5_500_000_000) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn refuses_bad_arguments() {
        assert!(TokenBucket::new(0.0, 1.0).is_err());
        assert!(TokenBucket::new(1.0, -1.0).is_err());
        assert!(TokenBucket::new(f64::NAN, 1.0).is_err());
        let mut b = TokenBucket::new(1.0, 2.0).unwrap();
        assert!(b.try_acquire(3.0, 0).is_err());
        assert!(b.time_until(0.0, 0).is_err());
    }
}
