//! itlm-inspector: the window by default, or a headless command.

use itlm_inspector::cli::{self, Cli, Dispatch};

fn main() -> std::process::ExitCode {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { itlm_inspector::learner::fast::tune_process_for_cpu_training() };
    let args = Cli::parse_args();
    // A headless command whose output goes into a pipe that closes (`run ... 2>&1 | head`)
    // goes on and writes its files: SIGPIPE stays ignored (Rust's default), and the commands'
    // printing drops a line it cannot write (`cli`'s println! / eprintln!).
    let result = match cli::dispatch(args) {
        Dispatch::Done(r) => r.map_err(anyhow::Error::from),
        Dispatch::Window(path) => itlm_inspector::ui::run(path),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Stopped by SIGINT / SIGTERM (its finished rounds saved): the shell's code for it.
        Err(e)
            if matches!(
                e.downcast_ref::<itlm_inspector::Error>(),
                Some(itlm_inspector::Error::Cancelled)
            ) =>
        {
            std::process::ExitCode::from(130)
        }
        Err(e) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
