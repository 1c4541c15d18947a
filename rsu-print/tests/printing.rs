//! The print path against simulated printers: a pseudo-terminal (opened by path, like
//! /dev/ttyUSB0) and a TCP listener on 127.0.0.1, plus a FIFO standing in for /dev/usb/lp0.
//! Every fault must come back as its typed error, never as a success.

#![allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.

mod common;

use common::*;
use rsu_print::config::{FlowControl, PrinterConfig, TransportConfig};
use rsu_print::decode::decode;
use rsu_print::sim::{Fault, PtySimPrinter, SimControl, TcpSimPrinter};
use rsu_print::transport::{SerialTransport, TcpTransport, Transport, UsbTransport, WriteFailure};
use rsu_print::worker::{FailurePhase, Opener, WorkerOptions, RESET_NULS};
use rsu_print::{compose_sale, DrawerPin, PaperWidth, PrintError, PrintJob, PrintWorker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PTY_BAUD: u32 = 4_000_000;

/// The bytes around every job on a two-way transport: DLE EOT 1 and 4 (both answered ready).
const READY_QUERIES: [u8; 6] = [0x10, 0x04, 1, 0x10, 0x04, 4];

fn options() -> WorkerOptions {
    WorkerOptions {
        status_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(1500),
        connect_timeout: Duration::from_secs(1),
        watchdog_grace: Duration::from_secs(1),
        wire_bytes_per_sec: None,
    }
}

fn receipt() -> Vec<u8> {
    compose_sale(&sale(), PaperWidth::Mm58).unwrap()
}

enum Sim {
    Pty(PtySimPrinter),
    Tcp(TcpSimPrinter),
}

impl Sim {
    fn control(&self) -> &SimControl {
        match self {
            Sim::Pty(p) => p.control(),
            Sim::Tcp(t) => t.control(),
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Sim::Pty(_) => "pty",
            Sim::Tcp(_) => "tcp",
        }
    }
    /// A worker that opens the simulator the way production opens a real printer.
    fn worker(&self, opts: WorkerOptions) -> PrintWorker {
        let opener: Opener = match self {
            Sim::Pty(p) => {
                let path = p.path().to_string();
                Arc::new(move || {
                    // A pty has no baud rate; a fast nominal one keeps the wire-time allowance small.
                    let t = SerialTransport::open(
                        &path,
                        PTY_BAUD,
                        FlowControl::None,
                        true,
                        Duration::from_secs(1),
                    )?;
                    Ok(Box::new(t) as Box<dyn Transport>)
                })
            }
            Sim::Tcp(t) => {
                let port = t.addr().port();
                // A host name, not an address: the TCP transport resolves it.
                Arc::new(move || {
                    let t = TcpTransport::connect("localhost", port, Duration::from_secs(1))?;
                    Ok(Box::new(t) as Box<dyn Transport>)
                })
            }
        };
        let mut opts = opts;
        if let Sim::Pty(_) = self {
            opts.wire_bytes_per_sec = Some(u64::from(PTY_BAUD) / 10);
        }
        PrintWorker::with_opener(opener, opts)
    }
}

fn both_sims() -> Vec<Sim> {
    vec![
        Sim::Pty(PtySimPrinter::start().unwrap()),
        Sim::Tcp(TcpSimPrinter::start().unwrap()),
    ]
}

fn print(worker: &PrintWorker, bytes: Vec<u8>) -> rsu_print::PrintOutcome {
    worker
        .submit(PrintJob::new(VALIDATION, bytes))
        .wait_timeout(Duration::from_secs(30))
        .expect("the worker answers within its watchdog budget")
}

#[test]
fn a_healthy_printer_prints_the_receipt_once_and_confirms_it() {
    for sim in both_sims() {
        let worker = sim.worker(options());
        let job = receipt();
        let report = print(&worker, job.clone()).unwrap_or_else(|f| panic!("{}: {f}", sim.name()));
        assert!(report.confirmed, "{}", sim.name());
        assert_eq!(report.bytes_sent, job.len());
        assert!(report.warnings.is_empty());
        let c = sim.control();
        assert_eq!(c.wait_printed(job.len(), Duration::from_secs(2)), job.len());
        // Status before and after, the job exactly once in between.
        let expected = [&READY_QUERIES[..], &job, &READY_QUERIES[..]].concat();
        assert_eq!(c.recorded(), expected, "{}", sim.name());
        assert_eq!(c.printed(), job);
        assert_eq!(c.status_queries(), vec![1, 4, 1, 4]);
        let d = decode(&c.printed());
        assert_eq!(d.qr_codes, vec![sale().qr_payload]);
    }
}

fn assert_refused_before_sending(fault: Fault, expected: fn(&PrintError) -> bool) {
    for sim in both_sims() {
        sim.control().set_fault(fault);
        let worker = sim.worker(options());
        let failure =
            print(&worker, receipt()).expect_err("a faulty printer must not report success");
        assert!(
            expected(&failure.error),
            "{} {fault:?}: got {:?}",
            sim.name(),
            failure.error
        );
        assert_eq!(
            failure.phase,
            FailurePhase::StatusBefore,
            "{} {fault:?}",
            sim.name()
        );
        assert_eq!(failure.bytes_sent, 0);
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            sim.control().printed().is_empty(),
            "{} {fault:?}: the job went out",
            sim.name()
        );
    }
}

