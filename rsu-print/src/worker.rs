//! The print worker: printer I/O on its own thread, under a watchdog.
//!
//! ```text
//! caller (UI / store)            supervisor thread                 I/O thread
//!   submit(job) ──────────────▶  queue ──▶ send job ─────────────▶ [reset] → status → job →
//!   ◀── JobHandle (at once)                 wait ≤ budget           status → [drawer kick]
//!   handle.try_outcome()  ◀───── outcome ◀── outcome ◀────────────
//!                                on overrun: Watchdog error, the I/O thread is abandoned,
//!                                a fresh one (and a fresh connection) serves the next job
//! ```
//!
//! Per job, on a two-way transport: `DLE EOT` status before (a printer out of paper, with its
//! cover open or offline gets nothing), the job bytes, `DLE EOT` status after (paper ran out
//! mid-job, no answer: the job is *not* confirmed), then the optional drawer kick. On a one-way
//! transport the job is sent and reported `confirmed: false`.
//!
//! A job is sent once. A failure is returned to the caller with the bytes sent; it is never
//! replayed. After a job that failed once its bytes may have started to go out (or after a
//! watchdog overrun), the next job begins with [`RESET_NULS`] NUL bytes and `ESC @`, so a printer
//! left in the middle of a command returns to a known state.

use crate::config::{PrinterConfig, TransportConfig};
use crate::error::PrintError;
use crate::receipt::{drawer_kick, DrawerPin};
use crate::status::{is_status_byte, PrinterStatus, PrinterWarning, StatusQuery};
use crate::transport::{self, Transport};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// NULs sent before `ESC @` after an aborted job: more than the longest command parameter this
/// crate ever sends (a QR payload is at most [`crate::receipt::MAX_QR_PAYLOAD`] bytes).
pub const RESET_NULS: usize = 512;

/// Bytes written per step, so the watchdog can see progress.
const CHUNK: usize = 1024;

/// One thing to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    /// The caller's name for the job, e.g. the validation number; echoed in the outcome and used
    /// by the simulated printer for file names.
    pub label: String,
    /// The complete ESC/POS bytes from [`crate::receipt`].
    pub bytes: Vec<u8>,
    /// Pulse the cash drawer after the receipt printed and was confirmed.
    pub kick_drawer: Option<DrawerPin>,
}

impl PrintJob {
    pub fn new(label: impl Into<String>, bytes: Vec<u8>) -> Self {
        PrintJob {
            label: label.into(),
            bytes,
            kick_drawer: None,
        }
    }

    /// Also kicks the cash drawer on `pin` once the receipt is confirmed.
    pub fn with_drawer_kick(mut self, pin: Option<DrawerPin>) -> Self {
        self.kick_drawer = pin;
        self
    }
}

/// A job that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintReport {
    pub label: String,
    /// Job bytes the OS accepted (all of them).
    pub bytes_sent: usize,
    /// True when the printer answered status before and after the job and reported no fault;
    /// false on one-way transports (file, one-way USB), where nothing can be confirmed.
    pub confirmed: bool,
    pub status_before: Option<PrinterStatus>,
    pub status_after: Option<PrinterStatus>,
    /// Things to show the operator, such as paper near end.
    pub warnings: Vec<PrinterWarning>,
    /// Whether the drawer kick was sent (only when requested and the receipt was confirmed or
    /// the transport is one-way).
    pub drawer_kicked: bool,
    /// Why a requested drawer kick was not sent, if it was not.
    pub drawer_error: Option<PrintError>,
    pub transport: String,
    pub elapsed: Duration,
}

/// Where in the job a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailurePhase {
    /// The printer could not be opened or connected to. Nothing was sent.
    Open,
    /// Sending the reset after a previous failure. Nothing of this job was sent.
    Reset,
    /// The status check before the job refused it. Nothing of this job was sent.
    StatusBefore,
    /// The job bytes stopped going out part-way (see `bytes_sent`).
    Sending,
    /// All bytes went out but the printer then reported a fault or did not answer.
    StatusAfter,
    /// The I/O thread overran its time budget and was abandoned.
    Watchdog,
}

