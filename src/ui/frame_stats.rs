//! Frame time measurement: ring buffers of eframe's per-frame CPU time and of our own UI time,
//! their p50/p95, and (with `ITLM_FRAME_STATS=path`) a stats file rewritten every few seconds
//! and on exit, so a run under Xvfb can be measured even if the program is killed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Frames remembered.
pub const CAPACITY: usize = 600;

/// A fixed-size ring of samples in seconds.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    values: Vec<f32>,
    next: usize,
    /// Samples ever pushed.
    pub total: u64,
}

impl Ring {
    pub fn push(&mut self, v: f32) {
        if !v.is_finite() {
            return;
        }
        if self.values.len() < CAPACITY {
            self.values.push(v);
        } else {
            self.values[self.next] = v;
        }
        self.next = (self.next + 1) % CAPACITY;
        self.total += 1;
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The q-quantile (0..=1), nearest rank.
    pub fn quantile(&self, q: f64) -> Option<f32> {
        if self.values.is_empty() {
            return None;
        }
        let mut v = self.values.clone();
        let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        let (_, x, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
        Some(*x)
    }
}

#[derive(Default)]
pub struct FrameStats {
    /// eframe's CPU time per frame (UI + painting), all frames.
    pub cpu: Ring,
    /// Same, only frames drawn while a run was training.
    pub cpu_training: Ring,
    /// Time spent in our `ui` function.
    pub ui: Ring,
    pub ui_training: Ring,
    out: Option<PathBuf>,
    last_write: Option<Instant>,
}

impl FrameStats {
    /// Stats written to `out` when given (see `ITLM_FRAME_STATS`).
    pub fn new(out: Option<PathBuf>) -> Self {
        Self {
            out,
            ..Default::default()
        }
    }

    pub fn record(&mut self, cpu_secs: Option<f32>, ui_secs: f32, training: bool) {
        if let Some(c) = cpu_secs {
            self.cpu.push(c);
            if training {
                self.cpu_training.push(c);
            }
        }
        self.ui.push(ui_secs);
        if training {
            self.ui_training.push(ui_secs);
        }
    }

    /// "frame p50 1.2 ms, p95 3.4 ms" for the status line.
    pub fn summary(&self) -> String {
        let ms = |r: &Ring, q| {
            r.quantile(q)
                .map_or("-".into(), |v| format!("{:.1}", v * 1e3))
        };
        format!(
            "frame cpu p50 {} ms, p95 {} ms (ui p95 {} ms, {} frames)",
            ms(&self.cpu, 0.5),
            ms(&self.cpu, 0.95),
            ms(&self.ui, 0.95),
            self.cpu.len()
        )
    }

    /// The stats file's text.
    pub fn report(&self) -> String {
        let ms = |r: &Ring, q| {
            r.quantile(q)
                .map_or("nan".into(), |v| format!("{:.3}", v * 1e3))
        };
        let mut s = String::new();
        for (name, r) in [
            ("cpu", &self.cpu),
            ("cpu_training", &self.cpu_training),
            ("ui", &self.ui),
            ("ui_training", &self.ui_training),
        ] {
            s.push_str(&format!(
                "{name}_frames {}\n{name}_p50_ms {}\n{name}_p95_ms {}\n",
                r.total,
                ms(r, 0.5),
                ms(r, 0.95)
            ));
        }
        s
    }

    /// Rewrite the stats file when due (every 2 s) or when `force`.
    pub fn maybe_write(&mut self, force: bool) {
        let Some(out) = &self.out else { return };
        let due = self
            .last_write
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
        if force || due {
            self.last_write = Some(Instant::now());
            // Measuring must never break the window: a failed write is ignored.
            let _ = crate::export::write_atomic(
                out,
                self.report().as_bytes(),
                crate::export::Overwrite::Allow,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_over_a_ring() {
        let mut r = Ring::default();
        assert_eq!(r.quantile(0.5), None);
        for i in 1..=100 {
            r.push(i as f32);
        }
        assert_eq!(r.quantile(0.5), Some(50.0));
        assert_eq!(r.quantile(0.95), Some(95.0));
        for _ in 0..CAPACITY {
            r.push(1.0);
        }
        assert_eq!(r.len(), CAPACITY);
        assert_eq!(r.quantile(0.95), Some(1.0));
        r.push(f32::NAN);
        assert_eq!(r.total, 100 + CAPACITY as u64);
    }

    #[test]
    fn writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stats.txt");
        let mut f = FrameStats::new(Some(p.clone()));
        f.record(Some(0.002), 0.001, true);
        f.maybe_write(true);
        let s = std::fs::read_to_string(p).unwrap();
        assert!(s.contains("cpu_p95_ms 2.000"), "{s}");
        assert!(s.contains("ui_training_frames 1"), "{s}");
    }
}
