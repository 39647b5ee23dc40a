//! SQLite's one writer: a thread that owns a connection and runs the write
//! transactions queued for it, committing those queued together at once.
//!
//! SQLite lets one transaction write at a time. Left to themselves, pooled
//! connections all try, and the losers nap in SQLite's busy handler (1 ms,
//! 2 ms, … up to 100 ms a nap), which put seconds on the tail in the
//! benchmark. A queue drained by one thread keeps the database writing as
//! long as there is work.
//!
//! Group commit: with `synchronous = FULL` every commit waits for the disk.
//! The writer takes everything queued (up to [`MAX_BATCH`]), runs each piece
//! of work in its own savepoint inside one transaction, so a failing one
//! rolls back alone, and commits once. Every caller is answered only after
//! that commit is durable; if it fails, every caller of the batch hears so.
//! Work queued alone runs in its own transaction, without a savepoint.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{self, TryRecvError, TrySendError};

use diesel::Connection;
use diesel::connection::TransactionManager;
use diesel::r2d2::ManageConnection;

use super::conn::{AnyConnection, ConnectionManager};
use super::{DbError, reference};

/// Most transactions one commit carries: enough to amortise the disk flush
/// under load, few enough that the first caller of a batch does not wait long.
const MAX_BATCH: usize = 64;

/// The writer thread's name, by which `scripts/bench` finds its CPU time.
pub const THREAD_NAME: &str = "sqlite-writer";

/// What the writer calls once the batch's commit is known.
type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;

/// One caller's transaction, waiting in the queue.
trait Work: Send {
    /// Runs in a savepoint of the open transaction; returns how to answer.
    fn run(self: Box<Self>, conn: &mut AnyConnection) -> Finish;
    /// Answers without running (the batch's transaction could not begin).
    fn abandon(self: Box<Self>, error: DbError);
}

struct Pending<F, T, E> {
    f: F,
    answer: tokio::sync::oneshot::Sender<Result<T, E>>,
    span: tracing::Span,
    cache: Arc<reference::Cache>,
}

fn deliver<T, E>(answer: tokio::sync::oneshot::Sender<Result<T, E>>, outcome: Result<T, E>) {
    if answer.send(outcome).is_err() {
        tracing::debug!("the caller stopped waiting; its transaction stands as committed or not");
    }
}

impl<F, T, E> Work for Pending<F, T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + From<diesel::result::Error> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut AnyConnection) -> Finish {
        let Pending { f, answer, span, cache } = *self;
        // Alone, `write` begins and commits the transaction; inside a
        // batch's it is a savepoint.
        let result = span.in_scope(|| reference::scope(&cache, || conn.write(f)));
        Box::new(move |committed| {
            let outcome = match (committed, result) {
                (Ok(()), result) | (Err(_), result @ Err(_)) => result,
                (Err(error), Ok(_)) => Err(E::from(error)),
            };
            deliver(answer, outcome)
        })
    }

    fn abandon(self: Box<Self>, error: DbError) {
        deliver(self.answer, Err(E::from(error)));
    }
}

/// The bounded queue of the writer thread; the thread ends when the last handle is dropped.
pub struct Writer {
    queue: mpsc::SyncSender<Box<dyn Work>>,
    cache: Arc<reference::Cache>,
}

impl Writer {
    pub fn start(manager: ConnectionManager, capacity: usize, cache: Arc<reference::Cache>) -> Result<Self, String> {
        let mut conn = manager.connect().map_err(|e| format!("cannot open the SQLite writer: {e}"))?;
        let (queue, jobs) = mpsc::sync_channel::<Box<dyn Work>>(capacity);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    if !commit_batch(&mut conn, batch) {
                        // A panic may have left a transaction open: start afresh.
                        match manager.connect() {
                            Ok(fresh) => conn = fresh,
                            Err(error) => tracing::error!(%error, "cannot reopen the SQLite writer"),
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the SQLite writer: {e}"))?;
        Ok(Self { queue, cache })
    }

    /// Runs `f` in the writer's next transaction (in a savepoint of it when
    /// other work shares it) and answers once that transaction is committed.
    /// A full queue answers at once with [`DbError::Busy`]: the caller should
    /// retry shortly.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let work = Box::new(Pending { f, answer, span: tracing::Span::current(), cache: self.cache.clone() });
        self.queue.try_send(work).map_err(|error| match error {
            TrySendError::Full(_) => DbError::Busy,
            TrySendError::Disconnected(_) => DbError::TaskFailed,
        })?;
        answered.await.map_err(|_| DbError::TaskFailed)?
    }
}

/// Runs a batch in one transaction and answers every caller after the
/// commit. False when the connection is suspect (a piece of work panicked,
/// or left a transaction open).
fn commit_batch(conn: &mut AnyConnection, mut batch: Vec<Box<dyn Work>>) -> bool {
    if batch.len() == 1
        && let Some(alone) = batch.pop()
    {
        // Its own transaction, begun and committed by `write`: no savepoint.
        return match catch_unwind(AssertUnwindSafe(|| alone.run(conn))) {
            Ok(finish) => {
                finish(Ok(()));
                idle(conn)
            }
            Err(_) => {
                tracing::error!("a write transaction panicked");
                false
            }
        };
    }
    if let Err(error) = conn.begin_write() {
        let error = DbError::from(error);
        tracing::error!(%error, "the SQLite writer cannot begin a transaction");
        for work in batch {
            work.abandon(DbError::TaskFailed);
        }
        return true;
    }
    let mut finishers: Vec<Finish> = Vec::with_capacity(batch.len());
    let mut works = batch.into_iter();
    for work in works.by_ref() {
        match catch_unwind(AssertUnwindSafe(|| work.run(conn))) {
            Ok(finish) => finishers.push(finish),
            Err(_) => {
                tracing::error!("a write transaction panicked; its batch is rolled back");
                if let Err(error) = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                    tracing::error!(%error, "rolling back after a panic failed");
                }
                for finish in finishers {
                    finish(Err(DbError::TaskFailed));
                }
                for rest in works {
                    rest.abandon(DbError::TaskFailed);
                }
                return false;
            }
        }
    }
    let committed = <AnyConnection as Connection>::TransactionManager::commit_transaction(conn).map_err(|error| {
        if let Err(rollback) = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn) {
            tracing::error!(%rollback, "rolling back a failed commit failed");
        }
        DbError::from(error)
    });
    if let Err(error) = &committed {
        tracing::error!(%error, transactions = finishers.len(), "the SQLite writer could not commit a batch");
    }
    for finish in finishers {
        finish(match &committed {
            Ok(()) => Ok(()),
            Err(_) => Err(DbError::TaskFailed),
        });
    }
    committed.is_ok() && idle(conn)
}

