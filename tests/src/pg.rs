//! PostgreSQL for the tests: the configured server (or a throwaway one started for
//! this test process), a fresh database per test, and private servers that a test
//! can stop and start.
//!
//! The server is `KIRIBI_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! When nothing answers there but PostgreSQL's binaries are installed, a throwaway
//! server is started from a temporary directory on a free loopback port, and a
//! watchdog stops it when the test process exits. When neither works, tests fail
//! with a message that says what to do: they never skip silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kiribi::sqlx::{Connection, PgConnection};

/// The environment variable naming the PostgreSQL server of the tests.
pub const URL_ENV: &str = "KIRIBI_TEST_PG_URL";

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The URL of a server the tests may create databases on.
pub async fn server_url() -> String {
    // One server per test process, even when tests on several runtimes ask at once.
    static URL: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    URL.get_or_init(find_or_start_server).await.clone()
}

async fn find_or_start_server() -> String {
    let configured = std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    if answers(&configured).await {
        return configured;
    }
    eprintln!(
        "\n*** kiribi tests: no PostgreSQL answers at {configured} ({URL_ENV}); \
         starting a throwaway server for this test process ***\n"
    );
    let server = tokio::task::spawn_blocking(PrivateServer::start_for_process)
        .await
        .expect("start a throwaway PostgreSQL")
        .unwrap_or_else(|err| {
            panic!(
                "PostgreSQL is needed for these tests and none could be found or started: \
                 {err}. Start one and set {URL_ENV}=postgres://user@host:port/db, or \
                 install PostgreSQL's server binaries (initdb, pg_ctl)."
            )
        });
    let url = server.url("postgres");
    // The watchdog stops it when this process exits.
    std::mem::forget(server);
    url
}

async fn answers(url: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url)).await,
        Ok(Ok(_))
    )
}

/// A database of its own for one test, dropped when the value is.
pub struct TestPgDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestPgDatabase {
    /// Creates `kiribi_test_<pid>_<n>` on the test server.
    pub async fn new() -> Self {
        Self::on(&server_url().await).await
    }

    /// Creates a fresh database on the server at `server` (any database URL of it).
    pub async fn on(server: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "kiribi_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(server)
            .await
            .expect("connect to the test server");
        kiribi::sqlx::query(kiribi::sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .expect("drop a leftover test database");
        kiribi::sqlx::query(kiribi::sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name}"
        )))
        .execute(&mut conn)
        .await
        .expect("create the test database");
        let url = with_database(server, &name);
        Self {
            server: server.to_owned(),
            name,
            url,
        }
    }

    /// `postgres://…/<this database>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestPgDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime; a thread of its own may block.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server).await.ok()?;
                kiribi::sqlx::query(kiribi::sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("kiribi tests: could not drop test database {}", self.name);
        }
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A PostgreSQL server of a test's own, in a temporary directory on a free loopback
/// port, that the test can stop and start. Stopped (immediately) when dropped.
pub struct PrivateServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivateServer {
    /// Initialises and starts a server.
    ///
    /// # Errors
    ///
    /// A description of what failed (binaries missing, initdb or start failed).
    pub fn start() -> Result<Self, String> {
        let bin = binaries()?;
        let dir = tempfile::Builder::new()
            .prefix("kiribi-pg-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let data = dir.path().join("data");
        let port = free_port()?;
        let server = Self { dir, bin, port };
        if running_as_root() {
            // PostgreSQL refuses to run as root; its files must belong to `postgres`.
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:")
                .arg(server.dir.path()))?;
        }
        server.pg(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        server.start_again()?;
        Ok(server)
    }

    /// Starts a server that lives as long as this process: a watchdog stops it
    /// and removes its files when the process exits.
    fn start_for_process() -> Result<Self, String> {
        let server = Self::start()?;
        let script = format!(
            "while [ -d /proc/{parent} ]; do sleep 1; done; {ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            parent = std::process::id(),
            ctl = server.bin.join("pg_ctl").display(),
            data = server.dir.path().join("data").display(),
            dir = server.dir.path().display(),
        );
        server
            .as_postgres(Command::new("sh").arg("-c").arg(&script))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start the watchdog: {e}"))?;
        Ok(server)
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// What the server has logged so far (its errors, such as `deadlock detected`,
    /// among it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    ///
    /// # Errors
    ///
    /// What `pg_ctl` said.
    pub fn stop(&self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        self.pg(
            "pg_ctl",
            &["-D", path_str(&data)?, "-w", "stop", "-m", "immediate"],
        )
    }

    /// Starts the (stopped) server again on the same port and data.
    ///
    /// # Errors
    ///
    /// What `pg_ctl` said.
    pub fn start_again(&self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            path_str(self.dir.path())?
        );
        self.pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&log)?,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    fn pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        run(self.as_postgres(Command::new(self.bin.join(program)).args(args)))
    }

    fn as_postgres<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        if running_as_root() {
            // Re-run the same command line through runuser.
            let program = command.get_program().to_owned();
            let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
            *command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(program)
                .args(args);
        }
        command
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The directory of `initdb` and `pg_ctl`: on PATH, or the newest under
/// /usr/lib/postgresql.
fn binaries() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL's server binaries (initdb, pg_ctl) are not installed".to_owned())?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}

fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("find a free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/test?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
