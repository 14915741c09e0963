/*
 * store_sqlite_scene.c: scene layer set rows in SQLite (issue 14). One row per version of an
 * image's layers; the layers themselves are image rows of their own (derived images, never
 * the master), named in the row's document. Rows only: versions are chosen, documents built
 * and checked, roles enforced and audit rows written by scene.c.
 */
#include "store_sqlite_internal.h"

#include <string.h>

/* ---------------------------------------------------------------- schema (migration 12) */

const char dq_sqlite_scene_schema[] = "CREATE TABLE scene_sets ("
                                      " image_id TEXT NOT NULL,"
                                      " version INTEGER NOT NULL CHECK (version > 0),"
                                      " source TEXT NOT NULL,"
                                      " doc TEXT NOT NULL,"
                                      " author TEXT NOT NULL,"
                                      " created_at TEXT NOT NULL,"
                                      " PRIMARY KEY (image_id, version)"
                                      ") WITHOUT ROWID;";

/* ---------------------------------------------------------------- rows */

#define SCENE_COLS "image_id, version, source, doc, author, created_at"

static int walk(dq_store_txn_t *t, sqlite3_stmt *st, dq_scene_cb cb, void *ud, int *n,
                dq_err_t *err)
{
    int r;
    *n = 0;
    while ((r = dq_sq_row(t, st, "scene read", err)) == 0) {
        dq_scene_row_t row;
        memset(&row, 0, sizeof(row));
        dq_sq_copy_col(row.image_id, sizeof(row.image_id), st, 0);
        row.version = sqlite3_column_int64(st, 1);
        dq_sq_copy_col(row.source, sizeof(row.source), st, 2);
        row.doc = (const char *)sqlite3_column_text(st, 3);
        dq_sq_copy_col(row.author, sizeof(row.author), st, 4);
        dq_sq_copy_col(row.created_at, sizeof(row.created_at), st, 5);
        (*n)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int scene_max_version(dq_store_txn_t *t, const char *image_id, int64_t *version,
                             dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "SELECT coalesce(max(version), 0) FROM scene_sets WHERE image_id = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, image_id);
    int r = dq_sq_row(t, st, "scene max", err);
    if (r == 0)
        *version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == 0 ? 0 : -1;
}

static int scene_insert(dq_store_txn_t *t, const dq_scene_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO scene_sets (" SCENE_COLS ")"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->image_id);
    sqlite3_bind_int64(st, 2, row->version);
    dq_sq_bind_text(st, 3, row->source);
    dq_sq_bind_text(st, 4, row->doc);
    dq_sq_bind_text(st, 5, row->author);
    return dq_sq_step_done(t, st, err);
}

static int scene_get(dq_store_txn_t *t, const char *image_id, int64_t version, dq_scene_cb cb,
                     void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT " SCENE_COLS " FROM scene_sets WHERE image_id = ?1"
                                  " AND (?2 = 0 OR version = ?2) ORDER BY version DESC LIMIT 1",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, image_id);
    sqlite3_bind_int64(st, 2, version);
    int n = 0;
    if (walk(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int scene_list(dq_store_txn_t *t, const char *image_id, dq_scene_cb cb, void *ud,
                      dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT " SCENE_COLS " FROM scene_sets WHERE image_id = ?1"
                                  " ORDER BY version DESC",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, image_id);
    int n = 0;
    return walk(t, st, cb, ud, &n, err);
}

const dq_store_scene_ops dq_sqlite_scene_ops = {
    .max_version = scene_max_version,
    .insert = scene_insert,
    .get = scene_get,
    .list = scene_list,
};
