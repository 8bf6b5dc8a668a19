//! Charts drawn on the server as SVG: no script, no inline style (the CSP
//! forbids both), colours as presentation attributes, readable in print.

use std::fmt::Write as _;

const W: i64 = 640;
const H: i64 = 160;
const PAD: i64 = 30;

/// A line chart of scores (0-100) in order, labelled by `labels`, with a
/// text alternative for screen readers. Empty input: no chart.
pub fn score_line(title: &str, points: &[(String, i64)]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let n = i64::try_from(points.len()).unwrap_or(i64::MAX);
    let x = |i: i64| {
        PAD + if n > 1 {
            i * (W - 2 * PAD) / (n - 1)
        } else {
            (W - 2 * PAD) / 2
        }
    };
    let y = |score: i64| H - PAD - score.clamp(0, 100) * (H - 2 * PAD) / 100;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" \
         role=\"img\" aria-labelledby=\"chart-title\" class=\"chart\"><title id=\"chart-title\">{}</title>",
        escape(title)
    );
    for level in [0, 50, 100] {
        let _ = write!(
            svg,
            "<line x1=\"{PAD}\" x2=\"{}\" y1=\"{y0}\" y2=\"{y0}\" stroke=\"#ccc\" stroke-width=\"1\"/>\
             <text x=\"4\" y=\"{}\" font-size=\"10\" fill=\"#555\">{level}</text>",
            W - PAD,
            y(level) + 3,
            y0 = y(level)
        );
    }
    let path: Vec<String> = (0..n)
        .zip(points)
        .map(|(i, (_, score))| format!("{},{}", x(i), y(*score)))
        .collect();
    let _ = write!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\"/>",
        path.join(" ")
    );
    for (i, (label, score)) in (0..n).zip(points) {
        let _ = write!(
            svg,
            "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#1f5fa8\"><title>{}: {score}</title></circle>",
            x(i),
            y(*score),
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_one_point_per_score_and_escapes_labels() {
        let svg = score_line("a<b", &[("s1".into(), 10), ("<s2>".into(), 90)]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("&lt;s2&gt;: 90") && svg.contains("a&lt;b"));
        assert!(!svg.contains("style="), "the CSP forbids inline style");
        assert_eq!(score_line("t", &[]), "");
    }
}
