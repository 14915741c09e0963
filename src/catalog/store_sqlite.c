/*
 * store_sqlite.c: the SQLite backend of the catalog (the only file that includes sqlite3.h).
 * One database, data_dir/catalog.sqlite, in WAL mode with foreign keys on, synchronous=FULL
 * (an archive prefers a slower commit to a lost one) and a busy timeout so that a CLI ingest
 * and a server can share it. The schema grows by an ordered list of migrations, each applied
 * in its own IMMEDIATE transaction together with its schema_version row; re-opening applies
 * only the missing ones, and two processes opening at once cannot both apply one.
 *
 * Threads: one connection (opened NOMUTEX) guarded by store_t.lock; every entry point takes
 * the lock for its whole duration, statements included. Not a pool: see catalog.h.
 */
#include "catalog.h"
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- migrations */

/* Append only: never edit a migration that has shipped; add the next one. */
typedef struct {
    int version;
    const char *what;
    const char *sql;
} migration_t;

static const migration_t migrations[] = {
    {1, "images and audit",
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
     "CREATE INDEX audit_object ON audit(object);"},
    {2, "pending image journal",
     "CREATE TABLE image_pending ("
     " id TEXT PRIMARY KEY NOT NULL,"
     " master_sha256 TEXT NOT NULL, master_path TEXT NOT NULL, master_size INTEGER NOT NULL,"
     " master_format TEXT NOT NULL, orig_filename TEXT NOT NULL, pyramid_path TEXT NOT NULL,"
     " pyramid_sha256 TEXT NOT NULL, pyramid_size INTEGER NOT NULL, width INTEGER NOT NULL,"
     " height INTEGER NOT NULL, levels INTEGER NOT NULL, tile_size INTEGER NOT NULL,"
     " bands INTEGER NOT NULL, icc_converted INTEGER NOT NULL,"
     " staged_at TEXT NOT NULL);"},
    {3, "relics, facets, image links, full-text index", dq_sqlite_relic_schema},
    {4, "users, sessions, API tokens", dq_sqlite_account_schema}, /* store_sqlite_account.c */
    {5, "annotations, their full-text index, tours",
     dq_sqlite_annotation_schema}, /* store_sqlite_annotation.c */
    {6, "relic names for the search dictionary",
     dq_sqlite_relic_names_schema}, /* store_sqlite_relic.c */
};

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

/* ---------------------------------------------------------------- helpers */

int dq_sq_fail(store_t *s, dq_err_t *err, const char *what)
{
    return dq_err_set(err, DQ_EIO, 0, "catalog: %s: %s", what, sqlite3_errmsg(s->db));
}

