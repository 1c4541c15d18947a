//! Turns recorded ESC/POS bytes back into something a test or a person can read: a text
//! transcript (`[INIT][ALIGN C]…text…[QR data=…][CUT]`) and a 1-bit PNG at the paper width.
//!
//! It understands the commands this crate sends (and reports any other as `[? …]`), decodes text
//! with the selected code page (only table 16, Windows-1252, is known: other tables show high
//! bytes as `{xNN}`), draws text with `embedded-graphics` mono fonts in 12 × 24 dot cells (Font A)
//! and draws `GS ( k` QR codes with the `qrcode` crate, as the printer's firmware would.

use crate::PaperWidth;
use embedded_graphics::mono_font::iso_8859_1::FONT_10X20;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write as _;

/// Horizontal alignment (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// One decoded command or run of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Init,
    CodePage(u8),
    Align(Align),
    Bold(bool),
    Underline(u8),
    Size { width: u8, height: u8 },
    Text(String),
    Newline,
    Feed(u8),
    Cut { partial: bool },
    Qr { data: String, module: u8, ec: char },
    Drawer { pin: u8, on_ms: u16, off_ms: u16 },
    StatusQuery(u8),
    Nul(usize),
    Unknown(Vec<u8>),
}

/// What the decoder found, for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    pub ops: Vec<Op>,
    /// The transcript: tags in brackets, text as printed, one line per line feed.
    pub transcript: String,
    /// The printed text lines (styles removed), as the paper would show them.
    pub lines: Vec<String>,
    /// Data of every QR code printed.
    pub qr_codes: Vec<String>,
    pub cuts: usize,
    /// Commands the decoder does not know, as hex.
    pub unknown: Vec<String>,
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const DLE: u8 = 0x10;

/// Parses `bytes` into operations. Never fails: what it does not understand becomes `Unknown`.
pub fn parse(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut code_page = 0u8;
    let mut text: Vec<u8> = Vec::new();
    let mut qr_data: Vec<u8> = Vec::new();
    let mut qr_module = 3u8;
    let mut qr_ec = 'M';
    let mut i = 0;
    let flush_text = |text: &mut Vec<u8>, ops: &mut Vec<Op>, code_page: u8| {
        if !text.is_empty() {
            ops.push(Op::Text(decode_text(text, code_page)));
            text.clear();
        }
    };
    let arg = |at: usize| bytes.get(at).copied();
    while i < bytes.len() {
        let b = bytes[i];
        if b >= 0x20 && b != 0x7F {
            text.push(b);
            i += 1;
            continue;
        }
        flush_text(&mut text, &mut ops, code_page);
        match b {
            b'\n' => {
                ops.push(Op::Newline);
                i += 1;
            }
            0x00 => {
                let start = i;
                while i < bytes.len() && bytes[i] == 0 {
                    i += 1;
                }
                ops.push(Op::Nul(i - start));
            }
            ESC => match (arg(i + 1), arg(i + 2)) {
                (Some(b'@'), _) => {
                    ops.push(Op::Init);
                    code_page = 0;
                    i += 2;
                }
                (Some(b't'), Some(n)) => {
                    ops.push(Op::CodePage(n));
                    code_page = n;
                    i += 3;
                }
                (Some(b'a'), Some(n)) => {
                    ops.push(Op::Align(match n % 48 {
                        1 => Align::Center,
                        2 => Align::Right,
                        _ => Align::Left,
                    }));
                    i += 3;
                }
                (Some(b'E'), Some(n)) => {
                    ops.push(Op::Bold(n & 1 == 1));
                    i += 3;
                }
                (Some(b'-'), Some(n)) => {
                    ops.push(Op::Underline(n % 48));
                    i += 3;
                }
                (Some(b'd'), Some(n)) => {
                    ops.push(Op::Feed(n));
                    i += 3;
                }
                (Some(b'p'), Some(m)) => {
                    let t1 = arg(i + 3).unwrap_or(0);
                    let t2 = arg(i + 4).unwrap_or(0);
                    ops.push(Op::Drawer {
                        pin: if m % 48 == 0 { 2 } else { 5 },
                        on_ms: u16::from(t1) * 2,
                        off_ms: u16::from(t2) * 2,
                    });
                    i += 5;
                }
                _ => {
                    let end = (i + 3).min(bytes.len());
                    ops.push(Op::Unknown(bytes[i..end].to_vec()));
                    i = end;
                }
            },
            GS => match (arg(i + 1), arg(i + 2)) {
                (Some(b'!'), Some(n)) => {
                    ops.push(Op::Size {
                        width: (n >> 4) + 1,
                        height: (n & 0x0F) + 1,
                    });
                    i += 3;
                }
                (Some(b'V'), Some(m)) => {
                    let partial = m == 1 || m == 49 || m == 66;
                    ops.push(Op::Cut { partial });
                    // GS V 65/66 n carry a feed amount byte.
                    i += if m == 65 || m == 66 { 4 } else { 3 };
                }
                (Some(b'('), Some(b'k')) => {
                    let pl = usize::from(arg(i + 3).unwrap_or(0));
                    let ph = usize::from(arg(i + 4).unwrap_or(0));
                    let len = pl + ph * 256;
                    let start = i + 5;
                    let end = (start + len).min(bytes.len());
                    let params = &bytes[start..end];
                    match params {
                        [49, 67, n] => qr_module = *n,
                        [49, 69, n] => {
                            qr_ec = match n {
                                48 => 'L',
                                50 => 'Q',
                                51 => 'H',
                                _ => 'M',
                            }
                        }
                        [49, 65, ..] => {}
                        [49, 80, 48, data @ ..] => qr_data = data.to_vec(),
                        [49, 81, 48] => ops.push(Op::Qr {
                            data: String::from_utf8_lossy(&qr_data).into_owned(),
                            module: qr_module,
                            ec: qr_ec,
                        }),
                        _ => ops.push(Op::Unknown(bytes[i..end].to_vec())),
                    }
                    i = end;
                }
                _ => {
                    let end = (i + 3).min(bytes.len());
                    ops.push(Op::Unknown(bytes[i..end].to_vec()));
                    i = end;
                }
            },
            DLE if arg(i + 1) == Some(0x04) => {
                ops.push(Op::StatusQuery(arg(i + 2).unwrap_or(0)));
                i += 3;
            }
            _ => {
                ops.push(Op::Unknown(vec![b]));
                i += 1;
            }
        }
    }
    flush_text(&mut text, &mut ops, code_page);
    ops
}

