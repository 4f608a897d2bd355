//! The progress bar: run time against the planned length, with live throughput. On a
//! terminal it redraws in place (indicatif); elsewhere (CI logs, tests) it is hidden.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one run. Clones draw the same bar.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for a run of `total` (warm-up and measured window), labelled `label`;
    /// `visible: false` draws nothing.
    pub fn new(label: &str, total: Duration, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis() as u64),
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos:>6}/{len:6} ms {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        Progress { bar }
    }

    /// At run time `now`: `committed` and `aborted` so far in the measured window,
    /// `committed_per_s` over the last interval, `in_flight` outstanding.
    pub fn update(&self, now: Duration, committed: u64, committed_per_s: f64, in_flight: usize) {
        self.bar.set_position(now.as_millis() as u64);
        self.bar.set_message(format!(
            "{committed} committed, {committed_per_s:.0}/s, {in_flight} in flight"
        ));
    }

    /// Note a phase (setup, drain).
    pub fn phase(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    /// Remove the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Throughput between progress updates.
#[derive(Default)]
pub struct Rate {
    last: Option<(Duration, u64)>,
    /// The latest rate, per second.
    pub per_s: f64,
}

impl Rate {
    /// `count` at `now`; updates [`Rate::per_s`] when at least `every` has passed.
    pub fn tick(&mut self, now: Duration, count: u64, every: Duration) -> bool {
        match self.last {
            Some((t, c)) if now >= t + every => {
                let dt = (now - t).as_secs_f64();
                self.per_s = (count.saturating_sub(c)) as f64 / dt;
                self.last = Some((now, count));
                true
            }
            None => {
                self.last = Some((now, count));
                true
            }
            _ => false,
        }
    }
}
