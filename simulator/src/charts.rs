//! The report's charts as standalone SVG text, drawn with plotters' SVG backend so the HTML needs
//! nothing but itself: no script, no font file, no network.

use plotters::prelude::*;

use crate::series::{GanttRow, Utilization};

/// A chart that could not be drawn (plotters' error, as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot draw the {chart} chart: {message}")]
pub struct ChartError {
    /// Which chart.
    pub chart: &'static str,
    /// plotters' message.
    pub message: String,
}

/// Qualitative colours (Tableau 10 and two more, for Philly's 12 virtual clusters in a window),
/// repeated when there are more series.
const COLOURS: [RGBColor; 12] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x3b, 0x3b, 0x3b),
];

/// The colour of series `i`.
pub fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// The colour of series `i` as CSS `#rrggbb`.
pub fn css_colour(i: usize) -> String {
    let RGBColor(r, g, b) = colour(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A time axis unit that keeps tick labels short for the span shown.
fn time_unit(span_s: f64) -> (f64, &'static str) {
    if span_s > 3.0 * 86_400.0 {
        (86_400.0, "days")
    } else if span_s > 3.0 * 3600.0 {
        (3600.0, "hours")
    } else {
        (60.0, "minutes")
    }
}

const SIZE: (u32, u32) = (960, 420);

fn err(chart: &'static str) -> impl Fn(String) -> ChartError {
    move |message| ChartError { chart, message }
}

/// Stacked areas: the share of the cluster's GPUs each queue held over time.
pub fn utilization_svg(u: &Utilization, title: &str) -> Result<String, ChartError> {
    let e = err("utilization");
    let mut svg = String::new();
    {
        let lo = u.starts.first().copied().unwrap_or(0.0);
        let hi = lo + u.width * u.starts.len() as f64;
        let (unit, unit_name) = time_unit(hi - lo);
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(lo / unit..hi / unit, 0.0..1.0f64)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(format!("simulated time ({unit_name})"))
            .y_desc("share of cluster GPUs in use")
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        // Stack: queue k's band lies between the sums of queues < k and ≤ k. Each cumulative
        // curve is filled down to zero, the tallest first, so every band shows its own colour.
        let n = u.starts.len();
        let mut cumulative: Vec<Vec<f64>> = Vec::new();
        let mut acc = vec![0.0; n];
        for (_, v) in &u.queues {
            for (a, x) in acc.iter_mut().zip(v) {
                *a += x;
            }
            cumulative.push(acc.clone());
        }
        for (k, top) in cumulative.iter().enumerate().rev() {
            let points: Vec<(f64, f64)> = u
                .starts
                .iter()
                .zip(top)
                .flat_map(|(s, v)| [(s / unit, *v), ((s + u.width) / unit, *v)])
                .collect();
            let c = colour(k);
            chart
                .draw_series(AreaSeries::new(points, 0.0, c.mix(0.85)).border_style(c))
                .map_err(|x| e(x.to_string()))?
                .label(u.queues[k].0.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// Empirical CDFs of job waits, one line per series, on a logarithmic time axis (waits under a
/// second are drawn at one second).
pub fn wait_cdf_svg(series: &[(String, Vec<(f64, f64)>)], title: &str) -> Result<String, ChartError> {
    let e = err("wait CDF");
    let mut svg = String::new();
    {
        let max = series
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.0))
            .fold(10.0f64, f64::max);
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((1.0..max * 1.5).log_scale(), 0.0..1.0f64)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("job wait (seconds, log scale)")
            .y_desc("fraction of jobs waiting at most this")
            .x_label_formatter(&|v| human_seconds(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (k, (name, points)) in series.iter().enumerate() {
            let c = colour(k);
            // A step function: the fraction rises at each wait.
            let mut steps = Vec::with_capacity(points.len() * 2 + 1);
            let mut last = 0.0;
            for &(w, f) in points {
                let w = w.max(1.0);
                steps.push((w, last));
                steps.push((w, f));
                last = f;
            }
            steps.push((max * 1.5, last));
            chart
                .draw_series(LineSeries::new(steps, c.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// Seconds as a short label: 30s, 5m, 2h, 3d.
pub fn human_seconds(v: f64) -> String {
    if v < 60.0 {
        format!("{v:.0}s")
    } else if v < 3600.0 {
        format!("{:.0}m", v / 60.0)
    } else if v < 86_400.0 {
        format!("{:.0}h", v / 3600.0)
    } else {
        format!("{:.0}d", v / 86_400.0)
    }
}

/// One row per job: a thin grey line while it waits, a bar in its queue's colour while it runs.
/// `queues` fixes the colour of each queue (its index).
pub fn gantt_svg(rows: &[GanttRow], queues: &[String], title: &str) -> Result<String, ChartError> {
    let e = err("Gantt");
    let mut svg = String::new();
    {
        let lo = rows.iter().map(|r| r.submitted).fold(f64::INFINITY, f64::min);
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let hi = rows
            .iter()
            .map(|r| r.ended.or(r.started).unwrap_or(r.submitted))
            .fold(lo + 1.0, f64::max);
        let (unit, unit_name) = time_unit(hi - lo);
        let height = (16 * rows.len() as u32 + 110).max(200);
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let n = rows.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(150)
            .build_cartesian_2d(lo / unit..hi / unit, n..0.0)
            .map_err(|x| e(x.to_string()))?;
        let label = |y: &f64| -> String {
            let i = y.floor();
            if (y - i - 0.5).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            rows.get(i as usize)
                .map(|r| format!("{} ({} GPU)", r.name, r.gpus))
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len() * 2 + 1)
            .y_label_formatter(&label)
            .x_desc(format!(
                "simulated time ({unit_name}); grey: waiting, colour: running (by queue)"
            ))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, r) in rows.iter().enumerate() {
            let y = i as f64 + 0.5;
            let start = r.started.unwrap_or(hi);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(r.submitted / unit, y), (start / unit, y)],
                    RGBColor(0x99, 0x99, 0x99).stroke_width(2),
                )))
                .map_err(|x| e(x.to_string()))?;
            if let (Some(s), Some(end)) = (r.started, r.ended) {
                let q = queues.iter().position(|q| *q == r.queue).unwrap_or(0);
                let end = end.max(s + (hi - lo) / 2000.0);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(s / unit, y - 0.35), (end / unit, y + 0.35)],
                        colour(q).filled(),
                    )))
                    .map_err(|x| e(x.to_string()))?;
            }
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels() {
        let u = Utilization {
            starts: vec![0.0, 100.0],
            width: 100.0,
            queues: vec![("vc-a".into(), vec![0.5, 0.25]), ("vc-b".into(), vec![0.25, 0.0])],
        };
        let s = utilization_svg(&u, "GPU use").expect("draws");
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"), "{s}");
        assert!(s.contains("vc-a") && s.contains("vc-b") && s.contains("GPU use"));
        assert!(s.contains("<polygon") || s.contains("<path") || s.contains("<polyline"));

        let c = wait_cdf_svg(&[("fifo".into(), vec![(0.0, 0.5), (7200.0, 1.0)])], "waits").expect("draws");
        assert!(c.contains("fifo") && c.contains("<polyline"));

        let rows = vec![GanttRow {
            name: "vc-a/j1".into(),
            queue: "vc-a".into(),
            gpus: 8.0,
            submitted: 0.0,
            started: Some(60.0),
            ended: Some(600.0),
        }];
        let g = gantt_svg(&rows, &["vc-a".into()], "first jobs").expect("draws");
        assert!(g.contains("vc-a/j1 (8 GPU)") && g.contains("<rect"), "{g}");
    }

    #[test]
    fn seconds_read_as_people_say_them() {
        assert_eq!(human_seconds(30.0), "30s");
        assert_eq!(human_seconds(600.0), "10m");
        assert_eq!(human_seconds(7200.0), "2h");
        assert_eq!(human_seconds(3.0 * 86_400.0), "3d");
    }
}
