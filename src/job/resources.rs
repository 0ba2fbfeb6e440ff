//! What a run costs, stage by stage: wall time and the process's peak resident memory, recorded
//! in the manifest so that benchmarks and analysts can see where time and memory go.
//!
//! Peak memory per stage uses Linux's high-water mark (VmHWM in /proc/self/status), reset at
//! each stage boundary through /proc/self/clear_refs; elsewhere it is not recorded.

use std::time::Instant;

/// Wall time and peak memory of the stages of one run.
#[derive(Debug)]
pub(crate) struct StageMeter {
    started: Instant,
    last: Instant,
    pub timings: Vec<(String, f64)>,
    pub peak_rss_bytes: Vec<(String, u64)>,
    overall_peak: u64,
}

impl Default for StageMeter {
    fn default() -> StageMeter {
        StageMeter::start()
    }
}

impl StageMeter {
    pub fn start() -> StageMeter {
        reset_peak();
        let now = Instant::now();
        StageMeter { started: now, last: now, timings: Vec::new(), peak_rss_bytes: Vec::new(), overall_peak: 0 }
    }

    /// Closes the stage that began at the previous mark.
    pub fn mark(&mut self, stage: &str) {
        let now = Instant::now();
        self.timings.push((stage.to_string(), (now - self.last).as_secs_f64()));
        if let Some(peak) = peak_rss() {
            self.overall_peak = self.overall_peak.max(peak);
            self.peak_rss_bytes.push((stage.to_string(), peak));
            reset_peak();
        }
        self.last = now;
    }

    /// Adds the whole run's time and peak as "total".
    pub fn total(&mut self) {
        self.timings.push(("total".to_string(), self.started.elapsed().as_secs_f64()));
        if !self.peak_rss_bytes.is_empty() {
            self.peak_rss_bytes.push(("total".to_string(), self.overall_peak));
        }
    }
}

/// The process's peak resident memory since the last reset, in bytes (Linux only).
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_timed_and_a_large_allocation_shows_in_its_stage() {
        let mut meter = StageMeter::start();
        meter.mark("small");
        let big = vec![1u8; 256 << 20];
        std::hint::black_box(&big);
        meter.mark("big");
        drop(big);
        meter.total();
        assert_eq!(meter.timings.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["small", "big", "total"]);
        if cfg!(target_os = "linux") {
            let peak = |s: &str| meter.peak_rss_bytes.iter().find(|(n, _)| n == s).unwrap().1;
            assert!(peak("big") >= 256 << 20, "{:?}", meter.peak_rss_bytes);
            assert!(peak("total") >= peak("big"));
        }
    }
}
