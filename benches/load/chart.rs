//! One PNG per scenario: latency percentiles (left axis) and throughput (right axis) against
//! connections; for d, RSS per stream and streams held against streams. Text is drawn with
//! DejaVu Sans read at run time; without it charts are skipped with a warning.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::cli::Scenario;
use crate::scenarios::{ScenarioRun, Step};

/// Font used for every label.
const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const SIZE: (u32, u32) = (960, 560);

/// Registers the font once; `false` when it is missing or unreadable.
pub fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let Ok(bytes) = std::fs::read(FONT_PATH) else {
            return false;
        };
        // plotters keeps fonts for the life of the process; the font is read once per run.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    })
}

/// One line of a chart.
struct Series {
    label: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// What one chart shows.
struct Spec {
    title: String,
    x_desc: &'static str,
    left_desc: &'static str,
    right_desc: &'static str,
    left: Vec<Series>,
    right: Series,
}

/// Writes the charts of `runs` into `dir` as `load-<letter>-<key>.png`; returns the paths
/// written. Problems are reported as warnings: charts never fail a run.
pub fn write_all(runs: &[ScenarioRun], dir: &Path, key: &str) -> Vec<PathBuf> {
    if !font_ready() {
        eprintln!("load: warning: {FONT_PATH} not found; charts skipped");
        return Vec::new();
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!(
            "load: warning: cannot create {}: {e}; charts skipped",
            dir.display()
        );
        return Vec::new();
    }
    let mut written = Vec::new();
    for run in runs {
        let path = dir.join(format!("load-{}-{key}.png", run.scenario.letter()));
        match draw(&path, &spec_of(run, key)) {
            Ok(()) => written.push(path),
            Err(e) => eprintln!("load: warning: chart {}: {e}", path.display()),
        }
    }
    written
}

fn points(steps: &[Step], f: impl Fn(&Step) -> f64) -> Vec<(f64, f64)> {
    steps.iter().map(|s| (s.load as f64, f(s))).collect()
}

fn spec_of(run: &ScenarioRun, key: &str) -> Spec {
    let steps = &run.steps;
    let title = format!("{} ({key})", run.scenario.title().replace('`', ""));
    match run.scenario {
        Scenario::D => Spec {
            title,
            x_desc: "streams",
            left_desc: "RSS per stream (KB)",
            right_desc: "streams held to the end",
            left: vec![Series {
                label: "RSS per held stream",
                color: RED,
                points: points(steps, |s| {
                    crate::report::rss_per_stream_kb(s).unwrap_or(0.0)
                }),
            }],
            right: Series {
                label: "held",
                color: BLUE,
                points: points(steps, |s| s.result.held as f64),
            },
        },
        Scenario::C => Spec {
            title,
            x_desc: "concurrent streams",
            left_desc: "latency (ms)",
            right_desc: "turns/s",
            left: vec![
                Series {
                    label: "TTFE p50",
                    color: GREEN,
                    points: points(steps, |s| s.result.ttfe.ms(0.5)),
                },
                Series {
                    label: "TTFE p99",
                    color: MAGENTA,
                    points: points(steps, |s| s.result.ttfe.ms(0.99)),
                },
                Series {
                    label: "turn p50",
                    color: CYAN,
                    points: points(steps, |s| s.result.latency.ms(0.5)),
                },
                Series {
                    label: "turn p99",
                    color: RED,
                    points: points(steps, |s| s.result.latency.ms(0.99)),
                },
            ],
            right: Series {
                label: "turns/s",
                color: BLUE,
                points: points(steps, crate::report::rate),
            },
        },
        _ => Spec {
            title,
            x_desc: "connections",
            left_desc: "latency (ms)",
            right_desc: "requests/s",
            left: vec![
                Series {
                    label: "p50",
                    color: GREEN,
                    points: points(steps, |s| s.result.latency.ms(0.5)),
                },
                Series {
                    label: "p95",
                    color: MAGENTA,
                    points: points(steps, |s| s.result.latency.ms(0.95)),
                },
                Series {
                    label: "p99",
                    color: RED,
                    points: points(steps, |s| s.result.latency.ms(0.99)),
                },
            ],
            right: Series {
                label: "requests/s",
                color: BLUE,
                points: points(steps, crate::report::rate),
            },
        },
    }
}

fn top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0_f64, f64::max);
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

fn draw(path: &Path, spec: &Spec) -> Result<(), String> {
    // Steps are drawn evenly spaced (connection counts usually grow by a factor) and labelled
    // with their real values.
    let loads: Vec<f64> = spec.right.points.iter().map(|p| p.0).collect();
    if loads.is_empty() {
        return Err("no steps".into());
    }
    let at = |load: f64| loads.iter().position(|l| *l == load).unwrap_or(0) as f64;
    let place = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
        points.iter().map(|(x, y)| (at(*x), *y)).collect()
    };
    let x_range = -0.5..(loads.len() as f64 - 0.5);
    let left_max = top(spec.left.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let right_max = top(spec.right.points.iter().map(|p| p.1));
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&spec.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .right_y_label_area_size(80)
        .build_cartesian_2d(x_range.clone(), 0.0..left_max)
        .map_err(|x| e(&x))?
        .set_secondary_coord(x_range, 0.0..right_max);
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            loads
                .get(i as usize)
                .map_or(String::new(), |l| format!("{l:.0}"))
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.left_desc)
        .x_labels(loads.len() * 2 + 1)
        .x_label_formatter(&label)
        .light_line_style(WHITE)
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .configure_secondary_axes()
        .y_desc(spec.right_desc)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|x| e(&x))?;
    for series in &spec.left {
        let color = series.color;
        let points = place(&series.points);
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(series.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(|x| e(&x))?;
    }
    let right = &spec.right;
    let color = right.color;
    let points = place(&right.points);
    chart
        .draw_secondary_series(LineSeries::new(points.clone(), color.stroke_width(3)))
        .map_err(|x| e(&x))?
        .label(format!("{} (right axis)", right.label))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)));
    chart
        .draw_secondary_series(
            points
                .iter()
                .map(|p| TriangleMarker::new(*p, 6, color.filled())),
        )
        .map_err(|x| e(&x))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
