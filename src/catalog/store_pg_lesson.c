/*
 * store_pg_lesson.c: lessons and the glossary in PostgreSQL (migration 13, issue 17), the twin
 * of store_sqlite_lesson.c, and the role check of `users` widened for the educator role. One
 * row per lesson in `lessons` (the document as JSON text, like tours; ids from dq_counters),
 * one row per glossary entry in `glossary` with its searchable text, token count and tsvector.
 * Searches rank by FTS5's bm25 from the same inputs (store_pg_annotation.c), so both backends
 * answer alike. Row primitives only: validation, access rules, visibility and audit rows live
 * in lesson.c and glossary.c.
 */
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* PostgreSQL changes a CHECK in place (SQLite has to rebuild the table). */
const char dq_pg_lesson_schema[] =
    "ALTER TABLE users DROP CONSTRAINT users_role_check;"
    "ALTER TABLE users ADD CONSTRAINT users_role_check"
    "  CHECK (role IN ('viewer','educator','conservator','curator','admin'));"
    "INSERT INTO dq_counters VALUES ('lessons', 0);"
    "CREATE TABLE lessons ("
    " id bigint PRIMARY KEY,"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " author text NOT NULL,"
    " public integer NOT NULL CHECK (public IN (0, 1)),"
    " version bigint NOT NULL CHECK (version >= 1),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE TABLE glossary ("
    " key text COLLATE \"C\" PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 63),"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " fts text NOT NULL,"
    " ntok integer NOT NULL,"
    " terms tsvector NOT NULL,"
    " author text NOT NULL,"
    " version bigint NOT NULL CHECK (version >= 1),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE INDEX glossary_terms ON glossary USING gin (terms);";

/* After an UPDATE/DELETE that matched nothing: 1 absent, -1 DQ_EEXIST (412) stale. */
static int stale_or_absent(dq_store_txn_t *t, const char *sql, const pg_params_t *p,
                           int64_t if_version, dq_err_t *err)
{
    int64_t v = 0;
    int e = dq_pg_int(t, sql, p, &v, err);
    if (e != 0)
        return e;
    return dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                      (long long)if_version, (long long)v);
}

/* ---------------------------------------------------------------- lessons */

#define LESSON_COLS "id, doc, author, public, created_at, updated_at, version"

typedef struct {
    dq_lesson_cb cb;
    void *ud;
    int n;
} lesson_walk_t;

static int lesson_row(void *ud, PGresult *r)
{
    lesson_walk_t *w = ud;
    dq_lesson_row_t row = {0};
    row.id = dq_pg_col_int(r, 0, 0);
    row.doc = dq_pg_col(r, 0, 1);
    dq_pg_copy_col(row.author, sizeof(row.author), r, 0, 2);
    row.is_public = (int)dq_pg_col_int(r, 0, 3);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 4);
    dq_pg_copy_col(row.modified, sizeof(row.modified), r, 0, 5);
    row.version = dq_pg_col_int(r, 0, 6);
    w->n++;
    return w->cb(w->ud, &row);
}

static void lesson_back(PGresult *r, dq_lesson_row_t *row)
{
    row->id = dq_pg_col_int(r, 0, 0);
    row->version = dq_pg_col_int(r, 0, 1);
    dq_pg_copy_col(row->created, sizeof(row->created), r, 0, 2);
    dq_pg_copy_col(row->modified, sizeof(row->modified), r, 0, 3);
    dq_pg_copy_col(row->author, sizeof(row->author), r, 0, 4);
}

static int lesson_insert(dq_store_txn_t *t, dq_lesson_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_text(&p, row->author);
    dq_pg_p_int(&p, row->is_public ? 1 : 0);
    PGresult *r = dq_pg_exec(
        t,
        "WITH c AS (UPDATE dq_counters SET value = value + 1 WHERE name = 'lessons'"
        " RETURNING value) INSERT INTO lessons (id, doc, author, public, version, created_at,"
        " updated_at) SELECT c.value, $1, $2, $3, 1, " DQ_PG_NOW ", " DQ_PG_NOW
        " FROM c RETURNING id, version, created_at, updated_at, author",
        &p, err);
    if (!r)
        return -1;
    lesson_back(r, row);
    PQclear(r);
    return 0;
}

static int lesson_update(dq_store_txn_t *t, dq_lesson_row_t *row, int64_t if_version, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_int(&p, row->is_public ? 1 : 0);
    dq_pg_p_int(&p, row->id);
    dq_pg_p_int(&p, if_version);
    PGresult *r =
        dq_pg_exec(t,
                   "UPDATE lessons SET doc = $1, public = $2, version = version + 1,"
                   " updated_at = " DQ_PG_NOW " WHERE id = $3 AND ($4 < 0 OR version = $4)"
                   " RETURNING id, version, created_at, updated_at, author",
                   &p, err);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n)
        lesson_back(r, row);
    PQclear(r);
    if (n)
        return 0;
    pg_params_t q = {0};
    dq_pg_p_int(&q, row->id);
    return stale_or_absent(t, "SELECT version FROM lessons WHERE id = $1", &q, if_version, err);
}

