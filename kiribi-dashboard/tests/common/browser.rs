//! A real headless Chromium driven over WebDriver (chromedriver on a free port),
//! and the dashboard served on a real loopback listener.

use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any one condition in a browser test may take to hold.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Installs Debian's `chromium` and `chromium-driver` where they are missing (as
/// CI's script does), once per test process; fails with what to do otherwise.
pub fn ensure_chromium() {
    static INSTALL: Mutex<bool> = Mutex::new(false);
    let mut tried = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let present = || Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if present() || *tried {
        assert!(
            present(),
            "chromium and chromedriver could not be installed; run `apt-get install -y chromium chromium-driver` as root"
        );
        return;
    }
    *tried = true;
    eprintln!(
        "*** kiribi-dashboard browser tests: installing chromium and chromium-driver with apt-get ***"
    );
    let install = || {
        std::process::Command::new("apt-get")
            .args(["install", "-y", "-q", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success())
    };
    if !install() {
        let _ = std::process::Command::new("apt-get")
            .args(["update", "-q"])
            .status();
        install();
    }
    assert!(
        present(),
        "the browser tests need {CHROMIUM} and {CHROMEDRIVER}: run `apt-get install -y chromium chromium-driver` as root"
    );
}

/// A chromedriver process and one browser session in it.
pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(ensure_chromium).await.unwrap();
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1360,1000", "--hide-scrollbars", "--force-device-scale-factor=1",
                    "--no-first-run", "--disable-extensions", "--disable-background-networking",
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let client = kiribi_tests::wait::until("chromedriver to open a session", PATIENCE, || {
            let capabilities = capabilities.clone();
            let url = url.clone();
            async move {
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&url)
                    .await
                    .ok()
            }
        })
        .await;
        Self {
            client,
            _driver: driver,
        }
    }
}

/// Runs `scenario` with a fresh browser, and closes the browser whether it
/// passed or failed (a panic is passed on afterwards).
pub async fn with_browser<F, Fut>(scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let browser = Browser::start().await;
    let outcome = tokio::spawn(scenario(browser.client.clone())).await;
    let _ = browser.client.clone().close().await;
    drop(browser);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// Serves `router` on a free loopback port; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// The text of the first element matching `css`, once there is one.
pub async fn text_of(client: &Client, css: &str) -> String {
    let element = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no `{css}` on the page: {err}"));
    element.text().await.unwrap()
}

/// Waits until the first element matching `css` has text containing `expected`.
pub async fn wait_for_text(client: &Client, css: &str, expected: &str) -> String {
    kiribi_tests::wait::until(
        &format!("`{css}` to show {expected:?}"),
        PATIENCE,
        || async {
            let element = client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            text.contains(expected).then_some(text)
        },
    )
    .await
}

/// Clicks the first element matching `css`.
pub async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("no `{css}` to click: {err}"))
        .click()
        .await
        .unwrap_or_else(|err| panic!("clicking `{css}`: {err}"));
}
