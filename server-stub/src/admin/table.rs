//! Plain-text tables for `admin list … --format table` and `admin show … --format table`: aligned
//! columns that fit a terminal of [`WIDTH`] columns. No crate: the tables are simple (one header
//! line, left- or right-aligned cells, one column that gives way when the line is too long) and a
//! few dozen lines do it. Ids are printed whole (hyphenated, as in JSON) so they can be copied.

use chrono::{DateTime, Utc};
use rsu_core::money::{Currency, Money};

/// The width the tables fit: readable in a 100-column terminal.
pub const WIDTH: usize = 100;

/// Space between two columns.
const GAP: &str = "  ";

/// A table being built: headers, rows, which columns are numbers (right-aligned) and which one
/// is shortened (with `…`) when a line would be wider than [`WIDTH`].
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    flexible: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// `columns`: header and whether it is right-aligned. `flexible`: the column (a name) that
    /// is shortened when a line would be wider than [`WIDTH`].
    pub fn new(columns: &[(&'static str, bool)], flexible: usize) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            flexible,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text: a header line, then one line per row; `(none)` when there are no rows.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP.len() * n.saturating_sub(1);
        // Only the flexible column gives way (down to 8 characters): ids and numbers are never
        // cut, since people copy them into the next command.
        let over = total(&widths).saturating_sub(WIDTH);
        if let Some(w) = widths.get_mut(self.flexible) {
            *w = w.saturating_sub(over).max((*w).min(8));
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for cells in std::iter::once(&headers).chain(self.rows.iter()) {
            let line: Vec<String> = (0..n)
                .map(|i| {
                    let c = fit(cells.get(i).map_or("", String::as_str), widths[i]);
                    let pad = widths[i].saturating_sub(c.chars().count());
                    if self.right[i] {
                        format!("{}{c}", " ".repeat(pad))
                    } else {
                        format!("{c}{}", " ".repeat(pad))
                    }
                })
                .collect();
            out.push_str(line.join(GAP).trim_end());
            out.push('\n');
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        out
    }
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// `field: value` lines with the labels aligned, for one record.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|p| p.0.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = w - k.chars().count();
        out.push_str(&format!("{k}:{} {v}\n", " ".repeat(pad)));
    }
    out
}

/// `$1,234.50` (the currency's symbol or code), or the bare minor units if the code is unknown.
pub fn money(minor: i64, currency: &str) -> String {
    match Currency::new(currency) {
        Ok(c) => group_thousands(&Money::new(minor, c).to_string()),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// `1234567.50` → `1,234,567.50` (the digits before the decimal point, whatever surrounds them).
fn group_thousands(s: &str) -> String {
    let start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let end = s[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(s.len(), |i| start + i);
    let digits = &s[start..end];
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}{grouped}{}", &s[..start], &s[end..])
}

/// `2026-06-28 09:00Z`, or `-`.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%MZ").to_string())
}

/// How long ago: `45s ago`, `12m ago`, `3h ago`, `2d ago`, or `never`.
pub fn ago(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else {
        return "never".into();
    };
    let s = (now - t).num_seconds().max(0);
    match s {
        0..=119 => format!("{s}s ago"),
        120..=7199 => format!("{}m ago", s / 60),
        7200..=172_799 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// The value or `-`.
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_and_numbers_right_aligned() {
        let mut t = Table::new(&[("NAME", false), ("SOLD", true)], 0);
        t.row(vec!["Main Gate".into(), "5".into()]);
        t.row(vec!["North".into(), "1250".into()]);
        assert_eq!(
            t.render(),
            "NAME       SOLD\nMain Gate     5\nNorth      1250\n"
        );
    }

    #[test]
    fn a_long_name_is_shortened_so_the_line_fits_100_columns() {
        let mut t = Table::new(&[("RSU ID", false), ("NAME", false), ("STATE", false)], 1);
        t.row(vec!["x".repeat(36), "n".repeat(200), "active".into()]);
        let text = t.render();
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?}");
        }
        assert!(text.contains('…'), "{text}");
        assert!(text.contains(&"x".repeat(36)), "ids are never cut: {text}");
    }

    #[test]
    fn money_has_thousands_separators_and_the_currency() {
        assert_eq!(money(123_456_750, "USD"), "$1,234,567.50");
        assert_eq!(money(-500, "USD"), "-$5.00");
        assert_eq!(money(2000, "CHF"), "20.00 CHF");
        assert_eq!(money(0, "USD"), "$0.00");
    }

    #[test]
    fn an_empty_table_says_none() {
        let t = Table::new(&[("A", false)], 0);
        assert_eq!(t.render(), "A\n(none)\n");
    }
}
