//! One full default-pipeline cycle per shape (see `caldera_benches`), the snapshot built outside
//! the timed part. Before criterion measures a shape, the best of three plain runs is printed as
//! pods placed (bound) per second.
//!
//! `cargo bench -p caldera-benches --bench cycle` runs the full shapes; without `--bench` (as
//! under `cargo test --benches`) the shapes are scaled down 100× so the run stays short. The
//! environment variable `CALDERA_BENCH_CONFIG` names a configuration file to measure instead of
//! the default pipeline.

mod shared;
/// The `caldera` binary's allocator, so these figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use caldera_benches::all_shapes;
use caldera_plugins::Pipeline;
use criterion::{BatchSize, SamplingMode, Throughput};

fn main() {
    let scale = shared::scale();
    // CALDERA_BENCH_CONFIG names a configuration file to measure instead of the default one
    // (e.g. one of manifests/examples/policies/).
    let pipeline = match std::env::var("CALDERA_BENCH_CONFIG") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let cfg = caldera_framework::SchedulerConfig::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            Pipeline::from_config(&cfg).unwrap_or_else(|e| panic!("{path}: {e}"))
        }
        Err(_) => match Pipeline::default_pipeline() {
            Ok(p) => p,
            Err(e) => panic!("the default configuration does not load: {e}"),
        },
    };
    let mut c = shared::criterion();
    let mut group = c.benchmark_group("cycle");
    group.sampling_mode(SamplingMode::Flat);
    for shape in all_shapes(scale) {
        let snap = shape.snapshot();
        let pending = shape.cluster.pending_pods();
        let mut best = Duration::MAX;
        let mut placed = 0;
        for _ in 0..3 {
            let input = snap.clone();
            let t = Instant::now();
            let result = pipeline.run(input);
            // Dropping the result is not part of the cycle (criterion leaves it out too).
            best = best.min(t.elapsed());
            placed = result.1.binds.len();
        }
        println!(
            "{} ({}): {} nodes, {pending} pending pods: {placed} placed in {:.1} ms = {:.0} pods placed/s",
            shape.name,
            shape.description,
            snap.nodes.len(),
            best.as_secs_f64() * 1e3,
            placed as f64 / best.as_secs_f64().max(1e-9),
        );
        group.throughput(Throughput::Elements(u64::try_from(pending).unwrap_or(u64::MAX)));
        group.bench_function(shape.name, |b| {
            b.iter_batched(|| snap.clone(), |s| pipeline.run(s), BatchSize::LargeInput);
        });
    }
    group.finish();
    c.final_summary();
}
