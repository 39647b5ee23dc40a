//! A realistic retailer for the benchmark: locations × SKUs with stock,
//! customers, keys and a marketplace, written straight into a fresh database
//! (bulk inserts; the ledger is written with the levels so it balances).

use std::sync::Arc;

use chrono::Utc;
use diesel::prelude::*;
use omnistock::access::{self, Channel, NewKey, Role};
use omnistock::catalog::location::{
    Address, Capabilities, Day, LocalTime, LocationKind, OpenInterval, OpeningHours, TimeZone,
};
use omnistock::catalog::{self, LocationInput, SkuInput};
use omnistock::clock::SystemClock;
use omnistock::config::Config;
use omnistock::customer::{self, CustomerInput};
use omnistock::db::schema::{stock_levels, stock_movements};
use omnistock::db::{AnyConnection, timestamp};
use omnistock::marketplace::{self, ConnectorKind, MarketplaceInput};
use omnistock::pricing;
use omnistock::secret::Keyring;
use omnistock::types::{Code, Currency, GeoPoint, Gtin, MarketplaceId, Money, gtin_check_digit};
use rust_decimal::Decimal;

use crate::Failure;

/// Units of every SKU at every location (plenty: the scenarios measure speed, not shortage).
pub const STOCK: i32 = 100_000;
pub const HOT_SKU: &str = "HOT-0";
pub const WEBHOOK_SECRET: &str = "bench-webhook-secret-0123456789";
/// The key that seals marketplace secrets, shared by the seeding and the
/// server it starts (32 bytes, URL-safe base64).
pub const SECRET_KEY: &str = "YmVuY2gtb25seS1zZWFsaW5nLWtleS1uby1zZWNyZXQ";

/// What the scenarios need to know about the data.
#[derive(Clone)]
pub struct Seeded {
    pub locations: Vec<String>,
    pub skus: Vec<String>,
    pub gtins: Vec<String>,
    pub customers: Vec<String>,
    pub web: String,
    pub app: String,
    pub voice: String,
    pub pos: String,
    pub marketplace: String,
}

/// The service's configuration for the benchmark's own connections.
pub fn config(url: &str) -> Config {
    let url = url.to_owned();
    Config::from_lookup(move |name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "OMNISTOCK_DB__POOL_SIZE" => Some("4".into()),
        "OMNISTOCK_SECRET_KEY" => Some(SECRET_KEY.into()),
        _ => None,
    })
    .expect("bench configuration")
}

fn gtin(n: usize) -> String {
    let payload = format!("40999{:07}", n);
    format!("{payload}{}", gtin_check_digit(&payload))
}

fn hours() -> OpeningHours {
    let day = vec![OpenInterval {
        open: LocalTime(chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default()),
        close: LocalTime(chrono::NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default()),
    }];
    OpeningHours(Day::ALL.iter().map(|d| (*d, day.clone())).collect())
}

pub async fn seed(url: &str, locations: usize, skus: usize, customers: usize) -> Result<Seeded, Failure> {
    let ctx = omnistock::open(config(url), Arc::new(SystemClock)).await.map_err(Failure)?;
    let (db, keyring) = (ctx.db.clone(), ctx.keyring.clone());
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get()?;
        seed_blocking(&mut conn, &keyring, locations, skus, customers)
    })
    .await?
}

