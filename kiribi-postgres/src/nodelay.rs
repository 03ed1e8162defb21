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
//! sqlx gives no access to its socket. So when the pool opens a connection, its
//! `after_connect` sends [`TCP_ENDS`] in the same round trip as its `SET search_path`,
//! and learns the connection's two ends (address and port) as the server sees them.
//! On tokio's blocking pool, kiribi then looks through `/proc/self/fd` for the socket
//! whose local and peer addresses are those ends, and sets the option on a duplicate
//! of it taken with `pidfd_getfd` (socket options belong to the socket, which both
//! descriptors share; the duplicate is closed at once). The search reads one link per
//! open descriptor and asks two addresses of each socket, once per new connection.
//!
//! Linux 5.6 or later only. Wherever it cannot work the connection is used as it is,
//! with a debug log saying why: on other systems; where a seccomp filter refuses
//! `pidfd_getfd` (Docker's and containerd's default profiles allow it only to a
//! container with `CAP_SYS_PTRACE`; the kernel's own ptrace check always lets a
//! process take its own descriptors); behind address translation or a proxy (the
//! server sees other ends); over a Unix socket, which has no delay to remove.
//!
//! Remove this module once a sqlx release sets the option itself; the test
//! `plain_sqlx_connections_leave_nagle_on` fails then. Require that release in the
//! workspace `Cargo.toml`, and delete this file, its `mod` line, the `TCP_ENDS` half
//! of `after_connect` in `storage.rs`, kiribi-postgres's `rustix` and `tokio`
//! dependencies, and the `TCP_NODELAY` notes in the README and on `from_pool`.

use sqlx::postgres::PgRow;

/// Reads the connection's client and server ends as the server sees them: one row of
/// (client address, client port, server address, server port), all NULL over a Unix
/// socket. It shares `after_connect`'s round trip with `SET search_path`, so an error
/// here would fail the connection: it calls only built-in functions, schema-qualified
/// so that no `search_path` can put others in their place.
pub(crate) const TCP_ENDS: &str = "SELECT pg_catalog.host(pg_catalog.inet_client_addr()), \
     pg_catalog.inet_client_port(), \
     pg_catalog.host(pg_catalog.inet_server_addr()), \
     pg_catalog.inet_server_port()";

/// Sets `TCP_NODELAY` on the socket of the connection that returned `row` (the row of
/// [`TCP_ENDS`]) where it can; never fails the connection.
#[cfg(target_os = "linux")]
pub(crate) async fn disable_nagle(row: &PgRow) {
    let ends = match TcpEnds::from_row(row) {
        Ok(Some(ends)) => ends,
        // A Unix socket has no delay to remove.
        Ok(None) => return,
        Err(error) => {
            tracing::debug!(%error, "reading the connection's ends failed; TCP_NODELAY left unset");
            return;
        }
    };
    // Reading /proc and the syscalls block; keep them off the async threads.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("no tokio runtime to search for the socket on; TCP_NODELAY left unset");
        return;
    };
    match runtime.spawn_blocking(move || set_nodelay(ends)).await {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => tracing::debug!(
            client = %ends.client,
            server = %ends.server,
            "no socket of this process joins these ends (address translation or a proxy?); \
             TCP_NODELAY left unset"
        ),
        Ok(Err(SearchError::Duplicate(error))) => tracing::debug!(
            %error,
            "pidfd_getfd is not available (Linux before 5.6, or a seccomp filter such as a \
             container's default profile); TCP_NODELAY left unset"
        ),
        Ok(Err(SearchError::Io(error))) => {
            tracing::debug!(%error, "setting TCP_NODELAY failed");
        }
        Err(error) => tracing::debug!(%error, "the search for the connection's socket failed"),
    }
}

/// Elsewhere there is no way to reach sqlx's socket.
#[cfg(not(target_os = "linux"))]
pub(crate) async fn disable_nagle(_row: &PgRow) {}

/// A connection's two ends, as the server reports them.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TcpEnds {
    client: std::net::SocketAddr,
    server: std::net::SocketAddr,
}

#[cfg(target_os = "linux")]
impl TcpEnds {
    /// The ends in a row of [`TCP_ENDS`]; `None` off TCP, where the server knows none.
    fn from_row(row: &PgRow) -> Result<Option<Self>, sqlx::Error> {
        use sqlx::Row;

        let client = end(row.try_get(0)?, row.try_get(1)?)?;
        let server = end(row.try_get(2)?, row.try_get(3)?)?;
        Ok(client
            .zip(server)
            .map(|(client, server)| Self { client, server }))
    }

