//! The accounts' CLI commands and `--as`.

use crate::helpers::*;
use axum::http::StatusCode;
use serde_json::Value;
use server_stub::accounts::session;
use server_stub::testkit::Fixture;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_server-stub");

fn run_cli(f: &Fixture, args: &[&str], stdin: &str) -> anyhow::Result<std::process::Output> {
    use std::io::Write;
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &f.db.url)
        .env_remove("SERVER_STUB_ADMIN_USER")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

#[tokio::test]
async fn the_cli_creates_users_and_tokens_and_attributes_changes_with_as() -> R {
    let f = Fixture::new().await?;
    let org = f.org_id.to_string();
    let create = [
        "admin",
        "create-user",
        "--email",
        "boss@example.org",
        "--name",
        "Boss",
        "--role",
        "organization_admin",
        "--organization-id",
        &org,
        "--password-stdin",
    ];
    let out = run_cli(&f, &create, "too short\n")?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 12"), "{err}");
    let out = run_cli(&f, &create, &format!("{PW}\n"))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = sign_in(&f, "boss@example.org", PW).await?;
    assert_eq!(
        a.status,
        StatusCode::SEE_OTHER,
        "the piped password signs in"
    );

    // Without a terminal and without --password-stdin there is no prompt: a clear refusal.
    let out = run_cli(
        &f,
        &["admin", "set-password", "--email", "boss@example.org"],
        "",
    )?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
    // A new password ends the sessions signed in with the old one.
    let session_token = a.session_token().unwrap_or_default();
    let out = run_cli(
        &f,
        &[
            "admin",
            "set-password",
            "--email",
            "boss@example.org",
            "--password-stdin",
        ],
        "an even better passphrase\n",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = session::resolve(&f.db.pool, &session_token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(live.is_none(), "the old session ended");
    assert_eq!(
        sign_in(&f, "boss@example.org", PW).await?.status,
        StatusCode::UNAUTHORIZED
    );
    let a = sign_in(&f, "boss@example.org", "an even better passphrase").await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER);

    let out = run_cli(
        &f,
        &[
            "admin",
            "create-token",
            "--email",
            "boss@example.org",
            "--name",
            "ci",
        ],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let token = v["token"].as_str().unwrap_or_default().to_string();
    let a = admin_call(
        &f,
        &token,
        "GET",
        &format!("/v1/admin/events/{}/report", f.event_id),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    let out = run_cli(&f, &["admin", "list-tokens"], "")?;
    let listed: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(listed["tokens"][0]["name"], "ci");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&token),
        "never the secret"
    );

    let out = run_cli(
        &f,
        &[
            "admin",
            "--as",
            "boss@example.org",
            "create-venue",
            "--organization-id",
            &org,
            "--name",
            "Annex",
        ],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (by, boss): (Option<Uuid>, Uuid) = sqlx::query_as(
        "SELECT a.changed_by, u.id FROM audit_log a, users u
          WHERE a.table_name = 'venues' AND u.email = 'boss@example.org'
          ORDER BY a.id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, Some(boss));

    let out = run_cli(
        &f,
        &[
            "admin",
            "set-user-active",
            "--email",
            "boss@example.org",
            "--active",
            "false",
        ],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = admin_call(
        &f,
        &token,
        "GET",
        &format!("/v1/admin/events/{}/report", f.event_id),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = sign_in(&f, "boss@example.org", "an even better passphrase").await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "deactivated");
    f.db.drop_db().await;
    Ok(())
}
