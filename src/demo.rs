//! A small, realistic retailer to try the service with: three Berlin stores
//! and a warehouse, fifty everyday SKUs with GTINs and spoken names, and stock.
//! Loading is idempotent: what exists is left as it is.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveTime, Utc};
use rust_decimal::Decimal;

use crate::access::Principal;
use crate::catalog::location::{
    Address, Capabilities, Day, LocalTime, LocationKind, OpenInterval, OpeningHours, SameDayConfig, TimeZone,
};
use crate::catalog::{self, CatalogError, LocationInput, SkuInput};
use crate::db::{AnyConnection, DbError};
use crate::inventory::{self, InventoryError};
use crate::pricing::{self, PricingError};
use crate::types::{Code, Currency, GeoPoint, Gtin, Money, Quantity, SkuId, gtin_check_digit};

/// What a load created.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub locations_created: usize,
    pub skus_created: usize,
    pub tax_rates_set: usize,
}

struct DemoLocation(&'static str, &'static str, LocationKind, &'static str, &'static str, f64, f64, bool, bool, bool);

/// (code, name, kind, street, postal code, latitude, longitude, pickup, curbside, same day)
const LOCATIONS: &[DemoLocation] = &[
    DemoLocation(
        "BER-MITTE",
        "Berlin Mitte (Alexanderplatz)",
        LocationKind::Store,
        "Alexanderplatz 9",
        "10178",
        52.5219,
        13.4132,
        true,
        true,
        true,
    ),
    DemoLocation(
        "BER-KREUZBERG",
        "Berlin Kreuzberg (Bergmannstraße)",
        LocationKind::Store,
        "Bergmannstraße 12",
        "10961",
        52.4894,
        13.3931,
        true,
        false,
        true,
    ),
    DemoLocation(
        "BER-CHARLOTTENBURG",
        "Berlin Charlottenburg (Wilmersdorfer Straße)",
        LocationKind::Store,
        "Wilmersdorfer Straße 46",
        "10627",
        52.5077,
        13.3060,
        true,
        true,
        false,
    ),
    DemoLocation(
        "BER-DC",
        "Berlin Distribution Centre (Mariendorf)",
        LocationKind::Warehouse,
        "Großbeerenstraße 2",
        "12107",
        52.4310,
        13.3870,
        false,
        false,
        false,
    ),
];

