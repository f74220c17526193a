//! Heap bytes per pending pod of each shape's snapshot, measured with a counting global allocator:
//! the bytes still allocated once the records have been built and turned into the snapshot (the
//! records' strings move into it; everything else the builder held is freed), divided by the
//! shape's pending pods. Node records are included, so this is the whole snapshot's cost per pod.
//!
//! Full shapes under `cargo bench`; scaled down 100× without `--bench` (`cargo test --benches`).

use std::alloc::System;
use std::time::Instant;

use caldera_benches::{NOW, Scale, Shape, few_huge_gangs, many_small_gangs, mixed_fleet};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn live(region: &Region<'_, System>) -> i64 {
    let s = region.change();
    i64::try_from(s.bytes_allocated).unwrap_or(i64::MAX) - i64::try_from(s.bytes_deallocated).unwrap_or(i64::MAX)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full { Scale::FULL } else { Scale(100) };
    let shapes: [fn(Scale) -> Shape; 3] = [many_small_gangs, few_huge_gangs, |s| mixed_fleet(s, 42)];
    for make in shapes {
        let region = Region::new(GLOBAL);
        let t = Instant::now();
        let shape = make(scale);
        let (name, pending) = (shape.name, shape.cluster.pending_pods());
        let records = live(&region);
        let snap = shape.cluster.into_snapshot(NOW);
        let built = t.elapsed();
        let bytes = live(&region);
        let per_pod = bytes as f64 / pending.max(1) as f64;
        println!(
            "{name}: {} nodes, {} tasks, {} classes, {pending} pending pods: snapshot {:.1} MiB = {per_pod:.0} bytes per pending pod (records were {:.1} MiB; built in {:.0} ms)",
            snap.nodes.len(),
            snap.tasks.len(),
            snap.classes.len(),
            bytes as f64 / (1024.0 * 1024.0),
            records as f64 / (1024.0 * 1024.0),
            built.as_secs_f64() * 1e3,
        );
        assert!(bytes > 0, "{name}: the counting allocator saw the snapshot");
        drop(snap);
    }
}
