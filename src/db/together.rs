//! Data-modifying statements sent as one on PostgreSQL.
//!
//! `WITH w0 AS (<first>), …, wN AS (<last>) SELECT N + 1`: the statements
//! are diesel's own (inserts, typically), so their SQL and binds stay typed;
//! PostgreSQL runs every data-modifying CTE to completion whether or not
//! the query reads it, in one round trip, and checks their foreign keys at
//! the end, so a child row may reference a parent written beside it. The
//! answer is one row, the number of statements: a query that is loaded,
//! not executed, can be kept prepared (see [`super::kept`]). SQLite, which
//! cannot write inside a CTE, runs each on its own.

use diesel::RunQueryDsl;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Integer;

/// Statements to run as one (see the module comment).
pub struct Together<'a>(pub Vec<Box<dyn QueryFragment<Pg> + 'a>>);

impl QueryId for Together<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Together<'_> {
    type SqlType = Integer;
}

impl QueryFragment<Pg> for Together<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (i, statement) in self.0.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(&format!("w{i} AS ("));
            statement.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        out.push_sql(&format!(" SELECT {}", self.0.len()));
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for Together<'_> {}
