//! `server-stub`: serve, migrate, admin commands and the demo seed.

use anyhow::Context;
use clap::{Parser, Subcommand};
use rsu_core::wire::ErrorCode;
use serde_json::Value;
use server_stub::admin;
use server_stub::settings::Settings;
use server_stub::{db, AppState};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Companion server for raffle sales units: enrollment, signed device requests, configuration,
/// allocations, and the journal push that reconciles device sales into orders and tickets; an
/// admin CLI (and the same operations over HTTP) to set up organizations, events, packages,
/// operators, RSUs and allocations.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Optional TOML settings file (database_url, bind, admin_token, max_connections);
    /// the environment (DATABASE_URL, SERVER_STUB_BIND, SERVER_STUB_ADMIN_TOKEN) wins over it.
    #[arg(long, global = true, env = "SERVER_STUB_CONFIG")]
    config: Option<PathBuf>,
    /// Who is running admin commands, recorded by resolve, exclude-rsu, include-rsu, claim-perk
    /// and the transition to reconciled (default: SERVER_STUB_ADMIN_NAME, else the login name in USER).
    #[arg(long, global = true)]
    by: Option<String>,
    /// The admin user (by email) that admin commands are recorded as in audit_log.changed_by,
    /// and whose name is the default of --by (docs/server.md "Accounts and roles"); without it
    /// changed_by stays empty.
    #[arg(
        long = "as",
        global = true,
        env = "SERVER_STUB_ADMIN_USER",
        value_name = "EMAIL"
    )]
    as_user: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Apply migrations, then serve the device and admin API.
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate,
    /// Create the demo organization, event, packages, operators and RSU; print an enrollment token.
    DemoSeed,
    /// Admin operations (each prints its result as JSON).
    #[command(subcommand)]
    Admin(Box<AdminCmd>),
    /// Replay an exported draw (admin draw-export) without a database: prints `valid` or every
    /// difference, and exits non-zero when it is not valid.
    VerifyDraw(server_stub::draw::cli::VerifyDraw),
    #[command(flatten)]
    OpenApi(server_stub::openapi::OpenApiCmd),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Also serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (off when
    /// unset). Bind it to localhost or a private network: it is not authenticated
    /// (docs/server.md "Metrics").
    #[arg(long, value_name = "ADDR", env = server_stub::metrics::METRICS_ADDR_ENV)]
    metrics_addr: Option<String>,
}

#[derive(Subcommand)]
enum AdminCmd {
    CreateOrganization(admin::NewOrganization),
    CreateVenue(admin::NewVenue),
    CreateEvent(admin::NewEvent),
    AddPackage(admin::NewPackage),
    SetPackagePrice(admin::SetPackagePrice),
    AddPrize(admin::NewPrize),
    CreateOperator(admin::NewOperator),
    /// Register an RSU and print its one-time enrollment token and its offline limits
    /// (--max-offline-tickets, else the system default of 100; docs/server.md "Sizing the offline
    /// limits").
    CreateRsu(admin::NewRsu),
    /// A new one-time enrollment token for an RSU (re-enrollment starts a new epoch).
    EnrollmentToken(admin::NewEnrollmentToken),
    /// Revoke a key (and the keys it registered by rotation), or every key of an RSU (--all).
    RevokeKey(admin::RevokeKey),
    /// List an RSU's keys: active, pending (registered by rotation, not used yet), expired, revoked.
    ListKeys(server_stub::lifecycle::ListKeys),
    /// Mark an RSU lost or decommissioned (revokes every key) or active again.
    SetRsuState(server_stub::lifecycle::SetRsuState),
    /// Give an RSU's withheld ranges back once the previous database's journal reached the server.
    ReleaseWithheld(server_stub::lifecycle::ReleaseWithheld),
    Allocate(admin::NewAllocation),
    /// Move an event along its state machine (recorded as a critical event). `reconciled` is
    /// refused while any RSU holding an allocation is neither reconciled nor excluded.
    Transition(admin::Transition),
    /// The reconciliation report of an event (docs/server.md "Reconciliation report").
    Report(ReportArgs),
    /// Record who resolved a rejected or conflicting journal entry, when and why.
    Resolve(server_stub::closeout::Resolve),
    /// Exclude an RSU from an event's reconciliation (lost or destroyed device); --lost also
    /// marks it lost and revokes its keys.
    ExcludeRsu(server_stub::closeout::ExcludeRsu),
    /// Lift an RSU's exclusion from an event (recorded).
    IncludeRsu(server_stub::closeout::IncludeRsu),
    /// Import a dead device's journal (`rsu-app export --out FILE`): the signature and every
    /// chain are checked, then what the server does not hold yet is applied like a push.
    ImportJournal(server_stub::import::ImportJournal),
    #[command(flatten)]
    Draw(server_stub::draw::cli::DrawCmd),
    #[command(flatten)]
    Templates(server_stub::admin::templates::TemplateCmd),
    /// Set an organization's tax rate (and whether prices include it) and operating fee; the
    /// reconciliation report shows the proceeds with them.
    SetMoneySettings(server_stub::admin::money::SetMoneySettings),
    /// Remove what the data-retention settings allow (ticket data of completed events, old
    /// critical events and audit entries); --dry-run only counts.
    Purge(server_stub::purge::Purge),
    #[command(flatten)]
    Jurisdictions(server_stub::jurisdictions::admin::JurisdictionCmd),
    #[command(flatten)]
    Perks(server_stub::perks::PerkCmd),
    #[command(flatten)]
    Browse(admin::browse::BrowseCmd),
    #[command(flatten)]
    Accounts(server_stub::accounts::cli::AccountsCmd),
    /// Record an app build (the appHash devices report) as approved in an organization: the
    /// dashboard's devices page warns about devices running any other build.
    ApproveAppHash(server_stub::dashboard::apphash::ApproveAppHash),
}

