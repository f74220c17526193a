//! The fixed cost of every runtime cycle: `Store::snapshot`, which copies the cached records and
//! assembles the engine's snapshot from them, on each shape of `caldera_benches`. Scheduling
//! itself is the `cycle` bench; this is what a cycle pays before it schedules anything, and
//! what a cycle prompted by one new pod costs on a large cluster.
//!
//! `cargo bench -p caldera-benches --bench snapshot` runs the full shapes; without `--bench` (as
//! under `cargo test --benches`) they are scaled down 100×.

mod shared;
/// The `caldera` binary's allocator, so these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use caldera::runtime::store::{Change, Entry, Kind, PodEntry, Store};
use caldera_benches::{NOW, all_shapes};
use caldera_testkit::ClusterBuilder;
use criterion::{SamplingMode, Throughput};

/// A synced store holding the shape's records, as the watches would have filled it.
fn store_of(cluster: &ClusterBuilder) -> Store {
    let kinds = [
        Kind::Node,
        Kind::Pod,
        Kind::VolcanoGroup,
        Kind::CoschedulingGroup,
        Kind::NativeGroup,
        Kind::Queue,
    ];
    let mut store = Store::new(kinds);
    let key = |ns: &str, name: &str| (ns.to_string(), name.to_string());
    for n in cluster.nodes() {
        store.apply(Change::Upsert(
            Kind::Node,
            key("", &n.name),
            Box::new(Entry::Node(n.clone())),
        ));
    }
    for q in cluster.queues() {
        let entry = Entry::Queue(caldera::runtime::store::QueueEntry {
            info: q.clone(),
            status: serde_json::Value::Null,
        });
        store.apply(Change::Upsert(Kind::Queue, key("", &q.name), Box::new(entry)));
    }
    for g in cluster.groups() {
        let Some(kind) = Kind::of_source(g.source) else {
            continue;
        };
        let entry = Entry::Group(Box::new(caldera::runtime::store::GroupEntry {
            record: g.clone(),
            status: serde_json::Value::Null,
            estimated_start: None,
        }));
        store.apply(Change::Upsert(kind, key(&g.namespace, &g.name), Box::new(entry)));
    }
    for p in cluster.pods() {
        let entry = Entry::Pod(PodEntry::Valid(Box::new(p.clone())));
        store.apply(Change::Upsert(Kind::Pod, key(&p.namespace, &p.name), Box::new(entry)));
    }
    for kind in kinds {
        store.apply(Change::Synced(kind));
    }
    store
}

fn main() {
    let scale = shared::scale();
    let mut c = shared::criterion();
    let mut group = c.benchmark_group("snapshot");
    group.sampling_mode(SamplingMode::Flat);
    for shape in all_shapes(scale) {
        let store = store_of(&shape.cluster);
        let names = shape.cluster.resources().clone();
        let snap = store.snapshot(&names, NOW);
        assert_eq!(
            snap.tasks.len(),
            shape.cluster.pods().len(),
            "{}: every pod is in the snapshot",
            shape.name
        );
        assert_eq!(
            snap.nodes.len(),
            shape.cluster.nodes().len(),
            "{}: every node is in the snapshot",
            shape.name
        );
        group.throughput(Throughput::Elements(snap.tasks.len() as u64));
        group.bench_function(shape.name, |b| b.iter(|| store.snapshot(&names, NOW)));
    }
    group.finish();
    c.final_summary();
}
