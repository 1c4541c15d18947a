//! The draw results pulled with the configuration (`EventConfig::results`, migration 0007): kept
//! per event so the kiosk shows the final jackpot and the winning numbers, and checks a ticket by
//! its validation number, with no network.

use chrono::{DateTime, Utc};
use rsu_core::config::{DrawResults, EventConfig};
use rsu_core::money::{Currency, Money};
use rsu_core::receipt_qr::validation_number_from_scan;
use rusqlite::{params, OptionalExtension, Transaction};

use crate::{parse_ts, ts, Store, StoreError};

/// One awarded place as the device holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WinningTicket {
    pub position: u32,
    pub winner_index: u32,
    pub prize_name: String,
    pub prize_value: Money,
    pub draw_number: u32,
    pub validation_number: String,
    /// The place was redrawn (its first winner did not claim in time).
    pub redrawn: bool,
}

/// An event's results as the device last received them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventResults {
    pub event_id: uuid::Uuid,
    pub event_name: String,
    pub currency: Currency,
    pub drawn_at: DateTime<Utc>,
    /// `None` when the event has no jackpot rule.
    pub final_jackpot: Option<Money>,
    pub net_sales: Money,
    pub ticket_count: i64,
    /// By prize position, then winner index.
    pub winners: Vec<WinningTicket>,
    pub received_at: DateTime<Utc>,
}

/// The answer to "is this ticket a winner?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketCheck {
    /// What was typed or scanned is not a validation number.
    Malformed { input: String },
    /// No event on this device has results yet: the device must sync after the draw.
    NoResults,
    /// Every place this validation number's tickets won (a sale of several tickets may win more
    /// than one), with the event.
    Winner {
        validation_number: String,
        event_name: String,
        wins: Vec<WinningTicket>,
    },
    /// Not among the winners of any event with results here (`event_name`: the latest drawn).
    NotAWinner {
        validation_number: String,
        event_name: String,
    },
}

/// Replaces what the device holds for `ev`'s results, inside the configuration's transaction.
/// A configuration without results (before the draw, or from an older server) leaves what is
/// held untouched.
pub(crate) fn apply_results(
    tx: &Transaction<'_>,
    ev: &EventConfig,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(r) = &ev.results else {
        return Ok(());
    };
    let event_id = ev.id.to_string();
    tx.execute("DELETE FROM draw_winners WHERE event_id = ?1", [&event_id])?;
    tx.execute(
        "INSERT INTO event_results (event_id, drawn_at, final_jackpot, net_sales, ticket_count, received_at, config_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (event_id) DO UPDATE SET drawn_at = excluded.drawn_at, final_jackpot = excluded.final_jackpot,
             net_sales = excluded.net_sales, ticket_count = excluded.ticket_count,
             received_at = excluded.received_at, config_version = excluded.config_version",
        params![event_id, ts(&r.drawn_at), r.final_jackpot, r.net_sales, r.ticket_count, ts(&now), version],
    )?;
    insert_winners(tx, &event_id, r)
}

fn insert_winners(tx: &Transaction<'_>, event_id: &str, r: &DrawResults) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO draw_winners (event_id, position, winner_index, prize_name, prize_value, draw_number, validation_number, redrawn)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for w in &r.winners {
        if w.prize_value < 0 {
            return Err(StoreError::Invalid(format!(
                "the configuration's draw results give prize {:?} a negative value: pull the configuration again",
                w.prize_name
            )));
        }
        // Canonical form, so a lookup by a typed number finds it whatever the server sent.
        let vn = validation_number_from_scan(&w.validation_number)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| w.validation_number.clone());
        stmt.execute(params![
            event_id,
            w.position,
            w.winner_index,
            w.prize_name,
            w.prize_value,
            w.draw_number,
            vn,
            w.redrawn
        ])?;
    }
    Ok(())
}

type ResultsRow = (
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    i64,
    String,
);

impl Store {
    /// The results of `event_id`, if the device has received them.
    pub fn event_results(&self, event_id: uuid::Uuid) -> Result<Option<EventResults>, StoreError> {
        self.results_of(Some(&event_id.to_string()))
    }