/// (code, name, price in cents, spoken names)
pub const SKUS: &[(&str, &str, i64, &[&str])] = &[
    ("OAT-MILK-1L", "Oat Milk 1 L", 229, &["oat milk", "oatly"]),
    ("WHOLE-MILK-1L", "Whole Milk 1 L", 139, &["milk", "whole milk"]),
    ("ALMOND-MILK-1L", "Almond Milk 1 L", 279, &["almond milk"]),
    ("EGGS-10", "Free-Range Eggs, 10 pack", 349, &["eggs", "free range eggs"]),
    ("SOURDOUGH-750", "Sourdough Bread 750 g", 399, &["sourdough", "bread"]),
    ("BUTTER-250", "Butter 250 g", 249, &["butter"]),
    ("GREEK-YOGURT-500", "Greek Yogurt 500 g", 219, &["greek yogurt", "yogurt"]),
    ("CHEDDAR-200", "Cheddar Cheese 200 g", 299, &["cheddar", "cheese"]),
    ("BANANAS-1KG", "Bananas 1 kg", 179, &["bananas"]),
    ("APPLES-1KG", "Braeburn Apples 1 kg", 299, &["apples"]),
    ("AVOCADO", "Avocado", 129, &["avocado"]),
    ("TOMATOES-500", "Vine Tomatoes 500 g", 249, &["tomatoes"]),
    ("SPINACH-200", "Baby Spinach 200 g", 199, &["spinach", "baby spinach"]),
    ("COFFEE-GROUND-500", "Ground Coffee 500 g", 699, &["coffee", "ground coffee"]),
    ("ESPRESSO-BEANS-1KG", "Espresso Beans 1 kg", 1599, &["espresso beans", "espresso"]),
    ("GREEN-TEA-20", "Green Tea, 20 bags", 249, &["green tea"]),
    ("ORANGE-JUICE-1L", "Orange Juice 1 L", 259, &["orange juice", "o j"]),
    ("SPARKLING-WATER-6", "Sparkling Water 6 × 1 L", 389, &["sparkling water", "fizzy water"]),
    ("FUSILLI-500", "Fusilli Pasta 500 g", 149, &["pasta", "fusilli"]),
    ("BASMATI-1KG", "Basmati Rice 1 kg", 329, &["rice", "basmati rice"]),
    ("OLIVE-OIL-750", "Extra Virgin Olive Oil 750 ml", 899, &["olive oil"]),
    ("TOMATO-SAUCE-400", "Tomato Sauce 400 g", 189, &["tomato sauce", "pasta sauce"]),
    ("DARK-CHOC-100", "Dark Chocolate 70 % 100 g", 199, &["dark chocolate", "chocolate"]),
    ("GRANOLA-500", "Crunchy Granola 500 g", 449, &["granola", "muesli"]),
    ("PEANUT-BUTTER-350", "Peanut Butter 350 g", 349, &["peanut butter"]),
    ("HONEY-500", "Wildflower Honey 500 g", 599, &["honey"]),
    ("OAT-FLAKES-500", "Oat Flakes 500 g", 119, &["oats", "oat flakes", "porridge oats"]),
    ("TORTILLA-CHIPS-200", "Tortilla Chips 200 g", 199, &["tortilla chips", "chips"]),
    ("HUMMUS-200", "Hummus 200 g", 229, &["hummus"]),
    ("PIZZA-MARGHERITA", "Frozen Pizza Margherita", 399, &["pizza", "margherita pizza"]),
    ("ICE-CREAM-VANILLA-500", "Vanilla Ice Cream 500 ml", 449, &["vanilla ice cream", "ice cream"]),
    ("DISH-SOAP-500", "Dish Soap 500 ml", 249, &["dish soap", "washing up liquid"]),
    ("DETERGENT-1500", "Laundry Detergent 1.5 L", 899, &["laundry detergent", "detergent"]),
    ("PAPER-TOWELS-4", "Paper Towels, 4 rolls", 399, &["paper towels", "kitchen roll"]),
    ("TOILET-PAPER-8", "Toilet Paper, 8 rolls", 449, &["toilet paper", "toilet roll"]),
    ("TOOTHPASTE-75", "Toothpaste 75 ml", 199, &["toothpaste"]),
    ("SHAMPOO-250", "Shampoo 250 ml", 349, &["shampoo"]),
    ("HAND-SOAP-300", "Hand Soap 300 ml", 229, &["hand soap", "soap"]),
    ("BATTERIES-AA-8", "AA Batteries, 8 pack", 799, &["batteries", "double a batteries"]),
    ("USB-C-CABLE-1M", "USB-C Cable 1 m", 1299, &["usb c cable", "charging cable"]),
    ("EARBUDS-WIRELESS", "Wireless Earbuds", 4999, &["earbuds", "wireless earbuds", "headphones"]),
    ("CHARGER-20W", "USB-C Phone Charger 20 W", 1999, &["phone charger", "charger"]),
    ("LED-BULB-E27", "LED Bulb E27 806 lm", 499, &["light bulb", "led bulb"]),
    ("SPONGES-5", "Kitchen Sponges, 5 pack", 179, &["sponges", "kitchen sponges"]),
    ("TRASH-BAGS-35L", "Trash Bags 35 L, 20 pack", 299, &["trash bags", "bin bags"]),
    ("CAT-FOOD-400", "Cat Food 400 g", 189, &["cat food"]),
    ("DOG-TREATS-200", "Dog Treats 200 g", 349, &["dog treats"]),
    ("BABY-WIPES-64", "Baby Wipes, 64 pack", 249, &["baby wipes", "wipes"]),
    ("SUNSCREEN-SPF50", "Sunscreen SPF 50, 200 ml", 1149, &["sunscreen", "sun cream"]),
    ("WATER-BOTTLE-750", "Reusable Water Bottle 750 ml", 1999, &["water bottle", "reusable bottle"]),
];