/// Whether the connection is outside any transaction, as every piece of
/// work leaves it (one whose rollback failed does not).
fn idle(conn: &mut AnyConnection) -> bool {
    <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_none())
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::db::Durability;
    use crate::db::conn::ScratchSqlite;

    /// A writer on a file of its own. Bound as `let (_file, writer)`, the
    /// writer is dropped first (a pattern's bindings drop last to first),
    /// and its file after it.
    fn writer(capacity: usize) -> (ScratchSqlite, Writer) {
        let file = ScratchSqlite::new("writer");
        let manager = ConnectionManager::new(file.url(), Durability::Full, Default::default());
        let writer = Writer::start(manager, capacity, Arc::default()).unwrap();
        (file, writer)
    }

    /// Work queued alone runs in its own transaction (depth 1), work queued
    /// together in savepoints of one (depth 2).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_queued_together_shares_a_transaction_and_alone_needs_no_savepoint() {
        let (_file, writer) = writer(16);
        let (started, on_start) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let depth = |c: &mut AnyConnection| {
            <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map(|d| d.map_or(0, |d| d.get()))
                .map_err(DbError::from)
        };
        // The first holds the writer while the rest queue up behind it.
        let first = writer.run(move |c| {
            started.send(()).unwrap();
            released.recv().unwrap();
            depth(c)
        });
        let mut first = Box::pin(first);
        let mut once = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(&mut once).is_pending());
        tokio::task::spawn_blocking(move || on_start.recv()).await.unwrap().unwrap();
        let mut queued: Vec<_> = (0..3).map(|_| Box::pin(writer.run(depth))).collect();
        for work in &mut queued {
            assert!(work.as_mut().poll(&mut once).is_pending());
        }
        release.send(()).unwrap();
        let mut ran = vec![first.await.unwrap()];
        for work in queued {
            ran.push(work.await.unwrap());
        }
        assert_eq!(ran, [1, 2, 2, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once() {
        let (_file, writer) = writer(1);
        let writer = Arc::new(writer);
        let (started, on_start) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        // The first transaction holds the writer until released…
        let busy = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run(move |_| {
                        started.send(()).unwrap();
                        released.lock().unwrap().recv().unwrap();
                        Ok::<_, DbError>(1)
                    })
                    .await
            }
        });
        tokio::task::spawn_blocking(move || on_start.recv()).await.unwrap().unwrap();
        // …the second waits in the queue (polled once: queued, not answered),
        // which now is full…
        let mut queued = Box::pin(writer.run(|_| Ok::<_, DbError>(2)));
        let mut once = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(queued.as_mut().poll(&mut once).is_pending());
        // …so the third is refused at once, with nothing run.
        assert!(matches!(writer.run(|_| Ok::<_, DbError>(3)).await, Err(DbError::Busy)));
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap(), 2);
    }

    #[tokio::test]
    async fn one_failing_transaction_of_a_batch_rolls_back_alone() {
        use diesel::connection::SimpleConnection;
        let (_file, writer) = writer(16);
        writer
            .run(|c| c.batch_execute("CREATE TABLE t (n INTEGER NOT NULL CHECK (n > 0))").map_err(DbError::from))
            .await
            .unwrap();
        let writes = (-2..=3).map(|n| {
            writer.run(move |c| c.batch_execute(&format!("INSERT INTO t VALUES ({n})")).map_err(DbError::from))
        });
        let outcomes = futures_util::future::join_all(writes).await;
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3, "{outcomes:?}");
        assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| matches!(e, DbError::Check(_))));
        let count: i64 = writer
            .run(|c| {
                use diesel::RunQueryDsl;
                diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT count(*) FROM t)"))
                    .get_result(c)
                    .map_err(DbError::from)
            })
            .await
            .unwrap();
        assert_eq!(count, 3);
    }
}
