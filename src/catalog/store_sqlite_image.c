/*
 * store_sqlite_image.c: image rows in SQLite (migrations 1 and 2): `images`, one row per
 * ingested master and its pyramid, and `image_pending`, the journal that makes a replacement
 * crash-safe. Also the read that image visibility is built from: the relic links of images
 * (relic_images joined to relics.restricted), answered here so that the image map
 * (image_map.c) needs no relic code. Row primitives only: id syntax, path checks and the
 * audit row are catalog.c's.
 */
#include "catalog.h"
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- schema (migrations 1, 2) */

const char dq_sqlite_image_schema[] =
    "CREATE TABLE images ("
    " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),"
    " master_sha256 TEXT NOT NULL CHECK (length(master_sha256) = 64),"
    " master_path TEXT NOT NULL,"
    " master_size INTEGER NOT NULL CHECK (master_size >= 0),"
    " master_format TEXT NOT NULL"
    "   CHECK (master_format IN ('jpeg','tiff','png','webp','jp2')),"
    " orig_filename TEXT NOT NULL,"
    " pyramid_path TEXT NOT NULL,"
    " pyramid_sha256 TEXT NOT NULL CHECK (length(pyramid_sha256) = 64),"
    " pyramid_size INTEGER NOT NULL CHECK (pyramid_size >= 0),"
    " width INTEGER NOT NULL CHECK (width > 0),"
    " height INTEGER NOT NULL CHECK (height > 0),"
    " levels INTEGER NOT NULL CHECK (levels > 0),"
    " tile_size INTEGER NOT NULL CHECK (tile_size > 0),"
    " bands INTEGER NOT NULL CHECK (bands IN (1, 3)),"
    " icc_converted INTEGER NOT NULL CHECK (icc_converted IN (0, 1)),"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"
    "CREATE INDEX images_master ON images(master_sha256);"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " who TEXT NOT NULL,"
    " at TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " object TEXT NOT NULL,"
    " detail TEXT NOT NULL CHECK (json_valid(detail)));"
    "CREATE INDEX audit_object ON audit(object);";

const char dq_sqlite_pending_schema[] =
    "CREATE TABLE image_pending ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " master_sha256 TEXT NOT NULL, master_path TEXT NOT NULL, master_size INTEGER NOT NULL,"
    " master_format TEXT NOT NULL, orig_filename TEXT NOT NULL, pyramid_path TEXT NOT NULL,"
    " pyramid_sha256 TEXT NOT NULL, pyramid_size INTEGER NOT NULL, width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, levels INTEGER NOT NULL, tile_size INTEGER NOT NULL,"
    " bands INTEGER NOT NULL, icc_converted INTEGER NOT NULL,"
    " staged_at TEXT NOT NULL);";

/* Migration 33: one pending row per ingest run, not per id (two ingests of one id shared a
 * row, and the loser's upload was named by none once it died). A row of before keeps its id as
 * its run: it is a dead run's (recovery takes it back as before). */
const char dq_sqlite_pending_run_schema[] =
    "CREATE TABLE image_pending_run ("
    " run TEXT PRIMARY KEY NOT NULL, id TEXT NOT NULL,"
    " master_sha256 TEXT NOT NULL, master_path TEXT NOT NULL, master_size INTEGER NOT NULL,"
    " master_format TEXT NOT NULL, orig_filename TEXT NOT NULL, pyramid_path TEXT NOT NULL,"
    " pyramid_sha256 TEXT NOT NULL, pyramid_size INTEGER NOT NULL, width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, levels INTEGER NOT NULL, tile_size INTEGER NOT NULL,"
    " bands INTEGER NOT NULL, icc_converted INTEGER NOT NULL,"
    " staged_at TEXT NOT NULL);"
    "INSERT INTO image_pending_run SELECT 'id.' || id, * FROM image_pending;"
    "DROP TABLE image_pending;"
    "ALTER TABLE image_pending_run RENAME TO image_pending;"
    "CREATE INDEX image_pending_id ON image_pending (id, pyramid_path);";

/* ---------------------------------------------------------------- rows */

/* The image columns shared by images and image_pending, in bind/column order. */
#define REC_COLS                                                                                   \
    "id, master_sha256, master_path, master_size, master_format, orig_filename, pyramid_path,"     \
    " pyramid_sha256, pyramid_size, width, height, levels, tile_size, bands, icc_converted"
