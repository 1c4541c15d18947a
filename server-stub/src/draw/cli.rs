//! The draw's commands: `server-stub admin draw | draw-commitment | draw-export | claim |
//! verify-receipt` and `server-stub verify-draw FILE` (no database).

use rsu_core::wire::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

use super::algorithm::DrawFile;
use super::verify;
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Draw {
    #[arg(long)]
    pub event_id: Uuid,
    /// A public value nobody knew before the draw (e.g. a published lottery result), mixed
    /// into the randomness so neither the server nor the admin alone chooses the outcome.
    #[arg(long)]
    #[serde(default)]
    pub beacon: Option<String>,
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redraw {
    #[arg(long)]
    pub event_id: Uuid,
    /// Why, citing what allows it (e.g. "unclaimed after 90 days, rules §7").
    #[arg(long)]
    pub reason: String,
    /// A public value nobody knew before the redraw (as for the draw).
    #[arg(long)]
    #[serde(default)]
    pub beacon: Option<String>,
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventArg {
    #[arg(long)]
    pub event_id: Uuid,
}

#[derive(Clone, Debug, clap::Args)]
pub struct DrawExport {
    #[arg(long)]
    pub event_id: Uuid,
    /// Where to write the JSON file (docs/draw.md "The exported file").
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Debug, clap::Args)]
pub struct VerifyDraw {
    /// A file written by `admin draw-export`.
    pub file: PathBuf,
}

/// The draw's admin subcommands (flattened into `server-stub admin`).
#[derive(Clone, Debug, clap::Subcommand)]
pub enum DrawCmd {
    /// The draw, in drawing_ready only, once: winners, prize values, event → completed.
    Draw(Draw),
    /// After the claim deadline: draw again every place whose prize nobody claimed (once).
    Redraw(Redraw),
    /// The SHA-256 commitment of the event's secret (published from sales_closed on).
    DrawCommitment(EventArg),
    /// Write everything `verify-draw` needs to replay the draw.
    DrawExport(DrawExport),
    /// Record a prize claim by validation number (or signed receipt QR).
    Claim(crate::claims::Claim),
    /// Check a receipt's signed QR against the device's keys.
    VerifyReceipt(crate::claims::VerifyReceipt),
}

fn require_name(by: Option<&str>, what: &str) -> AppResult<String> {
    by.map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::bad_request(
                ErrorCode::MissingAdminName,
                format!("say who {what}: `--by NAME` (or SERVER_STUB_ADMIN_NAME) on the CLI, header X-Admin-Name over HTTP"),
            )
        })
}

/// `server-stub admin draw …`: runs one of [`DrawCmd`].
pub async fn run(pool: &PgPool, cmd: DrawCmd, by: Option<&str>) -> AppResult<Option<Value>> {
    let v = match cmd {
        DrawCmd::Draw(a) => draw(pool, &a, by).await?,
        DrawCmd::Redraw(a) => redraw(pool, &a, by).await?,
        DrawCmd::DrawCommitment(a) => super::store::show_commitment(pool, a.event_id).await?,
        DrawCmd::DrawExport(a) => {
            let file = super::export(pool, a.event_id).await?;
            let bytes = write_file(&a.out, &file)?;
            json!({"file": a.out.display().to_string(), "bytes": bytes,
                   "ticketCount": file.ticket_count, "checksum": file.checksum,
                   "winners": file.results.len(),
                   "verify": format!("server-stub verify-draw {}", a.out.display())})
        }
        DrawCmd::Claim(a) => crate::claims::claim(pool, &a, by).await?,
        DrawCmd::VerifyReceipt(a) => crate::claims::verify_receipt(pool, &a).await?,
    };
    Ok(Some(v))
}

/// The draw with the person running it.
pub async fn draw(pool: &PgPool, a: &Draw, by: Option<&str>) -> AppResult<Value> {
    let by = require_name(by, "runs the draw")?;
    super::run_draw(
        pool,
        &super::DrawRequest {
            event_id: a.event_id,
            beacon: a.beacon.as_deref(),
            by: &by,
        },
    )
    .await
}

/// The redraw of unclaimed prizes with the person running it.
pub async fn redraw(pool: &PgPool, a: &Redraw, by: Option<&str>) -> AppResult<Value> {
    let by = require_name(by, "runs the redraw")?;
    super::redraw_store::run_redraw(
        pool,
        &super::redraw_store::RedrawRequest {
            event_id: a.event_id,
            reason: &a.reason,
            beacon: a.beacon.as_deref(),
            by: &by,
        },
    )
    .await
}

/// Writes the file next to its final name, then renames it (a reader never sees half a file).
pub fn write_file(path: &Path, file: &DrawFile) -> AppResult<u64> {
    let io = |e: std::io::Error| {
        AppError::bad_request(
            ErrorCode::CannotWrite,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let tmp = path.with_extension("json.partial");
    let f = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    serde_json::to_writer(&mut w, file).map_err(|e| AppError::internal("draw export", e))?;
    w.write_all(b"\n").map_err(io)?;
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(std::fs::metadata(path).map_err(io)?.len())
}

/// Reads an exported file.
pub fn read_file(path: &Path) -> anyhow::Result<DrawFile> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a draw file (admin draw-export writes one): {e}",
            path.display()
        )
    })
}

/// `server-stub verify-draw FILE`: prints `valid …` or `NOT VALID` and every difference;
/// returns whether the file is valid. Needs no database.
pub fn verify_draw(a: &VerifyDraw) -> anyhow::Result<bool> {
    let file = read_file(&a.file)?;
    let diffs = verify::verify(&file);
    if diffs.is_empty() {
        println!(
            "valid: event {} ({}), {} tickets, checksum {}, commitment {}, {} winners",
            file.event_identifier,
            file.event_id,
            file.ticket_count,
            file.checksum,
            file.commitment,
            file.results.len()
        );
        for w in &file.results {
            let name = file
                .prizes
                .iter()
                .find(|p| p.prize_id == w.prize_id)
                .map_or("?", |p| p.name.as_str());
            println!(
                "  pick {}: number {} wins {name} (position {}, winner {}), {} {} minor units",
                w.pick, w.winning_number, w.position, w.winner_index, w.prize_value, file.currency
            );
        }
        Ok(true)
    } else {
        println!("NOT VALID: {} difference(s)", diffs.len());
        for d in &diffs {
            println!("  {d}");
        }
        Ok(false)
    }
}
