//! A line chart of several series over days, drawn on the server as SVG
//! (the senders page's volume, the TLS page's sessions). Readable printed
//! in black and white: every series has its own dash pattern and marker
//! shape besides its colour, a legend names each with the same pattern,
//! and the axes carry numbers and dates. No script, no inline style (the
//! CSP forbids both); a `<table>` next to it on the page holds the numbers.

use std::fmt::Write as _;

use crate::chart::escape;

/// One named series: a value per x label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

const W: i64 = 720;
const PLOT_H: i64 = 200;
const LEFT: i64 = 56;
const RIGHT: i64 = 16;
const TOP: i64 = 12;
/// Space under the plot for the x labels; the legend follows.
const AXIS: i64 = 28;
const LEGEND_ROW: i64 = 18;

/// (colour, dash pattern, marker) per series, in order; colours from a
/// palette that stays apart for colour-blind readers (Okabe-Ito).
const STYLES: [(&str, &str, Marker); 7] = [
    ("#0072b2", "", Marker::Circle),
    ("#d55e00", "8 4", Marker::Square),
    ("#009e73", "2 3", Marker::Triangle),
    ("#cc79a7", "10 3 2 3", Marker::Diamond),
    ("#e69f00", "4 4", Marker::Cross),
    ("#56b4e9", "1 2", Marker::Plus),
    ("#000000", "12 6", Marker::Circle),
];

#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Plus,
}

fn marker(m: Marker, x: i64, y: i64, colour: &str) -> String {
    match m {
        Marker::Circle => format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3.5\" fill=\"{colour}\"/>"),
        Marker::Square => format!(
            "<rect x=\"{}\" y=\"{}\" width=\"7\" height=\"7\" fill=\"{colour}\"/>",
            x - 3,
            y - 3
        ),
        Marker::Triangle => format!(
            "<polygon points=\"{x},{} {},{} {},{}\" fill=\"{colour}\"/>",
            y - 4,
            x - 4,
            y + 3,
            x + 4,
            y + 3
        ),
        Marker::Diamond => format!(
            "<polygon points=\"{x},{} {},{y} {x},{} {},{y}\" fill=\"{colour}\"/>",
            y - 4,
            x + 4,
            y + 4,
            x - 4
        ),
        Marker::Cross => format!(
            "<path d=\"M{} {}L{} {}M{} {}L{} {}\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            x - 3,
            y - 3,
            x + 3,
            y + 3,
            x - 3,
            y + 3,
            x + 3,
            y - 3
        ),
        Marker::Plus => format!(
            "<path d=\"M{} {y}L{} {y}M{x} {}L{x} {}\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            x - 4,
            x + 4,
            y - 4,
            y + 4
        ),
    }
}

/// A round number at or above `max` for the top of the y axis.
fn nice_top(max: u64) -> u64 {
    if max <= 4 {
        return 4;
    }
    let mut step = 1u64;
    while step.saturating_mul(10) < max {
        step = step.saturating_mul(10);
    }
    max.div_ceil(step).saturating_mul(step)
}

