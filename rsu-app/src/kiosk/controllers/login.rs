//! The PIN pad: start-up, log in, lock.

use super::{print_failure, sell, Device, Emit};
use crate::kiosk::model::UiEvent;
use crate::kiosk::view::sentence;

/// Start-up: the device's name, a lock of any left-over session, the clock check, an unconfirmed
/// print and the closed message of a device closed for the event.
pub fn start(d: &mut Device, emit: Emit<'_>) {
    if let Ok(s) = d.store.status() {
        emit(UiEvent::Device(s.device_name));
    }
    // A kiosk always starts at the PIN pad, whoever was logged in before a restart.
    match d.store.current_operator() {
        Ok(Some(_)) => {
            if let Err(e) = d.store.lock_screen() {
                tracing::error!(error = %e, "locking the screen at start-up");
            }
        }
        Ok(None) => {}
        Err(e) => emit(UiEvent::LoginMessage(sentence(&e))),
    }
    match d.store.startup_check() {
        Ok(report) => {
            if let Some(ms) = report.clock_behind_by_ms {
                emit(UiEvent::LoginMessage(format!(
                    "The clock is {} s behind the last recorded sale: check the date and time.",
                    ms / 1000
                )));
            }
        }
        Err(e) => emit(UiEvent::LoginMessage(sentence(&e))),
    }
    emit(UiEvent::Locked);
    print_failure::check_unresolved(d, emit);
    check_closed(d, emit);
    if let Ok(status) = d.status() {
        emit(UiEvent::Status(status));
    }
}

pub fn login(d: &mut Device, pin: &str, emit: Emit<'_>) {
    match d.store.login(pin, None) {
        Ok((op, _shift)) => {
            emit(UiEvent::LoggedIn {
                operator: format!("{} ({})", op.name, op.role.as_str()),
            });
            sell::packages(d, emit);
            print_failure::check_unresolved(d, emit);
            super::check_ticket::results(d, emit);
        }
        Err(e) => emit(UiEvent::LoginMessage(sentence(&e))),
    }
}

/// Locks the screen (by the button or after inactivity). The shift stays open.
pub fn lock(d: &mut Device, emit: Emit<'_>) {
    if let Err(e) = d.store.lock_screen() {
        tracing::error!(error = %e, "locking the screen");
    }
    emit(UiEvent::Locked);
}

/// After a restart on a device closed for the event, the closed message comes back.
fn check_closed(d: &mut Device, emit: Emit<'_>) {
    match d.store.closed_events() {
        Ok(closed) if closed.is_empty() => return,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "reading whether the device is closed");
            return;
        }
    }
    // What the close gave back: the unsold rest of each released range of a closed event.
    let released = d.store.connection().query_row(
        "SELECT COALESCE(SUM(a.end_number - a.next_number + 1), 0) FROM allocations a
           JOIN events e ON e.id = a.event_id
          WHERE e.closed_at IS NOT NULL AND a.state = 'released' AND a.next_number <= a.end_number",
        [],
        |r| r.get::<_, i64>(0),
    );
    match (released, d.store.status()) {
        (Ok(numbers_released), Ok(status)) => emit(UiEvent::DeviceClosed {
            numbers_released,
            entries_to_sync: status.sync.pending_entries,
        }),
        (Err(e), _) => tracing::warn!(error = %e, "counting the released numbers"),
        (_, Err(e)) => tracing::warn!(error = %e, "reading the entries to sync"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::kiosk::model::{Command, UiEvent};

    #[test]
    fn a_wrong_pin_is_refused_in_a_plain_sentence_and_the_right_one_shows_packages_in_display_order(
    ) {
        let demo = demo();
        let mut s = demo.service();
        let events = run(&mut s, Command::Login { pin: "4321".into() });
        match &events[..] {
            [UiEvent::LoginMessage(m)] => assert!(m.starts_with("Wrong PIN"), "{m}"),
            other => panic!("{other:?}"),
        }
        let events = run(
            &mut s,
            Command::Login {
                pin: rsu_store::DEMO_SELLER_PIN.into(),
            },
        );
        let names: Vec<String> = events
            .iter()
            .find_map(|e| match e {
                UiEvent::Packages(p) => Some(
                    p.iter()
                        .map(|p| format!("{} {}", p.tickets, p.price))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            names,
            ["1 ticket $5.00", "5 tickets $20.00", "25 tickets $50.00"]
        );
    }
}
