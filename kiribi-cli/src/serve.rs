//! `kiribi serve`: the web dashboard on an address, until Ctrl-C.

use kiribi::Kiribi;

use crate::cli::ServeArgs;
use crate::error::{CliError, CliResult};

/// Refuses what must not be served, before anything connects: an address other
/// than loopback without a token (anyone who reaches it could retry and delete
/// jobs), and an empty token (it admits nobody).
pub(crate) fn check(args: &ServeArgs) -> CliResult {
    match args.token.as_deref() {
        Some(token) if token.trim().is_empty() => Err(CliError::Usage(
            "--token is empty: an empty token admits nobody; give a secret, or leave it out on \
             a loopback address"
                .to_owned(),
        )),
        None if !args.addr.ip().is_loopback() => Err(CliError::Usage(format!(
            "refusing to serve the dashboard on {} without a token: it is reachable from other \
             machines; pass --token <secret> (or set KIRIBI_DASHBOARD_TOKEN), or listen on \
             127.0.0.1",
            args.addr
        ))),
        _ => Ok(()),
    }
}

/// Serves the dashboard until Ctrl-C; [`check`] the arguments first.
pub(crate) async fn run(kiribi: Kiribi, args: ServeArgs) -> CliResult {
    let mut dashboard = kiribi::dashboard::dashboard(kiribi).read_only(args.read_only);
    if let Some(token) = &args.token {
        dashboard = dashboard.token(token.clone());
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|error| CliError::Runtime(format!("cannot listen on {}: {error}", args.addr)))?;
    let local = listener.local_addr()?;
    let token = if args.token.is_some() {
        " (add ?token=… once)"
    } else {
        ""
    };
    let mode = if args.read_only { ", read-only" } else { "" };
    println!("kiribi dashboard on http://{local}/{token}{mode}; Ctrl-C stops it");
    axum::serve(listener, dashboard.router())
        .with_graceful_shutdown(async {
            // A failure to install the handler leaves the server running, as without one.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}
