//! A writer: a thread that owns a connection and runs the write transactions
//! queued for it, committing those queued together at once.
//!
//! SQLite's one writer takes every write. SQLite lets one transaction write
//! at a time. Left to themselves, pooled connections all try, and the losers
//! nap in SQLite's busy handler (1 ms, 2 ms, … up to 100 ms a nap), which put
//! seconds on the tail in the benchmark. A queue drained by one thread keeps
//! the database writing as long as there is work.
//!
//! PostgreSQL's hot lanes take the holds and releases of one stock level
//! (see `Db::write_at`). Concurrent holds of one hot SKU otherwise queue on
//! its row lock, each waiting for the one before to commit; in a lane they
//! run one after another in one transaction that takes the lock once and
//! commits once. A lane batches only work of one level, so a batch locks
//! the rows of one level, as a single hold would: no lock-order cycle with
//! other transactions is possible that a single hold could not make.
//!
//! Group commit: every commit waits for the disk. The writer takes what is
//! queued (up to [`MAX_BATCH`]), runs each piece of work in its own
//! savepoint inside one transaction, so a failing one rolls back alone, and
//! commits once. Every caller is answered only after that commit is
//! durable; if it fails, every caller of the batch hears so. Work queued
//! alone runs in its own transaction, without a savepoint.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, TryRecvError, TrySendError};

use diesel::Connection;
use diesel::connection::TransactionManager;
use diesel::r2d2::ManageConnection;

use std::sync::Arc;

use super::conn::{AnyConnection, ConnectionManager};
use super::{DbError, reference};

/// Most transactions one commit carries: enough to amortise the disk flush
/// under load, few enough that the first caller of a batch does not wait long.
const MAX_BATCH: usize = 64;

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
        // Inside the batch's transaction `write` is a savepoint.
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

/// Queued work and the stock level it is for (SQLite's writer ignores it).
struct Job {
    level: u64,
    work: Box<dyn Work>,
}

/// Which queued work a batch may carry.
#[derive(Clone, Copy)]
pub enum Batching {
    /// Everything queued (SQLite: one writer for the whole database).
    All,
    /// Only work for the level of the batch's first (a PostgreSQL hot lane).
    OneLevel,
}

/// The bounded queue of the writer thread; the thread ends when the last handle is dropped.
pub struct Writer {
    queue: mpsc::SyncSender<Job>,
    cache: Arc<reference::Cache>,
}

impl Writer {
    pub fn start(
        name: &str,
        manager: ConnectionManager,
        batching: Batching,
        capacity: usize,
        cache: Arc<reference::Cache>,
    ) -> Result<Self, String> {
        // SQLite's writer opens at once, so a bad path fails the start; a
        // lane connects on its first work (most levels are never hot).
        let mut conn = match batching {
            Batching::All => Some(manager.connect().map_err(|e| format!("cannot open the {name}: {e}"))?),
            Batching::OneLevel => None,
        };
        let (queue, jobs) = mpsc::sync_channel::<Job>(capacity);
        let thread = name.to_owned();
        std::thread::Builder::new()
            .name(name.replace(' ', "-"))
            .spawn(move || {
                // Work of another level that ended the last batch starts the next.
                let mut next_first: Option<Job> = None;
                loop {
                    let Some(first) = next_first.take().or_else(|| jobs.recv().ok()) else { break };
                    let level = first.level;
                    let mut batch = vec![first.work];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(next) if matches!(batching, Batching::All) || next.level == level => {
                                batch.push(next.work)
                            }
                            Ok(other) => {
                                next_first = Some(other);
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    if conn.is_none() {
                        conn = manager
                            .connect()
                            .inspect_err(|error| tracing::error!(%error, "cannot open the {thread}"))
                            .ok();
                    }
                    let Some(open) = conn.as_mut() else {
                        for work in batch {
                            work.abandon(DbError::Unavailable(format!("the {thread} cannot connect").into()));
                        }
                        continue;
                    };
                    if !commit_batch(open, batch) {
                        // A panic may have left a transaction open, or the
                        // database went away (PostgreSQL restarted): the next
                        // batch starts on a fresh connection.
                        conn = None;
                    }
                }
            })
            .map_err(|e| format!("cannot start the {name}: {e}"))?;
        Ok(Self { queue, cache })
    }

    /// Runs `f` in the writer's next transaction (in a savepoint of it when
    /// other work shares it) and answers once that transaction is committed.
    /// `level` names the stock level `f` holds or releases (see
    /// [`Batching::OneLevel`]). A full queue answers at once with
    /// [`DbError::Busy`]: the caller should retry shortly.
    pub async fn run<T, E, F>(&self, level: u64, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let work = Box::new(Pending { f, answer, span: tracing::Span::current(), cache: self.cache.clone() });
        self.queue.try_send(Job { level, work }).map_err(|error| match error {
            TrySendError::Full(_) => DbError::Busy,
            TrySendError::Disconnected(_) => DbError::TaskFailed,
        })?;
        answered.await.map_err(|_| DbError::TaskFailed)?
    }
}

/// Runs a batch in one transaction and answers every caller after the
/// commit. False when the connection is suspect (a piece of work panicked,
/// or the connection is gone).
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
        tracing::error!(%error, "a writer cannot begin a transaction");
        for work in batch {
            work.abandon(DbError::TaskFailed);
        }
        // The connection may be gone (the database restarted while idle).
        return false;
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
        tracing::error!(%error, transactions = finishers.len(), "a writer could not commit a batch");
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
/// work leaves it. A connection lost mid-work is not: its rollback failed,
/// and diesel marks it broken.
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
    use crate::db::{DatabaseUrl, Durability};

