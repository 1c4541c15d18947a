//! Non-blocking file-descriptor I/O with deadlines, shared by the serial and USB transports and
//! the pseudo-terminal simulator.
//!
//! The descriptor is switched to `O_NONBLOCK`; every write waits with `poll(POLLOUT)` for at most
//! the time left before the deadline and writes what the kernel takes, so a printer that stops
//! reading can never block the thread past the deadline, and the count of bytes accepted is exact.

use crate::error::PrintError;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::io::Errno;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Why a write stopped before the end: the typed error and the bytes the kernel had taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    pub sent: usize,
    pub error: PrintError,
}

pub(crate) struct FdIo {
    fd: OwnedFd,
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

pub(crate) fn errno_to_io(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

impl FdIo {
    pub(crate) fn new(fd: OwnedFd) -> std::io::Result<Self> {
        let flags = fcntl_getfl(&fd).map_err(errno_to_io)?;
        fcntl_setfl(&fd, flags | OFlags::NONBLOCK).map_err(errno_to_io)?;
        Ok(FdIo { fd })
    }

    /// Waits for `flags` until `deadline`. Returns the events seen, empty on time-out.
    fn wait(&self, flags: PollFlags, deadline: Instant) -> Result<PollFlags, Errno> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = [PollFd::new(&self.fd, flags)];
            match poll(&mut fds, Some(&timespec(left))) {
                Ok(0) => return Ok(PollFlags::empty()),
                Ok(_) => return Ok(fds[0].revents()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes all of `data` before `deadline`, or says how far it got and why it stopped.
    pub(crate) fn write_all(
        &mut self,
        data: &[u8],
        deadline: Instant,
        started: Instant,
    ) -> Result<(), WriteFailure> {
        let mut sent = 0;
        while sent < data.len() {
            let events = self
                .wait(PollFlags::OUT, deadline)
                .map_err(|e| WriteFailure {
                    sent,
                    error: io_err(e, started),
                })?;
            if events.is_empty() {
                return Err(WriteFailure {
                    sent,
                    error: PrintError::Timeout(started.elapsed()),
                });
            }
            // On POLLERR / POLLHUP the write below reports the actual error (EIO, EPIPE).
            match rustix::io::write(&self.fd, &data[sent..]) {
                Ok(0) => {
                    return Err(WriteFailure {
                        sent,
                        error: PrintError::Disconnected("the device took no bytes".into()),
                    })
                }
                Ok(n) => sent += n,
                Err(Errno::AGAIN) | Err(Errno::INTR) => {
                    if events.contains(PollFlags::HUP) {
                        return Err(WriteFailure {
                            sent,
                            error: PrintError::Disconnected("hang-up".into()),
                        });
                    }
                }
                Err(e) => {
                    return Err(WriteFailure {
                        sent,
                        error: io_err(e, started),
                    })
                }
            }
        }
        Ok(())
    }

    /// Reads what is available within `timeout`; `Ok(0)` means nothing arrived in time.
    pub(crate) fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PrintError> {
        let started = Instant::now();
        let deadline = started + timeout;
        loop {
            let events = self
                .wait(PollFlags::IN, deadline)
                .map_err(|e| io_err(e, started))?;
            if events.is_empty() {
                return Ok(0);
            }
            match rustix::io::read(&self.fd, &mut *buf) {
                Ok(0) => return Err(PrintError::Disconnected("end of file".into())),
                Ok(n) => return Ok(n),
                Err(Errno::AGAIN) | Err(Errno::INTR) => {
                    if Instant::now() >= deadline {
                        return Ok(0);
                    }
                }
                Err(e) => return Err(io_err(e, started)),
            }
        }
    }
}

fn io_err(e: Errno, started: Instant) -> PrintError {
    PrintError::from_io(&errno_to_io(e), started.elapsed())
}

/// Takes ownership of a serial port's file descriptor so it can be driven with `poll` deadlines
/// (the port's own `write` blocks once `poll` reports any room, whatever its timeout).
#[allow(unsafe_code)]
pub(crate) fn owned_fd_from_port(port: serialport::TTYPort) -> OwnedFd {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let raw = port.into_raw_fd();
    // SAFETY: `into_raw_fd` gives up the port's ownership of an open descriptor without closing
    // it (the port is consumed and its `Drop` does not run), so this is its only owner.
    unsafe { OwnedFd::from_raw_fd(raw) }
}
