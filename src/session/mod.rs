//! What both faces (the window and the command line) do with the core, written once: open a
//! dataset with its evaluation sets ([`prepare`]), reopen a saved run ([`reopen`]), build the
//! run file and run headless ([`run`]), re-cut a saved run ([`recut`]), keep a user's
//! decisions on samples ([`decisions`]), run ITLM on a background thread ([`worker`]), and the
//! `corrupt` and `gen-demo` commands ([`corrupt`], [`demo`]). No egui, eframe, rfd or clap
//! here.

pub mod advice;
pub mod clock;
pub mod corrupt;
pub mod decisions;
pub mod demo;
pub mod embed_cache;
pub mod embed_head;
pub mod embeddings_file;
pub mod loaded;
pub mod prepare;
pub mod projection;
pub mod recut;
pub mod reopen;
pub mod run;
pub mod similar;
pub mod worker;

pub use decisions::{Decision, Decisions, Journal, Replay};
pub use loaded::{EvalInputs, Loaded, Reopened};
pub use prepare::{open_dataset, prepare, DataRequest, Prepared};
pub use recut::{recut, CutRequest, Recut};
pub use run::{
    auto_forward_line, coteach_chosen_line, final_check_line, floors_line, not_learned_line,
    round_line, run_to_folder, starved_line, tau_chosen_line, unfolded_line, LineStyle, Outcome,
    RunHeader,
};
pub use worker::{
    Building, Command, Job, LearnerFactory, Preparing, Progress, Worker, WorkerEvent,
};
