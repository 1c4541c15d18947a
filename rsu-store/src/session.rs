//! Who is at the kiosk: the session's operator and their open shift. The bottom of the store's
//! modules: the journal (which stamps each entry with the operator), people, sales and status
//! read it, and it reads nothing of theirs.

use rusqlite::{OptionalExtension, Transaction};
use uuid::Uuid;

use crate::{parse_uuid, CachedSql, StoreError};

/// The logged-in operator, if any.
pub(crate) fn session_operator(tx: &Transaction<'_>) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = tx
        .query_row_cached("SELECT operator_id FROM session WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    id.map(|s| parse_uuid(&s)).transpose()
}

/// The operator's open shift, if any.
pub(crate) fn open_shift_of(
    tx: &Transaction<'_>,
    operator: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = tx
        .query_row_cached(
            "SELECT id FROM shifts WHERE operator_id = ?1 AND closed_at IS NULL",
            [operator.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    id.map(|s| parse_uuid(&s)).transpose()
}
