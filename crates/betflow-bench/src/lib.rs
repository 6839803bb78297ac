//! Benchmark building blocks: an HTTP load generator and helpers to run server processes.
//!
//! Numbers from here go to `docs/benchmarks.md` with the exact command that produced them.
//! The load generator runs on the same machine as the server, so figures compare servers
//! measured in the same run rather than stand alone.

pub mod bets;
pub mod load;
pub mod process;
pub mod realtime;

/// The median of a non-empty sample (mean of the middle two for even lengths).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(super::median(&mut []).is_nan());
    }
}