/// The chart, `id` naming its title for `aria-labelledby`. Markers are
/// drawn only while there are few points (at most 62), so a year of days
/// stays a line. Empty `labels` or `series`: no chart.
pub fn lines(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    if labels.is_empty() || series.is_empty() {
        return String::new();
    }
    let rows = i64::try_from(series.len()).unwrap_or(i64::MAX);
    let height = TOP + PLOT_H + AXIS + LEGEND_ROW * rows + 6;
    let n = i64::try_from(labels.len()).unwrap_or(i64::MAX);
    let top = nice_top(series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0));
    let plot_w = W - LEFT - RIGHT;
    let x = |i: i64| LEFT + if n > 1 { i * plot_w / (n - 1) } else { plot_w / 2 };
    let y = |v: u64| {
        let scaled = i64::try_from(v.saturating_mul(200) / top).unwrap_or(200) * PLOT_H / 200;
        TOP + PLOT_H - scaled
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" \
         role=\"img\" aria-labelledby=\"{id}-title\" class=\"chart\" id=\"{id}\"><title id=\"{id}-title\">{}</title>",
        escape(title)
    );
    for v in [0, top / 2, top] {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y0}\" y2=\"{y0}\" stroke=\"#bbb\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#222\">{v}</text>",
            W - RIGHT,
            LEFT - 6,
            y(v) + 4,
            y0 = y(v)
        );
    }
    let base = TOP + PLOT_H + 16;
    let mut ticks = vec![0, (n - 1) / 2, n - 1];
    ticks.dedup();
    for i in ticks {
        // One day: its label sits under the single point, in the middle.
        let anchor = match i {
            0 if n > 1 => "start",
            i if i == n - 1 && n > 1 => "end",
            _ => "middle",
        };
        let label = usize::try_from(i)
            .ok()
            .and_then(|i| labels.get(i))
            .map_or("", String::as_str);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{base}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#222\">{}</text>",
            x(i),
            escape(label)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let (colour, dash, shape) = STYLES[k % STYLES.len()];
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{dash}\"")
        };
        let points: Vec<String> = (0..n)
            .zip(&s.values)
            .map(|(i, v)| format!("{},{}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<g class=\"series\" data-series=\"{name}\"><title>{name}</title>\
             <polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>",
            points.join(" "),
            name = escape(&s.name)
        );
        if n <= 62 {
            for (i, v) in (0..n).zip(&s.values) {
                svg.push_str(&marker(shape, x(i), y(*v), colour));
            }
        }
        let ly = base + 12 + LEGEND_ROW * i64::try_from(k).unwrap_or(0);
        let total: u64 = s.values.iter().sum();
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>{}\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#222\">{} ({total})</text></g>",
            LEFT + 36,
            marker(shape, LEFT + 18, ly, colour),
            LEFT + 44,
            ly + 4,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("2026-11-{d:02}")).collect()
    }

    #[test]
    fn every_series_has_a_group_a_legend_entry_and_its_own_dash_pattern() {
        let series = vec![
            Series {
                name: "Google <Workspace>".into(),
                values: vec![1, 5, 3],
            },
            Series {
                name: "example.org".into(),
                values: vec![0, 2, 40],
            },
        ];
        let svg = lines("volume", "Messages per day", &days(3), &series);
        assert_eq!(svg.matches("<g class=\"series\"").count(), 2);
        assert!(svg.contains("data-series=\"Google &lt;Workspace&gt;\""), "{svg}");
        assert!(svg.contains("example.org (42)"), "legend with the total: {svg}");
        assert_eq!(
            svg.matches("stroke-dasharray=\"8 4\"").count(),
            2,
            "line and legend share the pattern"
        );
        assert!(
            svg.contains(">40</text>") && svg.contains(">20</text>"),
            "axis numbers: {svg}"
        );
        assert!(svg.contains("2026-11-01") && svg.contains("2026-11-03"));
        assert!(!svg.contains("style=") && !svg.contains("<script"));
    }

    #[test]
    fn long_series_drop_their_markers_and_empty_input_draws_nothing() {
        let series = vec![Series {
            name: "a".into(),
            values: vec![1; 90],
        }];
        let svg = lines("v", "t", &(0..90).map(|i| i.to_string()).collect::<Vec<_>>(), &series);
        assert_eq!(svg.matches("<circle").count(), 1, "the legend's marker only");
        assert_eq!(lines("v", "t", &[], &series), "");
        assert_eq!(lines("v", "t", &days(2), &[]), "");
        let one = lines(
            "v",
            "t",
            &days(1),
            &series[..1]
                .iter()
                .map(|s| Series {
                    name: s.name.clone(),
                    values: vec![1],
                })
                .collect::<Vec<_>>(),
        );
        assert!(one.contains("text-anchor=\"middle\" fill=\"#222\">2026-11-01"), "{one}");
    }

    #[test]
    fn the_top_of_the_axis_is_round() {
        assert_eq!(
            [0, 3, 7, 10, 11, 99, 101, 4_500].map(nice_top),
            [4, 4, 7, 10, 20, 100, 200, 5_000]
        );
    }
}
