//! Named crash points for the kill tests (docs/sync.md rule 15: random kills miss bugs that a
//! crash point placed at the right moment finds every time).
//!
//! `RSU_SYNCD_CRASH_AT=<name>` makes the process abort (as `kill -9` would: no destructors, no
//! flush) the first time it reaches the point `<name>`; `RSU_SYNCD_CRASH_SKIP=<n>` lets it pass
//! `n` times first, so repeated runs stop at different places in a drain. Points:
//!
//! | name | where |
//! |---|---|
//! | `after_send` | a push was sent and the server's answer head has arrived; its body is not read |
//! | `after_answer` | a push answer was read and parsed; nothing of it is recorded yet |
//! | `mid_pull` | a configuration was received and parsed; it is not applied yet |
//! | `after_record` | a push answer was recorded; the round has not finished |
//!
//! Without the variable these are a relaxed atomic load and a comparison.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Environment variable naming the crash point.
pub const ENV_CRASH_AT: &str = "RSU_SYNCD_CRASH_AT";
/// Environment variable: how many times to pass the point before aborting.
pub const ENV_CRASH_SKIP: &str = "RSU_SYNCD_CRASH_SKIP";

/// Every crash point the engine has.
pub const POINTS: &[&str] = &["after_send", "after_answer", "mid_pull", "after_record"];

struct Armed {
    name: String,
    skip: u64,
}

fn armed() -> &'static Option<Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED.get_or_init(|| {
        let name = std::env::var(ENV_CRASH_AT).ok().filter(|n| !n.is_empty())?;
        let skip = std::env::var(ENV_CRASH_SKIP)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Some(Armed { name, skip })
    })
}

static HITS: AtomicU64 = AtomicU64::new(0);

/// Aborts the process here if this point is armed (and its skips are used up).
pub fn point(name: &str) {
    let Some(a) = armed() else { return };
    if a.name != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) >= a.skip {
        eprintln!("rsu-syncd: crash point {name} reached, aborting");
        std::process::abort();
    }
}
