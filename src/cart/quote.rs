//! The priced cart as a channel sees it: totals and tax, whether each line
//! can be fulfilled under the chosen intent (and where else), the promotion
//! code's standing.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::{Cart, CartError, CartLine, Editor, Intent};
use crate::catalog::{self, Location};
use crate::db::AnyConnection;
use crate::inventory::{self, Item, LevelAt};
use crate::pricing::{self, Priced, Pricing, PricingError};
use crate::types::LocationId;

/// Where one line can be fulfilled under the cart's intent.
#[derive(Debug, Clone)]
pub struct LineAvailability {
    pub fulfillable: bool,
    /// The location the intent names (pickup), when there is one.
    pub location: Option<String>,
    /// Units available on `basis`.
    pub available: i32,
    pub basis: Basis,
    /// Other pickup locations that have enough.
    pub alternatives: Vec<inventory::Alternative>,
}

/// What a line's `available` counts. There is one definition per purpose:
/// shipping (and a cart with no fulfilment chosen yet) promises from the
/// ship-enabled network, exactly the availability endpoint's
/// `network_available`; pickup from the one store; same-day from the best
/// single store in range, since one courier run carries the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Network,
    PickupLocation,
    SameDayStore,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::PickupLocation => "pickup_location",
            Self::SameDayStore => "same_day_store",
        }
    }
}

/// A cart priced for the channel reading it, with each line's availability.
#[derive(Debug, Clone)]
pub struct Quote {
    pub cart: Cart,
    pub priced: Option<Priced>,
    pub tax: TaxView,
    pub prices_include_tax: bool,
    pub availability: Vec<LineAvailability>,
    /// The pickup location of the intent.
    pub pickup: Option<Location>,
    /// Why the cart's promotion code does not count now, if it does not.
    pub code_problem: Option<CodeProblem>,
}

/// The tax a cart is priced with.
#[derive(Debug, Clone)]
pub struct TaxView {
    /// Where the goods go (or, while that is not chosen, the estimate's region).
    pub region: Option<String>,
    /// Whether the region is an estimate: no fulfilment is chosen yet.
    pub estimated: bool,
    /// Each line's rate in percent; None where no rate is set for its class.
    pub rates: Vec<Option<Decimal>>,
    /// (region, class) without a rate: checkout there is refused.
    pub missing: Vec<(String, String)>,
    /// The region's standard rate in percent.
    pub standard_rate: Option<Decimal>,
}

/// A promotion code in the cart that does not count here and now.
#[derive(Debug, Clone)]
pub struct CodeProblem {
    pub name: String,
    pub reason: String,
}

