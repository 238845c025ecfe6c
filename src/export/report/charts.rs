//! The report's charts as inline SVG: a loss histogram with the cut, and metrics over rounds.
//! Every text that could come from a user's data goes through [`super::esc`].

use std::fmt::Write as _;

use super::esc;

/// Colours of the kept and trimmed bars, and of the metric lines.
pub const KEPT: &str = "#4c78a8";
pub const TRIMMED: &str = "#e45756";

/// A histogram of `scores` over `bins` bins from 0 (or the lowest score) to the highest finite
/// score, stacked kept / trimmed by `kept`, with the cut marked at `cut` (None: no line, e.g.
/// nothing kept). Returns the SVG and the count of scores that are not finite.
pub fn histogram(
    scores: &[f32],
    kept: &[bool],
    cut: Option<f32>,
    bins: usize,
    x_label: &str,
) -> (String, usize) {
    let (w, h) = (520.0_f64, 200.0_f64);
    let (left, right, top, bottom) = (46.0, 12.0, 10.0, 34.0);
    let finite: Vec<(f32, bool)> = scores
        .iter()
        .zip(kept)
        .filter(|(s, _)| s.is_finite())
        .map(|(&s, &k)| (s, k))
        .collect();
    let not_finite = scores.len() - finite.len();
    let lo = finite.iter().map(|p| p.0).fold(0.0_f32, f32::min) as f64;
    let mut hi = finite.iter().map(|p| p.0).fold(f32::MIN, f32::max) as f64;
    if hi.is_nan() || hi <= lo {
        hi = lo + 1.0;
    }
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![(0usize, 0usize); bins];
    for &(s, k) in &finite {
        let b = (((s as f64 - lo) / width) as usize).min(bins - 1);
        if k {
            counts[b].0 += 1;
        } else {
            counts[b].1 += 1;
        }
    }
    let max = counts.iter().map(|c| c.0 + c.1).max().unwrap_or(0).max(1) as f64;
    let (pw, ph) = (w - left - right, h - top - bottom);
    let x = |v: f64| left + (v - lo) / (hi - lo) * pw;
    let y = |c: f64| top + ph - c / max * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="hist" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">"#
    );
    let bw = pw / bins as f64;
    for (b, &(k, t)) in counts.iter().enumerate() {
        let x0 = left + b as f64 * bw;
        for (n, base, colour, what) in [(k, 0, KEPT, "kept"), (t, k, TRIMMED, "trimmed")] {
            if n == 0 {
                continue;
            }
            let (y0, y1) = (y((base + n) as f64), y(base as f64));
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{n} {what}, {:.3} to {:.3}</title></rect>"#,
                x0 + 0.5,
                (bw - 1.0).max(0.5),
                y1 - y0,
                lo + b as f64 * width,
                lo + (b + 1) as f64 * width,
            );
        }
    }
    // Axes, ticks.
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{0}" stroke="#333"/>"##,
        top + ph,
        left + pw
    );
    for i in 0..=4 {
        let v = lo + (hi - lo) * i as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            x(v),
            top + ph + 14.0,
            short(v)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        h - 4.0,
        esc(x_label)
    );
    let top_label = format!("{}", max as usize);
    for (c, anchor) in [(0.0, "0"), (max, top_label.as_str())] {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{anchor}</text>"#,
            left - 4.0,
            y(c) + 4.0
        );
    }
    if let Some(c) = cut.filter(|c| c.is_finite()) {
        let cx = x((c as f64).clamp(lo, hi));
        let _ = write!(
            s,
            r##"<line class="cut" x1="{cx:.1}" y1="{top}" x2="{cx:.1}" y2="{:.1}" stroke="#222" stroke-width="1.5" stroke-dasharray="5,3"/><text x="{:.1}" y="{:.1}" font-size="11">cut {}</text>"##,
            top + ph,
            (cx + 4.0).min(w - right - 60.0),
            top + 12.0,
            short(c as f64)
        );
    }
    s.push_str("</svg>");
    (s, not_finite)
}

/// One line of the metrics chart: a name, a colour and a value per round (None: not measured).
pub struct Series {
    pub name: &'static str,
    pub colour: &'static str,
    pub values: Vec<Option<f64>>,
    /// Drawn dashed, with smaller points: a line that may lie on another (recall on
    /// precision when they are equal) lets the one under it show through.
    pub dashed: bool,
}

/// Metrics in [0, 1] over `rounds` (the x axis), one polyline per series with points, and the
/// legend beside the plot (never over the last rounds).
pub fn metrics_chart(rounds: &[usize], series: &[Series]) -> String {
    let (w, h) = (720.0_f64, 260.0_f64);
    let (left, legend, top, bottom) = (44.0, 170.0, 12.0, 34.0);
    let (pw, ph) = (w - left - legend, h - top - bottom);
    let n = rounds.len().max(2) - 1;
    let x = |i: usize| {
        left + if n == 0 {
            0.0
        } else {
            i as f64 / n as f64 * pw
        }
    };
    let y = |v: f64| top + ph - v.clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="metrics" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">"#
    );
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2:.1}" y="{3:.1}" font-size="11" text-anchor="end">{v}</text>"##,
            y(v),
            left + pw,
            left - 4.0,
            y(v) + 4.0
        );
    }
    for (i, r) in rounds.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{r}</text>"#,
            x(i),
            top + ph + 14.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">round</text>"#,
        left + pw / 2.0,
        h - 4.0
    );
    let mut shown = 0;
    for se in series {
        if se.values.iter().all(|v| v.is_none()) {
            continue;
        }
        let pts: Vec<String> = se
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let dash = if se.dashed {
            r#" stroke-dasharray="7,5""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
            se.colour,
            pts.join(" ")
        );
        for (i, v) in se.values.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{}"><title>{} round {}: {v:.4}</title></circle>"#,
                    x(i),
                    y(*v),
                    if se.dashed { 2 } else { 3 },
                    se.colour,
                    se.name,
                    rounds[i]
                );
            }
        }
        let ly = top + 8.0 + shown as f64 * 18.0;
        let lx = left + pw + 16.0;
        let _ = write!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            lx + 18.0,
            se.colour,
            lx + 24.0,
            ly + 4.0,
            se.name
        );
        shown += 1;
    }
    s.push_str("</svg>");
    s
}

/// A number in a few characters: 3 significant digits.
pub fn short(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
