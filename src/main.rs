//! itlm-inspector: the window by default, or a headless command.

use itlm_inspector::cli::{self, Cli, Dispatch};

fn main() -> std::process::ExitCode {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { itlm_inspector::learner::fast::tune_process_for_cpu_training() };
    let args = Cli::parse_args();
    if !matches!(args.command, None | Some(cli::Command::Gui { .. })) {
        // A headless command whose output goes into a pipe that closes (`| head`) ends
        // quietly, as other command-line tools do, instead of panicking in `println!`. Its
        // files are safe: every output is written atomically, a run's after every round.
        // SAFETY: setting a signal's disposition to the default; no handler runs our code.
        #[cfg(unix)]
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL)
        };
    }
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
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
