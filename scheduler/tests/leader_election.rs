//! Leader election against a real kube-apiserver, started with `e2e/up` (see docs/e2e.md).
//!
//! One control plane serves every scenario, each on its own Lease, because starting one takes
//! several seconds. Timings are short (lease 3 s, renew deadline 2 s, retry 250 ms) to keep the
//! test fast while still exercising real expiry. If the control plane cannot be started the test
//! fails with the reason: a silently skipped election test would hide regressions in the one
//! component that prevents double binding.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caldera::runtime::leader::{self, LeaderError, LeaseSettings};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const NAMESPACE: &str = "default";
const LEASE: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------------------------
// Control plane

struct ControlPlane {
    repo: PathBuf,
    workdir: PathBuf,
    up: Child,
}

impl ControlPlane {
    fn start() -> ControlPlane {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let repo = repo.canonicalize().expect("repository root");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let workdir = std::env::temp_dir().join(format!("caldera-le-{}-{nanos}", std::process::id()));
        let crds = workdir.join("no-crds");
        std::fs::create_dir_all(&crds).expect("create work dir");
        let log = std::fs::File::create(workdir.join("up.log")).expect("create up.log");
        let log_err = log.try_clone().expect("clone log handle");
        let up = Command::new(repo.join("e2e/up"))
            .arg("--workdir")
            .arg(&workdir)
            .arg("--crd-dir")
            .arg(&crds)
            .current_dir(&repo)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}/e2e/up: {e}", repo.display()));
        let mut cp = ControlPlane { repo, workdir, up };
        // e2e/up runs e2e/build first (a no-op when built; ~10 min cold).
        let deadline = Instant::now() + Duration::from_secs(1200);
        while !cp.workdir.join("ready").exists() {
            if let Ok(Some(status)) = cp.up.try_wait() {
                panic!(
                    "e2e/up exited with {status} before the control plane was ready. \
                     Run `e2e/build` and see docs/e2e.md. Tail of {}/up.log:\n{}",
                    cp.workdir.display(),
                    cp.log_tail()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "control plane not ready after 20 min. Tail of up.log:\n{}",
                    cp.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        cp
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.workdir.join("up.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn client(&self, server: Option<SocketAddr>) -> Client {
        let kubeconfig = Kubeconfig::read_from(self.workdir.join("kubeconfig")).expect("read kubeconfig");
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("kubeconfig is usable");
        if let Some(addr) = server {
            // The apiserver's certificate is for 127.0.0.1, so TLS through the proxy still verifies.
            config.cluster_url = format!("https://{addr}").parse().expect("proxy url");
        }
        Client::try_from(config).expect("client")
    }

    fn apiserver_addr(&self) -> SocketAddr {
        let kubeconfig = Kubeconfig::read_from(self.workdir.join("kubeconfig")).expect("read kubeconfig");
        let server = kubeconfig
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
            .expect("kubeconfig names a server");
        let hostport = server.trim_start_matches("https://").trim_end_matches('/');
        hostport.parse().expect("server is ip:port")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let status = Command::new(self.repo.join("e2e/down")).arg(&self.workdir).status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("e2e/down {} failed: {status:?}", self.workdir.display());
        }
        // e2e/up exits after its teardown; reap it (or stop it if e2e/down could not).
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(self.up.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                let _ = self.up.kill();
                let _ = self.up.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Keep the logs of a failed run for diagnosis; drop those of a passing one.
        if std::thread::panicking() {
            eprintln!("control plane logs kept in {}", self.workdir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.workdir);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy in front of the apiserver that can be cut, to make the API unreachable for one
// candidate only. Plain std threads: the crate does not enable tokio's io-util.

struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (cut2, open2) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let handles = [&client, &server].map(|s| s.try_clone().expect("clone socket"));
                open2.lock().expect("lock").extend(handles);
                pipe(client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                pipe(server, client);
            }
        });
        Proxy { addr, cut, open }
    }

    /// From now on, every connection through the proxy fails.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().expect("lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

// ---------------------------------------------------------------------------------------------
// Candidates

struct Candidate {
    leader: watch::Receiver<bool>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), LeaderError>>,
}

fn settings(lease: &str, identity: &str) -> LeaseSettings {
    LeaseSettings {
        name: lease.to_string(),
        namespace: NAMESPACE.to_string(),
        identity: identity.to_string(),
        lease_duration: LEASE,
        renew_deadline: RENEW,
        retry_period: RETRY,
    }
}

fn candidate(client: Client, lease: &str, identity: &str) -> Candidate {
    let (tx, rx) = watch::channel(false);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(leader::run(client, settings(lease, identity), tx, shutdown.clone()));
    Candidate {
        leader: rx,
        shutdown,
        task,
    }
}

/// Waits until the candidate's leader flag equals `want`; returns when that happened.
async fn wait_leader(c: &mut Candidate, want: bool, within: Duration, what: &str) -> Instant {
    let result = tokio::time::timeout(within, c.leader.wait_for(|v| *v == want)).await;
    match result {
        Ok(Ok(_)) => Instant::now(),
        Ok(Err(_)) => panic!("{what}: the election task ended before leader == {want}"),
        Err(_) => panic!("{what}: leader != {want} after {within:?}"),
    }
}

async fn lease(api: &Api<Lease>, name: &str) -> k8s_openapi::api::coordination::v1::LeaseSpec {
    api.get(name).await.expect("get lease").spec.expect("lease has a spec")
}

async fn stop(c: Candidate) -> Result<(), LeaderError> {
    c.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), c.task)
        .await
        .expect("election task stops on shutdown")
        .expect("election task did not panic")
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_election_against_a_real_apiserver() {
    let cp = ControlPlane::start();
    let client = cp.client(None).await;
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);

