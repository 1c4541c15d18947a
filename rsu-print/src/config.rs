//! Printer settings as they sit in the device configuration (serde, camelCase).
//!
//! ```json
//! { "transport": "serial", "path": "/dev/ttyUSB0", "baud": 38400, "flowControl": "rtsCts",
//!   "paperWidth": "80mm", "cashDrawer": "pin2" }
//! ```

use crate::receipt::DrawerPin;
use crate::PaperWidth;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Serial flow control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FlowControl {
    /// No flow control: only safe when the printer's buffer outruns the baud rate.
    None,
    /// Software flow control (XON/XOFF), honoured by the tty driver.
    XonXoff,
    /// Hardware flow control on the RTS/CTS lines: the safe choice when the cable carries them.
    #[default]
    RtsCts,
}

impl FlowControl {
    pub fn label(self) -> &'static str {
        match self {
            FlowControl::None => "none",
            FlowControl::XonXoff => "xon/xoff",
            FlowControl::RtsCts => "rts/cts",
        }
    }
}

fn default_baud() -> u32 {
    38400
}
fn default_true() -> bool {
    true
}
fn default_port() -> u16 {
    9100
}

/// How bytes reach the printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "transport",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TransportConfig {
    /// A serial port (`/dev/ttyUSB0`, `/dev/ttyS0`, or a pseudo-terminal in tests).
    Serial {
        path: String,
        #[serde(default = "default_baud")]
        baud: u32,
        #[serde(default)]
        flow_control: FlowControl,
        /// Level DTR is set to after opening (some printers stay offline without it).
        #[serde(default = "default_true")]
        dtr: bool,
    },
    /// A USB printer class device, `/dev/usb/lp0`.
    Usb {
        path: PathBuf,
        /// Whether the printer answers `DLE EOT` through the device (most ESC/POS printers do).
        #[serde(default = "default_true")]
        two_way: bool,
    },
    /// A network printer on raw TCP (JetDirect, port 9100). `host` may be a name or an address.
    Network {
        host: String,
        #[serde(default = "default_port")]
        port: u16,
    },
    /// Append the raw bytes to a file (one-way: nothing is confirmed).
    File { path: PathBuf },
    /// The demo's simulated printer: each job becomes a `.txt` transcript and a `.png` image in
    /// `dir`. Create `dir/PAPER_OUT`, `dir/COVER_OPEN` or `dir/OFFLINE` to make it report that.
    Simulated { dir: PathBuf },
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig::Usb {
            path: PathBuf::from("/dev/usb/lp0"),
            two_way: true,
        }
    }
}

impl TransportConfig {
    /// One line for logs and the test page, e.g. `serial /dev/ttyUSB0 38400 8N1 rts/cts`.
    pub fn describe(&self) -> String {
        match self {
            TransportConfig::Serial {
                path,
                baud,
                flow_control,
                dtr,
            } => format!(
                "serial {path} {baud} 8N1 {}{}",
                flow_control.label(),
                if *dtr { " dtr" } else { "" }
            ),
            TransportConfig::Usb { path, two_way } => format!(
                "usb {}{}",
                path.display(),
                if *two_way { "" } else { " (one-way)" }
            ),
            TransportConfig::Network { host, port } => format!("tcp {host}:{port}"),
            TransportConfig::File { path } => format!("file {}", path.display()),
            TransportConfig::Simulated { dir } => format!("simulated {}", dir.display()),
        }
    }
}

/// Everything the print worker needs to reach and drive one printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrinterConfig {
    #[serde(flatten)]
    pub transport: TransportConfig,
    #[serde(default)]
    pub paper_width: PaperWidth,
    /// Cash drawer pin to kick on cash sales; `None` when there is no drawer.
    #[serde(default)]
    pub cash_drawer: Option<DrawerPin>,
    /// Time allowed to open or connect, in milliseconds.
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Time allowed for the printer to take one job, in milliseconds (on top of the serial wire
    /// time, which the worker adds from the baud rate).
    #[serde(default = "default_write_ms")]
    pub write_timeout_ms: u64,
    /// Time allowed for each `DLE EOT` answer, in milliseconds.
    #[serde(default = "default_status_ms")]
    pub status_timeout_ms: u64,
}

fn default_connect_ms() -> u64 {
    3_000
}
fn default_write_ms() -> u64 {
    10_000
}
fn default_status_ms() -> u64 {
    1_000
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            transport: TransportConfig::default(),
            paper_width: PaperWidth::default(),
            cash_drawer: None,
            connect_timeout_ms: default_connect_ms(),
            write_timeout_ms: default_write_ms(),
            status_timeout_ms: default_status_ms(),
        }
    }
}

impl PrinterConfig {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }
    pub fn status_timeout(&self) -> Duration {
        Duration::from_millis(self.status_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_config_reads_from_camel_case_json_with_defaults() {
        let c: PrinterConfig = serde_json::from_str(
            r#"{"transport":"serial","path":"/dev/ttyUSB0","flowControl":"xonXoff","paperWidth":"58mm"}"#,
        )
        .unwrap();
        assert_eq!(
            c.transport,
            TransportConfig::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 38400,
                flow_control: FlowControl::XonXoff,
                dtr: true
            }
        );
        assert_eq!(c.paper_width, PaperWidth::Mm58);
        assert_eq!(c.status_timeout_ms, 1000);
    }

    #[test]
    fn a_network_config_takes_a_host_name_and_defaults_to_port_9100() {
        let c: PrinterConfig =
            serde_json::from_str(r#"{"transport":"network","host":"printer.local"}"#).unwrap();
        assert_eq!(c.transport.describe(), "tcp printer.local:9100");
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["transport"], "network");
        assert_eq!(back["paperWidth"], "80mm");
    }
}
