//! The command line: every clap type, each command's arguments turned into the core's settings
//! once, and the commands' output (progress bars, reports, JSON lines). The work itself is the
//! core's (`session`, `export`, `itlm`); the window is the other face and is not imported here.

// The commands' printing macros, for this module and every one below it (declared before
// them): a line that cannot be written, to a pipe its reader closed (`run ... 2>&1 | head`),
// is dropped instead of panicking, and the command goes on to write its files. (It had been
// killed by SIGPIPE at the first such line: a run piped to `head` left no output at all.)
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}
macro_rules! eprint {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

pub mod args;
pub mod bench;
pub mod bench_gpu;
pub mod bench_job;
pub mod bench_scale;
pub mod check;
pub mod cleanlab_peer;
pub mod corrupt;
pub mod embed;
pub mod export;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod values;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use args::{ItlmArgs, ModelArgs};
pub use export::ExportArgs;
pub use run::{run_and_export, run_command, RunArgs};

#[derive(Parser, Debug)]
#[command(
    name = "itlm-inspector",
    version,
    about = "Find bad training samples with Iterative Trimmed Loss Minimization"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Dataset (a folder or a labels CSV) or run file to open in the window (default: the embedded demo set).
    pub path: Option<PathBuf>,
}

impl Cli {
    /// The command line as clap sees it, with negative numbers taken as the values of the
    /// options that take one: `--tau -1` is then refused naming `--tau` and the value, not as
    /// "unexpected argument '-1'" (which names no option).
    pub fn command_line() -> clap::Command {
        fn negatives(c: clap::Command) -> clap::Command {
            c.mut_args(|a| {
                if a.get_action().takes_values() {
                    a.allow_negative_numbers(true)
                } else {
                    a
                }
            })
            .mut_subcommands(negatives)
        }
        negatives(<Self as clap::CommandFactory>::command())
    }

    /// Parse `args` (the program's name first) with [`Cli::command_line`].
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut m = Self::command_line().try_get_matches_from(args)?;
        <Self as clap::FromArgMatches>::from_arg_matches_mut(&mut m)
    }

    /// Parse the process's arguments; print clap's message and exit on a bad one.
    pub fn parse_args() -> Self {
        Self::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the window (the default).
    Gui { path: Option<PathBuf> },
    /// Run ITLM headless and write the run file, samples.csv, clean.txt, flagged.txt and health.csv.
    Run(Box<RunArgs>),
    /// Re-cut a saved run (another round or tau) and write its outputs and/or a clean copy.
    Export(ExportArgs),
    /// Write one self-contained HTML report of a saved run.
    Report(report::ReportArgs),
    /// Write a corrupted copy of a dataset (label noise, backdoor, spurious) with its truth.csv.
    Corrupt(Box<corrupt::CorruptArgs>),
    /// Write the demo data set (procedurally drawn shapes with known bad samples).
    GenDemo(corrupt::GenDemoArgs),
    /// Print the performance figures: training / scoring rates, an ITLM round, load rate,
    /// re-trim time, peak memory.
    Bench(bench::BenchArgs),
    /// Measure the paper's settings on real data: noisy labels, backdoors, spurious images.
    Reproduce(Box<reproduce::ReproduceArgs>),
    /// Pretrained backbone weights: `weights install efficientnet-lite0`.
    Weights(embed::WeightsArgs),
    /// Check a dataset's images for dark, light, blurry, low-information, odd-aspect,
    /// odd-size and grey-in-colour images (CleanVision's checks), without training.
    Check(check::CheckArgs),
}

/// What the binary does with a parsed command line that is not the window's.
pub enum Dispatch {
    /// Open the window on this path (None: the demo set).
    Window(Option<PathBuf>),
    /// A headless command, run to its end.
    Done(crate::Result<()>),
}

