//! The soak's results (`--soak`): what each kind of traffic did over the whole window, and the
//! service's RSS, open file descriptors and CPU sampled through it; rendered as a report
//! section and one chart (RSS and descriptors against minutes).

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::generator::JobResult;
use crate::report::{Header, mib};

/// One sample of the service.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the traffic started (warm-up included).
    pub at_secs: f64,
    /// Resident memory, kB.
    pub rss_kb: Option<u64>,
    /// Open file descriptors.
    pub fds: Option<usize>,
    /// CPU seconds (user + system) since the process started.
    pub cpu_secs: Option<f64>,
}

/// One kind of soak traffic and what it measured.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Report label.
    pub name: String,
    /// The generator's result over the window.
    pub result: JobResult,
}

/// Everything one soak measured.
#[derive(Debug, Clone)]
pub struct SoakRun {
    /// Measured window, seconds.
    pub secs: u64,
    /// Unmeasured load before it, seconds.
    pub warmup_secs: u64,
    /// Connections per kind of traffic.
    pub connections: usize,
    /// Seconds between samples.
    pub sample_secs: u64,
    /// Spawn to ready of the service.
    pub ready_ms: Option<u64>,
    /// Soft fd limit of the service.
    pub fd_limit: Option<u64>,
    /// Lessons, lists, turns.
    pub traffic: Vec<Traffic>,
    /// In time order.
    pub samples: Vec<Sample>,
}

impl SoakRun {
    /// Samples taken after the warm-up and the first fifth of the window (caches, pools and
    /// allocator arenas have reached their working size by then).
    fn settled(&self) -> Vec<&Sample> {
        let from = self.warmup_secs as f64 + self.secs as f64 / 5.0;
        self.samples.iter().filter(|s| s.at_secs >= from).collect()
    }

    /// Least-squares slope of RSS over the settled samples, in MiB per hour.
    fn rss_slope_mib_per_hour(&self) -> Option<f64> {
        let points: Vec<(f64, f64)> = self
            .settled()
            .iter()
            .filter_map(|s| Some((s.at_secs, s.rss_kb? as f64 / 1024.0)))
            .collect();
        if points.len() < 3 {
            return None;
        }
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        (sxx > 0.0).then(|| sxy / sxx * 3600.0)
    }
}

fn quantile_ms(result: &JobResult, q: f64) -> String {
    if result.latency.0.is_empty() {
        return "–".into();
    }
    let ms = result.latency.0.value_at_quantile(q) as f64 / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.2}")
    }
}

/// The report sub-section of a soak.
pub fn render(header: &Header, run: &SoakRun, chart: Option<&Path>, chart_base: &Path) -> String {
    let mut out = String::new();
    crate::report::heading(&mut out, "Soak", header);
    let _ = writeln!(
        out,
        "- Traffic: {} connections for each kind below, requests back to back, all at once, for {} after {} s of warm-up; one service process{}; RSS, open file descriptors and CPU read from /proc every {} s",
        run.connections,
        if run.secs >= 120 {
            format!("{} min", run.secs / 60)
        } else {
            format!("{} s", run.secs)
        },
        run.warmup_secs,
        run.ready_ms
            .map_or(String::new(), |ms| format!(" (ready in {ms} ms)")),
        run.sample_secs
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "| traffic | completed | per second | p50 ms | p99 ms | max ms | errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for t in &run.traffic {
        let r = &t.result;
        let errors = if r.error_count() == 0 {
            "0".to_string()
        } else {
            let kinds: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            format!("{} ({})", r.error_count(), kinds.join(", "))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {errors} |",
            t.name,
            r.completed,
            r.completed as f64 / (r.window_ms.max(1) as f64 / 1000.0),
            quantile_ms(r, 0.5),
            quantile_ms(r, 0.99),
            quantile_ms(r, 1.0),
        );
    }
    out.push('\n');
    summary(&mut out, run);
    samples_table(&mut out, run);
    if let Some(chart) = chart {
        let rel = chart.strip_prefix(chart_base).unwrap_or(chart);
        let _ = writeln!(out, "\n![soak]({})", rel.display());
    }
    out
}

