//! The command line: serve, migrate, keys, demo data, imports, the contract.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use omnistock::access::{self, AccessError, Channel, NewKey, Principal, Role};
use omnistock::catalog::{self, Upserted};
use omnistock::clock::SystemClock;
use omnistock::config::Config;
use omnistock::context::Context;
use omnistock::db::AnyConnection;
use omnistock::http::dto::MoneyInput;
use omnistock::http::dto::catalog::SkuRequest;
use omnistock::http::problem::ApiError;
use omnistock::inventory;
use omnistock::types::{Code, Quantity};
use omnistock::{Application, demo, marketplace};
use serde::Deserialize;

#[derive(Parser)]
#[command(name = "omnistock", version, about = "One order and inventory service for every channel")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default command).
    Serve {
        /// Load the demo retailer, create demo keys and print how to call the API.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Load the demo retailer (idempotent).
    DemoData,
    /// Bulk-load data from a JSON or CSV file.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Print the OpenAPI document (what `api-spec/openapi.json` holds).
    Openapi,
    /// Prove every stock level equals the sum of its ledger and of its active reservations.
    CheckLedger,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; its secret is printed once, on the last line.
    Create {
        #[arg(long, value_parser = Role::parse)]
        role: Role,
        /// Location code (pos and staff keys).
        #[arg(long)]
        location: Option<String>,
        /// web, app, voice or kiosk (storefront keys).
        #[arg(long, value_parser = Channel::parse)]
        channel: Option<Channel>,
        /// Marketplace name or id (marketplace keys).
        #[arg(long)]
        marketplace: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Create or replace SKUs from a JSON array or a CSV file
    /// (columns: code,name,gtin,price,currency,spoken_names,active; spoken names separated by ';').
    Skus { file: PathBuf },
    /// Set stock levels by absolute count from a JSON array or a CSV file
    /// (columns: location,sku,on_hand,safety_stock,aisle; the last two optional).
    /// The ledger records each difference as a count.
    Stock { file: PathBuf },
    /// Map SKUs to a marketplace's listings from a JSON array or a CSV file
    /// (columns: sku,listing_id,seller_sku; the last optional).
    Listings { marketplace: String, file: PathBuf },
}

pub async fn run(cli: Cli, config: Config) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => {
            omnistock::open(config, Arc::new(SystemClock)).await.map(|_| println!("migrations applied"))
        }
        Command::Keys { command } => keys(open(config).await?, command).await,
        Command::DemoData => {
            let summary = load_demo(&open(config).await?).await?;
            println!(
                "demo data loaded: {} locations, {} SKUs and {} tax rates created",
                summary.locations_created, summary.skus_created, summary.tax_rates_set
            );
            Ok(())
        }
        Command::Import { what: ImportCommand::Skus { file } } => import_skus(&open(config).await?, &file).await,
        Command::Import { what: ImportCommand::Stock { file } } => import_stock(&open(config).await?, &file).await,
        Command::Import { what: ImportCommand::Listings { marketplace, file } } => {
            import_listings(&open(config).await?, &marketplace, &file).await
        }
        Command::CheckLedger => check_ledger(&open(config).await?).await,
        Command::Openapi => {
            print!("{}", omnistock::http::openapi_document());
            Ok(())
        }
    }
}

async fn open(config: Config) -> Result<Context, String> {
    omnistock::open(config, Arc::new(SystemClock)).await
}

async fn load_demo(ctx: &Context) -> Result<demo::DemoSummary, String> {
    let now = ctx.now();
    ctx.db.write(move |conn| demo::load(conn, now)).await.map_err(|e| e.to_string())
}

