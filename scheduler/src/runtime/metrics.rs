//! Prometheus metrics of the running scheduler, served on `/metrics` by the admin server.
//!
//! Where Volcano's scheduler (`pkg/scheduler/metrics`) has a metric for the same thing, Caldera
//! exports it under Volcano's name, labels and unit, so that existing Volcano dashboards and
//! alerts keep working when Caldera replaces `vc-scheduler`. Metrics Volcano has no equivalent
//! for carry the `caldera_` prefix.
//!
//! | name | type | labels | unit | meaning |
//! |---|---|---|---|---|
//! | `volcano_e2e_scheduling_latency_milliseconds` | histogram | — | ms | duration of one scheduling cycle (snapshot, all actions, commit), as in Volcano |
//! | `volcano_action_scheduling_latency_milliseconds` | histogram | `action` | ms | duration of one action within a cycle |
//! | `volcano_task_scheduling_latency_milliseconds` | histogram | `stage` (always `Bound`) | ms | pod creation → successful bind |
//! | `volcano_schedule_attempts_total` | counter | `result` = `scheduled` \| `unschedulable` \| `error` | pods | scheduling attempts by outcome |
//! | `volcano_queue_allocated_milli_cpu` | gauge | `queue_name` | millicores | CPU allocated to the queue's running pods |
//! | `volcano_queue_allocated_memory_bytes` | gauge | `queue_name` | bytes | memory allocated to the queue |
//! | `volcano_queue_allocated_scalar_resources` | gauge | `queue_name`, `resource` | resource units | other resources (GPUs, …) allocated to the queue |
//! | `volcano_queue_deserved_milli_cpu` | gauge | `queue_name` | millicores | the queue's fair share of CPU (proportion plugin) |
//! | `volcano_queue_deserved_memory_bytes` | gauge | `queue_name` | bytes | the queue's fair share of memory |
//! | `volcano_queue_deserved_scalar_resources` | gauge | `queue_name`, `resource` | resource units | the queue's fair share of other resources |
//! | `volcano_queue_pod_group_pending_count` | gauge | `queue_name` | PodGroups | PodGroups of the queue waiting to be scheduled |
//! | `caldera_pods_bound_total` | counter | — | pods | pods bound successfully |
//! | `caldera_bind_errors_total` | counter | `reason` | binds | failed bind calls, by reason |
//! | `caldera_evictions_total` | counter | `action` = `preempt` \| `reclaim` | pods | pods evicted to make room for a pending gang |
//! | `caldera_config_reloads_total` | counter | `result` = `success` \| `failure` | reloads | configuration (re)loads |
//! | `caldera_config_warnings_total` | counter | `kind` (`unknown_key`, `unknown_plugin`, `unavailable_plugin`, `unknown_argument`, `unavailable_action`) | warnings | problems found in the configuration that did not stop it loading |
//! | `caldera_is_leader` | gauge | — | 0/1 | 1 while this instance holds the leader lease |
//! | `caldera_cache_objects` | gauge | `kind` | objects | objects in the informer cache, by kind |
//! | `caldera_reports_queued` | gauge | — | writes | status, condition and event writes waiting for the API server (they yield to binds) |
//! | `caldera_events_dropped_total` | counter | — | events | events not written because too many were waiting |
//!
//! Histogram buckets (upper bounds, ms): the cycle and action histograms use 5 · 2ⁿ for
//! n = 0…14 (5 ms … 81.92 s), Volcano's classic layout; the pod latency histogram uses
//! 5 · 2ⁿ for n = 0…17 (5 ms … 655 s), since a gang can legitimately wait minutes for capacity.
//! Volcano has changed bucket layouts between releases (and older releases measured actions in
//! microseconds, as `volcano_action_scheduling_latency_microseconds`); `histogram_quantile`
//! works with any layout, so dashboards that query the current names are unaffected.
//!
//! The exposition is OpenMetrics text ([`CONTENT_TYPE`]), which Prometheus scrapes natively.
//! Counters are registered without the `_total` suffix because the encoder appends it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The HTTP `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `stage` label value of the pod latency histogram: Volcano labels its
/// `task_scheduling_latency_milliseconds` observations by stage, and Caldera observes at bind.
const STAGE_BOUND: &str = "Bound";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueResourceLabels {
    queue_name: String,
    resource: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Volcano's split of a queue's resources: CPU and memory get their own metric, everything else
/// shares a `*_scalar_resources` metric with a `resource` label.
#[derive(Clone, Debug, Default)]
struct QueueResourceGauges {
    milli_cpu: Family<QueueLabels, Gauge>,
    memory_bytes: Family<QueueLabels, Gauge>,
    scalar: Family<QueueResourceLabels, Gauge>,
}

impl QueueResourceGauges {
    fn register(&self, registry: &mut Registry, what: &str, help: &str) {
        registry.register(
            format!("volcano_queue_{what}_milli_cpu"),
            format!("{help} CPU of one queue, in millicores"),
            self.milli_cpu.clone(),
        );
        registry.register(
            format!("volcano_queue_{what}_memory_bytes"),
            format!("{help} memory of one queue, in bytes"),
            self.memory_bytes.clone(),
        );
        registry.register(
            format!("volcano_queue_{what}_scalar_resources"),
            format!("{help} scalar resources of one queue"),
            self.scalar.clone(),
        );
    }

    fn set(&self, queue: &str, resource: &str, value: i64) {
        let queue_name = queue.to_string();
        match resource {
            "cpu" => {
                self.milli_cpu.get_or_create(&QueueLabels { queue_name }).set(value);
            }
            "memory" => {
                self.memory_bytes.get_or_create(&QueueLabels { queue_name }).set(value);
            }
            _ => {
                let labels = QueueResourceLabels {
                    queue_name,
                    resource: resource.to_string(),
                };
                self.scalar.get_or_create(&labels).set(value);
            }
        }
    }

    fn forget(&self, queue: &str, scalar_resources: &BTreeSet<String>) {
        let queue_name = queue.to_string();
        self.milli_cpu.remove(&QueueLabels {
            queue_name: queue_name.clone(),
        });
        self.memory_bytes.remove(&QueueLabels {
            queue_name: queue_name.clone(),
        });
        for resource in scalar_resources {
            self.scalar.remove(&QueueResourceLabels {
                queue_name: queue_name.clone(),
                resource: resource.clone(),
            });
        }
    }
}

/// The scheduler's metric registry and a handle on every metric in it.
///
/// All recording methods take `&self` and are cheap (atomics, plus a read lock for labelled
/// metrics), so the scheduler loop, binders and informers share one `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    cycle_latency: Histogram,
    action_latency: HistogramFamily<ActionLabels>,
    pod_latency: HistogramFamily<StageLabels>,
    schedule_attempts: Family<ResultLabels, Counter>,
    queue_allocated: QueueResourceGauges,
    queue_deserved: QueueResourceGauges,
    pending_pod_groups: Family<QueueLabels, Gauge>,
    pods_bound: Counter,
    bind_errors: Family<ReasonLabels, Counter>,
    evictions: Family<ActionLabels, Counter>,
    config_reloads: Family<ResultLabels, Counter>,
    config_warnings: Family<KindLabels, Counter>,
    leader: Gauge,
    cache_objects: Family<KindLabels, Gauge>,
    reports_queued: Gauge,
    events_dropped: Counter,
    /// Scalar resources seen per queue, so [`Metrics::forget_queue`] can remove their series
    /// (prometheus-client families have no partial-match removal).
    queue_scalars: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

fn cycle_histogram() -> Histogram {
    Histogram::new(exponential_buckets(5.0, 2.0, 15))
}

fn pod_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(5.0, 2.0, 18))
}