    fn writer(capacity: usize) -> (Writer, std::path::PathBuf) {
        batching_writer(Batching::All, capacity)
    }

    fn batching_writer(batching: Batching, capacity: usize) -> (Writer, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("omnistock-writer-{}.db", uuid::Uuid::new_v4()));
        let url = DatabaseUrl::Sqlite(path.display().to_string());
        let manager = ConnectionManager::new(url, Durability::Full, Default::default());
        (Writer::start("test writer", manager, batching, capacity, Arc::default()).unwrap(), path)
    }

    /// How each piece of work ran, by level: alone in its own transaction
    /// (depth 1) or in a savepoint of a shared one (depth 2).
    async fn depths(batching: Batching) -> Vec<(u64, u32)> {
        let (writer, path) = batching_writer(batching, 16);
        let (started, on_start) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let depth = |c: &mut AnyConnection| {
            <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map(|d| d.map_or(0, |d| d.get()))
                .map_err(DbError::from)
        };
        // The first holds the writer while the rest queue up behind it.
        let first = writer.run(1, move |c| {
            started.send(()).unwrap();
            released.recv().unwrap();
            depth(c).map(|d| (1, d))
        });
        let mut first = Box::pin(first);
        let mut once = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(&mut once).is_pending());
        tokio::task::spawn_blocking(move || on_start.recv()).await.unwrap().unwrap();
        let mut queued: Vec<_> = [2u64, 1, 1]
            .into_iter()
            .map(|level| Box::pin(writer.run(level, move |c| depth(c).map(|d| (level, d)))))
            .collect();
        for work in &mut queued {
            assert!(work.as_mut().poll(&mut once).is_pending());
        }
        release.send(()).unwrap();
        let mut ran = vec![first.await.unwrap()];
        for work in queued {
            ran.push(work.await.unwrap());
        }
        drop(writer);
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
        ran
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hot_lane_batches_only_work_of_one_level() {
        // Queued: level 2, then 1, 1. The 2 runs alone (the 1 behind it is
        // another level), and the two 1s share a transaction.
        assert_eq!(depths(Batching::OneLevel).await, [(1, 1), (2, 1), (1, 2), (1, 2)]);
        // SQLite's writer takes all three in one.
        assert_eq!(depths(Batching::All).await, [(1, 1), (2, 2), (1, 2), (1, 2)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once() {
        let (writer, path) = writer(1);
        let writer = Arc::new(writer);
        let (started, on_start) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        // The first transaction holds the writer until released…
        let busy = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run(0, move |_| {
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
        let mut queued = Box::pin(writer.run(0, |_| Ok::<_, DbError>(2)));
        let mut once = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(queued.as_mut().poll(&mut once).is_pending());
        // …so the third is refused at once, with nothing run.
        assert!(matches!(writer.run(0, |_| Ok::<_, DbError>(3)).await, Err(DbError::Busy)));
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap(), 2);
        drop(writer);
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
    }

    #[tokio::test]
    async fn one_failing_transaction_of_a_batch_rolls_back_alone() {
        use diesel::connection::SimpleConnection;
        let (writer, path) = writer(16);
        writer
            .run(0, |c| c.batch_execute("CREATE TABLE t (n INTEGER NOT NULL CHECK (n > 0))").map_err(DbError::from))
            .await
            .unwrap();
        let writes = (-2..=3).map(|n| {
            writer.run(0, move |c| c.batch_execute(&format!("INSERT INTO t VALUES ({n})")).map_err(DbError::from))
        });
        let outcomes = futures_util::future::join_all(writes).await;
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3, "{outcomes:?}");
        assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| matches!(e, DbError::Check(_))));
        let count: i64 = writer
            .run(0, |c| {
                use diesel::RunQueryDsl;
                diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT count(*) FROM t)"))
                    .get_result(c)
                    .map_err(DbError::from)
            })
            .await
            .unwrap();
        assert_eq!(count, 3);
        drop(writer);
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
    }
}
