-- Fewer indexes on the job table: every one costs on each insert, and those with
-- `status` or lease columns on each claim and completion.
-- - Lease renewal walks `kiribi_jobs_lease_expiry`, which holds only running jobs
--   (a handful per worker), and filters them by owner.
-- - Listing by name or queue walks the table newest first and filters; listing by
--   status still has its index.
DROP INDEX kiribi_jobs_lease_owner;
DROP INDEX kiribi_jobs_by_name;
DROP INDEX kiribi_jobs_by_queue;