/// Seconds to milliseconds, clamping negatives (e.g. a pod whose creation timestamp is ahead of
/// our clock) to zero rather than recording nonsense.
fn millis(seconds: f64) -> f64 {
    if seconds.is_finite() && seconds > 0.0 {
        seconds * 1000.0
    } else {
        0.0
    }
}

impl Metrics {
    /// Creates the registry with every metric registered, so all of them appear on the first
    /// scrape (labelled families appear once a label value is first recorded).
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let cycle_latency = cycle_histogram();
        let action_latency: HistogramFamily<ActionLabels> = Family::new_with_constructor(cycle_histogram);
        let pod_latency: HistogramFamily<StageLabels> = Family::new_with_constructor(pod_latency_histogram);
        let schedule_attempts = Family::<ResultLabels, Counter>::default();
        let queue_allocated = QueueResourceGauges::default();
        let queue_deserved = QueueResourceGauges::default();
        let pending_pod_groups = Family::<QueueLabels, Gauge>::default();
        let pods_bound = Counter::default();
        let bind_errors = Family::<ReasonLabels, Counter>::default();
        let evictions = Family::<ActionLabels, Counter>::default();
        let config_reloads = Family::<ResultLabels, Counter>::default();
        let config_warnings = Family::<KindLabels, Counter>::default();
        let leader = Gauge::default();
        let cache_objects = Family::<KindLabels, Gauge>::default();
        let reports_queued = Gauge::default();
        let events_dropped = Counter::default();

