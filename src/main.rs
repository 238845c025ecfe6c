//! itlm-inspector: the window by default, or a headless command.

use clap::Parser;
use itlm_inspector::cli::{self, Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Run(a)) => cli::run_command(&a).map_err(anyhow::Error::from),
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

fn gui(path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    itlm_inspector::ui::run(path)
}
