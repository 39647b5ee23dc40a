//! Available to promise: per location, across the ship-enabled network, and
//! for pickup near a point; and the explanation of one number.

use std::collections::HashMap;

use super::model::{Item, Level, LevelAt, ReservationRow};
use crate::catalog::{Component, Sku};
use crate::types::{GeoPoint, LocationId};

/// One SKU at one location.
#[derive(Debug, Clone)]
pub struct LocationAvailability {
    pub location_id: LocationId,
    pub location_code: String,
    pub available: i32,
    pub ships: bool,
    pub pickup: bool,
}

#[derive(Debug, Clone)]
pub struct SkuAvailability {
    pub sku_code: String,
    /// Sum over active, ship-enabled locations: what online can promise.
    pub network_available: i32,
    pub locations: Vec<LocationAvailability>,
}

/// A kit's levels, one per location that has every component: as many
/// kits as the scarcest component makes, ⌊available ÷ units per kit⌋. The
/// kit holds nothing itself, so what it can promise is all it "has on hand".
pub fn kit_levels(kit: &Item, levels: &[LevelAt]) -> Vec<LevelAt> {
    let mut by_location: HashMap<&LocationId, Vec<&LevelAt>> = HashMap::new();
    for level in levels {
        by_location.entry(&level.location_id).or_default().push(level);
    }
    let mut out: Vec<LevelAt> = by_location
        .into_values()
        .filter_map(|here| {
            let kits = kit
                .components
                .iter()
                .map(|c| here.iter().find(|l| l.sku_id == c.sku_id).map(|l| l.available() / c.quantity.max(1)))
                .min()??;
            let first = here[0];
            Some(LevelAt { sku_id: kit.sku_id.clone(), on_hand: kits, reserved: 0, safety_stock: 0, ..first.clone() })
        })
        .collect();
    out.sort_by(|a, b| a.location_id.cmp(&b.location_id));
    out
}

/// A pickup location near the customer, with what it has of each SKU asked.
#[derive(Debug, Clone)]
pub struct PickupOption {
    pub location_id: LocationId,
    pub location_code: String,
    pub location_name: String,
    pub distance_km: f64,
    /// (SKU code, available) in the order asked.
    pub items: Vec<(String, i32)>,
    /// Every SKU asked is available here (at least one unit).
    pub has_all: bool,
}

#[derive(Debug, Clone)]
pub struct Availability {
    pub skus: Vec<SkuAvailability>,
    /// Pickup locations by distance, when a point was given.
    pub pickup_near: Vec<PickupOption>,
}

/// Builds the answer from the levels of the SKUs asked (pure: no I/O).
pub fn summarise(skus: &[Sku], levels: &[LevelAt], near: Option<GeoPoint>) -> Availability {
    let mut by_sku: HashMap<&str, Vec<&LevelAt>> = HashMap::new();
    for level in levels {
        by_sku.entry(level.sku_id.as_str()).or_default().push(level);
    }
    let skus_out = skus
        .iter()
        .map(|sku| {
            let mut at: Vec<&LevelAt> = by_sku.get(sku.id.as_str()).cloned().unwrap_or_default();
            at.sort_by(|a, b| a.location_code.cmp(&b.location_code));
            SkuAvailability {
                sku_code: sku.code.to_string(),
                network_available: at.iter().filter(|l| l.ships).map(|l| l.available()).sum(),
                locations: at
                    .iter()
                    .map(|l| LocationAvailability {
                        location_id: l.location_id.clone(),
                        location_code: l.location_code.clone(),
                        available: l.available(),
                        ships: l.ships,
                        pickup: l.pickup,
                    })
                    .collect(),
            }
        })
        .collect();
    let pickup_near = near.map(|point| pickup_options(skus, levels, point)).unwrap_or_default();
    Availability { skus: skus_out, pickup_near }
}