#[test]
fn paper_out_is_a_typed_error_and_nothing_is_sent() {
    assert_refused_before_sending(Fault::PaperOut, |e| *e == PrintError::PaperOut);
}

#[test]
fn cover_open_is_a_typed_error_and_nothing_is_sent() {
    assert_refused_before_sending(Fault::CoverOpen, |e| *e == PrintError::CoverOpen);
}

#[test]
fn offline_is_a_typed_error_and_nothing_is_sent() {
    assert_refused_before_sending(Fault::Offline, |e| *e == PrintError::Offline(None));
}

#[test]
fn a_printer_that_does_not_answer_is_no_answer_not_success() {
    assert_refused_before_sending(Fault::NoAnswer, |e| matches!(e, PrintError::NoAnswer(_)));
}

#[test]
fn paper_near_end_prints_with_a_warning() {
    for sim in both_sims() {
        sim.control().set_fault(Fault::PaperNearEnd);
        let worker = sim.worker(options());
        let report = print(&worker, receipt()).unwrap();
        assert!(report.confirmed);
        assert_eq!(
            report.warnings,
            vec![rsu_print::PrinterWarning::PaperNearEnd],
            "{}",
            sim.name()
        );
    }
}

#[test]
fn paper_running_out_mid_receipt_fails_after_the_job_with_all_bytes_counted() {
    for sim in both_sims() {
        let job = receipt();
        sim.control()
            .set_fault_after(job.len() / 2, Fault::PaperOut);
        let worker = sim.worker(options());
        let failure = print(&worker, job.clone()).expect_err("paper ran out: not confirmed");
        assert_eq!(failure.error, PrintError::PaperOut, "{}", sim.name());
        assert_eq!(failure.phase, FailurePhase::StatusAfter);
        assert_eq!(failure.bytes_sent, job.len());
        assert!(failure.partially_printed());
    }
}

#[test]
fn a_printer_that_stops_reading_times_out_with_the_bytes_sent() {
    for sim in both_sims() {
        // Larger than any OS buffer between us and the printer (pty ≈ 20 KB; loopback TCP
        // buffers grow to a few MB), so the writer must stall.
        let size = match sim {
            Sim::Pty(_) => 128 * 1024,
            Sim::Tcp(_) => 32 * 1024 * 1024,
        };
        let job: Vec<u8> = b"0123456789abcdef\n"
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect();
        sim.control().set_fault_after(1000, Fault::StopReading);
        let mut opts = options();
        opts.write_timeout = Duration::from_millis(700);
        let worker = sim.worker(opts);
        let started = Instant::now();
        let failure = print(&worker, job.clone()).expect_err("a stalled printer cannot succeed");
        assert!(
            matches!(failure.error, PrintError::Timeout(_)),
            "{}: {:?}",
            sim.name(),
            failure.error
        );
        assert_eq!(failure.phase, FailurePhase::Sending);
        assert!(
            failure.bytes_sent >= 1000 && failure.bytes_sent < job.len(),
            "{}: sent {}",
            sim.name(),
            failure.bytes_sent
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}: deadline not honoured",
            sim.name()
        );
        // What the printer got is exactly a prefix of the job (nothing lost in between, nothing twice).
        let printed = sim.control().printed();
        assert!(job.starts_with(&printed), "{}", sim.name());
    }
}

#[test]
fn a_disconnect_is_a_typed_error() {
    for sim in both_sims() {
        sim.control().set_fault(Fault::Disconnect);
        let worker = sim.worker(options());
        let failure = print(&worker, receipt()).expect_err("a disconnected printer cannot succeed");
        assert!(
            matches!(
                failure.error,
                PrintError::Disconnected(_) | PrintError::Open { .. }
            ),
            "{}: {:?}",
            sim.name(),
            failure.error
        );
        assert!(
            failure.phase <= FailurePhase::StatusBefore,
            "{}: {:?}",
            sim.name(),
            failure.phase
        );
    }
}

