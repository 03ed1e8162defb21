//! A `Storage` that wraps a backend (for tracing, metrics, fault injection …) works
//! like the backend itself: jobs enqueue and run through it, and the backend's pool
//! is still found beneath it for transactional enqueues.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiribi::backend::{
    ClaimRequest, ClaimedJob, Enqueued, Lease, Listener, NewFlow, NewJob, NewSchedule, Outcome,
    ReapDecision, Rollup, RollupProgress, ScheduleTick, WorkerId, async_trait,
};
use kiribi::{
    AttemptRecord, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, JobStatus, Kiribi,
    LogLine, NewLogLine, ProgressUpdate, Result, Retention, ScheduleRecord, Storage, job,
};
use kiribi_tests::{Backend, TestDb, wait_for_status};

/// Forwards every call to `inner` and counts the calls by method.
struct Counted {
    inner: Arc<dyn Storage>,
    calls: Arc<Mutex<HashMap<&'static str, usize>>>,
}

impl Counted {
    fn tally(&self, method: &'static str) {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
    }
}

#[async_trait]
impl Storage for Counted {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn as_any(&self) -> &dyn Any {
        self.inner.as_any()
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        self.tally("enqueue");
        self.inner.enqueue(jobs).await
    }

    async fn enqueue_running(
        &self,
        job: NewJob,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<ClaimedJob> {
        self.tally("enqueue_running");
        self.inner.enqueue_running(job, owner, lease).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>> {
        self.tally("claim");
        self.inner.claim(request).await
    }

    async fn renew_leases(&self, owner: &WorkerId, lease: Duration) -> Result<u64> {
        self.tally("renew_leases");
        self.inner.renew_leases(owner, lease).await
    }

    async fn complete_many(&self, completions: &[(Lease, Outcome)]) -> Result<Vec<bool>> {
        self.tally("complete_many");
        self.inner.complete_many(completions).await
    }

    async fn release(&self, leases: &[Lease]) -> Result<u64> {
        self.tally("release");
        self.inner.release(leases).await
    }

    async fn reap_expired(&self, decide: ReapDecision<'_>) -> Result<u64> {
        self.tally("reap_expired");
        self.inner.reap_expired(decide).await
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>> {
        self.tally("get");
        self.inner.get(id).await
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        self.tally("list");
        self.inner.list(filter).await
    }

    async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>> {
        self.tally("attempts");
        self.inner.attempts(id).await
    }

    async fn cancel(&self, id: JobId) -> Result<bool> {
        self.tally("cancel");
        self.inner.cancel(id).await
    }

    async fn cancel_requests(&self, owner: &WorkerId) -> Result<Vec<JobId>> {
        self.tally("cancel_requests");
        self.inner.cancel_requests(owner).await
    }

    async fn listen_cancels(&self) -> Result<Option<Box<dyn Listener>>> {
        self.tally("listen_cancels");
        self.inner.listen_cancels().await
    }

    async fn retry(&self, id: JobId) -> Result<bool> {
        self.tally("retry");
        self.inner.retry(id).await
    }

    async fn make_due(&self, id: JobId) -> Result<bool> {
        self.tally("make_due");
        self.inner.make_due(id).await
    }

    async fn delete(&self, id: JobId) -> Result<bool> {
        self.tally("delete");
        self.inner.delete(id).await
    }

    async fn pause_queue(&self, queue: &str) -> Result<bool> {
        self.tally("pause_queue");
        self.inner.pause_queue(queue).await
    }

    async fn resume_queue(&self, queue: &str) -> Result<bool> {
        self.tally("resume_queue");
        self.inner.resume_queue(queue).await
    }

    async fn queues(&self) -> Result<Vec<kiribi::QueueInfo>> {
        self.tally("queues");
        self.inner.queues().await
    }

    async fn listen(&self) -> Result<Option<Box<dyn Listener>>> {
        self.tally("listen");
        self.inner.listen().await
    }

    async fn upsert_schedule(&self, schedule: &NewSchedule) -> Result<ScheduleRecord> {
        self.tally("upsert_schedule");
        self.inner.upsert_schedule(schedule).await
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        self.tally("schedules");
        self.inner.schedules().await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool> {
        self.tally("delete_schedule");
        self.inner.delete_schedule(name).await
    }

    async fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
        next_run_at: Option<kiribi::chrono::DateTime<kiribi::chrono::Utc>>,
    ) -> Result<bool> {
        self.tally("set_schedule_paused");
        self.inner
            .set_schedule_paused(name, paused, next_run_at)
            .await
    }

    async fn enqueue_flow(&self, flow: &NewFlow) -> Result<FlowId> {
        self.tally("enqueue_flow");
        self.inner.enqueue_flow(flow).await
    }

    async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>> {
        self.tally("flow");
        self.inner.flow(id).await
    }

    async fn flows(&self, filter: &FlowFilter) -> Result<Vec<FlowRecord>> {
        self.tally("flows");
        self.inner.flows(filter).await
    }

    async fn cancel_flow(&self, id: FlowId) -> Result<u64> {
        self.tally("cancel_flow");
        self.inner.cancel_flow(id).await
    }

    async fn dependencies(&self, id: JobId) -> Result<Vec<JobRecord>> {
        self.tally("dependencies");
        self.inner.dependencies(id).await
    }

    async fn enqueue_tick(&self, tick: &ScheduleTick) -> Result<Option<JobId>> {
        self.tally("enqueue_tick");
        self.inner.enqueue_tick(tick).await
    }

    async fn append_logs(&self, lines: &[NewLogLine]) -> Result<()> {
        self.tally("append_logs");
        self.inner.append_logs(lines).await
    }

    async fn set_progress(&self, progress: &[ProgressUpdate]) -> Result<()> {
        self.tally("set_progress");
        self.inner.set_progress(progress).await
    }

    async fn logs(&self, id: JobId) -> Result<Vec<LogLine>> {
        self.tally("logs");
        self.inner.logs(id).await
    }

    async fn roll_up(&self, lag: Duration) -> Result<RollupProgress> {
        self.tally("roll_up");
        self.inner.roll_up(lag).await
    }

    async fn rollups(
        &self,
        since: kiribi::chrono::DateTime<kiribi::chrono::Utc>,
    ) -> Result<Vec<Rollup>> {
        self.tally("rollups");
        self.inner.rollups(since).await
    }

    async fn prune(&self, retention: &Retention, batch: u32) -> Result<u64> {
        self.tally("prune");
        self.inner.prune(retention, batch).await
    }

    async fn count(&self, filter: &JobFilter) -> Result<u64> {
        self.tally("count");
        self.inner.count(filter).await
    }

    async fn create_search_indexes(&self) -> Result<()> {
        self.tally("create_search_indexes");
        self.inner.create_search_indexes().await
    }
}

#[job]
async fn double(n: u32) -> Result<u32, String> {
    Ok(2 * n)
}

async fn a_wrapped_storage_runs_jobs_and_keeps_the_backends_pool(db: TestDb) {
    let inner = db.connect().await.storage().clone();
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let kiribi = Kiribi::new(Counted {
        inner,
        calls: calls.clone(),
    });
    let backend = match db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(kiribi.storage().backend(), backend);

    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let through_handle = Double::enqueue(&kiribi, Double { n: 2 }).await.unwrap();

    // The pool is found beneath the wrapper, and a job enqueued in a transaction
    // of the caller's runs like the others.
    let in_transaction = match db.backend() {
        Backend::Sqlite => {
            assert!(kiribi.pg_pool().is_none());
            let pool = kiribi
                .sqlite_pool()
                .expect("the SQLite pool beneath the wrapper");
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let id = Double::enqueue(&mut *tx, Double { n: 3 }).await.unwrap();
            tx.commit().await.unwrap();
            id
        }
        Backend::Postgres => {
            assert!(kiribi.sqlite_pool().is_none());
            let pool = kiribi
                .pg_pool()
                .expect("the PostgreSQL pool beneath the wrapper");
            let mut tx = pool.begin().await.unwrap();
            let id = Double::enqueue(&mut *tx, Double { n: 3 }).await.unwrap();
            tx.commit().await.unwrap();
            id
        }
    };

    let first = wait_for_status(&kiribi, through_handle, JobStatus::Succeeded).await;
    assert_eq!(first.result, Some(serde_json::json!(4)));
    let second = wait_for_status(&kiribi, in_transaction, JobStatus::Succeeded).await;
    assert_eq!(second.result, Some(serde_json::json!(6)));
    assert_eq!(Double::run_now(&kiribi, Double { n: 5 }).await.unwrap(), 10);
    worker.shutdown().await.unwrap();

    let calls = calls.lock().unwrap();
    for method in [
        "enqueue",
        "enqueue_running",
        "claim",
        "renew_leases",
        "complete_many",
        "reap_expired",
        "get",
        "listen",
    ] {
        assert!(
            calls.get(method).copied().unwrap_or(0) > 0,
            "`{method}` went through the wrapper: {calls:?}"
        );
    }
}

kiribi_tests::backend_tests!(a_wrapped_storage_runs_jobs_and_keeps_the_backends_pool);
