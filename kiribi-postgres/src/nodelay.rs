//! Turns Nagle's algorithm off on kiribi's own connections to PostgreSQL over TCP.
//!
//! sqlx 0.9.0 no longer sets `TCP_NODELAY` on its sockets (sqlx issue 4335; fixed by
//! pull request 4336, not released yet). With Nagle's algorithm on, a short segment
//! waits until the server has acknowledged the previous short one, and the server
//! delays acknowledgements by up to 40 ms. Over TLS sqlx sends a message in 16 KiB
//! records, one `send` each, so a message of a few records stalls: measured on
//! loopback with `kiribi-bench run w2 kiribi-postgres --pg-url <URL with TLS>`,
//! `enqueue_many` went from ~21,000 to ~38,000 jobs/s with this module (1,000 jobs,
//! ~100 KB, per statement). Across a network, where a segment holds ~1,448 bytes,
//! plain TCP can stall the same way on messages written in more than one `send`.
//!
//! sqlx gives no access to its socket. So once a pool connection is open, kiribi asks
//! the server for the connection's two ports, finds the process's socket with those
//! ports in `/proc/self/fd`, and sets the option on a duplicate of it taken with
//! `pidfd_getfd` (socket options belong to the socket, which both descriptors share;
//! the duplicate is closed at once). Linux 5.6 or later only; elsewhere, behind
//! address translation (the server sees other ports), or if anything fails, the
//! connection is used as it is. The search reads one link per open descriptor, once
//! per new connection. Remove this module once sqlx sets the option itself:
//! the test `plain_sqlx_connections_leave_nagle_on` fails then.

use sqlx::PgConnection;

/// Sets `TCP_NODELAY` on `conn`'s socket where it can; never fails the connection.
pub(crate) async fn disable_nagle(conn: &mut PgConnection) {
    match tcp_ports(conn).await {
        Ok(Some((local, remote))) => match set_nodelay(local, remote) {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(
                    local,
                    remote,
                    "no socket of this process joins these ports; TCP_NODELAY left unset"
                );
            }
            Err(error) => tracing::debug!(%error, "setting TCP_NODELAY failed"),
        },
        // A Unix socket has no delay to remove.
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "reading the connection's ports failed"),
    }
}

/// `conn`'s (client, server) ports as the server sees them; `None` off TCP, where
/// the server knows neither.
async fn tcp_ports(conn: &mut PgConnection) -> Result<Option<(i32, i32)>, sqlx::Error> {
    let ports: (Option<i32>, Option<i32>) =
        sqlx::query_as("SELECT inet_client_port(), inet_server_port()")
            .fetch_one(conn)
            .await?;
    Ok(ports.0.zip(ports.1))
}

#[cfg(target_os = "linux")]
fn set_nodelay(local: i32, remote: i32) -> std::io::Result<bool> {
    match socket_between(local, remote)? {
        Some(socket) => {
            rustix::net::sockopt::set_tcp_nodelay(&socket, true)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(not(target_os = "linux"))]
fn set_nodelay(_local: i32, _remote: i32) -> std::io::Result<bool> {
    Ok(false)
}

/// A duplicate of this process's TCP socket from port `local` to port `remote`.
#[cfg(target_os = "linux")]
fn socket_between(local: i32, remote: i32) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let port = |address: rustix::net::SocketAddrAny| {
        std::net::SocketAddr::try_from(address)
            .ok()
            .map(|address| i32::from(address.port()))
    };
    let this_process = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        // Only sockets; the link of a closed descriptor fails to read.
        let is_socket = std::fs::read_link(entry.path()).is_ok_and(|target| {
            target
                .as_os_str()
                .as_encoded_bytes()
                .starts_with(b"socket:")
        });
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        let Ok(socket) = pidfd_getfd(&this_process, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let ours = rustix::net::getsockname(&socket).ok().and_then(port);
        let theirs = rustix::net::getpeername(&socket)
            .ok()
            .flatten()
            .and_then(port);
        if ours == Some(local) && theirs == Some(remote) {
            return Ok(Some(socket));
        }
    }
    Ok(None)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use sqlx::{Connection, PgConnection};

    use super::{socket_between, tcp_ports};
    use crate::{PgStorage, PgStorageOptions};

    fn url() -> String {
        std::env::var("KIRIBI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// Whether `conn`'s socket has `TCP_NODELAY` set.
    async fn nodelay(conn: &mut PgConnection) -> bool {
        let Some((local, remote)) = tcp_ports(conn).await.unwrap() else {
            panic!("the tests need a TCP URL in KIRIBI_TEST_PG_URL, not a Unix socket");
        };
        let socket = socket_between(local, remote)
            .unwrap()
            .expect("the connection's socket is found by its ports");
        rustix::net::sockopt::tcp_nodelay(&socket).unwrap()
    }

    #[tokio::test]
    async fn kiribi_connections_turn_nagle_off() {
        let schema = format!("kt_nodelay_{}_{}", std::process::id(), fastrand::u32(..));
        let options = PgStorageOptions::new(&url()).schema(&schema);
        let storage = PgStorage::connect_with(options)
            .await
            .expect("the PostgreSQL test server runs");
        let mut conn = storage.pool().acquire().await.unwrap();
        let set = nodelay(&mut conn).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
        assert!(set);
    }

    /// The control: sqlx 0.9.0 leaves Nagle's algorithm on. When this fails, sqlx
    /// sets `TCP_NODELAY` itself and this module can go.
    #[tokio::test]
    async fn plain_sqlx_connections_leave_nagle_on() {
        let mut conn = PgConnection::connect(&url())
            .await
            .expect("the PostgreSQL test server runs");
        assert!(!nodelay(&mut conn).await);
    }
}