/// A job that did not go through. The sale stays committed; the caller records `print_failed`
/// with this and waits for an explicit reprint or spoil.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("printing {label} failed while {phase:?} after {bytes_sent} of {job_bytes} bytes: {error}")]
pub struct PrintFailure {
    pub label: String,
    pub error: PrintError,
    pub phase: FailurePhase,
    /// Job bytes that left this machine (the printer may have printed part of the receipt).
    pub bytes_sent: usize,
    pub job_bytes: usize,
    /// Last status read, if any.
    pub status: Option<PrinterStatus>,
}

impl PrintFailure {
    /// Whether some of the job may be on paper (so a reprint is needed, not just a retry).
    pub fn partially_printed(&self) -> bool {
        self.bytes_sent > 0
    }
}

pub type PrintOutcome = Result<PrintReport, PrintFailure>;

/// The caller's side of a submitted job. Never blocks unless asked to.
#[derive(Debug)]
pub struct JobHandle {
    label: String,
    rx: Receiver<PrintOutcome>,
}

impl JobHandle {
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The outcome if the job has finished; `None` while it is still running.
    pub fn try_outcome(&self) -> Option<PrintOutcome> {
        match self.rx.try_recv() {
            Ok(o) => Some(o),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(self.gone())),
        }
    }

    /// Waits at most `timeout` for the outcome (for worker-side code and tests, not a UI thread).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<PrintOutcome> {
        match self.rx.recv_timeout(timeout) {
            Ok(o) => Some(o),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(self.gone())),
        }
    }

    /// Waits for the outcome. The worker's watchdog bounds the wait.
    pub fn wait(self) -> PrintOutcome {
        self.rx.recv().unwrap_or_else(|_| Err(self.gone()))
    }

    fn gone(&self) -> PrintFailure {
        PrintFailure {
            label: self.label.clone(),
            error: PrintError::WorkerGone,
            phase: FailurePhase::Open,
            bytes_sent: 0,
            job_bytes: 0,
            status: None,
        }
    }
}

/// Opens a transport; called on the I/O thread, again after any failure.
pub type Opener = Arc<dyn Fn() -> Result<Box<dyn Transport>, PrintError> + Send + Sync>;

/// Timing of the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Time for each `DLE EOT` answer.
    pub status_timeout: Duration,
    /// Time for the printer to take a job (the serial wire time is added per job).
    pub write_timeout: Duration,
    /// Time to open or connect (counted in the watchdog budget).
    pub connect_timeout: Duration,
    /// Extra time the watchdog allows beyond all the above before abandoning the I/O thread.
    pub watchdog_grace: Duration,
    /// Bytes per second on the wire for a serial line (baud / 10), to budget slow links.
    /// Must match the transport's own [`Transport::wire_time`], or the watchdog may fire first.
    pub wire_bytes_per_sec: Option<u64>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            status_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            watchdog_grace: Duration::from_secs(2),
            wire_bytes_per_sec: None,
        }
    }
}

impl WorkerOptions {
    pub fn from_config(config: &PrinterConfig) -> Self {
        let wire = match &config.transport {
            TransportConfig::Serial { baud, .. } => Some(u64::from(*baud) / 10),
            _ => None,
        };
        WorkerOptions {
            status_timeout: config.status_timeout(),
            write_timeout: config.write_timeout(),
            connect_timeout: config.connect_timeout(),
            wire_bytes_per_sec: wire,
            ..WorkerOptions::default()
        }
    }

    fn wire_time(&self, bytes: usize) -> Duration {
        match self.wire_bytes_per_sec {
            Some(bps) if bps > 0 => {
                Duration::from_micros((bytes as u64).saturating_mul(1_000_000) / bps)
            }
            _ => Duration::ZERO,
        }
    }

