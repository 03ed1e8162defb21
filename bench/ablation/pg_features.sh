#!/usr/bin/env bash
# What PostgreSQL's server spends on the claim and the completion of plain jobs, on
# the schema of a kiribi checkout, with parts of it left out.
#
#   bench/ablation/pg_features.sh CHECKOUT NAME [SQL]
#
# Creates database pgx_NAME on the server at $PGHOST (127.0.0.1), applies CHECKOUT's
# PostgreSQL migrations, runs SQL (say `DROP INDEX kiribi_jobs_finished`), inserts
# 20,000 ready jobs and drains them in one DO block: claims of 256 through
# `kiribi_pick_jobs` and the claim's UPDATE, then the successes' UPDATE, as
# kiribi-postgres runs them. It prints the drain's server time. One transaction, no
# client round trips and no commits: only what the statements cost the server, so
# that schemas can be compared; alternate the cases and repeat, the machine is noisy.
#
# Measured 2026-12-04 (session 8), 6 alternated rounds, medians: 7a9f25c (before
# issue 11) 315 ms, main 360, main without the unique, ready-limited,
# running-limited and flow indexes 330 (BENCHMARKS.md has every round).
set -euo pipefail
checkout=$1
db=pgx_$2
extra=${3:-}
psql_() { psql -q -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" "$@"; }
PGOPTIONS="-c client_min_messages=warning" psql_ -d test -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "CREATE DATABASE $db" >/dev/null
for migration in "$checkout"/kiribi-postgres/migrations/*.sql; do
    psql_ -d "$db" -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
done
if [ -n "$extra" ]; then
    psql_ -d "$db" -v ON_ERROR_STOP=1 -c "$extra" >/dev/null
fi
psql_ -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, created_at, run_at)
SELECT 'bench.noop', 'default', 'pending', 0, 3, jsonb_build_object('seq', g), now(), now()
FROM generate_series(1, 20000) AS g;
VACUUM ANALYZE kiribi_jobs;
SQL
psql_ -d "$db" -v ON_ERROR_STOP=1 2>&1 <<'SQL' | sed -n 's/.*NOTICE: *//p'
DO $$
DECLARE
    ids BIGINT[];
    att INT[];
    started timestamptz := clock_timestamp();
    drained INT := 0;
BEGIN
    LOOP
        WITH picked AS (
            SELECT id FROM kiribi_pick_jobs(ARRAY['bench.noop'], NULL, 256) AS id
        ), claimed AS (
            UPDATE kiribi_jobs AS j
            SET status = 'running', attempts = j.attempts + 1, started_at = now(),
                lease_owner = 'w', lease_expires_at = now() + interval '5 minutes',
                attempted_by = 'w'
            FROM picked WHERE j.id = picked.id
            RETURNING j.id, j.attempts
        )
        SELECT array_agg(id), array_agg(attempts) INTO ids, att FROM claimed;
        EXIT WHEN ids IS NULL;
        drained := drained + array_length(ids, 1);
        WITH input AS (SELECT * FROM UNNEST(ids, att) AS c(id, attempt) ORDER BY id)
        UPDATE kiribi_jobs AS j
        SET status = 'succeeded', result = NULL, finished_at = now(),
            lease_owner = NULL, lease_expires_at = NULL
        FROM input AS c
        WHERE j.id = c.id AND j.status = 'running' AND j.attempts = c.attempt
          AND j.lease_owner = 'w';
    END LOOP;
    RAISE NOTICE 'drained % jobs in % ms', drained,
        round(extract(epoch FROM clock_timestamp() - started) * 1000);
END $$;
SQL
psql_ -d test -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
