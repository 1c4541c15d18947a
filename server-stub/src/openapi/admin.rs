//! The admin API, `/v1/admin/*`, behind the bearer admin token (docs/server.md "Admin CLI"):
//! one documentation-only function per route. The handlers are in `crate::routes::admin` and
//! answer the same JSON the CLI prints.
//!
//! The request bodies are the operations' own input types; the answers are JSON objects the
//! operations build, described as [`AdminResult`] (their fields are in docs/server.md).

#![allow(dead_code)]

use rsu_core::wire::ErrorBody;

use super::AdminResult;

/// Create an organization.
///
/// With its license number, currency and validation-number prefix.
#[utoipa::path(
    post,
    path = "/v1/admin/organizations",
    tag = "admin",
    operation_id = "createOrganization",
    security(("adminToken" = [])),
    request_body = crate::admin::NewOrganization,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_organization() {}

/// Create a venue of an organization.
///
/// Its time zone is the one receipts are printed in.
#[utoipa::path(
    post,
    path = "/v1/admin/venues",
    tag = "admin",
    operation_id = "createVenue",
    security(("adminToken" = [])),
    request_body = crate::admin::NewVenue,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_venue() {}

/// Create an event.
///
/// In state `created`, with its sales window, draw time, ticket and RSU ranges and jackpot rule.
#[utoipa::path(
    post,
    path = "/v1/admin/events",
    tag = "admin",
    operation_id = "createEvent",
    security(("adminToken" = [])),
    request_body = crate::admin::NewEvent,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_event() {}

/// Move an event along its state machine.
///
/// Recorded as a critical event. `reconciled` is refused while an RSU holding an allocation is neither reconciled nor excluded; `X-Admin-Name` is recorded as who confirmed it.
#[utoipa::path(
    post,
    path = "/v1/admin/events/transition",
    tag = "admin",
    operation_id = "transitionEvent",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::admin::Transition,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn transition_event() {}

