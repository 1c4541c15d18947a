//! Pure domain and wire types of the raffle sales unit. No I/O lives here: the store, the sync
//! engine, the server and the kiosk all build on these types, so the rules are written once.

pub mod config;
pub mod draw;
mod error_code;
pub mod event;
pub mod export;
pub mod ids;
pub mod journal;
pub mod money;
pub mod payload;
pub mod perk;
pub mod pin;
pub mod printer_status;
pub mod receipt_qr;
pub mod validation;
pub mod wire;

pub use draw::{DrawNumber, DrawRange};
pub use event::{EventState, Package, SaleRefusal};
pub use journal::{ChainHash, EntryBody, EntryKind, JournalEntry};
pub use money::{Currency, Money};
pub use validation::{ValidationKey, ValidationNumber};
