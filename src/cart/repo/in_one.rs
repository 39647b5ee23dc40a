//! A cart edit's writes on PostgreSQL in one statement: the line, the
//! change records and the read of the cart's lines.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{LineRow, LineWrite, Record, Written};
use crate::db::kept::Kept;
use crate::db::{DbError, timestamp};
use crate::types::CartId;

/// A row of [`write`]'s answer: a line, and whether the edit wrote it.
#[derive(QueryableByName)]
struct Read {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    written: bool,
    #[diesel(embed)]
    line: LineRow,
}

/// [`super::write`] on PostgreSQL in one statement. A statement does not
/// see what its own CTEs wrote, so the written line comes from the write's
/// `RETURNING` and the cart's other lines from the table.
pub(super) fn write(
    conn: &mut diesel::PgConnection,
    cart: &CartId,
    line: Option<&LineWrite<'_>>,
    records: &[(i32, Record)],
    actor: (&str, &str),
    now: DateTime<Utc>,
) -> Result<Written, DbError> {
    use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
    const COLUMNS: &str = "sku_id, quantity, hold_id, added_channel, updated_channel, added_at, updated_at";
    let (channel, key) = actor;
    let at = timestamp(now);
    // $1 is the cart; a line write's SKU is $2, and a new quantity $3 to $5.
    let (write, first) = match line {
        None => (None, 2),
        Some(LineWrite::Add(..)) => (
            Some(
                "INSERT INTO cart_lines (cart_id, sku_id, quantity, added_channel, updated_channel, added_at, updated_at)
                VALUES ($1, $2, $3, $4, $4, $5, $5)
                ON CONFLICT (cart_id, sku_id) DO UPDATE SET quantity = cart_lines.quantity + EXCLUDED.quantity,
                    updated_channel = EXCLUDED.updated_channel, updated_at = EXCLUDED.updated_at",
            ),
            6,
        ),
        Some(LineWrite::Set(..)) => (
            Some(
                "UPDATE cart_lines SET quantity = $3, updated_channel = $4, updated_at = $5
                WHERE cart_id = $1 AND sku_id = $2",
            ),
            6,
        ),
        Some(LineWrite::Remove(_)) => (Some("DELETE FROM cart_lines WHERE cart_id = $1 AND sku_id = $2"), 3),
    };
    // A record's placeholders, by the types of its columns.
    const RECORD: [&str; 9] = ["text", "int", "text", "text", "int", "text", "text", "text", "timestamp"];
    let rows: Vec<String> = (0..records.len())
        .map(|i| {
            let at = first + i * RECORD.len();
            let casts: Vec<String> = RECORD.iter().enumerate().map(|(k, t)| format!("${}::{t}", at + k)).collect();
            format!("({})", casts.join(", "))
        })
        .collect();
    let recorded = format!(
        "recorded AS (INSERT INTO cart_changes (cart_id, version, action, sku_id, quantity, detail, channel, actor,
            created_at) VALUES {})",
        rows.join(", ")
    );
    let sql = match write {
        None => format!("WITH {recorded} SELECT false AS written, {COLUMNS} FROM cart_lines WHERE cart_id = $1"),
        Some(write) => format!(
            "WITH w AS ({write} RETURNING {COLUMNS}), {recorded}
            SELECT true AS written, {COLUMNS} FROM w
            UNION ALL SELECT false, {COLUMNS} FROM cart_lines WHERE cart_id = $1 AND sku_id <> $2"
        ),
    };
    let sql = format!("{sql} ORDER BY added_at, sku_id");
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>().bind::<Text, _>(cart);
    match line {
        None => {}
        Some(LineWrite::Remove(sku)) => query = query.bind::<Text, _>(*sku),
        Some(LineWrite::Add(sku, quantity) | LineWrite::Set(sku, quantity)) => {
            query = query
                .bind::<Text, _>(*sku)
                .bind::<Integer, _>(*quantity)
                .bind::<Text, _>(channel)
                .bind::<Timestamp, _>(at)
        }
    }
    for (version, record) in records {
        query = query
            .bind::<Text, _>(cart)
            .bind::<Integer, _>(*version)
            .bind::<Text, _>(record.action.as_str())
            .bind::<Nullable<Text>, _>(record.sku.as_ref())
            .bind::<Nullable<Integer>, _>(record.quantity)
            .bind::<Nullable<Text>, _>(record.detail.as_deref())
            .bind::<Text, _>(channel)
            .bind::<Text, _>(key)
            .bind::<Timestamp, _>(at);
    }
    let removed = matches!(line, Some(LineWrite::Remove(_)));
    let mut written = None;
    let mut lines = Vec::new();
    for read in Kept(query).load::<Read>(conn)? {
        if read.written {
            written = Some(read.line.clone());
        }
        if !(read.written && removed) {
            lines.push(read.line);
        }
    }
    Ok(Written { lines, line: written })
}
