/*
 * store_sqlite_spectral.c: spectral captures and their derived layers in SQLite (migration
 * 9). One row per capture in `spectral_captures` (the relic it belongs to, the stored bands'
 * size, the record as canonical JSON), one per derived layer in `spectral_layers`. Row
 * primitives inside the caller's transaction (store.h): validation, visibility, audit rows
 * and the JSON itself live in catalog/spectral.c; this file only stores and reads.
 */
#include "store_sqlite_internal.h"

#include <string.h>

/* ---------------------------------------------------------------- schema (migration 9) */

const char dq_sqlite_spectral_schema[] =
    "CREATE TABLE spectral_captures ("
    " id TEXT PRIMARY KEY,"
    " relic TEXT NOT NULL REFERENCES relics(id) ON DELETE CASCADE,"
    " width INTEGER NOT NULL CHECK (width >= 1), height INTEGER NOT NULL CHECK (height >= 1),"
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX spectral_captures_relic ON spectral_captures(relic, created_at);"
    "CREATE TABLE spectral_layers ("
    " capture TEXT NOT NULL REFERENCES spectral_captures(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, kind TEXT NOT NULL,"
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " created_at TEXT NOT NULL,"
    " PRIMARY KEY (capture, name));";

/* ---------------------------------------------------------------- helpers */

static int done(dq_store_txn_t *t, sqlite3_stmt *st, dq_err_t *err)
{
    int r = sqlite3_step(st);
    if (r != SQLITE_DONE) {
        dq_sq_fail(t, err, "spectral write");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int walk(dq_store_txn_t *t, sqlite3_stmt *st, dq_spectral_cb cb, void *ud, int *n,
                dq_err_t *err)
{
    int r;
    *n = 0;
    while ((r = dq_sq_row(t, st, "spectral read", err)) == 0) {
        dq_spectral_row_t row;
        memset(&row, 0, sizeof(row));
        dq_sq_copy_col(row.id, sizeof(row.id), st, 0);
        dq_sq_copy_col(row.relic_id, sizeof(row.relic_id), st, 1);
        row.width = sqlite3_column_int(st, 2);
        row.height = sqlite3_column_int(st, 3);
        row.doc = (const char *)sqlite3_column_text(st, 4);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 5);
        dq_sq_copy_col(row.modified, sizeof(row.modified), st, 6);
        (*n)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

#define COLS "id, relic, width, height, doc, created_at, updated_at"

/* ---------------------------------------------------------------- primitives */

static int cap_remove(dq_store_txn_t *t, const char *id, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM spectral_layers WHERE capture = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, id);
    if (done(t, st, err) < 0)
        return -1;
    if (!(st = dq_sq_stmt(t, "DELETE FROM spectral_captures WHERE id = ?1", err)))
        return -1;
    dq_sq_bind_text(st, 1, id);
    if (done(t, st, err) < 0)
        return -1;
    return sqlite3_changes(t->db) ? 0 : 1;
}

static int cap_put(dq_store_txn_t *t, const dq_spectral_row_t *row, int replace, dq_err_t *err)
{
    if (replace && cap_remove(t, row->id, err) < 0)
        return -1;
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO spectral_captures (" COLS
                                  ") VALUES (?1, ?2, ?3, ?4, ?5, " DQ_SQ_NOW ", " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->id);
    dq_sq_bind_text(st, 2, row->relic_id);
    sqlite3_bind_int(st, 3, row->width);
    sqlite3_bind_int(st, 4, row->height);
    dq_sq_bind_text(st, 5, row->doc);
    return done(t, st, err);
}

static int cap_get(dq_store_txn_t *t, const char *id, dq_spectral_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT " COLS " FROM spectral_captures WHERE id = ?1", err);
    int n;
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, id);
    if (walk(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int cap_list(dq_store_txn_t *t, const char *relic_id, dq_spectral_cb cb, void *ud,
                    dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT " COLS " FROM spectral_captures WHERE ?1 IS NULL OR"
                                  " relic = ?1 ORDER BY created_at, id",
                                  err);
    int n;
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, relic_id);
    return walk(t, st, cb, ud, &n, err);
}

static int layer_put(dq_store_txn_t *t, const dq_spectral_layer_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT OR REPLACE INTO spectral_layers (capture, name, kind,"
                                  " doc, created_at) VALUES (?1, ?2, ?3, ?4, " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->capture_id);
    dq_sq_bind_text(st, 2, row->name);
    dq_sq_bind_text(st, 3, row->kind);
    dq_sq_bind_text(st, 4, row->doc);
    return done(t, st, err);
}

static int layer_list(dq_store_txn_t *t, const char *capture_id, dq_spectral_layer_cb cb,
                      void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT capture, name, kind, doc, created_at FROM"
                                  " spectral_layers WHERE capture = ?1 ORDER BY name",
                                  err);
    int r;
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, capture_id);
    while ((r = dq_sq_row(t, st, "spectral layers", err)) == 0) {
        dq_spectral_layer_row_t row;
        memset(&row, 0, sizeof(row));
        dq_sq_copy_col(row.capture_id, sizeof(row.capture_id), st, 0);
        dq_sq_copy_col(row.name, sizeof(row.name), st, 1);
        dq_sq_copy_col(row.kind, sizeof(row.kind), st, 2);
        row.doc = (const char *)sqlite3_column_text(st, 3);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 4);
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

const dq_store_spectral_ops dq_sqlite_spectral_ops = {
    .put = cap_put,
    .get = cap_get,
    .list = cap_list,
    .remove = cap_remove,
    .put_layer = layer_put,
    .layers = layer_list,
};
