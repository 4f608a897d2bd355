//! SVG figures of a run and of a sweep, drawn with plotters' SVG backend.
//!
//! SVG, because the figures go next to `summary.json` in a results directory and into the
//! write-up: they diff as text, scale without blurring and need no system fonts (the SVG
//! backend leaves text rendering to the viewer). Each figure is drawn into a string and
//! written in one go, so a failed draw leaves no half-written file behind, and an empty
//! input gives a chart that says so rather than a panic.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::summary::{Second, Summary, Sweep, SweepPoint};

/// Width and height of every figure, pixels.
const SIZE: (u32, u32) = (900, 560);

/// At most this many points of a CDF are drawn: more would only bloat the SVG.
const CDF_POINTS: usize = 1000;

/// The sweep key whose figure is latency against achieved throughput.
const RATE_KEY: &str = "workload.rate";

/// A figure could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters refused to draw (a layout or backend error), as its message.
    #[error("plotting {}: {message}", path.display())]
    Draw {
        /// The figure being drawn.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
    /// The SVG could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The figure's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What drawing code inside [`render`] returns; plotters' errors are generic over the
/// backend, so they are boxed and turned into [`PlotError::Draw`] in one place.
type DrawResult = Result<(), Box<dyn Error>>;

type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws with `draw` on a white canvas and writes the SVG to `path`.
fn render(path: &Path, draw: impl FnOnce(&Root<'_>) -> DrawResult) -> Result<(), PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from));
        drawn.map_err(|e| PlotError::Draw { path: path.to_path_buf(), message: e.to_string() })?;
    }
    std::fs::write(path, svg)
        .map_err(|source| PlotError::Write { path: path.to_path_buf(), source })
}

/// An axis range covering `values` (finite ones only), never empty: a single value or
/// no values still give a range of positive width. Starts at 0 when `from_zero`.
fn span(values: impl IntoIterator<Item = f64>, from_zero: bool) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    let width = hi - lo;
    if width <= 0.0 {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return (lo - if from_zero { 0.0 } else { pad })..(hi + pad);
    }
    let lo = if from_zero { lo } else { lo - width * 0.05 };
    lo..(hi + width * 0.05)
}

/// Writes "no samples"-style text in the middle of an otherwise empty chart.
fn say_empty(root: &Root<'_>, what: &str) -> DrawResult {
    let (w, h) = root.dim_in_pixel();
    let style = TextStyle::from(("sans-serif", 24).into_font()).color(&BLACK);
    root.draw_text(what, &style, (w as i32 / 2 - 60, h as i32 / 2))?;
    Ok(())
}

/// An axis tick label: whole numbers without a fraction, others with up to two
/// decimals, so `800` and `0.25` rather than `800.0` and `0.250`.
fn tick(v: &f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The colour of the `i`th series.
fn colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    COLOURS[i % COLOURS.len()]
}

/// A legend entry: a short line in the series' style.
fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
}