fn seed_blocking(
    conn: &mut AnyConnection,
    keyring: &Keyring,
    locations: usize,
    skus: usize,
    customers: usize,
) -> Result<Seeded, Failure> {
    let now = Utc::now();
    // Checkout refuses a destination without a rate: every store is in DE-BE.
    conn.write(|conn| pricing::set_tax_rate(conn, "DE", pricing::STANDARD, Decimal::from(19), now))?;
    let eur = Currency::parse("EUR")?;
    let mut location_ids = Vec::new();
    let mut location_codes = Vec::new();
    conn.write(|conn| {
        for l in 0..locations {
            let code = format!("L{l:02}");
            let input = LocationInput {
                code: Code::parse(&code)?,
                name: format!("Store {l}"),
                kind: LocationKind::Store,
                address: Address {
                    line1: format!("Straße {l}"),
                    line2: None,
                    city: "Berlin".into(),
                    postal_code: "10115".into(),
                    region: Some("DE-BE".into()),
                    country: "DE".into(),
                },
                point: GeoPoint::new(52.40 + (l % 5) as f64 * 0.05, 13.20 + (l / 5) as f64 * 0.08)?,
                time_zone: TimeZone::try_from("Europe/Berlin".to_owned())?,
                opening_hours: hours(),
                capabilities: Capabilities {
                    ships: true,
                    pickup: true,
                    curbside: false,
                    same_day: None,
                    pickup_preparation_minutes: 30,
                    pickup_hold_days: 3,
                },
            };
            let location = catalog::create_location(conn, input, now)?;
            location_ids.push(location.id);
            location_codes.push(code);
        }
        Ok::<_, Failure>(())
    })?;
    let mut sku_codes = Vec::with_capacity(skus);
    let mut gtins = Vec::with_capacity(skus);
    let mut sku_ids = Vec::with_capacity(skus);
    conn.write(|conn| {
        for n in 0..skus {
            let code = if n == 0 { HOT_SKU.to_owned() } else { format!("SKU-{n:05}") };
            let input = SkuInput {
                code: Code::parse(&code)?,
                name: format!("Product {n}"),
                gtin: Some(Gtin::parse(&gtin(n))?),
                price: Money::new(199 + (n as i64 % 50) * 100, eur),
                spoken_names: Vec::new(),
                active: true,
                tax_class: pricing::STANDARD.to_owned(),
                components: None,
            };
            let sku = catalog::create_sku(conn, input, now)?;
            sku_ids.push(sku.id);
            gtins.push(gtin(n));
            sku_codes.push(code);
        }
        Ok::<_, Failure>(())
    })?;
    // Levels and their receipts in bulk, a location at a time: the ledger balances.
    let at = timestamp(now);
    for location in &location_ids {
        conn.write(|conn| {
            for chunk in sku_ids.chunks(1000) {
                let levels: Vec<_> = chunk
                    .iter()
                    .map(|sku| {
                        (
                            stock_levels::sku_id.eq(sku.clone()),
                            stock_levels::location_id.eq(location.clone()),
                            stock_levels::on_hand.eq(STOCK),
                            stock_levels::reserved.eq(0),
                            stock_levels::safety_stock.eq(0),
                            stock_levels::updated_at.eq(at),
                        )
                    })
                    .collect();
                let receipts: Vec<_> = chunk
                    .iter()
                    .map(|sku| {
                        (
                            stock_movements::sku_id.eq(sku.clone()),
                            stock_movements::location_id.eq(location.clone()),
                            stock_movements::kind.eq("receipt"),
                            stock_movements::on_hand_delta.eq(STOCK),
                            stock_movements::reserved_delta.eq(0),
                            stock_movements::actor.eq("seed"),
                            stock_movements::channel.eq("system"),
                            stock_movements::created_at.eq(at),
                        )
                    })
                    .collect();
                omnistock::per_backend!(conn, |c| {
                    diesel::insert_into(stock_levels::table).values(&levels).execute(c)?;
                    diesel::insert_into(stock_movements::table).values(&receipts).execute(c)
                })?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
    }
    let mut customer_refs = Vec::with_capacity(customers);
    conn.write(|conn| {
        for c in 0..customers {
            let reference = format!("bench-{c:04}");
            let input = CustomerInput {
                external_ref: reference.clone(),
                name: Some(format!("Customer {c}")),
                email: None,
                phone: None,
                marketing_consent: false,
            };
            customer::create(conn, input, now)?;
            customer_refs.push(reference);
        }
        Ok::<_, Failure>(())
    })?;
    let key = |conn: &mut AnyConnection,
               role: Role,
               location: Option<&str>,
               channel: Option<Channel>,
               marketplace: Option<MarketplaceId>| {
        let new = NewKey {
            name: format!("bench {role}"),
            role,
            location_id: location
                .and_then(|code| location_ids.get(location_codes.iter().position(|c| c == code)?).cloned()),
            channel,
            marketplace_id: marketplace,
        };
        access::create_key(conn, new, now).map(|(_, secret)| secret)
    };
    let marketplace = marketplace::create(
        conn,
        MarketplaceInput {
            name: "bench-shop".into(),
            kind: ConnectorKind::Shopify,
            base_url: "http://127.0.0.1:9".into(),
            credentials: Some(keyring.seal(br#"{"access_token": "bench"}"#)),
            webhook_secret: Some(keyring.seal(WEBHOOK_SECRET.as_bytes())),
            share_percent: 100,
            buffer_units: 0,
            rate_limit_per_sec: 10,
            settings: serde_json::json!({"location_id": "1"}),
            active: true,
            locations: None,
        },
        now,
    )?;
    let first = location_codes.first().cloned().unwrap_or_default();
    Ok(Seeded {
        web: key(conn, Role::Storefront, None, Some(Channel::Web), None)?,
        app: key(conn, Role::Storefront, None, Some(Channel::App), None)?,
        voice: key(conn, Role::Storefront, None, Some(Channel::Voice), None)?,
        pos: key(conn, Role::Pos, Some(&first), None, None)?,
        marketplace: marketplace.id.to_string(),
        locations: location_codes,
        skus: sku_codes,
        gtins,
        customers: customer_refs,
    })
}
