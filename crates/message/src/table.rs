//! The hop table: one row per hop, first hop first, as cells (for HTML)
//! or as aligned text. Every cell is made inert for a terminal
//! ([`mailwarden_records::visible::line`]): host names come from the
//! message, which anyone can write.

use mailwarden_records::visible::line;

use crate::hops::{Hop, Path};

/// The column headings.
pub const HEADINGS: [&str; 7] = ["#", "from", "by", "with", "TLS", "time (UTC)", "delay"];

/// The cells of each hop, in [`HEADINGS`] order, already inert.
pub fn rows(path: &Path) -> Vec<[String; 7]> {
    path.hops.iter().map(row).collect()
}

fn row(h: &Hop) -> [String; 7] {
    let from = match (&h.from, h.from_ip) {
        (Some(name), Some(ip)) if name.trim_matches(['[', ']']) != ip.to_string() => format!("{name} [{ip}]"),
        (_, Some(ip)) => ip.to_string(),
        (Some(name), None) => name.clone(),
        (None, None) => "(local)".into(),
    };
    let tls = match (&h.tls_version, &h.tls_cipher) {
        (Some(v), Some(c)) => format!("{v} {c}"),
        (Some(v), None) => v.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => h.transport.as_str().to_string(),
    };
    [
        h.number.to_string(),
        line(&from).into_owned(),
        line(h.by.as_deref().unwrap_or("?")).into_owned(),
        line(h.with.as_deref().unwrap_or("")).into_owned(),
        line(&tls).into_owned(),
        h.time
            .as_deref()
            .unwrap_or("(no date)")
            .replace('T', " ")
            .replace('Z', ""),
        h.delay_secs.map(delay).unwrap_or_default(),
    ]
}

/// `5 s`, `2 min 3 s`, `1 h 4 min`, `-30 s` (clocks disagree).
pub fn delay(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    match s {
        0..60 => format!("{sign}{s} s"),
        60..3600 => format!("{sign}{} min {} s", s / 60, s % 60),
        _ => format!("{sign}{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The keys of [`evidence`], in [`HEADINGS`] order.
const KEYS: [&str; 7] = ["hop", "from", "by", "with", "tls", "time_utc", "delay"];

/// The hop table as evidence: one object per hop with the cells of
/// [`rows`] under `KEYS`, for JSON reports.
pub fn evidence(path: &Path) -> Vec<serde_json::Map<String, serde_json::Value>> {
    rows(path)
        .into_iter()
        .map(|row| {
            KEYS.iter()
                .zip(row)
                .map(|(k, c)| (k.to_string(), serde_json::Value::String(c)))
                .collect()
        })
        .collect()
}

/// The table in Markdown: `cell` escapes each cell for a Markdown table
/// (the renderer's, so data cannot break the table or add markup).
pub fn markdown(path: &Path, cell: impl Fn(&str) -> String) -> String {
    let mut out = format!("| {} |\n", HEADINGS.join(" | "));
    out.push_str(&format!("|{}\n", " --- |".repeat(HEADINGS.len())));
    for row in rows(path) {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if path.dropped > 0 {
        out.push_str(&format!(
            "\n{} more Received fields below these were not read.\n",
            path.dropped
        ));
    }
    out
}

/// The table as aligned text, each line indented by `indent` spaces, with
/// cells cut to `max_cell` characters.
pub fn text(path: &Path, indent: usize, max_cell: usize) -> String {
    let rows = rows(path);
    let cut = |s: &str| -> String {
        if s.chars().count() <= max_cell {
            s.to_string()
        } else {
            let mut c: String = s.chars().take(max_cell.saturating_sub(1)).collect();
            c.push('…');
            c
        }
    };
    let all: Vec<Vec<String>> = std::iter::once(HEADINGS.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()))
        .collect();
    let widths: Vec<usize> = (0..HEADINGS.len())
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &all {
        out.push_str(&" ".repeat(indent));
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if path.dropped > 0 {
        out.push_str(&format!(
            "{}({} more Received fields below these were not read)\n",
            " ".repeat(indent),
            path.dropped
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{header, hops};

    #[test]
    fn the_table_lists_hops_with_tls_and_delay() {
        let raw = b"Received: from b (b [192.0.2.2]) by c with ESMTPS (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256); Mon, 1 Jan 2024 10:02:00 +0000\n\
Received: from a\x1b[31m (a [192.0.2.1]) by b with ESMTP; Mon, 1 Jan 2024 10:00:30 +0000\n\n";
        let t = text(&hops::path(&header::parse(raw)), 2, 40);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("  #  from"), "{t}");
        assert!(lines[2].contains("TLSv1.3 TLS_AES_128_GCM_SHA256"), "{t}");
        assert!(lines[2].contains("1 min 30 s"), "{t}");
        assert!(lines[1].contains("plain"), "{t}");
        assert!(!t.contains('\x1b'), "escape sequences are made inert: {t:?}");
    }

    #[test]
    fn the_markdown_table_has_a_row_per_hop_and_escapes_through_the_given_cell() {
        let raw = b"Received: from b (b [192.0.2.2]) by c|d with ESMTPS; Mon, 1 Jan 2024 10:02:00 +0000\n\
Received: from a (a [192.0.2.1]) by b with ESMTP; Mon, 1 Jan 2024 10:00:30 +0000\n\n";
        let path = hops::path(&header::parse(raw));
        let md = markdown(&path, |c| c.replace('|', "\\|"));
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| # | from | by | with | TLS | time (UTC) | delay |");
        assert_eq!(lines[1], "| --- | --- | --- | --- | --- | --- | --- |");
        assert_eq!(lines.len(), 4, "{md}");
        assert!(lines[3].contains("c\\|d"), "{md}");
        let ev = evidence(&path);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1]["hop"], "2");
        assert_eq!(ev[1]["delay"], "1 min 30 s");
    }

    #[test]
    fn delays_read_naturally() {
        assert_eq!(delay(5), "5 s");
        assert_eq!(delay(125), "2 min 5 s");
        assert_eq!(delay(3720), "1 h 2 min");
        assert_eq!(delay(-30), "-30 s");
    }
}
