//! A throwaway PostgreSQL cluster for tests: started once per test process from the
//! server's own programs (`initdb`, `pg_ctl`; Debian keeps them in
//! `/usr/lib/postgresql/VERSION/bin`, off PATH, or `POLC_PG_BIN`), as the `postgres` user
//! when the tests run as root (PostgreSQL refuses root), listening on 127.0.0.1 on a free
//! port, each test on a database of its own. A watcher stops the cluster and removes its
//! folder when the test process exits, however it exits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running cluster.
pub struct PgCluster {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
    next: AtomicU32,
    /// The authority that signed the server's certificate (for `127.0.0.1`), or why the
    /// cluster has no TLS.
    tls: Result<PathBuf, String>,
}

static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// The process's cluster, started on first use. Panics, saying what to install, when
/// PostgreSQL is not there: a test that needs it must not pass without it.
pub fn shared() -> &'static PgCluster {
    match SHARED.get_or_init(|| PgCluster::start(Durability::Off)) {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL for the tests: {e} (install it with `bash .ci/deps`, or point POLC_PG_BIN at the folder holding initdb and pg_ctl)"
        ),
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The folder holding `initdb` and `pg_ctl`: `POLC_PG_BIN`, else the newest of
/// `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Some(b) = std::env::var_os("POLC_PG_BIN") {
        return Ok(PathBuf::from(b));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no /usr/lib/postgresql (package postgresql-15)".to_string())?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_string())
}

/// `program args…`, as the `postgres` user when we are root.
fn as_pg(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A certificate authority (`ca.pem`), another one nobody trusts (`other-ca.pem`), and the
/// server's certificate for 127.0.0.1 signed by the first (`server.crt`, `server.key`,
/// owned by the server's user): the path of `ca.pem`.
fn certificates(dir: &Path) -> Result<PathBuf, String> {
    let openssl = |args: &[&str]| {
        let mut c = Command::new("openssl");
        c.args(args).current_dir(dir);
        run(c, &format!("openssl {}", args[0]))
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, cn) in [("ca", "polc test CA"), ("other-ca", "someone else's CA")] {
        let (key, pem, subj) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN={cn}"),
        );
        let mut a = vec![
            "req", "-x509", "-days", "2", "-subj", &subj, "-keyout", &key, "-out", &pem,
        ];
        a.extend(ec);
        openssl(&a)?;
    }
    let mut a = vec![
        "req",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ];
    a.extend(ec);
    openssl(&a)?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n",
    )
    .map_err(|e| e.to_string())?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ])?;
    if is_root() {
        let mut c = Command::new("chown");
        c.args(["postgres:postgres", "server.key", "server.crt"])
            .current_dir(dir);
        run(c, "chown")?;
    }
    let mut c = Command::new("chmod");
    c.args(["600", "server.key"]).current_dir(dir);
    run(c, "chmod")?;
    Ok(dir.join("ca.pem"))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Whether the cluster writes durably.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fsync = off`: tests, where a lost machine loses nothing that matters.
    Off,
    /// The server's defaults (`fsync`, `synchronous_commit`): what a deployment runs, and
    /// what a benchmark must measure.
    Full,
}

impl PgCluster {
    /// A cluster of this process's own (not the shared one), stopped and removed when the
    /// process exits; `Durability::Full` for measurements.
    pub fn start_own(durability: Durability) -> Result<PgCluster, String> {
        PgCluster::start(durability)
    }

    fn start(durability: Durability) -> Result<PgCluster, String> {
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "polc-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if is_root() {
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:postgres"]).arg(&dir);
            run(c, "chown")?;
        }
        let data = dir.join("data");
        let mut c = as_pg(&bin.join("initdb"));
        c.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        run(c, "initdb")?;
        let tls = certificates(&dir);
        // a port may be taken between asking and listening: try a few
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let mut c = as_pg(&bin.join("pg_ctl"));
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .arg("-o")
                .arg(format!(
                    "-c listen_addresses=127.0.0.1 -p {port} -k {} {}-c max_connections=200{}",
                    dir.display(),
                    match durability {
                        Durability::Off => "-c fsync=off ",
                        Durability::Full => "",
                    },
                    match &tls {
                        Ok(_) => format!(
                            " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                            dir.display()
                        ),
                        Err(_) => String::new(),
                    }
                ))
                .args(["-w", "-t", "60", "start"]);
            match run(c, "pg_ctl start") {
                Ok(()) => {
                    spawn_watcher(&bin, &dir);
                    return Ok(PgCluster {
                        port,
                        dir,
                        bin,
                        next: AtomicU32::new(0),
                        tls: tls.clone(),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The URL of the cluster's `postgres` database (for administration).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The authority of the server's certificate; panics saying why when the cluster has
    /// no TLS (openssl missing).
    pub fn ca_file(&self) -> &Path {
        match &self.tls {
            Ok(p) => p,
            Err(e) => {
                panic!("the test cluster has no TLS: {e} (install openssl with `bash .ci/deps`)")
            }
        }
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("polc_{}_{n}", std::process::id());
        let mut c = postgres::Client::connect(&self.admin_url(), postgres::NoTls)
            .unwrap_or_else(|e| panic!("test PostgreSQL at port {}: {e}", self.port));
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the cluster now (`-m immediate`: what a lost database looks like to polc).
    pub fn stop(&self) -> Result<(), String> {
        let mut c = as_pg(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"]);
        run(c, "pg_ctl stop")
    }
}

/// Stops the cluster and removes its folder once this process is gone.
fn spawn_watcher(bin: &Path, dir: &Path) {
    let script = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; '{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = dir.join("data").display(),
        dir = dir.display(),
    );
    let mut c = as_pg(Path::new("/bin/sh"));
    c.arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // the watcher outlives us on purpose; its exit status is nobody's business
    let _ = c.spawn();
}
