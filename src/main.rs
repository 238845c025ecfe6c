//! itlm-inspector: the window by default, or a headless command.

use itlm_inspector::cli::{self, Cli, Dispatch};

fn main() -> std::process::ExitCode {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { itlm_inspector::learner::fast::tune_process_for_cpu_training() };
    let result = match cli::dispatch(Cli::parse_args()) {
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
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
