//! Concurrent holds and releases of one stock level, combined into few writes.
//!
//! On a sale day every hold of the hot SKU, and every release, updates the
//! same level row, and each waits for the one before it to commit: the row,
//! not the database, is the ceiling. Holds and releases of one level that
//! arrive while a write of that level is running here queue up; the next
//! write places all the queued holds with one guarded update of their sum,
//! and releases all the queued releases with another, each caller still
//! getting its own reservation, ledger row and answer. When a sum does not
//! fit (or a reservation changed since it was read) that batch is written
//! one by one, in the order it arrived, exactly as each would be alone: so
//! exactly as many holds succeed as the stock allows. Across instances the
//! guarded update keeps it correct by itself; this only makes fewer, larger
//! transactions.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::reservation::{self, Ending, Placed, Prepared};
use super::{InventoryError, Reservation};
use crate::db::{Db, DbError};
use crate::types::{LocationId, SkuId};

type Level = (LocationId, SkuId);
type Answer<T> = oneshot::Sender<Result<T, InventoryError>>;

/// A change waiting for its level's next write.
enum Work {
    Hold(Prepared, Answer<Placed>),
    Release(Ending, Answer<Reservation>),
}

/// The work waiting for each level that a write is running for.
#[derive(Default)]
pub struct HoldCombiner {
    waiting: Mutex<HashMap<Level, Vec<Work>>>,
}

impl HoldCombiner {
    /// Places `hold`, with whatever holds of the same level queue beside it.
    pub async fn place(self: &Arc<Self>, db: &Db, hold: Prepared) -> Result<Placed, InventoryError> {
        let Some(level) = hold.single_level() else {
            return db.write(move |conn| reservation::place(conn, hold)).await;
        };
        let (answer, placed) = oneshot::channel();
        self.queue(db, level, Work::Hold(hold, answer));
        placed.await.map_err(dropped)?
    }

    /// Releases a reservation as its caller read it, with whatever releases
    /// of the same level queue beside it.
    pub async fn release(self: &Arc<Self>, db: &Db, ending: Ending) -> Result<Reservation, InventoryError> {
        let Some(level) = ending.single_level() else { return release_alone(db, ending).await };
        let (answer, released) = oneshot::channel();
        self.queue(db, level, Work::Release(ending, answer));
        released.await.map_err(dropped)?
    }

    /// Queues `work`; the first for a level starts the level's writes, in a
    /// task of their own, so that a caller who hangs up does not strand the
    /// work queued behind its own.
    fn queue(self: &Arc<Self>, db: &Db, level: Level, work: Work) {
        let first = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            match waiting.entry(level.clone()) {
                Entry::Vacant(vacant) => {
                    vacant.insert(vec![work]);
                    true
                }
                Entry::Occupied(mut queued) => {
                    queued.get_mut().push(work);
                    false
                }
            }
        };
        if first {
            actix_web::rt::spawn(Arc::clone(self).drain(db.clone(), level));
        }
    }

    /// Writes the level's queue, batch after batch, until it stays empty;
    /// the level's entry exists exactly while this runs.
    async fn drain(self: Arc<Self>, db: Db, level: Level) {
        let _unwinding = Unwinding(&self, &level);
        loop {
            let batch = {
                let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                let Some(queue) = waiting.get_mut(&level) else { return };
                if queue.is_empty() {
                    waiting.remove(&level);
                    return;
                }
                std::mem::take(queue)
            };
            let (mut holds, mut releases) = (Vec::new(), Vec::new());
            for work in batch {
                match work {
                    Work::Hold(hold, answer) => holds.push((hold, answer)),
                    Work::Release(ending, answer) => releases.push((ending, answer)),
                }
            }
            write_batch(&db, &level, releases, holds).await;
        }
    }
}

fn dropped(_: oneshot::error::RecvError) -> InventoryError {
    InventoryError::Db(DbError::TaskFailed)
}

/// Should a batch panic, the level's queue goes with it (its callers get
/// an error) so that the next change of the level starts a new drain.
struct Unwinding<'a>(&'a HoldCombiner, &'a Level);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(self.1);
        }
    }
}

/// A level's releases and holds: all in one transaction when both are
/// there (releases first: the units they give back are there for the
/// holds), else, or when that fails, each kind in its own.
async fn write_batch(
    db: &Db,
    level: &Level,
    releases: Vec<(Ending, Answer<Reservation>)>,
    holds: Vec<(Prepared, Answer<Placed>)>,
) {
    if !releases.is_empty() && !holds.is_empty() {
        let endings: Vec<Ending> = releases.iter().map(|(ending, _)| ending.clone()).collect();
        let prepared: Vec<Prepared> = holds.iter().map(|(hold, _)| hold.clone()).collect();
        let at = level.clone();
        let both = db.write(move |conn| {
            let released = reservation::release_together(conn, &at, &endings)?;
            Ok::<_, InventoryError>((released, reservation::place_together(conn, &at, prepared)?))
        });
        if let Ok((released, placed)) = both.await {
            for ((_, answer), released) in releases.into_iter().zip(released) {
                let _ = answer.send(Ok(released));
            }
            for ((_, answer), placed) in holds.into_iter().zip(placed) {
                let _ = answer.send(Ok(placed));
            }
            return;
        }
    }
    release_batch(db, level, releases).await;
    place_batch(db, level, holds).await;
}

/// Holds together when there are several and their sum fits, else one by
/// one in arrival order, each caller answered with its own outcome.
async fn place_batch(db: &Db, level: &Level, batch: Vec<(Prepared, Answer<Placed>)>) {
    let (holds, answers): (Vec<Prepared>, Vec<_>) = batch.into_iter().unzip();
    if holds.len() > 1 {
        let (together, at) = (holds.clone(), level.clone());
        if let Ok(placed) = db.write(move |conn| reservation::place_together(conn, &at, together)).await {
            for (answer, placed) in answers.into_iter().zip(placed) {
                let _ = answer.send(Ok(placed));
            }
            return;
        }
    }
    for (hold, answer) in holds.into_iter().zip(answers) {
        let _ = answer.send(db.write(move |conn| reservation::place(conn, hold)).await);
    }
}

/// Releases together when there are several and all are as their callers
/// read them, else one by one in arrival order.
async fn release_batch(db: &Db, level: &Level, batch: Vec<(Ending, Answer<Reservation>)>) {
    let (endings, answers): (Vec<Ending>, Vec<_>) = batch.into_iter().unzip();
    if endings.len() > 1 {
        let (together, at) = (endings.clone(), level.clone());
        if let Ok(released) = db.write(move |conn| reservation::release_together(conn, &at, &together)).await {
            for (answer, released) in answers.into_iter().zip(released) {
                let _ = answer.send(Ok(released));
            }
            return;
        }
    }
    for (ending, answer) in endings.into_iter().zip(answers) {
        let _ = answer.send(release_alone(db, ending).await);
    }
}

async fn release_alone(db: &Db, ending: Ending) -> Result<Reservation, InventoryError> {
    db.write(move |conn| reservation::release(conn, &ending.seen, &ending.actor, ending.reason, ending.now)).await
}
