//! The pure half of the engine: from what the device has ([`LocalState`]) and what the server
//! last said ([`LastAnswer`]) to the operations of the next round, in order. No I/O, no clock
//! reads (`now` is a parameter), so every decision is a row in the table test below.
//!
//! Order within a round: pull first (a new configuration may change what may be sold and brings
//! new allocations), then top up (which pulls again to receive the new range), then push the
//! journal (including the entries that applying configuration wrote), then heartbeat (so the
//! server sees the pending count after the push).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// One event the device sells in, with its numbers left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNumbers {
    pub event_id: Uuid,
    /// The event's state as last pulled (`active`, `suspended`, `sales_closed`, …).
    pub state: String,
    pub numbers_left: i64,
}

/// What the device's store says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalState {
    pub pending_entries: u64,
    pub config_version: i64,
    pub low_water_mark: i64,
    pub events: Vec<EventNumbers>,
    /// Commands applied but not yet acknowledged to the server.
    pub unacked_commands: usize,
    /// The device key is past two thirds of its lifetime.
    pub key_rotation_due: bool,
}

/// What the server said last, and when (kept by the loop; the first round starts empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastAnswer {
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// From the last heartbeat.
    pub server_config_version: Option<i64>,
    /// Set after a failed round: nothing is tried before it.
    pub retry_at: Option<DateTime<Utc>>,
    /// Events for which the server refused a top-up (range exhausted, event not allocating),
    /// with when: not asked again before `top_up_retry` has passed.
    pub top_up_refused: Vec<(Uuid, DateTime<Utc>)>,
}

/// How often things happen when nothing forces them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervals {
    pub pull: Duration,
    pub heartbeat: Duration,
    pub top_up_retry: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            pull: Duration::minutes(5),
            heartbeat: Duration::minutes(1),
            top_up_retry: Duration::minutes(10),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Wait until the backoff ends; nothing else this round.
    BackOff { until: DateTime<Utc> },
    /// `POST /v1/rsu/keys`: register the next device key before the current one expires.
    RotateKey,
    /// `GET /v1/rsu/config`, applied in one local transaction if it is new.
    Pull,
    /// `POST /v1/rsu/allocations` for this event, then a pull to receive the range.
    TopUp { event_id: Uuid },
    /// Push every pending entry, in seq order, in batches, one in flight.
    Push,
    /// `POST /v1/rsu/heartbeat`.
    Heartbeat,
}

/// Event states in which the server still allocates numbers and the device may sell.
fn sells_in(state: &str) -> bool {
    matches!(state, "active" | "configured")
}