fn summary(out: &mut String, run: &SoakRun) {
    let settled = run.settled();
    let rss: Vec<u64> = settled.iter().filter_map(|s| s.rss_kb).collect();
    let fds: Vec<usize> = settled.iter().filter_map(|s| s.fds).collect();
    let first = settled.first().and_then(|s| s.rss_kb);
    let last = settled.last().and_then(|s| s.rss_kb);
    let _ = writeln!(
        out,
        "- RSS once settled (after the warm-up and the first fifth of the window): {} MiB at the start, {} MiB at the end, between {} and {} MiB; least-squares trend {}",
        mib(first),
        mib(last),
        mib(rss.iter().min().copied()),
        mib(rss.iter().max().copied()),
        run.rss_slope_mib_per_hour()
            .map_or("–".into(), |s| format!("{s:+.1} MiB per hour")),
    );
    let _ = writeln!(
        out,
        "- Open file descriptors once settled: between {} and {} (limit {})",
        fds.iter().min().map_or("–".into(), ToString::to_string),
        fds.iter().max().map_or("–".into(), ToString::to_string),
        run.fd_limit.map_or("–".into(), |l| l.to_string()),
    );
}

/// A row every ~3 minutes (or every sample when there are few).
fn samples_table(out: &mut String, run: &SoakRun) {
    let step = (180 / run.sample_secs.max(1)).max(1) as usize;
    let _ = writeln!(
        out,
        "\n| minute | RSS MiB | open fds | service CPU (cores, since previous row) |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let mut previous: Option<&Sample> = None;
    let last = run.samples.len().saturating_sub(1);
    for (i, s) in run.samples.iter().enumerate() {
        if i % step != 0 && i != last {
            continue;
        }
        let cores = match (previous, s.cpu_secs) {
            (Some(p), Some(c)) if s.at_secs > p.at_secs => p.cpu_secs.map_or("–".into(), |pc| {
                format!("{:.2}", (c - pc) / (s.at_secs - p.at_secs))
            }),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {:.1} | {} | {} | {cores} |",
            s.at_secs / 60.0,
            mib(s.rss_kb),
            s.fds.map_or("–".into(), |n| n.to_string()),
        );
        previous = Some(s);
    }
}

/// Draws RSS (left axis) and open descriptors (right axis) against minutes into `path`.
///
/// # Errors
/// When the font is missing or the image cannot be written.
pub fn draw(path: &Path, run: &SoakRun, key: &str) -> Result<(), String> {
    if !crate::chart::font_ready() {
        return Err("font missing".into());
    }
    let rss: Vec<(f64, f64)> = run
        .samples
        .iter()
        .filter_map(|s| Some((s.at_secs / 60.0, s.rss_kb? as f64 / 1024.0)))
        .collect();
    let fds: Vec<(f64, f64)> = run
        .samples
        .iter()
        .filter_map(|s| Some((s.at_secs / 60.0, s.fds? as f64)))
        .collect();
    let x_max = rss.iter().map(|p| p.0).fold(1.0_f64, f64::max);
    let top = |v: &[(f64, f64)]| v.iter().map(|p| p.1).fold(1.0_f64, f64::max) * 1.2;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("soak: RSS and open fds ({key})"),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..top(&rss))
        .map_err(|x| e(&x))?
        .set_secondary_coord(0.0..x_max, 0.0..top(&fds));
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("RSS MiB")
        .light_line_style(WHITE)
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .configure_secondary_axes()
        .y_desc("open file descriptors")
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .draw_series(LineSeries::new(rss, BLUE.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("RSS MiB")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .draw_secondary_series(LineSeries::new(fds, RED.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label("open fds (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
