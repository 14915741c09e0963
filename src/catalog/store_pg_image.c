/*
 * store_pg_image.c: image rows in PostgreSQL (migrations 1 and 2), the twin of
 * store_sqlite_image.c: `images`, `image_pending` (the journal that makes a replacement
 * crash-safe), `audit` (the change feed, appended by store_pg.c) and the relic links image
 * visibility is built from. Row primitives only: id syntax, path checks and the audit row are
 * catalog.c's. Text that is sorted or compared is COLLATE "C": byte order, as SQLite's.
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- schema (migrations 1, 2) */

const char dq_pg_image_schema[] =
    "CREATE TABLE images ("
    " id text COLLATE \"C\" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),"
    " master_sha256 text NOT NULL CHECK (length(master_sha256) = 64),"
    " master_path text NOT NULL,"
    " master_size bigint NOT NULL CHECK (master_size >= 0),"
    " master_format text NOT NULL"
    "   CHECK (master_format IN ('jpeg','tiff','png','webp','jp2')),"
    " orig_filename text NOT NULL,"
    " pyramid_path text NOT NULL,"
    " pyramid_sha256 text NOT NULL CHECK (length(pyramid_sha256) = 64),"
    " pyramid_size bigint NOT NULL CHECK (pyramid_size >= 0),"
    " width integer NOT NULL CHECK (width > 0),"
    " height integer NOT NULL CHECK (height > 0),"
    " levels integer NOT NULL CHECK (levels > 0),"
    " tile_size integer NOT NULL CHECK (tile_size > 0),"
    " bands integer NOT NULL CHECK (bands IN (1, 3)),"
    " icc_converted integer NOT NULL CHECK (icc_converted IN (0, 1)),"
    " created_at text NOT NULL,"
    " updated_at text NOT NULL);"
    "CREATE INDEX images_master ON images(master_sha256);"
    /* detail is text checked by a cast to json (not jsonb): the text stays as written, as
     * SQLite returns it, and what is not JSON is refused. */
    "CREATE TABLE audit ("
    " seq bigint PRIMARY KEY,"
    " who text NOT NULL,"
    " at text NOT NULL,"
    " action text NOT NULL,"
    " object text COLLATE \"C\" NOT NULL,"
    " detail text NOT NULL CHECK ((detail::json) IS NOT NULL));"
    "CREATE INDEX audit_object ON audit(object);";

const char dq_pg_pending_schema[] =
    "CREATE TABLE image_pending ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " master_sha256 text NOT NULL, master_path text NOT NULL, master_size bigint NOT NULL,"
    " master_format text NOT NULL, orig_filename text NOT NULL, pyramid_path text NOT NULL,"
    " pyramid_sha256 text NOT NULL, pyramid_size bigint NOT NULL, width integer NOT NULL,"
    " height integer NOT NULL, levels integer NOT NULL, tile_size integer NOT NULL,"
    " bands integer NOT NULL, icc_converted integer NOT NULL,"
    " staged_at text NOT NULL);";

/* Migration 33: one pending row per ingest run, not per id (two ingests of one id shared a
 * row, and the loser's upload was named by none once it died). A row of before keeps its id as
 * its run: it is a dead run's (recovery takes it back as before). */
const char dq_pg_pending_run_schema[] =
    "ALTER TABLE image_pending ADD COLUMN run text COLLATE \"C\";"
    "UPDATE image_pending SET run = 'id.' || id;"
    "ALTER TABLE image_pending ALTER COLUMN run SET NOT NULL;"
    "ALTER TABLE image_pending DROP CONSTRAINT image_pending_pkey;"
    "ALTER TABLE image_pending ADD PRIMARY KEY (run);"
    "CREATE INDEX image_pending_id ON image_pending (id, pyramid_path);";

/* ---------------------------------------------------------------- rows */

#define REC_COLS                                                                                   \
    "id, master_sha256, master_path, master_size, master_format, orig_filename, pyramid_path,"     \
    " pyramid_sha256, pyramid_size, width, height, levels, tile_size, bands, icc_converted"
#define REC_PARAMS "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15"

static void bind_rec(pg_params_t *p, const dq_image_rec_t *r)
{
    dq_pg_p_text(p, r->id);
    dq_pg_p_text(p, r->master_sha256);
    dq_pg_p_text(p, r->master_path);
    dq_pg_p_int(p, (int64_t)r->master_size);
    dq_pg_p_text(p, r->master_format);
    dq_pg_p_text(p, r->orig_filename);
    dq_pg_p_text(p, r->pyramid_path);
    dq_pg_p_text(p, r->pyramid_sha256);
    dq_pg_p_int(p, (int64_t)r->pyramid_size);
    dq_pg_p_int(p, r->width);
    dq_pg_p_int(p, r->height);
    dq_pg_p_int(p, r->levels);
    dq_pg_p_int(p, r->tile_size);
    dq_pg_p_int(p, r->bands);
    dq_pg_p_int(p, r->icc_converted ? 1 : 0);
}

