//! A headless Slint platform: the software renderer into memory, no display. Used by
//! `rsu-app screenshot` and `rsu-app measure`. It has a small event loop (a queue of closures
//! plus Slint's timers), so `upgrade_in_event_loop` from worker threads works as on a screen.

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{EventLoopProxy, Platform, WindowAdapter};
use slint::{EventLoopError, PhysicalSize, PlatformError, Rgb8Pixel, SharedPixelBuffer};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    quit: bool,
}

#[derive(Clone)]
struct Proxy {
    queue: Arc<Mutex<Queue>>,
    thread: std::thread::Thread,
}

impl EventLoopProxy for Proxy {
    fn quit_event_loop(&self) -> Result<(), EventLoopError> {
        self.queue
            .lock()
            .map_err(|_| EventLoopError::EventLoopTerminated)?
            .quit = true;
        self.thread.unpark();
        Ok(())
    }

    fn invoke_from_event_loop(&self, event: Job) -> Result<(), EventLoopError> {
        self.queue
            .lock()
            .map_err(|_| EventLoopError::EventLoopTerminated)?
            .jobs
            .push_back(event);
        self.thread.unpark();
        Ok(())
    }
}

/// Called after each frame is drawn, with the frame.
pub type FrameHook = Box<dyn FnMut(&SharedPixelBuffer<Rgb8Pixel>)>;

/// Installs the headless platform with a window of `width` × `height` pixels. Call once per
/// process, before creating a window.
pub fn install(width: u32, height: u32) -> Result<HeadlessHandle, PlatformError> {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    window.set_size(PhysicalSize::new(width, height));
    let hook: Rc<RefCell<Option<FrameHook>>> = Rc::new(RefCell::new(None));
    let frame = Rc::new(RefCell::new(SharedPixelBuffer::<Rgb8Pixel>::new(
        width, height,
    )));
    let platform = HeadlessPlatform {
        window: window.clone(),
        proxy: Proxy {
            queue: Arc::new(Mutex::new(Queue::default())),
            thread: std::thread::current(),
        },
        started: Instant::now(),
        frame: frame.clone(),
        hook: hook.clone(),
    };
    slint::platform::set_platform(Box::new(platform))
        .map_err(|e| PlatformError::Other(e.to_string()))?;
    Ok(HeadlessHandle {
        window,
        frame,
        hook,
    })
}

/// The caller's side of the installed platform (the platform itself belongs to Slint).
#[derive(Clone)]
pub struct HeadlessHandle {
    window: Rc<MinimalSoftwareWindow>,
    frame: Rc<RefCell<SharedPixelBuffer<Rgb8Pixel>>>,
    hook: Rc<RefCell<Option<FrameHook>>>,
}

impl HeadlessHandle {
    /// Draws now if anything changed and returns a copy of the current frame.
    pub fn render(&self) -> SharedPixelBuffer<Rgb8Pixel> {
        draw(&self.window, &self.frame, &self.hook);
        self.frame.borrow().clone()
    }

    /// Runs `hook` after every frame the event loop draws.
    pub fn on_frame(&self, hook: FrameHook) {
        *self.hook.borrow_mut() = Some(hook);
    }
}

/// The platform: one software-rendered window in memory.
struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    proxy: Proxy,
    started: Instant,
    frame: Rc<RefCell<SharedPixelBuffer<Rgb8Pixel>>>,
    hook: Rc<RefCell<Option<FrameHook>>>,
}

fn draw(
    window: &MinimalSoftwareWindow,
    frame: &RefCell<SharedPixelBuffer<Rgb8Pixel>>,
    hook: &RefCell<Option<FrameHook>>,
) -> bool {
    let size = window.size();
    let drew = window.draw_if_needed(|renderer| {
        let mut f = frame.borrow_mut();
        if f.width() != size.width || f.height() != size.height {
            *f = SharedPixelBuffer::new(size.width, size.height);
        }
        let width = f.width() as usize;
        renderer.render(f.make_mut_slice(), width);
    });
    if drew {
        if let Some(h) = hook.borrow_mut().as_mut() {
            h(&frame.borrow());
        }
    }
    drew
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.started.elapsed()
    }

    fn new_event_loop_proxy(&self) -> Option<Box<dyn EventLoopProxy>> {
        Some(Box::new(self.proxy.clone()))
    }

    fn run_event_loop(&self) -> Result<(), PlatformError> {
        loop {
            let (job, quit) = match self.proxy.queue.lock() {
                Ok(mut q) => (q.jobs.pop_front(), q.quit),
                Err(_) => return Err(PlatformError::Other("event queue poisoned".into())),
            };
            if quit {
                return Ok(());
            }
            slint::platform::update_timers_and_animations();
            if let Some(job) = job {
                job();
                continue;
            }
            draw(&self.window, &self.frame, &self.hook);
            let wait = slint::platform::duration_until_next_timer_update()
                .unwrap_or(Duration::from_millis(20))
                .min(Duration::from_millis(20));
            std::thread::park_timeout(wait);
        }
    }
}

/// Writes an RGB frame as a PNG file.
pub fn write_png(
    frame: &SharedPixelBuffer<Rgb8Pixel>,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), frame.width(), frame.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    w.write_image_data(frame.as_bytes())?;
    w.finish()?;
    Ok(())
}
