//! The real stores of the fault matrix: a fresh Postgres database per test, the shared Redis,
//! and a small tmpfs for SQLite's disk-full case. Tests skip with a notice when
//! `TEST_DATABASE_URL` / `TEST_REDIS_URL` are unset, and fail instead when `CI` is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Whether this run is CI's, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if in_ci() => {
            panic!("{var} must be set when CI is set: the fault matrix must not be skipped")
        }
        _ => {
            eprintln!("SKIP: {var} is not set; skipping this fault-matrix test");
            None
        }
    }
}

/// `TEST_REDIS_URL`, or a skip notice (a failure in CI).
pub fn redis_url() -> Option<String> {
    service_url("TEST_REDIS_URL")
}

/// A fresh database `smtest_<UUIDv7>` next to `TEST_DATABASE_URL` (the API suite drops such
/// databases once they are two hours old), or a skip notice (a failure in CI).
pub async fn fresh_postgres() -> Option<String> {
    use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
    let admin = service_url("TEST_DATABASE_URL")?;
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("TEST_DATABASE_URL is reachable");
    let name = format!("smtest_{}", uuid::Uuid::now_v7().simple());
    conn.execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// The socket address a `postgres://` or `redis://` URL points at.
pub fn target_of(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).expect("URL");
    let port = parsed
        .port_or_known_default()
        .unwrap_or(if parsed.scheme().starts_with("redis") {
            6379
        } else {
            5432
        });
    let host = parsed.host_str().expect("host").to_string();
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .expect("resolve")
        .find(SocketAddr::is_ipv4)
        .expect("an IPv4 address")
}

/// A tmpfs of a few MiB mounted on a temporary folder (needs root, as CI runs); unmounted when
/// dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts `size_mib` MiB; `None` with a skip notice when this process may not mount (not
    /// root) outside CI; a failure with the reason in CI.
    pub fn mount(size_mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("mount point");
        // SAFETY: geteuid(2) has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let outcome = if root {
            std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
                .arg(dir.path())
                .output()
                .map_err(|e| e.to_string())
                .and_then(|o| {
                    if o.status.success() {
                        Ok(())
                    } else {
                        Err(String::from_utf8_lossy(&o.stderr).into_owned())
                    }
                })
        } else {
            Err("the test does not run as root".to_string())
        };
        match outcome {
            Ok(()) => Some(Self { dir }),
            Err(why) if in_ci() => panic!(
                "the SQLite disk-full row needs a tmpfs (mount -t tmpfs, as root) and CI must not skip it: {why}"
            ),
            Err(why) => {
                eprintln!(
                    "SKIP: cannot mount a tmpfs for the SQLite disk-full row ({why}); run as root"
                );
                None
            }
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system with `name` until a write fails with "no space"; returns the file.
    pub fn fill(&self, name: &str) -> PathBuf {
        use std::io::Write;
        let path = self.dir.path().join(name);
        let mut file = std::fs::File::create(&path).expect("filler file");
        for size in [1 << 20, 64 << 10, 4 << 10, 512] {
            let block = vec![0x5au8; size];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.flush();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
