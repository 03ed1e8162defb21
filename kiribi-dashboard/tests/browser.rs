//! The dashboard in a real headless Chromium: every page loads, the list filters,
//! a job opens, a failed job retried from its page succeeds (a real worker runs
//! it), a bulk cancel goes through its confirmation, a queue pauses, and a page
//! refreshes itself without a reload and without losing what was typed.

mod common;

use common::browser::{PATIENCE, click, serve, text_of, wait_for_text, with_browser};
use common::{Flaky, Hostile, Mail};
use fantoccini::Locator;
use kiribi::{EnqueueOptions, Flow, JobStatus};
use kiribi_tests::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_loads_and_the_list_filters_and_opens_a_job() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    for i in 0..3 {
        Mail::run_now(
            &kiribi,
            Mail {
                to: format!("done{i}@example.com"),
            },
        )
        .await
        .unwrap();
    }
    let _ = Hostile::run_now(
        &kiribi,
        Hostile {
            note: "disk full".into(),
        },
    )
    .await;
    let pending = Mail::enqueue_with(
        &kiribi,
        Mail {
            to: "wanted@example.com".into(),
        },
        EnqueueOptions::new().queue("mail"),
    )
    .await
    .unwrap();
    let flow = Flow::new("signup")
        .step("fetch", Mail { to: "f".into() })
        .step_after("welcome", Mail { to: "w".into() }, ["fetch"])
        .enqueue(&kiribi)
        .await
        .unwrap();
    kiribi
        .schedule("nightly", "0 3 * * *", Mail { to: "n".into() })
        .await
        .unwrap();
    let base =
        serve(axum::Router::new().nest("/admin/jobs", kiribi::dashboard::router(kiribi.clone())))
            .await;
    let base = format!("{base}/admin/jobs");

    with_browser(move |client| async move {
        client.goto(&base).await.unwrap();
        assert_eq!(text_of(&client, "h1").await, "Overview");
        client
            .find(Locator::Css("svg.chart"))
            .await
            .expect("a chart on the overview");
        assert_eq!(text_of(&client, ".count.status-failed .number").await, "1");
        assert_eq!(
            text_of(&client, ".count.status-succeeded .number").await,
            "3"
        );

        for (link, heading, shows) in [
            ("Queues", "Queues", "mail"),
            ("Schedules", "Schedules", "nightly"),
            ("Flows", "Flows", "signup"),
            ("Jobs", "Jobs", "disk full"),
        ] {
            client
                .find(Locator::LinkText(link))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_text(&client, "h1", heading).await;
            wait_for_text(&client, "main", shows).await;
        }

        // Filter by name and text through the form.
        let name = client
            .find(Locator::Css("form#filter input[name=name]"))
            .await
            .unwrap();
        name.send_keys("mail").await.unwrap();
        let text = client
            .find(Locator::Css("form#filter input[name=text]"))
            .await
            .unwrap();
        text.send_keys("wanted@").await.unwrap();
        click(&client, "form#filter button[type=submit]").await;
        kiribi_tests::wait::until("the filtered list", PATIENCE, || async {
            let url = client.current_url().await.ok()?;
            url.query()
                .is_some_and(|q| q.contains("text=wanted"))
                .then_some(())
        })
        .await;
        let rows = client
            .find_all(Locator::Css("table.jobs tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "only the wanted job");
        assert_eq!(
            rows[0].attr("data-job").await.unwrap(),
            Some(pending.to_string())
        );

        // Open it.
        click(&client, &format!("tr[data-job='{pending}'] td a")).await;
        wait_for_text(&client, "h1", &format!("Job {pending}")).await;
        assert!(
            text_of(&client, "pre.json")
                .await
                .contains("wanted@example.com")
        );

        // The flow page draws its steps.
        client.goto(&format!("{base}/flows/{flow}")).await.unwrap();
        wait_for_text(&client, "h1", "signup").await;
        let nodes = client
            .find_all(Locator::Css("svg.flow rect.node"))
            .await
            .unwrap();
        assert_eq!(nodes.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_retried_in_the_browser_succeeds() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    let worker = kiribi.worker().concurrency(2).start();
    let id = Flaky::enqueue(
        &kiribi,
        Flaky {
            label: "import".into(),
        },
    )
    .await
    .unwrap();
    let failed = kiribi_tests::wait_for_status(&kiribi, id, JobStatus::Failed).await;
    assert!(failed.last_error.unwrap().contains("first attempt fails"));
    let base = serve(kiribi::dashboard::router(kiribi.clone())).await;

    let k = kiribi.clone();
    with_browser(move |client| async move {
        client.goto(&format!("{base}/jobs/{id}")).await.unwrap();
        assert_eq!(text_of(&client, "h1 .status").await, "failed");
        assert!(
            text_of(&client, "table.attempts")
                .await
                .contains("first attempt fails")
        );
        click(&client, "div.actions button.primary").await;
        wait_for_text(&client, "p.notice", "Retried").await;
        // The worker runs it; the page shows it succeed (by itself, if the worker
        // was slower than the redirect).
        wait_for_text(&client, "h1 .status", "succeeded").await;
        assert!(
            text_of(&client, "main")
                .await
                .contains("import: done on attempt 2")
        );
        assert_eq!(
            k.job(id).await.unwrap().unwrap().status,
            JobStatus::Succeeded
        );
    })
    .await;
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_jobs_are_cancelled_in_bulk_after_a_confirmation() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(
            Mail::enqueue_with(
                &kiribi,
                Mail { to: format!("{i}") },
                EnqueueOptions::new().queue("held"),
            )
            .await
            .unwrap(),
        );
    }
    let elsewhere = Mail::enqueue(&kiribi, Mail { to: "keep".into() })
        .await
        .unwrap();
    let base = serve(kiribi::dashboard::router(kiribi.clone())).await;

    let k = kiribi.clone();
    with_browser(move |client| async move {
        client
            .goto(&format!("{base}/jobs?queue=held"))
            .await
            .unwrap();
        wait_for_text(&client, "h1", "Jobs").await;
        click(&client, "input[data-select-all]").await;
        let boxes = client
            .find_all(Locator::Css("input[name=id]"))
            .await
            .unwrap();
        assert_eq!(boxes.len(), 3);
        for each in &boxes {
            assert!(
                each.is_selected().await.unwrap(),
                "select-all ticks every job"
            );
        }
        click(&client, "button[value=cancel-selected]").await;
        wait_for_text(&client, ".confirm-question", "Cancel 3 selected jobs?").await;
        for id in &held {
            assert_eq!(
                k.job(*id).await.unwrap().unwrap().status,
                JobStatus::Pending,
                "not before the confirmation"
            );
        }
        click(&client, "#confirm").await;
        wait_for_text(&client, "#bulk-result", "Cancelled 3 of 3 jobs.").await;
        for id in &held {
            assert_eq!(
                k.job(*id).await.unwrap().unwrap().status,
                JobStatus::Cancelled
            );
        }
        assert_eq!(
            k.job(elsewhere).await.unwrap().unwrap().status,
            JobStatus::Pending
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_is_paused_and_resumed_in_the_browser() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    Mail::enqueue_with(
        &kiribi,
        Mail { to: "x".into() },
        EnqueueOptions::new().queue("mail"),
    )
    .await
    .unwrap();
    let base = serve(kiribi::dashboard::router(kiribi.clone())).await;

    let k = kiribi.clone();
    with_browser(move |client| async move {
        client.goto(&format!("{base}/queues")).await.unwrap();
        click(&client, "tr[data-queue=mail] button").await;
        wait_for_text(&client, "p.notice", "Queue paused").await;
        assert!(
            text_of(&client, "tr[data-queue=mail]")
                .await
                .contains("paused")
        );
        assert!(
            k.queues()
                .await
                .unwrap()
                .iter()
                .any(|q| q.name == "mail" && q.paused)
        );
        click(&client, "tr[data-queue=mail] button").await;
        wait_for_text(&client, "p.notice", "Queue resumed").await;
        assert!(k.queues().await.unwrap().iter().all(|q| !q.paused));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_refreshes_itself_without_a_reload_and_keeps_the_form() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    kiribi.pause_queue("later").await.unwrap();
    let waiting = Mail::enqueue_with(
        &kiribi,
        Mail { to: "w".into() },
        EnqueueOptions::new().queue("later"),
    )
    .await
    .unwrap();
    let other = Mail::enqueue_with(
        &kiribi,
        Mail { to: "o".into() },
        EnqueueOptions::new().queue("later"),
    )
    .await
    .unwrap();
    let base = serve(kiribi::dashboard::router(kiribi.clone())).await;

    let k = kiribi.clone();
    with_browser(move |client| async move {
        client.goto(&format!("{base}/jobs")).await.unwrap();
        wait_for_text(&client, &format!("tr[data-job='{waiting}']"), "pending").await;
        // State a reload would lose: a script variable, typed text, a ticked box.
        client
            .execute("window.kiribiMarker = 42;", vec![])
            .await
            .unwrap();
        client
            .find(Locator::Css("form#filter input[name=text]"))
            .await
            .unwrap()
            .send_keys("typed, not sent")
            .await
            .unwrap();
        click(&client, &format!("input[name=id][value='{other}']")).await;

        let worker = k.worker().queues(["later"]).start();
        k.resume_queue("later").await.unwrap();
        kiribi_tests::wait_for_status(&k, waiting, JobStatus::Succeeded).await;
        wait_for_text(&client, &format!("tr[data-job='{waiting}']"), "succeeded").await;

        let marker = client
            .execute("return window.kiribiMarker;", vec![])
            .await
            .unwrap();
        assert_eq!(marker, serde_json::json!(42), "the page was not reloaded");
        let typed = client
            .find(Locator::Css("form#filter input[name=text]"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(typed.as_deref(), Some("typed, not sent"));
        let ticked = client
            .find(Locator::Css(&format!("input[name=id][value='{other}']")))
            .await
            .unwrap();
        assert!(
            ticked.is_selected().await.unwrap(),
            "the ticked box stays ticked"
        );
        let refreshed = client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .attr("data-refreshed")
            .await
            .unwrap();
        assert!(refreshed.is_some_and(|n| n.parse::<u32>().unwrap() >= 1));
        worker.shutdown().await.unwrap();
    })
    .await;
}

mod screenshots {
    //! The README's screenshots, from a few minutes of real work: run with
    //! `cargo test -p kiribi-dashboard --test browser -- --ignored screenshots`
    //! (`KIRIBI_SCREENSHOT_SECONDS`, default 150, sets how long the jobs run).

    use std::time::Duration;

    use kiribi::{EnqueueOptions, Flow, JobContext, JobError, JobStatus, job};
    use kiribi_tests::TestDb;

    use super::common::browser::{serve, wait_for_text, with_browser};

    fn spread(seed: u64, low: u64, high: u64) -> u64 {
        low + (seed.wrapping_mul(2_654_435_761) % (high - low + 1))
    }

    #[job(queue = "mail", max_attempts = 3, retry_delay = "200ms")]
    async fn send_welcome(ctx: JobContext, user_id: u64, email: String) -> Result<String, String> {
        tokio::time::sleep(Duration::from_millis(spread(user_id, 5, 60))).await;
        if user_id.is_multiple_of(29) && ctx.attempt() == 1 {
            return Err(format!(
                "SMTP 421 from mx.example.com: try again later ({email})"
            ));
        }
        Ok(format!("250 queued as {user_id:x}"))
    }

    #[job(
        queue = "media",
        max_attempts = 2,
        retry_delay = "300ms",
        name = "media.resize"
    )]
    async fn resize(path: String, width: u32, seed: u64) -> Result<u64, String> {
        tokio::time::sleep(Duration::from_millis(spread(seed, 80, 420))).await;
        if seed.is_multiple_of(9) {
            return Err(format!(
                "decode {path}: unsupported colour type 6 at width {width}"
            ));
        }
        Ok(u64::from(width) * 3 / 4)
    }

    #[job(queue = "reports", max_attempts = 1)]
    async fn monthly_report(ctx: JobContext, account: u64) -> Result<serde_json::Value, String> {
        for step in 1..=4u8 {
            tokio::time::sleep(Duration::from_millis(spread(
                account + u64::from(step),
                150,
                500,
            )))
            .await;
            ctx.progress(f32::from(step) / 4.0);
        }
        Ok(
            serde_json::json!({ "account": account, "rows": account * 37, "pdf": format!("reports/{account}.pdf") }),
        )
    }

    #[job(max_attempts = 3, retry_delay = "150ms")]
    async fn sync_crm(ctx: JobContext, user_id: u64) -> Result<(), JobError> {
        ctx.log(format!("PUT https://crm.example.com/v2/contacts/{user_id}"));
        tokio::time::sleep(Duration::from_millis(120)).await;
        ctx.log("503 Service Unavailable, retry-after: 30");
        Err(JobError::new(format!(
            "crm.example.com answered 503 Service Unavailable for contact {user_id}"
        )))
    }

    #[job]
    async fn fetch_user(ctx: JobContext, user_id: u64) -> Result<serde_json::Value, String> {
        ctx.log(format!("SELECT * FROM users WHERE id = {user_id}"));
        Ok(serde_json::json!({ "id": user_id, "email": "ana@example.com", "plan": "pro" }))
    }

    #[job]
    async fn build_report(user_id: u64) -> Result<(), String> {
        let _ = user_id;
        Ok(())
    }

    #[job(cron = "0 3 * * *")]
    async fn nightly_cleanup() -> Result<u64, String> {
        Ok(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "writes docs/dashboard-*.png over a few minutes; run by hand for the README"]
    async fn screenshots_for_the_readme() {
        let seconds: u64 = std::env::var("KIRIBI_SCREENSHOT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(150);
        let db = TestDb::sqlite();
        let kiribi = db.connect().await;
        let worker = kiribi.worker().concurrency(8).start();
        kiribi
            .schedule("cleanup.eu", "*/30 * * * *", NightlyCleanup {})
            .await
            .unwrap();
        let flow = Flow::new("onboard user 7")
            .step("fetch", FetchUser { user_id: 7 })
            .step_after(
                "welcome",
                SendWelcome {
                    user_id: 7,
                    email: "ana@example.com".into(),
                },
                ["fetch"],
            )
            .step_after("crm", SyncCrm { user_id: 7 }, ["fetch"])
            .step_after("report", BuildReport { user_id: 7 }, ["welcome", "crm"])
            .enqueue(&kiribi)
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        let mut n = 0u64;
        while std::time::Instant::now() < deadline {
            n += 1;
            // Bursts and lulls, so the charts have a shape.
            let burst = 1 + (n / 25 % 4) * 2;
            for k in 0..burst {
                let id = n * 10 + k;
                SendWelcome::enqueue(
                    &kiribi,
                    SendWelcome {
                        user_id: id,
                        email: format!("user{id}@example.com"),
                    },
                )
                .await
                .unwrap();
                if id.is_multiple_of(2) {
                    Resize::enqueue(
                        &kiribi,
                        Resize {
                            path: format!("uploads/{id}.png"),
                            width: 640 + u32::try_from(id % 5).unwrap() * 320,
                            seed: id,
                        },
                    )
                    .await
                    .unwrap();
                }
            }
            if n.is_multiple_of(15) {
                MonthlyReport::enqueue(&kiribi, MonthlyReport { account: n })
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        // Work left for the pictures: a backlog in a paused queue, a report running.
        kiribi.pause_queue("media").await.unwrap();
        for id in 0..40 {
            Resize::enqueue_with(
                &kiribi,
                Resize {
                    path: format!("batch/{id}.jpg"),
                    width: 1280,
                    seed: id * 7 + 1,
                },
                EnqueueOptions::new(),
            )
            .await
            .unwrap();
        }
        MonthlyReport::enqueue(&kiribi, MonthlyReport { account: 4242 })
            .await
            .unwrap();
        let crm = kiribi
            .flow(flow)
            .await
            .unwrap()
            .unwrap()
            .step("crm")
            .unwrap()
            .job
            .id;
        kiribi_tests::wait_for_status(&kiribi, crm, JobStatus::Failed).await;
        let base = serve(kiribi::dashboard::router(kiribi.clone())).await;

        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        with_browser(move |client| async move {
            for (path, file, ready) in [
                (
                    "/?window=15m".to_owned(),
                    "dashboard-overview.png",
                    "Overview",
                ),
                (
                    "/jobs?status=failed&limit=25".to_owned(),
                    "dashboard-jobs.png",
                    "Jobs",
                ),
                (format!("/jobs/{crm}"), "dashboard-job.png", "Job"),
            ] {
                client.goto(&format!("{base}{path}")).await.unwrap();
                wait_for_text(&client, "h1", ready).await;
                let png = client.screenshot().await.unwrap();
                std::fs::write(docs.join(file), png).unwrap();
            }
        })
        .await;
        worker.shutdown().await.unwrap();
    }
}