/// Prices the cart as the caller's channel sees it and checks each line's
/// availability under the intent.
pub fn quote(conn: &mut AnyConnection, cart: Cart, e: &Editor<'_>) -> Result<Quote, CartError> {
    let active = catalog::active_locations(conn)?;
    let locations: HashMap<&LocationId, &Location> = active.iter().map(|l| (&l.id, l)).collect();
    let pickup = match &cart.intent {
        Some(Intent::Pickup { location_id, .. }) => locations.get(location_id).map(|l| (*l).clone()),
        _ => None,
    };
    // Where the goods go decides the tax; before that is chosen, it is
    // estimated for the caller's store or the configured default region.
    let (tax_region, estimated) = match &cart.intent {
        Some(Intent::Pickup { .. }) => (pickup.as_ref().map(|l| l.address.tax_region()), false),
        Some(Intent::Ship { address }) | Some(Intent::SameDay { address, .. }) => {
            (Some(address.postal().tax_region()), false)
        }
        None => {
            let store = e.actor.location_id.as_ref().and_then(|id| locations.get(id)).map(|l| l.address.tax_region());
            (store.or_else(|| e.config.pricing.default_tax_region.clone()), true)
        }
    };
    let code_problem = match &cart.promotion_code {
        Some(code) => match pricing::usable_code(conn, code, e.actor.channel, e.now) {
            Ok(_) => None,
            Err(PricingError::PromotionInvalid { reason, .. }) => {
                let name = pricing::find_code(conn, code)?.map(|p| p.input.name);
                Some(CodeProblem { name: name.unwrap_or_else(|| code.clone()), reason })
            }
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let include = e.config.pricing.prices_include_tax;
    let taxed = match cart.currency {
        Some(currency) => {
            let lines: Vec<pricing::Line<'_>> = cart
                .lines
                .iter()
                .map(|l| pricing::Line::at_unit(l.sku.id.clone(), l.quantity, l.sku.price, &l.sku.tax_class))
                .collect();
            let pricing = Pricing {
                currency,
                code: cart.promotion_code.as_deref(),
                tax_region: tax_region.as_deref(),
                channel: e.actor.channel,
                now: e.now,
                include_tax: include,
            };
            Some(pricing::price_lines(conn, &lines, &pricing)?)
        }
        None => None,
    };
    let standard_rate = match &tax_region {
        Some(region) => pricing::rate_of(conn, region, pricing::STANDARD)?,
        None => None,
    };
    let tax = TaxView {
        region: tax_region,
        estimated,
        rates: taxed.as_ref().map(|t| t.rates.clone()).unwrap_or_default(),
        missing: taxed.as_ref().map(|t| t.missing.clone()).unwrap_or_default(),
        standard_rate,
    };
    let priced = taxed.map(|t| t.priced);
    let items: Vec<Item> = cart.lines.iter().map(|l| Item::of(&l.sku)).collect();
    let levels = inventory::levels_among(conn, &items, locations.values().copied())?;
    let availability =
        cart.lines.iter().map(|l| line_availability(cart.intent.as_ref(), l, &levels, &locations)).collect();
    Ok(Quote { cart, priced, tax, prices_include_tax: include, availability, pickup, code_problem })
}

/// Pure: can `line` be served under `intent`, and where else if not.
fn line_availability(
    intent: Option<&Intent>,
    line: &CartLine,
    levels: &[LevelAt],
    locations: &HashMap<&LocationId, &Location>,
) -> LineAvailability {
    let mine: Vec<&LevelAt> = levels.iter().filter(|l| l.sku_id == line.sku.id).collect();
    let need = line.quantity;
    let origin = match intent {
        Some(Intent::Pickup { location_id, .. }) => locations.get(location_id).map(|l| l.point),
        Some(Intent::Ship { address }) | Some(Intent::SameDay { address, .. }) => address.point(),
        None => None,
    };
    let chosen = match intent {
        Some(Intent::Pickup { location_id, .. }) => Some(location_id),
        _ => None,
    };
    let alternatives = inventory::pickup_alternatives(&mine, need, chosen, origin);
    let (fulfillable, location, available, basis) = match intent {
        Some(Intent::Pickup { location_id, .. }) => {
            let here = mine.iter().find(|l| &l.location_id == location_id).map(|l| l.available()).unwrap_or(0);
            (here >= need, locations.get(location_id).map(|l| l.code.to_string()), here, Basis::PickupLocation)
        }
        Some(Intent::SameDay { address, .. }) => {
            let in_range = |l: &&&LevelAt| {
                locations
                    .get(&l.location_id)
                    .and_then(|loc| loc.capabilities.same_day.map(|sd| (loc.point, sd)))
                    .is_some_and(|(point, sd)| address.point().is_some_and(|a| a.distance_km(point) <= sd.radius_km))
            };
            let best = mine.iter().filter(in_range).map(|l| l.available()).max().unwrap_or(0);
            (best >= need, None, best, Basis::SameDayStore)
        }
        Some(Intent::Ship { .. }) | None => {
            let network: i32 = mine.iter().filter(|l| l.ships).map(|l| l.available()).sum();
            (network >= need, None, network, Basis::Network)
        }
    };
    LineAvailability { fulfillable, location, available, basis, alternatives }
}
