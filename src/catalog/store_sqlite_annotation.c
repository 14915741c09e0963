/*
 * store_sqlite_annotation.c: annotations and tours in SQLite (migration 5). One row per
 * annotation in `annotations` (the region and motivation as columns, the bodies as canonical
 * JSON, the searchable text in `fts`), an FTS5 table `annotation_fts` (tokenizer 'danqing',
 * rowid = annotation id) kept in step by triggers, so that a relic's deletion, which
 * cascades to its annotations, also empties their index entries; and one row per tour in
 * `tours` (the document as JSON). Row primitives inside the caller's transaction (store.h):
 * validation, access rules and the audit rows live in annotation.c; this file only stores,
 * checks versions and reads.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "search/search.h"

/* ---------------------------------------------------------------- schema (migration 5) */

const char dq_sqlite_annotation_schema[] =
    "CREATE TABLE annotations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: ids are URLs clients keep */
    " relic TEXT NOT NULL REFERENCES relics(id) ON DELETE CASCADE,"
    " canvas INTEGER NOT NULL CHECK (canvas >= 1),"
    " x INTEGER NOT NULL CHECK (x >= 0), y INTEGER NOT NULL CHECK (y >= 0),"
    " w INTEGER NOT NULL CHECK (w >= 1), h INTEGER NOT NULL CHECK (h >= 1),"
    " motivation TEXT NOT NULL"
    "   CHECK (motivation IN ('commenting','describing','identifying','tagging')),"
    " bodies TEXT NOT NULL CHECK (json_valid(bodies)),"
    " fts TEXT NOT NULL,"
    " creator TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX annotations_relic ON annotations(relic, canvas, id);"
    "CREATE VIRTUAL TABLE annotation_fts USING fts5(body, tokenize = 'danqing');"
    "CREATE TRIGGER annotations_ai AFTER INSERT ON annotations BEGIN"
    " INSERT INTO annotation_fts (rowid, body) VALUES (new.id, new.fts); END;"
    "CREATE TRIGGER annotations_ad AFTER DELETE ON annotations BEGIN"
    " DELETE FROM annotation_fts WHERE rowid = old.id; END;"
    "CREATE TRIGGER annotations_au AFTER UPDATE OF fts ON annotations BEGIN"
    " DELETE FROM annotation_fts WHERE rowid = old.id;"
    " INSERT INTO annotation_fts (rowid, body) VALUES (new.id, new.fts); END;"
    "CREATE TABLE tours ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " relic TEXT NOT NULL REFERENCES relics(id) ON DELETE CASCADE,"
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " author TEXT NOT NULL,"
    " public INTEGER NOT NULL CHECK (public IN (0, 1)),"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX tours_relic ON tours(relic, id);";

/* ---------------------------------------------------------------- helpers */

/* Steps a write to the end; a foreign-key failure (the relic is gone) is DQ_ENOTFOUND. */
static int write_done(dq_store_txn_t *t, sqlite3_stmt *st, dq_err_t *err)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    if (r != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(t->db) & 0xff) == SQLITE_CONSTRAINT)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "the relic does not exist");
        return dq_sq_fail(t, err, "step");
    }
    return 0;
}

/* After an UPDATE/DELETE ... WHERE id AND version that changed nothing: 1 when the row is
 * absent, -1 with DQ_EEXIST (412) when only the version differs. sql selects the version by
 * ?1 (and ?2). */
static int why_unchanged(dq_store_txn_t *t, const char *sql, int64_t id, const char *relic,
                         int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (relic)
        sqlite3_bind_text(st, 2, relic, -1, SQLITE_STATIC);
    int r = dq_sq_row(t, st, "lookup", err);
    if (r == 0)
        dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                   (long long)if_version, (long long)sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    return r == 1 ? 1 : -1;
}

/* ---------------------------------------------------------------- annotations */

#define ANNO_COLS                                                                                  \
    "a.id, a.relic, a.canvas, a.x, a.y, a.w, a.h, a.motivation, a.bodies, a.fts, a.creator,"       \
    " a.created_at, a.updated_at, a.version"

