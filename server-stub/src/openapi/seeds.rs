//! The seeds' remaining entities over HTTP (templates, money settings, purge, jurisdictions,
//! addresses): one documentation-only function per route, as in [`super::admin`].

#![allow(dead_code)]

use rsu_core::wire::ErrorBody;

use super::AdminResult;

/// Create a package template of an organization.
///
/// A reusable package (name, tickets, price) for apply-templates.
#[utoipa::path(
    post,
    path = "/v1/admin/package-templates",
    tag = "admin",
    operation_id = "createPackageTemplate",
    security(("adminToken" = [])),
    request_body = crate::admin::templates::NewPackageTemplate,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_package_template() {}

/// Create a prize template of an organization.
///
/// A reusable fixed or percentage prize.
#[utoipa::path(
    post,
    path = "/v1/admin/prize-templates",
    tag = "admin",
    operation_id = "createPrizeTemplate",
    security(("adminToken" = [])),
    request_body = crate::admin::templates::NewPrizeTemplate,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_prize_template() {}

/// List an organization's templates.
///
/// Active package templates by display order, prize templates by name.
#[utoipa::path(
    post,
    path = "/v1/admin/templates/list",
    tag = "admin",
    operation_id = "listTemplates",
    security(("adminToken" = [])),
    request_body = crate::admin::templates::ListTemplates,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn list_templates() {}

/// Create an event's packages and prizes from templates.
///
/// Every template is checked first; an unknown one creates nothing.
#[utoipa::path(
    post,
    path = "/v1/admin/templates/apply",
    tag = "admin",
    operation_id = "applyTemplates",
    security(("adminToken" = [])),
    request_body = crate::admin::templates::ApplyTemplates,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn apply_templates() {}

/// Set an organization's tax rate and operating fee.
///
/// The reconciliation report's proceeds use them.
#[utoipa::path(
    post,
    path = "/v1/admin/organizations/money",
    tag = "admin",
    operation_id = "setMoneySettings",
    security(("adminToken" = [])),
    request_body = crate::admin::money::SetMoneySettings,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn set_money_settings() {}

/// Remove data past its retention.
///
/// Only what the retention settings and regulations allow; `dryRun` only counts.
#[utoipa::path(
    post,
    path = "/v1/admin/purge",
    tag = "admin",
    operation_id = "purge",
    security(("adminToken" = [])),
    request_body = crate::purge::Purge,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn purge() {}

/// Create a jurisdiction.
///
/// Country, state, province or local, under an optional parent.
#[utoipa::path(
    post,
    path = "/v1/admin/jurisdictions",
    tag = "admin",
    operation_id = "createJurisdiction",
    security(("adminToken" = [])),
    request_body = crate::jurisdictions::admin::NewJurisdiction,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn create_jurisdiction() {}

/// List jurisdictions.
///
/// With their parent and number of regulations.
#[utoipa::path(
    post,
    path = "/v1/admin/jurisdictions/list",
    tag = "admin",
    operation_id = "listJurisdictions",
    security(("adminToken" = [])),
    request_body = crate::jurisdictions::admin::ListJurisdictions,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn list_jurisdictions() {}

/// The regulations in force in a jurisdiction.
///
/// And those a parent's non-overridable regulation makes it ignore.
#[utoipa::path(
    post,
    path = "/v1/admin/jurisdictions/profile",
    tag = "admin",
    operation_id = "jurisdictionProfile",
    security(("adminToken" = [])),
    request_body = crate::jurisdictions::admin::ShowProfile,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn jurisdiction_profile() {}

/// Add a regulation to a jurisdiction.
///
/// Its value's shape depends on its type (docs/server.md \"Jurisdictions\").
#[utoipa::path(
    post,
    path = "/v1/admin/regulations",
    tag = "admin",
    operation_id = "addRegulation",
    security(("adminToken" = [])),
    request_body = crate::jurisdictions::admin::NewRegulation,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn add_regulation() {}

/// Put a venue in a jurisdiction.
///
/// Events created there from then on are checked against its regulations.
#[utoipa::path(
    post,
    path = "/v1/admin/venues/jurisdiction",
    tag = "admin",
    operation_id = "setVenueJurisdiction",
    security(("adminToken" = [])),
    request_body = crate::jurisdictions::admin::SetVenueJurisdiction,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn set_venue_jurisdiction() {}

/// Set the address of a venue or an organization.
///
/// The licensee's address is printed where a jurisdiction requires it.
#[utoipa::path(
    post,
    path = "/v1/admin/addresses",
    tag = "admin",
    operation_id = "setAddress",
    security(("adminToken" = [])),
    request_body = crate::jurisdictions::admin::SetAddress,
    responses(
        (status = 200, description = "Done: the JSON the CLI prints", body = AdminResult),
        (status = 401, description = "The admin token is missing or wrong", body = ErrorBody),
        (status = 403, description = "The token's user lacks the permission (`permission_denied`)", body = ErrorBody),
        (status = 400, description = "The body is not JSON or a field is invalid", body = ErrorBody),
        (status = 409, description = "The request conflicts with the state of what it names", body = ErrorBody),
        (status = "default", description = "Any other error, as `{error, message}`", body = ErrorBody),
    )
)]
pub fn set_address() {}
