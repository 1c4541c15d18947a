//! The kiosk crate: the headless CLI today, the Slint UI beside it.
//! This crate is the only one that knows about the screen; the rules live in `rsu-core` and the
//! data in `rsu-store`.

pub mod cli;
pub mod receipt_text;
