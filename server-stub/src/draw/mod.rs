//! The draw (issue 12, DESIGN §7 "Draw", docs/draw.md): a secret committed when the event
//! enters `sales_closed`, the draw in `drawing_ready` that anyone can replay from the exported
//! file, and `verify-draw`, which replays it without a database.
//!
//! - [`algorithm`]: canonical text, checksum, commitment, seed, stream, winners, prize values and
//!   the verification of an exported file; pure, no database;
//! - [`redraw`] (pure) and [`redraw_store`]: the redraw of unclaimed prizes after the claim deadline;
//! - [`store`]: the committed seed, the eligible set, the execution and the export;
//! - [`cli`]: `server-stub admin draw …` and `verify-draw`; HTTP is `routes/admin/draws.rs`.

pub mod algorithm;
pub mod cli;
pub mod export;
pub mod redraw;
pub mod redraw_store;
pub mod store;
pub mod verify;

pub use export::export;
pub use store::{commit_seed, commitment_of, run_draw, Commitment, DrawRequest};
