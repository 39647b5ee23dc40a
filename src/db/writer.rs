//! SQLite's one writer: a thread that owns a connection and runs the write
//! transactions queued for it, one after another.
//!
//! SQLite lets one transaction write at a time. Left to themselves, pooled
//! connections all try, and the losers nap in SQLite's busy handler (1 ms,
//! 2 ms, … up to 100 ms a nap), which put seconds on the tail in the
//! benchmark. A lock taken before the blocking pool fixed the tail but idled
//! between writers while the next one was scheduled. A queue drained by one
//! thread keeps the database writing as long as there is work.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use diesel::r2d2::ManageConnection;

use super::DbError;
use super::conn::{AnyConnection, ConnectionManager};

type Job = Box<dyn FnOnce(&mut AnyConnection) + Send>;

/// The queue of the writer thread; the thread ends when the last handle is dropped.
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(manager: ConnectionManager) -> Result<Self, String> {
        let mut conn = manager.connect().map_err(|e| format!("cannot open the SQLite writer: {e}"))?;
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                while let Ok(job) = jobs.recv() {
                    if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
                        // A panic may have left a transaction open: start afresh.
                        match manager.connect() {
                            Ok(fresh) => conn = fresh,
                            Err(error) => tracing::error!(%error, "cannot reopen the SQLite writer after a panic"),
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the SQLite writer: {e}"))?;
        Ok(Self { queue })
    }

    /// Runs `f` in a write transaction on the writer thread, after the writes queued before it.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn| {
            let _entered = span.enter();
            // The caller may have stopped waiting; the transaction stands either way.
            let _ = answer.send(conn.write(f));
        });
        self.queue.send(job).map_err(|_| DbError::TaskFailed)?;
        answered.await.map_err(|_| DbError::TaskFailed)?
    }
}
