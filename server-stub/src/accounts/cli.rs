//! `server-stub admin create-user | set-password | set-user-active | create-token | list-tokens |
//! revoke-token` (docs/server.md "Accounts and roles"). A password is never an argument: it is
//! typed twice at a prompt that does not echo, or piped with `--password-stdin`.

use std::io::{BufRead, IsTerminal};

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{password, tokens, NewUser};
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args)]
pub struct CreateUser {
    /// The address the user signs in with (unique, compared without case).
    #[arg(long)]
    pub email: String,
    /// The name shown in the dashboard and recorded as who did what.
    #[arg(long)]
    pub name: String,
    /// system_admin (everything, every organization), organization_admin, raffle_manager or
    /// viewer (docs/server.md "Accounts and roles").
    #[arg(long)]
    pub role: String,
    /// The organization the role is held in.
    #[arg(long)]
    pub organization_id: Uuid,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Clone, Debug, clap::Args)]
pub struct SetPassword {
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Clone, Debug, clap::Args)]
pub struct SetUserActive {
    #[arg(long)]
    pub email: String,
    /// false ends the user's sessions and revokes the user's API tokens.
    #[arg(long, action = clap::ArgAction::Set)]
    pub active: bool,
}

#[derive(Clone, Debug, clap::Args)]
pub struct CreateToken {
    /// The user the token acts as (with that user's roles).
    #[arg(long)]
    pub email: String,
    /// What the token is for, e.g. "nightly report export".
    #[arg(long)]
    pub name: String,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ListTokens {
    /// Only this user's tokens.
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Clone, Debug, clap::Args)]
pub struct RevokeToken {
    /// The token's id, as `admin list-tokens` shows it.
    #[arg(long)]
    pub id: Uuid,
}

/// The accounts' admin subcommands (flattened into `server-stub admin`).
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AccountsCmd {
    /// Add an admin user with a role in one organization (the password is typed twice at a
    /// prompt, or piped with --password-stdin; at least 12 characters).
    CreateUser(CreateUser),
    /// Change an admin user's password (lifts a lockout, ends the user's dashboard sessions).
    SetPassword(SetPassword),
    /// Deactivate (--active false: ends sessions, revokes API tokens) or reactivate a user.
    SetUserActive(SetUserActive),
    /// A new API token for a user (for scripts: Authorization: Bearer …); printed once.
    CreateToken(CreateToken),
    /// Every API token (never the secret): id, user, name, created, last used, revoked.
    ListTokens(ListTokens),
    /// Revoke an API token by id.
    RevokeToken(RevokeToken),
}

/// Reads the new password: the first line of stdin, or typed twice at a prompt without echo.
fn read_password(from_stdin: bool) -> AppResult<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            AppError::of(
                ErrorCode::InvalidField,
                format!("cannot read the password from stdin: {e}"),
            )
        })?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "standard input is not a terminal, so there is nobody to prompt for the password: \
             pipe it with --password-stdin",
        ));
    }
    let no_tty = |e: std::io::Error| {
        AppError::of(
            ErrorCode::InvalidField,
            format!("cannot prompt for the password ({e}): run in a terminal, or pipe it with --password-stdin"),
        )
    };
    let first =
        rpassword::prompt_password("New password (at least 12 characters): ").map_err(no_tty)?;
    password::check_new(&first)?;
    let second = rpassword::prompt_password("The same password again: ").map_err(no_tty)?;
    if first != second {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "the two passwords differ; nothing changed, run the command again",
        ));
    }
    Ok(first)
}

/// Runs one of [`AccountsCmd`].
pub async fn run(pool: &PgPool, cmd: AccountsCmd) -> AppResult<Option<Value>> {
    let v = match cmd {
        AccountsCmd::CreateUser(a) => {
            let pw = read_password(a.password_stdin)?;
            super::create_user(
                pool,
                &NewUser {
                    email: &a.email,
                    display_name: &a.name,
                    role: &a.role,
                    organization_id: a.organization_id,
                    password: &pw,
                },
            )
            .await?
        }
        AccountsCmd::SetPassword(a) => {
            let pw = read_password(a.password_stdin)?;
            let id = password::set_password(pool, &a.email, &pw).await?;
            json!({"userId": id, "email": a.email.trim(), "passwordChanged": true})
        }
        AccountsCmd::SetUserActive(a) => super::set_active(pool, &a.email, a.active).await?,
        AccountsCmd::CreateToken(a) => {
            let t = tokens::create(pool, &a.email, &a.name).await?;
            json!({"tokenId": t.id, "name": a.name.trim(), "email": a.email.trim(),
                   "token": t.token,
                   "note": "shown only now: store it as a secret; send it as Authorization: Bearer <token>"})
        }
        AccountsCmd::ListTokens(a) => tokens::list(pool, a.email.as_deref()).await?,
        AccountsCmd::RevokeToken(a) => tokens::revoke(pool, a.id).await?,
    };
    Ok(Some(v))
}
