/*
 * store_sqlite_layerfile.c: the checksums of derived layer files in SQLite (migration 29,
 * issues 12 and 15): one row per store key under layers/ that a condition record or a
 * restoration wrote (change masks, changes.png, changes.json, restoration.png/.json,
 * mask.png), with the SHA-256 and size of the bytes put, so that `danqing fixity` verifies
 * them on every store like masters. Row primitives only (store.h); layer_file.c holds the
 * policy. Migration 29 also gives condition_jobs its work column (what a job stored, for the
 * undo of a job whose server died: condition_job.c).
 */
#include "store_sqlite_internal.h"

#include <string.h>

const char dq_sqlite_layerfile_schema[] =
    "CREATE TABLE layer_files ("
    " key TEXT PRIMARY KEY, sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
    " size INTEGER NOT NULL, created_at TEXT NOT NULL);"
    "ALTER TABLE condition_jobs ADD COLUMN work TEXT;";

static int lf_put(dq_store_txn_t *t, const dq_layer_file_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO layer_files (key, sha256, size, created_at)"
                                  " VALUES (?1, ?2, ?3, " DQ_SQ_NOW ") ON CONFLICT (key) DO"
                                  " UPDATE SET sha256 = excluded.sha256, size = excluded.size,"
                                  " created_at = excluded.created_at",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->key);
    dq_sq_bind_text(st, 2, row->sha256);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)row->size);
    return dq_sq_step_done(t, st, err);
}

static int lf_remove(dq_store_txn_t *t, const char *key, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM layer_files WHERE key = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, key);
    return dq_sq_step_done(t, st, err);
}

static int lf_list(dq_store_txn_t *t, const char *key, dq_layer_file_cb cb, void *ud,
                   dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  key ? "SELECT key, sha256, size, created_at FROM layer_files"
                                        " WHERE key = ?1"
                                      : "SELECT key, sha256, size, created_at FROM layer_files"
                                        " ORDER BY key",
                                  err);
    if (!st)
        return -1;
    if (key)
        dq_sq_bind_text(st, 1, key);
    int r;
    while ((r = dq_sq_row(t, st, "layer_files", err)) == 0) {
        dq_layer_file_row_t row = {0};
        row.key = (const char *)sqlite3_column_text(st, 0);
        dq_sq_copy_col(row.sha256, sizeof(row.sha256), st, 1);
        row.size = (uint64_t)sqlite3_column_int64(st, 2);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 3);
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

const dq_store_layerfile_ops dq_sqlite_layerfile_ops = {
    .put = lf_put,
    .remove = lf_remove,
    .list = lf_list,
};
