//! Property test: random sequences of stock operations against a simple model.
//! After every operation each level equals the model, nothing is negative,
//! and at the end the ledger sums to every level. Two SKUs, A and B, are
//! also sold together as a kit of two A and one B (holds and counter sales).

use chrono::{DateTime, Duration, Utc};
use omnistock::access::Principal;
use omnistock::context::Context;
use omnistock::db::AnyConnection;
use omnistock::inventory::reservation::{self, NewReservation};
use omnistock::inventory::{self, InventoryError, Item, Purpose};
use omnistock::types::{LocationId, Quantity, ReservationId, SkuId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
enum Op {
    Receive(usize, i32),
    Adjust(usize, i32),
    Count(usize, i32),
    Reserve(usize, i32, bool),
    Release(usize),
    Commit(usize),
    Transfer(usize, i32),
    Expire,
    ReceiveB(usize, i32),
    /// Kits held (location, kits, expires).
    ReserveKit(usize, i32, bool),
    /// Kits sold at the counter, with no hold.
    SellKit(usize, i32),
}

/// Units of A and of B in one kit.
const KIT: [i32; 2] = [2, 1];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 1..20i32).prop_map(|(l, q)| Op::Receive(l, q)),
        (0..2usize, -10..10i32).prop_filter("not zero", |(_, d)| *d != 0).prop_map(|(l, d)| Op::Adjust(l, d)),
        (0..2usize, 0..25i32).prop_map(|(l, c)| Op::Count(l, c)),
        (0..2usize, 1..8i32, any::<bool>()).prop_map(|(l, q, e)| Op::Reserve(l, q, e)),
        (0..8usize).prop_map(Op::Release),
        (0..8usize).prop_map(Op::Commit),
        (0..2usize, 1..10i32).prop_map(|(l, q)| Op::Transfer(l, q)),
        Just(Op::Expire),
        (0..2usize, 1..20i32).prop_map(|(l, q)| Op::ReceiveB(l, q)),
        (0..2usize, 1..5i32, any::<bool>()).prop_map(|(l, q, e)| Op::ReserveKit(l, q, e)),
        (0..2usize, 1..4i32).prop_map(|(l, q)| Op::SellKit(l, q)),
    ]
}

#[derive(Debug, Clone)]
struct Hold {
    id: ReservationId,
    location: usize,
    /// Units of A and of B.
    parts: [i32; 2],
    expires: bool,
    active: bool,
}

#[derive(Debug, Default)]
struct Model {
    /// By SKU (A, B), then location.
    on_hand: [[i32; 2]; 2],
    reserved: [[i32; 2]; 2],
    holds: Vec<Hold>,
}

impl Model {
    fn unreserved(&self, sku: usize, l: usize) -> i32 {
        self.on_hand[sku][l] - self.reserved[sku][l]
    }

    fn kits_fit(&self, l: usize, kits: i32) -> bool {
        (0..2).all(|s| self.unreserved(s, l) >= KIT[s] * kits)
    }
}

struct World<'a> {
    conn: &'a mut AnyConnection,
    sku: SkuId,
    b: SkuId,
    kit: Item,
    locations: [LocationId; 2],
    now: DateTime<Utc>,
}

impl World<'_> {
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut AnyConnection, &Principal, DateTime<Utc>) -> Result<T, InventoryError>,
    ) -> Result<T, InventoryError> {
        let now = self.now;
        self.conn.write(|c| f(c, &Principal::system(), now))
    }
}

fn q(n: i32) -> Quantity {
    Quantity::new(i64::from(n)).expect("positive quantity")
}