fn time(h: u32, m: u32) -> LocalTime {
    LocalTime(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default())
}

fn store_hours() -> OpeningHours {
    let weekday = vec![OpenInterval { open: time(8, 0), close: time(22, 0) }];
    let mut days: BTreeMap<Day, Vec<OpenInterval>> = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat]
        .into_iter()
        .map(|d| (d, weekday.clone()))
        .collect();
    days.insert(Day::Sun, Vec::new());
    OpeningHours(days)
}

/// The GTIN-13 of the n-th demo SKU (a made-up company prefix with a valid check digit).
pub fn demo_gtin(n: usize) -> Gtin {
    let payload = format!("400123{:06}", n + 1);
    let check = gtin_check_digit(&payload);
    Gtin::from_stored(format!("{payload}{check}"))
}

fn location_inputs() -> Result<Vec<LocationInput>, String> {
    LOCATIONS
        .iter()
        .map(|&DemoLocation(code, name, kind, street, postal, lat, lon, pickup, curbside, same_day)| {
            let is_store = kind == LocationKind::Store;
            Ok(LocationInput {
                code: Code::parse(code)?,
                name: name.to_owned(),
                kind,
                address: Address {
                    line1: street.to_owned(),
                    line2: None,
                    city: "Berlin".to_owned(),
                    postal_code: postal.to_owned(),
                    region: Some("DE-BE".to_owned()),
                    country: "DE".to_owned(),
                },
                point: GeoPoint::new(lat, lon)?,
                time_zone: TimeZone(chrono_tz::Europe::Berlin),
                opening_hours: if is_store { store_hours() } else { OpeningHours::default() },
                capabilities: Capabilities {
                    ships: !is_store || code == "BER-MITTE",
                    pickup,
                    curbside,
                    same_day: same_day.then(|| SameDayConfig {
                        radius_km: 8.0,
                        cutoff: time(14, 0),
                        slot_minutes: 120,
                        slot_capacity: 5,
                        window_start: time(16, 0),
                        window_end: time(22, 0),
                    }),
                    pickup_preparation_minutes: 60,
                    pickup_hold_days: 3,
                },
            })
        })
        .collect()
}

/// The demo's kits: (code, name, cents, components with units per kit).
/// They hold no stock: what they can sell comes from their components.
struct DemoKit(&'static str, &'static str, i64, &'static [(&'static str, i32)]);

const KITS: &[DemoKit] = &[DemoKit(
    "BREAKFAST-SET",
    "Breakfast Set: coffee, granola and two oat milks",
    1499,
    &[("COFFEE-GROUND-500", 1), ("GRANOLA-500", 1), ("OAT-MILK-1L", 2)],
)];

/// The demo's food: the reduced VAT rate in DE and AT. Plant drinks, juice and
/// water are taxed at the standard rate there, so they are not in it.
const FOOD: &[&str] = &[
    "WHOLE-MILK-1L",
    "EGGS-10",
    "SOURDOUGH-750",
    "BUTTER-250",
    "GREEK-YOGURT-500",
    "CHEDDAR-200",
    "BANANAS-1KG",
    "APPLES-1KG",
    "AVOCADO",
    "TOMATOES-500",
    "SPINACH-200",
    "COFFEE-GROUND-500",
    "ESPRESSO-BEANS-1KG",
    "GREEN-TEA-20",
    "FUSILLI-500",
    "BASMATI-1KG",
    "OLIVE-OIL-750",
    "TOMATO-SAUCE-400",
    "DARK-CHOC-100",
    "GRANOLA-500",
    "PEANUT-BUTTER-350",
    "HONEY-500",
    "OAT-FLAKES-500",
    "TORTILLA-CHIPS-200",
    "HUMMUS-200",
    "PIZZA-MARGHERITA",
    "ICE-CREAM-VANILLA-500",
    "CAT-FOOD-400",
    "DOG-TREATS-200",
];