    /// The most a job may take before the watchdog gives up on it.
    pub fn budget(&self, job_bytes: usize) -> Duration {
        let wire = self.wire_time(job_bytes + RESET_NULS + 16);
        self.connect_timeout
            + self.write_timeout * 3 // reset, job, and the job draining before the status after
            + self.status_timeout * 7 // up to three queries before, three after, plus drain
            + wire * 3
            + self.watchdog_grace
    }
}

struct IoRequest {
    job: PrintJob,
    reset_first: bool,
}

struct IoThread {
    tx: Sender<IoRequest>,
    rx: Receiver<PrintOutcome>,
    progress: Arc<AtomicUsize>,
}

/// The print worker. Cheap to hold; dropping it lets the threads finish the queue and exit.
pub struct PrintWorker {
    tx: Sender<(PrintJob, Sender<PrintOutcome>)>,
    options: WorkerOptions,
}

impl std::fmt::Debug for PrintWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintWorker").finish_non_exhaustive()
    }
}

impl PrintWorker {
    /// A worker for the printer `config` describes. Nothing is opened until the first job.
    pub fn start(config: PrinterConfig) -> Self {
        let options = WorkerOptions::from_config(&config);
        let opener: Opener = Arc::new(move || transport::open(&config));
        PrintWorker::with_opener(opener, options)
    }

    /// A worker with a custom way to open the transport (tests, simulators).
    pub fn with_opener(opener: Opener, options: WorkerOptions) -> Self {
        let (tx, rx) = mpsc::channel::<(PrintJob, Sender<PrintOutcome>)>();
        let spawned = thread::Builder::new()
            .name("rsu-print-supervisor".into())
            .spawn(move || supervise(rx, opener, options));
        if let Err(e) = spawned {
            // Without a thread the receiver is dropped and every handle reports WorkerGone.
            tracing::error!(error = %e, "cannot start the print worker thread");
        }
        PrintWorker { tx, options }
    }

    /// The longest a job of `job_bytes` can take before its outcome arrives (the watchdog's
    /// budget plus a margin). A caller that waits with a timeout should wait at least this
    /// long; waiting less may report a failure for a job that then prints.
    pub fn max_wait(&self, job_bytes: usize) -> Duration {
        self.options.budget(job_bytes) + Duration::from_secs(1)
    }

    /// The timing this worker runs with.
    pub fn options(&self) -> WorkerOptions {
        self.options
    }

    /// Queues `job` and returns at once. Jobs run one at a time, in order, each exactly once.
    pub fn submit(&self, job: PrintJob) -> JobHandle {
        let (otx, orx) = mpsc::channel();
        let label = job.label.clone();
        if let Err(mpsc::SendError((job, otx))) = self.tx.send((job, otx)) {
            let _ = otx.send(Err(PrintFailure {
                label: job.label,
                error: PrintError::WorkerGone,
                phase: FailurePhase::Open,
                bytes_sent: 0,
                job_bytes: job.bytes.len(),
                status: None,
            }));
        }
        JobHandle { label, rx: orx }
    }

    /// Kicks the cash drawer alone (no receipt), e.g. for a supervisor's "no sale".
    pub fn kick_drawer(&self, label: impl Into<String>, pin: DrawerPin) -> JobHandle {
        self.submit(PrintJob {
            label: label.into(),
            bytes: Vec::new(),
            kick_drawer: Some(pin),
        })
    }
}

fn spawn_io(opener: Opener, options: WorkerOptions) -> Option<IoThread> {
    let (tx, rx) = mpsc::channel::<IoRequest>();
    let (otx, orx) = mpsc::channel::<PrintOutcome>();
    let progress = Arc::new(AtomicUsize::new(0));
    let p = progress.clone();
    let spawned = thread::Builder::new()
        .name("rsu-print-io".into())
        .spawn(move || {
            let mut transport: Option<Box<dyn Transport>> = None;
            while let Ok(req) = rx.recv() {
                let outcome = run_job(&opener, &mut transport, &req, &options, &p);
                if outcome.is_err() {
                    // Start the next job on a fresh connection.
                    transport = None;
                }
                if otx.send(outcome).is_err() {
                    break;
                }
            }
        });
    match spawned {
        Ok(_) => Some(IoThread {
            tx,
            rx: orx,
            progress,
        }),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the printer I/O thread");
            None
        }
    }
}

