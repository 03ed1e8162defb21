//! The dashboard over HTTP, on real SQLite and PostgreSQL databases: CSRF, escaping,
//! the token, read-only mode, bad input, filters and paging, bulk actions, pages.

mod common;

use axum::http::StatusCode;
use common::{Client, HOSTILE, Hostile, Mail, form};
use kiribi::{EnqueueOptions, Flow, JobId, JobStatus, Kiribi};
use kiribi_tests::{TestDb, backend_tests};

backend_tests!(
    actions_need_the_csrf_token_that_matches_the_browser_cookie,
    values_from_the_database_are_escaped_on_every_page,
    a_token_is_required_when_one_is_set,
    read_only_mode_hides_and_refuses_actions,
    bad_input_is_explained_on_the_page,
    the_list_filters_and_pages_by_id_cursor,
    bulk_actions_ask_for_confirmation_then_act_on_every_match,
    every_page_answers_under_a_nested_path,
);

async fn status_of(kiribi: &Kiribi, id: JobId) -> JobStatus {
    kiribi.job(id).await.unwrap().unwrap().status
}

async fn actions_need_the_csrf_token_that_matches_the_browser_cookie(db: TestDb) {
    let kiribi = db.connect().await;
    let id = Mail::enqueue_with(
        &kiribi,
        Mail { to: "a@b.c".into() },
        EnqueueOptions::new().queue("held"),
    )
    .await
    .unwrap();
    let mut browser = Client::new(kiribi::dashboard::router(kiribi.clone()));
    let page = browser.get(&format!("/jobs/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        browser
            .cookies
            .iter()
            .any(|c| c.starts_with("kiribi_dashboard_csrf=")),
        "the first page sets the CSRF cookie: {:?}",
        page.headers
    );
    let csrf = page.csrf();
    let path = format!("/jobs/{id}/cancel");

    let missing = browser.post(&path, "").await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.body);
    assert!(missing.body.contains("security token"), "{}", missing.body);
    let wrong = browser
        .post(&path, &form(&[("csrf", &"0".repeat(64))]))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    // The right token from another browser (another cookie) is refused too.
    let mut other = Client::new(browser.router.clone());
    other.get("/jobs").await;
    assert_eq!(
        other.post(&path, &form(&[("csrf", &csrf)])).await.status,
        StatusCode::FORBIDDEN
    );
    // And without any cookie at all.
    let mut bare = Client::new(browser.router.clone());
    assert_eq!(
        bare.post(&path, &form(&[("csrf", &csrf)])).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(&kiribi, id).await,
        JobStatus::Pending,
        "no refused request acted"
    );

    let done = browser.post(&path, &form(&[("csrf", &csrf)])).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("/jobs/{id}?done=cancel&ok=1"));
    assert_eq!(status_of(&kiribi, id).await, JobStatus::Cancelled);
    let after = browser.get(done.location()).await;
    assert!(
        after
            .body
            .contains("Cancelled (a running job is asked to stop)."),
        "{}",
        after.body
    );

    // Every action route checks it, bulk and queue ones included.
    for (path, body) in [
        ("/jobs/bulk", "op=delete-filter&confirm=yes"),
        ("/queues/action", "queue=held&action=pause"),
        ("/schedules/action", "schedule=x&action=run"),
        ("/flows/1/cancel", ""),
    ] {
        let refused = browser.post(path, body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(
        kiribi.job(id).await.unwrap().is_some(),
        "the bulk delete was refused"
    );
    assert!(
        !kiribi.queues().await.unwrap().iter().any(|q| q.paused),
        "the pause was refused"
    );
}

async fn values_from_the_database_are_escaped_on_every_page(db: TestDb) {
    let kiribi = db.connect().await;
    let note = HOSTILE.to_owned();
    let failed = Hostile::run_now(&kiribi, Hostile { note: note.clone() }).await;
    assert!(failed.is_err());
    let id = kiribi
        .jobs(kiribi::JobFilter::new().name("hostile"))
        .await
        .unwrap()[0]
        .id;
    let queued = Mail::enqueue_with(
        &kiribi,
        Mail { to: HOSTILE.into() },
        EnqueueOptions::new().queue(HOSTILE),
    )
    .await
    .unwrap();
    kiribi.pause_queue(HOSTILE).await.unwrap();
    let flow = Flow::new(HOSTILE)
        .step(HOSTILE, Mail { to: "x".into() })
        .enqueue(&kiribi)
        .await
        .unwrap();
    kiribi
        .schedule(HOSTILE, "0 3 * * *", Mail { to: HOSTILE.into() })
        .await
        .unwrap();
    // The logs of a run_now attempt are flushed with its end; wait for them anyway.
    kiribi_tests::wait::until(
        "the log line",
        std::time::Duration::from_secs(20),
        || async { (!kiribi.logs(id).await.unwrap().is_empty()).then_some(()) },
    )
    .await;

    let mut browser = Client::new(kiribi::dashboard::router(kiribi.clone()));
    let text = form_urlencoded::byte_serialize(HOSTILE.as_bytes()).collect::<String>();
    for path in [
        "/".to_owned(),
        "/jobs".to_owned(),
        format!("/jobs?text={text}"),
        format!("/jobs?name={text}&queue={text}&created_after={text}"),
        format!("/jobs/{id}"),
        format!("/jobs/{queued}"),
        "/queues".to_owned(),
        "/schedules".to_owned(),
        "/flows".to_owned(),
        format!("/flows/{flow}"),
    ] {
        let page = browser.get(&path).await;
        assert!(
            page.status == StatusCode::OK || page.status == StatusCode::BAD_REQUEST,
            "{path}: {}",
            page.status
        );
        assert!(
            !page.body.contains("<script>alert"),
            "{path} lets a script through:\n{}",
            page.body
        );
        assert!(
            !page.body.contains("<img src=x"),
            "{path} lets an element through"
        );
    }
    let detail = browser.get(&format!("/jobs/{id}")).await;
    for shown in [
        "failed with &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;",
        "log line &lt;script&gt;",
        "&lt;img src=x onerror='alert(1)'&gt; &amp; \\&quot;quoted\\&quot;",
    ] {
        assert!(
            detail.body.contains(shown),
            "the detail page shows {shown:?} as text:\n{}",
            detail.body
        );
    }
    let queues = browser.get("/queues").await;
    assert!(
        queues
            .body
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        "{}",
        queues.body
    );
}

async fn a_token_is_required_when_one_is_set(db: TestDb) {
    let kiribi = db.connect().await;
    let router = kiribi::dashboard::dashboard(kiribi.clone())
        .token("s3 cret;")
        .router();

    let mut anonymous = Client::new(router.clone());
    let refused = anonymous.get("/jobs").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.body.contains("?token="),
        "the refusal says what to do: {}",
        refused.body
    );
    assert_eq!(
        anonymous.get("/assets/app.js").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous
            .post("/queues/action", "queue=q&action=pause")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous.get("/jobs?token=s3").await.status,
        StatusCode::UNAUTHORIZED
    );

    let mut wrong = Client::new(router.clone());
    wrong
        .headers
        .push(("authorization".into(), "Bearer s3".into()));
    assert_eq!(wrong.get("/").await.status, StatusCode::UNAUTHORIZED);

    let mut bearer = Client::new(router.clone());
    bearer
        .headers
        .push(("authorization".into(), "Bearer s3 cret;".into()));
    assert_eq!(bearer.get("/").await.status, StatusCode::OK);

    // `?token=` once: a cookie, and the token taken out of the address.
    let mut browser = Client::new(router.clone());
    let first = browser.get("/jobs?status=failed&token=s3%20cret%3B").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.location(), "/jobs?status=failed");
    let set = first.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let page = browser.get(first.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Jobs</h1>"));

    // Authenticated, an action still needs its CSRF token.
    assert_eq!(
        browser
            .post("/queues/action", "queue=q&action=pause")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let csrf = browser.get("/queues").await.csrf();
    let paused = browser
        .post(
            "/queues/action",
            &form(&[("queue", "q"), ("action", "pause"), ("csrf", &csrf)]),
        )
        .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER);
    assert!(
        kiribi
            .queues()
            .await
            .unwrap()
            .iter()
            .any(|q| q.name == "q" && q.paused)
    );

    // An empty token admits nobody, not everybody.
    let mut locked = Client::new(
        kiribi::dashboard::dashboard(kiribi.clone())
            .token("")
            .router(),
    );
    assert_eq!(locked.get("/").await.status, StatusCode::UNAUTHORIZED);
    locked
        .headers
        .push(("authorization".into(), "Bearer ".into()));
    assert_eq!(
        locked.get("/?token=").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn read_only_mode_hides_and_refuses_actions(db: TestDb) {
    let kiribi = db.connect().await;
    let _ = Hostile::run_now(&kiribi, Hostile { note: "x".into() }).await;
    let failed = kiribi
        .jobs(kiribi::JobFilter::new().status(JobStatus::Failed))
        .await
        .unwrap()[0]
        .id;
    let pending = Mail::enqueue_with(
        &kiribi,
        Mail { to: "a".into() },
        EnqueueOptions::new().queue("held"),
    )
    .await
    .unwrap();
    kiribi
        .schedule("nightly", "0 3 * * *", Mail { to: "n".into() })
        .await
        .unwrap();

    let writable = Client::new(kiribi::dashboard::router(kiribi.clone()));
    let mut writable = writable;
    assert!(
        writable
            .get(&format!("/jobs/{failed}"))
            .await
            .body
            .contains(r#"method="post""#),
        "the check below can fail"
    );

    let mut browser = Client::new(
        kiribi::dashboard::dashboard(kiribi.clone())
            .read_only(true)
            .router(),
    );
    for path in [
        format!("/jobs/{failed}"),
        format!("/jobs/{pending}"),
        "/jobs".to_owned(),
        "/queues".to_owned(),
        "/schedules".to_owned(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains(r#"method="post""#),
            "{path} shows an action:\n{}",
            page.body
        );
        assert!(
            page.body.contains("read-only"),
            "{path} says it is read-only"
        );
    }
    // Even with a valid CSRF token (taken from a writable router would not match;
    // the guard refuses before it looks).
    for (path, body) in [
        (format!("/jobs/{failed}/retry"), String::new()),
        (format!("/jobs/{pending}/delete"), String::new()),
        (
            "/jobs/bulk".to_owned(),
            "op=delete-filter&confirm=yes".to_owned(),
        ),
        (
            "/queues/action".to_owned(),
            "queue=held&action=pause".to_owned(),
        ),
        (
            "/schedules/action".to_owned(),
            "schedule=nightly&action=run".to_owned(),
        ),
    ] {
        let refused = browser.post(&path, &body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(refused.body.contains("read-only"), "{}", refused.body);
    }
    assert_eq!(status_of(&kiribi, failed).await, JobStatus::Failed);
    assert_eq!(status_of(&kiribi, pending).await, JobStatus::Pending);
    assert_eq!(
        kiribi.jobs(kiribi::JobFilter::new()).await.unwrap().len(),
        2,
        "nothing was run or deleted"
    );
}

async fn bad_input_is_explained_on_the_page(db: TestDb) {
    let kiribi = db.connect().await;
    let mut browser = Client::new(kiribi::dashboard::router(kiribi.clone()));
    for (path, expected, status) in [
        (
            "/jobs?status=done",
            "`done` is not a job status",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/jobs?created_after=yesterday",
            "Created after: `yesterday` is not a time",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/jobs?finished_before=2025-13-01",
            "Finished before: `2025-13-01` is not a time",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/jobs?limit=100000",
            "Per page: `100000` is not a number from 1 to 500",
            StatusCode::BAD_REQUEST,
        ),
        ("/jobs?before=abc", "Page cursor:", StatusCode::BAD_REQUEST),
        ("/jobs/abc", "is not a job id", StatusCode::BAD_REQUEST),
        (
            "/jobs/987654",
            "There is no job 987654",
            StatusCode::NOT_FOUND,
        ),
        (
            "/flows?status=done",
            "is not a flow status",
            StatusCode::BAD_REQUEST,
        ),
        ("/flows/x", "is not a flow id", StatusCode::BAD_REQUEST),
        (
            "/?window=forever",
            "Window: `forever` is not a duration",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/no/such/page",
            "There is no such page.",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(
            page.body.contains(expected),
            "{path} should say {expected:?}:\n{}",
            page.body
        );
    }
    // What was typed stays in the form, to be corrected.
    let page = browser.get("/jobs?created_after=yesterday&name=mail").await;
    assert!(
        page.body
            .contains(r#"name="created_after" value="yesterday""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"name="name" value="mail""#));
}

async fn the_list_filters_and_pages_by_id_cursor(db: TestDb) {
    let kiribi = db.connect().await;
    let mut ids = Vec::new();
    for i in 0..7u32 {
        let queue = if i.is_multiple_of(2) { "even" } else { "odd" };
        ids.push(
            Mail::enqueue_with(
                &kiribi,
                Mail {
                    to: format!("user{i}@example.com"),
                },
                EnqueueOptions::new().queue(queue),
            )
            .await
            .unwrap(),
        );
    }
    let _ = Hostile::run_now(
        &kiribi,
        Hostile {
            note: "needle".into(),
        },
    )
    .await;
    let mut browser = Client::new(kiribi::dashboard::router(kiribi.clone()));
    let rows = |body: &str| -> Vec<i64> {
        body.match_indices("data-job=\"")
            .map(|(at, m)| {
                let rest = &body[at + m.len()..];
                rest[..rest.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    };
    let first = browser.get("/jobs?name=mail&limit=3").await;
    let newest: Vec<i64> = ids.iter().rev().take(3).map(|id| id.as_i64()).collect();
    assert_eq!(rows(&first.body), newest);
    let older = format!("/jobs?name=mail&limit=3&before={}", newest[2]);
    assert!(
        first.body.contains(&older.replace('&', "&amp;")),
        "an Older link with the cursor:\n{}",
        first.body
    );
    let second = browser.get(&older).await;
    assert_eq!(
        rows(&second.body),
        ids.iter()
            .rev()
            .skip(3)
            .take(3)
            .map(|id| id.as_i64())
            .collect::<Vec<_>>()
    );
    assert!(second.body.contains("← Newest"));
    let last = browser
        .get(&format!("/jobs?name=mail&limit=3&before={}", ids[1]))
        .await;
    assert_eq!(rows(&last.body), vec![ids[0].as_i64()]);
    assert!(
        !last.body.contains("Older →"),
        "the last page has no older one"
    );

    assert_eq!(rows(&browser.get("/jobs?queue=odd").await.body).len(), 3);
    assert_eq!(
        rows(&browser.get("/jobs?text=user4%40example").await.body),
        vec![ids[4].as_i64()]
    );
    let needle = rows(&browser.get("/jobs?text=needle&status=failed").await.body);
    assert_eq!(needle.len(), 1, "text in the last error");
    assert_eq!(
        rows(&browser.get("/jobs?created_before=2000-01-01").await.body),
        Vec::<i64>::new()
    );
    assert_eq!(
        rows(
            &browser
                .get("/jobs?created_after=1h&status=pending")
                .await
                .body
        )
        .len(),
        7
    );
    assert_eq!(
        rows(&browser.get("/jobs?finished_after=1h").await.body),
        needle
    );
}

async fn bulk_actions_ask_for_confirmation_then_act_on_every_match(db: TestDb) {
    let kiribi = db.connect().await;
    let mut held = Vec::new();
    for i in 0..4 {
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
    let other = Mail::enqueue_with(
        &kiribi,
        Mail { to: "other".into() },
        EnqueueOptions::new().queue("other"),
    )
    .await
    .unwrap();
    let mut browser = Client::new(kiribi::dashboard::router(kiribi.clone()));
    let csrf = browser.get("/jobs?queue=held").await.csrf();

    // Every job matching the filter: a confirmation with the count first.
    let ask = browser
        .post(
            "/jobs/bulk",
            &form(&[
                ("csrf", &csrf),
                ("op", "cancel-filter"),
                ("filter", "queue=held"),
            ]),
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.body);
    assert!(
        ask.body
            .contains("Cancel every job matching the filter (4 now)?"),
        "{}",
        ask.body
    );
    for id in &held {
        assert_eq!(
            status_of(&kiribi, *id).await,
            JobStatus::Pending,
            "nothing happens before the confirmation"
        );
    }
    let done = browser
        .post(
            "/jobs/bulk",
            &form(&[
                ("csrf", &csrf),
                ("op", "cancel-filter"),
                ("filter", "queue=held"),
                ("confirm", "yes"),
            ]),
        )
        .await;
    assert!(
        done.body.contains("Cancelled 4 of 4 jobs."),
        "{}",
        done.body
    );
    for id in &held {
        assert_eq!(status_of(&kiribi, *id).await, JobStatus::Cancelled);
    }
    assert_eq!(
        status_of(&kiribi, other).await,
        JobStatus::Pending,
        "outside the filter"
    );

    // Selected jobs: two of the cancelled ones retried, after a confirmation.
    let (a, b) = (held[0].to_string(), held[1].to_string());
    let ask = browser
        .post(
            "/jobs/bulk",
            &form(&[
                ("csrf", &csrf),
                ("op", "retry-selected"),
                ("id", &a),
                ("id", &b),
            ]),
        )
        .await;
    assert!(ask.body.contains("Retry 2 selected jobs?"), "{}", ask.body);
    assert_eq!(status_of(&kiribi, held[0]).await, JobStatus::Cancelled);
    let done = browser
        .post(
            "/jobs/bulk",
            &form(&[
                ("csrf", &csrf),
                ("op", "retry-selected"),
                ("id", &a),
                ("id", &b),
                ("confirm", "yes"),
            ]),
        )
        .await;
    assert!(done.body.contains("Retried 2 of 2 jobs."), "{}", done.body);
    assert_eq!(status_of(&kiribi, held[0]).await, JobStatus::Pending);
    assert_eq!(status_of(&kiribi, held[2]).await, JobStatus::Cancelled);

    // Delete by filter: the cancelled ones only.
    let done = browser
        .post(
            "/jobs/bulk",
            &form(&[
                ("csrf", &csrf),
                ("op", "delete-filter"),
                ("filter", "status=cancelled"),
                ("confirm", "yes"),
            ]),
        )
        .await;
    assert!(done.body.contains("Deleted 2 of 2 jobs."), "{}", done.body);
    assert!(kiribi.job(held[2]).await.unwrap().is_none());
    assert!(kiribi.job(held[0]).await.unwrap().is_some());

    let nothing = browser
        .post(
            "/jobs/bulk",
            &form(&[("csrf", &csrf), ("op", "retry-selected")]),
        )
        .await;
    assert_eq!(nothing.status, StatusCode::BAD_REQUEST);
    assert!(nothing.body.contains("Nothing selected"));
}

async fn every_page_answers_under_a_nested_path(db: TestDb) {
    let kiribi = db.connect().await;
    let _ = Hostile::run_now(&kiribi, Hostile { note: "n".into() }).await;
    let job = Mail::run_now(&kiribi, Mail { to: "m".into() })
        .await
        .unwrap();
    assert_eq!(job, "sent to m");
    let flow = Flow::new("signup")
        .step("fetch", Mail { to: "f".into() })
        .step_after("welcome", Mail { to: "w".into() }, ["fetch"])
        .step_after("crm", Mail { to: "c".into() }, ["fetch"])
        .step_after("report", Mail { to: "r".into() }, ["welcome", "crm"])
        .enqueue(&kiribi)
        .await
        .unwrap();
    let step = kiribi
        .flow(flow)
        .await
        .unwrap()
        .unwrap()
        .step("report")
        .unwrap()
        .job
        .id;
    kiribi
        .schedule("nightly", "0 3 * * *", Mail { to: "n".into() })
        .await
        .unwrap();
    let app = axum::Router::new().nest("/admin/jobs", kiribi::dashboard::router(kiribi.clone()));
    let mut browser = Client::new(app);
    for (path, heading) in [
        ("/admin/jobs".to_owned(), "Overview"),
        ("/admin/jobs/jobs".to_owned(), "Jobs"),
        (format!("/admin/jobs/jobs/{step}"), "Job"),
        ("/admin/jobs/queues".to_owned(), "Queues"),
        ("/admin/jobs/schedules".to_owned(), "Schedules"),
        ("/admin/jobs/flows".to_owned(), "Flows"),
        (format!("/admin/jobs/flows/{flow}"), "Flow"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(
            page.body.contains(&format!("<h1>{heading}")),
            "{path}:\n{}",
            page.body
        );
        assert!(
            page.body.contains(r#"href="/admin/jobs/assets/style.css""#),
            "{path} links inside the mount"
        );
        assert!(
            !page.body.contains(r#"href="/jobs"#),
            "{path} links outside the mount"
        );
    }
    let detail = browser.get(&format!("/admin/jobs/jobs/{step}")).await;
    assert!(
        detail.body.contains("<svg class=\"flow\""),
        "the step's flow is drawn"
    );
    for name in ["fetch", "welcome", "crm", "report"] {
        assert!(
            detail.body.contains(&format!(">{name}</text>")),
            "step {name} in the graph"
        );
    }
    let overview = browser.get("/admin/jobs").await;
    assert!(
        overview
            .body
            .contains("aria-label=\"Jobs finished per interval\"")
    );
    assert!(overview.body.contains("Most failing"));
    let css = browser.get("/admin/jobs/assets/style.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    let csp = overview.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        browser
            .cookies
            .iter()
            .any(|c| c.starts_with("kiribi_dashboard_csrf="))
    );
}