static void column_rec(PGresult *res, int row, dq_image_rec_t *r, int with_times)
{
    memset(r, 0, sizeof(*r));
    dq_pg_copy_col(r->id, sizeof(r->id), res, row, 0);
    dq_pg_copy_col(r->master_sha256, sizeof(r->master_sha256), res, row, 1);
    dq_pg_copy_col(r->master_path, sizeof(r->master_path), res, row, 2);
    r->master_size = (uint64_t)dq_pg_col_int(res, row, 3);
    dq_pg_copy_col(r->master_format, sizeof(r->master_format), res, row, 4);
    dq_pg_copy_col(r->orig_filename, sizeof(r->orig_filename), res, row, 5);
    dq_pg_copy_col(r->pyramid_path, sizeof(r->pyramid_path), res, row, 6);
    dq_pg_copy_col(r->pyramid_sha256, sizeof(r->pyramid_sha256), res, row, 7);
    r->pyramid_size = (uint64_t)dq_pg_col_int(res, row, 8);
    r->width = (int)dq_pg_col_int(res, row, 9);
    r->height = (int)dq_pg_col_int(res, row, 10);
    r->levels = (int)dq_pg_col_int(res, row, 11);
    r->tile_size = (int)dq_pg_col_int(res, row, 12);
    r->bands = (int)dq_pg_col_int(res, row, 13);
    r->icc_converted = (int)dq_pg_col_int(res, row, 14);
    if (with_times) {
        dq_pg_copy_col(r->created_at, sizeof(r->created_at), res, row, 15);
        dq_pg_copy_col(r->updated_at, sizeof(r->updated_at), res, row, 16);
    }
}

static int run_id(dq_store_txn_t *t, const char *sql, const char *id, int64_t *changed,
                  dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, id);
    return dq_pg_run(t, sql, &p, changed, err);
}

static int image_get(dq_store_txn_t *t, const char *id, dq_image_rec_t *out, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, id);
    PGresult *r = dq_pg_exec(
        t, "SELECT " REC_COLS ", created_at, updated_at FROM images WHERE id = $1", &p, err);
    if (!r)
        return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (rc == 0)
        column_rec(r, 0, out, 1);
    PQclear(r);
    return rc;
}

static int image_put(dq_store_txn_t *t, const dq_image_rec_t *r, int replace, int *replaced,
                     dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t exists = 0;
    dq_pg_p_text(&p, r->id);
    int e = dq_pg_int(t, "SELECT 1 FROM images WHERE id = $1", &p, &exists, err);
    if (e < 0)
        return -1;
    exists = e == 0;
    if (exists && !replace)
        return dq_err_set(err, DQ_EEXIST, 409, "image '%s' already exists (use --replace)", r->id);
    if (replaced)
        *replaced = (int)exists;
    p = (pg_params_t){0};
    bind_rec(&p, r);
    if (dq_pg_run(t,
                  "INSERT INTO images (" REC_COLS ", created_at, updated_at) VALUES (" REC_PARAMS
                  ", " DQ_PG_NOW ", " DQ_PG_NOW ") ON CONFLICT (id) DO UPDATE SET"
                  " master_sha256=excluded.master_sha256, master_path=excluded.master_path,"
                  " master_size=excluded.master_size, master_format=excluded.master_format,"
                  " orig_filename=excluded.orig_filename, pyramid_path=excluded.pyramid_path,"
                  " pyramid_sha256=excluded.pyramid_sha256, pyramid_size=excluded.pyramid_size,"
                  " width=excluded.width, height=excluded.height, levels=excluded.levels,"
                  " tile_size=excluded.tile_size, bands=excluded.bands,"
                  " icc_converted=excluded.icc_converted, updated_at=excluded.updated_at",
                  &p, NULL, err) < 0)
        return -1;
    p = (pg_params_t){0};
    dq_pg_p_text(&p, r->id);
    dq_pg_p_text(&p, r->pyramid_path);
    return dq_pg_run(t, "DELETE FROM image_pending WHERE id = $1 AND pyramid_path = $2", &p, NULL,
                     err);
}