fn supervise(
    rx: Receiver<(PrintJob, Sender<PrintOutcome>)>,
    opener: Opener,
    options: WorkerOptions,
) {
    let mut io: Option<IoThread> = None;
    let mut reset_next = false;
    while let Ok((job, reply)) = rx.recv() {
        let label = job.label.clone();
        let job_bytes = job.bytes.len();
        let budget = options.budget(job_bytes);
        let fail = |error: PrintError, phase: FailurePhase, bytes_sent: usize| PrintFailure {
            label: label.clone(),
            error,
            phase,
            bytes_sent,
            job_bytes,
            status: None,
        };
        if io.is_none() {
            io = spawn_io(opener.clone(), options);
        }
        let Some(thread) = io.as_ref() else {
            let _ = reply.send(Err(fail(PrintError::WorkerGone, FailurePhase::Open, 0)));
            continue;
        };
        thread.progress.store(0, Ordering::SeqCst);
        if thread
            .tx
            .send(IoRequest {
                job,
                reset_first: reset_next,
            })
            .is_err()
        {
            io = None;
            let _ = reply.send(Err(fail(PrintError::WorkerGone, FailurePhase::Open, 0)));
            continue;
        }
        let outcome = match thread.rx.recv_timeout(budget) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => {
                let sent = thread.progress.load(Ordering::SeqCst);
                tracing::error!(%label, sent, ?budget, "print job overran its budget; abandoning the I/O thread");
                // Dropping the channels lets the stuck thread exit whenever its call returns.
                io = None;
                Err(fail(
                    PrintError::Watchdog(budget),
                    FailurePhase::Watchdog,
                    sent,
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let sent = thread.progress.load(Ordering::SeqCst);
                io = None;
                Err(fail(PrintError::WorkerGone, FailurePhase::Watchdog, sent))
            }
        };
        reset_next = match &outcome {
            Ok(_) => false,
            Err(f) => match f.phase {
                // The reset has not gone out yet: it is still owed.
                FailurePhase::Open | FailurePhase::Reset => reset_next,
                // Refused before any job byte: the printer is in a known state.
                FailurePhase::StatusBefore => false,
                FailurePhase::Sending | FailurePhase::StatusAfter | FailurePhase::Watchdog => true,
            },
        };
        let _ = reply.send(outcome);
    }
}

fn run_job(
    opener: &Opener,
    transport: &mut Option<Box<dyn Transport>>,
    req: &IoRequest,
    options: &WorkerOptions,
    progress: &AtomicUsize,
) -> PrintOutcome {
    let started = Instant::now();
    let job = &req.job;
    let fail = |error: PrintError,
                phase: FailurePhase,
                bytes_sent: usize,
                status: Option<PrinterStatus>| {
        PrintFailure {
            label: job.label.clone(),
            error,
            phase,
            bytes_sent,
            job_bytes: job.bytes.len(),
            status,
        }
    };

    if transport.is_none() {
        *transport = Some(opener().map_err(|e| fail(e, FailurePhase::Open, 0, None))?);
    }
    let Some(t) = transport.as_mut() else {
        return Err(fail(PrintError::WorkerGone, FailurePhase::Open, 0, None));
    };
    let t: &mut dyn Transport = t.as_mut();

    if req.reset_first {
        let mut reset = vec![0u8; RESET_NULS];
        reset.extend_from_slice(&[0x1B, b'@']);
        let deadline = Instant::now() + options.write_timeout + t.wire_time(reset.len());
        t.write_all(&reset, deadline)
            .map_err(|w| fail(w.error, FailurePhase::Reset, 0, None))?;
    }

    let two_way = t.is_two_way();
    let mut warnings = Vec::new();
    let status_before = if two_way {
        let s = query_status(t, options.status_timeout, Duration::ZERO)
            .map_err(|e| fail(e, FailurePhase::StatusBefore, 0, None))?;
        warnings = s
            .verdict()
            .map_err(|e| fail(e, FailurePhase::StatusBefore, 0, Some(s)))?;
        Some(s)
    } else {
        None
    };

    // The job, in chunks so the watchdog can see how far it got.
    let deadline = Instant::now() + options.write_timeout + t.wire_time(job.bytes.len());
    let mut sent = 0;
    for chunk in job.bytes.chunks(CHUNK) {
        match t.write_all(chunk, deadline) {
            Ok(()) => {
                sent += chunk.len();
                progress.store(sent, Ordering::SeqCst);
            }
            Err(w) => {
                let total = sent + w.sent;
                progress.store(total, Ordering::SeqCst);
                return Err(fail(w.error, FailurePhase::Sending, total, status_before));
            }
        }
    }
    if !job.bytes.is_empty() {
        t.end_job(&job.label)
            .map_err(|e| fail(e, FailurePhase::Sending, sent, status_before))?;
    }

    let status_after = if two_way {
        // The printer answers once it has *received* the job, which may still sit in OS or
        // network buffers, or wait for room in a slow printer's buffer: allow for the wire and
        // for the same time the job was given to go out.
        let extra = t.wire_time(job.bytes.len()) + options.write_timeout;
        let s = query_status(t, options.status_timeout, extra)
            .map_err(|e| fail(e, FailurePhase::StatusAfter, sent, status_before))?;
        let after = s
            .verdict()
            .map_err(|e| fail(e, FailurePhase::StatusAfter, sent, Some(s)))?;
        for w in after {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        Some(s)
    } else {
        None
    };

    let mut drawer_kicked = false;
    let mut drawer_error = None;
    if let Some(pin) = job.kick_drawer {
        let deadline = Instant::now() + options.write_timeout;
        match t.write_all(&drawer_kick(pin), deadline) {
            Ok(()) => drawer_kicked = true,
            Err(w) => drawer_error = Some(w.error),
        }
    }

    Ok(PrintReport {
        label: job.label.clone(),
        bytes_sent: sent,
        confirmed: two_way,
        status_before,
        status_after,
        warnings,
        drawer_kicked,
        drawer_error,
        transport: t.describe(),
        elapsed: started.elapsed(),
    })
}

/// Asks `DLE EOT 1`, then `2` if offline, then `4`, and merges the answers.
/// `first_extra` lengthens the wait for the first answer (bytes still on the wire).
pub fn query_status(
    t: &mut dyn Transport,
    timeout: Duration,
    first_extra: Duration,
) -> Result<PrinterStatus, PrintError> {
    // Drop anything stale (a late answer to an earlier query) so answers match questions.
    let mut junk = [0u8; 64];
    for _ in 0..16 {
        if t.read(&mut junk, Duration::ZERO)? == 0 {
            break;
        }
    }
    let mut status = PrinterStatus::default();
    let printer = ask(t, StatusQuery::Printer, timeout + first_extra)?;
    status.apply(StatusQuery::Printer, printer)?;
    if !status.online {
        let cause = ask(t, StatusQuery::OfflineCause, timeout)?;
        status.apply(StatusQuery::OfflineCause, cause)?;
    }
    let paper = ask(t, StatusQuery::PaperSensor, timeout)?;
    status.apply(StatusQuery::PaperSensor, paper)?;
    Ok(status)
}

fn ask(t: &mut dyn Transport, q: StatusQuery, timeout: Duration) -> Result<u8, PrintError> {
    let started = Instant::now();
    let deadline = started + timeout;
    t.write_all(&q.bytes(), deadline).map_err(|w| w.error)?;
    let mut last_bad = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(match last_bad {
                Some(b) => PrintError::BadStatus(b),
                None => PrintError::NoAnswer(timeout),
            });
        }
        let mut b = [0u8; 1];
        if t.read(&mut b, left)? == 1 {
            if is_status_byte(b[0]) {
                return Ok(b[0]);
            }
            last_bad = Some(b[0]);
        }
    }
}
