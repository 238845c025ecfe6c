//! itlm-inspector: the window by default, or a headless command.

use clap::Parser;
use itlm_inspector::cli::{self, Cli, Command};

fn main() -> std::process::ExitCode {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { itlm_inspector::learner::fast::tune_process_for_cpu_training() };
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Run(a)) => cli::run_command(&a).map_err(anyhow::Error::from),
        Some(Command::Corrupt(a)) => itlm_inspector::data::corrupt::run(&a)
            .map(|r| report(&r))
            .map_err(anyhow::Error::from),
        Some(Command::GenDemo(a)) => itlm_inspector::data::demo::run(&a)
            .map(|r| report(&r))
            .map_err(anyhow::Error::from),
        Some(Command::Export(a)) => cli::export_command(&a).map_err(anyhow::Error::from),
        Some(Command::Bench(a)) => itlm_inspector::bench::run(&a).map_err(anyhow::Error::from),
        Some(Command::Reproduce(a)) => {
            itlm_inspector::reproduce::run(&a).map_err(anyhow::Error::from)
        }
        Some(Command::Gui { path }) => gui(path.or(cli.path)),
        None => gui(cli.path),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Print a command's report; a closed stdout (e.g. `| head`) is not an error.
fn report(r: &dyn std::fmt::Display) {
    use std::io::Write as _;
    let _ = write!(std::io::stdout(), "{r}");
}

fn gui(path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    itlm_inspector::ui::run(path)
}
