//! Allocation: which location serves which units. Pure, so the rule can be
//! read and tested without a database.
//!
//! - Pickup: everything at the chosen store, or nothing.
//! - Ship: the nearest location that has every line in full; otherwise split
//!   greedily, each step taking the location that covers the most remaining
//!   units (nearest first on ties), which keeps the number of parcels low.
//! - Same-day: the nearest in-range location that has every line in full.

use std::collections::HashMap;

use crate::catalog::{self, Sku};
use crate::inventory::{self, LevelAt, Shortage};
use crate::types::{GeoPoint, LocationId, SkuId};

/// A line to allocate.
#[derive(Debug, Clone)]
pub struct Want {
    pub sku_id: SkuId,
    pub quantity: i32,
}

/// A location that may serve, with what it can promise.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub location_id: LocationId,
    pub point: GeoPoint,
    pub available: HashMap<SkuId, i32>,
}

impl Candidate {
    fn has(&self, sku: &SkuId) -> i32 {
        self.available.get(sku).copied().unwrap_or(0).max(0)
    }

    fn has_all(&self, wants: &[Want]) -> bool {
        wants.iter().all(|w| self.has(&w.sku_id) >= w.quantity)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Everything from this one location (a pickup store).
    At(Location),
    /// One location with everything, nearest to the point; else the fewest.
    Split(Option<GeoPoint>),
    /// One location with everything, nearest to the point.
    Whole(GeoPoint),
}

/// Index into the candidates.
pub type Location = usize;

/// Units of each line (by index into the wants) from one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub location_id: LocationId,
    pub lines: Vec<(usize, i32)>,
}

fn distance(c: &Candidate, to: Option<GeoPoint>) -> f64 {
    to.map(|p| c.point.distance_km(p)).unwrap_or(0.0)
}

fn whole(wants: &[Want], candidate: &Candidate) -> Part {
    Part {
        location_id: candidate.location_id.clone(),
        lines: wants.iter().enumerate().map(|(i, w)| (i, w.quantity)).collect(),
    }
}

/// Allocates every want, or names the lines (by index) that cannot be.
pub fn allocate(wants: &[Want], candidates: &[Candidate], rule: Rule) -> Result<Vec<Part>, Vec<usize>> {
    // Nothing wanted is nothing to send: no location gets an empty part.
    if wants.is_empty() {
        return Ok(Vec::new());
    }
    let short_of = |c: Option<&Candidate>| -> Vec<usize> {
        wants
            .iter()
            .enumerate()
            .filter(|(_, w)| c.is_none_or(|c| c.has(&w.sku_id) < w.quantity))
            .map(|(i, _)| i)
            .collect()
    };
    match rule {
        Rule::At(index) => {
            let candidate = candidates.get(index);
            match candidate.filter(|c| c.has_all(wants)) {
                Some(c) => Ok(vec![whole(wants, c)]),
                None => Err(short_of(candidate)),
            }
        }
        Rule::Whole(to) => candidates
            .iter()
            .filter(|c| c.has_all(wants))
            .min_by(|a, b| distance(a, Some(to)).total_cmp(&distance(b, Some(to))))
            .map(|c| vec![whole(wants, c)])
            .ok_or_else(|| {
                // The lines no single candidate can serve in full.
                let mut short: Vec<usize> = (0..wants.len())
                    .filter(|&i| candidates.iter().all(|c| c.has(&wants[i].sku_id) < wants[i].quantity))
                    .collect();
                if short.is_empty() {
                    short = (0..wants.len()).collect();
                }
                short
            }),
        Rule::Split(to) => {
            if let Some(c) = candidates
                .iter()
                .filter(|c| c.has_all(wants))
                .min_by(|a, b| distance(a, to).total_cmp(&distance(b, to)).then(a.location_id.cmp(&b.location_id)))
            {
                return Ok(vec![whole(wants, c)]);
            }
            let mut left: Vec<i32> = wants.iter().map(|w| w.quantity).collect();
            let mut used = vec![false; candidates.len()];
            let mut parts = Vec::new();
            loop {
                let covers =
                    |c: &Candidate| -> i32 { wants.iter().zip(&left).map(|(w, l)| c.has(&w.sku_id).min(*l)).sum() };
                let best = candidates.iter().enumerate().filter(|(i, c)| !used[*i] && covers(c) > 0).max_by(
                    |(_, a), (_, b)| covers(a).cmp(&covers(b)).then(distance(b, to).total_cmp(&distance(a, to))),
                );
                let Some((i, c)) = best else { break };
                used[i] = true;
                let mut lines = Vec::new();
                for (k, w) in wants.iter().enumerate() {
                    let take = c.has(&w.sku_id).min(left[k]);
                    if take > 0 {
                        lines.push((k, take));
                        left[k] -= take;
                    }
                }
                parts.push(Part { location_id: c.location_id.clone(), lines });
            }
            let short: Vec<usize> = left.iter().enumerate().filter(|(_, l)| **l > 0).map(|(i, _)| i).collect();
            if short.is_empty() { Ok(parts) } else { Err(short) }
        }
    }
}

