//! Results: one CSV row per run, and per shape and mode each scheduler's median (with the range
//! over the repeats) as a markdown table, Caldera's ratios to every other scheduler measured in
//! the same invocation, and an SVG bar chart of throughput.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::run::RunResult;

/// Median and range of one metric over the repeats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// The median and range of the finite values, `None` if there are none.
pub fn stat(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// CSV header of [`csv_row`].
pub const CSV_HEADER: &str = "shape,nodes,mode,scheduler,repeat,pods,bound,rebound,seconds,pods_per_s,p50_ms,p99_ms,\
first_bind_s,peak_rss_mib,cpu_s,cpu_ms_per_pod,binds_accepted,binds_refused,apiserver_cpu_s,etcd_cpu_s,kwok_cpu_s,\
harness_cpu_s,machine_busy_cores,load_1m,create_s,writes,problem";

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One run as a CSV line.
pub fn csv_row(r: &RunResult) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{:.3},{:.1},{:.1},{:.1},{:.3},{:.1},{:.2},{:.3},{},{},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{},{}",
        r.shape,
        r.nodes,
        r.mode,
        r.scheduler,
        r.repeat,
        r.pods,
        r.bound,
        r.rebound,
        r.seconds,
        r.pods_per_s,
        r.p50_ms,
        r.p99_ms,
        r.first_bind_s,
        r.rss_mib,
        r.cpu_s,
        r.cpu_ms_per_pod(),
        r.binds_accepted,
        r.binds_refused,
        r.apiserver_cpu_s,
        r.etcd_cpu_s,
        r.kwok_cpu_s,
        r.harness_cpu_s,
        r.machine_cores,
        r.load,
        r.create_s,
        quote(&r.writes),
        quote(&r.problem.replace('\n', " | "))
    )
}

/// One scheduler on one shape and mode, over its repeats.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Shape.
    pub shape: String,
    /// Mode.
    pub mode: String,
    /// Scheduler.
    pub scheduler: String,
    /// Runs.
    pub runs: usize,
    /// Runs that bound every pod exactly once.
    pub complete: usize,
    /// Pods per run.
    pub pods: usize,
    /// Throughput.
    pub pods_per_s: Option<Stat>,
    /// Median latency.
    pub p50_ms: Option<Stat>,
    /// p99 latency.
    pub p99_ms: Option<Stat>,
    /// Start to first bind.
    pub first_bind_s: Option<Stat>,
    /// Peak RSS.
    pub rss_mib: Option<Stat>,
    /// CPU seconds.
    pub cpu_s: Option<Stat>,
    /// CPU ms per bound pod.
    pub cpu_ms_per_pod: Option<Stat>,
    /// Refused binds, all runs together.
    pub refused: u64,
    /// Average machine busy cores.
    pub machine_cores: Option<Stat>,
}

/// Groups the runs by (shape, mode, scheduler), keeping the order in which they first ran.
pub fn summarize(results: &[RunResult]) -> Vec<Summary> {
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut groups: BTreeMap<(String, String, String), Vec<&RunResult>> = BTreeMap::new();
    for r in results {
        let k = (r.shape.clone(), r.mode.clone(), r.scheduler.clone());
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(r);
    }
    order
        .into_iter()
        .map(|k| {
            let rs = &groups[&k];
            let f = |g: &dyn Fn(&RunResult) -> f64| stat(rs.iter().map(|r| g(r)));
            Summary {
                shape: k.0.clone(),
                mode: k.1.clone(),
                scheduler: k.2.clone(),
                runs: rs.len(),
                complete: rs.iter().filter(|r| r.complete()).count(),
                pods: rs.first().map_or(0, |r| r.pods),
                pods_per_s: f(&|r| r.pods_per_s),
                p50_ms: f(&|r| r.p50_ms),
                p99_ms: f(&|r| r.p99_ms),
                first_bind_s: f(&|r| r.first_bind_s),
                rss_mib: f(&|r| r.rss_mib),
                cpu_s: f(&|r| r.cpu_s),
                cpu_ms_per_pod: f(&|r| r.cpu_ms_per_pod()),
                refused: rs.iter().map(|r| r.binds_refused).sum(),
                machine_cores: f(&|r| r.machine_cores),
            }
        })
        .collect()
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        "—".to_owned()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn with_range(s: Option<Stat>) -> String {
    match s {
        None => "—".to_owned(),
        Some(s) if s.min == s.max => num(s.median),
        Some(s) => format!("{} ({}–{})", num(s.median), num(s.min), num(s.max)),
    }
}

fn median(s: Option<Stat>) -> f64 {
    s.map_or(f64::NAN, |s| s.median)
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "—".to_owned()
    }
}

