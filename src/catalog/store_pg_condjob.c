/*
 * store_pg_condjob.c: condition jobs in PostgreSQL (migration 24, issue 12), the twin of
 * store_sqlite_condjob.c: one row per queued one-step condition record with its progress,
 * outcome and the running server's last beat. Row primitives only; condition_job.c decides
 * which jobs count as stopped and what a reader is told. The clock is the server's
 * (statement_timestamp, ms since 1970), so that nodes whose clocks differ agree.
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

const char dq_pg_condjob_schema[] =
    "CREATE TABLE condition_jobs ("
    " id text COLLATE \"C\" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 39),"
    " relic_id text NOT NULL, who text NOT NULL, node text NOT NULL,"
    " state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),"
    " stage text NOT NULL, percent integer NOT NULL, http_status integer NOT NULL,"
    " record text NOT NULL, error text,"
    " created_at text NOT NULL, beat_ms bigint NOT NULL, finished_ms bigint NOT NULL);"
    "CREATE INDEX condition_jobs_finished ON condition_jobs(finished_ms);";

#define NOW_MS "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"
#define COLS                                                                                       \
    "id, relic_id, who, node, state, stage, percent, http_status, record, error, created_at,"     \
    " beat_ms, finished_ms, " NOW_MS ", work"

typedef struct {
    dq_condjob_cb cb;
    void *ud;
    int n;
} walk_t;

static int job_row(void *ud, PGresult *r)
{
    walk_t *w = ud;
    dq_condjob_row_t row = {0};
    dq_pg_copy_col(row.id, sizeof(row.id), r, 0, 0);
    dq_pg_copy_col(row.relic_id, sizeof(row.relic_id), r, 0, 1);
    dq_pg_copy_col(row.user, sizeof(row.user), r, 0, 2);
    dq_pg_copy_col(row.node, sizeof(row.node), r, 0, 3);
    dq_pg_copy_col(row.state, sizeof(row.state), r, 0, 4);
    dq_pg_copy_col(row.stage, sizeof(row.stage), r, 0, 5);
    row.percent = (int)dq_pg_col_int(r, 0, 6);
    row.http_status = (int)dq_pg_col_int(r, 0, 7);
    dq_pg_copy_col(row.record, sizeof(row.record), r, 0, 8);
    row.error = dq_pg_col(r, 0, 9);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 10);
    row.beat_ms = dq_pg_col_int(r, 0, 11);
    row.finished_ms = dq_pg_col_int(r, 0, 12);
    row.now_ms = dq_pg_col_int(r, 0, 13);
    row.work = dq_pg_col(r, 0, 14);
    w->n++;
    return w->cb(w->ud, &row);
}

static void p_fields(pg_params_t *p, const dq_condjob_row_t *row)
{
    dq_pg_p_text(p, row->state);
    dq_pg_p_text(p, row->stage);
    dq_pg_p_int(p, row->percent);
    dq_pg_p_int(p, row->http_status);
    dq_pg_p_text(p, row->record);
    dq_pg_p_text(p, row->error);
}

static int job_insert(dq_store_txn_t *t, const dq_condjob_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->id);
    dq_pg_p_text(&p, row->relic_id);
    dq_pg_p_text(&p, row->user);
    dq_pg_p_text(&p, row->node);
    p_fields(&p, row);
    return dq_pg_run(t,
                     "INSERT INTO condition_jobs (id, relic_id, who, node, state, stage, percent,"
                     " http_status, record, error, created_at, beat_ms, finished_ms) VALUES ($1,"
                     " $2, $3, $4, $5, $6, $7, $8, $9, $10, " DQ_PG_NOW ", " NOW_MS ", 0)",
                     &p, NULL, err);
}

static int job_update(dq_store_txn_t *t, const dq_condjob_row_t *row, int finished, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, row->id);
    p_fields(&p, row);
    dq_pg_p_int(&p, finished ? 1 : 0);
    if (dq_pg_run(t,
                  "UPDATE condition_jobs SET state = $2, stage = $3, percent = $4,"
                  " http_status = $5, record = $6, error = $7, beat_ms = " NOW_MS ","
                  " finished_ms = CASE WHEN $8 = 1 THEN " NOW_MS " ELSE 0 END"
                  " WHERE id = $1 AND finished_ms = 0",
                  &p, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int job_beat(dq_store_txn_t *t, const char *node, int64_t *n, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, node);
    return dq_pg_run(t,
                     "UPDATE condition_jobs SET beat_ms = " NOW_MS
                     " WHERE node = $1 AND finished_ms = 0",
                     &p, n, err);
}

static int job_get(dq_store_txn_t *t, const char *id, dq_condjob_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, id);
    if (dq_pg_walk(t, "SELECT " COLS " FROM condition_jobs WHERE id = $1", &p, job_row, &w,
                   err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int job_unfinished(dq_store_txn_t *t, dq_condjob_cb cb, void *ud, dq_err_t *err)
{
    walk_t w = {cb, ud, 0};
    return dq_pg_walk(t, "SELECT " COLS " FROM condition_jobs WHERE finished_ms = 0 ORDER BY id",
                      NULL, job_row, &w, err);
}

static int job_expire(dq_store_txn_t *t, int64_t age_ms, int64_t *n, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_int(&p, age_ms);
    return dq_pg_run(t,
                     "DELETE FROM condition_jobs WHERE finished_ms > 0"
                     " AND finished_ms < " NOW_MS " - $1::bigint",
                     &p, n, err);
}

static int job_set_work(dq_store_txn_t *t, const char *id, const char *work, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, id);
    dq_pg_p_text(&p, work);
    if (dq_pg_run(t, "UPDATE condition_jobs SET work = $2 WHERE id = $1 AND finished_ms = 0", &p,
                  &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

const dq_store_condjob_ops dq_pg_condjob_ops = {
    .set_work = job_set_work,
    .insert = job_insert,
    .update = job_update,
    .beat = job_beat,
    .get = job_get,
    .unfinished = job_unfinished,
    .expire = job_expire,
};