/* Reads ANNO_COLS from the current row; bodies and fts point into the statement. */
static void column_anno(sqlite3_stmt *st, dq_anno_row_t *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    dq_sq_copy_col(r->relic_id, sizeof(r->relic_id), st, 1);
    r->canvas = sqlite3_column_int(st, 2);
    r->x = sqlite3_column_int(st, 3);
    r->y = sqlite3_column_int(st, 4);
    r->w = sqlite3_column_int(st, 5);
    r->h = sqlite3_column_int(st, 6);
    dq_sq_copy_col(r->motivation, sizeof(r->motivation), st, 7);
    r->bodies = (const char *)sqlite3_column_text(st, 8);
    r->fts = (const char *)sqlite3_column_text(st, 9);
    dq_sq_copy_col(r->creator, sizeof(r->creator), st, 10);
    dq_sq_copy_col(r->created, sizeof(r->created), st, 11);
    dq_sq_copy_col(r->modified, sizeof(r->modified), st, 12);
    r->version = sqlite3_column_int64(st, 13);
}

/* Steps st, calling cb per row (hl_col >= 0: that column is the highlight); resets st. */
static int walk_anno(dq_store_txn_t *t, sqlite3_stmt *st, int hl_col, dq_anno_cb cb, void *ud,
                     int *n_rows, dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_anno_row_t row;
        column_anno(st, &row);
        (*n_rows)++;
        if (cb(ud, &row, hl_col >= 0 ? (const char *)sqlite3_column_text(st, hl_col) : NULL))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static void bind_anno(sqlite3_stmt *st, const dq_anno_row_t *row)
{
    sqlite3_bind_text(st, 1, row->relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, row->canvas);
    sqlite3_bind_int(st, 3, row->x);
    sqlite3_bind_int(st, 4, row->y);
    sqlite3_bind_int(st, 5, row->w);
    sqlite3_bind_int(st, 6, row->h);
    sqlite3_bind_text(st, 7, row->motivation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row->bodies, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, row->fts, -1, SQLITE_STATIC);
}

/* Reads back what the database decided (version, times, creator) into row. */
static int anno_read_back(dq_store_txn_t *t, dq_anno_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT version, created_at, updated_at, creator FROM annotations WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, row->id);
    int r = dq_sq_row(t, st, "read back", err);
    if (r == 0) {
        row->version = sqlite3_column_int64(st, 0);
        dq_sq_copy_col(row->created, sizeof(row->created), st, 1);
        dq_sq_copy_col(row->modified, sizeof(row->modified), st, 2);
        dq_sq_copy_col(row->creator, sizeof(row->creator), st, 3);
    }
    sqlite3_reset(st);
    return r == 0 ? 0 : dq_err_set(err, DQ_EIO, 500, "catalog: annotation vanished");
}

static int anno_insert(dq_store_txn_t *t, dq_anno_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        "INSERT INTO annotations (relic, canvas, x, y, w, h, motivation, bodies, fts,"
        " creator, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " ?7, ?8, ?9, ?10, 1, " DQ_SQ_NOW ", " DQ_SQ_NOW ")",
        err);
    if (!st)
        return -1;
    bind_anno(st, row);
    sqlite3_bind_text(st, 10, row->creator, -1, SQLITE_STATIC);
    if (write_done(t, st, err) < 0)
        return -1;
    row->id = sqlite3_last_insert_rowid(t->db);
    return anno_read_back(t, row, err);
}