fn pickup_options(skus: &[Sku], levels: &[LevelAt], point: GeoPoint) -> Vec<PickupOption> {
    let mut by_location: HashMap<&str, Vec<&LevelAt>> = HashMap::new();
    for level in levels.iter().filter(|l| l.pickup) {
        by_location.entry(level.location_id.as_str()).or_default().push(level);
    }
    let mut options: Vec<PickupOption> = by_location
        .values()
        .map(|at| {
            let first = at[0];
            let items: Vec<(String, i32)> = skus
                .iter()
                .map(|sku| {
                    let available = at.iter().find(|l| l.sku_id == sku.id).map(|l| l.available()).unwrap_or(0);
                    (sku.code.to_string(), available)
                })
                .collect();
            PickupOption {
                location_id: first.location_id.clone(),
                location_code: first.location_code.clone(),
                location_name: first.location_name.clone(),
                distance_km: first.point.distance_km(point),
                has_all: items.iter().all(|(_, a)| *a > 0),
                items,
            }
        })
        .collect();
    options.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
    options
}

/// Why a level's available quantity is what it is.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub level: Level,
    /// Each active hold on this level, with its quantity of the SKU.
    pub reservations: Vec<(ReservationRow, i32)>,
    /// For a kit (whose own level is all zero): each component's level and
    /// the kits it allows, scarcest first.
    pub components: Vec<ComponentExplained>,
}

/// One component of a kit at the location explained.
#[derive(Debug, Clone)]
pub struct ComponentExplained {
    pub component: Component,
    pub level: Level,
    /// ⌊available ÷ units per kit⌋.
    pub kits: i32,
}

impl ComponentExplained {
    pub fn new(component: Component, level: Level) -> Self {
        let kits = level.available() / component.quantity.max(1);
        Self { component, level, kits }
    }
}

impl Explanation {
    /// What can be promised: a kit's scarcest component decides.
    pub fn available(&self) -> i32 {
        match self.components.first() {
            Some(scarcest) => scarcest.kits,
            None => self.level.available(),
        }
    }

    /// The component that limits a kit.
    pub fn limiting(&self) -> Option<&ComponentExplained> {
        self.components.first()
    }

    /// For a kit: "3 kits: MUG limits it (7 available ÷ 2 per kit); TEA allows 12 (12 ÷ 1)".
    fn kit_sentence(&self) -> Option<String> {
        let (scarcest, others) = self.components.split_first()?;
        let part =
            |c: &ComponentExplained| format!("{} available ÷ {} per kit", c.level.available(), c.component.quantity);
        let mut sentence =
            format!("{} kits: {} limits it ({})", scarcest.kits, scarcest.component.sku_code, part(scarcest));
        for c in others {
            sentence.push_str(&format!("; {} allows {} ({})", c.component.sku_code, c.kits, part(c)));
        }
        Some(sentence)
    }

    /// The sum support reads out: "12 on hand − 3 reserved (…) − 1 safety stock = 8 available".
    pub fn sentence(&self) -> String {
        if let Some(kit) = self.kit_sentence() {
            return kit;
        }
        let l = &self.level;
        let mut by_purpose: Vec<(String, i32)> = Vec::new();
        for (row, quantity) in &self.reservations {
            match by_purpose.iter_mut().find(|(p, _)| *p == row.purpose) {
                Some((_, total)) => *total += quantity,
                None => by_purpose.push((row.purpose.clone(), *quantity)),
            }
        }
        let held = if by_purpose.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = by_purpose.iter().map(|(p, q)| format!("{q} {p}")).collect();
            format!(" ({})", parts.join(", "))
        };
        let mut sentence = format!(
            "{} on hand − {} reserved{} − {} safety stock = {} available",
            l.on_hand,
            l.reserved,
            held,
            l.safety_stock,
            l.available()
        );
        if l.on_hand - l.reserved - l.safety_stock < 0 {
            sentence.push_str(" (the difference is below zero, so nothing can be promised)");
        }
        sentence
    }
}
