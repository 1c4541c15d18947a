//! The kiosk crate: the Slint touchscreen UI, print-confirmed issuance, and the headless CLI.
//! This crate is the only one that knows about the screen; the rules live in `rsu-core`, the
//! data in `rsu-store` and the printer protocol in `rsu-print`.

pub mod cli;
pub mod issue;
pub mod kiosk;
pub mod printer;
pub mod receipt_qr;
pub mod receipt_text;