        registry.register(
            "volcano_e2e_scheduling_latency_milliseconds",
            "Duration of one scheduling cycle in milliseconds (snapshot, actions and commit)",
            cycle_latency.clone(),
        );
        registry.register(
            "volcano_action_scheduling_latency_milliseconds",
            "Action scheduling latency in milliseconds",
            action_latency.clone(),
        );
        registry.register(
            "volcano_task_scheduling_latency_milliseconds",
            "Task scheduling latency in milliseconds, from pod creation to the given stage",
            pod_latency.clone(),
        );
        registry.register(
            "volcano_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be \
             scheduled, while 'error' means an internal scheduler problem",
            schedule_attempts.clone(),
        );
        queue_allocated.register(&mut registry, "allocated", "Allocated");
        queue_deserved.register(&mut registry, "deserved", "Deserved");
        registry.register(
            "volcano_queue_pod_group_pending_count",
            "The number of Pending PodGroups in this queue",
            pending_pod_groups.clone(),
        );
        registry.register("caldera_pods_bound", "Pods bound successfully", pods_bound.clone());
        registry.register(
            "caldera_bind_errors",
            "Failed bind calls, by reason",
            bind_errors.clone(),
        );
        registry.register(
            "caldera_evictions",
            "Pods evicted to make room for a pending gang, by the action that decided it",
            evictions.clone(),
        );
        registry.register(
            "caldera_config_reloads",
            "Scheduler configuration loads, by result (success or failure)",
            config_reloads.clone(),
        );
        registry.register(
            "caldera_config_warnings",
            "Problems found in the scheduler configuration that did not prevent loading it, by kind",
            config_warnings.clone(),
        );
        registry.register(
            "caldera_is_leader",
            "1 while this instance holds the leader-election lease, else 0",
            leader.clone(),
        );
        registry.register(
            "caldera_cache_objects",
            "Objects in the scheduler's informer cache, by kind",
            cache_objects.clone(),
        );
        registry.register(
            "caldera_reports_queued",
            "Status, condition and event writes waiting for the API server (they yield to binds)",
            reports_queued.clone(),
        );
        registry.register(
            "caldera_events_dropped",
            "Events not written because too many were waiting",
            events_dropped.clone(),
        );

