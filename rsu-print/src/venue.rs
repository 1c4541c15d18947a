//! Venue-local times for receipts (DESIGN §5: draw date and time, date and time of issue).
//!
//! An event's `timezone` is an IANA name (`America/Toronto`), a fixed offset (`-05:00`,
//! `UTC+05:30`) or `UTC`. Named zones are resolved with `jiff` against the system's time zone
//! database (`/usr/share/zoneinfo`, kept current by OS updates), falling back to the copy of the
//! IANA database built into the binary on a device image without one; so a receipt shows the
//! offset and abbreviation in force at that instant (`EST` in winter, `EDT` in summer).

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

/// `t` as the venue's clock shows it, and the label printed after it: `UTC`, `UTC-05:00` for a
/// fixed offset, or the abbreviation and offset in force, e.g. `EDT (UTC-04:00)`, for a named
/// zone. A name no time zone database knows prints in UTC, labelled `UTC`, so a receipt never
/// shows a local time with the wrong label.
pub fn venue_time(t: DateTime<Utc>, tz: &str) -> (NaiveDateTime, String) {
    let trimmed = tz.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("utc") {
        return (t.naive_utc(), "UTC".into());
    }
    let offset_text = trimmed
        .strip_prefix("UTC")
        .or_else(|| trimmed.strip_prefix("GMT"))
        .unwrap_or(trimmed);
    if let Some(off) = parse_offset(offset_text) {
        return (t.with_timezone(&off).naive_local(), format!("UTC{off}"));
    }
    match named_offset(t, trimmed) {
        Some((off, abbreviation)) => {
            let label = if off.local_minus_utc() == 0 && abbreviation == "UTC" {
                "UTC".to_string()
            } else if abbreviation.starts_with(['+', '-']) || abbreviation.is_empty() {
                // Zones without a letter abbreviation (e.g. `America/Sao_Paulo` has `-03`).
                format!("UTC{off}")
            } else {
                format!("{abbreviation} (UTC{off})")
            };
            (t.with_timezone(&off).naive_local(), label)
        }
        None => {
            tracing::warn!(
                timezone = trimmed,
                "unknown time zone: receipt times are printed in UTC"
            );
            (t.naive_utc(), "UTC".into())
        }
    }
}

/// The offset and abbreviation of the IANA zone `name` at the instant `t`.
fn named_offset(t: DateTime<Utc>, name: &str) -> Option<(FixedOffset, String)> {
    let zone = jiff::tz::TimeZone::get(name).ok()?;
    let instant = jiff::Timestamp::from_second(t.timestamp()).ok()?;
    let info = zone.to_offset_info(instant);
    let off = FixedOffset::east_opt(info.offset().seconds())?;
    Some((off, info.abbreviation().to_string()))
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None => (rest.parse::<i32>().ok()?, 0),
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn show(t: DateTime<Utc>, tz: &str) -> (String, String) {
        let (local, label) = venue_time(t, tz);
        (local.format("%Y-%m-%d %H:%M").to_string(), label)
    }

    #[test]
    fn a_named_zone_prints_standard_time_in_winter_and_daylight_time_in_summer() {
        let winter = show(at(2026, 1, 15, 17, 30), "America/Toronto");
        assert_eq!(
            winter,
            ("2026-01-15 12:30".into(), "EST (UTC-05:00)".into())
        );
        let summer = show(at(2026, 7, 15, 17, 30), "America/Toronto");
        assert_eq!(
            summer,
            ("2026-07-15 13:30".into(), "EDT (UTC-04:00)".into())
        );
        // Across the change itself (2026-03-08 02:00 EST becomes 03:00 EDT).
        assert_eq!(
            show(at(2026, 3, 8, 6, 59), "America/Toronto").0,
            "2026-03-08 01:59"
        );
        assert_eq!(
            show(at(2026, 3, 8, 7, 0), "America/Toronto").0,
            "2026-03-08 03:00"
        );
        // The local date differs from the UTC date late in the evening.
        assert_eq!(
            show(at(2027, 1, 1, 3, 0), "America/Los_Angeles"),
            ("2026-12-31 19:00".into(), "PST (UTC-08:00)".into())
        );
        // Southern hemisphere: daylight time in January.
        assert_eq!(
            show(at(2026, 1, 15, 0, 0), "Australia/Sydney"),
            ("2026-01-15 11:00".into(), "AEDT (UTC+11:00)".into())
        );
        // A zone without a letter abbreviation is labelled by its offset.
        assert_eq!(
            show(at(2026, 7, 15, 12, 0), "America/Sao_Paulo"),
            ("2026-07-15 09:00".into(), "UTC-03:00".into())
        );
    }

    #[test]
    fn utc_and_fixed_offsets_keep_working_and_an_unknown_name_prints_utc() {
        let t = at(2026, 7, 1, 12, 0);
        assert_eq!(show(t, "UTC"), ("2026-07-01 12:00".into(), "UTC".into()));
        assert_eq!(
            show(t, "Etc/UTC"),
            ("2026-07-01 12:00".into(), "UTC".into())
        );
        assert_eq!(
            show(t, "-04:00"),
            ("2026-07-01 08:00".into(), "UTC-04:00".into())
        );
        assert_eq!(
            show(t, "UTC+05:30"),
            ("2026-07-01 17:30".into(), "UTC+05:30".into())
        );
        assert_eq!(
            show(t, "GMT+1"),
            ("2026-07-01 13:00".into(), "UTC+01:00".into())
        );
        assert_eq!(
            show(t, "Mars/Olympus_Mons"),
            ("2026-07-01 12:00".into(), "UTC".into())
        );
    }
}
