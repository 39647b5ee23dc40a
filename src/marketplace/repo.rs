//! Queries of the marketplace tables: marketplaces, listings, the stock
//! sync queue and its log, outbound confirmations, inbound deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{ConnectorKind, Listing, Marketplace, MarketplaceInput, OutboundRow, PushLogEntry, StockRow};
use crate::db::kept::Kept;
use crate::db::schema::{
    marketplace_deliveries as md, marketplace_listings as ml, marketplace_outbound as mo, marketplace_push_log as log,
    marketplace_stock as ms, marketplaces as m,
};
use crate::db::{AnyConnection, DbError, one_of};
use crate::per_backend;
use crate::secret::Sealed;
use crate::types::{Code, MarketplaceId, OrderId, SkuId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = m)]
struct Row {
    id: MarketplaceId,
    name: String,
    kind: String,
    base_url: String,
    credentials: String,
    webhook_secret: String,
    share_percent: i32,
    buffer_units: i32,
    rate_limit_per_sec: i32,
    settings: String,
    active: bool,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    locations: Option<String>,
}

impl Row {
    fn into_marketplace(self) -> Result<Marketplace, DbError> {
        let json = |what: &str, raw: &str| {
            serde_json::from_str(raw).map_err(|_| DbError::Corrupt(format!("marketplace {} {what}", self.id)))
        };
        Ok(Marketplace {
            kind: ConnectorKind::parse(&self.kind).map_err(DbError::Corrupt)?,
            credentials: Sealed::from_stored(self.credentials),
            settings: json("settings", &self.settings)?,
            locations: match self.locations.as_deref() {
                Some(raw) => Some(
                    serde_json::from_str(raw)
                        .map_err(|_| DbError::Corrupt(format!("marketplace {} locations", self.id)))?,
                ),
                None => None,
            },
            id: self.id,
            name: self.name,
            base_url: self.base_url,
            webhook_secret: Sealed::from_stored(self.webhook_secret),
            share_percent: self.share_percent,
            buffer_units: self.buffer_units,
            rate_limit_per_sec: self.rate_limit_per_sec,
            active: self.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn into_marketplaces(rows: Vec<Row>) -> Result<Vec<Marketplace>, DbError> {
    rows.into_iter().map(Row::into_marketplace).collect()
}

/// A marketplace by its name or id.
pub fn id_by_name_or_id(conn: &mut AnyConnection, name_or_id: &str) -> Result<Option<MarketplaceId>, DbError> {
    Ok(m::table.filter(m::name.eq(name_or_id).or(m::id.eq(name_or_id))).select(m::id).get_result(conn).optional()?)
}

/// The columns a marketplace's input sets, with its credentials and secret
/// as they are to be stored.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = m)]
struct Columns<'a> {
    name: &'a str,
    kind: &'a str,
    base_url: &'a str,
    credentials: &'a str,
    webhook_secret: &'a str,
    share_percent: i32,
    buffer_units: i32,
    rate_limit_per_sec: i32,
    settings: String,
    active: bool,
    updated_at: NaiveDateTime,
    /// Written even when None: a replace that names no set goes back to the country's.
    #[diesel(treat_none_as_null = true)]
    locations: Option<String>,
}

impl<'a> Columns<'a> {
    fn of(input: &'a MarketplaceInput, (credentials, webhook_secret): (&'a str, &'a str), at: NaiveDateTime) -> Self {
        Self {
            name: &input.name,
            kind: input.kind.as_str(),
            base_url: &input.base_url,
            credentials,
            webhook_secret,
            share_percent: input.share_percent,
            buffer_units: input.buffer_units,
            rate_limit_per_sec: input.rate_limit_per_sec,
            settings: input.settings.to_string(),
            active: input.active,
            updated_at: at,
            locations: input
                .locations
                .as_ref()
                .map(|codes| serde_json::json!(codes.iter().map(Code::as_str).collect::<Vec<_>>()).to_string()),
        }
    }
}

/// Stores a new marketplace; `secrets` (credentials, webhook secret) as they are to be stored.
pub fn insert(
    conn: &mut AnyConnection,
    id: &MarketplaceId,
    input: &MarketplaceInput,
    secrets: (&str, &str),
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(m::table)
        .values((m::id.eq(id), Columns::of(input, secrets, at), m::version.eq(1), m::created_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

/// Replaces a marketplace still at `version`; false otherwise.
pub fn replace(
    conn: &mut AnyConnection,
    id: &MarketplaceId,
    version: i32,
    input: &MarketplaceInput,
    secrets: (&str, &str),
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(m::table.find(id).filter(m::version.eq(version)))
        .set((Columns::of(input, secrets, at), m::version.eq(m::version + 1)))
        .execute(conn)?
        == 1)
}

/// Marketplaces whose secrets are stored as they came (before sealing):
/// (id, credentials, webhook secret).
pub fn unsealed(conn: &mut AnyConnection) -> Result<Vec<(MarketplaceId, String, String)>, DbError> {
    Ok(m::table
        .filter(
            (m::credentials.not_like("v1:%").and(m::credentials.ne("")))
                .or(m::webhook_secret.not_like("v1:%").and(m::webhook_secret.ne(""))),
        )
        .select((m::id, m::credentials, m::webhook_secret))
        .load(conn)?)
}

/// Stores a marketplace's sealed secrets.
pub fn set_secrets(
    conn: &mut AnyConnection,
    id: &MarketplaceId,
    (credentials, secret): (&str, &str),
) -> Result<(), DbError> {
    diesel::update(m::table.find(id))
        .set((m::credentials.eq(credentials), m::webhook_secret.eq(secret)))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut AnyConnection, id: &MarketplaceId) -> Result<Option<Marketplace>, DbError> {
    m::table.find(id).select(Row::as_select()).get_result(conn).optional()?.map(Row::into_marketplace).transpose()
}

pub fn by_ids(conn: &mut AnyConnection, ids: &[MarketplaceId]) -> Result<Vec<Marketplace>, DbError> {
    into_marketplaces(m::table.filter(one_of(m::id, ids)).select(Row::as_select()).load(conn)?)
}

/// Up to `limit` marketplaces after the id `after`, by id.
pub fn page(conn: &mut AnyConnection, after: Option<&str>, limit: i64) -> Result<Vec<Marketplace>, DbError> {
    let mut query = m::table.select(Row::as_select()).order(m::id).limit(limit).into_boxed();
    if let Some(after) = after {
        query = query.filter(m::id.gt(after.to_owned()));
    }
    into_marketplaces(query.load(conn)?)
}

/// Maps a SKU to a listing, replacing its previous listing on that marketplace.
pub fn put_listing(conn: &mut AnyConnection, listing: &Listing) -> Result<(), DbError> {
    diesel::delete(ml::table.find((&listing.marketplace_id, &listing.sku_id))).execute(conn)?;
    diesel::insert_into(ml::table)
        .values((
            ml::marketplace_id.eq(&listing.marketplace_id),
            ml::sku_id.eq(&listing.sku_id),
            ml::listing_id.eq(&listing.listing_id),
            ml::seller_sku.eq(&listing.seller_sku),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes a listing and its sync row; false when there was no listing.
pub fn delete_listing(conn: &mut AnyConnection, marketplace: &MarketplaceId, sku: &SkuId) -> Result<bool, DbError> {
    diesel::delete(ms::table.find((marketplace, sku))).execute(conn)?;
    Ok(diesel::delete(ml::table.find((marketplace, sku))).execute(conn)? == 1)
}

/// Up to `limit` listings of a marketplace after the SKU id `after`, by SKU id.
pub fn listings_page(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Listing>, DbError> {
    let mut query = ml::table
        .filter(ml::marketplace_id.eq(marketplace))
        .order(ml::sku_id)
        .limit(limit)
        .select(Listing::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(ml::sku_id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Every listing of these SKUs (on one marketplace, or all), with its marketplace.
pub fn listings_of(
    conn: &mut AnyConnection,
    skus: &[SkuId],
    only: Option<&MarketplaceId>,
) -> Result<Vec<(Listing, Marketplace)>, DbError> {
    let mut query = ml::table.inner_join(m::table).filter(one_of(ml::sku_id, skus)).into_boxed();
    if let Some(marketplace) = only {
        query = query.filter(ml::marketplace_id.eq(marketplace.clone()));
    }
    query
        .select((Listing::as_select(), Row::as_select()))
        .load::<(Listing, Row)>(conn)?
        .into_iter()
        .map(|(listing, row)| Ok((listing, row.into_marketplace()?)))
        .collect()
}

/// The SKUs a marketplace lists.
pub fn listed_skus(conn: &mut AnyConnection, marketplace: &MarketplaceId) -> Result<Vec<SkuId>, DbError> {
    Ok(ml::table.filter(ml::marketplace_id.eq(marketplace)).select(ml::sku_id).load(conn)?)
}

/// Our SKU for the marketplace's own SKU, if a listing maps it.
pub fn sku_of_seller_sku(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    seller_sku: &str,
) -> Result<Option<SkuId>, DbError> {
    Ok(ml::table
        .filter(ml::marketplace_id.eq(marketplace))
        .filter(ml::seller_sku.eq(seller_sku))
        .select(ml::sku_id)
        .get_result(conn)
        .optional()?)
}

/// The marketplace's own SKUs for ours.
pub fn seller_skus(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    skus: &[SkuId],
) -> Result<Vec<(SkuId, String)>, DbError> {
    Ok(ml::table
        .filter(ml::marketplace_id.eq(marketplace))
        .filter(one_of(ml::sku_id, skus))
        .select((ml::sku_id, ml::seller_sku))
        .load(conn)?)
}

/// The columns of [`StockRow`], for RETURNING (MultiBackend cannot return a `Selectable`).
#[allow(clippy::type_complexity)]
const STOCK_ROW: (
    ms::marketplace_id,
    ms::sku_id,
    ms::quantity,
    ms::pushed_quantity,
    ms::status,
    ms::attempts,
    ms::next_attempt_at,
    ms::last_error,
    ms::updated_at,
) = (
    ms::marketplace_id,
    ms::sku_id,
    ms::quantity,
    ms::pushed_quantity,
    ms::status,
    ms::attempts,
    ms::next_attempt_at,
    ms::last_error,
    ms::updated_at,
);

/// A listing's sync row, locked until commit (made pending on first use):
/// whoever decides what it becomes decides alone.
pub fn lock_stock_row(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    quantity: i32,
    at: NaiveDateTime,
) -> Result<(StockRow, bool), DbError> {
    let fresh = (
        ms::marketplace_id.eq(marketplace),
        ms::sku_id.eq(sku),
        ms::quantity.eq(quantity),
        ms::status.eq("pending"),
        ms::attempts.eq(0),
        ms::next_attempt_at.eq(at),
        ms::updated_at.eq(at),
    );
    let created =
        per_backend!(conn, |c| diesel::insert_into(ms::table).values(fresh).on_conflict_do_nothing().execute(c))?;
    // Kept (as the other per-order UPDATEs here): diesel prepares every
    // UPDATE anew, and these run for each stock change and order.
    let row = Kept(
        diesel::update(ms::table.find((marketplace, sku))).set(ms::updated_at.eq(ms::updated_at)).returning(STOCK_ROW),
    )
    .get_result(conn)?;
    Ok((row, created == 1))
}

/// Sets what a locked sync row wants and when it is next due.
pub fn set_stock_row(conn: &mut AnyConnection, row: &StockRow) -> Result<(), DbError> {
    Kept(
        diesel::update(ms::table.find((&row.marketplace_id, &row.sku_id)))
            .set((
                ms::quantity.eq(row.quantity),
                ms::status.eq(&row.status),
                ms::attempts.eq(row.attempts),
                ms::next_attempt_at.eq(row.next_attempt_at),
                ms::updated_at.eq(row.updated_at),
            ))
            .returning(ms::sku_id),
    )
    .load::<SkuId>(conn)?;
    Ok(())
}

/// Due sync rows with their listing ids, oldest first.
pub fn due_stock(conn: &mut AnyConnection, at: NaiveDateTime, limit: i64) -> Result<Vec<(StockRow, String)>, DbError> {
    Ok(ms::table
        .inner_join(ml::table.on(ml::marketplace_id.eq(ms::marketplace_id).and(ml::sku_id.eq(ms::sku_id))))
        .filter(ms::status.eq("pending"))
        .filter(ms::next_attempt_at.le(at))
        .order(ms::next_attempt_at)
        .limit(limit)
        .select((StockRow::as_select(), ml::listing_id))
        .load(conn)?)
}

/// Leases a due row until `until`; false when another worker took it first.
pub fn lease_stock(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    at: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        ms::table.find((marketplace, sku)).filter(ms::status.eq("pending")).filter(ms::next_attempt_at.le(at)),
    )
    .set(ms::next_attempt_at.eq(until))
    .execute(conn)?
        == 1)
}

/// Gives a leased row back to be due at `at`.
pub fn unlease_stock(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(ms::table.find((marketplace, sku))).set(ms::next_attempt_at.eq(at)).execute(conn)?;
    Ok(())
}

/// Records a successful push of `sent`; the row is synced unless a newer
/// quantity arrived meanwhile (then it goes out on the next pass).
pub fn stock_pushed(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    sent: i32,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let target = ms::table.find((marketplace, sku));
    diesel::update(target)
        .set((
            ms::pushed_quantity.eq(sent),
            ms::attempts.eq(0),
            ms::last_error.eq(None::<String>),
            ms::next_attempt_at.eq(at),
            ms::updated_at.eq(at),
        ))
        .execute(conn)?;
    diesel::update(target.filter(ms::quantity.eq(sent)).filter(ms::status.eq("pending")))
        .set(ms::status.eq("synced"))
        .execute(conn)?;
    Ok(())
}

/// Counts a failed push in one guarded statement; the attempts so far.
pub fn stock_push_failed(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    error: &str,
    at: NaiveDateTime,
) -> Result<i32, DbError> {
    Ok(diesel::update(ms::table.find((marketplace, sku)))
        .set((ms::attempts.eq(ms::attempts + 1), ms::last_error.eq(error), ms::updated_at.eq(at)))
        .returning(ms::attempts)
        .get_result(conn)?)
}

/// Schedules the next attempt of a failed row, or parks it as dead.
pub fn schedule_stock(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    dead: bool,
    next: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(ms::table.find((marketplace, sku)))
        .set((ms::status.eq(if dead { "dead" } else { "pending" }), ms::next_attempt_at.eq(next)))
        .execute(conn)?;
    Ok(())
}

/// One row of the push log: what was sent to which listing and what came of it.
pub struct PushLog<'a> {
    pub marketplace: &'a MarketplaceId,
    pub listing: &'a str,
    pub quantity: i32,
    pub outcome: &'a str,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
}

pub fn log_push(conn: &mut AnyConnection, entry: PushLog<'_>, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::insert_into(log::table)
        .values((
            log::marketplace_id.eq(entry.marketplace),
            log::listing_id.eq(entry.listing),
            log::quantity.eq(entry.quantity),
            log::outcome.eq(entry.outcome),
            log::status_code.eq(entry.status_code),
            log::error.eq(entry.error),
            log::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many sync rows of a marketplace are in `status`.
pub fn count_stock(conn: &mut AnyConnection, marketplace: &MarketplaceId, status: &str) -> Result<i64, DbError> {
    Ok(ms::table.filter(ms::marketplace_id.eq(marketplace)).filter(ms::status.eq(status)).count().get_result(conn)?)
}

pub fn stock_in(conn: &mut AnyConnection, marketplace: &MarketplaceId, status: &str) -> Result<Vec<StockRow>, DbError> {
    Ok(ms::table
        .filter(ms::marketplace_id.eq(marketplace))
        .filter(ms::status.eq(status))
        .select(StockRow::as_select())
        .load(conn)?)
}

pub fn count_outbound(conn: &mut AnyConnection, marketplace: &MarketplaceId, status: &str) -> Result<i64, DbError> {
    Ok(mo::table.filter(mo::marketplace_id.eq(marketplace)).filter(mo::status.eq(status)).count().get_result(conn)?)
}

pub fn outbound_in(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    status: &str,
) -> Result<Vec<OutboundRow>, DbError> {
    Ok(mo::table
        .filter(mo::marketplace_id.eq(marketplace))
        .filter(mo::status.eq(status))
        .select(OutboundRow::as_select())
        .load(conn)?)
}

/// The latest push attempts of a marketplace, newest first.
pub fn recent_pushes(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    limit: i64,
) -> Result<Vec<PushLogEntry>, DbError> {
    Ok(log::table
        .filter(log::marketplace_id.eq(marketplace))
        .order(log::id.desc())
        .limit(limit)
        .select(PushLogEntry::as_select())
        .load(conn)?)
}

/// Queues a confirmation once (its id is deterministic).
pub fn enqueue_outbound(conn: &mut AnyConnection, row: &OutboundRow) -> Result<(), DbError> {
    let values = (
        mo::id.eq(&row.id),
        mo::marketplace_id.eq(&row.marketplace_id),
        mo::order_id.eq(&row.order_id),
        mo::kind.eq(&row.kind),
        mo::payload.eq(&row.payload),
        mo::status.eq(&row.status),
        mo::attempts.eq(row.attempts),
        mo::next_attempt_at.eq(row.next_attempt_at),
        mo::created_at.eq(row.created_at),
        mo::updated_at.eq(row.updated_at),
    );
    per_backend!(conn, |c| diesel::insert_into(mo::table).values(values).on_conflict_do_nothing().execute(c))?;
    Ok(())
}

pub fn due_outbound(conn: &mut AnyConnection, at: NaiveDateTime, limit: i64) -> Result<Vec<OutboundRow>, DbError> {
    Ok(mo::table
        .filter(mo::status.eq("pending"))
        .filter(mo::next_attempt_at.le(at))
        .order(mo::next_attempt_at)
        .limit(limit)
        .select(OutboundRow::as_select())
        .load(conn)?)
}

/// Leases a due confirmation until `until`; false when another worker took it first.
pub fn lease_outbound(
    conn: &mut AnyConnection,
    id: &str,
    at: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(mo::table.find(id).filter(mo::status.eq("pending")).filter(mo::next_attempt_at.le(at)))
        .set(mo::next_attempt_at.eq(until))
        .execute(conn)?
        == 1)
}

pub fn outbound_done(conn: &mut AnyConnection, id: &str, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(mo::table.find(id))
        .set((mo::status.eq("done"), mo::last_error.eq(None::<String>), mo::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

/// Counts a failed confirmation in one guarded statement; the attempts so far.
pub fn outbound_failed(conn: &mut AnyConnection, id: &str, error: &str, at: NaiveDateTime) -> Result<i32, DbError> {
    Ok(diesel::update(mo::table.find(id))
        .set((mo::attempts.eq(mo::attempts + 1), mo::last_error.eq(error), mo::updated_at.eq(at)))
        .returning(mo::attempts)
        .get_result(conn)?)
}

pub fn schedule_outbound(conn: &mut AnyConnection, id: &str, dead: bool, next: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(mo::table.find(id))
        .set((mo::status.eq(if dead { "dead" } else { "pending" }), mo::next_attempt_at.eq(next)))
        .execute(conn)?;
    Ok(())
}

/// Requeues a marketplace's dead confirmations.
pub fn revive_outbound(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(mo::table.filter(mo::marketplace_id.eq(marketplace)).filter(mo::status.eq("dead")))
        .set((mo::status.eq("pending"), mo::attempts.eq(0), mo::next_attempt_at.eq(at)))
        .execute(conn)?)
}

/// Claims a delivery id; false when it was seen before. On PostgreSQL a
/// concurrent claim of the same id waits for the first to commit or roll back.
pub fn claim_delivery(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    (delivery, effect): (&str, Option<&str>),
    external_order: Option<&str>,
    topic: &str,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let row = (
        md::marketplace_id.eq(marketplace),
        md::delivery_id.eq(delivery),
        md::external_order_id.eq(external_order),
        md::topic.eq(topic),
        md::received_at.eq(at),
        md::effect.eq(effect),
    );
    let inserted =
        per_backend!(conn, |c| diesel::insert_into(md::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(inserted == 1)
}

/// The order an earlier delivery (of this id, or with this effect) led to.
pub fn delivery_order(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    delivery: &str,
    effect: Option<&str>,
) -> Result<Option<OrderId>, DbError> {
    let mut query = md::table.filter(md::marketplace_id.eq(marketplace)).into_boxed();
    query = match effect {
        Some(effect) => query.filter(md::delivery_id.eq(delivery.to_owned()).or(md::effect.eq(effect.to_owned()))),
        None => query.filter(md::delivery_id.eq(delivery.to_owned())),
    };
    Ok(query.select(md::order_id).load::<Option<OrderId>>(conn)?.into_iter().flatten().next())
}

pub fn note_delivery_order(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    delivery: &str,
    order: &OrderId,
) -> Result<(), DbError> {
    Kept(diesel::update(md::table.find((marketplace, delivery))).set(md::order_id.eq(order)).returning(md::order_id))
        .load::<Option<OrderId>>(conn)?;
    Ok(())
}

/// Stock pushes waiting and given up, by marketplace name.
pub fn backlog(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(ms::table
        .inner_join(m::table)
        .filter(ms::status.eq_any(["pending", "dead"]))
        .group_by((m::name, ms::status))
        .select((m::name, ms::status, diesel::dsl::count_star()))
        .load(conn)?)
}