        Arc::new(Metrics {
            registry,
            cycle_latency,
            action_latency,
            pod_latency,
            schedule_attempts,
            queue_allocated,
            queue_deserved,
            pending_pod_groups,
            pods_bound,
            bind_errors,
            evictions,
            config_reloads,
            config_warnings,
            leader,
            cache_objects,
            reports_queued,
            events_dropped,
            queue_scalars: Mutex::new(BTreeMap::new()),
        })
    }

    /// Renders every metric in the OpenMetrics text format ([`CONTENT_TYPE`]), ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(err) = encode(&mut out, &self.registry) {
            // Writing to a String cannot fail; an error would come from a metric's own encoder.
            // A partial scrape is more useful than none, so serve what was written.
            tracing::warn!(error = %err, "encoding metrics failed");
        }
        out
    }

    /// Records how long a pod took from creation to being bound, in seconds.
    pub fn observe_e2e_latency(&self, seconds: f64) {
        self.pod_latency
            .get_or_create(&StageLabels {
                stage: STAGE_BOUND.to_string(),
            })
            .observe(millis(seconds));
    }

    /// Records the duration of one whole scheduling cycle, in seconds.
    pub fn observe_cycle(&self, seconds: f64) {
        self.cycle_latency.observe(millis(seconds));
    }

    /// Records the duration of one action (`enqueue`, `allocate`, …) within a cycle, in seconds.
    pub fn observe_action(&self, action: &str, seconds: f64) {
        self.action_latency
            .get_or_create(&ActionLabels {
                action: action.to_string(),
            })
            .observe(millis(seconds));
    }

    /// Counts `n` pods bound successfully.
    pub fn pods_bound(&self, n: u64) {
        self.pods_bound.inc_by(n);
    }

    /// Counts one failed bind call. Keep `reason` to a small fixed set (e.g. `conflict`,
    /// `not_found`, `timeout`, `api_error`): every distinct value is a new time series.
    pub fn bind_error(&self, reason: &str) {
        self.bind_errors
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts one pod evicted by `action` (`preempt` or `reclaim`).
    pub fn eviction(&self, action: &str) {
        self.evictions
            .get_or_create(&ActionLabels {
                action: action.to_string(),
            })
            .inc();
    }

    /// Counts one scheduling attempt by outcome: `scheduled`, `unschedulable` or `error`.
    pub fn schedule_attempt(&self, result: &str) {
        self.schedule_attempts
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// Sets the number of PodGroups of `queue` still waiting to be scheduled.
    pub fn set_pending_jobs(&self, queue: &str, n: i64) {
        self.pending_pod_groups
            .get_or_create(&QueueLabels {
                queue_name: queue.to_string(),
            })
            .set(n);
    }

    /// Sets a queue's allocated amount of one resource. Units follow Volcano: `cpu` in
    /// millicores, `memory` in bytes, anything else (e.g. `nvidia.com/gpu`) in its own unit.
    pub fn set_queue_allocated(&self, queue: &str, resource: &str, value: i64) {
        self.note_scalar(queue, resource);
        self.queue_allocated.set(queue, resource, value);
    }

    /// Sets a queue's deserved (fair-share) amount of one resource; units as in
    /// [`Metrics::set_queue_allocated`].
    pub fn set_queue_deserved(&self, queue: &str, resource: &str, value: i64) {
        self.note_scalar(queue, resource);
        self.queue_deserved.set(queue, resource, value);
    }

    /// Removes every series of a deleted queue, so dashboards do not show it forever.
    pub fn forget_queue(&self, queue: &str) {
        let scalars = self
            .queue_scalars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(queue)
            .unwrap_or_default();
        self.queue_allocated.forget(queue, &scalars);
        self.queue_deserved.forget(queue, &scalars);
        self.pending_pod_groups.remove(&QueueLabels {
            queue_name: queue.to_string(),
        });
    }

    fn note_scalar(&self, queue: &str, resource: &str) {
        if resource == "cpu" || resource == "memory" {
            return;
        }
        let mut known = self
            .queue_scalars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let resources = known.entry(queue.to_string()).or_default();
        if !resources.contains(resource) {
            resources.insert(resource.to_string());
        }
    }

    /// Counts one configuration load, successful or not.
    pub fn config_reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.config_reloads
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts one configuration warning of the given kind (`unknown_plugin`,
    /// `unknown_argument`, `unavailable_action`, …).
    pub fn config_warning(&self, kind: &str) {
        self.config_warnings
            .get_or_create(&KindLabels { kind: kind.to_string() })
            .inc();
    }

    /// Records whether this instance currently holds the leader lease.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Sets the number of report writes waiting for the API server.
    pub fn set_reports_queued(&self, n: usize) {
        self.reports_queued.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts events dropped because the queue of reports was full.
    pub fn events_dropped(&self, n: u64) {
        self.events_dropped.inc_by(n);
    }

    /// Sets the number of cached objects of one kind (`pods`, `nodes`, `podgroups`, …).
    pub fn set_cache_objects(&self, kind: &str, n: i64) {
        self.cache_objects
            .get_or_create(&KindLabels { kind: kind.to_string() })
            .set(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_has(text: &str, line: &str) {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in exposition:\n{text}"
        );
    }

    #[test]
    fn empty_registry_has_descriptors_and_eof() {
        let metrics = Metrics::new();
        let text = metrics.encode();
        assert_has(&text, "# TYPE volcano_e2e_scheduling_latency_milliseconds histogram");
        assert_has(&text, "# TYPE caldera_is_leader gauge");
        // Labelled families have no series yet, and the encoder then omits them entirely.
        assert!(!text.contains("volcano_schedule_attempts"), "{text}");
        assert_has(&text, "caldera_is_leader 0");
        assert_has(&text, "caldera_pods_bound_total 0");
        assert_has(&text, "caldera_reports_queued 0");
        assert_has(&text, "caldera_events_dropped_total 0");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn recorded_values_are_encoded() {
        let metrics = Metrics::new();
        metrics.observe_cycle(0.004); // 4 ms
        metrics.observe_cycle(0.030); // 30 ms
        metrics.observe_action("allocate", 0.012);
        metrics.observe_e2e_latency(1.5);
        metrics.observe_e2e_latency(-3.0); // clock skew: recorded as 0
        metrics.pods_bound(3);
        metrics.pods_bound(2);
        metrics.bind_error("conflict");
        metrics.schedule_attempt("scheduled");
        metrics.schedule_attempt("scheduled");
        metrics.schedule_attempt("unschedulable");
        metrics.set_pending_jobs("default", 4);
        metrics.set_queue_allocated("q1", "cpu", 1500);
        metrics.set_queue_allocated("q1", "memory", 1 << 30);
        metrics.set_queue_allocated("q1", "nvidia.com/gpu", 2);
        metrics.set_queue_deserved("q1", "cpu", 4000);
        metrics.config_reload(true);
        metrics.config_reload(false);
        metrics.config_warning("unknown_plugin");
        metrics.set_leader(true);
        metrics.set_cache_objects("pods", 42);

        let text = metrics.encode();
        assert_has(&text, "volcano_e2e_scheduling_latency_milliseconds_count 2");
        assert_has(&text, "volcano_e2e_scheduling_latency_milliseconds_sum 34.0");
        assert_has(
            &text,
            "volcano_e2e_scheduling_latency_milliseconds_bucket{le=\"5.0\"} 1",
        );
        assert_has(
            &text,
            "volcano_e2e_scheduling_latency_milliseconds_bucket{le=\"40.0\"} 2",
        );
        assert_has(
            &text,
            "volcano_e2e_scheduling_latency_milliseconds_bucket{le=\"+Inf\"} 2",
        );
        assert_has(
            &text,
            "volcano_action_scheduling_latency_milliseconds_bucket{le=\"20.0\",action=\"allocate\"} 1",
        );
        assert_has(
            &text,
            "volcano_action_scheduling_latency_milliseconds_sum{action=\"allocate\"} 12.0",
        );
        assert_has(
            &text,
            "volcano_task_scheduling_latency_milliseconds_count{stage=\"Bound\"} 2",
        );
        assert_has(
            &text,
            "volcano_task_scheduling_latency_milliseconds_sum{stage=\"Bound\"} 1500.0",
        );
        assert_has(&text, "caldera_pods_bound_total 5");
        assert_has(&text, "caldera_bind_errors_total{reason=\"conflict\"} 1");
        assert_has(&text, "volcano_schedule_attempts_total{result=\"scheduled\"} 2");
        assert_has(&text, "volcano_schedule_attempts_total{result=\"unschedulable\"} 1");
        assert_has(&text, "volcano_queue_pod_group_pending_count{queue_name=\"default\"} 4");
        assert_has(&text, "volcano_queue_allocated_milli_cpu{queue_name=\"q1\"} 1500");
        assert_has(
            &text,
            "volcano_queue_allocated_memory_bytes{queue_name=\"q1\"} 1073741824",
        );
        assert_has(
            &text,
            "volcano_queue_allocated_scalar_resources{queue_name=\"q1\",resource=\"nvidia.com/gpu\"} 2",
        );
        assert_has(&text, "volcano_queue_deserved_milli_cpu{queue_name=\"q1\"} 4000");
        assert_has(&text, "caldera_config_reloads_total{result=\"success\"} 1");
        assert_has(&text, "caldera_config_reloads_total{result=\"failure\"} 1");
        assert_has(&text, "caldera_config_warnings_total{kind=\"unknown_plugin\"} 1");
        assert_has(&text, "caldera_is_leader 1");
        assert_has(&text, "caldera_cache_objects{kind=\"pods\"} 42");

        metrics.set_leader(false);
        assert_has(&metrics.encode(), "caldera_is_leader 0");
    }

    #[test]
    fn forget_queue_removes_its_series() {
        let metrics = Metrics::new();
        metrics.set_queue_allocated("gone", "cpu", 1);
        metrics.set_queue_allocated("gone", "example.com/fpga", 1);
        metrics.set_queue_deserved("gone", "memory", 1);
        metrics.set_pending_jobs("gone", 1);
        metrics.set_queue_allocated("kept", "cpu", 7);
        metrics.forget_queue("gone");
        let text = metrics.encode();
        assert!(!text.contains("queue_name=\"gone\""), "{text}");
        assert_has(&text, "volcano_queue_allocated_milli_cpu{queue_name=\"kept\"} 7");
    }
}
