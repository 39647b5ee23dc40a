//! Tax rates per region (ISO 3166-2 subdivision or country code).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::db::schema::tax_rates;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::per_backend;

/// The rate of `region` in percent; 0 when none is set.
pub fn rate_percent(conn: &mut AnyConnection, region: &str) -> Result<Decimal, DbError> {
    let raw: Option<String> = tax_rates::table.find(region).select(tax_rates::rate_percent).first(conn).optional()?;
    raw.map(|r| Decimal::from_str(&r).map_err(|_| DbError::Corrupt(format!("tax rate of {region}"))))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub fn set(conn: &mut AnyConnection, region: &str, percent: Decimal, now: DateTime<Utc>) -> Result<(), DbError> {
    let row = (
        tax_rates::region.eq(region),
        tax_rates::rate_percent.eq(percent.normalize().to_string()),
        tax_rates::updated_at.eq(timestamp(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(tax_rates::table)
        .values(row)
        .on_conflict(tax_rates::region)
        .do_update()
        .set((tax_rates::rate_percent.eq(percent.normalize().to_string()), tax_rates::updated_at.eq(timestamp(now))))
        .execute(c))?;
    Ok(())
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<(String, Decimal)>, DbError> {
    tax_rates::table
        .order(tax_rates::region)
        .select((tax_rates::region, tax_rates::rate_percent))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(region, raw)| {
            Decimal::from_str(&raw)
                .map(|r| (region.clone(), r))
                .map_err(|_| DbError::Corrupt(format!("tax rate of {region}")))
        })
        .collect()
}
