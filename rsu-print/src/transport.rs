//! Transports: how bytes reach a printer, behind one trait.
//!
//! Every write has a deadline and reports exactly how many bytes the OS accepted; every read has
//! a timeout. Nothing here retries.

use crate::config::{FlowControl, PrinterConfig, TransportConfig};
use crate::decode;
use crate::error::PrintError;
use crate::fdio::{errno_to_io, owned_fd_from_port, FdIo};
use crate::PaperWidth;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use crate::fdio::WriteFailure;

/// A connection to a printer.
pub trait Transport: Send {
    /// One line for logs, e.g. `tcp 10.0.0.5:9100`.
    fn describe(&self) -> String;

    /// Whether the printer can answer status queries through this transport.
    fn is_two_way(&self) -> bool;

    /// Writes all of `data` before `deadline`. On failure, says how many bytes were accepted.
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), WriteFailure>;

    /// Reads what the printer sent, waiting at most `timeout`; `Ok(0)` when nothing came.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError>;

    /// How long `bytes` take on the wire once written (serial lines only; zero elsewhere).
    fn wire_time(&self, _bytes: usize) -> Duration {
        Duration::ZERO
    }

    /// Called after each complete job with the caller's label (the simulated printer renders it).
    fn end_job(&mut self, _label: &str) -> Result<(), PrintError> {
        Ok(())
    }
}

/// Opens the transport a configuration describes.
pub fn open(config: &PrinterConfig) -> Result<Box<dyn Transport>, PrintError> {
    let timeout = config.connect_timeout();
    Ok(match &config.transport {
        TransportConfig::Serial {
            path,
            baud,
            flow_control,
            dtr,
        } => Box::new(SerialTransport::open(
            path,
            *baud,
            *flow_control,
            *dtr,
            timeout,
        )?),
        TransportConfig::Usb { path, two_way } => {
            Box::new(UsbTransport::open(path.clone(), *two_way)?)
        }
        TransportConfig::Network { host, port } => {
            Box::new(TcpTransport::connect(host, *port, timeout)?)
        }
        TransportConfig::File { path } => Box::new(FileTransport::open(path.clone())?),
        TransportConfig::Simulated { dir } => {
            Box::new(DirectoryPrinter::open(dir.clone(), config.paper_width)?)
        }
    })
}