    // 1. Create, standby, clean release and immediate takeover, crash and takeover on expiry.
    {
        let name = "caldera-failover";
        let mut a = candidate(client.clone(), name, "cand-a");
        wait_leader(&mut a, true, Duration::from_secs(10), "a acquires a missing lease").await;
        let spec = lease(&api, name).await;
        assert_eq!(spec.holder_identity.as_deref(), Some("cand-a"));
        assert_eq!(spec.lease_transitions, Some(0));
        assert_eq!(spec.lease_duration_seconds, Some(3));
        assert!(spec.acquire_time.is_some() && spec.renew_time.is_some(), "{spec:?}");

        let mut b = candidate(client.clone(), name, "cand-b");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!*b.leader.borrow(), "b must stand by while a renews");
        let renewed = lease(&api, name).await.renew_time;
        assert!(
            renewed > spec.renew_time,
            "a keeps renewing: {renewed:?} vs {:?}",
            spec.renew_time
        );
        assert_eq!(
            lease(&api, name).await.acquire_time,
            spec.acquire_time,
            "renewal keeps acquireTime"
        );

        // Clean shutdown releases the lease, so b takes over without waiting for expiry.
        let released = Instant::now();
        stop(a).await.expect("a stops cleanly");
        let b_at = wait_leader(&mut b, true, Duration::from_secs(2), "b takes a released lease").await;
        assert!(b_at - released < Duration::from_secs(2));
        let spec = lease(&api, name).await;
        assert_eq!(spec.holder_identity.as_deref(), Some("cand-b"));
        assert_eq!(spec.lease_transitions, Some(1));

        // A crash (no release): c may only take over once the lease has expired.
        b.task.abort();
        let crashed = Instant::now();
        let mut c = candidate(client.clone(), name, "cand-c");
        let c_at = wait_leader(&mut c, true, Duration::from_secs(10), "c takes an expired lease").await;
        let waited = c_at - crashed;
        assert!(
            waited >= LEASE - RETRY - Duration::from_millis(100),
            "c took over {waited:?} after the crash, before the {LEASE:?} lease could expire"
        );
        let spec = lease(&api, name).await;
        assert_eq!(spec.holder_identity.as_deref(), Some("cand-c"));
        assert_eq!(spec.lease_transitions, Some(2));