fn decode_text(bytes: &[u8], code_page: u8) -> String {
    if code_page == 16 {
        return crate::text::decode(bytes);
    }
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "{{x{b:02X}}}");
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes `bytes` into a transcript and the facts tests assert on.
pub fn decode(bytes: &[u8]) -> Decoded {
    let ops = parse(bytes);
    let mut d = Decoded::default();
    let mut t = String::new();
    let mut line = String::new();
    for op in &ops {
        match op {
            Op::Init => t.push_str("[INIT]"),
            Op::CodePage(n) => {
                let _ = write!(t, "[CODEPAGE {n}]");
            }
            Op::Align(a) => t.push_str(match a {
                Align::Left => "[ALIGN L]",
                Align::Center => "[ALIGN C]",
                Align::Right => "[ALIGN R]",
            }),
            Op::Bold(on) => t.push_str(if *on { "[BOLD ON]" } else { "[BOLD OFF]" }),
            Op::Underline(n) => {
                let _ = write!(t, "[UNDERLINE {n}]");
            }
            Op::Size { width, height } => {
                let _ = write!(t, "[SIZE {width}x{height}]");
            }
            Op::Text(s) => {
                t.push_str(s);
                line.push_str(s);
            }
            Op::Newline => {
                t.push('\n');
                d.lines.push(std::mem::take(&mut line));
            }
            Op::Feed(n) => {
                let _ = writeln!(t, "[FEED {n}]");
                d.lines.push(std::mem::take(&mut line));
                for _ in 1..*n {
                    d.lines.push(String::new());
                }
            }
            Op::Cut { partial } => {
                t.push_str(if *partial {
                    "[CUT PARTIAL]\n"
                } else {
                    "[CUT]\n"
                });
                d.cuts += 1;
            }
            Op::Qr { data, module, ec } => {
                let _ = writeln!(t, "[QR module={module} ec={ec} data={data}]");
                d.qr_codes.push(data.clone());
            }
            Op::Drawer { pin, on_ms, off_ms } => {
                let _ = write!(t, "[DRAWER pin={pin} on={on_ms}ms off={off_ms}ms]");
            }
            Op::StatusQuery(n) => {
                let _ = write!(t, "[DLE EOT {n}]");
            }
            Op::Nul(n) => {
                let _ = write!(t, "[NUL x{n}]");
            }
            Op::Unknown(bytes) => {
                let h = hex(bytes);
                let _ = write!(t, "[? {h}]");
                d.unknown.push(h);
            }
        }
    }
    if !line.is_empty() {
        d.lines.push(line);
    }
    d.transcript = t;
    d.ops = ops;
    d
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Font A cell: 12 × 24 dots; the 10 × 20 glyph sits inside it.
const CELL_W: u32 = 12;
const CELL_H: u32 = 24;
/// Default line spacing in dots (about 1/6 inch).
const LINE_H: u32 = 30;

/// A 1-bit canvas, `true` = black dot.
struct Canvas {
    width: u32,
    rows: Vec<Vec<bool>>,
}

impl Canvas {
    fn set(&mut self, x: u32, y: u32) {
        if x >= self.width {
            return;
        }
        let y = y as usize;
        while self.rows.len() <= y {
            self.rows.push(vec![false; self.width as usize]);
        }
        self.rows[y][x as usize] = true;
    }
    fn ensure_height(&mut self, h: u32) {
        while self.rows.len() < h as usize {
            self.rows.push(vec![false; self.width as usize]);
        }
    }
}

/// A view of the canvas that places a glyph at an offset and scales it (double width/height).
struct Cell<'a> {
    canvas: &'a mut Canvas,
    x: u32,
    y: u32,
    sx: u32,
    sy: u32,
}

