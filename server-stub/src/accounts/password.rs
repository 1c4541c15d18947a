//! Dashboard passwords: Argon2id (RustCrypto `argon2`, the OWASP parameters m = 19 MiB, t = 2,
//! p = 1) stored as PHC strings in `users.password_hash`, and the sign-in check with its lockout
//! (docs/server.md "Accounts and roles").
//!
//! Every failure (unknown email, no password set, inactive user, wrong password, locked account)
//! answers the same [`SignIn::Refused`], and each runs one Argon2 verification, so neither the
//! message nor the time tells whether an email has an account.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Duration;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// The longest password accepted (a bound on the work one request can ask for).
pub const MAX_LENGTH: usize = 1024;
/// Wrong passwords within [`FAILURE_WINDOW`] that lock an account.
pub const MAX_FAILURES: i32 = 5;
/// The window in which wrong passwords are counted.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::minutes(15);

/// Checks a new password's length, saying what is wrong.
pub fn check_new(password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!(
                "the password has {n} characters; it needs at least {MIN_LENGTH} (a few words make a good one)"
            ),
        ));
    }
    if password.len() > MAX_LENGTH {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!("the password is longer than {MAX_LENGTH} bytes"),
        ));
    }
    Ok(())
}

/// The Argon2id PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal("argon2 hash", e))
}

/// Whether `password` matches the PHC string `phc`. A malformed stored hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is not a PHC string");
            false
        }
    }
}

/// A hash no password matches, verified when there is no real one so that every failure costs
/// the same time.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 32]>());
        hash(&random).unwrap_or_default()
    })
}

/// Runs the Argon2 verification on the blocking pool (it takes tens of milliseconds).
async fn verify_blocking(password: String, phc: Option<String>) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            verify(&password, decoy());
            false
        }
    })
    .await
    .map_err(|e| AppError::internal("password check", e))
}

/// Sets a user's password (hashing it), clearing any lockout and ending the user's dashboard
/// sessions. The user is found by email.
pub async fn set_password(pool: &PgPool, email: &str, password: &str) -> AppResult<Uuid> {
    check_new(password)?;
    let owned = password.to_string();
    let phc = tokio::task::spawn_blocking(move || hash(&owned))
        .await
        .map_err(|e| AppError::internal("password hash", e))??;
    let id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE users SET password_hash = $2, failed_logins = 0, first_failed_login_at = NULL,
                          locked_until = NULL
          WHERE lower(email) = lower($1) RETURNING id",
    )
    .bind(email.trim())
    .bind(phc)
    .fetch_optional(pool)
    .await?;
    let id = id.ok_or_else(|| unknown_user(email))?;
    // A new password (often after a suspected leak) signs the user out everywhere.
    sqlx::query(
        "UPDATE admin_sessions SET revoked_at = NOW() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(pool)
    .await?;
    crate::admin::audit(
        pool,
        "users",
        "UPDATE",
        id,
        None,
        json!({"passwordChanged": true}),
    )
    .await?;
    Ok(id)
}

pub(crate) fn unknown_user(email: &str) -> AppError {
    AppError::of(
        ErrorCode::InvalidField,
        format!(
            "field email: no admin user {:?}; `server-stub admin create-user` adds one",
            email.trim()
        ),
    )
}

/// The outcome of a sign-in.
#[derive(Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The password checked out: start a session for this user.
    Ok(Uuid),
    /// Anything else; the caller shows the one generic message.
    Refused,
}

/// Checks an email and password, counting wrong passwords: the [`MAX_FAILURES`]th within
/// [`FAILURE_WINDOW`] locks the account for [`LOCKOUT`] and records a CRITICAL
/// `ADMIN_LOGIN_LOCKOUT` event. While locked even the right password is refused.
pub async fn sign_in(
    pool: &PgPool,
    email: &str,
    password: &str,
    client: &str,
) -> AppResult<SignIn> {
    type UserRow = (Uuid, Option<String>, bool, bool);
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT id, password_hash, is_active, COALESCE(locked_until > NOW(), FALSE)
           FROM users WHERE lower(email) = lower($1)",
    )
    .bind(email.trim())
    .fetch_optional(pool)
    .await?;
    let too_long = password.len() > MAX_LENGTH;
    let phc = row.as_ref().and_then(|r| r.1.clone()).filter(|_| !too_long);
    let pw: String = if too_long {
        String::new()
    } else {
        password.to_string()
    };
    let matches = verify_blocking(pw, phc).await?;
    let Some((user, _, active, locked)) = row else {
        return Ok(SignIn::Refused);
    };
    if matches && active && !locked {
        sqlx::query(
            "UPDATE users SET last_login = NOW(), failed_logins = 0, first_failed_login_at = NULL,
                              locked_until = NULL
              WHERE id = $1",
        )
        .bind(user)
        .execute(pool)
        .await?;
        return Ok(SignIn::Ok(user));
    }
    if locked || matches {
        // Locked (or inactive with the right password): nothing more to count.
        return Ok(SignIn::Refused);
    }
    let failures: i32 = sqlx::query_scalar(
        "UPDATE users SET
            failed_logins = CASE WHEN first_failed_login_at IS NULL
                                   OR first_failed_login_at < NOW() - make_interval(secs => $2)
                                 THEN 1 ELSE failed_logins + 1 END,
            first_failed_login_at = CASE WHEN first_failed_login_at IS NULL
                                           OR first_failed_login_at < NOW() - make_interval(secs => $2)
                                         THEN NOW() ELSE first_failed_login_at END
          WHERE id = $1 RETURNING failed_logins",
    )
    .bind(user)
    .bind(FAILURE_WINDOW.num_seconds() as f64)
    .fetch_one(pool)
    .await?;
    if failures >= MAX_FAILURES {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE users SET locked_until = NOW() + make_interval(secs => $2), failed_logins = 0,
                              first_failed_login_at = NULL
              WHERE id = $1",
        )
        .bind(user)
        .bind(LOCKOUT.num_seconds() as f64)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO critical_events (event_type, user_id, severity, description, metadata)
             VALUES ('ADMIN_LOGIN_LOCKOUT', $1, 'CRITICAL', $2, $3)",
        )
        .bind(user)
        .bind(format!(
            "{failures} wrong passwords for {} within {} minutes: the account is locked for {} minutes",
            email.trim(),
            FAILURE_WINDOW.num_minutes(),
            LOCKOUT.num_minutes()
        ))
        .bind(json!({"email": email.trim(), "client": client, "failures": failures,
                     "lockedMinutes": LOCKOUT.num_minutes()}))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(email = %email.trim(), %client, "admin account locked after {failures} wrong passwords");
    }
    Ok(SignIn::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterx", &h));
        assert!(!verify("correct horse battery", "not a phc string"));
    }

    #[test]
    fn a_short_password_is_refused_with_the_minimum_named() {
        let e = check_new("elevenchars").expect_err("short");
        assert!(e.message.contains("at least 12"), "{}", e.message);
        assert!(check_new("twelve chars").is_ok());
    }
}