        stop(c).await.expect("c stops cleanly");
        let spec = lease(&api, name).await;
        assert_eq!(spec.holder_identity, None, "released lease has no holder");
        assert_eq!(spec.lease_duration_seconds, Some(1));
    }

    // 2. Candidates racing for a missing lease: exactly one wins.
    {
        let name = "caldera-race";
        let mut racers: Vec<Candidate> = (0..4)
            .map(|i| candidate(client.clone(), name, &format!("racer-{i}")))
            .collect();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let leaders: Vec<usize> = (0..racers.len()).filter(|&i| *racers[i].leader.borrow()).collect();
        assert_eq!(leaders.len(), 1, "exactly one leader, got {leaders:?}");
        let holder = lease(&api, name).await.holder_identity;
        assert_eq!(holder, Some(format!("racer-{}", leaders[0])));
        // The others stay standby for a while.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for (i, r) in racers.iter_mut().enumerate() {
            assert_eq!(*r.leader.borrow(), i == leaders[0], "racer {i}");
        }
        for r in racers {
            stop(r).await.expect("racer stops cleanly");
        }
    }

    // 3. Somebody else takes the lease: the leader steps down at once with Lost.
    {
        let name = "caldera-stolen";
        let mut d = candidate(client.clone(), name, "cand-d");
        wait_leader(&mut d, true, Duration::from_secs(10), "d acquires").await;
        let mut stolen = api.get(name).await.expect("get lease");
        if let Some(spec) = stolen.spec.as_mut() {
            spec.holder_identity = Some("intruder".into());
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            spec.lease_duration_seconds = Some(3600);
        }
        // Retry on conflict with d's renewals.
        loop {
            match api.replace(name, &PostParams::default(), &stolen).await {
                Ok(_) => break,
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let fresh = api.get(name).await.expect("get lease");
                    stolen.metadata.resource_version = fresh.metadata.resource_version;
                }
                Err(e) => panic!("steal lease: {e}"),
            }
        }
        let stole = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(5), &mut d.task)
            .await
            .expect("d stops after losing the lease")
            .expect("no panic");
        assert!(matches!(result, Err(LeaderError::Lost)), "{result:?}");
        assert!(stole.elapsed() < RETRY * 4, "stepped down after {:?}", stole.elapsed());
        assert!(!*d.leader.borrow(), "leader flag cleared on loss");
        assert_eq!(lease(&api, name).await.holder_identity.as_deref(), Some("intruder"));
    }

    // 4. The API becomes unreachable for the leader: it gives up within the renew deadline,
    //    before the lease can expire for anybody else.
    {
        let name = "caldera-partition";
        let proxy = Proxy::start(cp.apiserver_addr());
        let proxied = cp.client(Some(proxy.addr)).await;
        let mut e = candidate(proxied, name, "cand-e");
        wait_leader(&mut e, true, Duration::from_secs(10), "e acquires through the proxy").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        proxy.cut();
        let cut = Instant::now();
        let result = tokio::time::timeout(RENEW + Duration::from_secs(3), &mut e.task)
            .await
            .expect("e stops after the renew deadline")
            .expect("no panic");
        let after = cut.elapsed();
        assert!(matches!(result, Err(LeaderError::Lost)), "{result:?}");
        assert!(!*e.leader.borrow(), "leader flag cleared on loss");
        assert!(
            after >= RENEW - RETRY - Duration::from_millis(100),
            "gave up too early: {after:?}"
        );
        assert!(
            after < LEASE,
            "gave up after {after:?}, not before the {LEASE:?} lease could expire"
        );
    }
}