static int lesson_remove(dq_store_txn_t *t, int64_t id, int64_t if_version, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_int(&p, id);
    dq_pg_p_int(&p, if_version);
    if (dq_pg_run(t, "DELETE FROM lessons WHERE id = $1 AND ($2 < 0 OR version = $2)", &p, &n,
                  err) < 0)
        return -1;
    if (n)
        return 0;
    pg_params_t q = {0};
    dq_pg_p_int(&q, id);
    return stale_or_absent(t, "SELECT version FROM lessons WHERE id = $1", &q, if_version, err);
}

static int lesson_get(dq_store_txn_t *t, int64_t id, dq_lesson_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    lesson_walk_t w = {cb, ud, 0};
    dq_pg_p_int(&p, id);
    if (dq_pg_walk(t, "SELECT " LESSON_COLS " FROM lessons WHERE id = $1", &p, lesson_row, &w,
                   err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int lesson_list(dq_store_txn_t *t, dq_lesson_cb cb, void *ud, dq_err_t *err)
{
    lesson_walk_t w = {cb, ud, 0};
    return dq_pg_walk(t, "SELECT " LESSON_COLS " FROM lessons ORDER BY id", NULL, lesson_row, &w,
                      err);
}

const dq_store_lesson_ops dq_pg_lesson_ops = {
    .insert = lesson_insert,
    .update = lesson_update,
    .remove = lesson_remove,
    .get = lesson_get,
    .list = lesson_list,
};

/* ---------------------------------------------------------------- glossary */

#define GLOSS_COLS "g.key, g.doc, g.fts, g.author, g.created_at, g.updated_at, g.version, g.ntok"

static void column_gloss(PGresult *r, int i, dq_gloss_row_t *row)
{
    memset(row, 0, sizeof(*row));
    dq_pg_copy_col(row->key, sizeof(row->key), r, i, 0);
    row->doc = dq_pg_col(r, i, 1);
    row->fts = dq_pg_col(r, i, 2);
    dq_pg_copy_col(row->author, sizeof(row->author), r, i, 3);
    dq_pg_copy_col(row->created, sizeof(row->created), r, i, 4);
    dq_pg_copy_col(row->modified, sizeof(row->modified), r, i, 5);
    row->version = dq_pg_col_int(r, i, 6);
}

typedef struct {
    dq_gloss_cb cb;
    void *ud;
    int n;
} gloss_walk_t;

static int gloss_row(void *ud, PGresult *r)
{
    gloss_walk_t *w = ud;
    dq_gloss_row_t row;
    column_gloss(r, 0, &row);
    w->n++;
    return w->cb(w->ud, &row);
}

static void gloss_back(PGresult *r, dq_gloss_row_t *row)
{
    row->version = dq_pg_col_int(r, 0, 0);
    dq_pg_copy_col(row->created, sizeof(row->created), r, 0, 1);
    dq_pg_copy_col(row->modified, sizeof(row->modified), r, 0, 2);
    dq_pg_copy_col(row->author, sizeof(row->author), r, 0, 3);
}

/* $1 key, $2 doc, $3 fts, $4 terms, $5 ntok */
static void bind_gloss(dq_store_txn_t *t, pg_params_t *p, const dq_gloss_row_t *row, dq_buf_t *tsv)
{
    int64_t ntok = 0;
    const char *f[1] = {row->fts};
    dq_pg_tsvector(t->search, f, 1, 1, tsv, &ntok);
    dq_pg_p_text(p, row->key);
    dq_pg_p_text(p, row->doc);
    dq_pg_p_text(p, row->fts);
    dq_pg_p_text(p, tsv->data ? tsv->data : "");
    dq_pg_p_int(p, ntok);
}

static int gloss_insert(dq_store_txn_t *t, dq_gloss_row_t *row, dq_err_t *err)
{
    dq_buf_t tsv = {0};
    pg_params_t p = {0};
    int64_t one;
    int rc = -1;
    dq_pg_p_text(&p, row->key);
    int e = dq_pg_int(t, "SELECT 1 FROM glossary WHERE key = $1", &p, &one, err);
    if (e < 0)
        goto out;
    if (e == 0) { /* checked first: a failed INSERT would abort the transaction */
        dq_err_set(err, DQ_EEXIST, 409, "catalog: glossary entry '%s' exists", row->key);
        goto out;
    }
    p = (pg_params_t){0};
    bind_gloss(t, &p, row, &tsv);
    dq_pg_p_text(&p, row->author);
    PGresult *r = dq_pg_exec(t,
                             "INSERT INTO glossary (key, doc, fts, terms, ntok, author, version,"
                             " created_at, updated_at) VALUES ($1, $2, $3, $4::tsvector, $5, $6,"
                             " 1, " DQ_PG_NOW ", " DQ_PG_NOW
                             ") RETURNING version, created_at, updated_at, author",
                             &p, err);
    if (!r)
        goto out;
    gloss_back(r, row);
    PQclear(r);
    rc = 0;
out:
    dq_buf_free(&tsv);
    return rc;
}

static int gloss_update(dq_store_txn_t *t, dq_gloss_row_t *row, int64_t if_version, dq_err_t *err)
{
    dq_buf_t tsv = {0};
    pg_params_t p = {0};
    int rc = -1;
    bind_gloss(t, &p, row, &tsv);
    dq_pg_p_int(&p, if_version);
    PGresult *r = dq_pg_exec(t,
                             "UPDATE glossary SET doc = $2, fts = $3, terms = $4::tsvector,"
                             " ntok = $5, version = version + 1, updated_at = " DQ_PG_NOW
                             " WHERE key = $1 AND ($6 < 0 OR version = $6)"
                             " RETURNING version, created_at, updated_at, author",
                             &p, err);
    if (!r)
        goto out;
    int n = PQntuples(r);
    if (n)
        gloss_back(r, row);
    PQclear(r);
    if (n) {
        rc = 0;
        goto out;
    }
    pg_params_t q = {0};
    dq_pg_p_text(&q, row->key);
    rc = stale_or_absent(t, "SELECT version FROM glossary WHERE key = $1", &q, if_version, err);
out:
    dq_buf_free(&tsv);
    return rc;
}

static int gloss_remove(dq_store_txn_t *t, const char *key, int64_t if_version, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, key);
    dq_pg_p_int(&p, if_version);
    if (dq_pg_run(t, "DELETE FROM glossary WHERE key = $1 AND ($2 < 0 OR version = $2)", &p, &n,
                  err) < 0)
        return -1;
    if (n)
        return 0;
    pg_params_t q = {0};
    dq_pg_p_text(&q, key);
    return stale_or_absent(t, "SELECT version FROM glossary WHERE key = $1", &q, if_version, err);
}

static int gloss_get(dq_store_txn_t *t, const char *key, dq_gloss_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    gloss_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, key);
    if (dq_pg_walk(t, "SELECT " GLOSS_COLS " FROM glossary g WHERE g.key = $1", &p, gloss_row, &w,
                   err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int gloss_list(dq_store_txn_t *t, int64_t offset, int limit, dq_gloss_cb cb, void *ud,
                      int64_t *total, dq_err_t *err)
{
    gloss_walk_t w = {cb, ud, 0};
    pg_params_t p = {0};
    return dq_pg_page(t, "SELECT count(*) FROM glossary",
                      "SELECT " GLOSS_COLS " FROM glossary g ORDER BY g.key LIMIT $1 OFFSET $2",
                      &p, limit, offset, total, gloss_row, &w, err);
}

static int gloss_search(dq_store_txn_t *t, const char *q, int limit, dq_gloss_cb cb, void *ud,
                        dq_err_t *err)
{
    dq_search_plan_t plan = {0};
    dq_fts_phrases_t ph = {0};
    dq_buf_t tq = {0};
    PGresult *rows = NULL;
    dq_pg_ranked_t *sc = NULL;
    int rc = -1;
    if (dq_search_query_plan(t->search, q ? q : "", &plan, err) < 0) {
        if (err)
            err->code = DQ_EINVAL, err->http_status = 400;
        goto out;
    }
    dq_pg_tsquery(t->search, &plan, DQ_RELIC_MATCH_ALL, &tq);
    if (!tq.len) {
        rc = 0;
        goto out;
    }
    dq_fts_phrases(t->search, &plan, 0, &ph);
    pg_params_t p = {0};
    dq_pg_p_text(&p, tq.data);
    if (!(rows = dq_pg_exec(t, "SELECT " GLOSS_COLS " FROM glossary g WHERE g.terms @@ $1::tsquery",
                            &p, err)) ||
        dq_pg_bm25(t, &ph, "glossary", rows, 2, 7, -1, 0, &sc, err) < 0)
        goto out;
    for (int i = 0; i < PQntuples(rows) && i < limit; i++) {
        dq_gloss_row_t row;
        column_gloss(rows, sc[i].row, &row);
        if (cb(ud, &row))
            break;
    }
    rc = 0;
out:
    PQclear(rows);
    free(sc);
    dq_buf_free(&tq);
    dq_fts_phrases_free(&ph);
    dq_search_plan_free(&plan);
    return rc;
}

static int gloss_anno_examples(dq_store_txn_t *t, const char *q, int limit, dq_anno_cb cb, void *ud,
                               dq_err_t *err)
{
    return dq_pg_anno_ranked(t, NULL, q, 0, NULL, limit, cb, ud, err);
}

const dq_store_gloss_ops dq_pg_gloss_ops = {
    .insert = gloss_insert,
    .update = gloss_update,
    .remove = gloss_remove,
    .get = gloss_get,
    .list = gloss_list,
    .search = gloss_search,
    .anno_examples = gloss_anno_examples,
};