async fn serve(mut config: Config, with_demo: bool) -> Result<(), String> {
    if with_demo && config.pricing.default_tax_region.is_none() {
        // The demo retailer sells in Germany: carts estimate its VAT until
        // a fulfilment says where the goods go.
        config.pricing.default_tax_region = Some("DE".to_owned());
    }
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    let ctx = app.context().clone();
    let base = format!("http://{}:{}", ctx.config.addr.ip(), app.port());
    if with_demo {
        load_demo(&ctx).await?;
        print_demo_keys(&ctx, &base).await?;
    }
    tracing::info!(address = %base, backend = ctx.db.backend(), "omnistock is serving");
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn print_demo_keys(ctx: &Context, base: &str) -> Result<(), String> {
    let wanted = [
        ("admin", Role::Admin, None, None),
        ("staff BER-MITTE", Role::Staff, Some("BER-MITTE"), None),
        ("pos BER-MITTE", Role::Pos, Some("BER-MITTE"), None),
        ("storefront web", Role::Storefront, None, Some(Channel::Web)),
        ("storefront app", Role::Storefront, None, Some(Channel::App)),
        ("storefront voice", Role::Storefront, None, Some(Channel::Voice)),
    ];
    let now = ctx.now();
    let keys = ctx
        .db
        .write(move |conn| {
            wanted
                .into_iter()
                .map(|(label, role, location, channel)| {
                    let new = resolve_key(conn, format!("demo {label}"), role, location, channel, None)?;
                    access::create_key(conn, new, now).map(|(_, secret)| (label, secret))
                })
                .collect::<Result<Vec<_>, AccessError>>()
        })
        .await
        .map_err(|e| e.to_string())?;
    println!("\nomnistock serves {base} ({} database) with the demo retailer loaded.", ctx.db.backend());
    println!("API keys made for this run (send as 'Authorization: Bearer <key>'):");
    for (label, secret) in &keys {
        println!("  {label:<18} {secret}");
    }
    let admin = &keys[0].1;
    println!("\nTry:");
    println!("  curl -s {base}/v1/locations -H 'Authorization: Bearer {admin}'");
    println!("  curl -s '{base}/v1/skus?q=oat' -H 'Authorization: Bearer {admin}'");
    println!("  curl -s {base}/openapi.json");
    println!("  {base}/staff/ in a browser: the staff app (sign in with the staff or admin key)\n");
    Ok(())
}

/// A new key with the location and marketplace it names resolved to their
/// ids: `access` knows ids only.
fn resolve_key(
    conn: &mut AnyConnection,
    name: String,
    role: Role,
    location: Option<&str>,
    channel: Option<Channel>,
    marketplace: Option<&str>,
) -> Result<NewKey, AccessError> {
    let location_id = location
        .map(|raw| {
            let code = Code::parse(raw).map_err(|e| AccessError::Invalid(format!("--location: {e}")))?;
            catalog::location_id_by_code(conn, &code)
                .map_err(|e| AccessError::Invalid(e.to_string()))?
                .ok_or_else(|| AccessError::Invalid(format!("no location with code '{code}'")))
        })
        .transpose()?;
    let marketplace_id = marketplace
        .map(|name_or_id| {
            marketplace::id_by_name_or_id(conn, name_or_id)?
                .ok_or_else(|| AccessError::Invalid(format!("no marketplace '{name_or_id}'")))
        })
        .transpose()?;
    Ok(NewKey { name, role, location_id, channel, marketplace_id })
}

async fn keys(ctx: Context, command: KeysCommand) -> Result<(), String> {
    let now = ctx.now();
    match command {
        KeysCommand::Create { role, location, channel, marketplace, name } => {
            let (key, secret) = ctx
                .db
                .write(move |conn| {
                    let new = resolve_key(conn, name, role, location.as_deref(), channel, marketplace.as_deref())?;
                    access::create_key(conn, new, now)
                })
                .await
                .map_err(|e| e.to_string())?;
            println!("created {} key {} ({})", key.role, key.id, key.name);
            println!("{secret}");
        }
        KeysCommand::List => {
            let keys = ctx.db.read(access::list_keys).await.map_err(|e| e.to_string())?;
            println!("{:<38} {:<12} {:<12} {:<10} NAME", "ID", "ROLE", "CHANNEL", "STATUS");
            for key in keys {
                let status = if key.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{:<38} {:<12} {:<12} {:<10} {}", key.id, key.role, key.channel, status, key.name);
            }
        }
        KeysCommand::Revoke { id } => {
            let shown = id.clone();
            ctx.db.write(move |conn| access::revoke_key(conn, &id, now)).await.map_err(|e| e.to_string())?;
            println!("revoked key {shown}");
        }
    }
    Ok(())
}

/// One line describing why a row was refused.
fn reason(error: &ApiError) -> String {
    let problem = error.to_problem();
    match problem.extensions.get("errors").and_then(|e| e.as_array()) {
        Some(errors) if errors.len() > 1 => errors
            .iter()
            .map(|e| format!("{} {}", e["pointer"].as_str().unwrap_or(""), e["detail"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; "),
        _ => problem.detail,
    }
}

#[derive(Deserialize)]
struct SkuCsvRow {
    code: String,
    name: String,
    #[serde(default)]
    gtin: Option<String>,
    price: String,
    currency: String,
    #[serde(default)]
    spoken_names: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    tax_class: Option<String>,
}

impl SkuCsvRow {
    fn into_request(self) -> Result<SkuRequest, String> {
        let active = match self.active.as_deref().map(str::trim) {
            None | Some("") | Some("true") | Some("1") | Some("yes") => true,
            Some("false") | Some("0") | Some("no") => false,
            Some(other) => return Err(format!("/active: '{other}' is not true or false")),
        };
        Ok(SkuRequest {
            code: Some(self.code),
            name: self.name,
            gtin: self.gtin,
            price: MoneyInput { amount: self.price, currency: self.currency },
            spoken_names: self
                .spoken_names
                .unwrap_or_default()
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            active,
            tax_class: self.tax_class.filter(|c| !c.trim().is_empty()),
            components: None,
        })
    }
}

/// A numbered input row: the request, or why it cannot be read.
type NumberedRow<Req> = (usize, Result<Req, String>);

/// Reads rows as (row number, request or reason it cannot be read).
fn read_rows<Row, Req>(
    path: &Path,
    from_csv: impl Fn(Row) -> Result<Req, String>,
) -> Result<Vec<NumberedRow<Req>>, String>
where
    Row: serde::de::DeserializeOwned,
    Req: serde::de::DeserializeOwned,
{
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let mut reader = csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // Row 1 is the header, so data rows are numbered from 2 as a spreadsheet shows them.
        Ok(reader
            .deserialize::<Row>()
            .enumerate()
            .map(|(i, row)| (i + 2, row.map_err(|e| e.to_string()).and_then(&from_csv)))
            .collect())
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a JSON array: {e}", path.display()))?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| (i + 1, serde_json::from_value::<Req>(row).map_err(|e| e.to_string())))
            .collect())
    }
}

/// A progress bar on stderr; hidden when stderr is not a terminal.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Prints the per-row report and the totals.
pub fn report(rejected: &[(usize, String)], totals: &[(&str, usize)]) {
    for (row, why) in rejected {
        println!("row {row}: rejected: {why}");
    }
    let parts: Vec<String> = totals.iter().map(|(label, n)| format!("{n} {label}")).collect();
    println!("{}, {} rejected", parts.join(", "), rejected.len());
}

async fn import_skus(ctx: &Context, path: &Path) -> Result<(), String> {
    let rows = read_rows::<SkuCsvRow, SkuRequest>(path, SkuCsvRow::into_request)?;
    let bar = progress(rows.len(), "importing SKUs");
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    let mut rejected = Vec::new();
    for (row, request) in rows {
        bar.inc(1);
        let input = match request.and_then(|r| r.into_input(None).map_err(|e| reason(&e))) {
            Ok(input) => input,
            Err(why) => {
                rejected.push((row, why));
                continue;
            }
        };
        let now = ctx.now();
        // One transaction per row: a bad row never blocks or half-writes a good one.
        match ctx.db.write(move |conn| catalog::upsert_sku(conn, input, now)).await {
            Ok(Upserted::Created) => created += 1,
            Ok(Upserted::Updated) => updated += 1,
            Ok(Upserted::Unchanged) => unchanged += 1,
            Err(error) => rejected.push((row, reason(&ApiError::from(error)))),
        }
    }
    bar.finish_and_clear();
    report(&rejected, &[("created", created), ("updated", updated), ("unchanged", unchanged)]);
    Ok(())
}

async fn check_ledger(ctx: &Context) -> Result<(), String> {
    let (checked, mismatches) = ctx.db.read(inventory::check_ledger).await.map_err(|e| e.to_string())?;
    for m in &mismatches {
        println!(
            "MISMATCH {} at {}: on_hand {} but ledger says {}; reserved {} but ledger says {} and active reservations hold {}",
            m.sku_code,
            m.location_code,
            m.on_hand,
            m.ledger_on_hand,
            m.reserved,
            m.ledger_reserved,
            m.held_by_reservations
        );
    }
    if mismatches.is_empty() {
        println!("checked {checked} stock levels: every level equals its ledger and its active reservations");
        Ok(())
    } else {
        Err(format!("{} of {checked} stock levels disagree with the ledger", mismatches.len()))
    }
}

/// One row of a stock import.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockRow {
    location: String,
    sku: String,
    on_hand: i64,
    #[serde(default)]
    safety_stock: Option<i64>,
    #[serde(default)]
    aisle: Option<String>,
}

fn stock_row_values(row: &StockRow) -> Result<(i32, Option<i32>), String> {
    let count = |name: &str, value: i64| {
        if value == 0 { Ok(0) } else { Quantity::new(value).map(Quantity::get).map_err(|e| format!("{name}: {e}")) }
    };
    Ok((count("on_hand", row.on_hand)?, row.safety_stock.map(|s| count("safety_stock", s)).transpose()?))
}

async fn import_stock(ctx: &Context, path: &Path) -> Result<(), String> {
    let rows = read_rows::<StockRow, StockRow>(path, Ok)?;
    let bar = progress(rows.len(), "importing stock");
    let (mut changed, mut unchanged) = (0, 0);
    let mut rejected = Vec::new();
    let actor = Principal::system();
    for (number, row) in rows {
        bar.inc(1);
        let parsed = row.and_then(|row| stock_row_values(&row).map(|values| (row, values)));
        let (row, (on_hand, safety)) = match parsed {
            Ok(parsed) => parsed,
            Err(why) => {
                rejected.push((number, why));
                continue;
            }
        };
        let now = ctx.now();
        let actor = actor.clone();
        let result = ctx
            .db
            .write(move |conn| {
                let location = inventory::active_location(conn, &row.location)?;
                let sku = catalog::get_sku(conn, &row.sku)?;
                let (_, difference) =
                    inventory::count(conn, &location.id, &sku.id, on_hand, Some("stock import"), &actor, now)?;
                if safety.is_some() || row.aisle.is_some() {
                    let current = inventory::level(conn, &location.id, &sku.id)?;
                    let aisle = row.aisle.as_deref().or(current.aisle.as_deref());
                    inventory::set_settings(
                        conn,
                        &location.id,
                        &sku.id,
                        safety.unwrap_or(current.safety_stock),
                        aisle,
                        now,
                    )?;
                }
                Ok::<_, inventory::InventoryError>(difference)
            })
            .await;
        match result {
            Ok(0) => unchanged += 1,
            Ok(_) => changed += 1,
            Err(error) => rejected.push((number, reason(&ApiError::from(error)))),
        }
    }
    bar.finish_and_clear();
    report(&rejected, &[("counted", changed), ("unchanged", unchanged)]);
    Ok(())
}

/// One row of a listings import.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListingRow {
    sku: String,
    listing_id: String,
    #[serde(default)]
    seller_sku: Option<String>,
}