#[test]
fn a_disconnect_mid_job_is_a_typed_error_with_bytes_counted() {
    for sim in both_sims() {
        let job: Vec<u8> = b"line of a long receipt\n"
            .iter()
            .copied()
            .cycle()
            .take(200 * 1024)
            .collect();
        sim.control().set_fault_after(4096, Fault::Disconnect);
        let worker = sim.worker(options());
        let failure = print(&worker, job.clone()).expect_err("the cable was pulled");
        assert!(
            matches!(failure.error, PrintError::Disconnected(_)),
            "{}: {:?}",
            sim.name(),
            failure.error
        );
        assert!(
            failure.phase >= FailurePhase::Sending,
            "{}: {:?}",
            sim.name(),
            failure.phase
        );
        assert!(
            failure.bytes_sent >= 4096,
            "{}: {}",
            sim.name(),
            failure.bytes_sent
        );
    }
}

#[test]
fn a_slow_printer_gets_every_byte_once_in_order() {
    for sim in both_sims() {
        // 64 bytes per read, 1 ms pause: about 64 KB/s, so a 96 KB job back-pressures for over a second.
        sim.control().throttle(64, Duration::from_millis(1));
        let mut job = Vec::new();
        for i in 0..4000u32 {
            job.extend_from_slice(format!("{i:06} slow printer line\n").as_bytes());
        }
        let mut opts = options();
        opts.write_timeout = Duration::from_secs(20);
        let worker = sim.worker(opts);
        let report = print(&worker, job.clone()).unwrap_or_else(|f| panic!("{}: {f}", sim.name()));
        assert_eq!(report.bytes_sent, job.len());
        let c = sim.control();
        c.wait_printed(job.len(), Duration::from_secs(10));
        assert_eq!(c.printed().len(), job.len(), "{}", sim.name());
        assert_eq!(
            c.printed(),
            job,
            "{}: bytes lost, reordered or duplicated",
            sim.name()
        );
        assert_eq!(
            c.recorded(),
            [&READY_QUERIES[..], &job, &READY_QUERIES[..]].concat()
        );
    }
}

#[test]
fn a_failed_job_is_never_replayed_and_the_next_job_starts_with_a_reset() {
    for sim in both_sims() {
        let c = sim.control();
        let worker = sim.worker(options());
        let first = receipt();
        c.set_fault_after(first.len() / 2, Fault::PaperOut);
        let failure = print(&worker, first.clone()).expect_err("paper out mid-job");
        assert_eq!(failure.phase, FailurePhase::StatusAfter);

        // Paper loaded: the operator reprints explicitly.
        std::thread::sleep(Duration::from_millis(50));
        c.set_fault(Fault::None);
        c.clear();
        let mut again = sale();
        again.reprint = Some(1);
        let reprint = compose_sale(&again, PaperWidth::Mm58).unwrap();
        let report =
            print(&worker, reprint.clone()).unwrap_or_else(|f| panic!("{}: {f}", sim.name()));
        assert!(report.confirmed);
        c.wait_printed(RESET_NULS + 2 + reprint.len(), Duration::from_secs(2));
        let mut reset = vec![0u8; RESET_NULS];
        reset.extend_from_slice(&[0x1B, b'@']);
        let expected = [&reset[..], &READY_QUERIES[..], &reprint, &READY_QUERIES[..]].concat();
        assert_eq!(c.recorded(), expected, "{}", sim.name());
        // The original job was sent once, not again.
        let d = decode(&c.printed());
        assert_eq!(
            d.lines.iter().filter(|l| l.contains("REPRINT 1")).count(),
            2
        );
        assert_eq!(d.qr_codes.len(), 1);

        // A third, healthy job needs no reset.
        c.clear();
        let third = receipt();
        print(&worker, third.clone()).unwrap();
        c.wait_printed(third.len(), Duration::from_secs(2));
        assert_eq!(
            c.recorded(),
            [&READY_QUERIES[..], &third, &READY_QUERIES[..]].concat()
        );
    }
}

