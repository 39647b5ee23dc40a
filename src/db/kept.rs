//! Statements that the prepared-statement cache keeps although diesel
//! would not.
//!
//! Diesel marks every `sql_query` uncacheable, since its text could be
//! anything, and so are statements whose SQL varies with optional parts
//! (an upsert's changes, a bump's optional columns): the database then
//! parses (and PostgreSQL plans) them on every call. The one-statement
//! writes on PostgreSQL (a hold with its levels, ledger rows and events; a
//! cart line with its change record) are data-modifying CTEs, the most
//! expensive statements to plan, and the cart's own writes run on every
//! edit on both backends. Their text varies only with the number of rows
//! or which optional parts are set, so a call site has a few shapes, and
//! the connection keeps each, prepared once, under its text (a call site
//! with unbounded shapes keeps only its small ones). Diesel never keeps an
//! UPDATE either, however fixed its text: the guarded level update and the
//! idempotent answer's update run on every write.
//!
//! Only a statement that is loaded (`load`, `get_result`) is kept.
//! `execute` hands the connection a reference to it, and diesel asks a
//! reference whether it may be cached by walking the statement inside,
//! never asking `Kept`: so a kept UPDATE returns a column, and
//! [`super::together::Together`] answers with a row.
//!
//! A bound LIMIT undoes any cache on SQLite: since 3.4x it plans a LIMIT
//! as the value bound to it and marks the statement stale whenever that
//! parameter is bound again, so diesel's `first` (`LIMIT ?`) was parsed
//! and planned on every call. The per-request token read alone was 4.7 %
//! of the server's CPU in the SQLite availability bench. A row found by its
//! key is read with `get_result`, which adds no LIMIT; only pages have one.

use diesel::RunQueryDsl;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// Most rows (levels and holds, lines) of a call site whose text varies
/// with their number that it keeps prepared: carts, most orders and the
/// holds of a hot level combined fit, and a rarer, bigger statement is
/// planned each time rather than kept for the connection's life.
pub const MOST_ROWS: usize = 16;

/// `query`, kept prepared by the connection under its text.
pub struct Kept<Q>(pub Q);

impl<Q> QueryId for Kept<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Kept<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Kept<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> RunQueryDsl<C> for Kept<Q> {}