/// The reconciliation report of an event.
///
/// Numbers, amounts, per-range and per-epoch sync state, and what blocks reconciliation (docs/server.md "Reconciliation report").
#[utoipa::path(
    get,
    path = "/v1/admin/events/{id}/report",
    tag = "admin",
    operation_id = "eventReport",
    params(("id" = String, Path, description = "The event id (a UUID)")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn event_report() {}

/// Resolve a rejected or conflicting journal entry.
///
/// Records who resolved it (`X-Admin-Name`), when and why.
#[utoipa::path(
    post,
    path = "/v1/admin/exceptions/resolve",
    tag = "admin",
    operation_id = "resolveException",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::closeout::Resolve,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn resolve_exception() {}

/// Exclude an RSU from an event's reconciliation.
///
/// For a lost or destroyed device; `lost` also marks it lost and revokes its keys.
#[utoipa::path(
    post,
    path = "/v1/admin/rsus/exclude",
    tag = "admin",
    operation_id = "excludeRsu",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::closeout::ExcludeRsu,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn exclude_rsu() {}

/// Import a dead device's journal.
///
/// The body is the file `rsu-app export --out FILE` wrote. The signature and every chain are checked, then what the server does not hold yet is applied like a push.
#[utoipa::path(
    post,
    path = "/v1/admin/rsus/import-journal",
    tag = "admin",
    operation_id = "importJournal",
    params(("rsuId" = uuid::Uuid, Query, description = "The RSU the journal belongs to")),
    security(("adminToken" = [])),
    request_body(content = String, content_type = "text/plain", description = "The export file, as written by `rsu-app export`"),
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn import_journal() {}

/// Lift an RSU's exclusion from an event.
///
/// Recorded with `X-Admin-Name`.
#[utoipa::path(
    post,
    path = "/v1/admin/rsus/include",
    tag = "admin",
    operation_id = "includeRsu",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::closeout::IncludeRsu,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn include_rsu() {}

/// Add a ticket package to an event.
#[utoipa::path(
    post,
    path = "/v1/admin/packages",
    tag = "admin",
    operation_id = "createPackage",
    security(("adminToken" = [])),
    request_body = crate::admin::NewPackage,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_package() {}

/// Change a package's price.
///
/// Under `priceLock`, refused once the event has been active.
#[utoipa::path(
    post,
    path = "/v1/admin/packages/price",
    tag = "admin",
    operation_id = "setPackagePrice",
    security(("adminToken" = [])),
    request_body = crate::admin::SetPackagePrice,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn set_package_price() {}

/// Add a prize to an event.
///
/// `fixed` (an amount) or `percentage` (basis points of net sales).
#[utoipa::path(
    post,
    path = "/v1/admin/prizes",
    tag = "admin",
    operation_id = "createPrize",
    security(("adminToken" = [])),
    request_body = crate::admin::NewPrize,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_prize() {}

/// Create a seller or supervisor of an organization.
///
/// Refused (`pin_taken`) if another operator of the organization has this PIN.
#[utoipa::path(
    post,
    path = "/v1/admin/operators",
    tag = "admin",
    operation_id = "createOperator",
    security(("adminToken" = [])),
    request_body = crate::admin::NewOperator,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_operator() {}

/// Register an RSU.
///
/// Answers its one-time enrollment token and the offline limits it will get.
#[utoipa::path(
    post,
    path = "/v1/admin/rsus",
    tag = "admin",
    operation_id = "createRsu",
    security(("adminToken" = [])),
    request_body = crate::admin::NewRsu,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_rsu() {}

/// A new one-time enrollment token for an RSU.
///
/// Re-enrollment starts a new epoch.
#[utoipa::path(
    post,
    path = "/v1/admin/enrollment-tokens",
    tag = "admin",
    operation_id = "createEnrollmentToken",
    security(("adminToken" = [])),
    request_body = crate::admin::NewEnrollmentToken,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_enrollment_token() {}

/// Revoke a key, or every key of an RSU.
///
/// A key and the keys it registered by rotation (`keyId`), or every key of the RSU (`rsuId` with `all`).
#[utoipa::path(
    post,
    path = "/v1/admin/keys/revoke",
    tag = "admin",
    operation_id = "revokeKey",
    security(("adminToken" = [])),
    request_body = crate::admin::RevokeKey,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn revoke_key() {}

/// List an RSU's keys.
///
/// Active, pending (registered by rotation, not used yet), expired, revoked; who registered each.
#[utoipa::path(
    post,
    path = "/v1/admin/keys/list",
    tag = "admin",
    operation_id = "listKeys",
    security(("adminToken" = [])),
    request_body = crate::lifecycle::ListKeys,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn list_keys() {}

/// Mark an RSU lost, decommissioned or active again.
///
/// Lost and decommissioned revoke every key.
#[utoipa::path(
    post,
    path = "/v1/admin/rsus/state",
    tag = "admin",
    operation_id = "setRsuState",
    security(("adminToken" = [])),
    request_body = crate::lifecycle::SetRsuState,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn set_rsu_state() {}

/// Give an RSU its withheld ranges back.
///
/// Once the previous database's journal reached the server (synced or imported).
#[utoipa::path(
    post,
    path = "/v1/admin/rsus/release-withheld",
    tag = "admin",
    operation_id = "releaseWithheld",
    security(("adminToken" = [])),
    request_body = crate::lifecycle::ReleaseWithheld,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn release_withheld() {}

/// Allocate draw numbers of an event to an RSU.
///
/// A count (the next free range) or an explicit range.
#[utoipa::path(
    post,
    path = "/v1/admin/allocations",
    tag = "admin",
    operation_id = "createAllocation",
    security(("adminToken" = [])),
    request_body = crate::admin::NewAllocation,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_allocation() {}

/// Create the demo organization, event, packages, operators and RSU.
///
/// Answers the ids and an enrollment token (docs/server.md "The demo").
#[utoipa::path(
    post,
    path = "/v1/admin/demo-seed",
    tag = "admin",
    operation_id = "demoSeed",
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn demo_seed() {}

/// Run the draw of an event.
///
/// Committed and reproducible (docs/draw.md); `X-Admin-Name` is recorded.
#[utoipa::path(
    post,
    path = "/v1/admin/draws",
    tag = "admin",
    operation_id = "runDraw",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::draw::cli::Draw,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn run_draw() {}

/// Redraw the unclaimed prizes of an event.
///
/// After the claim deadline (docs/draw.md).
#[utoipa::path(
    post,
    path = "/v1/admin/draws/redraw",
    tag = "admin",
    operation_id = "redraw",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::draw::cli::Redraw,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn redraw() {}

/// The published draw commitment of an event.
#[utoipa::path(
    get,
    path = "/v1/admin/events/{id}/draw-commitment",
    tag = "admin",
    operation_id = "drawCommitment",
    params(("id" = String, Path, description = "The event id (a UUID)")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn draw_commitment() {}

/// The draw file `server-stub verify-draw` replays.
#[utoipa::path(
    get,
    path = "/v1/admin/events/{id}/draw-export",
    tag = "admin",
    operation_id = "drawExport",
    params(("id" = String, Path, description = "The event id (a UUID)")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn draw_export() {}

/// Claim a prize with a validation number or a receipt's QR.
///
/// Recorded with `X-Admin-Name`.
#[utoipa::path(
    post,
    path = "/v1/admin/claims",
    tag = "admin",
    operation_id = "claimPrize",
    params(("X-Admin-Name" = Option<String>, Header, description = "Who is doing this, recorded as given")),
    security(("adminToken" = [])),
    request_body = crate::claims::Claim,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn claim() {}

/// Check a receipt's signed QR.
#[utoipa::path(
    post,
    path = "/v1/admin/receipts/verify",
    tag = "admin",
    operation_id = "verifyReceipt",
    security(("adminToken" = [])),
    request_body = crate::claims::VerifyReceipt,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "Admin HTTP is disabled on this server (`admin_disabled`), or the request is not allowed", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 404, description = "A record the request names does not exist", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn verify_receipt() {}
