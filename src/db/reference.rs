//! Reference data (SKUs, locations, promotions, tax rates) kept in process,
//! and dropped by every instance as soon as any instance changes it.
//!
//! Every change to reference data writes a new random token into the one
//! row of `reference_version`, in the changing transaction. A request's
//! first cached lookup reads that token (one statement) and uses the cache
//! only while the cache was filled under the same token; a different token
//! empties it. So an instance never serves what another instance (or the
//! CLI, or a transaction that failed to commit) has since changed, at the
//! cost of one small read per request instead of one per lookup.
//!
//! The hottest reads (availability, a cart) spare even that statement: an
//! [`optimistic`] read uses the cache under the token it holds, and a
//! statement it runs anyway checks the token along ([`still_assumed`],
//! [`checked`]). The answer stands only if the token is the one assumed;
//! otherwise the read runs again, reading the token first.
//!
//! A few facts never change once they exist (a customer's id by its
//! reference); [`lasting`] keeps those without the token, so finding one
//! costs no statement at all.
//!
//! The cache is reached through the thread running the request: `Db::read`
//! and `Db::write` open a [`scope`] around the work, so domain functions
//! keep taking only a connection. Without a scope (a bare pooled
//! connection) every lookup reads the database.

use std::any::Any;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use super::schema::reference_version;
use super::{AnyConnection, DbError};

/// Entries kept at most (a SKU takes two, by id and by code, sharing one
/// value): a bound on memory for a catalogue far larger than what a day's
/// requests touch. In the bench (10,000 SKUs) 16,000 left SQLite's
/// availability at 2.5 statements a request and 48,000 at 2.0, with the
/// same peak RSS (75 MB on SQLite, 49 on PostgreSQL).
const MAX_ENTRIES: usize = 48_000;

type Entry = Arc<dyn Any + Send + Sync>;

/// The one row of `reference_version`. It is reached through its key's
/// index, in the per-request read and in the change: on PostgreSQL every
/// change leaves a dead version of the row behind, and a scan reads every
/// page of them until a vacuum truncates the table (94 pages and 0.18 ms a
/// request after the bench seeded 10,000 SKUs; through the index, 2 pages
/// and 0.007 ms).
const THE_ROW: i32 = 1;

/// One database's cache, shared by every request of this process.
#[derive(Default)]
pub struct Cache {
    state: Mutex<State>,
    /// Facts that never change once they exist: no token guards them.
    lasting: Mutex<Bounded>,
}

impl Cache {
    /// Keeps `value` under `key` as a fact that never changes (see [`lasting`]).
    pub fn keep<T: Send + Sync + 'static>(&self, key: &str, value: T) {
        locked(&self.lasting).insert(key.to_owned(), Arc::new(value));
    }
}

#[derive(Default)]
struct State {
    /// The token the entries were read under.
    token: Option<String>,
    kept: Bounded,
}

/// Entries up to [`MAX_ENTRIES`].
#[derive(Default)]
struct Bounded {
    entries: HashMap<String, Entry>,
    /// The keys, oldest first: a full cache lets the oldest go.
    order: VecDeque<String>,
}

impl Bounded {
    fn insert(&mut self, key: String, value: Entry) {
        if self.entries.insert(key.clone(), value).is_some() {
            return;
        }
        self.order.push_back(key);
        // Full: the oldest entry makes room. Emptying the whole cache
        // instead would free thousands of entries inside one request,
        // and send the requests after it to the database for everything.
        if self.entries.len() > MAX_ENTRIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.entries.remove(&oldest);
        }
    }

    fn get<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        self.entries.get(key).and_then(|entry| entry.downcast_ref::<T>()).cloned()
    }
}

/// What the running request knows of the cache.
struct Scope {
    cache: Arc<Cache>,
    /// The token this request uses the cache under, once it has looked something up.
    token: Option<String>,
    trust: Trust,
    /// This request changed reference data: it reads the database from now on.
    changed: bool,
}

/// How the running request came by its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// Read from the database before the first lookup.
    Read,
    /// An optimistic read before its first lookup: it takes the cache's own token.
    MayAssume,
    /// Taken from the cache; no statement has checked the token yet.
    Assumed,
    /// Every statement that checked the token found the one assumed.
    Confirmed,
    /// A statement found another token: reference data changed, the
    /// answer may rest on what the cache held before.
    Contradicted,
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Runs `work` with `cache` as the running request's cache.
pub fn scope<T>(cache: &Arc<Cache>, work: impl FnOnce() -> T) -> T {
    enter(cache, Trust::Read, work)
}