async fn import_listings(ctx: &Context, marketplace: &str, path: &Path) -> Result<(), String> {
    let name = marketplace.to_owned();
    let id = ctx
        .db
        .read(move |conn| omnistock::marketplace::id_by_name_or_id(conn, &name))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no marketplace '{marketplace}'"))?;
    let rows = read_rows::<ListingRow, ListingRow>(path, Ok)?;
    let bar = progress(rows.len(), "importing listings");
    let mut mapped = 0;
    let mut rejected = Vec::new();
    for (number, row) in rows {
        bar.inc(1);
        let row = match row {
            Ok(row) if !row.listing_id.trim().is_empty() => row,
            Ok(_) => {
                rejected.push((number, "listing_id is empty".to_owned()));
                continue;
            }
            Err(why) => {
                rejected.push((number, why));
                continue;
            }
        };
        let (id, now) = (id.clone(), ctx.now());
        let result = ctx
            .db
            .write(move |conn| {
                omnistock::marketplace::put_listing(
                    conn,
                    &id,
                    &row.sku,
                    row.listing_id.trim(),
                    row.seller_sku.as_deref(),
                    now,
                )
            })
            .await;
        match result {
            Ok(_) => mapped += 1,
            Err(error) => rejected.push((number, reason(&ApiError::from(error)))),
        }
    }
    bar.finish_and_clear();
    report(&rejected, &[("mapped", mapped)]);
    Ok(())
}
