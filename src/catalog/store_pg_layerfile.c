/*
 * store_pg_layerfile.c: the checksums of derived layer files in PostgreSQL (migration 29),
 * the twin of store_sqlite_layerfile.c: one row per store key under layers/ that a condition
 * record or a restoration wrote, with the SHA-256 and size of the bytes put, for `danqing
 * fixity`. Row primitives only. Migration 29 also gives condition_jobs its work column.
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

const char dq_pg_layerfile_schema[] =
    "CREATE TABLE layer_files ("
    " key text COLLATE \"C\" PRIMARY KEY, sha256 text NOT NULL CHECK (length(sha256) = 64),"
    " size bigint NOT NULL, created_at text NOT NULL);"
    "ALTER TABLE condition_jobs ADD COLUMN work text;";

static int lf_put(dq_store_txn_t *t, const dq_layer_file_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->key);
    dq_pg_p_text(&p, row->sha256);
    dq_pg_p_int(&p, (int64_t)row->size);
    return dq_pg_run(t,
                     "INSERT INTO layer_files (key, sha256, size, created_at)"
                     " VALUES ($1, $2, $3, " DQ_PG_NOW ") ON CONFLICT (key) DO UPDATE SET"
                     " sha256 = excluded.sha256, size = excluded.size,"
                     " created_at = excluded.created_at",
                     &p, NULL, err);
}

static int lf_remove(dq_store_txn_t *t, const char *key, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, key);
    return dq_pg_run(t, "DELETE FROM layer_files WHERE key = $1", &p, NULL, err);
}

typedef struct {
    dq_layer_file_cb cb;
    void *ud;
} walk_t;

static int lf_row(void *ud, PGresult *r)
{
    walk_t *w = ud;
    dq_layer_file_row_t row = {0};
    row.key = dq_pg_col(r, 0, 0);
    dq_pg_copy_col(row.sha256, sizeof(row.sha256), r, 0, 1);
    row.size = (uint64_t)dq_pg_col_int(r, 0, 2);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 3);
    return w->cb(w->ud, &row);
}

static int lf_list(dq_store_txn_t *t, const char *key, dq_layer_file_cb cb, void *ud,
                   dq_err_t *err)
{
    walk_t w = {cb, ud};
    pg_params_t p = {0};
    if (key)
        dq_pg_p_text(&p, key);
    return dq_pg_walk(t,
                      key ? "SELECT key, sha256, size, created_at FROM layer_files WHERE key = $1"
                          : "SELECT key, sha256, size, created_at FROM layer_files ORDER BY key",
                      key ? &p : NULL, lf_row, &w, err);
}

const dq_store_layerfile_ops dq_pg_layerfile_ops = {
    .put = lf_put,
    .remove = lf_remove,
    .list = lf_list,
};
