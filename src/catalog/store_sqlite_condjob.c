/*
 * store_sqlite_condjob.c: condition jobs in SQLite (migration 24, issue 12): one row per
 * one-step condition record that some server queued, with its progress, its outcome and the
 * running server's last beat. Row primitives inside the caller's transaction (store.h); which
 * jobs count as stopped, expiry and the API's JSON live in condition_job.c. Times compared
 * across servers are this database's clock in ms since 1970 (julianday, ms precision).
 */
#include "store_sqlite_internal.h"

#include <string.h>

/* No foreign key to relics: a job names the relic it was sent for, and its answer must stay
 * readable if that relic goes meanwhile. */
const char dq_sqlite_condjob_schema[] =
    "CREATE TABLE condition_jobs ("
    " id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 39),"
    " relic_id TEXT NOT NULL, who TEXT NOT NULL, node TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),"
    " stage TEXT NOT NULL, percent INTEGER NOT NULL, http_status INTEGER NOT NULL,"
    " record TEXT NOT NULL, error TEXT,"
    " created_at TEXT NOT NULL, beat_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);"
    "CREATE INDEX condition_jobs_finished ON condition_jobs(finished_ms);";

#define NOW_MS "CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
#define COLS                                                                                       \
    "id, relic_id, who, node, state, stage, percent, http_status, record, error, created_at,"     \
    " beat_ms, finished_ms, " NOW_MS ", work"

static int walk(dq_store_txn_t *t, sqlite3_stmt *st, dq_condjob_cb cb, void *ud, int *n_rows,
                dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_condjob_row_t row = {0};
        dq_sq_copy_col(row.id, sizeof(row.id), st, 0);
        dq_sq_copy_col(row.relic_id, sizeof(row.relic_id), st, 1);
        dq_sq_copy_col(row.user, sizeof(row.user), st, 2);
        dq_sq_copy_col(row.node, sizeof(row.node), st, 3);
        dq_sq_copy_col(row.state, sizeof(row.state), st, 4);
        dq_sq_copy_col(row.stage, sizeof(row.stage), st, 5);
        row.percent = sqlite3_column_int(st, 6);
        row.http_status = sqlite3_column_int(st, 7);
        dq_sq_copy_col(row.record, sizeof(row.record), st, 8);
        row.error = (const char *)sqlite3_column_text(st, 9);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 10);
        row.beat_ms = sqlite3_column_int64(st, 11);
        row.finished_ms = sqlite3_column_int64(st, 12);
        row.now_ms = sqlite3_column_int64(st, 13);
        row.work = (const char *)sqlite3_column_text(st, 14);
        (*n_rows)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

/* Binds state, stage, percent, http_status, record, error from parameter i on. */
static void bind_fields(sqlite3_stmt *st, int i, const dq_condjob_row_t *row)
{
    dq_sq_bind_text(st, i, row->state);
    dq_sq_bind_text(st, i + 1, row->stage);
    sqlite3_bind_int(st, i + 2, row->percent);
    sqlite3_bind_int(st, i + 3, row->http_status);
    dq_sq_bind_text(st, i + 4, row->record);
    dq_sq_bind_text(st, i + 5, row->error);
}

static int job_insert(dq_store_txn_t *t, const dq_condjob_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO condition_jobs (id, relic_id, who, node, state,"
                                  " stage, percent, http_status, record, error, created_at,"
                                  " beat_ms, finished_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                                  " ?9, ?10, " DQ_SQ_NOW ", " NOW_MS ", 0)",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->id);
    dq_sq_bind_text(st, 2, row->relic_id);
    dq_sq_bind_text(st, 3, row->user);
    dq_sq_bind_text(st, 4, row->node);
    bind_fields(st, 5, row);
    return dq_sq_step_done(t, st, err);
}

static int job_update(dq_store_txn_t *t, const dq_condjob_row_t *row, int finished, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        "UPDATE condition_jobs SET state = ?2, stage = ?3, percent = ?4, http_status = ?5,"
        " record = ?6, error = ?7, beat_ms = " NOW_MS ","
        " finished_ms = CASE WHEN ?8 THEN " NOW_MS " ELSE 0 END"
        " WHERE id = ?1 AND finished_ms = 0",
        err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->id);
    bind_fields(st, 2, row);
    sqlite3_bind_int(st, 8, finished ? 1 : 0);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    return sqlite3_changes(t->db) ? 0 : 1;
}

static int job_beat(dq_store_txn_t *t, const char *node, int64_t *n, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "UPDATE condition_jobs SET beat_ms = " NOW_MS " WHERE node = ?1 AND finished_ms = 0",
        err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, node);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    *n = sqlite3_changes(t->db);
    return 0;
}

static int job_get(dq_store_txn_t *t, const char *id, dq_condjob_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT " COLS " FROM condition_jobs WHERE id = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, id);
    int n = 0;
    if (walk(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int job_unfinished(dq_store_txn_t *t, dq_condjob_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT " COLS " FROM condition_jobs WHERE finished_ms = 0 ORDER BY id", err);
    int n = 0;
    return st ? walk(t, st, cb, ud, &n, err) : -1;
}

static int job_expire(dq_store_txn_t *t, int64_t age_ms, int64_t *n, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "DELETE FROM condition_jobs WHERE finished_ms > 0"
                                  " AND finished_ms < " NOW_MS " - ?1",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, age_ms);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    *n = sqlite3_changes(t->db);
    return 0;
}

static int job_set_work(dq_store_txn_t *t, const char *id, const char *work, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "UPDATE condition_jobs SET work = ?2 WHERE id = ?1 AND finished_ms = 0", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, id);
    dq_sq_bind_text(st, 2, work);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    return sqlite3_changes(t->db) ? 0 : 1;
}

const dq_store_condjob_ops dq_sqlite_condjob_ops = {
    .set_work = job_set_work,
    .insert = job_insert,
    .update = job_update,
    .beat = job_beat,
    .get = job_get,
    .unfinished = job_unfinished,
    .expire = job_expire,
};
