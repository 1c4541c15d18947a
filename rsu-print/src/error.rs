//! The crate's error types: one for composing receipts (pure), one for printing (I/O).

use std::time::Duration;

/// Why a receipt could not be composed. Returned *before* a sale is committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt is missing required fields: {}; fill them in the event or device configuration before selling", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    #[error("field {field} contains {ch:?}, which the printer cannot print (Windows-1252): change the text")]
    Unprintable { field: &'static str, ch: char },
    #[error(
        "field {field} contains the control character {ch:?}: control characters are never printed"
    )]
    ControlCharacter { field: &'static str, ch: char },
    #[error("the QR payload is {len} bytes: at most {max} fit on the receipt")]
    QrTooLong { len: usize, max: usize },
    #[error("the QR code needs {modules} modules, too wide for {dots} dots of paper")]
    QrTooWide { modules: usize, dots: u32 },
    #[error("the QR payload does not contain the validation number it must carry")]
    QrWithoutValidationNumber,
    #[error("{field}: {reason}")]
    Inconsistent { field: &'static str, reason: String },
    #[error("internal ESC/POS builder error: {0}")]
    Builder(String),
}

/// Why a print job failed. The job is never retried automatically.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("the printer is out of paper: load a new roll, then reprint or spoil the receipt")]
    PaperOut,
    #[error("the printer cover is open: close it, then reprint or spoil the receipt")]
    CoverOpen,
    #[error("the printer is offline{}: check it, then reprint or spoil the receipt", .0.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Offline(Option<String>),
    #[error("the printer did not answer a status query within {0:?}: it may be off, disconnected or have its cover open")]
    NoAnswer(Duration),
    #[error("the printer did not take the data within {0:?}: it may be jammed, out of paper or flow-controlled")]
    Timeout(Duration),
    #[error("the printer connection was closed: {0}")]
    Disconnected(String),
    #[error("cannot open the printer {target}: {reason}")]
    Open { target: String, reason: String },
    #[error("printer I/O error: {0}")]
    Io(String),
    #[error("the printer sent an answer that is not a status byte: {0:#04x}")]
    BadStatus(u8),
    #[error("the print worker did not finish within {0:?} and was abandoned (watchdog); the printer will be reset before the next job")]
    Watchdog(Duration),
    #[error("the print worker has stopped")]
    WorkerGone,
}

impl PrintError {
    /// Maps an I/O error from a transport to the typed error a caller can act on.
    pub fn from_io(err: &std::io::Error, waited: Duration) -> PrintError {
        use std::io::ErrorKind as K;
        match err.kind() {
            K::TimedOut | K::WouldBlock => PrintError::Timeout(waited),
            K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof => {
                PrintError::Disconnected(err.to_string())
            }
            _ => match err.raw_os_error() {
                // EIO on a tty whose other end went away; ENODEV when a USB device is unplugged.
                Some(5) | Some(19) => PrintError::Disconnected(err.to_string()),
                // ENOSPC from a USB printer class device with LPABORT set means paper out.
                Some(28) => PrintError::PaperOut,
                _ => PrintError::Io(err.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    const W: Duration = Duration::from_millis(5);

    #[test]
    fn enospc_from_a_usb_printer_with_lpabort_is_paper_out() {
        assert_eq!(
            PrintError::from_io(&Error::from_raw_os_error(28), W),
            PrintError::PaperOut
        );
    }

    #[test]
    fn a_vanished_device_or_peer_is_a_disconnect() {
        for err in [
            Error::from_raw_os_error(5),  // EIO: the pty master closed
            Error::from_raw_os_error(19), // ENODEV: USB unplugged
            Error::from(ErrorKind::BrokenPipe),
            Error::from(ErrorKind::ConnectionReset),
        ] {
            assert!(
                matches!(PrintError::from_io(&err, W), PrintError::Disconnected(_)),
                "{err}"
            );
        }
    }

    #[test]
    fn a_timed_out_or_would_block_write_is_a_timeout() {
        assert_eq!(
            PrintError::from_io(&Error::from(ErrorKind::TimedOut), W),
            PrintError::Timeout(W)
        );
        assert_eq!(
            PrintError::from_io(&Error::from(ErrorKind::WouldBlock), W),
            PrintError::Timeout(W)
        );
        assert!(matches!(
            PrintError::from_io(&Error::from(ErrorKind::PermissionDenied), W),
            PrintError::Io(_)
        ));
    }
}
