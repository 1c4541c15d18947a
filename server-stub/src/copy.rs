//! Rows in PostgreSQL's COPY text format (tab-separated, `\N` for NULL, backslash escapes).

use chrono::{DateTime, Utc};
use std::io::Write;
use uuid::Uuid;

#[derive(Default)]
pub struct CopyBuf {
    pub bytes: Vec<u8>,
    first: bool,
    pub rows: usize,
}

impl CopyBuf {
    pub fn new() -> Self {
        CopyBuf {
            bytes: Vec::with_capacity(64 * 1024),
            first: true,
            rows: 0,
        }
    }

    fn sep(&mut self) {
        if !self.first {
            self.bytes.push(b'\t');
        }
        self.first = false;
    }

    pub fn end_row(&mut self) {
        self.bytes.push(b'\n');
        self.first = true;
        self.rows += 1;
    }

    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.bytes.extend_from_slice(b"\\N");
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.bytes.extend_from_slice(b"\\\\"),
                b'\n' => self.bytes.extend_from_slice(b"\\n"),
                b'\r' => self.bytes.extend_from_slice(b"\\r"),
                b'\t' => self.bytes.extend_from_slice(b"\\t"),
                // PostgreSQL text cannot hold NUL: store U+FFFD instead.
                0 => self.bytes.extend_from_slice("\u{FFFD}".as_bytes()),
                _ => self.bytes.push(b),
            }
        }
        self
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub fn uuid(&mut self, u: Uuid) -> &mut Self {
        self.sep();
        let mut buf = Uuid::encode_buffer();
        self.bytes
            .extend_from_slice(u.hyphenated().encode_lower(&mut buf).as_bytes());
        self
    }

    pub fn opt_uuid(&mut self, u: Option<Uuid>) -> &mut Self {
        match u {
            Some(u) => self.uuid(u),
            None => self.null(),
        }
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.bytes, "{i}");
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.sep();
        self.bytes.push(if b { b't' } else { b'f' });
        self
    }

    pub fn ts(&mut self, t: &DateTime<Utc>) -> &mut Self {
        self.sep();
        let _ = write!(self.bytes, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        self
    }

    pub fn bytea(&mut self, b: &[u8]) -> &mut Self {
        self.sep();
        self.bytes.extend_from_slice(b"\\\\x");
        self.bytes.extend_from_slice(hex::encode(b).as_bytes());
        self
    }

    pub fn json(&mut self, v: &serde_json::Value) -> &mut Self {
        let s = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
        self.text(&s)
    }

    /// A text[] of simple words (no quoting needed: our flags are snake_case).
    pub fn words(&mut self, w: &[String]) -> &mut Self {
        self.sep();
        self.bytes.push(b'{');
        for (i, s) in w.iter().enumerate() {
            if i > 0 {
                self.bytes.push(b',');
            }
            self.bytes.extend_from_slice(s.as_bytes());
        }
        self.bytes.push(b'}');
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_escaped_and_null_is_backslash_n() {
        let mut b = CopyBuf::new();
        b.text("a\tb\\c\nd").null().int(-5).bool(true);
        b.end_row();
        assert_eq!(b.bytes, b"a\\tb\\\\c\\nd\t\\N\t-5\tt\n");
    }
}
