//! Simulated printers for tests and demos.
//!
//! [`PtySimPrinter`] sits on the master side of a pseudo-terminal pair: production code opens
//! its slave path (`/dev/pts/N`) exactly as it would `/dev/ttyUSB0`. [`TcpSimPrinter`] listens on
//! `127.0.0.1` like a network printer on port 9100. Both record every byte, answer `DLE EOT`
//! status queries according to the current [`Fault`], can read slowly (a throttled printer, to
//! exercise back-pressure), and can be told to fail at once or after some bytes.
//!
//! The kiosk demo's printer, which writes each receipt as `.txt` and `.png`, is
//! [`crate::transport::DirectoryPrinter`].

use crate::error::PrintError;
use crate::fdio::{owned_fd_from_port, FdIo};
/// The kiosk demo's file-writing printer, re-exported here with the other simulators.
pub use crate::transport::DirectoryPrinter;
use serialport::SerialPort as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What the simulated printer does wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// Healthy: answers `0x12` to every query.
    #[default]
    None,
    /// Answers paper near end (`0x1E` to `DLE EOT 4`); still prints.
    PaperNearEnd,
    /// Offline (`0x1A`), stopped at paper end (`0x32`), paper out (`0x7E`).
    PaperOut,
    /// Offline (`0x1A`), cover open (`0x16`).
    CoverOpen,
    /// Offline (`0x1A`) with no cause given.
    Offline,
    /// Reads and records but never answers a status query (off, or a cover-open printer that
    /// goes silent).
    NoAnswer,
    /// Stops reading altogether: the OS buffers fill and writes time out.
    StopReading,
    /// Closes the connection (the pty master, or the TCP stream).
    Disconnect,
}

impl Fault {
    fn answer(self, query: u8) -> Option<u8> {
        match (self, query) {
            (Fault::NoAnswer | Fault::StopReading | Fault::Disconnect, _) => None,
            (Fault::PaperOut | Fault::CoverOpen | Fault::Offline, 1) => Some(0x1A),
            (Fault::PaperOut, 2) => Some(0x32),
            (Fault::CoverOpen, 2) => Some(0x16),
            (Fault::PaperOut, 4) => Some(0x7E),
            (Fault::PaperNearEnd, 4) => Some(0x1E),
            _ => Some(0x12),
        }
    }
}

#[derive(Default)]
struct State {
    fault: Fault,
    /// `(printed bytes, fault)`: switch to `fault` once that many job bytes were received.
    scheduled: Option<(usize, Fault)>,
    /// Every byte received, status queries included.
    raw: Vec<u8>,
    /// Bytes received minus the `DLE EOT n` queries: what would be printed.
    printed: Vec<u8>,
    /// The `n` of every `DLE EOT n` received.
    queries: Vec<u8>,
    /// Bytes per read and pause after each read, to act like a slow printer.
    throttle: Option<(usize, Duration)>,
    /// Partial `DLE EOT` sequence carried over between reads.
    pending: Vec<u8>,
    connections: usize,
}

impl State {
    /// Splits received bytes into queries (answered) and printed bytes. Returns the answers.
    fn take(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.raw.extend_from_slice(bytes);
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(bytes);
        let mut answers = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i] == 0x10 {
                match (data.get(i + 1), data.get(i + 2)) {
                    (None, _) | (Some(0x04), None) => {
                        self.pending = data[i..].to_vec();
                        break;
                    }
                    (Some(0x04), Some(&n)) if (1..=4).contains(&n) => {
                        self.queries.push(n);
                        if let Some(a) = self.fault.answer(n) {
                            answers.push(a);
                        }
                        i += 3;
                        continue;
                    }
                    _ => {}
                }
            }
            self.printed.push(data[i]);
            i += 1;
            if let Some((after, fault)) = self.scheduled {
                if self.printed.len() >= after {
                    self.fault = fault;
                    self.scheduled = None;
                }
            }
        }
        answers
    }
}

/// The controls and the recording shared by both simulators.
#[derive(Clone, Default)]
pub struct SimControl {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl SimControl {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock only loses a recording in a test; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the fault from now on.
    pub fn set_fault(&self, fault: Fault) {
        let mut s = self.lock();
        s.fault = fault;
        s.scheduled = None;
    }

    /// Switches to `fault` once `after` job bytes have been received (e.g. paper runs out
    /// mid-receipt, the printer stops reading, the cable is pulled).
    pub fn set_fault_after(&self, after: usize, fault: Fault) {
        self.lock().scheduled = Some((after, fault));
    }

    pub fn fault(&self) -> Fault {
        self.lock().fault
    }

    /// Reads at most `chunk` bytes at a time and pauses `pause` after each read.
    pub fn throttle(&self, chunk: usize, pause: Duration) {
        self.lock().throttle = Some((chunk.max(1), pause));
    }

    /// Every byte received so far, status queries included.
    pub fn recorded(&self) -> Vec<u8> {
        self.lock().raw.clone()
    }

    /// The bytes received minus status queries: what the printer would print.
    pub fn printed(&self) -> Vec<u8> {
        self.lock().printed.clone()
    }

    /// The `n` of each `DLE EOT n` received, in order.
    pub fn status_queries(&self) -> Vec<u8> {
        self.lock().queries.clone()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.raw.clear();
        s.printed.clear();
        s.queries.clear();
    }

