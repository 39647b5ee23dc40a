//! Data-modifying statements sent as one on PostgreSQL.
//!
//! `WITH w0 AS (<first>), w1 AS (<second>) <last>`: the statements are
//! diesel's own (inserts, typically), so their SQL and binds stay typed;
//! PostgreSQL runs them in one round trip and checks their foreign keys at
//! the end of it, so a child row may reference a parent written beside it.
//! SQLite, which cannot write inside a CTE, runs each on its own.

use diesel::RunQueryDsl;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// Statements to run as one (see the module comment); none makes no SQL.
pub struct Together<'a>(pub Vec<Box<dyn QueryFragment<Pg> + 'a>>);

impl QueryId for Together<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Together<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let Some((last, first)) = self.0.split_last() else { return Ok(()) };
        for (i, statement) in first.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(&format!("w{i} AS ("));
            statement.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        out.push_sql(" ");
        last.walk_ast(out.reborrow())
    }
}

impl<C> RunQueryDsl<C> for Together<'_> {}