#[test]
fn the_cash_drawer_is_kicked_after_a_confirmed_receipt_only() {
    for sim in both_sims() {
        let c = sim.control();
        let worker = sim.worker(options());
        let job = receipt();
        let report = worker
            .submit(PrintJob::new("cash sale", job.clone()).with_drawer_kick(Some(DrawerPin::Pin2)))
            .wait_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert!(report.drawer_kicked);
        c.wait_printed(job.len() + 5, Duration::from_secs(2));
        assert!(
            c.printed().ends_with(&[0x1B, b'p', 0, 25, 250]),
            "{}",
            sim.name()
        );

        c.clear();
        c.set_fault(Fault::PaperOut);
        let failure = worker
            .submit(PrintJob::new("cash sale", job.clone()).with_drawer_kick(Some(DrawerPin::Pin2)))
            .wait()
            .unwrap_err();
        assert_eq!(failure.error, PrintError::PaperOut);
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !c.recorded().windows(2).any(|w| w == [0x1B, b'p']),
            "{}: drawer kicked on failure",
            sim.name()
        );
    }
}

#[test]
fn the_caller_gets_a_handle_at_once_and_never_blocks() {
    let sim = PtySimPrinter::start().unwrap();
    sim.throttle(16, Duration::from_millis(2));
    let worker = Sim::Pty(sim).worker(options());
    let started = Instant::now();
    let handle = worker.submit(PrintJob::new("slow", vec![b'x'; 8 * 1024]));
    assert!(started.elapsed() < Duration::from_millis(50));
    assert!(
        handle.try_outcome().is_none(),
        "the job cannot have finished yet"
    );
    assert!(handle.wait_timeout(Duration::from_secs(10)).is_some());
}

/// A transport whose writes hang far past any deadline, like serialport issue #7.
struct Hanging {
    writes: Arc<AtomicUsize>,
    hang: bool,
    log: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Transport for Hanging {
    fn describe(&self) -> String {
        "hanging".into()
    }
    fn is_two_way(&self) -> bool {
        false
    }
    fn write_all(&mut self, data: &[u8], _deadline: Instant) -> Result<(), WriteFailure> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::thread::sleep(Duration::from_secs(5));
        }
        self.log.lock().unwrap().extend_from_slice(data);
        Ok(())
    }
    fn read(&mut self, _buf: &mut [u8], _timeout: Duration) -> Result<usize, PrintError> {
        Ok(0)
    }
}

#[test]
fn the_watchdog_abandons_a_hung_job_and_the_next_job_resets_the_printer() {
    let opened = Arc::new(AtomicUsize::new(0));
    let writes = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (o, w, l) = (opened.clone(), writes.clone(), log.clone());
    let opener: Opener = Arc::new(move || {
        // The first connection hangs; the one opened after the watchdog works.
        let hang = o.fetch_add(1, Ordering::SeqCst) == 0;
        Ok(Box::new(Hanging {
            writes: w.clone(),
            hang,
            log: l.clone(),
        }) as Box<dyn Transport>)
    });
    let opts = WorkerOptions {
        status_timeout: Duration::from_millis(10),
        write_timeout: Duration::from_millis(10),
        connect_timeout: Duration::from_millis(10),
        watchdog_grace: Duration::from_millis(200),
        wire_bytes_per_sec: None,
    };
    let worker = PrintWorker::with_opener(opener, opts);
    assert!(worker.max_wait(100) > opts.budget(100));
    let started = Instant::now();
    let failure = worker
        .submit(PrintJob::new("hung", vec![b'a'; 100]))
        .wait()
        .unwrap_err();
    assert!(
        matches!(failure.error, PrintError::Watchdog(_)),
        "{:?}",
        failure.error
    );
    assert_eq!(failure.phase, FailurePhase::Watchdog);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the watchdog fired late"
    );

    let report = worker
        .submit(PrintJob::new("next", b"ok\n".to_vec()))
        .wait()
        .unwrap();
    assert!(!report.confirmed, "a one-way transport cannot confirm");
    assert_eq!(
        opened.load(Ordering::SeqCst),
        2,
        "the next job uses a fresh connection"
    );
    let mut expected = vec![0u8; RESET_NULS];
    expected.extend_from_slice(&[0x1B, b'@']);
    expected.extend_from_slice(b"ok\n");
    assert_eq!(*log.lock().unwrap(), expected);
}