fn open_err(target: impl Into<String>, e: impl std::fmt::Display) -> PrintError {
    PrintError::Open {
        target: target.into(),
        reason: e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Serial

/// A serial port opened with `serialport`, then driven non-blocking with `poll` deadlines.
pub struct SerialTransport {
    io: FdIo,
    path: String,
    baud: u32,
    flow: FlowControl,
}

impl SerialTransport {
    /// Opens `path` (e.g. `/dev/ttyUSB0`) at `baud` 8N1 with `flow` control and DTR set to `dtr`.
    pub fn open(
        path: &str,
        baud: u32,
        flow: FlowControl,
        dtr: bool,
        timeout: Duration,
    ) -> Result<Self, PrintError> {
        let flow_control = match flow {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::XonXoff => serialport::FlowControl::Software,
            FlowControl::RtsCts => serialport::FlowControl::Hardware,
        };
        let mut port = serialport::new(path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow_control)
            .timeout(timeout)
            .open_native()
            .map_err(|e| open_err(path, e))?;
        // Set DTR explicitly: some printers hold themselves offline until DTR is asserted.
        // Pseudo-terminals have no modem lines and refuse; that is logged, not fatal.
        if let Err(e) = serialport::SerialPort::write_data_terminal_ready(&mut port, dtr) {
            tracing::debug!(path, error = %e, "could not set DTR (no modem lines on this device)");
        }
        let fd = owned_fd_from_port(port);
        let io = FdIo::new(fd).map_err(|e| open_err(path, e))?;
        Ok(SerialTransport {
            io,
            path: path.to_string(),
            baud,
            flow,
        })
    }
}

impl Transport for SerialTransport {
    fn describe(&self) -> String {
        format!(
            "serial {} {} 8N1 {}",
            self.path,
            self.baud,
            self.flow.label()
        )
    }
    fn is_two_way(&self) -> bool {
        true
    }
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), WriteFailure> {
        self.io.write_all(data, deadline, Instant::now())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError> {
        self.io.read(buf, timeout)
    }
    fn wire_time(&self, bytes: usize) -> Duration {
        // 8N1: ten bit times per byte.
        let bytes_per_sec = u64::from(self.baud.max(1)) / 10;
        Duration::from_micros((bytes as u64).saturating_mul(1_000_000) / bytes_per_sec.max(1))
    }
}

// ---------------------------------------------------------------------------------------------
// USB printer class

/// `LPABORT` from `<linux/lp.h>`: with it set, a paper-out printer makes writes fail (`ENOSPC`)
/// instead of blocking.
const LPABORT: rustix::ioctl::Opcode = 0x0604;

/// A USB printer class device (`/dev/usb/lp0`), opened `O_NONBLOCK` and written with `poll`
/// deadlines so a printer out of paper cannot block the worker forever.
pub struct UsbTransport {
    io: FdIo,
    path: PathBuf,
    two_way: bool,
}

impl UsbTransport {
    pub fn open(path: PathBuf, two_way: bool) -> Result<Self, PrintError> {
        let file = OpenOptions::new()
            .read(two_way)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&path)
            .map_err(|e| open_err(path.display().to_string(), e))?;
        let fd: OwnedFd = file.into();
        if let Err(e) = set_lpabort(&fd) {
            // Only the lp driver knows LPABORT; a FIFO in tests answers ENOTTY.
            tracing::debug!(path = %path.display(), error = %e, "LPABORT not set");
        }
        let io = FdIo::new(fd).map_err(|e| open_err(path.display().to_string(), e))?;
        Ok(UsbTransport { io, path, two_way })
    }
}

#[allow(unsafe_code)]
fn set_lpabort(fd: &OwnedFd) -> std::io::Result<()> {
    use rustix::ioctl::{ioctl, IntegerSetter};
    // SAFETY: LPABORT takes an integer argument (non-zero = abort on error) by value, which is
    // what `IntegerSetter` passes; on a device that is not an lp device the kernel refuses it
    // with ENOTTY without touching memory.
    unsafe {
        let op = IntegerSetter::<LPABORT>::new_usize(1);
        ioctl(fd, op).map_err(errno_to_io)
    }
}

impl Transport for UsbTransport {
    fn describe(&self) -> String {
        format!("usb {}", self.path.display())
    }
    fn is_two_way(&self) -> bool {
        self.two_way
    }
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), WriteFailure> {
        self.io.write_all(data, deadline, Instant::now())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError> {
        if !self.two_way {
            return Ok(0);
        }
        self.io.read(buf, timeout)
    }
}

// ---------------------------------------------------------------------------------------------
// TCP 9100

/// A network printer on raw TCP. Host names are resolved (on the worker thread) and each address
/// is tried with the connect timeout.
pub struct TcpTransport {
    stream: TcpStream,
    peer: String,
}

impl TcpTransport {
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self, PrintError> {
        let target = format!("{host}:{port}");
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| open_err(&target, e))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(TcpTransport {
                        stream,
                        peer: format!("{target} ({addr})"),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => open_err(&target, e),
            None => open_err(&target, "the name resolved to no address"),
        })
    }
}

/// Chunk size for TCP writes: small enough that a stalled printer is noticed with an exact count.
const TCP_CHUNK: usize = 4096;

impl Transport for TcpTransport {
    fn describe(&self) -> String {
        format!("tcp {}", self.peer)
    }
    fn is_two_way(&self) -> bool {
        true
    }
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), WriteFailure> {
        let started = Instant::now();
        let mut sent = 0;
        while sent < data.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WriteFailure {
                    sent,
                    error: PrintError::Timeout(started.elapsed()),
                });
            }
            self.stream
                .set_write_timeout(Some(left))
                .map_err(|e| WriteFailure {
                    sent,
                    error: PrintError::Io(e.to_string()),
                })?;
            let end = (sent + TCP_CHUNK).min(data.len());
            match self.stream.write(&data[sent..end]) {
                Ok(0) => {
                    return Err(WriteFailure {
                        sent,
                        error: PrintError::Disconnected("the printer closed the connection".into()),
                    })
                }
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(WriteFailure {
                        sent,
                        error: PrintError::from_io(&e, started.elapsed()),
                    })
                }
            }
        }
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError> {
        let timeout = timeout.max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| PrintError::Io(e.to_string()))?;
        match self.stream.read(buf) {
            Ok(0) => Err(PrintError::Disconnected(
                "the printer closed the connection".into(),
            )),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(PrintError::from_io(&e, timeout)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// File

/// Appends raw job bytes to a file. One-way: the outcome is "sent", never "confirmed".
pub struct FileTransport {
    file: File,
    path: PathBuf,
}

impl FileTransport {
    pub fn open(path: PathBuf) -> Result<Self, PrintError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| open_err(path.display().to_string(), e))?;
        Ok(FileTransport { file, path })
    }
}

