/*
 * store_sqlite_annotation.c: annotations and tours in SQLite (migration 5). One row per
 * annotation in `annotations` (the region and motivation as columns, the bodies as canonical
 * JSON, the searchable text in `fts`), an FTS5 table `annotation_fts` (tokenizer 'danqing',
 * rowid = annotation id) kept in step by triggers, so that a relic's deletion, which
 * cascades to its annotations, also empties their index entries; and one row per tour in
 * `tours` (the document as JSON). Every write runs in one IMMEDIATE transaction together
 * with its audit row. Validation and access rules live in annotation.c; this file only
 * stores, checks versions and reads.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

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

static int step_done(store_t *s, sqlite3_stmt *st, dq_err_t *err)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (r != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "the relic does not exist");
        return dq_sq_fail(s, err, "step");
    }
    return 0;
}

/* After an UPDATE/DELETE ... WHERE id AND version that changed nothing: 404 when the row
 * is absent, 412 when only the version differs. sql selects the version by ?1 (and ?2). */
static int why_unchanged(store_t *s, const char *sql, int64_t id, const char *relic,
                         int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    if (dq_sq_prepare(s, sql, &st, err) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (relic)
        sqlite3_bind_text(st, 2, relic, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                   (long long)if_version, (long long)sqlite3_column_int64(st, 0));
    else if (r == SQLITE_DONE)
        dq_err_set(err, DQ_ENOTFOUND, 404, "no such %s", relic ? "annotation" : "tour");
    else
        dq_sq_fail(s, err, "lookup");
    sqlite3_finalize(st);
    return -1;
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

/* Steps st, calling cb per row (hl_col >= 0: that column is the highlight). */
static int walk_anno(store_t *s, sqlite3_stmt *st, int hl_col, dq_anno_cb cb, void *ud, int *n_rows,
                     dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        dq_anno_row_t row;
        column_anno(st, &row);
        (*n_rows)++;
        if (cb(ud, &row, hl_col >= 0 ? (const char *)sqlite3_column_text(st, hl_col) : NULL))
            return 0;
    }
    if (r != SQLITE_DONE)
        return dq_sq_fail(s, err, "read");
    return 0;
}

static void anno_object(char *buf, size_t cap, const char *relic, int64_t id)
{
    snprintf(buf, cap, "%s/annotations/%lld", relic, (long long)id);
}

int dq_sqlite_anno_put(void *impl, dq_anno_row_t *row, int64_t if_version, const char *who,
                       const char *detail, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, insert = row->id == 0;
    char object[128];
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    if (insert) {
        if (dq_sq_prepare(
                s,
                "INSERT INTO annotations (relic, canvas, x, y, w, h, motivation, bodies, fts,"
                " creator, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                " ?7, ?8, ?9, ?10, 1, " NOW_SQL ", " NOW_SQL ")",
                &st, err) < 0)
            goto out;
    } else if (dq_sq_prepare(s,
                             "UPDATE annotations SET canvas = ?2, x = ?3, y = ?4, w = ?5, h = ?6,"
                             " motivation = ?7, bodies = ?8, fts = ?9, version = version + 1,"
                             " updated_at = " NOW_SQL " WHERE relic = ?1 AND id = ?11"
                             " AND (?12 < 0 OR version = ?12)",
                             &st, err) < 0) {
        goto out;
    }
    sqlite3_bind_text(st, 1, row->relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, row->canvas);
    sqlite3_bind_int(st, 3, row->x);
    sqlite3_bind_int(st, 4, row->y);
    sqlite3_bind_int(st, 5, row->w);
    sqlite3_bind_int(st, 6, row->h);
    sqlite3_bind_text(st, 7, row->motivation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row->bodies, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, row->fts, -1, SQLITE_STATIC);
    if (insert) {
        sqlite3_bind_text(st, 10, row->creator, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 11, row->id);
        sqlite3_bind_int64(st, 12, if_version);
    }
    if (step_done(s, st, err) < 0)
        goto out;
    if (!insert && sqlite3_changes(s->db) == 0) {
        why_unchanged(s, "SELECT version FROM annotations WHERE id = ?1 AND relic = ?2", row->id,
                      row->relic_id, if_version, err);
        goto out;
    }
    if (insert)
        row->id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    st = NULL;
    /* Read back what the database decided (version, times, creator on update). */
    if (dq_sq_prepare(
            s, "SELECT version, created_at, updated_at, creator FROM annotations WHERE id = ?1",
            &st, err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, row->id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "read back");
        goto out;
    }
    row->version = sqlite3_column_int64(st, 0);
    dq_sq_copy_col(row->created, sizeof(row->created), st, 1);
    dq_sq_copy_col(row->modified, sizeof(row->modified), st, 2);
    dq_sq_copy_col(row->creator, sizeof(row->creator), st, 3);
    anno_object(object, sizeof(object), row->relic_id, row->id);
    if (dq_sq_audit(s, who, insert ? "annotation.create" : "annotation.replace", object, detail,
                    err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_anno_delete(void *impl, const char *relic_id, int64_t id, int64_t if_version,
                          const char *who, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    char object[128];
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0 ||
        dq_sq_prepare(s,
                      "DELETE FROM annotations WHERE relic = ?1 AND id = ?2"
                      " AND (?3 < 0 OR version = ?3)",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, if_version);
    if (step_done(s, st, err) < 0)
        goto out;
    if (sqlite3_changes(s->db) == 0) {
        why_unchanged(s, "SELECT version FROM annotations WHERE id = ?1 AND relic = ?2", id,
                      relic_id, if_version, err);
        goto out;
    }
    anno_object(object, sizeof(object), relic_id, id);
    if (dq_sq_audit(s, who, "annotation.delete", object, "{}", err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_anno_get(void *impl, const char *relic_id, int64_t id, dq_anno_cb cb, void *ud,
                       dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, "SELECT " ANNO_COLS " FROM annotations a WHERE a.relic = ?1 AND a.id = ?2",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    if (walk_anno(s, st, -1, cb, ud, &n, err) < 0)
        goto out;
    if (n == 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no annotation %lld on '%s'", (long long)id, relic_id);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_anno_list(void *impl, const char *relic_id, int canvas, int64_t offset, int limit,
                        dq_anno_cb cb, void *ud, int64_t *total, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(
            s, "SELECT count(*) FROM annotations WHERE relic = ?1 AND (?2 = 0 OR canvas = ?2)", &st,
            err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, canvas);
    if (sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "count");
        goto out;
    }
    if (total)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (dq_sq_prepare(s,
                      "SELECT " ANNO_COLS " FROM annotations a WHERE a.relic = ?1"
                      " AND (?2 = 0 OR a.canvas = ?2) ORDER BY a.id LIMIT ?3 OFFSET ?4",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, canvas);
    sqlite3_bind_int(st, 3, limit);
    sqlite3_bind_int64(st, 4, offset);
    rc = walk_anno(s, st, -1, cb, ud, &n, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_anno_search(void *impl, const char *relic_id, const char *match, unsigned motivations,
                          const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0;
    pthread_mutex_lock(&s->lock);
    /* highlight() marks with \x01 and \x02: annotation.c refuses control characters in
     * bodies, so the markers cannot be confused with text. The motivation mask is tested
     * in SQL by position in the fixed list of four. */
    if (dq_sq_prepare(s,
                      "SELECT " ANNO_COLS ", highlight(annotation_fts, 0, char(1), char(2))"
                      " FROM annotation_fts JOIN annotations a ON a.id = annotation_fts.rowid"
                      " WHERE annotation_fts MATCH ?1 AND a.relic = ?2"
                      " AND (?3 = 0 OR (?3 >> (CASE a.motivation WHEN 'commenting' THEN 0"
                      "   WHEN 'describing' THEN 1 WHEN 'identifying' THEN 2 ELSE 3 END)) & 1)"
                      " AND (?4 IS NULL OR a.creator = ?4)"
                      " ORDER BY bm25(annotation_fts), a.id LIMIT ?5",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)motivations);
    if (creator)
        sqlite3_bind_text(st, 4, creator, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, limit);
    rc = walk_anno(s, st, 14, cb, ud, &n, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

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

static int walk_tour(store_t *s, sqlite3_stmt *st, dq_tour_cb cb, void *ud, int *n_rows,
                     dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        dq_tour_row_t row;
        column_tour(st, &row);
        (*n_rows)++;
        if (cb(ud, &row))
            return 0;
    }
    if (r != SQLITE_DONE)
        return dq_sq_fail(s, err, "read");
    return 0;
}

int dq_sqlite_tour_put(void *impl, dq_tour_row_t *row, int64_t if_version, const char *who,
                       const char *detail, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, insert = row->id == 0;
    char object[64];
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    if (insert) {
        if (dq_sq_prepare(s,
                          "INSERT INTO tours (relic, doc, author, public, version, created_at,"
                          " updated_at) VALUES (?1, ?2, ?3, ?4, 1, " NOW_SQL ", " NOW_SQL ")",
                          &st, err) < 0)
            goto out;
        sqlite3_bind_text(st, 1, row->relic_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, row->author, -1, SQLITE_STATIC);
    } else {
        if (dq_sq_prepare(s,
                          "UPDATE tours SET doc = ?2, public = ?4, version = version + 1,"
                          " updated_at = " NOW_SQL " WHERE id = ?5 AND (?6 < 0 OR version = ?6)",
                          &st, err) < 0)
            goto out;
        sqlite3_bind_int64(st, 5, row->id);
        sqlite3_bind_int64(st, 6, if_version);
    }
    sqlite3_bind_text(st, 2, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, row->is_public ? 1 : 0);
    if (step_done(s, st, err) < 0)
        goto out;
    if (!insert && sqlite3_changes(s->db) == 0) {
        why_unchanged(s, "SELECT version FROM tours WHERE id = ?1", row->id, NULL, if_version, err);
        goto out;
    }
    if (insert)
        row->id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    st = NULL;
    if (dq_sq_prepare(
            s, "SELECT version, created_at, updated_at, author, relic FROM tours WHERE id = ?1",
            &st, err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, row->id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "read back");
        goto out;
    }
    row->version = sqlite3_column_int64(st, 0);
    dq_sq_copy_col(row->created, sizeof(row->created), st, 1);
    dq_sq_copy_col(row->modified, sizeof(row->modified), st, 2);
    dq_sq_copy_col(row->author, sizeof(row->author), st, 3);
    dq_sq_copy_col(row->relic_id, sizeof(row->relic_id), st, 4);
    snprintf(object, sizeof(object), "tour/t%lld", (long long)row->id);
    if (dq_sq_audit(s, who, insert ? "tour.create" : "tour.replace", object, detail, err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_tour_delete(void *impl, int64_t id, int64_t if_version, const char *who,
                          dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    char object[64];
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0 ||
        dq_sq_prepare(s, "DELETE FROM tours WHERE id = ?1 AND (?2 < 0 OR version = ?2)", &st, err) <
            0)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, if_version);
    if (step_done(s, st, err) < 0)
        goto out;
    if (sqlite3_changes(s->db) == 0) {
        why_unchanged(s, "SELECT version FROM tours WHERE id = ?1", id, NULL, if_version, err);
        goto out;
    }
    snprintf(object, sizeof(object), "tour/t%lld", (long long)id);
    if (dq_sq_audit(s, who, "tour.delete", object, "{}", err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_tour_get(void *impl, int64_t id, dq_tour_cb cb, void *ud, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, "SELECT " TOUR_COLS " FROM tours WHERE id = ?1", &st, err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    if (walk_tour(s, st, cb, ud, &n, err) < 0)
        goto out;
    if (n == 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no such tour");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_tour_list(void *impl, const char *relic_id, dq_tour_cb cb, void *ud, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, "SELECT " TOUR_COLS " FROM tours WHERE relic = ?1 ORDER BY id", &st, err) <
        0)
        goto out;
    sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    rc = walk_tour(s, st, cb, ud, &n, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
