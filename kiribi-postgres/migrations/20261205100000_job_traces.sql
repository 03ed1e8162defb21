-- Trace contexts: the W3C `traceparent` of the span a job was enqueued in, for
-- kiribi's `opentelemetry` feature, whose attempts continue the trace.
--
-- A side table keyed by job, written only for jobs enqueued inside a traced span
-- and read only by workers built with the feature: every other job pays nothing
-- (no column in the job row, which each claim and completion rewrites). Its rows
-- go with their job.
CREATE TABLE kiribi_job_traces (
    job_id      BIGINT PRIMARY KEY REFERENCES kiribi_jobs (id) ON DELETE CASCADE,
    traceparent TEXT   NOT NULL
);