/// VAT of the demo's countries in percent: (region, class, rate).
pub const TAX_RATES: &[(&str, &str, i64)] =
    &[("DE", "standard", 19), ("DE", "reduced", 7), ("AT", "standard", 20), ("AT", "reduced", 10)];

fn sku_inputs() -> Result<Vec<SkuInput>, String> {
    let eur = Currency::parse("EUR")?;
    SKUS.iter()
        .enumerate()
        .map(|(n, &(code, name, cents, spoken))| {
            Ok(SkuInput {
                tax_class: if FOOD.contains(&code) { "reduced" } else { pricing::STANDARD }.to_owned(),
                code: Code::parse(code)?,
                name: name.to_owned(),
                gtin: Some(demo_gtin(n)),
                price: Money::new(cents, eur),
                spoken_names: spoken.iter().map(|s| (*s).to_owned()).collect(),
                active: true,
                components: None,
            })
        })
        .chain(KITS.iter().map(|&DemoKit(code, name, cents, components)| {
            Ok(SkuInput {
                tax_class: pricing::STANDARD.to_owned(),
                code: Code::parse(code)?,
                name: name.to_owned(),
                gtin: None,
                price: Money::new(cents, eur),
                spoken_names: vec![code.to_lowercase().replace('-', " ")],
                active: true,
                components: Some(components.iter().map(|&(c, q)| (c.to_owned(), q)).collect()),
            })
        }))
        .collect()
}

/// Units of the n-th SKU at the l-th location: plenty at the warehouse; in
/// stores a spread from none to a couple of dozen, so that some stores lack
/// what others have.
fn demo_units(n: usize, l: usize, warehouse: bool) -> i64 {
    if warehouse {
        return 200 + (n as i64 * 37) % 300;
    }
    match (n * 7 + l * 13) % 11 {
        0 => 0,
        1 => 1,
        k => (k as i64) * 2 + (n as i64 % 5),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo data set is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(DemoError);

/// Loads the demo retailer; runs inside the caller's transaction.
pub fn load(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<DemoSummary, DemoError> {
    let mut summary = DemoSummary::default();
    let mut new_locations = Vec::new();
    for input in location_inputs().map_err(DemoError::Invalid)? {
        if catalog::location_id_by_code(conn, &input.code)?.is_none() {
            new_locations.push(catalog::create_location(conn, input, now)?);
            summary.locations_created += 1;
        }
    }
    let codes: Vec<&str> = SKUS.iter().map(|s| s.0).collect();
    let all: Vec<&str> = codes.iter().copied().chain(KITS.iter().map(|k| k.0)).collect();
    let existing: HashSet<String> =
        catalog::skus_by_codes(conn, &all)?.into_iter().map(|s| s.code.into_string()).collect();
    for input in sku_inputs().map_err(DemoError::Invalid)? {
        if !existing.contains(input.code.as_str()) {
            catalog::create_sku(conn, input, now)?;
            summary.skus_created += 1;
        }
    }
    // Rates the retailer already set are theirs: only missing ones are added.
    let known = pricing::tax_rates(conn)?;
    for &(region, class, percent) in TAX_RATES {
        if !known.iter().any(|(r, c, _)| r == region && c == class) {
            pricing::set_tax_rate(conn, region, class, Decimal::from(percent), now)?;
            summary.tax_rates_set += 1;
        }
    }
    // Stock arrives once, with a location: a second load leaves counts alone.
    let skus = catalog::skus_by_codes(conn, &codes)?;
    for (l, location) in new_locations.iter().enumerate() {
        let lines: Vec<(SkuId, Quantity)> = skus
            .iter()
            .enumerate()
            .filter_map(|(n, sku)| {
                let units = demo_units(n, l, location.kind == LocationKind::Warehouse);
                Quantity::new(units).ok().map(|q| (sku.id.clone(), q))
            })
            .collect();
        inventory::receive(conn, &location.id, &lines, Some("demo-data"), &Principal::system(), now)?;
    }
    Ok(summary)
}