    /// The results of the current event (the one the kiosk shows, see
    /// [`Store::current_event`]), if it has been drawn and the device has them.
    pub fn current_results(&self) -> Result<Option<EventResults>, StoreError> {
        match self.current_event()? {
            Some(ev) => self.event_results(ev.id),
            None => Ok(None),
        }
    }

    /// The most recently drawn event's results on this device.
    pub fn latest_results(&self) -> Result<Option<EventResults>, StoreError> {
        self.results_of(None)
    }

    /// The results of `event_id`, or of the latest drawn event when `None`.
    fn results_of(&self, event_id: Option<&str>) -> Result<Option<EventResults>, StoreError> {
        let row: Option<ResultsRow> = self
            .conn
            .query_row(
                "SELECT r.event_id, e.name, e.currency, r.drawn_at, r.final_jackpot, r.net_sales, r.ticket_count, r.received_at
                   FROM event_results r JOIN events e ON e.id = r.event_id
                  WHERE r.event_id = coalesce(?1, (SELECT event_id FROM event_results ORDER BY drawn_at DESC LIMIT 1))",
                [event_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((event_id, event_name, cur, drawn_at, jackpot, net, count, received)) = row else {
            return Ok(None);
        };
        let currency = Currency::new(&cur).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let winners = self.winners(&event_id, currency, None)?;
        Ok(Some(EventResults {
            event_id: crate::parse_uuid(&event_id)?,
            event_name,
            currency,
            drawn_at: parse_ts(&drawn_at)?,
            final_jackpot: jackpot.map(|j| Money::new(j, currency)),
            net_sales: Money::new(net, currency),
            ticket_count: count,
            winners,
            received_at: parse_ts(&received)?,
        }))
    }

    fn winners(
        &self,
        event_id: &str,
        currency: Currency,
        validation_number: Option<&str>,
    ) -> Result<Vec<WinningTicket>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT position, winner_index, prize_name, prize_value, draw_number, validation_number, redrawn
               FROM draw_winners WHERE event_id = ?1 AND (?2 IS NULL OR validation_number = ?2)
              ORDER BY position, winner_index",
        )?;
        let rows = stmt.query_map(params![event_id, validation_number], |r| {
            Ok(WinningTicket {
                position: r.get(0)?,
                winner_index: r.get(1)?,
                prize_name: r.get(2)?,
                prize_value: Money::new(r.get(3)?, currency),
                draw_number: r.get(4)?,
                validation_number: r.get(5)?,
                redrawn: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Checks a typed or scanned validation number (or a whole receipt QR text) against every
    /// event's results held here. Works offline: it reads only what the last pull brought.
    pub fn check_ticket(&self, input: &str) -> Result<TicketCheck, StoreError> {
        let vn = match validation_number_from_scan(input) {
            Ok(v) => v.to_string(),
            Err(_) => {
                return Ok(TicketCheck::Malformed {
                    input: input.trim().to_string(),
                })
            }
        };
        let Some(latest) = self.latest_results()? else {
            return Ok(TicketCheck::NoResults);
        };
        let events: Vec<(String, String, String)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT DISTINCT w.event_id, e.name, e.currency FROM draw_winners w
                   JOIN events e ON e.id = w.event_id JOIN event_results r ON r.event_id = w.event_id
                  WHERE w.validation_number = ?1 ORDER BY r.drawn_at DESC",
            )?;
            let rows = stmt.query_map([&vn], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        // A validation number belongs to one sale of one event: the latest drawn event that lists it.
        match events.into_iter().next() {
            Some((event_id, event_name, cur)) => {
                let currency =
                    Currency::new(&cur).map_err(|e| StoreError::Invalid(e.to_string()))?;
                Ok(TicketCheck::Winner {
                    wins: self.winners(&event_id, currency, Some(&vn))?,
                    validation_number: vn,
                    event_name,
                })
            }
            None => Ok(TicketCheck::NotAWinner {
                validation_number: vn,
                event_name: latest.event_name,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Demo;
    use rsu_core::config::Winner;

    fn winner(position: u32, idx: u32, name: &str, value: i64, n: u32, vn: &str) -> Winner {
        Winner {
            position,
            winner_index: idx,
            prize_name: name.into(),
            prize_value: value,
            draw_number: n,
            validation_number: vn.into(),
            redrawn: false,
        }
    }

    /// The demo's configuration with its event drawn (a final jackpot of $1,234.50).
    fn drawn(demo: &mut Demo, winners: Vec<Winner>) -> rsu_core::config::DeviceConfig {
        let version = demo.store.status().unwrap().config_version + 1;
        crate::demo_drawn_config(demo.store.now().unwrap(), version, 246_900, winners).unwrap()
    }

    #[test]
    fn results_applied_with_the_configuration_answer_ticket_checks_offline() {
        let mut demo = Demo::new();
        assert_eq!(
            demo.store.check_ticket("RSU001-2026-000001-K7QF").unwrap(),
            TicketCheck::NoResults
        );
        assert_eq!(demo.store.current_results().unwrap(), None);
        let cfg = drawn(
            &mut demo,
            vec![
                winner(1, 1, "Jackpot", 123_450, 1042, "RSU003-2026-000017-ABCD"),
                winner(
                    2,
                    1,
                    "Signed jersey",
                    15_000,
                    1007,
                    "RSU001-2026-000002-9XK3",
                ),
                winner(
                    2,
                    2,
                    "Signed jersey",
                    15_000,
                    1009,
                    "RSU001-2026-000002-9XK3",
                ),
            ],
        );
        assert!(demo.store.apply_config(&cfg).unwrap());
        let r = demo.store.current_results().unwrap().expect("results");
        assert_eq!(r.final_jackpot.map(|m| m.minor), Some(123_450));
        assert_eq!(r.winners.len(), 3);

        // Typed in lower case with spaces: both places of that sale.
        match demo
            .store
            .check_ticket(" rsu001 2026 000002 9xk3 ")
            .unwrap()
        {
            TicketCheck::Winner {
                wins,
                validation_number,
                ..
            } => {
                assert_eq!(validation_number, "RSU001-2026-000002-9XK3");
                let numbers: Vec<u32> = wins.iter().map(|w| w.draw_number).collect();
                assert_eq!(numbers, vec![1007, 1009]);
                assert_eq!(wins[0].prize_value.minor, 15_000);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            demo.store.check_ticket("RSU001-2026-000003-ZZZZ").unwrap(),
            TicketCheck::NotAWinner { .. }
        ));
        assert!(matches!(
            demo.store.check_ticket("hello").unwrap(),
            TicketCheck::Malformed { .. }
        ));
    }

    #[test]
    fn a_later_configuration_replaces_the_winners_and_one_without_results_keeps_them() {
        let mut demo = Demo::new();
        let cfg = drawn(
            &mut demo,
            vec![winner(
                1,
                1,
                "Jackpot",
                500,
                1042,
                "RSU003-2026-000017-ABCD",
            )],
        );
        demo.store.apply_config(&cfg).unwrap();
        // The jackpot went unclaimed and was redrawn.
        let redrawn = drawn(
            &mut demo,
            vec![Winner {
                redrawn: true,
                ..winner(1, 1, "Jackpot", 500, 1100, "RSU002-2026-000040-WXYZ")
            }],
        );
        demo.store.apply_config(&redrawn).unwrap();
        assert!(matches!(
            demo.store.check_ticket("RSU003-2026-000017-ABCD").unwrap(),
            TicketCheck::NotAWinner { .. }
        ));
        match demo.store.check_ticket("RSU002-2026-000040-WXYZ").unwrap() {
            TicketCheck::Winner { wins, .. } => assert!(wins[0].redrawn),
            other => panic!("{other:?}"),
        }
        // An older server's configuration (no results) does not erase them.
        let mut plain = redrawn.clone();
        plain.version += 1;
        plain.events[0].results = None;
        demo.store.apply_config(&plain).unwrap();
        assert_eq!(
            demo.store.current_results().unwrap().unwrap().winners.len(),
            1
        );
    }
}