    /// How many connections (TCP) or openings seen (pty: always 1) so far.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// Waits until at least `len` printable bytes arrived, or `timeout`. Returns the count.
    pub fn wait_printed(&self, len: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.lock().printed.len();
            if n >= len || Instant::now() >= deadline {
                return n;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn read_size(&self) -> (usize, Option<Duration>) {
        match self.lock().throttle {
            Some((chunk, pause)) => (chunk.min(4096), Some(pause)),
            None => (4096, None),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// What a simulator reads from and answers to.
trait SimLink {
    /// `Ok(0)` on time-out, `Err` when the other side is gone.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError>;
    fn write(&mut self, bytes: &[u8]) -> Result<(), PrintError>;
}

/// Serves one link until it fails, the fault says disconnect, or the simulator stops.
/// Returns true when it ended because of a `Disconnect` fault.
fn serve(link: &mut dyn SimLink, control: &SimControl) -> Result<bool, PrintError> {
    let mut buf = vec![0u8; 4096];
    loop {
        if control.stopped() {
            return Ok(false);
        }
        match control.fault() {
            Fault::Disconnect => return Ok(true),
            Fault::StopReading => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
            _ => {}
        }
        let (size, pause) = control.read_size();
        let n = link.read(&mut buf[..size], Duration::from_millis(20))?;
        if n == 0 {
            continue;
        }
        let answers = control.lock().take(&buf[..n]);
        if !answers.is_empty() {
            link.write(&answers)?;
        }
        if let Some(p) = pause {
            thread::sleep(p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pseudo-terminal

struct PtyLink {
    io: FdIo,
}

impl SimLink for PtyLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError> {
        self.io.read(buf, timeout)
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        let now = Instant::now();
        self.io
            .write_all(bytes, now + Duration::from_secs(1), now)
            .map_err(|w| w.error)
    }
}

/// A printer on the master side of a pseudo-terminal. Open [`PtySimPrinter::path`] with the
/// serial transport.
pub struct PtySimPrinter {
    path: String,
    control: SimControl,
    thread: Option<JoinHandle<()>>,
    _slave: serialport::TTYPort,
}

impl PtySimPrinter {
    pub fn start() -> std::io::Result<Self> {
        let (master, slave) = serialport::TTYPort::pair().map_err(std::io::Error::from)?;
        let path = slave
            .name()
            .ok_or_else(|| std::io::Error::other("the pty slave has no path"))?;
        // Keep this slave handle (unused) for the simulator's lifetime: it keeps the pty number
        // allocated after a simulated disconnect closes the master, so a parallel test cannot be
        // handed the same /dev/pts/N while this one still refers to it.
        let io = FdIo::new(owned_fd_from_port(master))?;
        let control = SimControl::default();
        control.lock().connections = 1;
        let c = control.clone();
        let thread = thread::Builder::new()
            .name("sim-pty-printer".into())
            .spawn(move || {
                let mut link = PtyLink { io };
                loop {
                    match serve(&mut link, &c) {
                        // Dropping the master closes the pty: the slave side gets EIO / hang-up.
                        Ok(_) => return,
                        // EIO while no one holds the slave open: wait for the next opener.
                        Err(_) => {
                            if c.stopped() || c.fault() == Fault::Disconnect {
                                return;
                            }
                            thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
            })?;
        Ok(PtySimPrinter {
            path,
            control,
            thread: Some(thread),
            _slave: slave,
        })
    }

    /// The slave path, e.g. `/dev/pts/3`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn control(&self) -> &SimControl {
        &self.control
    }
}

impl std::ops::Deref for PtySimPrinter {
    type Target = SimControl;
    fn deref(&self) -> &SimControl {
        &self.control
    }
}

impl Drop for PtySimPrinter {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TCP

struct TcpLink {
    stream: TcpStream,
}

impl SimLink for TcpLink {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| PrintError::Io(e.to_string()))?;
        match self.stream.read(buf) {
            Ok(0) => Err(PrintError::Disconnected("client closed".into())),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(PrintError::Io(e.to_string())),
        }
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), PrintError> {
        self.stream
            .write_all(bytes)
            .map_err(|e| PrintError::Io(e.to_string()))
    }
}

/// A network printer on `127.0.0.1:<ephemeral port>`, one connection at a time.
pub struct TcpSimPrinter {
    addr: SocketAddr,
    control: SimControl,
    thread: Option<JoinHandle<()>>,
}

impl TcpSimPrinter {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let control = SimControl::default();
        let c = control.clone();
        let thread = thread::Builder::new()
            .name("sim-tcp-printer".into())
            .spawn(move || {
                while !c.stopped() {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            c.lock().connections += 1;
                            if stream.set_nonblocking(false).is_err() {
                                continue;
                            }
                            if c.fault() == Fault::Disconnect {
                                let _ = stream.shutdown(std::net::Shutdown::Both);
                                continue;
                            }
                            let mut link = TcpLink { stream };
                            if let Ok(true) = serve(&mut link, &c) {
                                let _ = link.stream.shutdown(std::net::Shutdown::Both);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })?;
        Ok(TcpSimPrinter {
            addr,
            control,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn control(&self) -> &SimControl {
        &self.control
    }
}

impl std::ops::Deref for TcpSimPrinter {
    type Target = SimControl;
    fn deref(&self) -> &SimControl {
        &self.control
    }
}

impl Drop for TcpSimPrinter {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
