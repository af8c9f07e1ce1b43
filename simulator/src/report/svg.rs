//! Hand-written SVG charts: bar charts (plain and stacked) and a timeline. No chart library:
//! the charts are simple, and a dependency for them would weigh more than this file.
//!
//! Every chart is a standalone SVG document with a white background, a title, labelled axes and
//! readable text at its natural size; all text is XML-escaped.

use std::fmt::Write as _;

/// Colours that stay distinguishable for the common forms of colour blindness (Okabe–Ito).
pub(crate) const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];
/// A passing bar.
pub(crate) const PASS: &str = "#009E73";
/// A failing bar.
pub(crate) const FAIL: &str = "#D55E00";
/// A neutral bar.
pub(crate) const NEUTRAL: &str = "#0072B2";

const FONT: &str = "font-family=\"Helvetica, Arial, sans-serif\"";

/// Escapes text for XML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document being drawn.
pub(crate) struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    pub(crate) fn new(width: f64, height: f64) -> Svg {
        let mut svg = Svg {
            width,
            height,
            body: String::new(),
        };
        svg.rect(0.0, 0.0, width, height, "#ffffff", None);
        svg
    }

    pub(crate) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, title: Option<&str>) {
        let _ = write!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"",
            w.max(0.0),
            h.max(0.0)
        );
        match title {
            // A <title> child shows as a tooltip in browsers.
            Some(t) => {
                let _ = write!(self.body, "><title>{}</title></rect>", escape(t));
            }
            None => self.body.push_str("/>"),
        }
        self.body.push('\n');
    }

    pub(crate) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, dashed: bool) {
        let _ = writeln!(
            self.body,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\" stroke-width=\"1\"{}/>",
            if dashed {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            }
        );
    }

    /// Text at (x, y); `anchor` is `start`, `middle` or `end`; `rotate` in degrees about (x, y).
    pub(crate) fn text(
        &mut self,
        x: f64,
        y: f64,
        size: f64,
        anchor: &str,
        rotate: f64,
        text: &str,
    ) {
        let transform = if rotate == 0.0 {
            String::new()
        } else {
            format!(" transform=\"rotate({rotate:.0} {x:.1} {y:.1})\"")
        };
        let _ = writeln!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size:.0}\" {FONT} text-anchor=\"{anchor}\" fill=\"#222222\"{transform}>{}</text>",
            escape(text)
        );
    }

    pub(crate) fn diamond(&mut self, x: f64, y: f64, r: f64, fill: &str, title: &str) {
        let _ = writeln!(
            self.body,
            "<polygon points=\"{:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1}\" fill=\"{fill}\" stroke=\"#222222\" stroke-width=\"0.8\"><title>{}</title></polygon>",
            x - r,
            y - r,
            x + r,
            y + r,
            escape(title)
        );
    }

    pub(crate) fn finish(self, title: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\">\n<title>{}</title>\n{}</svg>\n",
            escape(title),
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

/// A "nice" axis: a step of 1, 2 or 5 × 10^k giving about `ticks` ticks up to at least `max`.
pub(crate) fn nice_axis(max: f64, ticks: usize) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / ticks.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step).ceil() * step;
    (step, top)
}

/// How a value is written on an axis or a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Seconds, from milliseconds.
    Seconds,
    /// Bytes, shown in B / KiB / MiB / GiB.
    Bytes,
    /// A plain count.
    Count,
}

pub(crate) fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => {
            let s = v / 1000.0;
            if s >= 100.0 {
                format!("{s:.0} s")
            } else if s >= 10.0 {
                format!("{s:.1} s")
            } else {
                format!("{s:.2} s")
            }
        }
        Unit::Bytes => {
            let units = ["B", "KiB", "MiB", "GiB", "TiB"];
            let mut x = v;
            let mut i = 0;
            while x >= 1024.0 && i + 1 < units.len() {
                x /= 1024.0;
                i += 1;
            }
            if i == 0 {
                format!("{x:.0} B")
            } else {
                format!("{x:.1} {}", units[i])
            }
        }
        Unit::Count => {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        }
    }
}

