//! What the criterion benches share: the scale of the shapes and criterion's settings.

use std::time::Duration;

use caldera_benches::Scale;
use criterion::Criterion;

/// Full shapes under `cargo bench`; without `--bench` (as under `cargo test --benches`) they are
/// scaled down 100× so the test run stays short.
pub fn scale() -> Scale {
    if std::env::args().any(|a| a == "--bench") {
        Scale::FULL
    } else {
        Scale(100)
    }
}

/// Few samples over a short time: a full-size shape takes up to a second per iteration on the
/// project's 2-core machine.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .without_plots()
        .configure_from_args()
}