fn mark(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "—",
    }
}

/// The markdown report: every scheduler's figures, then Caldera's ratios and the targets.
pub fn markdown(summaries: &[Summary]) -> String {
    let mut out = String::new();
    out.push_str(
        "| shape | mode | scheduler | pods | complete | pods/s | p50 ms | p99 ms | first bind s | peak RSS MiB | CPU s | CPU ms/pod | refused binds | machine busy cores |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.shape,
            s.mode,
            s.scheduler,
            s.pods,
            s.complete,
            s.runs,
            with_range(s.pods_per_s),
            with_range(s.p50_ms),
            with_range(s.p99_ms),
            if s.mode == "backlog" {
                with_range(s.first_bind_s)
            } else {
                "—".to_owned()
            },
            with_range(s.rss_mib),
            with_range(s.cpu_s),
            with_range(s.cpu_ms_per_pod),
            s.refused,
            num(median(s.machine_cores))
        );
    }

    let mut by_case: BTreeMap<(String, String), BTreeMap<String, &Summary>> = BTreeMap::new();
    let mut case_order: Vec<(String, String)> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for s in summaries {
        let k = (s.shape.clone(), s.mode.clone());
        if !by_case.contains_key(&k) {
            case_order.push(k.clone());
        }
        by_case.entry(k).or_default().insert(s.scheduler.clone(), s);
        if !["caldera", "raw-binder", "kube-scheduler"].contains(&s.scheduler.as_str())
            && !others.contains(&s.scheduler)
        {
            others.push(s.scheduler.clone());
        }
    }
    if !summaries.iter().any(|s| s.scheduler == "caldera") {
        return out;
    }
    out.push_str("\nCaldera's ratios (medians of this invocation; throughput: Caldera ÷ other, cost: Caldera ÷ kube-scheduler):\n\n");
    let mut header = "| shape | mode | ÷ raw binder (≥ 0.90) | × kube-scheduler | CPU/pod ÷ kube-scheduler (≤ 0.25) | RSS ÷ kube-scheduler (≤ 0.50) |".to_owned();
    let mut rule = "|---|---|---|---|---|---|".to_owned();
    for o in &others {
        let _ = write!(header, " × {o} |");
        rule.push_str("---|");
    }
    header.push_str(" first bind s | peak RSS MiB |");
    rule.push_str("---|---|");
    let _ = writeln!(out, "{header}\n{rule}");
    for k in case_order {
        let m = &by_case[&k];
        let Some(c) = m.get("caldera") else {
            continue;
        };
        let tput = |name: &str| m.get(name).map_or(f64::NAN, |s| median(s.pods_per_s));
        let ct = median(c.pods_per_s);
        let raw = tput("raw-binder");
        // A kube-scheduler that bound no run whole did not do the work: its RSS and CPU are no
        // cost to compare with.
        let kube = m.get("kube-scheduler").filter(|ks| ks.complete > 0);
        let cpu_ratio = kube.map_or(f64::NAN, |ks| median(c.cpu_ms_per_pod) / median(ks.cpu_ms_per_pod));
        let rss_ratio = kube.map_or(f64::NAN, |ks| median(c.rss_mib) / median(ks.rss_mib));
        let ok = |x: f64, limit: f64, above: bool| x.is_finite().then_some(if above { x >= limit } else { x <= limit });
        let mut row = format!(
            "| {} | {} | {} {} | {} | {} {} | {} {} |",
            k.0,
            k.1,
            ratio(ct, raw),
            mark(ok(ct / raw, 0.9, true)),
            ratio(ct, tput("kube-scheduler")),
            num(cpu_ratio),
            mark(ok(cpu_ratio, 0.25, false)),
            num(rss_ratio),
            mark(ok(rss_ratio, 0.5, false)),
        );
        for o in &others {
            let _ = write!(row, " {} |", ratio(ct, tput(o)));
        }
        let fb = median(c.first_bind_s);
        let fb_limit = if k.0.starts_with("cold") {
            Some(10.0)
        } else if k.0.ends_with("-1k") {
            Some(1.0)
        } else {
            None
        };
        let fb_mark = match (k.1.as_str(), fb_limit) {
            ("backlog", Some(l)) => format!(" {}", mark(ok(fb, l, false))),
            _ => String::new(),
        };
        let rss = median(c.rss_mib);
        let _ = writeln!(
            row,
            " {}{} | {} {} |",
            if k.1 == "backlog" { num(fb) } else { "—".to_owned() },
            fb_mark,
            num(rss),
            mark(ok(rss, 1024.0, false))
        );
        out.push_str(&row);
    }
    out
}