static int anno_update(dq_store_txn_t *t, dq_anno_row_t *row, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "UPDATE annotations SET canvas = ?2, x = ?3, y = ?4, w = ?5,"
                                  " h = ?6, motivation = ?7, bodies = ?8, fts = ?9,"
                                  " version = version + 1, updated_at = " DQ_SQ_NOW
                                  " WHERE relic = ?1 AND id = ?11 AND (?12 < 0 OR version = ?12)",
                                  err);
    if (!st)
        return -1;
    bind_anno(st, row);
    sqlite3_bind_int64(st, 11, row->id);
    sqlite3_bind_int64(st, 12, if_version);
    if (write_done(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return why_unchanged(t, "SELECT version FROM annotations WHERE id = ?1 AND relic = ?2",
                             row->id, row->relic_id, if_version, err);
    return anno_read_back(t, row, err);
}

static int anno_remove(dq_store_txn_t *t, const char *relic_id, int64_t id, int64_t if_version,
                       dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "DELETE FROM annotations WHERE relic = ?1 AND id = ?2"
                                  " AND (?3 < 0 OR version = ?3)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, if_version);
    if (write_done(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return why_unchanged(t, "SELECT version FROM annotations WHERE id = ?1 AND relic = ?2", id,
                             relic_id, if_version, err);
    return 0;
}

static int anno_get(dq_store_txn_t *t, const char *relic_id, int64_t id, dq_anno_cb cb, void *ud,
                    dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT " ANNO_COLS " FROM annotations a WHERE a.relic = ?1 AND a.id = ?2", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    if (walk_anno(t, st, -1, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

/* ---- paging, shared with the glossary (store_sqlite_lesson.c): store_sqlite_internal.h */

static sqlite3_stmt *bound_stmt(dq_store_txn_t *t, const char *sql,
                                void (*bind)(sqlite3_stmt *st, const void *bud), const void *bud,
                                dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, sql, err);
    if (st && bind)
        bind(st, bud);
    return st;
}

sqlite3_stmt *dq_sq_page(dq_store_txn_t *t, const char *count_sql, const char *page_sql,
                         void (*bind)(sqlite3_stmt *st, const void *bud), const void *bud,
                         int n_params, int limit, int64_t offset, int64_t *total, dq_err_t *err)
{
    sqlite3_stmt *st = bound_stmt(t, count_sql, bind, bud, err);
    if (!st)
        return NULL;
    int r = dq_sq_row(t, st, "count", err);
    if (r == 0 && total)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (r != 0)
        return NULL;
    if (!(st = bound_stmt(t, page_sql, bind, bud, err)))
        return NULL;
    sqlite3_bind_int(st, n_params + 1, limit);
    sqlite3_bind_int64(st, n_params + 2, offset);
    return st;
}

typedef struct {
    const char *relic_id;
    int canvas;
} anno_where_t;

static void bind_where(sqlite3_stmt *st, const void *bud)
{
    const anno_where_t *w = bud;
    sqlite3_bind_text(st, 1, w->relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, w->canvas);
}

static int anno_list(dq_store_txn_t *t, const char *relic_id, int canvas, int64_t offset,
                     int limit, dq_anno_cb cb, void *ud, int64_t *total, dq_err_t *err)
{
    int n = 0;
    anno_where_t w = {relic_id, canvas};
    sqlite3_stmt *st = dq_sq_page(
        t, "SELECT count(*) FROM annotations WHERE relic = ?1 AND (?2 = 0 OR canvas = ?2)",
        "SELECT " ANNO_COLS " FROM annotations a WHERE a.relic = ?1"
        " AND (?2 = 0 OR a.canvas = ?2) ORDER BY a.id LIMIT ?3 OFFSET ?4",
        bind_where, &w, 2, limit, offset, total, err);
    return st ? walk_anno(t, st, -1, cb, ud, &n, err) : -1;
}

static int anno_search(dq_store_txn_t *t, const char *relic_id, const char *q,
                       unsigned motivations, const char *creator, int limit, dq_anno_cb cb,
                       void *ud, dq_err_t *err)
{
    dq_buf_t match = {0};
    dq_search_plan_t plan = {0};
    int rc = -1, n = 0;
    /* The FTS5 expression is made here, from search/'s plan of the user text. */
    if (dq_search_query_plan(t->search, q ? q : "", &plan, err) < 0) {
        if (err)
            err->code = DQ_EINVAL, err->http_status = 400;
        goto out;
    }
    dq_sqlite_fts_render(&plan, DQ_SQ_FTS_MATCH, &match);
    /* highlight() marks with \x01 and \x02: annotation.c refuses control characters in
     * bodies, so the markers cannot be confused with text. The motivation mask is tested
     * in SQL by position in the fixed list of four. */
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        "SELECT " ANNO_COLS ", highlight(annotation_fts, 0, char(1), char(2))"
        " FROM annotation_fts JOIN annotations a ON a.id = annotation_fts.rowid"
        " WHERE annotation_fts MATCH ?1 AND a.relic = ?2"
        " AND (?3 = 0 OR (?3 >> (CASE a.motivation WHEN 'commenting' THEN 0"
        "   WHEN 'describing' THEN 1 WHEN 'identifying' THEN 2 ELSE 3 END)) & 1)"
        " AND (?4 IS NULL OR a.creator = ?4)"
        " ORDER BY bm25(annotation_fts), a.id LIMIT ?5",
        err);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, match.data ? match.data : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)motivations);
    dq_sq_bind_text(st, 4, creator);
    sqlite3_bind_int(st, 5, limit);
    rc = walk_anno(t, st, 14, cb, ud, &n, err);
out:
    dq_buf_free(&match);
    dq_search_plan_free(&plan);
    return rc;
}

