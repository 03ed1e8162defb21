-- An enqueue writes one index entry fewer.
--
-- Pending jobs leave `kiribi_jobs_by_status`: every one of them is in the ready
-- index already, and the entry cost every enqueue an index insertion. Listing
-- pending jobs reads the ready index, or walks the table newest first when a
-- backlog is there; the planner picks by its statistics. The reaper and lease
-- renewal still find running jobs through this index.
DROP INDEX kiribi_jobs_by_status;
CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id)
    WHERE status NOT IN ('succeeded', 'pending');