impl OriginDimensions for Cell<'_> {
    fn size(&self) -> Size {
        Size::new(CELL_W, CELL_H)
    }
}

impl DrawTarget for Cell<'_> {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;
    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, color) in pixels {
            if color != BinaryColor::On || p.x < 0 || p.y < 0 {
                continue;
            }
            let (px, py) = (p.x as u32, p.y as u32);
            for dy in 0..self.sy {
                for dx in 0..self.sx {
                    self.canvas
                        .set(self.x + px * self.sx + dx, self.y + py * self.sy + dy);
                }
            }
        }
        Ok(())
    }
}

/// What the PNG font (ISO 8859-1) draws for characters it lacks.
fn drawable(ch: char) -> char {
    match ch {
        '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
        '\u{2018}' | '\u{2019}' => '\'',
        '\u{201C}' | '\u{201D}' => '"',
        '\u{20AC}' => 'E',
        c if (c as u32) < 0x100 => c,
        _ => '?',
    }
}

#[derive(Clone, Copy)]
struct Style {
    bold: bool,
    w: u32,
    h: u32,
}

struct Renderer {
    canvas: Canvas,
    y: u32,
    align: Align,
    style: Style,
    line: Vec<(char, Style)>,
}

impl Renderer {
    fn line_width(&self) -> u32 {
        self.line.iter().map(|(_, s)| CELL_W * s.w).sum()
    }

    /// Prints the buffered line (as `LF` does) and advances the paper.
    fn print_line(&mut self) {
        let height = self
            .line
            .iter()
            .map(|(_, s)| s.h)
            .max()
            .unwrap_or(self.style.h);
        let line_h = LINE_H.max(CELL_H * height + 6);
        let width = self.line_width();
        let x0 = match self.align {
            Align::Left => 0,
            Align::Center => self.canvas.width.saturating_sub(width) / 2,
            Align::Right => self.canvas.width.saturating_sub(width),
        };
        let mut x = x0;
        let style_font = MonoTextStyle::new(&FONT_10X20, BinaryColor::On);
        let chars = std::mem::take(&mut self.line);
        for (ch, s) in chars {
            let glyph = drawable(ch);
            let mut buf = [0u8; 4];
            let text = glyph.encode_utf8(&mut buf);
            // Characters of a taller size share the baseline at the bottom of the line.
            let y = self.y + CELL_H * (height - s.h);
            for bold_dx in 0..if s.bold { 2 } else { 1 } {
                let mut cell = Cell {
                    canvas: &mut self.canvas,
                    x: x + bold_dx,
                    y,
                    sx: s.w,
                    sy: s.h,
                };
                let _ = Text::with_baseline(text, Point::new(1, 2), style_font, Baseline::Top)
                    .draw(&mut cell);
            }
            x += CELL_W * s.w;
        }
        self.y += line_h;
        self.canvas.ensure_height(self.y);
    }

    fn push_char(&mut self, ch: char) {
        // The printer wraps a line that would run past the paper edge.
        if self.line_width() + CELL_W * self.style.w > self.canvas.width {
            self.print_line();
        }
        self.line.push((ch, self.style));
    }

