//! `caldera simulate --report DIR` as a person sees it: the page is rendered by headless Chromium
//! (Debian's `chromium` package; ./test.sh installs it when missing), its DOM must hold the three
//! charts and the tables, and its screenshot must carry far more drawing than a blank page's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("caldera-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Some(p) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            return p;
        }
    }
    panic!(
        "chromium is not installed, so the HTML report cannot be checked in a browser: \
         install Debian's package with `apt-get install -y chromium` (./test.sh does this when it is missing)"
    );
}

/// Runs headless Chromium with a fresh profile on `page`; returns its standard output. The output
/// goes to a file, not a pipe: a dumped DOM is larger than a pipe's buffer, and a pipe nobody
/// reads until exit would stall Chromium.
fn headless(page: &Path, extra: &[String], profile: &Path) -> String {
    let stdout_file = profile.with_extension("stdout");
    let stdout = std::fs::File::create(&stdout_file).expect("stdout file");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("chromium did not finish rendering {} in 120 s", page.display());
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    String::from_utf8_lossy(&std::fs::read(&stdout_file).expect("chromium output")).into_owned()
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let dir = scratch("out");
    let out = Command::new(env!("CARGO_BIN_EXE_caldera"))
        .args(["simulate", "--report"])
        .arg(&dir)
        .output()
        .expect("caldera runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = dir.join("index.html");
    let html = std::fs::read_to_string(&page).expect("index.html written");
    assert_eq!(html.matches("<svg").count(), 3, "three inline charts");

    let dom = headless(&page, &["--dump-dom".into()], &scratch("profile-dom"));
    assert_eq!(
        dom.matches("<svg").count(),
        3,
        "the browser parsed three charts: {dom:.2000}"
    );
    for text in [
        "GPU utilization over time, per queue",
        "Job wait-time CDF",
        "The first",
        "id=\"summary\"",
        "training",
    ] {
        assert!(dom.contains(text), "the rendered page lacks {text:?}");
    }

    // A blank page's screenshot compresses to almost nothing; charts and tables do not.
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").expect("write blank page");
    let shot = |page: &Path, name: &str| -> u64 {
        let png = dir.join(name);
        headless(
            page,
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1100,2400".into(),
            ],
            &scratch(name),
        );
        let bytes = std::fs::read(&png).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG"), "{name} is a PNG");
        bytes.len() as u64
    };
    let (report, empty) = (shot(&page, "report.png"), shot(&blank, "blank.png"));
    assert!(
        report > 10 * empty && report > 50_000,
        "the report's screenshot ({report} bytes) is hardly more than a blank page's ({empty} bytes)"
    );
}
