//! The sales-per-minute chart, drawn on the server as SVG with `plotters`: one bar per minute
//! of the last [`WINDOW_MINUTES`] minutes that had sales (net tickets), labelled in UTC.

use chrono::{DateTime, Duration, Utc};
use plotters::prelude::*;

/// The chart covers at most this many minutes, ending at the last minute with sales.
pub const WINDOW_MINUTES: i64 = 180;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 320;

/// SVG of tickets sold per minute; `None` when nothing was sold yet. `points` are (minute,
/// tickets) ascending. The SVG carries `role="img"` and `label` as its accessible name.
pub fn sales_per_minute(points: &[(DateTime<Utc>, i64)], label: &str) -> Option<String> {
    let last = points.last()?.0;
    let first = points
        .iter()
        .find(|(m, _)| *m > last - Duration::minutes(WINDOW_MINUTES))
        .map(|p| p.0)
        .unwrap_or(last);
    let span = ((last - first).num_minutes() + 1).max(10);
    let start = last - Duration::minutes(span - 1);
    let bars: Vec<(i64, i64)> = points
        .iter()
        .filter(|(m, _)| *m >= start)
        .map(|(m, n)| ((*m - start).num_minutes(), (*n).max(0)))
        .collect();
    let top = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0i64..span, 0i64..(top + top / 10 + 1))
            .ok()?;
        let minute_label = |x: &i64| (start + Duration::minutes(*x)).format("%H:%M").to_string();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&minute_label)
            .x_desc("minute of sale (UTC)")
            .y_desc("tickets")
            .label_style(("sans-serif", 14).into_font().color(&BLACK))
            .axis_desc_style(("sans-serif", 14).into_font().color(&BLACK))
            .light_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()
            .ok()?;
        let bar = RGBColor(0x1f, 0x4e, 0x79).filled();
        chart
            .draw_series(
                bars.iter()
                    .map(|(x, n)| Rectangle::new([(*x, 0), (*x + 1, *n)], bar)),
            )
            .ok()?;
        root.present().ok()?;
    }
    let name = label.replace(['"', '<', '>', '&'], " ");
    Some(svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{name}\" "),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-28T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
            + Duration::minutes(min)
    }

    #[test]
    fn no_sales_no_chart() {
        assert!(sales_per_minute(&[], "x").is_none());
    }

    #[test]
    fn the_chart_is_an_accessible_svg_with_one_bar_per_minute_with_sales() {
        let svg = sales_per_minute(&[(at(0), 5), (at(1), 10), (at(3), 2)], "Tickets per minute")
            .expect("a chart");
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"Tickets per minute\""));
        assert!(svg.contains("12:00"), "minutes are labelled: {svg}");
        // Three bars plus the background and the plotting area.
        let filled = svg.matches("<rect").count();
        assert!(filled >= 3, "{filled} rects");
    }

    #[test]
    fn a_long_event_shows_only_the_last_window() {
        let pts: Vec<_> = (0..400).map(|m| (at(m), 1)).collect();
        let svg = sales_per_minute(&pts, "t").expect("a chart");
        assert!(!svg.contains(">12:00<"), "the first minutes are left out");
    }
}
