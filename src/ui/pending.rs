//! One background task whose result the UI thread collects without waiting: a named thread
//! runs a closure, a channel brings back its result (or the panic that ended it), and the
//! window is woken to look. Loading, file dialogs, decoding an original and exports all go
//! through it.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

/// Wakes the UI (`ctx.request_repaint()`); a no-op in tests without a window.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// A repaint handle that wakes nobody.
pub fn no_repaint() -> Repaint {
    Arc::new(|| {})
}

/// What a poll found.
#[derive(Debug, PartialEq)]
pub enum Polled<T> {
    /// Still running.
    Waiting,
    Done(T),
    /// The task panicked or its thread vanished; why.
    Lost(String),
}

/// A task running on its own thread.
pub struct Pending<T> {
    rx: Receiver<Result<T, String>>,
    started: Instant,
}

impl<T: Send + 'static> Pending<T> {
    /// Run `task` on a thread named `name`; `repaint` is called when it is done.
    pub fn spawn(
        name: &str,
        repaint: &Repaint,
        task: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel();
        let repaint = repaint.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task))
                    .map_err(|p| panic_text(&p));
                let _ = tx.send(r);
                repaint();
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        Ok(Self {
            rx,
            started: Instant::now(),
        })
    }

    /// The result if it is there; never blocks.
    pub fn poll(&self) -> Polled<T> {
        match self.rx.try_recv() {
            Ok(Ok(v)) => Polled::Done(v),
            Ok(Err(panic)) => Polled::Lost(format!("internal error: {panic}")),
            Err(TryRecvError::Empty) => Polled::Waiting,
            Err(TryRecvError::Disconnected) => {
                Polled::Lost("the task ended without a result".into())
            }
        }
    }

    /// Seconds since the task started.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait<T: Send + 'static>(p: &Pending<T>) -> Polled<T> {
        let t = Instant::now();
        loop {
            match p.poll() {
                Polled::Waiting => {
                    assert!(t.elapsed().as_secs() < 10, "the task never ended");
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                other => return other,
            }
        }
    }

    #[test]
    fn a_result_arrives_and_wakes_the_window_a_panic_is_reported() {
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = woken.clone();
        let repaint: Repaint = Arc::new(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let gate = Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        let p = Pending::spawn("test-ok", &repaint, move || {
            g.wait();
            6 * 7
        })
        .unwrap();
        assert_eq!(p.poll(), Polled::Waiting, "nothing before the task ends");
        gate.wait();
        assert_eq!(wait(&p), Polled::Done(42));
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);
        let p = Pending::<u8>::spawn("test-panic", &repaint, || panic!("boom")).unwrap();
        assert_eq!(wait(&p), Polled::Lost("internal error: boom".into()));
    }
}
