//! Operators, PIN login with lockout, and shifts with their Z report.

use chrono::{DateTime, Duration, Utc};
use rsu_core::config::Role;
use rsu_core::journal::EntryKind;
use rsu_core::payload::{PackageLine, RangeUse, ShiftClosePayload};
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use crate::journal::{append, chain_tail, critical};
use crate::session::{open_shift_of, session_operator};
use crate::CachedSql;
use crate::{parse_ts, parse_uuid, ts, LoginError, Store, StoreError};

/// Wrong PINs in a row before the keypad locks.
pub const MAX_PIN_ATTEMPTS: u32 = 5;
/// How long the keypad stays locked: the first lockout since the last accepted PIN lasts 5
/// minutes, the second 15, every later one 60.
pub const LOCKOUT_MINUTES: [i64; 3] = [5, 15, 60];

/// The length of the `n`-th lockout in a row (1-based).
pub fn lockout_minutes(n: u32) -> i64 {
    let i = (n.max(1) as usize - 1).min(LOCKOUT_MINUTES.len() - 1);
    LOCKOUT_MINUTES[i]
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    pub id: Uuid,
    pub operator_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub float_minor: i64,
    pub currency: String,
    pub closed_at: Option<DateTime<Utc>>,
}

fn operator_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

impl Store {
    /// Checks a PIN against the roster. Wrong PINs are counted (and committed) even though the
    /// caller's operation fails; five in a row lock the keypad, for 5, then 15, then 60 minutes
    /// on repeated lockouts until a PIN is accepted. A PIN that matches more than one active
    /// operator is refused: it cannot say who is at the keypad (a seller sharing a supervisor's
    /// PIN would otherwise act as the supervisor). Every failure, lockout and ambiguous PIN is a
    /// critical event.
    pub fn authenticate(
        &mut self,
        pin: &str,
        need_supervisor: bool,
    ) -> Result<Operator, StoreError> {
        if rsu_core::pin::check_form(pin).is_err() {
            return Err(LoginError::BadForm.into());
        }
        let now = self.now()?;
        let tx = self.begin()?;
        let (attempts, locked_until, lockouts): (u32, Option<String>, u32) = tx
            .query_row_cached(
                "SELECT failed_pin_attempts, locked_until, pin_lockouts FROM device WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or(StoreError::NotEnrolled)?;
        if let Some(until) = locked_until {
            if parse_ts(&until)? > now {
                return Err(LoginError::LockedOut { until }.into());
            }
        }
        let roster: Vec<(String, String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, name, role, pin_hash FROM operators WHERE is_active = 1 ORDER BY name, id",
            )?;
            let rows = stmt.query_map([], operator_row)?;
            rows.collect::<Result<_, _>>()?
        };
        // Every operator is checked, not just up to the first match: a PIN two operators share
        // must be refused, whichever of them is typing it.
        let mut matches = Vec::new();
        for (id, name, role, hash) in roster {
            if rsu_core::pin::verify_pin(pin, &hash).unwrap_or(false) {
                let role = Role::parse(&role).ok_or_else(|| {
                    StoreError::Invalid(format!("operator {name} has unknown role {role}"))
                })?;
                matches.push(Operator {
                    id: parse_uuid(&id)?,
                    name,
                    role,
                });
            }
        }
        if matches.len() > 1 {
            // Not a wrong PIN (the person knows a valid one), so not counted towards a lockout;
            // recorded for the raffle manager, who must give each operator a PIN of their own.
            let ids: Vec<Uuid> = matches.iter().map(|o| o.id).collect();
            let names: Vec<&str> = matches.iter().map(|o| o.name.as_str()).collect();
            critical(
                &tx,
                now,
                "PIN_AMBIGUOUS",
                "CRITICAL",
                format!(
                    "a PIN shared by {} operators was refused ({}): the roster must give each operator a PIN of their own",
                    matches.len(),
                    names.join(", ")
                ),
                None,
                json!({"operatorIds": ids}),
            )?;
            tx.commit()?;
            return Err(LoginError::AmbiguousPin.into());
        }
        match matches.pop() {
            Some(op) => {
                tx.execute_cached(
                    "UPDATE device SET failed_pin_attempts = 0, locked_until = NULL, pin_lockouts = 0 WHERE id = 1",
                    [],
                )?;
                if need_supervisor && op.role != Role::Supervisor {
                    tx.commit()?;
                    return Err(LoginError::NotSupervisor.into());
                }
                tx.commit()?;
                Ok(op)
            }
            None => {
                let attempts = attempts + 1;
                critical(
                    &tx,
                    now,
                    "PIN_FAILED",
                    "WARNING",
                    format!("wrong PIN entered ({attempts} in a row)"),
                    None,
                    json!({"attempts": attempts}),
                )?;
                let result = if attempts >= MAX_PIN_ATTEMPTS {
                    let lockouts = lockouts.saturating_add(1);
                    let minutes = lockout_minutes(lockouts);
                    let until = ts(&(now + Duration::minutes(minutes)));
                    tx.execute_cached(
                        "UPDATE device SET failed_pin_attempts = 0, locked_until = ?1, pin_lockouts = ?2 WHERE id = 1",
                        params![&until, lockouts],
                    )?;
                    critical(
                        &tx,
                        now,
                        "LOCKOUT",
                        "CRITICAL",
                        format!(
                            "keypad locked for {minutes} minutes after {attempts} wrong PINs (lockout {lockouts} in a row)"
                        ),
                        None,
                        json!({"lockedUntil": until, "minutes": minutes, "lockoutsInARow": lockouts}),
                    )?;
                    LoginError::LockedOut { until }
                } else {
                    tx.execute_cached(
                        "UPDATE device SET failed_pin_attempts = ?1 WHERE id = 1",
                        [attempts],
                    )?;
                    LoginError::WrongPin {
                        attempts_left: MAX_PIN_ATTEMPTS - attempts,
                    }
                };
                tx.commit()?;
                Err(result.into())
            }
        }
    }