    /// Whether a socket with these local and peer addresses is this connection, seen
    /// from the client: its local end is the server's client and its peer the server.
    ///
    /// Addresses compare as IPv4 where they are v4-mapped IPv6 (a dual-stack
    /// listener reports `::ffff:a.b.c.d` for an IPv4 client, and a client's IPv6
    /// socket may connect to a mapped address). IPv6 scope ids are ignored: the server
    /// does not report them.
    fn joins(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
        let same = |a: std::net::SocketAddr, b: std::net::SocketAddr| {
            a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
        };
        same(self.client, local) && same(self.server, peer)
    }
}

/// One end from the server's text address and port; `None` if the server gave none.
#[cfg(target_os = "linux")]
fn end(
    address: Option<String>,
    port: Option<i32>,
) -> Result<Option<std::net::SocketAddr>, sqlx::Error> {
    let (Some(address), Some(port)) = (address, port) else {
        return Ok(None);
    };
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
    let port = u16::try_from(port).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
    Ok(Some(std::net::SocketAddr::new(ip, port)))
}

/// Why the search for the connection's socket stopped.
#[cfg(target_os = "linux")]
#[derive(Debug)]
enum SearchError {
    /// `pidfd_open` or `pidfd_getfd` was refused: it fails the same way for every
    /// descriptor, so there is no point in going on.
    Duplicate(std::io::Error),
    /// Reading `/proc/self/fd` or setting the option failed.
    Io(std::io::Error),
}