/// The operations of the next round, in order. Empty means there is nothing to do now.
pub fn plan(
    local: &LocalState,
    last: &LastAnswer,
    intervals: &Intervals,
    now: DateTime<Utc>,
) -> Vec<Op> {
    if let Some(until) = last.retry_at {
        if until > now {
            return vec![Op::BackOff { until }];
        }
    }
    let mut ops = Vec::new();
    // First, so every later request of the round is signed with the new key.
    if local.key_rotation_due {
        ops.push(Op::RotateKey);
    }
    let due = |at: Option<DateTime<Utc>>, every: Duration| at.is_none_or(|t| now - t >= every);
    let config_behind = last
        .server_config_version
        .is_some_and(|v| v > local.config_version);
    if due(last.last_pull_at, intervals.pull) || config_behind {
        ops.push(Op::Pull);
    }
    let refused_recently = |e: &Uuid| {
        last.top_up_refused
            .iter()
            .any(|(id, at)| id == e && now - *at < intervals.top_up_retry)
    };
    // One top-up per round: each brings a whole default-size range.
    if let Some(ev) = local.events.iter().find(|e| {
        sells_in(&e.state)
            && e.numbers_left < local.low_water_mark
            && !refused_recently(&e.event_id)
    }) {
        ops.push(Op::TopUp {
            event_id: ev.event_id,
        });
    }
    if local.pending_entries > 0 || !ops.is_empty() {
        // Pulling and topping up write journal entries (config applied, allocation received).
        ops.push(Op::Push);
    }
    if due(last.last_heartbeat_at, intervals.heartbeat) || local.unacked_commands > 0 {
        ops.push(Op::Heartbeat);
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn ev(n: u128, state: &str, left: i64) -> EventNumbers {
        EventNumbers {
            event_id: Uuid::from_u128(n),
            state: state.into(),
            numbers_left: left,
        }
    }

    /// A device that has pulled and beaten recently, with plenty of numbers and nothing pending.
    fn quiet() -> (LocalState, LastAnswer) {
        (
            LocalState {
                pending_entries: 0,
                config_version: 7,
                low_water_mark: 125,
                events: vec![ev(1, "active", 500)],
                unacked_commands: 0,
                key_rotation_due: false,
            },
            LastAnswer {
                last_pull_at: Some(t(-10)),
                last_heartbeat_at: Some(t(-10)),
                server_config_version: Some(7),
                retry_at: None,
                top_up_refused: vec![],
            },
        )
    }

    #[test]
    fn the_plan_table() {
        use Op::*;
        type Case = (&'static str, fn(&mut LocalState, &mut LastAnswer), Vec<Op>);
        let cases: Vec<Case> = vec![
            ("quiet device: nothing to do", |_, _| {}, vec![]),
            (
                "first round ever: pull, push what applying wrote, heartbeat",
                |_, la| {
                    *la = LastAnswer::default();
                },
                vec![Pull, Push, Heartbeat],
            ),
            (
                "pending sales: push",
                |l, _| l.pending_entries = 3,
                vec![Push],
            ),
            (
                "in backoff: wait, even with sales pending",
                |l, la| {
                    l.pending_entries = 3;
                    la.retry_at = Some(t(5));
                },
                vec![BackOff { until: t(5) }],
            ),
            (
                "backoff over: everything due runs",
                |l, la| {
                    l.pending_entries = 3;
                    la.retry_at = Some(t(0));
                },
                vec![Push],
            ),
            (
                "server has a newer config: pull, then push its journal entry",
                |_, la| {
                    la.server_config_version = Some(8);
                },
                vec![Pull, Push],
            ),
            (
                "pull interval passed",
                |_, la| la.last_pull_at = Some(t(-300)),
                vec![Pull, Push],
            ),
            (
                "heartbeat interval passed",
                |_, la| la.last_heartbeat_at = Some(t(-60)),
                vec![Heartbeat],
            ),
            (
                "commands to acknowledge: heartbeat now",
                |l, _| l.unacked_commands = 1,
                vec![Heartbeat],
            ),
            (
                "numbers under the low-water mark: top up, push",
                |l, _| {
                    l.events[0].numbers_left = 124;
                },
                vec![
                    TopUp {
                        event_id: Uuid::from_u128(1),
                    },
                    Push,
                ],
            ),
            (
                "at the low-water mark: no top-up",
                |l, _| l.events[0].numbers_left = 125,
                vec![],
            ),
            (
                "no numbers at all for an active event: top up",
                |l, _| {
                    l.events[0].numbers_left = 0;
                },
                vec![
                    TopUp {
                        event_id: Uuid::from_u128(1),
                    },
                    Push,
                ],
            ),
            (
                "closed event: never top up",
                |l, _| {
                    l.events[0].numbers_left = 0;
                    l.events[0].state = "sales_closed".into();
                },
                vec![],
            ),
            (
                "suspended event: no top-up while suspended",
                |l, _| {
                    l.events[0].numbers_left = 0;
                    l.events[0].state = "suspended".into();
                },
                vec![],
            ),
            (
                "top-up refused a minute ago: not again yet",
                |l, la| {
                    l.events[0].numbers_left = 0;
                    la.top_up_refused = vec![(Uuid::from_u128(1), t(-60))];
                },
                vec![],
            ),
            (
                "top-up refused long ago: ask again",
                |l, la| {
                    l.events[0].numbers_left = 0;
                    la.top_up_refused = vec![(Uuid::from_u128(1), t(-601))];
                },
                vec![
                    TopUp {
                        event_id: Uuid::from_u128(1),
                    },
                    Push,
                ],
            ),
            (
                "two events low: one top-up per round, the first",
                |l, _| {
                    l.events = vec![ev(2, "active", 3), ev(3, "active", 4)];
                },
                vec![
                    TopUp {
                        event_id: Uuid::from_u128(2),
                    },
                    Push,
                ],
            ),
            (
                "key past two thirds of its life: rotate first, then push what it logged",
                |l, _| l.key_rotation_due = true,
                vec![RotateKey, Push],
            ),
            (
                "rotation due in backoff: wait",
                |l, la| {
                    l.key_rotation_due = true;
                    la.retry_at = Some(t(5));
                },
                vec![BackOff { until: t(5) }],
            ),
            (
                "everything at once, in order",
                |l, la| {
                    *la = LastAnswer::default();
                    l.pending_entries = 9;
                    l.events[0].numbers_left = 1;
                },
                vec![
                    Pull,
                    TopUp {
                        event_id: Uuid::from_u128(1),
                    },
                    Push,
                    Heartbeat,
                ],
            ),
            (
                "everything at once with a rotation due: rotation leads",
                |l, la| {
                    *la = LastAnswer::default();
                    l.pending_entries = 9;
                    l.key_rotation_due = true;
                },
                vec![RotateKey, Pull, Push, Heartbeat],
            ),
        ];
        for (name, setup, want) in cases {
            let (mut l, mut la) = quiet();
            setup(&mut l, &mut la);
            let got = plan(&l, &la, &Intervals::default(), t(0));
            assert_eq!(got, want, "case: {name}");
        }
    }
}