    /// Logs an operator in with a PIN and opens their shift if none is open.
    pub fn login(
        &mut self,
        pin: &str,
        float_minor: Option<i64>,
    ) -> Result<(Operator, Shift), StoreError> {
        let op = self.authenticate(pin, false)?;
        let now = self.now()?;
        let tx = self.begin()?;
        tx.execute_cached(
            "INSERT INTO session (id, operator_id, logged_in_at, last_activity_at) VALUES (1, ?1, ?2, ?2)
             ON CONFLICT (id) DO UPDATE SET operator_id = excluded.operator_id,
                 logged_in_at = excluded.logged_in_at, last_activity_at = excluded.last_activity_at",
            params![op.id.to_string(), ts(&now)],
        )?;
        critical(
            &tx,
            now,
            "LOGIN",
            "INFO",
            format!("{} logged in", op.name),
            Some(op.id),
            json!({"role": op.role.as_str()}),
        )?;
        let shift_id = match open_shift_of(&tx, op.id)? {
            Some(id) => id,
            None => open_shift_tx(&tx, now, op.id, float_minor.unwrap_or(0))?,
        };
        tx.commit()?;
        let shift = self.shift(shift_id)?;
        Ok((op, shift))
    }

    /// The operator logged in now, if any.
    pub fn current_operator(&mut self) -> Result<Option<Operator>, StoreError> {
        let row: Option<(String, String, String, String)> = self
            .conn
            .query_row_cached(
                "SELECT o.id, o.name, o.role, o.pin_hash FROM session s JOIN operators o ON o.id = s.operator_id WHERE s.id = 1",
                [],
                operator_row,
            )
            .optional()?;
        row.map(|(id, name, role, _)| {
            Ok(Operator {
                id: parse_uuid(&id)?,
                name,
                role: Role::parse(&role).unwrap_or(Role::Seller),
            })
        })
        .transpose()
    }

    /// Ends the session. Refused while journal entries are pending (DESIGN §3.10): the last
    /// operator walking away from unsynced sales is how they get lost. Use [`Store::lock_screen`]
    /// to step away without logging out.
    pub fn logout(&mut self) -> Result<(), StoreError> {
        let pending = self.sync_counts()?.pending_entries;
        if pending > 0 {
            return Err(StoreError::PendingEntries {
                count: pending,
                action: "logging out",
            });
        }
        self.end_session("LOGOUT")
    }

    /// Locks the kiosk: the session ends but the shift stays open and nothing is discarded.
    pub fn lock_screen(&mut self) -> Result<(), StoreError> {
        self.end_session("SCREEN_LOCKED")
    }