#[derive(clap::Args)]
struct ReportArgs {
    #[arg(long)]
    event_id: uuid::Uuid,
    /// text (for a terminal), json (the documented shape) or csv (one row per range).
    #[arg(long, default_value = "text", value_parser = ["text", "json", "csv"])]
    format: String,
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

#[tokio::main]
async fn main() {
    // One clear line and a non-zero exit, never a backtrace.
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: under systemd or redirected to a file, plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    if let Cmd::VerifyDraw(a) = &cli.command {
        if !server_stub::draw::cli::verify_draw(a)? {
            std::process::exit(2);
        }
        return Ok(());
    }
    if let Cmd::OpenApi(c) = &cli.command {
        return server_stub::openapi::run(c);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    let pool = db::connect(&settings.database_url, settings.max_connections).await?;
    db::migrate(&pool).await?;
    let result = match cli.command {
        Cmd::Migrate => {
            eprintln!(
                "migrations applied to {}",
                db::redact(&settings.database_url)
            );
            return Ok(());
        }
        Cmd::Serve(serve) => {
            let listener = tokio::net::TcpListener::bind(&settings.bind)
                .await
                .with_context(|| format!("cannot listen on {}", settings.bind))?;
            let addr = listener.local_addr()?;
            if settings.admin_token.is_none() {
                tracing::info!(
                    "SERVER_STUB_ADMIN_TOKEN is not set: admin HTTP accepts per-user API tokens only"
                );
            }
            let state = AppState::new(pool, settings.admin_token.as_deref())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let metrics = match &serve.metrics_addr {
                Some(m) => {
                    let l = tokio::net::TcpListener::bind(m)
                        .await
                        .with_context(|| format!("cannot listen on {m} (--metrics-addr)"))?;
                    tracing::info!(addr = %l.local_addr()?, "metrics at /metrics");
                    let st = state.clone();
                    Some(tokio::spawn(async move {
                        server_stub::metrics::serve(l, st, std::future::pending()).await
                    }))
                }
                None => None,
            };
            tracing::info!(%addr, "server-stub listening");
            let shutdown = async {
                let ctrl_c = tokio::signal::ctrl_c();
                #[cfg(unix)]
                {
                    let mut term = match tokio::signal::unix::signal(
                        tokio::signal::unix::SignalKind::terminate(),
                    ) {
                        Ok(t) => t,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                    tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
                }
                #[cfg(not(unix))]
                {
                    let _ = ctrl_c.await;
                }
            };
            server_stub::serve(listener, state, shutdown).await?;
            if let Some(m) = metrics {
                m.abort();
            }
            return Ok(());
        }
        Cmd::DemoSeed => server_stub::demo::demo_seed(&pool).await.map(Some),
        Cmd::VerifyDraw(_) | Cmd::OpenApi(_) => return Ok(()), // handled above, before any database
        Cmd::Admin(a) => {
            let user = match cli.as_user.as_deref().filter(|e| !e.trim().is_empty()) {
                Some(email) => Some(
                    server_stub::accounts::active_user_by_email(&pool, email)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?,
                ),
                None => None,
            };
            let by = cli
                .by
                .clone()
                .or_else(|| std::env::var("SERVER_STUB_ADMIN_NAME").ok())
                .or_else(|| user.as_ref().map(|(_, name)| name.clone()))
                .or_else(|| std::env::var("USER").ok())
                .filter(|b| !b.trim().is_empty());
            server_stub::accounts::acting_as(
                user.map(|(id, _)| id),
                server_stub::closeout::with_actor(by.clone(), admin_cmd(&pool, *a, by.as_deref())),
            )
            .await
        }
    };
    match result {
        Ok(Some(v)) => print(&v),
        Ok(None) => Ok(()),
        Err(e) => {
            if let Some(i) = &e.internal {
                i.log();
            }
            anyhow::bail!("{}: {}", e.code, e.message)
        }
    }
}

async fn admin_cmd(
    pool: &sqlx::PgPool,
    a: AdminCmd,
    by: Option<&str>,
) -> Result<Option<Value>, server_stub::AppError> {
    use server_stub::closeout;
    let pool = pool.clone();
    let v = match a {
        AdminCmd::CreateOrganization(x) => admin::create_organization(&pool, &x).await,
        AdminCmd::CreateVenue(x) => admin::create_venue(&pool, &x).await,
        AdminCmd::CreateEvent(x) => admin::create_event(&pool, &x).await,
        AdminCmd::AddPackage(x) => admin::create_package(&pool, &x).await,
        AdminCmd::SetPackagePrice(x) => admin::set_package_price(&pool, &x).await,
        AdminCmd::AddPrize(x) => admin::create_prize(&pool, &x).await,
        AdminCmd::CreateOperator(x) => admin::create_operator(&pool, &x).await,
        AdminCmd::CreateRsu(x) => {
            let v = admin::show::create_rsu_with_limits(&pool, &x).await?;
            if let Some(note) = v.pointer("/offlineLimits/note").and_then(Value::as_str) {
                eprintln!("offline limits: {note}");
            }
            Ok(v)
        }
        AdminCmd::EnrollmentToken(x) => admin::create_enrollment_token(&pool, &x).await,
        AdminCmd::RevokeKey(x) => admin::revoke_key(&pool, &x).await,
        AdminCmd::ListKeys(x) => server_stub::lifecycle::list_keys(&pool, &x).await,
        AdminCmd::SetRsuState(x) => server_stub::lifecycle::set_rsu_state(&pool, &x).await,
        AdminCmd::ReleaseWithheld(x) => server_stub::lifecycle::release_withheld(&pool, &x).await,
        AdminCmd::Allocate(x) => admin::create_allocation(&pool, &x).await,
        AdminCmd::Transition(x) => admin::transition(&pool, &x).await,
        AdminCmd::Report(x) => {
            let r = server_stub::report::event_report(&pool, x.event_id).await?;
            let out = match x.format.as_str() {
                "json" => serde_json::to_string_pretty(&r)
                    .map_err(|e| server_stub::AppError::internal("report json", e))?,
                "csv" => server_stub::report::to_csv(&r),
                _ => server_stub::report::to_text(&r),
            };
            println!("{}", out.trim_end());
            return Ok(None);
        }
        AdminCmd::Resolve(x) => closeout::resolve(&pool, &x, by).await,
        AdminCmd::ExcludeRsu(x) => closeout::exclude_rsu(&pool, &x, by).await,
        AdminCmd::IncludeRsu(x) => closeout::include_rsu(&pool, &x, by).await,
        AdminCmd::Draw(x) => return server_stub::draw::cli::run(&pool, x, by).await,
        AdminCmd::Templates(x) => server_stub::admin::templates::run(&pool, x).await,
        AdminCmd::SetMoneySettings(x) => {
            server_stub::admin::money::set_money_settings(&pool, &x).await
        }
        AdminCmd::Purge(x) => server_stub::purge::purge(&pool, &x).await,
        AdminCmd::Jurisdictions(x) => server_stub::jurisdictions::admin::run(&pool, x).await,
        AdminCmd::Perks(x) => server_stub::perks::run(&pool, x, by).await,
        AdminCmd::Browse(x) => return admin::browse::run(&pool, x).await,
        AdminCmd::Accounts(x) => return server_stub::accounts::cli::run(&pool, x).await,
        AdminCmd::ApproveAppHash(x) => {
            server_stub::dashboard::apphash::approve_app_hash(&pool, &x, by).await
        }
        AdminCmd::ImportJournal(x) => {
            let text = std::fs::read_to_string(&x.file).map_err(|e| {
                server_stub::AppError::of(
                    ErrorCode::BadExport,
                    format!("cannot read {}: {e}", x.file.display()),
                )
            })?;
            let file = server_stub::import::parse_export(&text)?;
            let tty = std::io::stderr().is_terminal();
            let report =
                server_stub::import::import_export(&pool, x.rsu_id, &file, |done, total| {
                    if tty && total > 0 {
                        eprint!(
                            "\r  importing: {done} / {total} entries ({}%)",
                            done * 100 / total
                        );
                    }
                })
                .await;
            if tty {
                eprintln!();
            }
            serde_json::to_value(report?)
                .map_err(|e| server_stub::AppError::internal("import json", e))
        }
    };
    v.map(Some)
}