/// An axis tick: like [`format_value`], with no more decimals than the step needs.
pub(crate) fn format_tick(v: f64, step: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => {
            let decimals = if step >= 1000.0 {
                0
            } else if step >= 100.0 {
                1
            } else {
                2
            };
            format!("{:.*} s", decimals, v / 1000.0)
        }
        Unit::Bytes => {
            let (divisor, name) = byte_unit(step.max(v));
            let x = v / divisor;
            if x.fract() == 0.0 || divisor == 1.0 {
                format!("{x:.0} {name}")
            } else {
                format!("{x:.1} {name}")
            }
        }
        Unit::Count => format_value(v, unit),
    }
}

/// The binary unit that writes `v` with at most three digits before the point.
fn byte_unit(v: f64) -> (f64, &'static str) {
    let mut divisor = 1.0;
    for name in ["B", "KiB", "MiB", "GiB"] {
        if v < divisor * 1024.0 {
            return (divisor, name);
        }
        divisor *= 1024.0;
    }
    (divisor, "TiB")
}

/// A nice axis for `max` in `unit`: for bytes, nice numbers of KiB, MiB, ... rather than of
/// bytes.
fn nice_axis_in(max: f64, ticks: usize, unit: Unit) -> (f64, f64) {
    match unit {
        Unit::Bytes => {
            let (divisor, _) = byte_unit(max);
            let (step, top) = nice_axis(max / divisor, ticks);
            (step * divisor, top * divisor)
        }
        _ => nice_axis(max, ticks),
    }
}

/// One bar: its label and its stacked segments `(value, colour, tooltip)`.
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) segments: Vec<(f64, String, String)>,
    /// Shown instead of the value above the bar (e.g. "refused").
    pub(crate) note: Option<String>,
}

/// A vertical bar chart, stacked when bars have several segments. `legend` names the segment
/// colours.
pub(crate) fn bar_chart(
    title: &str,
    y_label: &str,
    unit: Unit,
    bars: &[Bar],
    legend: &[(String, String)],
) -> String {
    let left = 80.0;
    let right = 20.0;
    let top = 50.0;
    let slot = 64.0f64;
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0) as f64;
    // Long labels are written at 35°: leave room for them below the axis.
    let rotate = longest * 7.0 > slot - 6.0;
    let bottom = if rotate {
        30.0 + (longest * 6.2 * 0.6).min(200.0)
    } else {
        50.0
    };
    let legend_width = if legend.is_empty() {
        0.0
    } else {
        20.0 + 8.0
            * legend
                .iter()
                .map(|(l, _)| l.chars().count())
                .max()
                .unwrap_or(0) as f64
            + 24.0
    };
    let plot_w = (slot * bars.len().max(1) as f64).max(240.0);
    let plot_h = 260.0;
    let width = left + plot_w + right + legend_width;
    let height = top + plot_h + bottom;
    let mut svg = Svg::new(width, height);
    svg.text(left + plot_w / 2.0, 28.0, 17.0, "middle", 0.0, title);
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.0.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max);
    let (step, axis_top) = nice_axis_in(max, 5, unit);
    let y_of = |v: f64| top + plot_h - v / axis_top * plot_h;
    // Grid and y axis.
    let mut v = 0.0;
    while v <= axis_top + step / 2.0 {
        let y = y_of(v);
        svg.line(left, y, left + plot_w, y, "#e0e0e0", false);
        svg.text(
            left - 6.0,
            y + 4.0,
            11.0,
            "end",
            0.0,
            &format_tick(v, step, unit),
        );
        v += step;
    }
    svg.line(left, top, left, top + plot_h, "#444444", false);
    svg.line(
        left,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        "#444444",
        false,
    );
    svg.text(18.0, top + plot_h / 2.0, 12.0, "middle", -90.0, y_label);
    let slot = plot_w / bars.len().max(1) as f64;
    let bar_w = (slot * 0.6).min(48.0);
    for (i, bar) in bars.iter().enumerate() {
        let cx = left + slot * (i as f64 + 0.5);
        let mut base = 0.0;
        for (value, colour, tooltip) in &bar.segments {
            let value = value.max(0.0);
            let (y0, y1) = (y_of(base), y_of(base + value));
            svg.rect(cx - bar_w / 2.0, y1, bar_w, y0 - y1, colour, Some(tooltip));
            base += value;
        }
        let above = bar.note.clone().unwrap_or_else(|| format_value(base, unit));
        svg.text(cx, y_of(base) - 5.0, 11.0, "middle", 0.0, &above);
        if rotate {
            svg.text(
                cx + 4.0,
                top + plot_h + 14.0,
                11.0,
                "end",
                -35.0,
                &bar.label,
            );
        } else {
            svg.text(cx, top + plot_h + 18.0, 11.0, "middle", 0.0, &bar.label);
        }
    }
    let lx = left + plot_w + right + 10.0;
    for (i, (label, colour)) in legend.iter().enumerate() {
        let y = top + 10.0 + 20.0 * i as f64;
        svg.rect(lx, y - 10.0, 12.0, 12.0, colour, None);
        svg.text(lx + 18.0, y, 11.0, "start", 0.0, label);
    }
    svg.finish(title)
}