/// Runs a read with `cache` as its cache, optimistically: the cache is used
/// under the token it was filled under, without reading the token first.
/// A statement of the read that checks the token confirms it; if none did,
/// one read of the token at the end does. The token only ever changes to a
/// new random value, so finding the assumed one after the lookups means the
/// cache was current when they were made. A token that differs throws the
/// answer away and runs `work` again, reading the token first.
pub fn optimistic<T, E: From<DbError>>(
    cache: &Arc<Cache>,
    conn: &mut AnyConnection,
    work: impl Fn(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    let (result, trust, assumed) = enter(cache, Trust::MayAssume, || {
        let result = work(conn);
        let (trust, token) =
            SCOPE.with(|s| s.borrow().as_ref().map_or((Trust::Read, None), |scope| (scope.trust, scope.token.clone())));
        (result, trust, token)
    });
    let stands = match trust {
        Trust::Read | Trust::MayAssume | Trust::Confirmed => true,
        Trust::Assumed => assumed.is_some_and(|assumed| read_token(conn).is_ok_and(|now| now == assumed)),
        Trust::Contradicted => false,
    };
    match stands {
        true => result,
        false => scope(cache, || work(conn)),
    }
}

/// In an optimistic read that has assumed its token, a column any query can
/// select beside its own: whether the token is still the one assumed (an
/// indexed probe of one row, once per statement), to hand to [`checked`].
/// None elsewhere (every write), where it would confirm nothing. `EXISTS`
/// rather than a scalar subquery, whose bound `LIMIT` would have SQLite
/// prepare the whole statement again on every call (see `db::kept`).
pub fn still_assumed() -> Option<StillAssumed> {
    let assumed = SCOPE.with(|s| {
        s.borrow()
            .as_ref()
            .filter(|scope| matches!(scope.trust, Trust::Assumed | Trust::Confirmed))
            .and_then(|scope| scope.token.clone())
    })?;
    Some(diesel::dsl::exists(reference_version::table.find(THE_ROW).filter(reference_version::token.eq(assumed))))
}

/// What [`still_assumed`] is to diesel.
pub type StillAssumed = diesel::dsl::exists<
    diesel::dsl::Filter<
        diesel::dsl::Find<reference_version::table, i32>,
        diesel::dsl::Eq<reference_version::token, String>,
    >,
>;

/// Tells the running request what a statement found of [`still_assumed`]:
/// an optimistic read learns whether its cache is still current.
pub fn checked(still: bool) {
    SCOPE.with(|s| {
        if let Some(scope) = s.borrow_mut().as_mut()
            && matches!(scope.trust, Trust::Assumed | Trust::Confirmed)
        {
            scope.trust = match still {
                true => Trust::Confirmed,
                false => Trust::Contradicted,
            };
        }
    });
}

fn read_token(conn: &mut AnyConnection) -> Result<String, DbError> {
    Ok(reference_version::table.find(THE_ROW).select(reference_version::token).get_result(conn)?)
}

fn enter<T>(cache: &Arc<Cache>, trust: Trust, work: impl FnOnce() -> T) -> T {
    let outer = SCOPE.with(|s| s.replace(Some(Scope { cache: cache.clone(), token: None, trust, changed: false })));
    // Restored even if `work` unwinds, so a pooled thread never keeps another request's scope.
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            SCOPE.with(|s| *s.borrow_mut() = outer);
        }
    }
    let _restore = Restore(outer);
    work()
}

/// The cache and the token this request may use it under, reading the
/// token on first use; None when there is no cache to use.
fn usable(conn: &mut AnyConnection) -> Result<Option<(Arc<Cache>, String)>, DbError> {
    let current = SCOPE.with(|s| {
        s.borrow()
            .as_ref()
            .filter(|scope| !scope.changed)
            .map(|scope| (scope.cache.clone(), scope.token.clone(), scope.trust))
    });
    let Some((cache, token, trust)) = current else { return Ok(None) };
    let assumed = match (&token, trust) {
        (None, Trust::MayAssume) => cache.lock().token.clone(),
        _ => None,
    };
    let token = match (token, assumed) {
        (Some(token), _) => token,
        (None, Some(assumed)) => {
            set_token(assumed.clone(), Trust::Assumed);
            assumed
        }
        // A cache never filled, or a request that reads the token first.
        (None, None) => {
            let token = read_token(conn)?;
            set_token(token.clone(), Trust::Read);
            let mut state = cache.lock();
            if state.token.as_deref() != Some(token.as_str()) {
                state.kept = Bounded::default();
                state.token = Some(token.clone());
            }
            token
        }
    };
    Ok(Some((cache, token)))
}