/// A horizontal bar chart of median throughput (whiskers: min–max) per shape, mode and scheduler.
pub fn svg(summaries: &[Summary], title: &str) -> String {
    const COLORS: [&str; 6] = ["#d9480f", "#868e96", "#1971c2", "#2f9e44", "#9c36b5", "#e8590c"];
    let mut schedulers: Vec<&str> = Vec::new();
    for s in summaries {
        if !schedulers.contains(&s.scheduler.as_str()) {
            schedulers.push(&s.scheduler);
        }
    }
    let color = |name: &str| COLORS[schedulers.iter().position(|s| *s == name).unwrap_or(0) % COLORS.len()];
    let max = summaries
        .iter()
        .filter_map(|s| s.pods_per_s.map(|p| p.max))
        .fold(1.0_f64, f64::max);
    let (label_w, plot_w, bar_h, gap) = (230.0, 560.0, 13.0, 10.0);
    let mut cases: Vec<(String, String)> = Vec::new();
    for s in summaries {
        let k = (s.shape.clone(), s.mode.clone());
        if !cases.contains(&k) {
            cases.push(k);
        }
    }
    let mut y = 60.0;
    let mut body = String::new();
    for (shape, mode) in &cases {
        let rows: Vec<&Summary> = summaries
            .iter()
            .filter(|s| &s.shape == shape && &s.mode == mode)
            .collect();
        let block = rows.len() as f64 * bar_h;
        let _ = writeln!(
            body,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end" font-size="12">{shape} · {mode}</text>"#,
            label_w - 8.0,
            y + block / 2.0 + 4.0
        );
        for s in rows {
            let p = s.pods_per_s.unwrap_or(Stat {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            });
            let w = plot_w * p.median / max;
            let _ = writeln!(
                body,
                r#"<rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}: {:.0} pods/s</title></rect>"#,
                bar_h - 2.0,
                color(&s.scheduler),
                s.scheduler,
                p.median
            );
            let (x1, x2, ym) = (
                label_w + plot_w * p.min / max,
                label_w + plot_w * p.max / max,
                y + bar_h / 2.0 - 1.0,
            );
            let _ = writeln!(
                body,
                r##"<line x1="{x1:.1}" x2="{x2:.1}" y1="{ym:.1}" y2="{ym:.1}" stroke="#212529" stroke-width="1"/>"##
            );
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{:.0}</text>"#,
                label_w + w.max(plot_w * p.max / max) + 4.0,
                y + bar_h - 4.0,
                p.median
            );
            y += bar_h;
        }
        y += gap;
    }
    let height = y + 30.0;
    let width = label_w + plot_w + 60.0;
    let mut legend = String::new();
    for (i, s) in schedulers.iter().enumerate() {
        let x = label_w + i as f64 * 130.0;
        let _ = write!(
            legend,
            r#"<rect x="{x}" y="32" width="10" height="10" fill="{}"/><text x="{}" y="41" font-size="11">{s}</text>"#,
            color(s),
            x + 14.0
        );
    }
    let mut axis = String::new();
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let x = label_w + plot_w * f64::from(i) / 4.0;
        let _ = write!(
            axis,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="50" y2="{:.0}" stroke="#dee2e6"/><text x="{x:.1}" y="{:.0}" font-size="10" text-anchor="middle">{v:.0}</text>"##,
            y,
            y + 14.0
        );
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{label_w}" y="20" font-size="14" font-weight="bold">{title}</text>
{legend}
{axis}
{body}<text x="{:.0}" y="{:.0}" font-size="11" text-anchor="middle">pods bound per second (median; line: min–max)</text>
</svg>
"#,
        label_w + plot_w / 2.0,
        height - 4.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(scheduler: &str, pps: f64, cpu: f64, rss: f64) -> RunResult {
        RunResult {
            shape: "plain-1k".into(),
            nodes: 1000,
            mode: "backlog".into(),
            scheduler: scheduler.into(),
            pods: 100,
            bound: 100,
            pods_per_s: pps,
            cpu_s: cpu,
            rss_mib: rss,
            first_bind_s: 0.5,
            ..RunResult::default()
        }
    }

    #[test]
    fn median_and_range() {
        let s = stat([3.0, 1.0, 2.0, f64::NAN]).expect("values");
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(stat([1.0, 2.0]).map(|s| s.median), Some(1.5));
        assert!(stat([f64::NAN]).is_none());
    }

    #[test]
    fn ratios_and_targets_in_the_table() {
        let runs = vec![
            r("caldera", 800.0, 1.0, 50.0),
            r("raw-binder", 850.0, 0.5, 20.0),
            r("kube-scheduler", 250.0, 8.0, 160.0),
        ];
        let md = markdown(&summarize(&runs));
        assert!(
            md.contains("| plain-1k | backlog | caldera | 100 | 1/1 | 800 |"),
            "{md}"
        );
        // 800/850 = 0.94 ✓; 800/250 = 3.20; CPU/pod 0.125 ✓; RSS 0.31 ✓; first bind 0.5 ✓.
        assert!(
            md.contains("| plain-1k | backlog | 0.94 ✓ | 3.20 | 0.12 ✓ | 0.31 ✓ | 0.50 ✓ | 50.0 ✓ |"),
            "{md}"
        );
        let svg = svg(&summarize(&runs), "t");
        assert!(svg.starts_with("<svg") && svg.contains("kube-scheduler"));
    }

    #[test]
    fn no_cost_ratio_against_a_kube_scheduler_that_bound_no_run_whole() {
        let mut stuck = r("kube-scheduler", f64::NAN, 1200.0, 570.0);
        stuck.bound = 0;
        stuck.problem = "0/100 pods bound: no bind for 1200s".into();
        let runs = vec![r("caldera", 700.0, 25.0, 400.0), stuck];
        let md = markdown(&summarize(&runs));
        assert!(md.contains("| kube-scheduler | 100 | 0/1 | — |"), "{md}");
        assert!(
            md.contains("| plain-1k | backlog | — — | — | — — | — — | 0.50 ✓ | 400 ✓ |"),
            "{md}"
        );
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        let mut x = r("caldera", 1.0, 1.0, 1.0);
        x.writes = "POST events=3;PATCH pods/status=2".into();
        x.problem = "a, b".into();
        let row = csv_row(&x);
        assert!(row.ends_with(",POST events=3;PATCH pods/status=2,\"a, b\""), "{row}");
        assert_eq!(row.split(',').count(), CSV_HEADER.split(',').count() + 1);
    }
}
