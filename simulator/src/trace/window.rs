//! Choosing a contiguous window of a trace: from a point in time, for a span of time and/or a
//! number of jobs. Submission times in the result are relative to the window's start, so the
//! simulation starts at zero.

use super::{TraceError, TraceJob};

/// Where a window starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At this time on the trace's own clock (seconds).
    At(i64),
    /// This many seconds after the trace's first submission.
    After(i64),
}

/// A contiguous window of submissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Start (default: the first submission).
    pub start: Option<Start>,
    /// Length in seconds (default: to the end of the trace).
    pub length_s: Option<i64>,
    /// At most this many jobs, the earliest first (default: all in the span).
    pub max_jobs: Option<usize>,
}

/// The jobs submitted inside `w`, in submission order (ties keep trace order), with submission
/// times shifted so the window starts at 0; also the window's start on the trace clock.
pub fn select(mut jobs: Vec<TraceJob>, w: &Window) -> Result<(Vec<TraceJob>, i64), TraceError> {
    jobs.sort_by_key(|j| j.submit_s);
    let first = jobs
        .first()
        .map(|j| j.submit_s)
        .ok_or_else(|| TraceError::Options("the trace has no jobs".into()))?;
    let start = match w.start {
        None => first,
        Some(Start::At(t)) => t,
        Some(Start::After(d)) => first.saturating_add(d),
    };
    let end = w.length_s.map_or(i64::MAX, |l| start.saturating_add(l));
    let mut out: Vec<TraceJob> = jobs
        .into_iter()
        .filter(|j| j.submit_s >= start && j.submit_s < end)
        .take(w.max_jobs.unwrap_or(usize::MAX))
        .collect();
    if out.is_empty() {
        return Err(TraceError::Options(
            "the window holds no job: check --from and --window against the trace's time span".into(),
        ));
    }
    for j in &mut out {
        j.submit_s -= start;
    }
    Ok((out, start))
}

/// Seconds since 1970-01-01 of a naive `YYYY-MM-DD[ HH:MM[:SS]]` (also with `T`), or `None`.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00"),
    };
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (t.next()??, t.next()??);
    let sec = t.next().unwrap_or(Some(0))?;
    if t.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..=60).contains(&sec) {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, submit_s: i64) -> TraceJob {
        TraceJob {
            name: name.into(),
            group: "g".into(),
            submit_s,
            duration_s: 10,
            gpus: 1,
            cpu_milli: None,
            memory_mib: None,
            gpu_models: vec![],
        }
    }

    #[test]
    fn dates_match_unix_time() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("2017-10-09 07:01:55"), Some(1_507_532_515));
        assert_eq!(parse_datetime("2000-03-01T00:00"), Some(951_868_800));
        assert_eq!(parse_datetime("2017-13-01"), None);
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime("2017-10-09 7"), None);
    }

    #[test]
    fn selects_a_sorted_contiguous_window_relative_to_its_start() {
        let jobs = vec![
            job("c", 300),
            job("a", 100),
            job("b", 200),
            job("d", 400),
            job("a2", 100),
        ];
        let w = Window {
            start: Some(Start::After(100)),
            length_s: Some(200),
            max_jobs: None,
        };
        let (sel, start) = select(jobs.clone(), &w).expect("jobs");
        assert_eq!(start, 200);
        let names: Vec<_> = sel.iter().map(|j| (j.name.as_str(), j.submit_s)).collect();
        assert_eq!(names, [("b", 0), ("c", 100)]);

        let (sel, _) = select(
            jobs.clone(),
            &Window {
                max_jobs: Some(2),
                ..Window::default()
            },
        )
        .expect("jobs");
        let names: Vec<_> = sel.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["a", "a2"], "ties keep trace order");

        let empty = select(
            jobs,
            &Window {
                start: Some(Start::At(10_000)),
                ..Window::default()
            },
        );
        assert!(empty.is_err_and(|e| e.to_string().contains("no job")));
    }
}