fn set_token(token: String, trust: Trust) {
    SCOPE.with(|s| {
        if let Some(scope) = s.borrow_mut().as_mut() {
            scope.token = Some(token);
            scope.trust = trust;
        }
    });
}

/// A panic while holding a lock leaves a map, never a torn value.
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        locked(&self.state)
    }

    fn get<T: Clone + Send + Sync + 'static>(&self, token: &str, key: &str) -> Option<T> {
        let state = self.lock();
        if state.token.as_deref() != Some(token) {
            return None;
        }
        state.kept.get(key)
    }

    /// Keeps what was read under `token`, unless the cache moved on
    /// meanwhile: each value under each of its keys (one copy for them all).
    fn put<T: Send + Sync + 'static, K: IntoIterator<Item = String>>(
        &self,
        token: &str,
        entries: impl IntoIterator<Item = (K, T)>,
    ) {
        let mut state = self.lock();
        if state.token.as_deref() != Some(token) {
            return;
        }
        for (keys, value) in entries {
            let value: Entry = Arc::new(value);
            for key in keys {
                state.kept.insert(key, value.clone());
            }
        }
    }
}

/// The value under `key` of a fact that never changes once it exists (a
/// customer's id by its reference: neither is ever rewritten and customers
/// are never deleted), read with `load` until it is found. Found, it is kept
/// without the token and costs no statement at all; what is missing is not
/// kept, since another instance may create it. Only for rows committed
/// before the request: one its own transaction wrote could still roll back.
pub fn lasting<T, E>(
    conn: &mut AnyConnection,
    key: &str,
    load: impl FnOnce(&mut AnyConnection) -> Result<Option<T>, E>,
) -> Result<Option<T>, E>
where
    T: Clone + Send + Sync + 'static,
{
    let Some(cache) = SCOPE.with(|s| s.borrow().as_ref().map(|scope| scope.cache.clone())) else {
        return load(conn);
    };
    if let Some(found) = locked(&cache.lasting).get::<T>(key) {
        return Ok(Some(found));
    }
    let value = load(conn)?;
    if let Some(found) = &value {
        cache.keep(key, found.clone());
    }
    Ok(value)
}