/// Committed and aborted transactions per second over the measured window of one run
/// (from [`Summary::timeline`]), titled with the run's name, protocol and cluster shape.
pub fn throughput_over_time(summary: &Summary, path: &Path) -> Result<(), PlotError> {
    let title = format!(
        "{}: {}, {} shards x {} replicas",
        summary.name, summary.consensus, summary.shards, summary.replicas
    );
    let timeline = &summary.timeline;
    render(path, |root| {
        let x = span(timeline.iter().flat_map(|s| [s.t_s, s.t_s + 1.0]), true);
        let y = span(timeline.iter().flat_map(|s| [s.committed as f64, s.aborted as f64]), true);
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .x_desc("time (s)")
            .y_desc("transactions per second")
            .draw()?;
        if timeline.is_empty() {
            return say_empty(root, "no samples");
        }
        let per_second = |count: fn(&Second) -> u64| -> Vec<(f64, f64)> {
            timeline.iter().map(|s| (s.t_s, count(s) as f64)).collect()
        };
        let series = [
            ("committed/s", per_second(|s| s.committed)),
            ("aborted/s", per_second(|s| s.aborted)),
        ];
        for (i, (label, points)) in series.into_iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))?
                .label(label)
                .legend(legend_line(c));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// The points of the empirical CDF of `sorted` (ascending, finite), at most about
/// [`CDF_POINTS`] of them: `(latency, fraction of samples at or below it)`.
fn cdf_points(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let steps = CDF_POINTS.min(n);
    let mut points: Vec<(f64, f64)> = (0..steps)
        .map(|k| {
            // Spread the indices over 0..n-1, always ending with the slowest sample.
            let i = if steps == 1 { n - 1 } else { k * (n - 1) / (steps - 1) };
            (sorted[i], (i + 1) as f64 / n as f64)
        })
        .collect();
    points.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
    points
}

/// The cumulative distribution of `latencies_ms` (any order; non-finite values are
/// dropped): x latency in ms, on a log scale when the samples span more than two
/// decades, y the fraction of samples at or below it. No samples give an empty chart
/// that says so.
pub fn latency_cdf(latencies_ms: &[f64], title: &str, path: &Path) -> Result<(), PlotError> {
    let mut sorted: Vec<f64> = latencies_ms.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let points = cdf_points(&sorted);
    let (min, max) = match (sorted.first(), sorted.last()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => (0.0, 0.0),
    };
    let label = format!("{} samples", sorted.len());
    render(path, |root| {
        if min > 0.0 && max / min > 100.0 {
            let x = (min * 0.9..max * 1.1).log_scale();
            cdf_chart(root, title, x, "latency (ms, log scale)", &points, &label)
        } else {
            cdf_chart(
                root,
                title,
                span(sorted.iter().copied(), true),
                "latency (ms)",
                &points,
                &label,
            )
        }
    })
}

/// Draws a CDF on an x axis built from `x` (linear or log).
fn cdf_chart<X>(
    root: &Root<'_>,
    title: &str,
    x: X,
    x_desc: &str,
    points: &[(f64, f64)],
    label: &str,
) -> DrawResult
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .x_desc(x_desc)
        .y_desc("fraction of transactions")
        .draw()?;
    if points.is_empty() {
        return say_empty(root, "no samples");
    }
    let c = colour(0);
    chart
        .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
        .label(label)
        .legend(legend_line(c));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The points of a sweep by protocol, each protocol's sorted by the swept value.
fn by_protocol(points: &[SweepPoint]) -> BTreeMap<&str, Vec<&SweepPoint>> {
    let mut groups: BTreeMap<&str, Vec<&SweepPoint>> = BTreeMap::new();
    for p in points {
        groups.entry(p.consensus.as_str()).or_default().push(p);
    }
    for group in groups.values_mut() {
        group.sort_by(|a, b| a.value.total_cmp(&b.value));
    }
    groups
}

/// The figure of a sweep, one line with points per protocol. For most keys (shards,
/// replicas, inputs, ...) x is the swept value and y committed transactions per second.
/// For `workload.rate` it is the paper's latency-against-load figure instead: x the
/// achieved committed/s, y median latency (solid) and 99th percentile (dashed).
pub fn sweep_figure(sweep: &Sweep, path: &Path) -> Result<(), PlotError> {
    let groups = by_protocol(&sweep.points);
    let rate = sweep.key == RATE_KEY;
    let (title, x_desc, y_desc) = if rate {
        (
            format!("{}: latency against load", sweep.name),
            "committed transactions per second".to_string(),
            "latency (ms)",
        )
    } else {
        (
            format!("{}: throughput against {}", sweep.name, sweep.key),
            sweep.key.clone(),
            "committed transactions per second",
        )
    };
    let xy = |p: &SweepPoint| -> (f64, f64) {
        if rate {
            (p.summary.committed_per_s, p.summary.latency_ms.p50)
        } else {
            (p.value, p.summary.committed_per_s)
        }
    };
    render(path, |root| {
        let x = span(sweep.points.iter().map(|p| xy(p).0), rate);
        let y = span(
            sweep.points.iter().flat_map(|p| {
                let p99 = if rate { p.summary.latency_ms.p99 } else { 0.0 };
                [xy(p).1, p99]
            }),
            true,
        );
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        if groups.is_empty() {
            return say_empty(root, "no points");
        }
        for (i, (protocol, points)) in groups.iter().enumerate() {
            let c = colour(i);
            let label = if rate { format!("{protocol} p50") } else { (*protocol).to_string() };
            chart
                .draw_series(
                    LineSeries::new(points.iter().map(|p| xy(p)), c.filled().stroke_width(2))
                        .point_size(4),
                )?
                .label(label)
                .legend(legend_line(c));
            if rate {
                let p99 =
                    points.iter().map(|p| (p.summary.committed_per_s, p.summary.latency_ms.p99));
                chart
                    .draw_series(DashedLineSeries::new(p99, 8, 5, c.stroke_width(2)))?
                    .label(format!("{protocol} p99"))
                    .legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + 20, y)], 5, 3, c.stroke_width(2))
                    });
            }
        }
        chart
            .configure_series_labels()
            .position(if rate {
                SeriesLabelPosition::UpperLeft
            } else {
                SeriesLabelPosition::LowerRight
            })
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Latency;

    fn summary(name: &str, consensus: &str) -> Summary {
        Summary {
            name: name.into(),
            consensus: consensus.into(),
            shards: 4,
            replicas: 7,
            timeline: (0..10)
                .map(|t| Second { t_s: t as f64, committed: 100 + t, aborted: t })
                .collect(),
            ..Summary::default()
        }
    }

    fn read_svg(path: &Path) -> String {
        let svg = std::fs::read_to_string(path).expect("figure written");
        assert!(svg.starts_with("<svg"), "not an SVG: {}", &svg[..svg.len().min(80)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        svg
    }

    #[test]
    fn throughput_has_title_and_both_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("throughput.svg");
        throughput_over_time(&summary("baseline", "hotstuff"), &path).unwrap();
        let svg = read_svg(&path);
        assert!(svg.contains("baseline: hotstuff, 4 shards x 7 replicas"));
        assert!(svg.contains("committed/s"));
        assert!(svg.contains("aborted/s"));
        assert!(svg.contains("<polyline"), "no line drawn");
    }

    #[test]
    fn throughput_of_an_empty_timeline_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        let mut s = summary("empty", "pbft");
        s.timeline.clear();
        throughput_over_time(&s, &path).unwrap();
        assert!(read_svg(&path).contains("no samples"));
    }

    #[test]
    fn cdf_of_unsorted_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdf.svg");
        let samples = [5.0, 1.0, 3.0, f64::NAN, 2.0, 4.0];
        latency_cdf(&samples, "latency of run", &path).unwrap();
        let svg = read_svg(&path);
        assert!(svg.contains("latency of run"));
        assert!(svg.contains("5 samples"), "NaN should be dropped");
        assert!(svg.contains("latency (ms)"));
    }

    #[test]
    fn cdf_uses_log_scale_over_wide_spans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdf.svg");
        let samples: Vec<f64> = (0..5000).map(|i| 0.5 + (i * i) as f64 / 1000.0).collect();
        latency_cdf(&samples, "wide", &path).unwrap();
        let svg = read_svg(&path);
        assert!(svg.contains("log scale"));
        assert!(svg.contains("5000 samples"));
    }

    #[test]
    fn cdf_of_nothing_or_one_sample_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.svg");
        latency_cdf(&[], "nothing", &empty).unwrap();
        assert!(read_svg(&empty).contains("no samples"));
        let one = dir.path().join("one.svg");
        latency_cdf(&[7.0], "one", &one).unwrap();
        assert!(read_svg(&one).contains("1 samples"));
    }

    #[test]
    fn cdf_points_are_monotone_and_end_at_one() {
        let sorted: Vec<f64> = (0..10_000).map(f64::from).collect();
        let points = cdf_points(&sorted);
        assert!(points.len() <= CDF_POINTS);
        assert!(points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert_eq!(points.first(), Some(&(0.0, 1.0 / 10_000.0)));
        assert_eq!(points.last(), Some(&(9_999.0, 1.0)));
        assert_eq!(cdf_points(&[3.0]), vec![(3.0, 1.0)]);
    }

    fn point(value: f64, consensus: &str, committed_per_s: f64, p50: f64) -> SweepPoint {
        SweepPoint {
            value,
            consensus: consensus.into(),
            dir: format!("{consensus}-{value}"),
            summary: Summary {
                committed_per_s,
                latency_ms: Latency { p50, p99: p50 * 3.0, ..Latency::default() },
                ..Summary::default()
            },
        }
    }

    #[test]
    fn sweep_has_a_legend_entry_per_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.svg");
        let sweep = Sweep {
            name: "shards".into(),
            key: "cluster.shards".into(),
            points: vec![
                point(4.0, "pbft", 400.0, 10.0),
                point(1.0, "pbft", 100.0, 10.0),
                point(1.0, "hotstuff", 90.0, 12.0),
                point(4.0, "hotstuff", 350.0, 12.0),
            ],
        };
        sweep_figure(&sweep, &path).unwrap();
        let svg = read_svg(&path);
        assert!(svg.contains("throughput against cluster.shards"));
        assert!(svg.contains(">pbft<") || svg.contains("pbft\n"), "{svg}");
        assert!(svg.contains("hotstuff"));
        assert!(svg.contains("<circle"), "points are marked");
        assert!(!svg.contains("p99"));
    }

    #[test]
    fn rate_sweep_is_latency_against_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rate.svg");
        let sweep = Sweep {
            name: "load".into(),
            key: RATE_KEY.into(),
            points: vec![
                point(100.0, "pbft", 99.0, 5.0),
                point(1000.0, "pbft", 900.0, 8.0),
                point(2000.0, "pbft", 1100.0, 80.0),
            ],
        };
        sweep_figure(&sweep, &path).unwrap();
        let svg = read_svg(&path);
        assert!(svg.contains("latency against load"));
        assert!(svg.contains("pbft p50"));
        assert!(svg.contains("pbft p99"));
        assert!(svg.contains("latency (ms)"));
    }

    #[test]
    fn empty_sweep_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.svg");
        let sweep = Sweep { name: "none".into(), key: "cluster.replicas".into(), points: vec![] };
        sweep_figure(&sweep, &path).unwrap();
        assert!(read_svg(&path).contains("no points"));
    }

    #[test]
    fn unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("x.svg");
        let err = latency_cdf(&[1.0], "x", &path).unwrap_err();
        assert!(matches!(err, PlotError::Write { .. }));
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }

    #[test]
    fn ticks_drop_needless_decimals() {
        assert_eq!(tick(&800.0), "800");
        assert_eq!(tick(&1234.56), "1235");
        assert_eq!(tick(&0.25), "0.25");
        assert_eq!(tick(&0.5), "0.5");
        assert_eq!(tick(&2.126), "2.13");
    }

    #[test]
    fn span_is_never_empty() {
        assert_eq!(span([], true), 0.0..1.0);
        assert_eq!(span([0.0], true), 0.0..1.0);
        let r = span([5.0], false);
        assert!(r.start < 5.0 && r.end > 5.0);
        let r = span([2.0, 4.0, f64::INFINITY], true);
        assert_eq!(r.start, 0.0);
        assert!(r.end > 4.0 && r.end.is_finite());
    }
}
