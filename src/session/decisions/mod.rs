//! A user's decisions on the samples of one dataset (the model, [`Decisions`], with undo and
//! redo, lives in `itlm::decisions` so that exports can read it), kept in a journal file
//! beside the run ([`Journal`]) and replayed on reopen ([`Replay`]).

mod journal;
mod replay;
#[cfg(test)]
mod tests;

pub use crate::itlm::decisions::{Counts, Decision, Decisions, Entry};
pub use journal::{journal_of, Journal, DECISIONS_CSV};
pub use replay::{Problem, Replay, TornLine};
