-- Cancelling a running job: the request is a flag on the job row, which its
-- worker reads for its own running jobs after `kiribi.cancel` announced it with
-- `NOTIFY kiribi_stop.<schema>` (a channel apart from new jobs' so that a wake-up
-- for new jobs never costs a worker a look for cancel requests).
--
-- A column with a constant default: PostgreSQL adds it without rewriting the table.
ALTER TABLE kiribi_jobs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false;