#define REC_PARAMS "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15"

static void bind_rec(sqlite3_stmt *st, const dq_image_rec_t *r)
{
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->master_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->master_path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->master_size);
    sqlite3_bind_text(st, 5, r->master_format, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->orig_filename, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->pyramid_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->pyramid_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->pyramid_size);
    sqlite3_bind_int(st, 10, r->width);
    sqlite3_bind_int(st, 11, r->height);
    sqlite3_bind_int(st, 12, r->levels);
    sqlite3_bind_int(st, 13, r->tile_size);
    sqlite3_bind_int(st, 14, r->bands);
    sqlite3_bind_int(st, 15, r->icc_converted ? 1 : 0);
}

/* Reads REC_COLS (then, when with_times, created_at and updated_at) from the current row. */
static void column_rec(sqlite3_stmt *st, dq_image_rec_t *r, int with_times)
{
    memset(r, 0, sizeof(*r));
    dq_sq_copy_col(r->id, sizeof(r->id), st, 0);
    dq_sq_copy_col(r->master_sha256, sizeof(r->master_sha256), st, 1);
    dq_sq_copy_col(r->master_path, sizeof(r->master_path), st, 2);
    r->master_size = (uint64_t)sqlite3_column_int64(st, 3);
    dq_sq_copy_col(r->master_format, sizeof(r->master_format), st, 4);
    dq_sq_copy_col(r->orig_filename, sizeof(r->orig_filename), st, 5);
    dq_sq_copy_col(r->pyramid_path, sizeof(r->pyramid_path), st, 6);
    dq_sq_copy_col(r->pyramid_sha256, sizeof(r->pyramid_sha256), st, 7);
    r->pyramid_size = (uint64_t)sqlite3_column_int64(st, 8);
    r->width = sqlite3_column_int(st, 9);
    r->height = sqlite3_column_int(st, 10);
    r->levels = sqlite3_column_int(st, 11);
    r->tile_size = sqlite3_column_int(st, 12);
    r->bands = sqlite3_column_int(st, 13);
    r->icc_converted = sqlite3_column_int(st, 14);
    if (with_times) {
        dq_sq_copy_col(r->created_at, sizeof(r->created_at), st, 15);
        dq_sq_copy_col(r->updated_at, sizeof(r->updated_at), st, 16);
    }
}

/* Runs a one-text-parameter statement to the end; *changed (may be NULL) gets the row count. */
static int run_id(dq_store_txn_t *t, const char *sql, const char *id, int *changed, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    if (changed)
        *changed = sqlite3_changes(t->db);
    return 0;
}

static int image_get(dq_store_txn_t *t, const char *id, dq_image_rec_t *out, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "SELECT " REC_COLS ", created_at, updated_at FROM images WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r = dq_sq_row(t, st, "image_get", err);
    if (r == 0)
        column_rec(st, out, 1);
    sqlite3_reset(st);
    return r;
}

static int image_put(dq_store_txn_t *t, const dq_image_rec_t *r, int replace, int *replaced,
                     dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT 1 FROM images WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    int exists = dq_sq_row(t, st, "image lookup", err);
    sqlite3_reset(st);
    if (exists < 0)
        return -1;
    exists = exists == 0;
    if (exists && !replace)
        return dq_err_set(err, DQ_EEXIST, 409, "image '%s' already exists (use --replace)", r->id);
    if (replaced)
        *replaced = exists;
    /* An upsert, so that created_at survives a replacement. */
    st = dq_sq_stmt(t,
                    "INSERT INTO images (" REC_COLS ", created_at, updated_at) VALUES (" REC_PARAMS
                    ", " DQ_SQ_NOW ", " DQ_SQ_NOW ") ON CONFLICT(id) DO UPDATE SET"
                    " master_sha256=excluded.master_sha256, master_path=excluded.master_path,"
                    " master_size=excluded.master_size, master_format=excluded.master_format,"
                    " orig_filename=excluded.orig_filename, pyramid_path=excluded.pyramid_path,"
                    " pyramid_sha256=excluded.pyramid_sha256, pyramid_size=excluded.pyramid_size,"
                    " width=excluded.width, height=excluded.height, levels=excluded.levels,"
                    " tile_size=excluded.tile_size, bands=excluded.bands,"
                    " icc_converted=excluded.icc_converted, updated_at=excluded.updated_at",
                    err);
    if (!st)
        return -1;
    bind_rec(st, r);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    st = dq_sq_stmt(t, "DELETE FROM image_pending WHERE id = ?1 AND pyramid_path = ?2", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, r->id);
    dq_sq_bind_text(st, 2, r->pyramid_path);
    return dq_sq_step_done(t, st, err);
}

