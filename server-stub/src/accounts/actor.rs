//! Who `audit_log.changed_by` names: the user behind the admin operation running in this task.
//!
//! The HTTP handlers run each operation inside [`acting_as`] with their principal's user id
//! (none for the shared token), the CLI with the user of `--as EMAIL` (none without it); every
//! `INSERT INTO audit_log` binds [`changed_by`]. A task-local, like `closeout::with_actor` for the
//! name, so the operations shared by the CLI and HTTP keep their signatures.

use std::future::Future;

use uuid::Uuid;

use super::Principal;

tokio::task_local! {
    static CHANGED_BY: Option<Uuid>;
}

/// Runs `f` with `user` recorded as the author of every change it makes.
pub async fn acting_as<F: Future>(user: Option<Uuid>, f: F) -> F::Output {
    CHANGED_BY.scope(user, f).await
}

/// The user performing the current admin operation, if any (`audit_log.changed_by`).
pub fn changed_by() -> Option<Uuid> {
    CHANGED_BY.try_with(|u| *u).ok().flatten()
}

/// Runs `f` as `p` from a dashboard handler: `changed_by` is the user, and the name recorded as
/// who did it (resolved by, excluded by, drawn by) is the user's display name.
pub async fn as_principal<F: Future>(p: &Principal, f: F) -> F::Output {
    let name = Some(p.display_name.clone()).filter(|_| p.user_id.is_some());
    acting_as(p.user_id, crate::closeout::with_actor(name, f)).await
}