    fn end_session(&mut self, event: &str) -> Result<(), StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let op = session_operator(&tx)?;
        if op.is_some() {
            tx.execute_cached("DELETE FROM session WHERE id = 1", [])?;
            critical(
                &tx,
                now,
                event,
                "INFO",
                event.to_lowercase().replace('_', " "),
                op,
                json!({}),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Opens a shift for the logged-in operator with a cash float.
    pub fn open_shift(&mut self, float_minor: i64) -> Result<Shift, StoreError> {
        if float_minor < 0 {
            return Err(StoreError::Invalid(
                "the cash float cannot be negative".into(),
            ));
        }
        let now = self.now()?;
        let tx = self.begin()?;
        let op = session_operator(&tx)?.ok_or(rsu_core::SaleRefusal::NotLoggedIn)?;
        if open_shift_of(&tx, op)?.is_some() {
            return Err(StoreError::Invalid(
                "a shift is already open for this operator: close it first".into(),
            ));
        }
        let id = open_shift_tx(&tx, now, op, float_minor)?;
        tx.commit()?;
        self.shift(id)
    }

    pub fn shift(&self, id: Uuid) -> Result<Shift, StoreError> {
        let row: Option<(String, String, i64, String, Option<String>)> = self
            .conn
            .query_row_cached(
                "SELECT operator_id, opened_at, float_minor, currency, closed_at FROM shifts WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let (op, opened, float_minor, currency, closed) =
            row.ok_or_else(|| StoreError::NotFound(format!("no shift {id}")))?;
        Ok(Shift {
            id,
            operator_id: parse_uuid(&op)?,
            opened_at: parse_ts(&opened)?,
            float_minor,
            currency,
            closed_at: closed.map(|c| parse_ts(&c)).transpose()?,
        })
    }

    /// The open shift of the logged-in operator.
    pub fn current_shift(&mut self) -> Result<Option<Shift>, StoreError> {
        let tx = self.begin()?;
        let id = match session_operator(&tx)? {
            Some(op) => open_shift_of(&tx, op)?,
            None => None,
        };
        drop(tx);
        id.map(|id| self.shift(id)).transpose()
    }

    /// The running totals of the logged-in operator's open shift (what a Z report would say now).
    pub fn shift_totals(&mut self) -> Result<Option<ShiftClosePayload>, StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let Some(op) = session_operator(&tx)? else {
            return Ok(None);
        };
        let Some(shift) = open_shift_of(&tx, op)? else {
            return Ok(None);
        };
        let z = z_report(&tx, shift, op, now)?;
        Ok(Some(z))
    }

    /// Closes the logged-in operator's shift with a supervisor PIN, records the Z report as a
    /// journal entry and returns it (for printing).
    pub fn close_shift(&mut self, supervisor_pin: &str) -> Result<ShiftClosePayload, StoreError> {
        let sup = self.authenticate(supervisor_pin, true)?;
        let now = self.now()?;
        let tx = self.begin()?;
        let op = session_operator(&tx)?.ok_or(rsu_core::SaleRefusal::NotLoggedIn)?;
        let shift = open_shift_of(&tx, op)?
            .ok_or_else(|| StoreError::NotFound("no open shift to close".into()))?;
        let mut z = z_report(&tx, shift, sup.id, now)?;
        z.closed_by = sup.id;
        append(&tx, EntryKind::ShiftClose, &z, now)?;
        let z_json = serde_json::to_string(&z).map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.execute_cached(
            "UPDATE shifts SET closed_at = ?2, closed_by = ?3, z_report_json = ?4 WHERE id = ?1",
            params![shift.to_string(), ts(&now), sup.id.to_string(), z_json],
        )?;
        tx.commit()?;
        Ok(z)
    }
}

pub(crate) fn open_shift_tx(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    op: Uuid,
    float_minor: i64,
) -> Result<Uuid, StoreError> {
    let currency: String = tx
        .query_row_cached(
            "SELECT primary_currency FROM organization WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotEnrolled)?;
    let id = rsu_core::ids::new_id();
    tx.execute_cached(
        "INSERT INTO shifts (id, operator_id, opened_at, float_minor, currency) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.to_string(), op.to_string(), ts(&now), float_minor, currency],
    )?;
    critical(
        tx,
        now,
        "SHIFT_OPENED",
        "INFO",
        format!("shift opened with float {float_minor}"),
        Some(op),
        json!({"shiftId": id, "floatAmount": float_minor}),
    )?;
    Ok(id)
}

/// Builds the Z report of a shift from the sales table.
pub(crate) fn z_report(
    tx: &Transaction<'_>,
    shift: Uuid,
    closed_by: Uuid,
    now: DateTime<Utc>,
) -> Result<ShiftClosePayload, StoreError> {
    let sid = shift.to_string();
    let (op, opened, float_minor, currency): (String, String, i64, String) = tx.query_row_cached(
        "SELECT operator_id, opened_at, float_minor, currency FROM shifts WHERE id = ?1",
        [&sid],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mut lines: Vec<PackageLine> = Vec::new();
    {
        let mut stmt = tx.prepare(
            "SELECT package_id, package_name,
                    sum(CASE WHEN shift_id = ?1 THEN 1 ELSE 0 END),
                    sum(CASE WHEN shift_id = ?1 THEN total_minor ELSE 0 END),
                    sum(CASE WHEN void_shift_id = ?1 THEN 1 ELSE 0 END),
                    sum(CASE WHEN void_shift_id = ?1 THEN total_minor ELSE 0 END),
                    sum(CASE WHEN shift_id = ?1 THEN ticket_count ELSE 0 END)
             FROM sales WHERE shift_id = ?1 OR void_shift_id = ?1
             GROUP BY package_id, package_name ORDER BY package_name",
        )?;
        let rows = stmt.query_map([&sid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        for row in rows {
            let (pid, name, sc, sa, vc, va, tickets) = row?;
            lines.push(PackageLine {
                package_id: parse_uuid(&pid)?,
                package_name: name,
                sales_count: sc as u64,
                sales_amount: sa,
                voids_count: vc as u64,
                voids_amount: va,
                tickets: tickets as u64,
            });
        }
    }
    let sum = |sql: &str| -> Result<i64, StoreError> {
        Ok(tx.query_row_cached(sql, [&sid], |r| r.get(0))?)
    };
    let cash_sales = sum("SELECT coalesce(sum(total_minor), 0) FROM sales WHERE shift_id = ?1 AND payment_method = 'cash'")?;
    let card_sales = sum("SELECT coalesce(sum(total_minor), 0) FROM sales WHERE shift_id = ?1 AND payment_method = 'card'")?;
    let cash_voids = sum("SELECT coalesce(sum(total_minor), 0) FROM sales WHERE void_shift_id = ?1 AND payment_method = 'cash'")?;
    let (first_seq, last_seq): (Option<u64>, Option<u64>) = tx.query_row_cached(
        "SELECT min(s), max(s) FROM (SELECT seq AS s FROM sales WHERE shift_id = ?1 UNION ALL SELECT void_seq FROM sales WHERE void_shift_id = ?1)",
        [&sid],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut ranges = Vec::new();
    {
        let mut stmt = tx.prepare(
            "SELECT n.allocation_id, min(n.draw_number), max(n.draw_number), count(*)
             FROM sale_numbers n JOIN sales s ON s.id = n.sale_id
             WHERE s.shift_id = ?1 GROUP BY n.allocation_id ORDER BY min(n.draw_number)",
        )?;
        let rows = stmt.query_map([&sid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        for row in rows {
            let (aid, first, last, count) = row?;
            ranges.push(RangeUse {
                allocation_id: parse_uuid(&aid)?,
                first_number: first,
                last_number: last,
                count: count as u64,
            });
        }
    }
    let (_, _, head) = chain_tail(tx)?;
    let sales_count = lines.iter().map(|l| l.sales_count).sum();
    let sales_amount = lines.iter().map(|l| l.sales_amount).sum();
    let voids_count = lines.iter().map(|l| l.voids_count).sum();
    let voids_amount = lines.iter().map(|l| l.voids_amount).sum();
    Ok(ShiftClosePayload {
        shift_id: shift,
        operator_id: parse_uuid(&op)?,
        closed_by,
        opened_at: parse_ts(&opened)?,
        closed_at: now,
        currency,
        float_amount: float_minor,
        lines,
        sales_count,
        sales_amount,
        voids_count,
        voids_amount,
        cash_sales_amount: cash_sales,
        card_sales_amount: card_sales,
        cash_expected: float_minor + cash_sales - cash_voids,
        first_seq,
        last_seq,
        chain_head: head.to_hex(),
        ranges,
    })
}
