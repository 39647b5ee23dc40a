//! `column IN (…)` that prepared-statement caches keep.
//!
//! Diesel marks any statement holding `eq_any(list)` uncacheable, because each
//! list length is different SQL. On SQLite that means parsing and planning the
//! statement on every call (diesel-rs/diesel#279): in the availability profile
//! preparing took 14 % of the service's CPU. Here the list is padded to the
//! next power of two by repeating its last value (which `IN` ignores), so each
//! call site prepares at most a handful of shapes, and they are cached.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType};

/// `column IN (values…)`; with no values, false.
#[derive(Debug, Clone, Copy)]
pub struct InList<'a, C, T> {
    column: C,
    values: &'a [T],
}

/// `column` is one of `values` (see the module comment for why not `eq_any`).
pub fn one_of<C, T>(column: C, values: &[T]) -> InList<'_, C, T> {
    InList { column, values }
}

impl<C: Expression, T> Expression for InList<'_, C, T> {
    type SqlType = Bool;
}

impl<C, T, DB> QueryFragment<DB> for InList<'_, C, T>
where
    DB: Backend + HasSqlType<C::SqlType>,
    C: Expression + QueryFragment<DB>,
    T: ToSql<C::SqlType, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let Some(last) = self.values.last() else {
            out.push_sql("1 = 0");
            return Ok(());
        };
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        let padded = self.values.len().next_power_of_two();
        for i in 0..padded {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<C::SqlType, T>(self.values.get(i).unwrap_or(last))?;
        }
        out.push_sql(")");
        Ok(())
    }
}

impl<C, T> QueryId for InList<'_, C, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS, C: AppearsOnTable<QS>, T> AppearsOnTable<QS> for InList<'_, C, T> {}

impl<GB, C: ValidGrouping<GB>, T> ValidGrouping<GB> for InList<'_, C, T> {
    type IsAggregate = C::IsAggregate;
}
