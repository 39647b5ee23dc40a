//! Route registration: each module registers its handlers; this file mounts
//! them under `/v1`.

pub mod analytics;
pub mod availability;
pub mod carts;
pub mod customers;
pub mod events;
pub mod health;
pub mod locations;
pub mod marketplaces;
pub mod orders;
pub mod pickups;
pub mod pos;
pub mod promotions;
pub mod reservations;
pub mod skus;
pub mod stock;
pub mod voice;

use utoipa_actix_web::service_config::ServiceConfig;

/// Everything under `/v1`.
pub fn configure_v1(cfg: &mut ServiceConfig) {
    cfg.configure(locations::configure)
        .configure(skus::configure)
        .configure(stock::configure)
        .configure(reservations::configure)
        .configure(availability::configure)
        .configure(events::configure)
        .configure(customers::configure)
        .configure(carts::configure)
        .configure(promotions::configure)
        .configure(orders::configure)
        .configure(pos::configure)
        .configure(pickups::configure)
        .configure(marketplaces::configure)
        .configure(voice::configure)
        .configure(analytics::configure);
}
