//! How the dashboard writes amounts, ages and times for people.

use chrono::{DateTime, Utc};
use rsu_core::money::{Currency, Money};

/// `$1,234.50`-style text of minor units in `currency` (the currency code when it has no
/// symbol or is not valid).
pub fn money_text(minor: i64, currency: &str) -> String {
    match Currency::new(currency.trim()) {
        Ok(c) => group_thousands(&Money::new(minor, c).to_string()),
        Err(_) => format!("{minor} (minor units of {currency})"),
    }
}

/// Puts a comma between thousands of the first run of digits (`$1234567.50` → `$1,234,567.50`).
fn group_thousands(text: &str) -> String {
    let start = text
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(text.len());
    let end = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(text.len(), |i| start + i);
    let digits = &text[start..end];
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}{}", &text[..start], &text[end..])
}

/// A duration in seconds as people read it: `42 s`, `7 min`, `2 h 05 min`, `3 d 4 h`.
pub fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86_400 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// Seconds from `t` to now (0 for a time in the future).
pub fn secs_since(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - t).num_seconds().max(0)
}

/// A time as `2026-06-28 14:03:07 UTC`.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A long hex value shortened to its first and last 8 digits.
pub fn short_hex(h: &str) -> String {
    if h.len() > 20 {
        format!("{}…{}", &h[..8], &h[h.len() - 8..])
    } else {
        h.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_sensible_unit() {
        assert_eq!(age_text(-3), "0 s");
        assert_eq!(age_text(42), "42 s");
        assert_eq!(age_text(7 * 60 + 59), "7 min");
        assert_eq!(age_text(2 * 3600 + 5 * 60), "2 h 05 min");
        assert_eq!(age_text(3 * 86_400 + 4 * 3600), "3 d 4 h");
    }

    #[test]
    fn money_is_written_with_the_currency_and_never_as_a_float() {
        assert_eq!(money_text(123_450, "USD"), "$1,234.50");
        assert_eq!(money_text(-123_456_789, "USD"), "-$1,234,567.89");
        assert_eq!(money_text(99, "EUR"), "€0.99");
        assert!(money_text(5, "??").contains("minor units"));
    }

    #[test]
    fn long_hashes_are_shortened_short_ones_kept() {
        assert_eq!(short_hex(&"ab".repeat(32)), "abababab…abababab");
        assert_eq!(short_hex("test"), "test");
    }
}
