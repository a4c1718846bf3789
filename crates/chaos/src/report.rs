//! The three reports of a suite run: a text summary, the `--json` document and a
//! self-contained `--html` page (per test a timeline of every node's tip height with the
//! fault windows, as inline SVG, and the table).

use crate::runner::{TestReport, TestResult};
use serde::Serialize;
use std::fmt::Write as _;

/// The `--json` document: `{"tests": [...]}`.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// One object per selected test.
    pub tests: Vec<&'a TestReport>,
}

/// The `--json` text.
pub fn json(results: &[TestResult]) -> String {
    let doc = JsonReport {
        tests: results.iter().map(|r| &r.report).collect(),
    };
    serde_json::to_string_pretty(&doc).expect("the report serialises")
}

fn join_counts<V: std::fmt::Display>(m: impl IntoIterator<Item = (String, V)>) -> String {
    let parts: Vec<String> = m.into_iter().map(|(k, v)| format!("{k} {v}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The text summary.
pub fn text(results: &[TestResult], nodes: usize) -> String {
    let mut s = String::new();
    let built = results
        .iter()
        .filter(|r| r.report.status != "not built")
        .count();
    let _ = writeln!(
        s,
        "Chaos suite: {} tests selected ({built} built), {nodes} simulated nodes each",
        results.len()
    );
    let _ = writeln!(
        s,
        "{:<24} {:<12} {:<10} {:>6} {:>8} {:>8} {:>10} {:>9}",
        "TEST", "CATEGORY", "STATUS", "SEEDS", "FAULTS", "CHECKS", "SIM s", "WALL s"
    );
    for r in results {
        let t = &r.report;
        let faults: u64 = t.faults.values().sum();
        let _ = writeln!(
            s,
            "{:<24} {:<12} {:<10} {:>6} {:>8} {:>8} {:>10.1} {:>9.1}",
            t.name, t.category, t.status, t.seeds, faults, r.checks, t.sim_seconds, t.wall_seconds
        );
    }
    for r in results.iter().filter(|r| r.report.seeds > 0) {
        let t = &r.report;
        let _ = writeln!(s, "\n{} ({}):", t.name, t.status);
        if let Some((a, b)) = r.seed_range {
            let _ = writeln!(s, "  seeds: {a}..={b}");
        }
        let _ = writeln!(
            s,
            "  faults injected: {}",
            join_counts(t.faults.iter().map(|(k, v)| (k.clone(), *v)))
        );
        let _ = writeln!(
            s,
            "  workload: {}",
            join_counts(r.workload.iter().map(|(k, v)| (k.clone(), *v)))
        );
        if !r.figures.is_empty() {
            let _ = writeln!(
                s,
                "  largest figures: {}",
                join_counts(
                    r.figures
                        .iter()
                        .map(|(k, v)| (k.clone(), format!("{v:.3}")))
                )
            );
        }
        let _ = writeln!(
            s,
            "  invariants checked ({} checks): {}",
            r.checks,
            t.invariants.join("; ")
        );
        if let Some(h) = &t.trace_hash {
            let _ = writeln!(s, "  trace hash of the first seed: {h}");
        }
        for f in &t.failures {
            let _ = writeln!(
                s,
                "  FAILED seed {}: {}\n    replay: {}",
                f.seed, f.error, f.replay
            );
        }
    }
    let count = |st: &str| results.iter().filter(|r| r.report.status == st).count();
    let _ = writeln!(
        s,
        "\n{} passed, {} failed, {} not built, {} skipped",
        count("passed"),
        count("failed"),
        count("not built"),
        count("skipped")
    );
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939",
];

/// The timeline of one run: a step line of each node's tip height over simulated time, the
/// fault windows as shaded bands (hover for the fault).
fn timeline_svg(rec: &crate::record::Recorder) -> String {
    let (w, h, left, bottom) = (900.0, 260.0, 50.0, 30.0);
    let end = rec.sim_seconds.max(1.0);
    let heights: Vec<u32> = rec.timeline.iter().map(|p| p.height).collect();
    let lo = heights.iter().min().copied().unwrap_or(0).saturating_sub(1);
    let hi = heights.iter().max().copied().unwrap_or(1).max(lo + 1);
    let x = |t: f64| left + (t / end) * (w - left - 10.0);
    let y = |v: u32| 10.0 + (1.0 - f64::from(v - lo) / f64::from(hi - lo)) * (h - bottom - 10.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" style=\"background:#fff;border:1px solid #ccc\">"
    );
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = rec.windows.iter().map(|w| w.kind.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    for win in &rec.windows {
        let lane = kinds.iter().position(|k| *k == win.kind).unwrap_or(0) as f64;
        let x0 = x(win.start);
        let x1 = x(win.end.unwrap_or(end)).max(x0 + 1.0);
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#d62728\" fill-opacity=\"0.12\"><title>{} {} ({:.1}s to {:.1}s)</title></rect>",
            10.0 + lane * 4.0,
            x1 - x0,
            h - bottom - 10.0 - lane * 4.0,
            esc(&win.kind),
            esc(&win.detail),
            win.start,
            win.end.unwrap_or(end)
        );
    }
    for node in 0..rec.nodes {
        let mut pts = Vec::new();
        let mut last: Option<u32> = None;
        for p in rec.timeline.iter().filter(|p| p.node == node) {
            if let Some(l) = last {
                pts.push(format!("{:.1},{:.1}", x(p.at), y(l)));
            }
            pts.push(format!("{:.1},{:.1}", x(p.at), y(p.height)));
            last = Some(p.height);
        }
        if let Some(l) = last {
            pts.push(format!("{:.1},{:.1}", x(end), y(l)));
        }
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"><title>node{node}</title></polyline>",
            COLOURS[node % COLOURS.len()],
            pts.join(" ")
        );
    }
    let _ = write!(
        s,
        "<text x=\"4\" y=\"14\" font-size=\"11\">{hi}</text><text x=\"4\" y=\"{:.0}\" font-size=\"11\">{lo}</text><text x=\"{left}\" y=\"{:.0}\" font-size=\"11\">0 s</text><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{end:.0} s simulated</text>",
        h - bottom,
        h - 10.0,
        w - 10.0,
        h - 10.0
    );
    s.push_str("</svg>");
    s
}

/// The `--html` page.
pub fn html(results: &[TestResult], nodes: usize) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>parthenon chaos</title><style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.passed{color:#2ca02c;font-weight:bold}.failed{color:#d62728;font-weight:bold}.notbuilt{color:#888}.legend span{margin-right:1em}code{background:#f4f4f4;padding:1px 4px}</style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>parthenon chaos</h1><p>{} tests selected, {nodes} simulated nodes per run.</p><table><tr><th>test</th><th>category</th><th>status</th><th>seeds</th><th>faults injected</th><th>invariants checked</th><th>sim s</th><th>wall s</th></tr>",
        results.len()
    );
    for r in results {
        let t = &r.report;
        let class = t.status.replace(' ', "");
        let faults = join_counts(t.faults.iter().map(|(k, v)| (k.clone(), *v)));
        let _ = write!(
            s,
            "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1}</td><td class=\"{class}\">{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6:.1}</td><td>{7:.1}</td></tr>",
            esc(&t.name),
            esc(&t.category),
            esc(&t.status),
            t.seeds,
            esc(&faults),
            r.checks,
            t.sim_seconds,
            t.wall_seconds
        );
    }
    s.push_str("</table>");
    for r in results.iter().filter(|r| r.first.is_some()) {
        let t = &r.report;
        let rec = r.first.as_ref().expect("filtered");
        let _ = write!(
            s,
            "<h2 id=\"{0}\">{0} <span class=\"{1}\">{2}</span></h2>",
            esc(&t.name),
            t.status.replace(' ', ""),
            esc(&t.status)
        );
        let seed = r.seed_range.map(|(a, _)| a).unwrap_or_default();
        let _ = write!(
            s,
            "<p>Tip height of each node over simulated time in seed {seed} (shaded: fault windows; hover for details). Trace hash <code>{}</code>.</p><div class=\"legend\">",
            esc(t.trace_hash.as_deref().unwrap_or(""))
        );
        for node in 0..rec.nodes {
            let _ = write!(
                s,
                "<span style=\"color:{}\">&#9644; node{node}</span>",
                COLOURS[node % COLOURS.len()]
            );
        }
        s.push_str("</div>");
        s.push_str(&timeline_svg(rec));
        let _ = write!(s, "<p>Invariants: {}</p>", esc(&t.invariants.join("; ")));
        if !t.failures.is_empty() {
            s.push_str("<ul>");
            for f in &t.failures {
                let _ = write!(
                    s,
                    "<li>seed {}: {} &mdash; <code>{}</code></li>",
                    f.seed,
                    esc(&f.error),
                    esc(&f.replay)
                );
            }
            s.push_str("</ul>");
        }
    }
    s.push_str("</body></html>\n");
    s
}