impl Transport for FileTransport {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
    fn is_two_way(&self) -> bool {
        false
    }
    fn write_all(&mut self, data: &[u8], _deadline: Instant) -> Result<(), WriteFailure> {
        let started = Instant::now();
        self.file
            .write_all(data)
            .and_then(|()| self.file.flush())
            .map_err(|e| WriteFailure {
                sent: 0,
                error: PrintError::from_io(&e, started.elapsed()),
            })
    }
    fn read(&mut self, _buf: &mut [u8], _timeout: Duration) -> Result<usize, PrintError> {
        Ok(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The demo's simulated printer

/// The kiosk demo's printer: collects each job, then writes `NNNN-label.txt` (the decoded
/// transcript), `NNNN-label.png` (the rendered receipt) and `NNNN-label.bin` (the raw bytes)
/// into `dir`. It answers status queries from marker files in `dir`: `PAPER_OUT`,
/// `PAPER_NEAR_END`, `COVER_OPEN`, `OFFLINE` (create one to simulate that condition).
pub struct DirectoryPrinter {
    dir: PathBuf,
    width: PaperWidth,
    job: Vec<u8>,
    answers: Vec<u8>,
    pending_dle: Vec<u8>,
}

impl DirectoryPrinter {
    pub fn open(dir: PathBuf, width: PaperWidth) -> Result<Self, PrintError> {
        std::fs::create_dir_all(&dir).map_err(|e| open_err(dir.display().to_string(), e))?;
        Ok(DirectoryPrinter {
            dir,
            width,
            job: Vec::new(),
            answers: Vec::new(),
            pending_dle: Vec::new(),
        })
    }

    fn flag(&self, name: &str) -> bool {
        self.dir.join(name).exists()
    }

    fn answer(&self, q: u8) -> u8 {
        let paper_out = self.flag("PAPER_OUT");
        let cover = self.flag("COVER_OPEN");
        let offline = self.flag("OFFLINE") || paper_out || cover;
        match q {
            1 if offline => 0x1A,
            2 if cover => 0x16,
            2 if paper_out => 0x32,
            4 if paper_out => 0x7E,
            4 if self.flag("PAPER_NEAR_END") => 0x1E,
            _ => 0x12,
        }
    }

    fn next_number(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                    .count()
            })
            .unwrap_or(0)
            + 1
    }
}

impl Transport for DirectoryPrinter {
    fn describe(&self) -> String {
        format!("simulated {}", self.dir.display())
    }
    fn is_two_way(&self) -> bool {
        true
    }
    fn write_all(&mut self, data: &[u8], _deadline: Instant) -> Result<(), WriteFailure> {
        // Status queries are answered, not printed; everything else is part of the job.
        let mut bytes = std::mem::take(&mut self.pending_dle);
        bytes.extend_from_slice(data);
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == 0x10 && i + 1 < bytes.len() && bytes[i + 1] == 0x04 {
                if i + 2 >= bytes.len() {
                    self.pending_dle = bytes[i..].to_vec();
                    break;
                }
                let q = bytes[i + 2];
                if (1..=4).contains(&q) {
                    let a = self.answer(q);
                    self.answers.push(a);
                    i += 3;
                    continue;
                }
            } else if bytes[i] == 0x10 && i + 1 == bytes.len() {
                self.pending_dle = vec![0x10];
                break;
            }
            self.job.push(bytes[i]);
            i += 1;
        }
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize, PrintError> {
        let n = self.answers.len().min(buf.len());
        buf[..n].copy_from_slice(&self.answers[..n]);
        self.answers.drain(..n);
        Ok(n)
    }
    fn end_job(&mut self, label: &str) -> Result<(), PrintError> {
        let job = std::mem::take(&mut self.job);
        if job.is_empty() {
            return Ok(());
        }
        let safe: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let stem = self.dir.join(format!("{:04}-{}", self.next_number(), safe));
        let io = |e: std::io::Error| PrintError::Io(e.to_string());
        std::fs::write(stem.with_extension("bin"), &job).map_err(io)?;
        let decoded = decode::decode(&job);
        std::fs::write(stem.with_extension("txt"), decoded.transcript.as_bytes()).map_err(io)?;
        let png =
            decode::render_png(&job, self.width).map_err(|e| PrintError::Io(e.to_string()))?;
        std::fs::write(stem.with_extension("png"), png).map_err(io)?;
        Ok(())
    }
}
