/*
 * store_sqlite_style.c: style embeddings and attribution models in SQLite (migration 11,
 * issue 13). Row primitives only: which images need an embedding, who may see a similar work,
 * and every JSON answer are catalog/style.c's. An embedding is a BLOB of dim little-endian
 * floats (x86 and ARM are both little-endian; a big-endian host would need a swap here, and
 * the dim check on read catches a mismatch in length).
 */
#include "catalog.h"
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

const char dq_sqlite_style_schema[] =
    "CREATE TABLE style_embeddings ("
    " image_id TEXT PRIMARY KEY NOT NULL,"
    " pyramid_sha256 TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " dim INTEGER NOT NULL CHECK (dim > 0),"
    " vec BLOB NOT NULL CHECK (length(vec) = 4 * dim),"
    " palette TEXT NOT NULL CHECK (json_valid(palette)),"
    " named TEXT NOT NULL CHECK (json_valid(named)),"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE style_models ("
    " label TEXT PRIMARY KEY NOT NULL,"
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " updated_at TEXT NOT NULL);";

static int sq_put(dq_store_txn_t *t, const dq_style_row_t *r, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        "INSERT OR REPLACE INTO style_embeddings (image_id, pyramid_sha256, model, dim, vec,"
        " palette, named, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " DQ_SQ_NOW ")",
        err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, r->image_id);
    dq_sq_bind_text(st, 2, r->pyramid_sha256 ? r->pyramid_sha256 : "");
    dq_sq_bind_text(st, 3, r->model);
    sqlite3_bind_int(st, 4, r->dim);
    sqlite3_bind_blob(st, 5, r->vec, r->dim * (int)sizeof(float), SQLITE_STATIC);
    dq_sq_bind_text(st, 6, r->palette ? r->palette : "[]");
    dq_sq_bind_text(st, 7, r->named ? r->named : "[]");
    return dq_sq_step_done(t, st, err);
}

#define ROW_COLS "image_id, pyramid_sha256, model, dim, palette, named, updated_at"

/* Calls cb with the current row of st (columns ROW_COLS, then vec when with_vec). */
static int emit(sqlite3_stmt *st, int with_vec, dq_style_row_cb cb, void *ud)
{
    dq_style_row_t r = {
        .image_id = (const char *)sqlite3_column_text(st, 0),
        .pyramid_sha256 = (const char *)sqlite3_column_text(st, 1),
        .model = (const char *)sqlite3_column_text(st, 2),
        .dim = sqlite3_column_int(st, 3),
        .palette = (const char *)sqlite3_column_text(st, 4),
        .named = (const char *)sqlite3_column_text(st, 5),
        .updated_at = (const char *)sqlite3_column_text(st, 6),
    };
    if (with_vec) {
        const void *b = sqlite3_column_blob(st, 7);
        if (sqlite3_column_bytes(st, 7) != r.dim * (int)sizeof(float))
            return 0; /* a damaged row is skipped, never read past its end */
        r.vec = b;
    }
    return cb(ud, &r);
}

static int sq_get(dq_store_txn_t *t, const char *image_id, dq_style_row_cb cb, void *ud,
                  dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT " ROW_COLS ", vec FROM style_embeddings WHERE image_id = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, image_id);
    int r = dq_sq_row(t, st, "style get", err);
    if (r == 0)
        emit(st, 1, cb, ud);
    sqlite3_reset(st);
    return r;
}

static int sq_list(dq_store_txn_t *t, int with_vec, dq_style_row_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  with_vec ? "SELECT " ROW_COLS
                                             ", vec FROM style_embeddings ORDER BY image_id"
                                           : "SELECT " ROW_COLS
                                             " FROM style_embeddings ORDER BY image_id",
                                  err);
    if (!st)
        return -1;
    int r;
    while ((r = dq_sq_row(t, st, "style list", err)) == 0)
        if (emit(st, with_vec, cb, ud))
            break;
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int sq_remove(dq_store_txn_t *t, const char *image_id, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM style_embeddings WHERE image_id = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, image_id);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    return sqlite3_changes(t->db) > 0 ? 0 : 1;
}

static int sq_model_put(dq_store_txn_t *t, const char *label, const char *json, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT OR REPLACE INTO style_models (label, doc, updated_at)"
                                  " VALUES (?1, ?2, " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, label);
    dq_sq_bind_text(st, 2, json);
    return dq_sq_step_done(t, st, err);
}

static int sq_model_get(dq_store_txn_t *t, const char *label, dq_buf_t *out, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT doc FROM style_models WHERE label = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, label);
    int r = dq_sq_row(t, st, "style model", err);
    if (r == 0)
        dq_buf_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    return r;
}

const dq_store_style_ops dq_sqlite_style_ops = {
    .put = sq_put,
    .get = sq_get,
    .list = sq_list,
    .remove = sq_remove,
    .model_put = sq_model_put,
    .model_get = sq_model_get,
};