/// Applies one operation to the database and the model; asserts they agree
/// on whether it was allowed.
fn step(world: &mut World<'_>, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let sku = world.sku.clone();
    let locations = world.locations.clone();
    match *op {
        Op::Receive(l, n) => {
            world
                .write(|c, a, now| inventory::receive(c, &locations[l], &[(sku.clone(), q(n))], None, a, now))
                .unwrap();
            model.on_hand[0][l] += n;
        }
        Op::Adjust(l, d) => {
            let allowed = d > 0 || model.on_hand[0][l] - model.reserved[0][l] >= -d;
            let result = world.write(|c, a, now| inventory::adjust(c, &locations[l], &sku, d, "test", a, now));
            prop_assert_eq!(result.is_ok(), allowed, "adjust {} at {}: {:?}", d, l, result.err());
            if allowed {
                model.on_hand[0][l] += d;
            }
        }
        Op::Count(l, counted) => {
            world.write(|c, a, now| inventory::count(c, &locations[l], &sku, counted, None, a, now)).unwrap();
            model.on_hand[0][l] = counted;
        }
        Op::Reserve(l, n, expires) => {
            let allowed = model.on_hand[0][l] - model.reserved[0][l] >= n;
            let new = NewReservation {
                location_id: locations[l].clone(),
                purpose: Purpose::Order,
                lines: vec![(Item::single(&sku), q(n))],
                expires_at: expires.then(|| world.now + Duration::seconds(60)),
                customer_ref: None,
                reference: None,
                order_id: None,
            };
            let result = world.write(|c, a, now| reservation::create(c, new, a, now));
            prop_assert_eq!(result.is_ok(), allowed, "reserve {} at {}", n, l);
            if let Ok(created) = result {
                model.reserved[0][l] += n;
                model.holds.push(Hold { id: created.id().clone(), location: l, parts: [n, 0], expires, active: true });
            }
        }
        Op::Release(i) | Op::Commit(i) => {
            let Some(hold) = model.holds.get(i).cloned() else { return Ok(()) };
            let commit = matches!(op, Op::Commit(_));
            let allowed = hold.active && (!commit || (0..2).all(|s| model.on_hand[s][hold.location] >= hold.parts[s]));
            let id = hold.id.clone();
            let result = world.write(|c, a, now| {
                let held = reservation::get(c, &id)?;
                if commit {
                    reservation::commit(c, &held, a, "test", now)
                } else {
                    reservation::release(c, &held, a, "test", now)
                }
            });
            prop_assert_eq!(result.is_ok(), allowed, "{:?} of {:?}", op, hold);
            if allowed {
                for s in 0..2 {
                    model.reserved[s][hold.location] -= hold.parts[s];
                    if commit {
                        model.on_hand[s][hold.location] -= hold.parts[s];
                    }
                }
                model.holds[i].active = false;
            }
        }
        Op::Transfer(from, n) => {
            let to = 1 - from;
            let allowed = model.on_hand[0][from] - model.reserved[0][from] >= n;
            let result = world.write(|c, a, now| {
                inventory::transfer(c, &locations[from], &locations[to], &[(sku.clone(), q(n))], None, a, now)
            });
            prop_assert_eq!(result.is_ok(), allowed, "transfer {} from {}", n, from);
            if allowed {
                model.on_hand[0][from] -= n;
                model.on_hand[0][to] += n;
            }
        }
        Op::Expire => {
            world.now += Duration::seconds(120);
            let now = world.now;
            let due = reservation::due(world.conn, now, 1000).unwrap();
            for id in due {
                world.write(|c, a, now| reservation::expire(c, &id, a, now)).unwrap();
            }
            for hold in model.holds.iter_mut().filter(|h| h.active && h.expires) {
                hold.active = false;
                for s in 0..2 {
                    model.reserved[s][hold.location] -= hold.parts[s];
                }
            }
        }
        Op::ReceiveB(l, n) => {
            let b = world.b.clone();
            world.write(|c, a, now| inventory::receive(c, &locations[l], &[(b, q(n))], None, a, now)).unwrap();
            model.on_hand[1][l] += n;
        }
        Op::ReserveKit(l, n, expires) => {
            let allowed = model.kits_fit(l, n);
            let new = NewReservation {
                location_id: locations[l].clone(),
                purpose: Purpose::PosHold,
                lines: vec![(world.kit.clone(), q(n))],
                expires_at: expires.then(|| world.now + Duration::seconds(60)),
                customer_ref: None,
                reference: None,
                order_id: None,
            };
            let result = world.write(|c, a, now| reservation::create(c, new, a, now));
            prop_assert_eq!(result.is_ok(), allowed, "reserve {} kits at {}", n, l);
            if let Ok(created) = result {
                let parts = KIT.map(|per_kit| per_kit * n);
                for (reserved, part) in model.reserved.iter_mut().zip(parts) {
                    reserved[l] += part;
                }
                model.holds.push(Hold { id: created.id().clone(), location: l, parts, expires, active: true });
            }
        }
        Op::SellKit(l, n) => {
            let allowed = model.kits_fit(l, n);
            let kit = world.kit.clone();
            let result = world.write(|c, a, now| inventory::sell(c, &locations[l], &kit, q(n), "SALE", a, now));
            prop_assert_eq!(result.is_ok(), allowed, "sell {} kits at {}", n, l);
            if allowed {
                for (on_hand, per_kit) in model.on_hand.iter_mut().zip(KIT) {
                    on_hand[l] -= per_kit * n;
                }
            }
        }
    }
    let b = world.b.clone();
    for (l, location) in locations.iter().enumerate() {
        for (s, id) in [&sku, &b].into_iter().enumerate() {
            let level = inventory::level(world.conn, location, id).unwrap();
            prop_assert!(level.on_hand >= 0 && level.reserved >= 0, "never negative: {:?}", level);
            let expected = (model.on_hand[s][l], model.reserved[s][l]);
            prop_assert_eq!((level.on_hand, level.reserved), expected, "SKU {} after {:?}", s, op);
        }
    }
    Ok(())
}

