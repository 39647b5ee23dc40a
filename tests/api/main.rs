//! The API test suite: one binary, the real service over real HTTP, on SQLite
//! and on PostgreSQL (when `TEST_POSTGRES_URL` is set; required under CI=true).

mod helpers;

mod architecture;
mod browser;
mod budgets;
mod cart;
mod crash;
mod foundation;
mod fulfilment;
mod inventory;
mod kits;
mod marketplace;
mod model;
mod orders;
mod peer;
mod retail;
mod roles;
mod staff;
