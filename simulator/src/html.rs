//! The self-contained HTML report of `caldera simulate --report DIR`: a summary table, a per-queue
//! table and the charts as inline SVG. It loads nothing: no script, stylesheet, font or image
//! from anywhere, so it opens offline and can be attached to a bug report as one file.

use std::fmt::Write as _;

use crate::charts::{self, ChartError, css_colour};
use crate::metrics::{Inputs, Metrics};
use crate::series;

/// Jobs shown in the Gantt chart.
pub const GANTT_JOBS: usize = 40;
/// Time buckets of the utilization chart.
pub const UTILIZATION_BUCKETS: usize = 240;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Hours with one decimal, or "–" for none.
fn hours(s: f64) -> String {
    format!("{:.2} h", s / 3600.0)
}

/// The summary rows of a metrics set: (label, value).
pub fn summary_rows(m: &Metrics) -> Vec<(&'static str, String)> {
    vec![
        ("jobs (not started)", format!("{} ({})", m.jobs, m.jobs_not_started)),
        ("mean job wait", hours(m.mean_wait_s)),
        ("median job wait", hours(m.p50_wait_s)),
        ("p95 job wait", hours(m.p95_wait_s)),
        ("makespan", hours(m.makespan_s)),
        (
            "GPU utilization (makespan)",
            format!("{:.1}%", m.gpu_utilization * 100.0),
        ),
        (
            "GPU utilization (submission span)",
            format!("{:.1}%", m.gpu_utilization_in_span * 100.0),
        ),
        ("Jain's index across queues", format!("{:.3}", m.jain_index)),
        ("hours with ≥ 95% of GPUs in use", format!("{:.1}", m.saturated_hours)),
        ("evictions", m.evictions.to_string()),
        ("lost GPU-hours", format!("{:.1}", m.lost_gpu_hours)),
        (
            "jobs started later than their first estimate",
            if m.jobs_with_estimate == 0 {
                "no estimates".to_string()
            } else {
                format!("{} of {} estimated", m.delayed_heads, m.jobs_with_estimate)
            },
        ),
    ]
}

/// Renders the report of one simulation. `facts` are extra lines shown under the title (input,
/// configuration, cycles, wall time).
pub fn render(title: &str, facts: &[String], inputs: &Inputs) -> Result<String, ChartError> {
    let m = inputs.metrics();
    let util = series::utilization(inputs, UTILIZATION_BUCKETS);
    let queues: Vec<String> = util.queues.iter().map(|(q, _)| q.clone()).collect();
    let util_svg = charts::utilization_svg(&util, "GPU utilization over time, per queue")?;
    let cdf_svg = charts::wait_cdf_svg(
        &[("all jobs".into(), series::wait_cdf(inputs, 400))],
        "Job wait-time CDF",
    )?;
    let rows = series::gantt(inputs, GANTT_JOBS);
    let gantt_svg = charts::gantt_svg(&rows, &queues, &format!("The first {} jobs", rows.len()))?;

    let mut h = String::with_capacity(util_svg.len() + cdf_svg.len() + gantt_svg.len() + 8192);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}\n\
         th:first-child, td:first-child {{ text-align: left; }}\n\
         figure {{ margin: 1.5em 0; }} .swatch {{ display: inline-block; width: 12px; height: 12px; }}\n\
         </style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    if !facts.is_empty() {
        h += "<ul>\n";
        for f in facts {
            let _ = writeln!(h, "<li>{}</li>", escape(f));
        }
        h += "</ul>\n";
    }
    h += "<h2>Summary</h2>\n<table id=\"summary\">\n";
    for (k, v) in summary_rows(&m) {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    h += "</table>\n<h2>Queues</h2>\n<table id=\"queues\">\n<tr><th>queue</th><th>weight</th><th>jobs</th><th>mean wait</th><th>GPU-hours in submission span</th></tr>\n";
    for q in &m.queues {
        let i = queues.iter().position(|n| *n == q.name).unwrap_or(0);
        let _ = writeln!(
            h,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span> {}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            css_colour(i),
            escape(&q.name),
            q.weight,
            q.jobs,
            hours(q.mean_wait_s),
            q.gpu_hours_in_span
        );
    }
    h += "</table>\n";
    for (id, caption, svg) in [
        (
            "utilization",
            "Share of the cluster's GPUs each queue held, averaged per time bucket (stacked).",
            &util_svg,
        ),
        (
            "wait-cdf",
            "Fraction of started jobs that waited at most a given time.",
            &cdf_svg,
        ),
        (
            "gantt",
            "The first jobs by submission: grey while waiting, coloured by queue while running.",
            &gantt_svg,
        ),
    ] {
        let _ = write!(
            h,
            "<figure id=\"{id}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
            escape(caption)
        );
    }
    h += "<p>Definitions of every figure: docs/evaluation.md in the Caldera repository.</p>\n</body>\n</html>\n";
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_one_self_contained_page() {
        let mut s = crate::Scenario::default();
        s.add_yaml("<built-in>", &crate::default_scenario::yaml());
        let mut sim = crate::Simulation::new(s);
        let pipeline = caldera_plugins::Pipeline::default_pipeline().expect("default pipeline");
        sim.run(&pipeline, &crate::SimOptions::default());
        let r = crate::report(&sim, 0.0);
        let inputs = Inputs::from_simulation(&sim, &r, 1.0);
        let html = render("A <test>", &["input: built-in".into()], &inputs).expect("renders");
        assert!(html.contains("<title>A &lt;test&gt;</title>"));
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("ml/train-0"), "the Gantt names the first jobs");
        for q in ["training", "research", "inference"] {
            assert!(html.contains(q), "{q}");
        }
        // The SVG namespace is a name, not a download.
        let html = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for banned in [
            "<script", "<link", "http:", "https:", "src=", "href=", "@import", "url(",
        ] {
            assert!(!html.contains(banned), "loads something: {banned}");
        }
    }
}
