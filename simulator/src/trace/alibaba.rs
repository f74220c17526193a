//! The Alibaba GPU cluster trace v2023 ("openb", ATC'23): a node list
//! (`sn,cpu_milli,memory_mib,gpu,model`) and pod lists
//! (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`).
//!
//! Each pod is a job of one pod. Its group (queue) is its QoS class (LS, BE, Burstable,
//! Guaranteed): the trace has no tenants. It runs from `scheduled_time` to `deletion_time`; a pod
//! the trace never scheduled has no known run time and is left out (counted). A GPU-sharing pod
//! (`gpu_milli` < 1000) asks for a whole GPU: Caldera schedules whole GPUs and MIG slices, not
//! time-shared fractions. `gpu_spec` (e.g. `V100M16|V100M32`) restricts the pod to those models.

use super::csv::Table;
use super::{TraceError, TraceJob, TraceNode};

/// Reads a node list.
pub fn read_nodes(text: &str) -> Result<Vec<TraceNode>, TraceError> {
    let t = Table::parse(text)?;
    let (sn, cpu, mem, gpu, model) = (
        t.column("sn")?,
        t.column("cpu_milli")?,
        t.column("memory_mib")?,
        t.column("gpu")?,
        t.column("model")?,
    );
    t.rows()
        .map(|r| {
            let gpus: u32 = r.num(gpu)?;
            Ok(TraceNode {
                name: r.get(sn).to_string(),
                cpu_milli: r.num(cpu)?,
                memory_mib: r.num(mem)?,
                gpus,
                model: Some(r.get(model).to_string()).filter(|m| !m.is_empty() && gpus > 0),
            })
        })
        .collect()
}

/// Reads a pod list; returns the jobs and how many pods were left out for having never been
/// scheduled in the trace (so no run time is known).
pub fn read_pods(text: &str) -> Result<(Vec<TraceJob>, usize), TraceError> {
    let t = Table::parse(text)?;
    for c in ["creation_time", "deletion_time", "scheduled_time"] {
        if !t.has(c) {
            return Err(TraceError::Format(format!(
                "no column {c:?}: this pod list has no times (the multigpu* variants have none); use the default, cpu*, gpushare* or gpuspec* lists"
            )));
        }
    }
    let (name, cpu, mem, gpus, qos) = (
        t.column("name")?,
        t.column("cpu_milli")?,
        t.column("memory_mib")?,
        t.column("num_gpu")?,
        t.column("qos")?,
    );
    let (created, deleted, scheduled) = (
        t.column("creation_time")?,
        t.column("deletion_time")?,
        t.column("scheduled_time")?,
    );
    let spec = t.has("gpu_spec").then(|| t.column("gpu_spec")).transpose()?;
    let mut jobs = Vec::new();
    let mut never_scheduled = 0;
    for r in t.rows() {
        if r.get(scheduled).is_empty() {
            never_scheduled += 1;
            continue;
        }
        let (start, end) = (r.whole(scheduled)?, r.whole(deleted)?);
        if end < start {
            return Err(TraceError::Format(format!(
                "line {}: deletion_time {end} is before scheduled_time {start}",
                r.line()
            )));
        }
        let models = spec
            .map(|c| r.get(c))
            .unwrap_or_default()
            .split('|')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        jobs.push(TraceJob {
            name: r.get(name).to_string(),
            group: Some(r.get(qos)).filter(|q| !q.is_empty()).unwrap_or("none").to_string(),
            submit_s: r.whole(created)?,
            duration_s: end - start,
            gpus: r.num(gpus)?,
            cpu_milli: Some(r.num(cpu)?),
            memory_mib: Some(r.num(mem)?),
            gpu_models: models,
        });
    }
    Ok((jobs, never_scheduled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_gpu_model_and_cpu_nodes_have_none() {
        let n = read_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,131072,0,\n")
            .expect("reads");
        assert_eq!(n[0].model.as_deref(), Some("P100"));
        assert_eq!((n[0].cpu_milli, n[0].memory_mib, n[0].gpus), (64_000, 262_144, 2));
        assert_eq!(n[1].model, None);
    }

    #[test]
    fn pods_become_single_pod_jobs_and_unscheduled_ones_are_counted() {
        let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n\
            a,12000,16384,1,460,,LS,Running,10,500,20\n\
            b,6000,12288,2,1000,V100M16|V100M32,BE,Succeeded,30,90,40\n\
            c,6000,12288,1,1000,,BE,Pending,50,900,\n";
        let (jobs, skipped) = read_pods(text).expect("reads");
        assert_eq!(skipped, 1);
        assert_eq!(jobs.len(), 2);
        assert_eq!((jobs[0].submit_s, jobs[0].duration_s, jobs[0].gpus), (10, 480, 1));
        assert_eq!(jobs[0].group, "LS");
        assert_eq!(jobs[1].gpu_models, ["V100M16", "V100M32"]);
        let e = read_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\n").expect_err("no times");
        assert!(e.to_string().contains("multigpu"), "{e}");
    }

    #[test]
    fn reads_the_real_trace_when_present() {
        let dir = std::path::Path::new("/work/shared/traces/alibaba-gpu-v2023");
        let (Ok(nodes), Ok(pods)) = (
            std::fs::read_to_string(dir.join("openb_node_list_gpu_node.csv")),
            std::fs::read_to_string(dir.join("openb_pod_list_default.csv")),
        ) else {
            return; // Only the fixture tests above run where the trace is not installed.
        };
        let nodes = read_nodes(&nodes).expect("nodes read");
        assert_eq!(nodes.len(), 1213);
        assert_eq!(nodes.iter().map(|n| i64::from(n.gpus)).sum::<i64>(), 6212);
        let (jobs, skipped) = read_pods(&pods).expect("pods read");
        assert_eq!(jobs.len() + skipped, 8152);
        assert_eq!(skipped, 897);
    }
}