/// Runs the property against the app's database (a fresh SKU per case).
pub fn check(ctx: &Context) {
    let shared = std::cell::RefCell::new(ctx.db.get().expect("connection"));
    let mut conn = shared.borrow_mut();
    let locations = [
        omnistock::catalog::get_location(&mut conn, "P1").unwrap().id,
        omnistock::catalog::get_location(&mut conn, "P2").unwrap().id,
    ];
    let base = omnistock::catalog::get_sku(&mut conn, "PROP").unwrap();
    drop(conn);
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let case = std::cell::Cell::new(0);
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            case.set(case.get() + 1);
            let mut conn = shared.borrow_mut();
            let input = |code: String, components: Option<Vec<(String, i32)>>| omnistock::catalog::SkuInput {
                code: omnistock::types::Code::parse(&code).unwrap(),
                name: base.name.clone(),
                gtin: None,
                price: base.price,
                spoken_names: Vec::new(),
                active: true,
                tax_class: "standard".into(),
                components,
            };
            let n = case.get();
            let mut create = |code: String, components| {
                conn.write(|c| omnistock::catalog::create_sku(c, input(code, components), Utc::now())).unwrap()
            };
            let sku = create(format!("PROP-{n}"), None).id;
            let b = create(format!("PROP-B-{n}"), None).id;
            let parts = vec![(format!("PROP-{n}"), KIT[0]), (format!("PROP-B-{n}"), KIT[1])];
            let kit = Item::of(&create(format!("PROP-KIT-{n}"), Some(parts)));
            let mut world = World { conn: &mut conn, sku, b, kit, locations: locations.clone(), now: Utc::now() };
            let mut model = Model::default();
            for op in &ops {
                step(&mut world, &mut model, op)?;
            }
            let (_, mismatches) = inventory::check_ledger(world.conn).unwrap();
            prop_assert!(mismatches.is_empty(), "ledger: {:?}", mismatches);
            Ok(())
        })
        .expect("levels follow the model and the ledger");
}