/// Candidates for allocation: what each eligible location can give.
pub fn candidates(levels: &[LevelAt], eligible: &[&catalog::Location], measure: fn(&LevelAt) -> i32) -> Vec<Candidate> {
    eligible
        .iter()
        .map(|l| Candidate {
            location_id: l.id.clone(),
            point: l.point,
            available: levels
                .iter()
                .filter(|v| v.location_id == l.id)
                .map(|v| (v.sku_id.clone(), measure(v)))
                .collect(),
        })
        .collect()
}

/// Names short lines with what is available and nearby alternatives, for the
/// `insufficient-stock` problem.
pub fn shortages(
    wants: &[Want],
    short: &[usize],
    skus: &[Sku],
    levels: &[LevelAt],
    at: Option<&catalog::Location>,
    near: Option<crate::types::GeoPoint>,
) -> Vec<Shortage> {
    short
        .iter()
        .map(|&i| {
            let want = &wants[i];
            let mine: Vec<&LevelAt> = levels.iter().filter(|l| l.sku_id == want.sku_id).collect();
            let here = at
                .map(|a| mine.iter().filter(|l| l.location_id == a.id).map(|l| l.available()).sum())
                .unwrap_or_else(|| mine.iter().filter(|l| l.ships).map(|l| l.available()).sum());
            let origin = at.map(|a| a.point).or(near);
            let alternatives = inventory::pickup_alternatives(&mine, want.quantity, at.map(|a| &a.id), origin);
            Shortage {
                sku_code: skus[i].code.to_string(),
                location_code: at.map(|a| a.code.to_string()).unwrap_or_else(|| "network".to_owned()),
                requested: want.quantity,
                available: here,
                alternatives,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_wanted_sends_nothing() {
        let candidate = Candidate {
            location_id: LocationId("L".into()),
            point: GeoPoint { latitude: 52.5, longitude: 13.4 },
            available: HashMap::new(),
        };
        for rule in [Rule::At(0), Rule::Split(None), Rule::Whole(candidate.point)] {
            assert_eq!(allocate(&[], std::slice::from_ref(&candidate), rule), Ok(Vec::new()));
        }
    }

    fn want(sku: &str, quantity: i32) -> Want {
        Want { sku_id: SkuId(sku.into()), quantity }
    }

    fn candidate(id: &str, lat: f64, stock: &[(&str, i32)]) -> Candidate {
        Candidate {
            location_id: LocationId(id.into()),
            point: GeoPoint { latitude: lat, longitude: 13.4 },
            available: stock.iter().map(|(s, q)| (SkuId((*s).into()), *q)).collect(),
        }
    }

    #[test]
    fn pickup_takes_everything_from_the_store_or_names_what_is_short() {
        let c = [candidate("S", 52.5, &[("A", 2), ("B", 0)])];
        assert_eq!(allocate(&[want("A", 2)], &c, Rule::At(0)).unwrap().len(), 1);
        assert_eq!(allocate(&[want("A", 2), want("B", 1)], &c, Rule::At(0)), Err(vec![1]));
    }

    #[test]
    fn shipping_prefers_the_nearest_location_with_every_line() {
        let c = [
            candidate("FAR", 53.5, &[("A", 5), ("B", 5)]),
            candidate("NEAR", 52.6, &[("A", 5), ("B", 5)]),
            candidate("PARTIAL", 52.5, &[("A", 5)]),
        ];
        let parts = allocate(
            &[want("A", 1), want("B", 1)],
            &c,
            Rule::Split(Some(GeoPoint { latitude: 52.5, longitude: 13.4 })),
        )
        .unwrap();
        assert_eq!(parts, vec![Part { location_id: LocationId("NEAR".into()), lines: vec![(0, 1), (1, 1)] }]);
    }

    #[test]
    fn shipping_splits_across_the_fewest_locations() {
        let c = [
            candidate("X", 52.5, &[("A", 1)]),
            candidate("Y", 52.6, &[("A", 3), ("B", 2)]),
            candidate("Z", 52.7, &[("C", 1)]),
        ];
        let parts = allocate(&[want("A", 3), want("B", 2), want("C", 1)], &c, Rule::Split(None)).unwrap();
        let locations: Vec<&str> = parts.iter().map(|p| p.location_id.as_str()).collect();
        assert_eq!(locations, ["Y", "Z"]);
        let split = allocate(&[want("A", 4)], &c, Rule::Split(None)).unwrap();
        assert_eq!(split.iter().map(|p| p.lines[0].1).sum::<i32>(), 4, "a line may be split");
        assert_eq!(allocate(&[want("A", 9), want("C", 1)], &c, Rule::Split(None)), Err(vec![0]));
    }

    #[test]
    fn same_day_needs_one_location_with_everything() {
        let c = [candidate("X", 52.5, &[("A", 1)]), candidate("Y", 52.6, &[("B", 1)])];
        let to = GeoPoint { latitude: 52.5, longitude: 13.4 };
        assert!(allocate(&[want("A", 1), want("B", 1)], &c, Rule::Whole(to)).is_err());
        assert_eq!(allocate(&[want("B", 1)], &c, Rule::Whole(to)).unwrap()[0].location_id.as_str(), "Y");
    }
}
