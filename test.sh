#!/usr/bin/env bash
# Every check a change must pass: formatting, lints, generated manifests, unit, property and
# scenario tests, the end-to-end control-plane harness, the simulator end to end, and that the
# benchmarks still build. Needs a Rust toolchain, Go >= 1.26 and kubectl.
# Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (Rust toolchain) is not installed; install it with rustup, then run ./test.sh again" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "generated CRDs are current (crdgen --check)"
cargo run --quiet --locked -p caldera-crds --bin crdgen -- --check manifests/crds

step "build the real control plane for the end-to-end tests (e2e/build; a no-op when up to date)"
e2e/build

step "chromium for the HTML report test (Debian's package, installed only when missing)"
if ! command -v chromium >/dev/null 2>&1; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
fi
chromium --version

step "unit, property, scenario, simulator and end-to-end tests"
cargo test --workspace --locked

step "benchmarks build"
cargo bench --workspace --locked --no-run

step "the control-plane harness itself (e2e/smoke)"
e2e/smoke --no-build

step "the README's first command works: caldera simulate"
cargo run --quiet --release --locked -p caldera -- simulate --format json --report target/simulate-report > target/simulate-default.json
test -s target/simulate-report/index.html
python3 - <<'PY'
import json
r = json.load(open("target/simulate-default.json"))
s = r["summary"]
assert s["pods_bound"] > 0, s
assert set(s) == {"pods", "pods_bound", "makespan_s", "mean_wait_s", "gpu_utilization", "wall_seconds", "decisions_per_second", "evictions", "lost_gpu_hours"}, s
assert all("estimated_start" in g and "reserved_start" in g for g in r["podgroups"]), r["podgroups"][0]
print(f"simulate: {s['pods_bound']}/{s['pods']} pods bound, mean wait {s['mean_wait_s']:.1f}s, GPU utilization {s['gpu_utilization']:.2f}")
PY