    fn qr(&mut self, data: &str, module: u8, ec: char) {
        if !self.line.is_empty() {
            self.print_line();
        }
        let level = match ec {
            'L' => EcLevel::L,
            'Q' => EcLevel::Q,
            'H' => EcLevel::H,
            _ => EcLevel::M,
        };
        let Ok(code) = QrCode::with_error_correction_level(data.as_bytes(), level) else {
            return;
        };
        let n = code.width() as u32;
        let m = u32::from(module.max(1));
        let size = n * m;
        if size > self.canvas.width {
            // A real printer silently prints nothing for a code wider than the paper.
            return;
        }
        let x0 = match self.align {
            Align::Left => 0,
            Align::Center => (self.canvas.width - size) / 2,
            Align::Right => self.canvas.width - size,
        };
        for qy in 0..n {
            for qx in 0..n {
                if code[(qx as usize, qy as usize)] == Color::Dark {
                    for dy in 0..m {
                        for dx in 0..m {
                            self.canvas.set(x0 + qx * m + dx, self.y + qy * m + dy);
                        }
                    }
                }
            }
        }
        self.y += size;
        self.canvas.ensure_height(self.y);
    }

    fn cut(&mut self) {
        if !self.line.is_empty() {
            self.print_line();
        }
        let y = self.y + 4;
        let mut x = 0;
        while x < self.canvas.width {
            for dx in 0..8 {
                self.canvas.set(x + dx, y);
            }
            x += 16;
        }
        self.y = y + 12;
        self.canvas.ensure_height(self.y);
    }
}

/// Why a PNG could not be produced.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the receipt image: {0}")]
pub struct RenderError(String);

/// Renders `bytes` to a 1-bit PNG as wide as the paper (`width.dots()` pixels).
pub fn render_png(bytes: &[u8], width: PaperWidth) -> Result<Vec<u8>, RenderError> {
    let rows = render_rows(bytes, width);
    let w = width.dots();
    let h = rows.len().max(1) as u32;
    let stride = w.div_ceil(8) as usize;
    let mut packed = vec![0u8; stride * h as usize];
    for (y, row) in rows.iter().enumerate() {
        for (x, black) in row.iter().enumerate() {
            // In a grayscale PNG, 1 is white: set the bit for paper, leave it clear for a dot.
            if !black {
                packed[y * stride + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    if rows.is_empty() {
        packed.iter_mut().for_each(|b| *b = 0xFF);
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder
            .write_header()
            .map_err(|e| RenderError(e.to_string()))?;
        writer
            .write_image_data(&packed)
            .map_err(|e| RenderError(e.to_string()))?;
    }
    Ok(out)
}

/// Renders `bytes` to rows of dots (`true` = black), each `width.dots()` long.
pub fn render_rows(bytes: &[u8], width: PaperWidth) -> Vec<Vec<bool>> {
    let mut r = Renderer {
        canvas: Canvas {
            width: width.dots(),
            rows: Vec::new(),
        },
        y: 8,
        align: Align::Left,
        style: Style {
            bold: false,
            w: 1,
            h: 1,
        },
        line: Vec::new(),
    };
    for op in parse(bytes) {
        match op {
            Op::Init => {
                r.align = Align::Left;
                r.style = Style {
                    bold: false,
                    w: 1,
                    h: 1,
                };
            }
            Op::Align(a) => r.align = a,
            Op::Bold(on) => r.style.bold = on,
            Op::Size { width, height } => {
                r.style.w = u32::from(width);
                r.style.h = u32::from(height);
            }
            Op::Text(s) => s.chars().for_each(|c| r.push_char(c)),
            Op::Newline => r.print_line(),
            Op::Feed(n) => (0..n).for_each(|_| r.print_line()),
            Op::Cut { .. } => r.cut(),
            Op::Qr { data, module, ec } => r.qr(&data, module, ec),
            _ => {}
        }
    }
    if !r.line.is_empty() {
        r.print_line();
    }
    r.canvas.ensure_height(r.y + 8);
    r.canvas.rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_styles_and_cut_become_tags() {
        let bytes = [
            &[0x1B, b'@', 0x1B, b't', 16, 0x1B, b'a', 1, 0x1B, b'E', 1][..],
            b"Jos\xE9 1001\x961005\n",
            &[0x1D, b'V', b'A', 0],
        ]
        .concat();
        let d = decode(&bytes);
        assert_eq!(
            d.transcript,
            "[INIT][CODEPAGE 16][ALIGN C][BOLD ON]José 1001\u{2013}1005\n[CUT]\n"
        );
        assert_eq!(d.lines, vec!["José 1001\u{2013}1005".to_string()]);
        assert_eq!(d.cuts, 1);
    }

    #[test]
    fn a_soft_hyphen_would_be_visible_in_the_transcript() {
        let d = decode(&[0x1B, b't', 16, b'a', 0xAD, b'b', b'\n']);
        assert_eq!(d.lines, vec!["a\u{AD}b".to_string()]);
    }

    #[test]
    fn unknown_commands_are_reported_not_dropped() {
        let d = decode(&[0x1B, b'Z', 1, b'x']);
        assert_eq!(d.unknown, vec!["1B 5A 01".to_string()]);
    }
}
