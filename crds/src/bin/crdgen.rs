//! `crdgen [--check] [DIR]`: writes Caldera's CRDs as YAML into DIR (default `manifests/crds`),
//! or with `--check` verifies DIR is current and exits 1 if not.
//!
//! Run from the workspace root. The YAML is derived from the Rust types so the two cannot drift;
//! CI runs `--check` to catch a type change committed without regenerating.
// Data from the API, files and the network must never panic the scheduler: outside tests, no
// unwrap/expect at all (a programming-error invariant says so with a scoped `expect` attribute).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::{path::PathBuf, process::ExitCode};

use caldera_crds::manifest;

const USAGE: &str = "usage: crdgen [--check] [DIR]\n\n\
    Writes one YAML file per CRD into DIR (default manifests/crds).\n\
    --check  write nothing; exit 1 and list files that are missing or stale";

fn main() -> ExitCode {
    let mut check = false;
    let mut dir: Option<PathBuf> = None;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--check") => check = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some(s) if s.starts_with('-') => {
                eprintln!("crdgen: unknown option {s}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("crdgen: more than one DIR given\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(manifest::DEFAULT_DIR));

    if check {
        match manifest::check(&dir) {
            Ok(drift) if drift.is_empty() => ExitCode::SUCCESS,
            Ok(drift) => {
                for d in &drift {
                    eprintln!("{d}");
                }
                eprintln!(
                    "crdgen: {} file(s) out of date; run `cargo run -p caldera-crds --bin crdgen`",
                    drift.len()
                );
                ExitCode::FAILURE
            }
            Err(e) => report(&e),
        }
    } else {
        match manifest::write(&dir) {
            Ok(written) => {
                for p in &written {
                    println!("wrote {}", p.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        }
    }
}

/// Prints an error with its whole cause chain, since the I/O reason is usually one level down.
fn report(e: &dyn std::error::Error) -> ExitCode {
    eprint!("crdgen: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprint!(": {s}");
        source = s.source();
    }
    eprintln!();
    ExitCode::FAILURE
}
