//! The engine's progress on a terminal: an indicatif bar (jobs done / total, records read,
//! ETA from the remaining budget) with notes printed above it.

use engine::sync::{Progress, ProgressUpdate};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr (hidden when stderr is not a terminal).
#[derive(Debug)]
pub struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    /// A bar labelled with the strategy.
    pub fn new(label: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "  {prefix} {spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self { bar }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for BarProgress {
    fn update(&self, p: &ProgressUpdate) {
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
        let eta = p
            .eta
            .map(|d| format!(", ETA {}", indicatif::HumanDuration(d)))
            .unwrap_or_default();
        self.bar
            .set_message(format!("{} ({} records{eta})", p.phase, p.records));
    }

    fn note(&self, message: &str) {
        self.bar.println(format!("  {message}"));
    }
}