#[test]
fn a_usb_printer_class_device_that_stops_reading_times_out_instead_of_blocking() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lp0");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    // The "printer" end: reads 1000 bytes, then stops reading but keeps the device open.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&fifo)
        .unwrap();
    let mut usb = UsbTransport::open(fifo.clone(), false).unwrap();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let printer = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 100];
        while got < 1000 {
            match reader.read(&mut buf) {
                Ok(n) => got += n,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        let _ = stop_rx.recv();
        got
    });
    let job = vec![b'z'; 1024 * 1024];
    let started = Instant::now();
    let err = usb
        .write_all(&job, Instant::now() + Duration::from_millis(400))
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(err.error, PrintError::Timeout(_)),
        "{:?}",
        err.error
    );
    assert!(
        waited >= Duration::from_millis(390) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(
        err.sent >= 1000 && err.sent < job.len(),
        "sent {}",
        err.sent
    );
    stop_tx.send(()).unwrap();
    assert!(printer.join().unwrap() >= 1000);
}

#[test]
fn the_directory_printer_writes_a_transcript_and_a_png_per_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let config = PrinterConfig {
        transport: TransportConfig::Simulated {
            dir: dir.path().to_path_buf(),
        },
        paper_width: PaperWidth::Mm58,
        ..PrinterConfig::default()
    };
    let worker = PrintWorker::start(config);
    let report = worker
        .submit(PrintJob::new(VALIDATION, receipt()))
        .wait()
        .unwrap();
    assert!(report.confirmed);
    let stem = dir.path().join(format!("0001-{VALIDATION}"));
    let txt = std::fs::read_to_string(stem.with_extension("txt")).unwrap();
    assert!(txt.contains("José Müller") && txt.contains("[CUT]"));
    let png = std::fs::read(stem.with_extension("png")).unwrap();
    assert_eq!(qr_codes_in_png(&png), vec![sale().qr_payload]);

    // A marker file makes it report paper out: the next sale is refused, nothing written.
    std::fs::write(dir.path().join("PAPER_OUT"), b"").unwrap();
    let failure = worker
        .submit(PrintJob::new("second", receipt()))
        .wait()
        .unwrap_err();
    assert_eq!(failure.error, PrintError::PaperOut);
    assert!(!dir.path().join("0002-second.txt").exists());
}

#[test]
fn the_file_transport_appends_and_cannot_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printer.bin");
    let worker = PrintWorker::start(PrinterConfig {
        transport: TransportConfig::File { path: path.clone() },
        ..PrinterConfig::default()
    });
    let report = worker
        .submit(PrintJob::new("a", b"one\n".to_vec()))
        .wait()
        .unwrap();
    assert!(!report.confirmed);
    worker
        .submit(PrintJob::new("b", b"two\n".to_vec()))
        .wait()
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
}

#[test]
fn an_unreachable_printer_fails_to_open_with_a_typed_error() {
    let worker = PrintWorker::start(PrinterConfig {
        transport: TransportConfig::Serial {
            path: "/dev/does-not-exist".into(),
            baud: 9600,
            flow_control: FlowControl::RtsCts,
            dtr: true,
        },
        ..PrinterConfig::default()
    });
    let failure = worker
        .submit(PrintJob::new("x", receipt()))
        .wait()
        .unwrap_err();
    assert!(
        matches!(failure.error, PrintError::Open { .. }),
        "{:?}",
        failure.error
    );
    assert_eq!(failure.phase, FailurePhase::Open);
    // Nothing listens on this port of loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let worker = PrintWorker::start(PrinterConfig {
        transport: TransportConfig::Network {
            host: "127.0.0.1".into(),
            port,
        },
        ..PrinterConfig::default()
    });
    let failure = worker
        .submit(PrintJob::new("x", receipt()))
        .wait()
        .unwrap_err();
    assert!(
        matches!(failure.error, PrintError::Open { .. }),
        "{:?}",
        failure.error
    );
}

#[test]
fn the_serial_transport_prints_with_each_flow_control_setting() {
    for flow in [FlowControl::None, FlowControl::XonXoff, FlowControl::RtsCts] {
        let sim = PtySimPrinter::start().unwrap();
        let path = sim.path().to_string();
        let opener: Opener = Arc::new(move || {
            let t = SerialTransport::open(&path, 38_400, flow, true, Duration::from_secs(1))?;
            Ok(Box::new(t) as Box<dyn Transport>)
        });
        let mut opts = options();
        opts.wire_bytes_per_sec = Some(3840);
        let worker = PrintWorker::with_opener(opener, opts);
        let job = receipt();
        let report = print(&worker, job.clone()).unwrap_or_else(|f| panic!("{flow:?}: {f}"));
        assert!(report.confirmed, "{flow:?}");
        assert!(
            report.transport.contains(flow.label()),
            "{}",
            report.transport
        );
        sim.wait_printed(job.len(), Duration::from_secs(2));
        assert_eq!(sim.printed(), job, "{flow:?}");
    }
}
