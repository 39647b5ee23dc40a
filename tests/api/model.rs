//! Property test: random sequences of stock operations against a simple model.
//! After every operation each level equals the model, nothing is negative,
//! and at the end the ledger sums to every level.

use chrono::{DateTime, Duration, Utc};
use omnistock::access::Principal;
use omnistock::context::Context;
use omnistock::db::AnyConnection;
use omnistock::inventory::reservation::{self, NewReservation};
use omnistock::inventory::{self, InventoryError, Purpose};
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
}

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
    ]
}

#[derive(Debug, Clone)]
struct Hold {
    id: ReservationId,
    location: usize,
    quantity: i32,
    expires: bool,
    active: bool,
}

#[derive(Debug, Default)]
struct Model {
    on_hand: [i32; 2],
    reserved: [i32; 2],
    holds: Vec<Hold>,
}

struct World<'a> {
    conn: &'a mut AnyConnection,
    sku: SkuId,
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
            model.on_hand[l] += n;
        }
        Op::Adjust(l, d) => {
            let allowed = d > 0 || model.on_hand[l] - model.reserved[l] >= -d;
            let result = world.write(|c, a, now| inventory::adjust(c, &locations[l], &sku, d, "test", a, now));
            prop_assert_eq!(result.is_ok(), allowed, "adjust {} at {}: {:?}", d, l, result.err());
            if allowed {
                model.on_hand[l] += d;
            }
        }
        Op::Count(l, counted) => {
            world.write(|c, a, now| inventory::count(c, &locations[l], &sku, counted, None, a, now)).unwrap();
            model.on_hand[l] = counted;
        }
        Op::Reserve(l, n, expires) => {
            let allowed = model.on_hand[l] - model.reserved[l] >= n;
            let new = NewReservation {
                location_id: locations[l].clone(),
                purpose: Purpose::Order,
                lines: vec![(sku.clone(), q(n))],
                expires_at: expires.then(|| world.now + Duration::seconds(60)),
                customer_ref: None,
                reference: None,
                order_id: None,
            };
            let result = world.write(|c, a, now| reservation::create(c, new, a, now));
            prop_assert_eq!(result.is_ok(), allowed, "reserve {} at {}", n, l);
            if let Ok(created) = result {
                model.reserved[l] += n;
                model.holds.push(Hold { id: created.id, location: l, quantity: n, expires, active: true });
            }
        }
        Op::Release(i) | Op::Commit(i) => {
            let Some(hold) = model.holds.get(i).cloned() else { return Ok(()) };
            let commit = matches!(op, Op::Commit(_));
            let allowed = hold.active && (!commit || model.on_hand[hold.location] >= hold.quantity);
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
                model.reserved[hold.location] -= hold.quantity;
                if commit {
                    model.on_hand[hold.location] -= hold.quantity;
                }
                model.holds[i].active = false;
            }
        }
        Op::Transfer(from, n) => {
            let to = 1 - from;
            let allowed = model.on_hand[from] - model.reserved[from] >= n;
            let result = world.write(|c, a, now| {
                inventory::transfer(c, &locations[from], &locations[to], &[(sku.clone(), q(n))], None, a, now)
            });
            prop_assert_eq!(result.is_ok(), allowed, "transfer {} from {}", n, from);
            if allowed {
                model.on_hand[from] -= n;
                model.on_hand[to] += n;
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
                model.reserved[hold.location] -= hold.quantity;
            }
        }
    }
    for (l, location) in locations.iter().enumerate() {
        let level = inventory::level(world.conn, location, &sku).unwrap();
        prop_assert!(level.on_hand >= 0 && level.reserved >= 0, "never negative: {:?}", level);
        prop_assert_eq!((level.on_hand, level.reserved), (model.on_hand[l], model.reserved[l]), "after {:?}", op);
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
            let input = omnistock::catalog::SkuInput {
                code: omnistock::types::Code::parse(&format!("PROP-{}", case.get())).unwrap(),
                name: base.name.clone(),
                gtin: None,
                price: base.price,
                spoken_names: Vec::new(),
                active: true,
                tax_class: "standard".into(),
            };
            let sku = conn.write(|c| omnistock::catalog::create_sku(c, input, Utc::now())).unwrap().id;
            let mut world = World { conn: &mut conn, sku, locations: locations.clone(), now: Utc::now() };
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
