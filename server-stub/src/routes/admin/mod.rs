//! `/v1/admin/*`: the admin operations over HTTP, behind a bearer token (a user's API token or
//! the deprecated shared token). The handlers extract ([`crate::http::AdminJson`],
//! [`crate::http::Admin`]) the principal and the body, ask the principal for the route's
//! permission in the organization the request touches (docs/server.md "Accounts and roles"), and
//! call the operation of [`crate::admin`], [`crate::lifecycle`], [`crate::closeout`] or
//! [`crate::import`] inside [`as_principal`]; one file per resource.

use std::future::Future;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;

use crate::accounts::{acting_as, Principal};
use crate::closeout::{with_actor, HEADER_ADMIN_NAME};
use crate::state::AppState;

mod allocations;
mod demo;
mod draws;
mod events;
mod exceptions;
mod keys;
mod operators;
mod organizations;
mod packages;
mod perks;
mod prizes;
mod rsus;
mod seeds;
mod tokens;
mod venues;

/// The routes of `/v1/admin/*`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/organizations", post(organizations::create))
        .route("/v1/admin/venues", post(venues::create))
        .route("/v1/admin/events", post(events::create))
        .route("/v1/admin/events/transition", post(events::transition))
        .route("/v1/admin/events/{id}/report", get(events::report))
        .route("/v1/admin/exceptions/resolve", post(exceptions::resolve))
        .route("/v1/admin/rsus/exclude", post(rsus::exclude))
        .route("/v1/admin/rsus/import-journal", post(rsus::import_journal))
        .route("/v1/admin/rsus/include", post(rsus::include))
        .route("/v1/admin/packages", post(packages::create))
        .route("/v1/admin/packages/price", post(packages::set_price))
        .route("/v1/admin/prizes", post(prizes::create))
        .route("/v1/admin/operators", post(operators::create))
        .route("/v1/admin/rsus", post(rsus::create))
        .route("/v1/admin/enrollment-tokens", post(tokens::create))
        .route("/v1/admin/keys/revoke", post(keys::revoke))
        .route("/v1/admin/keys/list", post(keys::list))
        .route("/v1/admin/rsus/state", post(rsus::set_state))
        .route(
            "/v1/admin/rsus/release-withheld",
            post(rsus::release_withheld),
        )
        .route("/v1/admin/allocations", post(allocations::create))
        .route("/v1/admin/demo-seed", post(demo::seed))
        .route("/v1/admin/draws", post(draws::run))
        .route("/v1/admin/draws/redraw", post(draws::redraw))
        .route(
            "/v1/admin/events/{id}/draw-commitment",
            get(draws::commitment),
        )
        .route("/v1/admin/events/{id}/draw-export", get(draws::export))
        .route("/v1/admin/claims", post(draws::claim))
        .route("/v1/admin/receipts/verify", post(draws::verify_receipt))
        .route("/v1/admin/package-templates", post(seeds::package_template))
        .route("/v1/admin/prize-templates", post(seeds::prize_template))
        .route("/v1/admin/templates/list", post(seeds::templates))
        .route("/v1/admin/templates/apply", post(seeds::apply))
        .route("/v1/admin/organizations/money", post(seeds::money))
        .route("/v1/admin/purge", post(seeds::purge_data))
        .route("/v1/admin/jurisdictions", post(seeds::jurisdiction))
        .route("/v1/admin/jurisdictions/list", post(seeds::jurisdictions))
        .route("/v1/admin/jurisdictions/profile", post(seeds::profile))
        .route("/v1/admin/regulations", post(seeds::regulation))
        .route(
            "/v1/admin/venues/jurisdiction",
            post(seeds::venue_jurisdiction),
        )
        .route("/v1/admin/addresses", post(seeds::address))
        .route("/v1/admin/perks", post(perks::create))
        .route("/v1/admin/perks/list", post(perks::list))
        .route("/v1/admin/packages/perks", post(perks::add_to_package))
        .route("/v1/admin/perks/allocate", post(perks::allocate))
        .route("/v1/admin/perks/claim", post(perks::claim))
        .route("/v1/admin/perks/report", post(perks::report))
}

/// The name recorded as who did it (resolved by, confirmed by, drawn by): a user's display name;
/// for the shared token, the `X-Admin-Name` header as given.
fn actor_name(p: &Principal, headers: &HeaderMap) -> Option<String> {
    if p.user_id.is_some() {
        Some(p.display_name.clone())
    } else {
        admin_name(headers)
    }
}

/// Runs an admin operation as `p`: its user goes into `audit_log.changed_by`, its name (see
/// [`actor_name`]) wherever the operation records who did it.
async fn as_principal<F: Future>(p: &Principal, headers: &HeaderMap, f: F) -> F::Output {
    acting_as(p.user_id, with_actor(actor_name(p, headers), f)).await
}

/// The person behind an admin request, from the `X-Admin-Name` header (recorded as given).
fn admin_name(headers: &HeaderMap) -> Option<String> {
    headers
        .get(HEADER_ADMIN_NAME)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}