/// The value under `key`, read with `load` when it is not cached.
pub fn cached<T, E>(
    conn: &mut AnyConnection,
    key: &str,
    load: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    T: Clone + Send + Sync + 'static,
    E: From<DbError>,
{
    let Some((cache, token)) = usable(conn)? else { return load(conn) };
    if let Some(found) = cache.get::<T>(&token, key) {
        return Ok(found);
    }
    let value = load(conn)?;
    cache.put(&token, [([key.to_owned()], value.clone())]);
    Ok(value)
}

/// The values for `ids` (in no particular order; unknown ids are absent):
/// those cached, and the rest read with one `load`. `key` names an id's
/// entry and `keys_of` every entry a loaded value is kept under (a SKU read
/// by its code is then found by its id too).
pub fn cached_each<I, T, E, K>(
    conn: &mut AnyConnection,
    ids: &[I],
    key: impl Fn(&I) -> String,
    keys_of: impl Fn(&T) -> K,
    load: impl FnOnce(&mut AnyConnection, &[I]) -> Result<Vec<T>, E>,
) -> Result<Vec<T>, E>
where
    I: Clone,
    T: Clone + Send + Sync + 'static,
    E: From<DbError>,
    K: IntoIterator<Item = String>,
{
    let Some((cache, token)) = usable(conn)? else { return load(conn, ids) };
    let mut found = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    // Each id once, as `IN (…)` would answer.
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        let entry = key(id);
        if !seen.insert(entry.clone()) {
            continue;
        }
        match cache.get::<T>(&token, &entry) {
            Some(value) => found.push(value),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        let loaded = load(conn, &missing)?;
        cache.put(&token, loaded.iter().map(|value| (keys_of(value), value.clone())));
        found.extend(loaded);
    }
    Ok(found)
}

/// Records, in the caller's transaction, that reference data changed: every
/// instance's cache is dropped once it commits. The rest of this request
/// reads the database, so it sees its own change.
pub fn changed(conn: &mut AnyConnection) -> Result<(), DbError> {
    let token = uuid::Uuid::new_v4().to_string();
    diesel::update(reference_version::table.find(THE_ROW)).set(reference_version::token.eq(token)).execute(conn)?;
    SCOPE.with(|s| {
        if let Some(scope) = s.borrow_mut().as_mut() {
            scope.changed = true;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use diesel::connection::SimpleConnection;
    use diesel::r2d2::ManageConnection;

    use super::*;
    use crate::db::Durability;
    use crate::db::conn::{ConnectionManager, ScratchSqlite};
    use crate::db::migrate;

    /// An optimistic read trusts the cache as long as the token it assumed
    /// is the one in the database, whether a statement of the read checked
    /// it or it is read at the end; otherwise the read runs again.
    #[test]
    fn an_optimistic_read_is_built_again_when_its_cache_was_stale() {
        let file = ScratchSqlite::new("optimistic");
        let mut conn = ConnectionManager::new(file.url(), Durability::Normal, Default::default()).connect().unwrap();
        migrate::run_pending(&mut conn).unwrap();
        conn.batch_execute("CREATE TABLE fact (v INTEGER NOT NULL); INSERT INTO fact VALUES (1)").unwrap();
        let change = |conn: &mut AnyConnection, v: i32| {
            conn.batch_execute(&format!("UPDATE fact SET v = {v}")).unwrap();
            changed(conn).unwrap();
        };
        let cache = Arc::new(Cache::default());
        let runs = Cell::new(0);
        // A cached fact, and (with `check`) a statement that checks the token.
        let read = |conn: &mut AnyConnection, check: bool| {
            let runs = &runs;
            let value = optimistic(&cache, conn, move |conn| {
                runs.set(runs.get() + 1);
                let v: i32 = cached(conn, "fact", |c| {
                    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("(SELECT v FROM fact)"))
                        .get_result(c)
                        .map_err(DbError::from)
                })?;
                if check && let Some(still) = still_assumed() {
                    checked(diesel::select(still).get_result(conn)?);
                }
                Ok::<_, DbError>(v)
            });
            (value.unwrap(), runs.replace(0))
        };
        assert_eq!(read(&mut conn, true), (1, 1), "an empty cache: the token is read first");
        assert_eq!(read(&mut conn, true), (1, 1), "confirmed by the statement");
        change(&mut conn, 2);
        assert_eq!(read(&mut conn, true), (2, 2), "contradicted by the statement: built again");
        assert_eq!(read(&mut conn, false), (2, 1), "confirmed by the token read at the end");
        change(&mut conn, 3);
        assert_eq!(read(&mut conn, false), (3, 2), "contradicted by the token read at the end");
    }

    #[test]
    fn entries_serve_only_the_token_they_were_read_under() {
        let cache = Cache::default();
        cache.lock().token = Some("a".into());
        cache.put("a", [(["sku:1".to_owned(), "sku-code:A".to_owned()], 1)]);
        assert_eq!(cache.get::<i32>("a", "sku:1"), Some(1));
        assert_eq!(cache.get::<i32>("a", "sku-code:A"), Some(1), "under each of its keys");
        assert_eq!(cache.get::<i32>("b", "sku:1"), None, "another token never sees them");
        cache.put("b", [(["sku:2".to_owned()], 2)]);
        assert_eq!(cache.get::<i32>("a", "sku:2"), None, "what was read under another token is not kept");
        assert_eq!(cache.get::<String>("a", "sku:1"), None, "a value of another type is a miss");
    }

    #[test]
    fn a_full_cache_makes_room_one_entry_at_a_time() {
        let cache = Cache::default();
        cache.lock().token = Some("a".into());
        cache.put("a", (0..MAX_ENTRIES + 10).map(|n| ([format!("sku:{n}")], n)));
        assert_eq!(cache.lock().kept.entries.len(), MAX_ENTRIES);
        assert_eq!(cache.get::<usize>("a", "sku:9"), None, "the oldest went first");
        assert_eq!(cache.get::<usize>("a", &format!("sku:{}", MAX_ENTRIES + 9)), Some(MAX_ENTRIES + 9));
    }
}
