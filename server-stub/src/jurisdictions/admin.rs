//! The jurisdiction admin commands: jurisdictions, regulations, a venue's jurisdiction, the
//! profile in force, and addresses of venues and organizations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{bad, check_value, in_force, TYPES};
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewJurisdiction {
    #[arg(long)]
    pub name: String,
    /// A unique identifier, e.g. CA-US or SF-CA-US.
    #[arg(long)]
    pub code: String,
    /// country, state, province or local.
    #[arg(long = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The jurisdiction this one is part of (a state's country).
    #[arg(long)]
    #[serde(default)]
    pub parent_jurisdiction_id: Option<Uuid>,
}

pub async fn create_jurisdiction(pool: &PgPool, a: &NewJurisdiction) -> AppResult<Value> {
    if a.name.trim().is_empty() || a.code.trim().is_empty() {
        return Err(bad("name/code", "must not be empty"));
    }
    if !["country", "state", "province", "local"].contains(&a.kind.as_str()) {
        return Err(bad("type", "must be country, state, province or local"));
    }
    if let Some(p) = a.parent_jurisdiction_id {
        let parent: Option<String> =
            sqlx::query_scalar("SELECT type FROM jurisdictions WHERE id = $1")
                .bind(p)
                .fetch_optional(pool)
                .await?;
        match parent.as_deref() {
            None => return Err(bad("parentJurisdictionId", format!("no jurisdiction {p}"))),
            Some("local") => {
                return Err(bad(
                    "parentJurisdictionId",
                    "a local jurisdiction has no jurisdictions under it",
                ))
            }
            Some(_) if a.kind == "country" => {
                return Err(bad("type", "a country has no parent jurisdiction"))
            }
            Some(_) => {}
        }
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO jurisdictions (id, name, code, type, parent_jurisdiction_id)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(a.name.trim())
    .bind(a.code.trim())
    .bind(&a.kind)
    .bind(a.parent_jurisdiction_id)
    .execute(pool)
    .await?;
    crate::admin::audit(pool, "jurisdictions", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"jurisdictionId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRegulation {
    #[arg(long)]
    pub jurisdiction_id: Uuid,
    #[arg(long)]
    pub name: String,
    /// ticket_price_limit, prize_limit, event_duration, sales_method, reporting_requirement or
    /// data_retention.
    #[arg(long = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The rule as JSON, e.g. '{"amount": 500000, "currency": "USD"}' (docs/server.md
    /// "Jurisdictions" has each type's shape).
    #[arg(long, value_parser = parse_json)]
    pub value: Value,
    /// RFC 3339.
    #[arg(long)]
    pub effective_date: DateTime<Utc>,
    #[arg(long)]
    #[serde(default)]
    pub expiration_date: Option<DateTime<Utc>>,
    /// May a child jurisdiction replace it with its own regulation of the same type?
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    #[serde(default = "yes")]
    pub overridable: bool,
}

fn yes() -> bool {
    true
}

fn parse_json(s: &str) -> Result<Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

pub async fn add_regulation(pool: &PgPool, a: &NewRegulation) -> AppResult<Value> {
    if a.name.trim().is_empty() {
        return Err(bad("name", "must not be empty"));
    }
    if !TYPES.contains(&a.kind.as_str()) {
        return Err(bad("type", format!("must be one of {}", TYPES.join(", "))));
    }
    check_value(&a.kind, &a.value)?;
    if a.expiration_date.is_some_and(|x| x <= a.effective_date) {
        return Err(bad("expirationDate", "must be after effectiveDate"));
    }
    let id = Uuid::now_v7();
    let done = sqlx::query(
        "INSERT INTO jurisdiction_regulations
           (id, jurisdiction_id, name, type, value, effective_date, expiration_date, overridable)
         SELECT $1, id, $3, $4, $5, $6, $7, $8 FROM jurisdictions WHERE id = $2",
    )
    .bind(id)
    .bind(a.jurisdiction_id)
    .bind(a.name.trim())
    .bind(&a.kind)
    .bind(&a.value)
    .bind(a.effective_date)
    .bind(a.expiration_date)
    .bind(a.overridable)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(bad(
            "jurisdictionId",
            format!("no jurisdiction {}", a.jurisdiction_id),
        ));
    }
    crate::admin::audit(
        pool,
        "jurisdiction_regulations",
        "INSERT",
        id,
        None,
        json!(a),
    )
    .await?;
    Ok(json!({"regulationId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetVenueJurisdiction {
    #[arg(long)]
    pub venue_id: Uuid,
    #[arg(long)]
    pub jurisdiction_id: Uuid,
}

/// Puts a venue in a jurisdiction. Events created at the venue from then on are checked against
/// its regulations; existing events keep the profile they were created with.
pub async fn set_venue_jurisdiction(pool: &PgPool, a: &SetVenueJurisdiction) -> AppResult<Value> {
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM jurisdictions WHERE id = $1")
        .bind(a.jurisdiction_id)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Err(bad(
            "jurisdictionId",
            format!("no jurisdiction {}", a.jurisdiction_id),
        ));
    }
    let old: Option<Option<Uuid>> = sqlx::query_scalar(
        "UPDATE venues v SET jurisdiction_id = $2, updated_at = NOW()
           FROM venues o WHERE v.id = $1 AND o.id = v.id RETURNING o.jurisdiction_id",
    )
    .bind(a.venue_id)
    .bind(a.jurisdiction_id)
    .fetch_optional(pool)
    .await?;
    let Some(old) = old else {
        return Err(bad("venueId", format!("no venue {}", a.venue_id)));
    };
    crate::admin::audit(
        pool,
        "venues",
        "UPDATE",
        a.venue_id,
        Some(json!({"jurisdictionId": old})),
        json!({"jurisdictionId": a.jurisdiction_id}),
    )
    .await?;
    Ok(json!({"venueId": a.venue_id, "jurisdictionId": a.jurisdiction_id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShowProfile {
    #[arg(long)]
    pub jurisdiction_id: Uuid,
    /// The moment to evaluate (RFC 3339); now when omitted.
    #[arg(long)]
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// The regulations in force in a jurisdiction (with its ancestors'), and those ignored because
/// a parent's regulation of the same type may not be overridden.
pub async fn jurisdiction_profile(pool: &PgPool, a: &ShowProfile) -> AppResult<Value> {
    let at = a.at.unwrap_or_else(Utc::now);
    let f = in_force(pool, a.jurisdiction_id, at).await?;
    Ok(
        json!({"jurisdictionId": a.jurisdiction_id, "at": at, "applies": f.applies, "ignored": f.ignored}),
    )
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListJurisdictions {}

pub async fn list_jurisdictions(pool: &PgPool) -> AppResult<Value> {
    #[derive(sqlx::FromRow, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        jurisdiction_id: Uuid,
        name: String,
        code: String,
        #[serde(rename = "type")]
        kind: String,
        parent_jurisdiction_id: Option<Uuid>,
        regulations: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT j.id AS jurisdiction_id, j.name, j.code, j.type AS kind, j.parent_jurisdiction_id,
                (SELECT COUNT(*) FROM jurisdiction_regulations r WHERE r.jurisdiction_id = j.id) AS regulations
           FROM jurisdictions j ORDER BY j.code",
    )
    .fetch_all(pool)
    .await?;
    Ok(json!({"jurisdictions": rows}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetAddress {
    /// The venue whose address this is …
    #[arg(
        long,
        required_unless_present = "organization_id",
        conflicts_with = "organization_id"
    )]
    #[serde(default)]
    pub venue_id: Option<Uuid>,
    /// … or the organization (the licensee's address, printed where a jurisdiction requires it).
    #[arg(long)]
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    #[arg(long)]
    pub street: String,
    #[arg(long)]
    pub city: String,
    /// State or province.
    #[arg(long)]
    #[serde(default)]
    pub state: Option<String>,
    #[arg(long)]
    #[serde(default)]
    pub zip_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. US, CA.
    #[arg(long)]
    pub country: String,
    /// The organization's phone number (with --organization-id only), printed where a
    /// jurisdiction requires `organizationPhone` on the receipt.
    #[arg(long)]
    #[serde(default)]
    pub phone: Option<String>,
}

/// Gives a venue or an organization an address (a new `addresses` row; the old one is kept for
/// what referred to it).
pub async fn set_address(pool: &PgPool, a: &SetAddress) -> AppResult<Value> {
    if a.street.trim().is_empty() || a.city.trim().is_empty() {
        return Err(bad("street/city", "must not be empty"));
    }
    let country = a.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(bad("country", "use the two-letter ISO 3166 code, e.g. US"));
    }
    let (table, id) = match (a.venue_id, a.organization_id) {
        (Some(v), None) => ("venues", v),
        (None, Some(o)) => ("organizations", o),
        _ => {
            return Err(bad(
                "venueId/organizationId",
                "give exactly one of venueId and organizationId",
            ))
        }
    };
    let phone = a.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = phone {
        if table != "organizations" {
            return Err(bad(
                "phone",
                "only an organization has a phone number on the receipt: use --organization-id",
            ));
        }
        if p.chars().count() > 40
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().x".contains(c))
        {
            return Err(bad(
                "phone",
                "use digits, spaces and + - ( ) . x only, at most 40 characters, e.g. +1 415 555 0100",
            ));
        }
    }
    let mut tx = pool.begin().await?;
    let address: Uuid = sqlx::query_scalar(
        "INSERT INTO addresses (street, city, state, zip_code, country) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(a.street.trim())
    .bind(a.city.trim())
    .bind(a.state.as_deref().map(str::trim))
    .bind(a.zip_code.as_deref().map(str::trim))
    .bind(&country)
    .fetch_one(&mut *tx)
    .await?;
    // `table` is one of two literals above, never input.
    let done = sqlx::query(&format!(
        "UPDATE {table} SET address_id = $2, updated_at = NOW() WHERE id = $1"
    ))
    .bind(id)
    .bind(address)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::of(
            if table == "venues" {
                ErrorCode::InvalidField
            } else {
                ErrorCode::UnknownOrganization
            },
            format!("no {} {id}", &table[..table.len() - 1]),
        ));
    }
    if table == "organizations" {
        if let Some(p) = phone {
            sqlx::query("UPDATE organizations SET phone = $2 WHERE id = $1")
                .bind(id)
                .bind(p)
                .execute(&mut *tx)
                .await?;
        }
        // Devices print the licensee's address and phone: they pull them again.
        crate::config_version::bump_config_version(&mut tx, id).await?;
    }
    tx.commit().await?;
    crate::admin::audit(
        pool,
        table,
        "UPDATE",
        id,
        None,
        json!({"addressId": address, "phone": phone}),
    )
    .await?;
    Ok(
        json!({"addressId": address, "venueId": a.venue_id, "organizationId": a.organization_id, "phone": phone}),
    )
}

/// The jurisdiction subcommands (flattened into `server-stub admin`).
#[derive(Clone, Debug, clap::Subcommand)]
pub enum JurisdictionCmd {
    /// A jurisdiction (country, state, province or local) under an optional parent.
    CreateJurisdiction(NewJurisdiction),
    /// A regulation of a jurisdiction, in force from --effective-date to --expiration-date.
    AddRegulation(NewRegulation),
    /// Every jurisdiction with its parent and number of regulations.
    ListJurisdictions(ListJurisdictions),
    /// The regulations in force in a jurisdiction (and those a parent does not let it override).
    JurisdictionProfile(ShowProfile),
    /// Put a venue in a jurisdiction (events created there are checked against it).
    SetVenueJurisdiction(SetVenueJurisdiction),
    /// The postal address of a venue or of the organization (the licensee).
    SetAddress(SetAddress),
}

/// `server-stub admin …`: runs one of [`JurisdictionCmd`].
pub async fn run(pool: &PgPool, cmd: JurisdictionCmd) -> AppResult<Value> {
    match cmd {
        JurisdictionCmd::CreateJurisdiction(a) => create_jurisdiction(pool, &a).await,
        JurisdictionCmd::AddRegulation(a) => add_regulation(pool, &a).await,
        JurisdictionCmd::ListJurisdictions(_) => list_jurisdictions(pool).await,
        JurisdictionCmd::JurisdictionProfile(a) => jurisdiction_profile(pool, &a).await,
        JurisdictionCmd::SetVenueJurisdiction(a) => set_venue_jurisdiction(pool, &a).await,
        JurisdictionCmd::SetAddress(a) => set_address(pool, &a).await,
    }
}
