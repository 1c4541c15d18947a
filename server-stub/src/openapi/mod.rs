//! The OpenAPI 3.1 document of the device and admin APIs, generated from the code with `utoipa`:
//! the request and answer types are the ones the handlers use (rsu-core's wire types, the admin
//! operations' inputs), the routes are described in [`device`] and [`admin`] (documentation-only
//! functions, one per route, so the handlers stay free of it). Served at `GET /openapi.json`,
//! printed by `server-stub openapi`, committed as docs/openapi.json (a test keeps it current).

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub mod admin;
pub mod device;
pub mod perks;
pub mod seeds;

/// The command that writes the committed document (printed by the test that compares them).
pub const REGENERATE: &str =
    "cargo run -q -p server-stub --bin server-stub -- openapi > docs/openapi.json";

/// What an admin operation answers: a JSON object describing the record it created or changed,
/// the same JSON the admin CLI prints (docs/server.md "Admin CLI").
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdminResult(HashMap<String, serde_json::Value>);

/// Server liveness.
///
/// Answers `ok` as plain text while the process serves; it does not touch the database.
#[utoipa::path(
    get,
    path = "/health",
    tag = "server",
    operation_id = "health",
    responses((status = 200, description = "The server is up", body = String, content_type = "text/plain"))
)]
#[allow(dead_code)]
fn health() {}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "server",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server", body = Object))
)]
#[allow(dead_code)]
fn openapi_doc() {}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token the server was started with (SERVER_STUB_ADMIN_TOKEN): \
                         `Authorization: Bearer <token>`. Without it on the server, admin HTTP \
                         answers 403 `admin_disabled`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "deviceSignature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Rsu-Signature",
                "Ed25519 signature (128 lower-case hex digits) by the device key over eight lines \
                 joined by \\n: `RSU-ED25519-V1`, the method, the request target, X-Rsu-Id, \
                 X-Rsu-Key-Id, X-Rsu-Timestamp, X-Rsu-Nonce and the SHA-256 of the exact body \
                 (docs/protocol.md §2). Refusals are 401 with `serverTime`.",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Elite Raffle RSU server",
        description = "The companion server of the raffle sales units: the device API \
            (`/v1/rsu/*`, signed requests, docs/protocol.md) and the admin API (`/v1/admin/*`, \
            bearer admin token, docs/server.md). Every error answer is `{error, message}` with a \
            stable snake_case code; every answer carries the server's clock in `X-Server-Time`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health,
        openapi_doc,
        device::enroll,
        device::config,
        device::allocations,
        device::journal,
        device::heartbeat,
        device::keys,
        admin::create_organization,
        admin::create_venue,
        admin::create_event,
        admin::transition_event,
        admin::event_report,
        admin::resolve_exception,
        admin::exclude_rsu,
        admin::import_journal,
        admin::include_rsu,
        admin::create_package,
        admin::set_package_price,
        admin::create_prize,
        admin::create_operator,
        admin::create_rsu,
        admin::create_enrollment_token,
        admin::revoke_key,
        admin::list_keys,
        admin::set_rsu_state,
        admin::release_withheld,
        admin::create_allocation,
        admin::demo_seed,
        admin::run_draw,
        admin::redraw,
        admin::draw_commitment,
        admin::draw_export,
        admin::claim,
        admin::verify_receipt,
        seeds::create_package_template,
        seeds::create_prize_template,
        seeds::list_templates,
        seeds::apply_templates,
        seeds::set_money_settings,
        seeds::purge,
        seeds::create_jurisdiction,
        seeds::list_jurisdictions,
        seeds::jurisdiction_profile,
        seeds::add_regulation,
        seeds::set_venue_jurisdiction,
        seeds::set_address,
        perks::create_perk,
        perks::list_perks,
        perks::add_package_perk,
        perks::allocate_perks,
        perks::claim_perk,
        perks::perk_report,
    ),
    components(schemas(
        rsu_core::wire::ErrorCode,
        rsu_core::wire::EntryCode,
        rsu_core::journal::EntryKind,
        rsu_core::payload::SalePayload,
        rsu_core::payload::VoidPayload,
        rsu_core::payload::ReprintPayload,
        rsu_core::payload::CriticalEventPayload,
        rsu_core::payload::ShiftClosePayload,
        rsu_core::payload::AllocationReleasePayload,
        rsu_core::payload::PerkReleasePayload,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "device", description = "The device API: every route but enrollment is signed (docs/protocol.md §2)"),
        (name = "admin", description = "The admin API, behind the bearer admin token (docs/server.md)"),
        (name = "server", description = "Liveness and this document"),
    )
)]
pub struct ApiDoc;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a final newline, exactly as committed in docs/openapi.json.
pub fn json() -> String {
    // Serializing a document of plain maps and strings cannot fail.
    let mut s = document().to_pretty_json().unwrap_or_else(|e| {
        format!("{{\"error\": \"the OpenAPI document could not be serialized: {e}\"}}")
    });
    s.push('\n');
    s
}

/// `GET /openapi.json`.
pub async fn serve_json() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(json).clone();
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// `server-stub openapi` (flattened into the CLI's commands).
#[derive(clap::Subcommand, Clone, Debug)]
pub enum OpenApiCmd {
    /// Print the OpenAPI 3.1 document of the device and admin APIs (the one served at
    /// /openapi.json and committed as docs/openapi.json); needs no database.
    Openapi,
}

/// Runs an [`OpenApiCmd`].
pub fn run(cmd: &OpenApiCmd) -> anyhow::Result<()> {
    match cmd {
        OpenApiCmd::Openapi => {
            use std::io::Write;
            std::io::stdout().write_all(json().as_bytes())?;
            Ok(())
        }
    }
}