typedef struct {
    dq_store_image_cb cb;
    void *ud;
    int with_times;
    int with_run; /* image_pending: run follows REC_COLS */
} walk_t;

static int image_row(void *ud, PGresult *r)
{
    walk_t *w = ud;
    dq_image_rec_t rec;
    column_rec(r, 0, &rec, w->with_times);
    if (w->with_run)
        dq_pg_copy_col(rec.run, sizeof(rec.run), r, 0, 15);
    return w->cb(w->ud, &rec);
}

static int image_list(dq_store_txn_t *t, dq_store_image_cb cb, void *ud, dq_err_t *err)
{
    walk_t w = {cb, ud, 1, 0};
    return dq_pg_walk(t, "SELECT " REC_COLS ", created_at, updated_at FROM images ORDER BY id",
                      NULL, image_row, &w, err);
}

static int image_remove(dq_store_txn_t *t, const char *id, dq_err_t *err)
{
    int64_t n = 0;
    if (run_id(t, "DELETE FROM images WHERE id = $1", id, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int pending_put(dq_store_txn_t *t, const dq_image_rec_t *r, dq_err_t *err)
{
    pg_params_t p = {0};
    bind_rec(&p, r);
    dq_pg_p_text(&p, r->run);
    return dq_pg_run(t,
                     "INSERT INTO image_pending (" REC_COLS ", run, staged_at) VALUES (" REC_PARAMS
                     ", $16, " DQ_PG_NOW ") ON CONFLICT (run) DO UPDATE SET"
                     " id=excluded.id, master_sha256=excluded.master_sha256,"
                     " master_path=excluded.master_path,"
                     " master_size=excluded.master_size, master_format=excluded.master_format,"
                     " orig_filename=excluded.orig_filename, pyramid_path=excluded.pyramid_path,"
                     " pyramid_sha256=excluded.pyramid_sha256,"
                     " pyramid_size=excluded.pyramid_size, width=excluded.width,"
                     " height=excluded.height, levels=excluded.levels,"
                     " tile_size=excluded.tile_size, bands=excluded.bands,"
                     " icc_converted=excluded.icc_converted, staged_at=excluded.staged_at",
                     &p, NULL, err);
}

static int pending_list(dq_store_txn_t *t, dq_store_image_cb cb, void *ud, dq_err_t *err)
{
    walk_t w = {cb, ud, 0, 1};
    return dq_pg_walk(t, "SELECT " REC_COLS ", run FROM image_pending ORDER BY id, run", NULL,
                      image_row, &w, err);
}

static int pending_drop(dq_store_txn_t *t, const char *run, dq_err_t *err)
{
    return run_id(t, "DELETE FROM image_pending WHERE run = $1", run, NULL, err);
}

static int image_by_master(dq_store_txn_t *t, const char *sha256, dq_store_image_cb cb, void *ud,
                           dq_err_t *err)
{
    walk_t w = {cb, ud, 0, 0};
    pg_params_t p = {0};
    dq_pg_p_text(&p, sha256);
    return dq_pg_walk(t,
                      "SELECT " REC_COLS " FROM images WHERE master_sha256 = $1"
                      " UNION ALL SELECT " REC_COLS " FROM image_pending WHERE master_sha256 = $1",
                      &p, image_row, &w, err);
}

/* ---------------------------------------------------------------- visibility links */

typedef struct {
    dq_store_link_cb cb;
    void *ud;
} links_t;

static int link_row(void *ud, PGresult *r)
{
    links_t *l = ud;
    return l->cb(l->ud, dq_pg_col(r, 0, 0), dq_pg_col_int(r, 0, 1) != 0, dq_pg_col(r, 0, 2));
}

static int image_links(dq_store_txn_t *t, const char *relic_id, dq_store_link_cb cb, void *ud,
                       dq_err_t *err)
{
    pg_params_t p = {0};
    links_t l = {cb, ud};
    if (relic_id) {
        dq_pg_p_text(&p, relic_id);
        return dq_pg_walk(t,
                          "SELECT r.id, r.restricted, i.image_id FROM relics r"
                          " LEFT JOIN relic_images i ON i.relic = r.seq WHERE r.id = $1"
                          " ORDER BY i.pos",
                          &p, link_row, &l, err);
    }
    return dq_pg_walk(t,
                      "SELECT r.id, r.restricted, i.image_id FROM relics r"
                      " JOIN relic_images i ON i.relic = r.seq ORDER BY i.relic, i.pos",
                      NULL, link_row, &l, err);
}

const dq_store_image_ops dq_pg_image_ops = {
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
