//! The Microsoft Philly trace (ATC'19) as summarised per job by the Pollux artifact:
//! `timestamp,duration,num_gpus,gpu_time,cluster` — submit time (`YYYY-MM-DD HH:MM:SS`), run time in
//! seconds, GPUs, GPU-seconds and the hashed virtual cluster. The virtual cluster is the job's group
//! (its queue). The file is not sorted by time; [`super::select`] sorts.

use super::csv::Table;
use super::window::parse_datetime;
use super::{TraceError, TraceJob};

/// Reads every job; job names are `p<line>` (the line in the file), so a job keeps its name
/// whatever window it is selected in. A job with a negative duration is an error naming its line.
pub fn read_jobs(text: &str) -> Result<Vec<TraceJob>, TraceError> {
    let t = Table::parse(text)?;
    let (ts, dur, gpus, vc) = (
        t.column("timestamp")?,
        t.column("duration")?,
        t.column("num_gpus")?,
        t.column("cluster")?,
    );
    t.rows()
        .map(|r| {
            let submit_s = parse_datetime(r.get(ts)).ok_or_else(|| {
                TraceError::Format(format!(
                    "line {}: column timestamp: {:?} is not YYYY-MM-DD HH:MM:SS",
                    r.line(),
                    r.get(ts)
                ))
            })?;
            let duration_s = r.whole(dur)?;
            if duration_s < 0 {
                return Err(TraceError::Format(format!(
                    "line {}: column duration: negative ({duration_s})",
                    r.line()
                )));
            }
            Ok(TraceJob {
                name: format!("p{}", r.line()),
                group: r.get(vc).to_string(),
                submit_s,
                duration_s,
                gpus: r.num(gpus)?,
                cpu_milli: None,
                memory_mib: None,
                gpu_models: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few lines in the real file's shape, including its float durations and unsorted times.
    pub const FIXTURE: &str = "timestamp,duration,num_gpus,gpu_time,cluster\n\
        2017-10-09 07:01:55,66.0,1,66.0,11cb48\n\
        2017-10-09 06:13:03,2951.0,16,47216.0,6214e9\n\
        2017-10-09 06:13:36,2759.0,4,11036.0,6214e9\n";

    #[test]
    fn reads_jobs_with_their_line_names() {
        let jobs = read_jobs(FIXTURE).expect("reads");
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[1].name, "p3");
        assert_eq!(jobs[1].group, "6214e9");
        assert_eq!(jobs[1].gpus, 16);
        assert_eq!(jobs[1].duration_s, 2951);
        assert_eq!(jobs[0].submit_s - jobs[1].submit_s, 48 * 60 + 52);
    }

    #[test]
    fn bad_rows_are_named() {
        let e = read_jobs("timestamp,duration,num_gpus,cluster\nnot-a-date,1,1,a\n").expect_err("bad date");
        assert!(e.to_string().contains("line 2: column timestamp"), "{e}");
        let e = read_jobs("timestamp,duration,num_gpus,cluster\n2017-10-09 00:00:00,-5,1,a\n").expect_err("neg");
        assert!(e.to_string().contains("negative"), "{e}");
        let e = read_jobs("timestamp,duration,cluster\n").expect_err("no gpus column");
        assert!(e.to_string().contains("num_gpus"), "{e}");
    }

    #[test]
    fn reads_the_real_trace_when_present() {
        let path = std::path::Path::new("/work/shared/traces/philly-pollux/philly.csv");
        let Ok(text) = std::fs::read_to_string(path) else {
            return; // Only the fixture tests above run where the trace is not installed.
        };
        let jobs = read_jobs(&text).expect("the published trace reads");
        assert_eq!(jobs.len(), 82_247);
        assert_eq!(jobs.iter().filter(|j| j.gpus == 128).count(), 3);
    }
}