int dq_sq_exec(store_t *s, const char *sql, dq_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        dq_err_set(err, DQ_EIO, 0, "catalog: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int dq_sq_prepare(store_t *s, const char *sql, sqlite3_stmt **st, dq_err_t *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return dq_sq_fail(s, err, "prepare");
    return 0;
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
int dq_sq_step_done(store_t *s, sqlite3_stmt *st, dq_err_t *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        return dq_sq_fail(s, err, "step");
    return 0;
}

void dq_sq_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

void dq_sq_rollback(store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

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

int dq_sq_audit(store_t *s, const char *who, const char *action, const char *object,
                const char *detail, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (dq_sq_prepare(s,
                      "INSERT INTO audit (who, at, action, object, detail) VALUES (?1, " NOW_SQL
                      ", ?2, ?3, ?4)",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, who, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, detail && *detail ? detail : "{}", -1, SQLITE_STATIC);
    rc = dq_sq_step_done(s, st, err);
out:
    sqlite3_finalize(st);
    return rc;
}

/* 1 when a row with id exists in images, 0 when not, -1 on error. */
static int image_exists(store_t *s, const char *id, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (dq_sq_prepare(s, "SELECT 1 FROM images WHERE id = ?1", &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        rc = 1;
    else if (r == SQLITE_DONE)
        rc = 0;
    else
        dq_sq_fail(s, err, "lookup");
out:
    sqlite3_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- open and migrate */

static int read_version(store_t *s, int *version, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (dq_sq_prepare(s, "SELECT coalesce(max(version), 0) FROM schema_version", &st, err) < 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "schema_version");
        goto out;
    }
    *version = sqlite3_column_int(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int migrate(store_t *s, dq_err_t *err)
{
    const int newest = migrations[DQ_ARRAY_LEN(migrations) - 1].version;
    if (dq_sq_exec(s,
                   "CREATE TABLE IF NOT EXISTS schema_version ("
                   " version INTEGER PRIMARY KEY, what TEXT NOT NULL, applied_at TEXT NOT NULL)",
                   err) < 0)
        return -1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++) {
        const migration_t *m = &migrations[i];
        sqlite3_stmt *st = NULL;
        int have = 0;
        /* IMMEDIATE: take the write lock before reading the version, so that two processes
         * opening a fresh catalog at once apply each migration exactly once. */
        if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0 || read_version(s, &have, err) < 0)
            goto fail;
        if (have > newest) {
            dq_err_set(err, DQ_EUNSUP, 0,
                       "catalog schema version %d is newer than this danqing knows (%d)", have,
                       newest);
            goto fail;
        }
        if (have < m->version) {
            if (dq_sq_exec(s, m->sql, err) < 0 ||
                dq_sq_prepare(s,
                              "INSERT INTO schema_version (version, what, "
                              "applied_at) VALUES (?1, ?2, " NOW_SQL ")",
                              &st, err) < 0)
                goto fail;
            sqlite3_bind_int(st, 1, m->version);
            sqlite3_bind_text(st, 2, m->what, -1, SQLITE_STATIC);
            if (dq_sq_step_done(s, st, err) < 0)
                goto fail;
            sqlite3_finalize(st);
            st = NULL;
        }
        if (dq_sq_exec(s, "COMMIT", err) < 0)
            goto fail;
        continue;
    fail:
        sqlite3_finalize(st);
        dq_sq_rollback(s);
        return -1;
    }
    return 0;
}

static void store_close(void *impl)
{
    store_t *s = impl;
    if (!s)
        return;
    dq_sqlite_relic_close(s);
    sqlite3_close(s->db);
    dq_search_free(s->search);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void *dq_store_sqlite_open(const char *data_dir, dq_err_t *err)
{
    store_t *s = dq_xcalloc(1, sizeof(*s));
    char *path = dq_xasprintf("%s/catalog.sqlite", data_dir);
    pthread_mutex_init(&s->lock, NULL);
    if (dq_fs_mkdirs(data_dir, err) < 0)
        goto fail;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        dq_err_set(err, DQ_EIO, 0, "catalog: cannot open %s: %s", path,
                   s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* The busy timeout first: journal_mode=WAL itself may need to wait for another opener. */
    sqlite3_busy_timeout(s->db, 10000);
    if (dq_sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL",
                   err) < 0)
        goto fail;
    /* The tokenizer before the migrations: migration 3 creates an FTS5 table that names it.
     * The compiled Unihan tables are cached in the data directory (milliseconds to load). */
    char *cache = dq_xasprintf("%s/search-tables.bin", data_dir);
    dq_search_config_t scfg = {.cache_path = cache};
    s->search = dq_search_new(&scfg, err);
    free(cache);
    if (!s->search || dq_search_register(s->search, s->db, err) < 0 || migrate(s, err) < 0 ||
        dq_sqlite_relic_open(s, err) < 0)
        goto fail;
    free(path);
    return s;
fail:
    free(path);
    store_close(s);
    return NULL;
}

int dq_store_sqlite_schema_version(void *impl, int *version, dq_err_t *err)
{
    store_t *s = impl;
    pthread_mutex_lock(&s->lock);
    int rc = read_version(s, version, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---------------------------------------------------------------- images */

static char *put_detail(const dq_image_rec_t *r, int replaced)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, "{\"master_sha256\":\"");
    dq_buf_json_str(&b, r->master_sha256, strlen(r->master_sha256));
    dq_buf_puts(&b, "\",\"pyramid_sha256\":\"");
    dq_buf_json_str(&b, r->pyramid_sha256, strlen(r->pyramid_sha256));
    dq_buf_puts(&b, "\",\"orig_filename\":\"");
    dq_buf_json_str(&b, r->orig_filename, strlen(r->orig_filename));
    dq_buf_printf(&b, "\",\"width\":%d,\"height\":%d,\"replaced\":%s}", r->width, r->height,
                  replaced ? "true" : "false");
    return dq_buf_steal(&b, NULL);
}

static int store_image_put(void *impl, const dq_image_rec_t *r, unsigned flags, const char *who,
                           dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    char *detail = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    int exists = image_exists(s, r->id, err);
    if (exists < 0)
        goto out;
    if (exists && !(flags & DQ_CATALOG_REPLACE)) {
        dq_err_set(err, DQ_EEXIST, 0, "image '%s' already exists (use --replace)", r->id);
        goto out;
    }
    /* An upsert, so that created_at survives a replacement. */
    if (dq_sq_prepare(s,
                      "INSERT INTO images (" REC_COLS
                      ", created_at, updated_at) VALUES (" REC_PARAMS ", " NOW_SQL ", " NOW_SQL
                      ") ON CONFLICT(id) DO UPDATE SET"
                      " master_sha256=excluded.master_sha256, master_path=excluded.master_path,"
                      " master_size=excluded.master_size, master_format=excluded.master_format,"
                      " orig_filename=excluded.orig_filename, pyramid_path=excluded.pyramid_path,"
                      " pyramid_sha256=excluded.pyramid_sha256, pyramid_size=excluded.pyramid_size,"
                      " width=excluded.width, height=excluded.height, levels=excluded.levels,"
                      " tile_size=excluded.tile_size, bands=excluded.bands,"
                      " icc_converted=excluded.icc_converted, updated_at=excluded.updated_at",
                      &st, err) < 0)
        goto out;
    bind_rec(st, r);
    if (dq_sq_step_done(s, st, err) < 0)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    if (dq_sq_prepare(s, "DELETE FROM image_pending WHERE id = ?1", &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    if (dq_sq_step_done(s, st, err) < 0)
        goto out;
    detail = put_detail(r, exists);
    if (dq_sq_audit(s, who, exists ? "image.replace" : "image.create", r->id, detail, err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    free(detail);
    return rc;
}

static int store_image_get(void *impl, const char *id, dq_image_rec_t *out, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, "SELECT " REC_COLS ", created_at, updated_at FROM images WHERE id = ?1",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", id);
        goto out;
    }
    if (r != SQLITE_ROW) {
        dq_sq_fail(s, err, "image_get");
        goto out;
    }
    column_rec(st, out, 1);
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Lists rows of a table; the callback runs with the lock held, so it must not call back into
 * the same catalog (documented on dq_image_cb's users: ingest recovery collects, then acts). */
static int list_rows(store_t *s, const char *sql, int with_times, dq_image_cb cb, void *ud,
                     dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, sql, &st, err) < 0)
        goto out;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        dq_image_rec_t rec;
        column_rec(st, &rec, with_times);
        if (cb(ud, &rec) != 0)
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_sq_fail(s, err, "list");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int store_image_list(void *impl, dq_image_cb cb, void *ud, dq_err_t *err)
{
    return list_rows(impl, "SELECT " REC_COLS ", created_at, updated_at FROM images ORDER BY id", 1,
                     cb, ud, err);
}

static int store_image_delete(void *impl, const char *id, const char *who, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0 ||
        dq_sq_prepare(s, "DELETE FROM images WHERE id = ?1", &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (dq_sq_step_done(s, st, err) < 0)
        goto out;
    if (sqlite3_changes(s->db) == 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", id);
        goto out;
    }
    if (dq_sq_audit(s, who, "image.delete", id, "{}", err) < 0 || dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---------------------------------------------------------------- pending journal */

static int store_pending_put(void *impl, const dq_image_rec_t *r, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s,
                      "INSERT OR REPLACE INTO image_pending (" REC_COLS
                      ", staged_at) VALUES (" REC_PARAMS ", " NOW_SQL ")",
                      &st, err) < 0)
        goto out;
    bind_rec(st, r);
    rc = dq_sq_step_done(s, st, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int store_pending_list(void *impl, dq_image_cb cb, void *ud, dq_err_t *err)
{
    return list_rows(impl, "SELECT " REC_COLS " FROM image_pending ORDER BY id", 0, cb, ud, err);
}

static int store_pending_drop(void *impl, const char *id, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, "DELETE FROM image_pending WHERE id = ?1", &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = dq_sq_step_done(s, st, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int store_audit_count(void *impl, int64_t *n, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    /* max(rowid), not count(*): O(1) instead of a scan of a table that grows with every
     * write, and equal to the count because audit rows are never deleted (a rolled-back
     * insert leaves no gap: without AUTOINCREMENT the next row reuses max + 1). The server
     * polls this once a second to notice writes made by other processes. */
    if (dq_sq_prepare(s, "SELECT coalesce(max(rowid), 0) FROM audit", &st, err) < 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "audit_count");
        goto out;
    }
    *n = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

const dq_store_ops dq_store_sqlite_ops = {
    .name = "sqlite",
    .image_put = store_image_put,
    .image_get = store_image_get,
    .image_list = store_image_list,
    .image_delete = store_image_delete,
    .pending_put = store_pending_put,
    .pending_list = store_pending_list,
    .pending_drop = store_pending_drop,
    .audit_count = store_audit_count,
    /* ======== relics (store_sqlite_relic.c) ======== */
    .relic_search_handle = dq_sqlite_relic_search_handle,
    .relic_txn = dq_sqlite_relic_txn,
    .relic_load = dq_sqlite_relic_load,
    .relic_save = dq_sqlite_relic_save,
    .relic_remove = dq_sqlite_relic_remove,
    .relic_new_id = dq_sqlite_relic_new_id,
    .relic_image_exists = dq_sqlite_relic_image_exists,
    .relic_audit = dq_sqlite_relic_audit,
    .relic_get = dq_sqlite_relic_get,
    .relic_search = dq_sqlite_relic_search,
    .relic_warm = dq_sqlite_relic_warm,
    .relic_image_visible = dq_sqlite_relic_image_visible,
    .relic_counts = dq_sqlite_relic_counts,
    .relic_audit_list = dq_sqlite_relic_audit_list,
    .relic_names = dq_sqlite_relic_names,
    /* ======== end relics ======== */
    /* ======== accounts (store_sqlite_account.c) ======== */
    .user_insert = dq_sqlite_user_insert,
    .user_get = dq_sqlite_user_get,
    .user_list = dq_sqlite_user_list,
    .user_update = dq_sqlite_user_update,
    .user_delete = dq_sqlite_user_delete,
    .cred_insert = dq_sqlite_cred_insert,
    .cred_lookup = dq_sqlite_cred_lookup,
    .cred_delete = dq_sqlite_cred_delete,
    .cred_revoke = dq_sqlite_cred_revoke,
    /* ======== end accounts ======== */
    /* ======== annotations and tours (store_sqlite_annotation.c) ======== */
    .anno_put = dq_sqlite_anno_put,
    .anno_delete = dq_sqlite_anno_delete,
    .anno_get = dq_sqlite_anno_get,
    .anno_list = dq_sqlite_anno_list,
    .anno_search = dq_sqlite_anno_search,
    .tour_put = dq_sqlite_tour_put,
    .tour_delete = dq_sqlite_tour_delete,
    .tour_get = dq_sqlite_tour_get,
    .tour_list = dq_sqlite_tour_list,
    /* ======== end annotations and tours ======== */
    .close = store_close,
};
