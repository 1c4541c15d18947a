//! Perks over HTTP (docs/server.md "Perks"): one documentation-only function per route, as in
//! [`super::admin`].

#![allow(dead_code)]

use rsu_core::wire::ErrorBody;

use super::AdminResult;

/// Create a perk of an organization's catalog.
///
/// A benefit, physical item, digital item or experience; with `requiresInventory`, its `inventoryTotal` units are never oversold: devices issue them only from perk allocations.
#[utoipa::path(
    post,
    path = "/v1/admin/perks",
    tag = "admin",
    operation_id = "createPerk",
    security(("adminToken" = [])),
    request_body = crate::perks::admin::NewPerk,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_perk() {}

/// List an organization's perks.
///
/// By name, each with its inventory: total, allocated to devices (and not given back), claimed, available.
#[utoipa::path(
    post,
    path = "/v1/admin/perks/list",
    tag = "admin",
    operation_id = "listPerks",
    security(("adminToken" = [])),
    request_body = crate::perks::admin::ListPerks,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn list_perks() {}

/// Make a package include a perk.
///
/// Each sale of the package then issues one unit of the perk, after those it already includes, with a one-time claim code. Refused once the event's sales closed.
#[utoipa::path(
    post,
    path = "/v1/admin/packages/perks",
    tag = "admin",
    operation_id = "addPackagePerk",
    security(("adminToken" = [])),
    request_body = crate::perks::admin::AddPackagePerk,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn add_package_perk() {}

/// Give an RSU units of an inventory perk for an event.
///
/// Raises the RSU's perk allocation by `count`, in a transaction that locks the perk: never more than the inventory has left (409 `perk_inventory_exhausted` says how many are).
#[utoipa::path(
    post,
    path = "/v1/admin/perks/allocate",
    tag = "admin",
    operation_id = "allocatePerks",
    security(("adminToken" = [])),
    request_body = crate::perks::admin::AllocatePerks,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn allocate_perks() {}

/// Hand out a perk at the desk by its claim code.
///
/// The code's tag is checked with the selling device's key; a unit is claimed once, recorded with who (`X-Admin-Name` or the token's user) and when. A second claim, a voided sale's perk and an unknown code are refused with a sentence saying why.
#[utoipa::path(
    post,
    path = "/v1/admin/perks/claim",
    tag = "admin",
    operation_id = "claimPerk",
    security(("adminToken" = [])),
    request_body = crate::perks::claim::ClaimPerk,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn claim_perk() {}

/// Perks of an event per device.
///
/// Per RSU and perk: units allocated, issued, claimed, voided and released, and the totals per perk.
#[utoipa::path(
    post,
    path = "/v1/admin/perks/report",
    tag = "admin",
    operation_id = "perkReport",
    security(("adminToken" = [])),
    request_body = crate::perks::report::PerkReport,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn perk_report() {}
