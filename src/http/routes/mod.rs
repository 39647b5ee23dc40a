//! Route registration: each module registers its handlers; this file mounts
//! them under `/v1`.

pub mod health;
pub mod locations;
pub mod skus;

use utoipa_actix_web::service_config::ServiceConfig;

/// Everything under `/v1`.
pub fn configure_v1(cfg: &mut ServiceConfig) {
    cfg.configure(locations::configure).configure(skus::configure);
}