/// One interval of a timeline lane.
pub(crate) struct Span {
    pub(crate) start_ms: f64,
    pub(crate) end_ms: f64,
    pub(crate) colour: String,
    pub(crate) label: String,
}

/// One lane of a timeline: intervals and instant marks `(at_ms, colour, tooltip)`.
pub(crate) struct Lane {
    pub(crate) name: String,
    pub(crate) spans: Vec<Span>,
    pub(crate) marks: Vec<(f64, String, String)>,
}

/// The track of each span: the first one free at its start (greedy interval partitioning).
fn tracks(spans: &[Span]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|a, b| spans[*a].start_ms.total_cmp(&spans[*b].start_ms));
    let mut ends: Vec<f64> = Vec::new();
    let mut out = vec![0; spans.len()];
    for i in order {
        let span = &spans[i];
        let track = match ends.iter().position(|e| *e <= span.start_ms) {
            Some(t) => t,
            None => {
                ends.push(f64::NEG_INFINITY);
                ends.len() - 1
            }
        };
        ends[track] = span.end_ms.max(span.start_ms);
        out[i] = track;
    }
    out
}

/// A Gantt-like timeline: one lane per row, time on the x axis in seconds.
pub(crate) fn timeline(
    title: &str,
    lanes: &[Lane],
    end_ms: f64,
    legend: &[(String, String)],
) -> String {
    let name_width = 12.0
        + 7.0
            * lanes
                .iter()
                .map(|l| l.name.chars().count())
                .max()
                .unwrap_or(4) as f64;
    let left = name_width.clamp(70.0, 260.0);
    let right = 30.0;
    let top = 50.0;
    let lane_h = 24.0;
    let plot_w = 720.0;
    let plot_h = lane_h * lanes.len().max(1) as f64;
    let legend_rows = legend.len().div_ceil(4) as f64;
    let height = top + plot_h + 50.0 + 20.0 * legend_rows;
    let width = left + plot_w + right;
    let mut svg = Svg::new(width, height);
    svg.text(width / 2.0, 28.0, 17.0, "middle", 0.0, title);
    let (step, axis_end) = nice_axis(end_ms.max(1.0), 8);
    let x_of = |ms: f64| left + (ms.clamp(0.0, axis_end) / axis_end) * plot_w;
    let mut t = 0.0;
    while t <= axis_end + step / 2.0 {
        let x = x_of(t);
        svg.line(x, top, x, top + plot_h, "#e6e6e6", false);
        svg.text(
            x,
            top + plot_h + 16.0,
            11.0,
            "middle",
            0.0,
            &format_tick(t, step, Unit::Seconds),
        );
        t += step;
    }
    for (i, lane) in lanes.iter().enumerate() {
        let y = top + lane_h * i as f64;
        if i % 2 == 1 {
            svg.rect(left, y, plot_w, lane_h, "#f6f6f6", None);
        }
        svg.text(
            left - 8.0,
            y + lane_h / 2.0 + 4.0,
            11.0,
            "end",
            0.0,
            &lane.name,
        );
        // Overlapping spans (a node both partitioned and on slow links) get thinner tracks
        // side by side instead of hiding each other.
        let tracks = tracks(&lane.spans);
        let count = tracks.iter().copied().max().map_or(1, |m| m + 1) as f64;
        let track_h = (lane_h - 8.0) / count;
        for (span, track) in lane.spans.iter().zip(&tracks) {
            let (x0, x1) = (x_of(span.start_ms), x_of(span.end_ms.max(span.start_ms)));
            svg.rect(
                x0,
                y + 4.0 + track_h * *track as f64,
                (x1 - x0).max(2.0),
                track_h - if count > 1.0 { 1.0 } else { 0.0 },
                &span.colour,
                Some(&span.label),
            );
        }
        for (at, colour, tooltip) in &lane.marks {
            svg.diamond(x_of(*at), y + lane_h / 2.0, 6.0, colour, tooltip);
        }
    }
    svg.line(left, top, left, top + plot_h, "#444444", false);
    svg.line(
        left,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        "#444444",
        false,
    );
    svg.text(
        left + plot_w / 2.0,
        top + plot_h + 34.0,
        12.0,
        "middle",
        0.0,
        "time since set-up",
    );
    for (i, (label, colour)) in legend.iter().enumerate() {
        let col = (i % 4) as f64;
        let row = (i / 4) as f64;
        let x = left + col * (plot_w / 4.0);
        let y = top + plot_h + 56.0 + 20.0 * row;
        svg.rect(x, y - 10.0, 12.0, 12.0, colour, None);
        svg.text(x + 18.0, y, 11.0, "start", 0.0, label);
    }
    svg.finish(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_nice() {
        assert_eq!(nice_axis(87.0, 5), (20.0, 100.0));
        assert_eq!(nice_axis(1.0, 5), (0.2, 1.0));
        assert_eq!(nice_axis(0.0, 5), (0.2, 1.0));
        assert_eq!(nice_axis(12_345.0, 8), (2000.0, 14_000.0));
    }

    #[test]
    fn values_are_formatted_with_units() {
        assert_eq!(format_value(1536.0, Unit::Bytes), "1.5 KiB");
        assert_eq!(format_value(512.0, Unit::Bytes), "512 B");
        assert_eq!(format_value(3.0 * 1024.0 * 1024.0, Unit::Bytes), "3.0 MiB");
        assert_eq!(format_value(1234.0, Unit::Seconds), "1.23 s");
        assert_eq!(format_value(12.0, Unit::Count), "12");
    }

    #[test]
    fn ticks_have_the_decimals_their_step_needs() {
        assert_eq!(format_tick(2000.0, 1000.0, Unit::Seconds), "2 s");
        assert_eq!(format_tick(1500.0, 500.0, Unit::Seconds), "1.5 s");
        assert_eq!(format_tick(20_480.0, 10_240.0, Unit::Bytes), "20 KiB");
        assert_eq!(nice_axis_in(30_000.0, 5, Unit::Bytes), (10_240.0, 30_720.0));
    }

    #[test]
    fn overlapping_spans_get_their_own_tracks() {
        let span = |a: f64, b: f64| Span {
            start_ms: a,
            end_ms: b,
            colour: String::new(),
            label: String::new(),
        };
        let spans = [
            span(0.0, 10.0),
            span(5.0, 8.0),
            span(10.0, 12.0),
            span(6.0, 7.0),
        ];
        assert_eq!(tracks(&spans), vec![0, 1, 0, 2]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
        assert_eq!(escape("x\u{1}y"), "x y");
    }
}
