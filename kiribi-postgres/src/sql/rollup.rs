//! The SQL of statistics and retention: rolling finished jobs up per minute,
//! reading the rollups back, and pruning what retention no longer keeps (see the
//! `rollups` migration).

/// Locks the rollup state for one roll-up or prune, skipping it when another
/// transaction holds it (that process is at it): the watermark, and the
/// database's now − ?1 microseconds.
pub(crate) const LOCK_WATERMARK: &str = "\
    SELECT rolled_until, now() - $1::bigint * interval '1 microsecond' AS until \
    FROM kiribi_rollup_state WHERE id = 1 FOR UPDATE SKIP LOCKED";

/// The watermark, without a lock.
pub(crate) const WATERMARK: &str = "SELECT rolled_until FROM kiribi_rollup_state WHERE id = 1";

/// Moves the watermark to $1.
pub(crate) const SET_WATERMARK: &str =
    "UPDATE kiribi_rollup_state SET rolled_until = $1 WHERE id = 1";

/// The earliest `finished_at` at or after $1 of a finished job, or NULL: three
/// probes of `kiribi_jobs_finished`.
pub(crate) const FIRST_FINISHED_SINCE: &str = "\
    SELECT LEAST( \
        (SELECT min(finished_at) FROM kiribi_jobs \
         WHERE status = 'succeeded' AND finished_at >= $1), \
        (SELECT min(finished_at) FROM kiribi_jobs \
         WHERE status = 'failed' AND finished_at >= $1), \
        (SELECT min(finished_at) FROM kiribi_jobs \
         WHERE status = 'cancelled' AND finished_at >= $1))";

/// The jobs that finished at or after $1 and before $2 (NULL: no end), as a
/// roll-up counts them, through `kiribi_jobs_finished`.
pub(crate) const FINISHED_BETWEEN: &str = "\
    SELECT id, name, queue, status, attempts, run_at, started_at, finished_at \
    FROM kiribi_jobs \
    WHERE status IN ('succeeded', 'failed', 'cancelled') \
      AND finished_at >= $1 AND ($2::timestamptz IS NULL OR finished_at < $2)";

/// The stored rollups of the minutes at or after $1 and before $2.
pub(crate) const ROLLUPS_BETWEEN: &str = "\
    SELECT minute, name, queue, succeeded, failed, cancelled, retried, run_time, wait_time \
    FROM kiribi_rollups WHERE minute >= $1 AND minute < $2";

/// The watermark and the stored rollups of the minutes from $1 on, in one
/// statement, so one snapshot: the watermark in every row, and one row with only
/// the watermark when there are no rollups.
pub(crate) const ROLLUPS_SINCE: &str = "\
    SELECT s.rolled_until, r.minute, r.name, r.queue, r.succeeded, r.failed, r.cancelled, \
           r.retried, r.run_time, r.wait_time \
    FROM kiribi_rollup_state s LEFT JOIN kiribi_rollups r ON r.minute >= $1 \
    WHERE s.id = 1";

/// Stores one rollup row whole (the caller merged what was stored into it).
pub(crate) const PUT_ROLLUP: &str = "\
    INSERT INTO kiribi_rollups \
        (minute, name, queue, succeeded, failed, cancelled, retried, run_time, wait_time) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (minute, name, queue) DO UPDATE SET \
        succeeded = excluded.succeeded, failed = excluded.failed, \
        cancelled = excluded.cancelled, retried = excluded.retried, \
        run_time = excluded.run_time, wait_time = excluded.wait_time";

/// Whether job `$j` (a table alias) may be pruned: finished before the watermark
/// ($4) and before the cut-off of its status ($1 succeeded, $2 failed, $3
/// cancelled; NULL keeps it). Never NULL.
macro_rules! expired {
    ($j:literal) => {
        concat!(
            "COALESCE(",
            $j,
            ".finished_at < $4 AND CASE ",
            $j,
            ".status \
                 WHEN 'succeeded' THEN ",
            $j,
            ".finished_at < $1 \
                 WHEN 'failed' THEN ",
            $j,
            ".finished_at < $2 \
                 WHEN 'cancelled' THEN ",
            $j,
            ".finished_at < $3 \
                 ELSE false END, false)"
        )
    };
}

/// Deletes up to $5 jobs outside flows that retention no longer keeps, skipping
/// rows another transaction holds. $1..$4 as in `expired!`.
pub(crate) const PRUNE_JOBS: &str = concat!(
    "DELETE FROM kiribi_jobs WHERE id IN ( \
         SELECT id FROM kiribi_jobs j \
         WHERE j.status IN ('succeeded', 'failed', 'cancelled') \
           AND j.finished_at < $4 AND j.flow_id IS NULL AND ",
    expired!("j"),
    " LIMIT $5 FOR UPDATE SKIP LOCKED)"
);

/// Deletes every step of up to $5 flows whose steps retention all no longer
/// keeps; the `flows` migration's delete trigger removes their dependency rows
/// and, with the last step, the flow. $1..$4 as in `expired!`.
pub(crate) const PRUNE_FLOWS: &str = concat!(
    "DELETE FROM kiribi_jobs WHERE flow_id IN ( \
         SELECT DISTINCT j.flow_id FROM kiribi_jobs j \
         WHERE j.status IN ('succeeded', 'failed', 'cancelled') \
           AND j.finished_at < $4 AND j.flow_id IS NOT NULL AND ",
    expired!("j"),
    "    AND NOT EXISTS ( \
             SELECT 1 FROM kiribi_jobs s \
             WHERE s.flow_id = j.flow_id AND NOT ",
    expired!("s"),
    ") LIMIT $5)"
);