const dq_store_anno_ops dq_sqlite_anno_ops = {
    .insert = anno_insert,
    .update = anno_update,
    .remove = anno_remove,
    .get = anno_get,
    .list = anno_list,
    .search = anno_search,
};

/* ---------------------------------------------------------------- tours */

#define TOUR_COLS "id, relic, doc, author, public, created_at, updated_at, version"

static void column_tour(sqlite3_stmt *st, dq_tour_row_t *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    dq_sq_copy_col(r->relic_id, sizeof(r->relic_id), st, 1);
    r->doc = (const char *)sqlite3_column_text(st, 2);
    dq_sq_copy_col(r->author, sizeof(r->author), st, 3);
    r->is_public = sqlite3_column_int(st, 4);
    dq_sq_copy_col(r->created, sizeof(r->created), st, 5);
    dq_sq_copy_col(r->modified, sizeof(r->modified), st, 6);
    r->version = sqlite3_column_int64(st, 7);
}

static int walk_tour(dq_store_txn_t *t, sqlite3_stmt *st, dq_tour_cb cb, void *ud, int *n_rows,
                     dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_tour_row_t row;
        column_tour(st, &row);
        (*n_rows)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int tour_read_back(dq_store_txn_t *t, dq_tour_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT version, created_at, updated_at, author, relic FROM tours WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, row->id);
    int r = dq_sq_row(t, st, "read back", err);
    if (r == 0) {
        row->version = sqlite3_column_int64(st, 0);
        dq_sq_copy_col(row->created, sizeof(row->created), st, 1);
        dq_sq_copy_col(row->modified, sizeof(row->modified), st, 2);
        dq_sq_copy_col(row->author, sizeof(row->author), st, 3);
        dq_sq_copy_col(row->relic_id, sizeof(row->relic_id), st, 4);
    }
    sqlite3_reset(st);
    return r == 0 ? 0 : dq_err_set(err, DQ_EIO, 500, "catalog: tour vanished");
}

static int tour_insert(dq_store_txn_t *t, dq_tour_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO tours (relic, doc, author, public, version,"
                                  " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 1, " DQ_SQ_NOW
                                  ", " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->author, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, row->is_public ? 1 : 0);
    if (write_done(t, st, err) < 0)
        return -1;
    row->id = sqlite3_last_insert_rowid(t->db);
    return tour_read_back(t, row, err);
}

static int tour_update(dq_store_txn_t *t, dq_tour_row_t *row, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "UPDATE tours SET doc = ?2, public = ?4, version = version + 1,"
                                  " updated_at = " DQ_SQ_NOW
                                  " WHERE id = ?5 AND (?6 < 0 OR version = ?6)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 2, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, row->is_public ? 1 : 0);
    sqlite3_bind_int64(st, 5, row->id);
    sqlite3_bind_int64(st, 6, if_version);
    if (write_done(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return why_unchanged(t, "SELECT version FROM tours WHERE id = ?1", row->id, NULL,
                             if_version, err);
    return tour_read_back(t, row, err);
}

static int tour_remove(dq_store_txn_t *t, int64_t id, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "DELETE FROM tours WHERE id = ?1 AND (?2 < 0 OR version = ?2)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, if_version);
    if (write_done(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return why_unchanged(t, "SELECT version FROM tours WHERE id = ?1", id, NULL, if_version,
                             err);
    return 0;
}

static int tour_get(dq_store_txn_t *t, int64_t id, dq_tour_cb cb, void *ud, dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT " TOUR_COLS " FROM tours WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (walk_tour(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int tour_list(dq_store_txn_t *t, const char *relic_id, dq_tour_cb cb, void *ud,
                     dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st =
        dq_sq_stmt(t, "SELECT " TOUR_COLS " FROM tours WHERE relic = ?1 ORDER BY id", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    return walk_tour(t, st, cb, ud, &n, err);
}

const dq_store_tour_ops dq_sqlite_tour_ops = {
    .insert = tour_insert,
    .update = tour_update,
    .remove = tour_remove,
    .get = tour_get,
    .list = tour_list,
};