/// Run the headless command `cli` names; the window is left to the caller.
pub fn dispatch(cli: Cli) -> Dispatch {
    let done = |r: crate::Result<()>| Dispatch::Done(r);
    match cli.command {
        Some(Command::Run(a)) => done(run::run_command(&a)),
        Some(Command::Corrupt(a)) => done(corrupt::corrupt_command(&a)),
        Some(Command::GenDemo(a)) => done(corrupt::gen_demo_command(&a)),
        Some(Command::Export(a)) => done(export::export_command(&a)),
        Some(Command::Report(a)) => done(report::report_command(&a)),
        Some(Command::Bench(a)) => done(bench::run(&a)),
        Some(Command::Reproduce(a)) => done(reproduce::run(&a)),
        Some(Command::Weights(a)) => done(embed::weights_command(&a)),
        Some(Command::Check(a)) => done(check::check_command(&a)),
        Some(Command::Gui { path }) => Dispatch::Window(path.or(cli.path)),
        None => Dispatch::Window(cli.path),
    }
}

/// Print a command's report; a closed stdout (e.g. `| head`) is not an error.
pub fn report(r: &dyn std::fmt::Display) {
    use std::io::Write as _;
    let _ = write!(std::io::stdout(), "{r}");
}

/// Runs `load` with a loading line on stderr when stderr is a terminal (not with `quiet`):
/// from a second on, twice a second, the window's line ([`crate::data::LoadSnapshot::line`]),
/// cleared when the load ends. A folder of phone photos loads for a minute.
pub(crate) fn with_load_line<T>(
    path: &std::path::Path,
    quiet: bool,
    load: impl FnOnce(Option<std::sync::Arc<crate::data::LoadProgress>>) -> T,
) -> T {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::time::{Duration, Instant};
    if quiet || !std::io::stderr().is_terminal() {
        return load(None);
    }
    let progress = std::sync::Arc::new(crate::data::LoadProgress::default());
    let done = AtomicBool::new(false);
    let shown = path.display().to_string();
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let t0 = Instant::now();
            let mut last: Option<Instant> = None;
            while !done.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
                if t0.elapsed() >= Duration::from_secs(1) && due {
                    let secs = t0.elapsed().as_secs_f64();
                    eprint!("\r{}\x1b[K", progress.snapshot().line(&shown, secs));
                    last = Some(Instant::now());
                }
            }
            if last.is_some() {
                eprint!("\r\x1b[K");
            }
        });
        let r = load(Some(progress.clone()));
        done.store(true, Relaxed);
        let _ = watcher.join();
        r
    })
}

/// The files a load skipped, and why: a heading and the first `max` (with how many more and
/// `rest`, where the whole list is), for `run` and `check` to print; None when every file
/// loaded.
pub(crate) fn skipped_lines(
    skipped: &[crate::data::Skipped],
    max: usize,
    rest: &str,
) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut out = format!("{} skipped:", crate::plural(skipped.len(), "file"));
    for s in skipped.iter().take(max) {
        out.push_str(&format!("\n  {}: {}", s.path.display(), s.reason));
    }
    if skipped.len() > max {
        out.push_str(&format!(
            "\n  ... and {} more ({rest})",
            skipped.len() - max
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Negative numbers are values, not flags: the option's own check refuses them, naming
    /// it (clap's "unexpected argument '-1'" named no option).
    #[test]
    fn negative_values_reach_their_options() {
        let c = Cli::try_parse_args(["itlm", "run", "d", "--out", "o", "--tau", "-1"]).unwrap();
        let Some(Command::Run(a)) = c.command else {
            panic!("not a run")
        };
        assert_eq!(a.itlm.tau, Some(-1.0));
        let e = Cli::try_parse_args(["itlm", "run", "d", "--out", "o", "--seed", "-1"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid value '-1' for '--seed <SEED>'"), "{e}");
        let e = Cli::try_parse_args([
            "itlm",
            "corrupt",
            "s",
            "--out",
            "o",
            "--noise",
            "backdoor",
            "--rate",
            "0.1",
            "--position",
            "-1,0",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'-1,0': expected corner, center or ROW,COL"),
            "{e}"
        );
        // Flags still parse as flags.
        assert!(Cli::try_parse_args(["itlm", "run", "d", "--out", "o", "-q"]).is_ok());
    }
}