/* Walks the rows of a listing statement. */
static int walk(dq_store_txn_t *t, const char *sql, int with_times, dq_store_image_cb cb, void *ud,
                dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, sql, err);
    if (!st)
        return -1;
    int r;
    while ((r = dq_sq_row(t, st, "image list", err)) == 0) {
        dq_image_rec_t rec;
        column_rec(st, &rec, with_times);
        if (cb(ud, &rec) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int image_list(dq_store_txn_t *t, dq_store_image_cb cb, void *ud, dq_err_t *err)
{
    return walk(t, "SELECT " REC_COLS ", created_at, updated_at FROM images ORDER BY id", 1, cb,
                ud, err);
}

static int image_remove(dq_store_txn_t *t, const char *id, dq_err_t *err)
{
    int n = 0;
    if (run_id(t, "DELETE FROM images WHERE id = ?1", id, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int pending_put(dq_store_txn_t *t, const dq_image_rec_t *r, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT OR REPLACE INTO image_pending (" REC_COLS
                                  ", run, staged_at) VALUES (" REC_PARAMS ", ?16, " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    bind_rec(st, r);
    dq_sq_bind_text(st, 16, r->run);
    return dq_sq_step_done(t, st, err);
}

static int pending_list(dq_store_txn_t *t, dq_store_image_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "SELECT " REC_COLS ", run FROM image_pending ORDER BY id, run", err);
    if (!st)
        return -1;
    int r;
    while ((r = dq_sq_row(t, st, "image_pending", err)) == 0) {
        dq_image_rec_t rec;
        column_rec(st, &rec, 0);
        dq_sq_copy_col(rec.run, sizeof(rec.run), st, 15);
        if (cb(ud, &rec) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int pending_drop(dq_store_txn_t *t, const char *run, dq_err_t *err)
{
    return run_id(t, "DELETE FROM image_pending WHERE run = ?1", run, NULL, err);
}

static int image_by_master(dq_store_txn_t *t, const char *sha256, dq_store_image_cb cb, void *ud,
                           dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT " REC_COLS " FROM images WHERE master_sha256 = ?1"
                                  " UNION ALL SELECT " REC_COLS
                                  " FROM image_pending WHERE master_sha256 = ?1",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, sha256);
    int r;
    while ((r = dq_sq_row(t, st, "images by master", err)) == 0) {
        dq_image_rec_t rec;
        column_rec(st, &rec, 0);
        if (cb(ud, &rec) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- visibility links */

static int image_links(dq_store_txn_t *t, const char *relic_id, dq_store_link_cb cb, void *ud,
                       dq_err_t *err)
{
    /* LEFT JOIN: a relic without links still reports its restricted flag (image_id NULL). */
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  relic_id ? "SELECT r.id, r.restricted, i.image_id FROM relics r"
                                             " LEFT JOIN relic_images i ON i.relic = r.seq"
                                             " WHERE r.id = ?1"
                                           : "SELECT r.id, r.restricted, i.image_id FROM relics r"
                                             " JOIN relic_images i ON i.relic = r.seq",
                                  err);
    if (!st)
        return -1;
    if (relic_id)
        sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    int r;
    while ((r = dq_sq_row(t, st, "image links", err)) == 0)
        if (cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1) != 0,
               (const char *)sqlite3_column_text(st, 2)) != 0)
            break;
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

const dq_store_image_ops dq_sqlite_image_ops = {
    .put = image_put,
    .get = image_get,
    .list = image_list,
    .remove = image_remove,
    .pending_put = pending_put,
    .pending_list = pending_list,
    .pending_drop = pending_drop,
    .by_master = image_by_master,
    .links = image_links,
};