/// Sets `TCP_NODELAY` on this process's socket between `ends`; `false` if there is
/// none. Blocks.
#[cfg(target_os = "linux")]
fn set_nodelay(ends: TcpEnds) -> Result<bool, SearchError> {
    match socket_of(ends)? {
        Some(socket) => {
            rustix::net::sockopt::set_tcp_nodelay(&socket, true)
                .map_err(|errno| SearchError::Io(errno.into()))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A duplicate of this process's socket between `ends`. Blocks.
#[cfg(target_os = "linux")]
fn socket_of(ends: TcpEnds) -> Result<Option<std::os::fd::OwnedFd>, SearchError> {
    use rustix::io::Errno;
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let address =
        |address: rustix::net::SocketAddrAny| std::net::SocketAddr::try_from(address).ok();
    let this_process = pidfd_open(getpid(), PidfdFlags::empty())
        .map_err(|errno| SearchError::Duplicate(errno.into()))?;
    for entry in std::fs::read_dir("/proc/self/fd").map_err(SearchError::Io)? {
        let entry = entry.map_err(SearchError::Io)?;
        // Only sockets; the link of a closed descriptor fails to read.
        let is_socket = std::fs::read_link(entry.path()).is_ok_and(|target| {
            target
                .as_os_str()
                .as_encoded_bytes()
                .starts_with(b"socket:")
        });
        if !is_socket {
            continue;
        }
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let socket = match pidfd_getfd(&this_process, fd, PidfdGetfdFlags::empty()) {
            Ok(socket) => socket,
            // Closed since the directory was read.
            Err(Errno::BADF) => continue,
            Err(errno) => return Err(SearchError::Duplicate(errno.into())),
        };
        // A Unix socket has no IP address and is skipped here.
        let local = rustix::net::getsockname(&socket).ok().and_then(address);
        let peer = rustix::net::getpeername(&socket)
            .ok()
            .flatten()
            .and_then(address);
        if let (Some(local), Some(peer)) = (local, peer)
            && ends.joins(local, peer)
        {
            return Ok(Some(socket));
        }
    }
    Ok(None)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::SocketAddr;

    use sqlx::{Connection, PgConnection};

    use super::{TCP_ENDS, TcpEnds, end, socket_of};
    use crate::{PgStorage, PgStorageOptions};

    fn url() -> String {
        std::env::var("KIRIBI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    fn ends(client: &str, server: &str) -> TcpEnds {
        TcpEnds {
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
        }
    }

    fn addr(address: &str) -> SocketAddr {
        address.parse().unwrap()
    }

    /// Whether `conn`'s socket has `TCP_NODELAY` set.
    async fn nodelay(conn: &mut PgConnection) -> bool {
        let row = sqlx::raw_sql(TCP_ENDS).fetch_one(&mut *conn).await.unwrap();
        let Some(ends) = TcpEnds::from_row(&row).unwrap() else {
            panic!("the tests need a TCP URL in KIRIBI_TEST_PG_URL, not a Unix socket");
        };
        let socket = socket_of(ends)
            .unwrap()
            .expect("the connection's socket is found by its ends");
        rustix::net::sockopt::tcp_nodelay(&socket).unwrap()
    }

    async fn drop_schema(conn: &mut PgConnection, schema: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(conn)
        .await
        .unwrap();
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
        drop_schema(&mut conn, &schema).await;
        assert!(set);
    }

    /// `after_connect` reads the ends in the round trip that sets `search_path`; the
    /// setting must survive that.
    #[tokio::test]
    async fn kiribi_connections_still_put_their_schema_first() {
        let schema = format!("kt_nodelay_{}_{}", std::process::id(), fastrand::u32(..));
        let options = PgStorageOptions::new(&url()).schema(&schema);
        let storage = PgStorage::connect_with(options)
            .await
            .expect("the PostgreSQL test server runs");
        let mut conn = storage.pool().acquire().await.unwrap();
        let (current,): (String,) = sqlx::query_as("SELECT current_schema()")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        drop_schema(&mut conn, &schema).await;
        assert_eq!(current, schema);
    }

    /// The control: sqlx 0.9.0 leaves Nagle's algorithm on. When this fails, sqlx
    /// sets `TCP_NODELAY` itself and this module can go (see the module docs).
    #[tokio::test]
    async fn plain_sqlx_connections_leave_nagle_on() {
        let mut conn = PgConnection::connect(&url())
            .await
            .expect("the PostgreSQL test server runs");
        assert!(!nodelay(&mut conn).await);
    }

    #[test]
    fn a_socket_with_both_ends_is_the_connection() {
        let v4 = ends("127.0.0.1:50000", "127.0.0.1:5432");
        assert!(v4.joins(addr("127.0.0.1:50000"), addr("127.0.0.1:5432")));
        let v6 = ends("[2001:db8::2]:50000", "[2001:db8::1]:5432");
        assert!(v6.joins(addr("[2001:db8::2]:50000"), addr("[2001:db8::1]:5432")));
    }

    #[test]
    fn the_same_ports_to_another_server_are_another_connection() {
        // Linux reuses a local port towards different peers, so ports alone can
        // name a socket to another server on 5432.
        let ends = ends("10.0.0.2:50000", "10.0.0.1:5432");
        assert!(!ends.joins(addr("10.0.0.2:50000"), addr("10.0.0.9:5432")));
        assert!(!ends.joins(addr("10.0.0.3:50000"), addr("10.0.0.1:5432")));
    }

    #[test]
    fn a_socket_with_other_ports_is_another_connection() {
        let ends = ends("127.0.0.1:50000", "127.0.0.1:5432");
        assert!(!ends.joins(addr("127.0.0.1:50001"), addr("127.0.0.1:5432")));
        assert!(!ends.joins(addr("127.0.0.1:50000"), addr("127.0.0.1:5433")));
    }

    #[test]
    fn the_ends_do_not_match_reversed() {
        // The server's socket, were it in this process, has the ends the other way.
        let ends = ends("127.0.0.1:50000", "127.0.0.1:5432");
        assert!(!ends.joins(addr("127.0.0.1:5432"), addr("127.0.0.1:50000")));
    }

    #[test]
    fn a_dual_stack_server_reports_ipv4_clients_mapped() {
        // The server listens on `::`; this process connected over IPv4.
        let ends = ends("[::ffff:127.0.0.1]:50000", "[::ffff:127.0.0.1]:5432");
        assert!(ends.joins(addr("127.0.0.1:50000"), addr("127.0.0.1:5432")));
        assert!(!ends.joins(addr("127.0.0.2:50000"), addr("127.0.0.1:5432")));
    }

    #[test]
    fn an_ipv6_socket_to_a_mapped_address_is_the_ipv4_connection() {
        let ends = ends("192.0.2.2:50000", "192.0.2.1:5432");
        assert!(ends.joins(
            addr("[::ffff:192.0.2.2]:50000"),
            addr("[::ffff:192.0.2.1]:5432")
        ));
    }

    #[test]
    fn ipv4_compatible_addresses_are_not_mapped_ones() {
        // `::a.b.c.d` (deprecated "compatible" form) is a distinct IPv6 address.
        let ends = ends("[::127.0.0.2]:50000", "[::127.0.0.1]:5432");
        assert!(!ends.joins(addr("127.0.0.2:50000"), addr("127.0.0.1:5432")));
    }

    #[test]
    fn ipv6_scope_ids_are_ignored() {
        // The server reports link-local addresses without their zone.
        let ends = ends("[fe80::2]:50000", "[fe80::1]:5432");
        assert!(ends.joins(addr("[fe80::2%2]:50000"), addr("[fe80::1%2]:5432")));
    }

    #[test]
    fn the_servers_text_addresses_parse() {
        let parsed = |address: &str, port| end(Some(address.to_owned()), Some(port)).unwrap();
        assert_eq!(parsed("127.0.0.1", 5432), Some(addr("127.0.0.1:5432")));
        assert_eq!(parsed("::1", 5432), Some(addr("[::1]:5432")));
        assert_eq!(
            parsed("::ffff:127.0.0.1", 50000),
            Some(addr("[::ffff:127.0.0.1]:50000"))
        );
        assert_eq!(end(None, None).unwrap(), None);
        assert!(end(Some("not an address".to_owned()), Some(5432)).is_err());
        assert!(end(Some("127.0.0.1".to_owned()), Some(70000)).is_err());
    }
}
