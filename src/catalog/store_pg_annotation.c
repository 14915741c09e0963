/*
 * store_pg_annotation.c: annotations and tours in PostgreSQL (migration 5), the twin of
 * store_sqlite_annotation.c. One row per annotation (the region and motivation as columns,
 * the bodies as json, the searchable text in `fts` with its tsvector and token count) and
 * one per tour. Ids come from dq_counters (never reused, as AUTOINCREMENT's).
 *
 * Search answers what SQLite answers: the same matches (store_pg_text.c), ranked by FTS5's
 * bm25 computed here from the same inputs FTS5 uses (the row count and total tokens of all
 * annotations, each phrase's number of matching rows, each row's phrase hits and length), and
 * the same highlight. Row primitives only: validation, access rules and audit rows live in
 * annotation.c.
 */
#include "store_pg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char dq_pg_annotation_schema[] =
    "INSERT INTO dq_counters VALUES ('annotations', 0), ('tours', 0);"
    "CREATE TABLE annotations ("
    " id bigint PRIMARY KEY,"
    " relic text COLLATE \"C\" NOT NULL REFERENCES relics(id) ON DELETE CASCADE"
    "   ON UPDATE CASCADE,"
    " canvas integer NOT NULL CHECK (canvas >= 1),"
    " x integer NOT NULL CHECK (x >= 0), y integer NOT NULL CHECK (y >= 0),"
    " w integer NOT NULL CHECK (w >= 1), h integer NOT NULL CHECK (h >= 1),"
    " motivation text NOT NULL"
    "   CHECK (motivation IN ('commenting','describing','identifying','tagging')),"
    " bodies text NOT NULL CHECK ((bodies::json) IS NOT NULL),"
    " fts text NOT NULL,"
    " ntok integer NOT NULL,"
    " terms tsvector NOT NULL,"
    " creator text NOT NULL,"
    " version bigint NOT NULL CHECK (version >= 1),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE INDEX annotations_relic ON annotations(relic, canvas, id);"
    "CREATE INDEX annotations_terms ON annotations USING gin (terms);"
    "CREATE TABLE tours ("
    " id bigint PRIMARY KEY,"
    " relic text COLLATE \"C\" NOT NULL REFERENCES relics(id) ON DELETE CASCADE"
    "   ON UPDATE CASCADE,"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " author text NOT NULL,"
    " public integer NOT NULL CHECK (public IN (0, 1)),"
    " version bigint NOT NULL CHECK (version >= 1),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE INDEX tours_relic ON tours(relic, id);";

/* ---------------------------------------------------------------- helpers */

/* 1 when relic id exists; 0 with DQ_ENOTFOUND when not (what SQLite's foreign key says). */
static int relic_exists(dq_store_txn_t *t, const char *relic, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t one;
    dq_pg_p_text(&p, relic);
    int e = dq_pg_int(t, "SELECT 1 FROM relics WHERE id = $1", &p, &one, err);
    if (e < 0)
        return -1;
    if (e == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "the relic does not exist");
    return 0;
}

/* After an UPDATE/DELETE that matched nothing: 1 absent, -1 DQ_EEXIST (412) stale version. */
static int why_unchanged(dq_store_txn_t *t, const char *sql, int64_t id, const char *relic,
                         int64_t if_version, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t v = 0;
    dq_pg_p_int(&p, id);
    if (relic)
        dq_pg_p_text(&p, relic);
    int e = dq_pg_int(t, sql, &p, &v, err);
    if (e < 0)
        return -1;
    if (e == 1)
        return 1;
    return dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                      (long long)if_version, (long long)v);
}

/* ---------------------------------------------------------------- annotations */

#define ANNO_COLS                                                                                  \
    "a.id, a.relic, a.canvas, a.x, a.y, a.w, a.h, a.motivation, a.bodies, a.fts, a.creator,"       \
    " a.created_at, a.updated_at, a.version, a.ntok"

static void column_anno(PGresult *r, int i, dq_anno_row_t *a)
{
    memset(a, 0, sizeof(*a));
    a->id = dq_pg_col_int(r, i, 0);
    dq_pg_copy_col(a->relic_id, sizeof(a->relic_id), r, i, 1);
    a->canvas = (int)dq_pg_col_int(r, i, 2);
    a->x = (int)dq_pg_col_int(r, i, 3);
    a->y = (int)dq_pg_col_int(r, i, 4);
    a->w = (int)dq_pg_col_int(r, i, 5);
    a->h = (int)dq_pg_col_int(r, i, 6);
    dq_pg_copy_col(a->motivation, sizeof(a->motivation), r, i, 7);
    a->bodies = dq_pg_col(r, i, 8);
    a->fts = dq_pg_col(r, i, 9);
    dq_pg_copy_col(a->creator, sizeof(a->creator), r, i, 10);
    dq_pg_copy_col(a->created, sizeof(a->created), r, i, 11);
    dq_pg_copy_col(a->modified, sizeof(a->modified), r, i, 12);
    a->version = dq_pg_col_int(r, i, 13);
}

typedef struct {
    dq_anno_cb cb;
    void *ud;
    int n;
} anno_walk_t;

static int anno_row(void *ud, PGresult *r)
{
    anno_walk_t *w = ud;
    dq_anno_row_t a;
    column_anno(r, 0, &a);
    w->n++;
    return w->cb(w->ud, &a, NULL);
}

/* $1 relic .. $9 fts, $10 terms, $11 ntok */
static void bind_anno(dq_store_txn_t *t, pg_params_t *p, const dq_anno_row_t *row, dq_buf_t *tsv)
{
    int64_t ntok = 0;
    const char *f[1] = {row->fts};
    dq_pg_tsvector(t->search, f, 1, 1, tsv, &ntok);
    dq_pg_p_text(p, row->relic_id);
    dq_pg_p_int(p, row->canvas);
    dq_pg_p_int(p, row->x);
    dq_pg_p_int(p, row->y);
    dq_pg_p_int(p, row->w);
    dq_pg_p_int(p, row->h);
    dq_pg_p_text(p, row->motivation);
    dq_pg_p_text(p, row->bodies);
    dq_pg_p_text(p, row->fts);
    dq_pg_p_text(p, tsv->data ? tsv->data : "");
    dq_pg_p_int(p, ntok);
}

/* Reads back what the database decided (version, times, creator) from a RETURNING row. */
static void read_back(PGresult *r, dq_anno_row_t *row)
{
    row->id = dq_pg_col_int(r, 0, 0);
    row->version = dq_pg_col_int(r, 0, 1);
    dq_pg_copy_col(row->created, sizeof(row->created), r, 0, 2);
    dq_pg_copy_col(row->modified, sizeof(row->modified), r, 0, 3);
    dq_pg_copy_col(row->creator, sizeof(row->creator), r, 0, 4);
}

static int anno_insert(dq_store_txn_t *t, dq_anno_row_t *row, dq_err_t *err)
{
    dq_buf_t tsv = {0};
    pg_params_t p = {0};
    int rc = -1;
    if (relic_exists(t, row->relic_id, err) < 0)
        goto out;
    bind_anno(t, &p, row, &tsv);
    dq_pg_p_text(&p, row->creator);
    PGresult *r = dq_pg_exec(
        t,
        "WITH c AS (UPDATE dq_counters SET value = value + 1 WHERE name = 'annotations'"
        " RETURNING value) INSERT INTO annotations (id, relic, canvas, x, y, w, h, motivation,"
        " bodies, fts, terms, ntok, creator, version, created_at, updated_at)"
        " SELECT c.value, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::tsvector, $11, $12, "
        "1, " DQ_PG_NOW ", " DQ_PG_NOW
        " FROM c RETURNING id, version, created_at, updated_at, creator",
        &p, err);
    if (!r)
        goto out;
    read_back(r, row);
    PQclear(r);
    rc = 0;
out:
    dq_buf_free(&tsv);
    return rc;
}

static int anno_update(dq_store_txn_t *t, dq_anno_row_t *row, int64_t if_version, dq_err_t *err)
{
    dq_buf_t tsv = {0};
    pg_params_t p = {0};
    int rc = -1;
    bind_anno(t, &p, row, &tsv);
    dq_pg_p_int(&p, row->id);
    dq_pg_p_int(&p, if_version);
    PGresult *r = dq_pg_exec(t,
                             "UPDATE annotations SET canvas = $2, x = $3, y = $4, w = $5, h = $6,"
                             " motivation = $7, bodies = $8, fts = $9, terms = $10::tsvector,"
                             " ntok = $11, version = version + 1, updated_at = " DQ_PG_NOW
                             " WHERE relic = $1 AND id = $12 AND ($13 < 0 OR version = $13)"
                             " RETURNING id, version, created_at, updated_at, creator",
                             &p, err);
    if (!r)
        goto out;
    int n = PQntuples(r);
    if (n)
        read_back(r, row);
    PQclear(r);
    rc = n ? 0
           : why_unchanged(t, "SELECT version FROM annotations WHERE id = $1 AND relic = $2",
                           row->id, row->relic_id, if_version, err);
out:
    dq_buf_free(&tsv);
    return rc;
}

static int anno_remove(dq_store_txn_t *t, const char *relic_id, int64_t id, int64_t if_version,
                       dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, relic_id);
    dq_pg_p_int(&p, id);
    dq_pg_p_int(&p, if_version);
    if (dq_pg_run(t,
                  "DELETE FROM annotations WHERE relic = $1 AND id = $2"
                  " AND ($3 < 0 OR version = $3)",
                  &p, &n, err) < 0)
        return -1;
    if (n == 0)
        return why_unchanged(t, "SELECT version FROM annotations WHERE id = $1 AND relic = $2", id,
                             relic_id, if_version, err);
    return 0;
}

static int anno_get(dq_store_txn_t *t, const char *relic_id, int64_t id, dq_anno_cb cb, void *ud,
                    dq_err_t *err)
{
    pg_params_t p = {0};
    anno_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, relic_id);
    dq_pg_p_int(&p, id);
    if (dq_pg_walk(t, "SELECT " ANNO_COLS " FROM annotations a WHERE a.relic = $1 AND a.id = $2",
                   &p, anno_row, &w, err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int anno_list(dq_store_txn_t *t, const char *relic_id, int canvas, int64_t offset, int limit,
                     dq_anno_cb cb, void *ud, int64_t *total, dq_err_t *err)
{
    pg_params_t p = {0};
    anno_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, relic_id);
    dq_pg_p_int(&p, canvas);
    return dq_pg_page(
        t, "SELECT count(*) FROM annotations WHERE relic = $1 AND ($2 = 0 OR canvas = $2)",
        "SELECT " ANNO_COLS " FROM annotations a WHERE a.relic = $1"
        " AND ($2 = 0 OR a.canvas = $2) ORDER BY a.id LIMIT $3 OFFSET $4",
        &p, limit, offset, total, anno_row, &w, err);
}

/* ---- paging, shared with the glossary (store_pg_lesson.c): store_pg_internal.h */
int dq_pg_page(dq_store_txn_t *t, const char *count_sql, const char *page_sql, pg_params_t *p,
               int limit, int64_t offset, int64_t *total, dq_pg_row_cb cb, void *ud,
               dq_err_t *err)
{
    int64_t n = 0;
    if (dq_pg_int(t, count_sql, p, &n, err) < 0)
        return -1;
    if (total)
        *total = n;
    dq_pg_p_int(p, limit);
    dq_pg_p_int(p, offset);
    return dq_pg_walk(t, page_sql, p, cb, ud, err);
}

/* ---------------------------------------------------------------- search (FTS5's bm25) */

static int cmp_ranked(const void *a, const void *b)
{
    const dq_pg_ranked_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

int dq_pg_bm25(dq_store_txn_t *t, const dq_fts_phrases_t *ph, const char *table, PGresult *rows,
               int text_col, int ntok_col, int id_col, int key_col, dq_pg_ranked_t **out,
               dq_err_t *err)
{
    dq_buf_t sql = {0}, one = {0};
    double *idf = NULL, *freq = NULL;
    dq_fts_inst_t *inst = NULL;
    int n = PQntuples(rows), rc = -1;
    dq_pg_ranked_t *sc = dq_xcalloc((size_t)n + 1, sizeof(*sc));
    /* The corpus statistics bm25 uses (FTS5 fts5Bm25GetData): every row of the table. */
    dq_buf_printf(&sql, "SELECT count(*), coalesce(sum(ntok), 0) FROM %s", table);
    PGresult *st = dq_pg_exec(t, sql.data, NULL, err);
    if (!st)
        goto out;
    double n_row = (double)dq_pg_col_int(st, 0, 0), n_token = (double)dq_pg_col_int(st, 0, 1);
    PQclear(st);
    double avgdl = n_token / n_row;
    idf = dq_xcalloc(ph->n_phrases + 1, sizeof(double));
    freq = dq_xcalloc(ph->n_phrases + 1, sizeof(double));
    dq_buf_reset(&sql);
    dq_buf_printf(&sql, "SELECT count(*) FROM %s WHERE terms @@ $1::tsquery", table);
    for (size_t k = 0; k < ph->n_phrases; k++) {
        int64_t hits = 0;
        dq_buf_reset(&one);
        dq_pg_phrase_tsquery(ph, k, &one);
        if (one.len) {
            pg_params_t p = {0};
            dq_pg_p_text(&p, one.data);
            if (dq_pg_int(t, sql.data, &p, &hits, err) < 0)
                goto out;
        }
        double nh = (double)hits;
        double v = log((n_row - nh + 0.5) / (nh + 0.5));
        idf[k] = v <= 0.0 ? 1e-6 : v;
    }
    size_t cap = 0;
    for (int i = 0; i < n; i++) {
        size_t n_inst = 0;
        dq_fts_field_hits(t->search, ph, dq_pg_col(rows, i, text_col), 0, &inst, &n_inst, &cap);
        memset(freq, 0, (ph->n_phrases + 1) * sizeof(double));
        for (size_t j = 0; j < n_inst; j++)
            freq[inst[j].phrase] += 1.0;
        /* fts5Bm25Function, k1 1.2, b 0.75, in its order of operations */
        const double k1 = 1.2, b = 0.75;
        double d = (double)dq_pg_col_int(rows, i, ntok_col), score = 0.0;
        for (size_t k = 0; k < ph->n_phrases; k++)
            score += idf[k] * (freq[k] * (k1 + 1.0)) / (freq[k] + k1 * (1 - b + b * d / avgdl));
        sc[i] =
            (dq_pg_ranked_t){id_col >= 0 ? dq_pg_col_int(rows, i, id_col) : 0,
                             key_col >= 0 ? dq_pg_col(rows, i, key_col) : NULL, -1.0 * score, i};
    }
    qsort(sc, (size_t)n, sizeof(*sc), cmp_ranked);
    *out = sc;
    sc = NULL;
    rc = 0;
out:
    free(sc);
    free(idf);
    free(freq);
    free(inst);
    dq_buf_free(&sql);
    dq_buf_free(&one);
    return rc;
}

/* Annotations matching q (all relics when relic_id is NULL), best first, at most limit. */
int dq_pg_anno_ranked(dq_store_txn_t *t, const char *relic_id, const char *q, unsigned motivations,
                      const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err)
{
    dq_search_plan_t plan = {0};
    dq_fts_phrases_t ph = {0};
    dq_buf_t tq = {0}, hl = {0};
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
    dq_pg_p_text(&p, relic_id);
    dq_pg_p_int(&p, (int64_t)motivations);
    dq_pg_p_text(&p, creator);
    if (!(rows = dq_pg_exec(t,
                            "SELECT " ANNO_COLS " FROM annotations a WHERE a.terms @@ $1::tsquery"
                            " AND ($2::text IS NULL OR a.relic = $2) AND ($3 = 0 OR"
                            " ($3 >> (CASE a.motivation WHEN 'commenting' THEN 0"
                            " WHEN 'describing' THEN 1 WHEN 'identifying' THEN 2 ELSE 3 END))"
                            " & 1 = 1) AND ($4::text IS NULL OR a.creator = $4)",
                            &p, err)))
        goto out;
    if (dq_pg_bm25(t, &ph, "annotations", rows, 9, 14, 0, -1, &sc, err) < 0)
        goto out;
    for (int i = 0; i < PQntuples(rows) && i < limit; i++) {
        dq_anno_row_t a;
        column_anno(rows, sc[i].row, &a);
        dq_buf_reset(&hl);
        dq_fts_highlight(t->search, &ph, a.fts, &hl);
        if (cb(ud, &a, hl.data ? hl.data : ""))
            break;
    }
    rc = 0;
out:
    PQclear(rows);
    free(sc);
    dq_buf_free(&tq);
    dq_buf_free(&hl);
    dq_fts_phrases_free(&ph);
    dq_search_plan_free(&plan);
    return rc;
}

static int anno_search(dq_store_txn_t *t, const char *relic_id, const char *q, unsigned motivations,
                       const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err)
{
    return dq_pg_anno_ranked(t, relic_id, q, motivations, creator, limit, cb, ud, err);
}

const dq_store_anno_ops dq_pg_anno_ops = {
    .insert = anno_insert,
    .update = anno_update,
    .remove = anno_remove,
    .get = anno_get,
    .list = anno_list,
    .search = anno_search,
};

/* ---------------------------------------------------------------- tours */

#define TOUR_COLS "id, relic, doc, author, public, created_at, updated_at, version"

typedef struct {
    dq_tour_cb cb;
    void *ud;
    int n;
} tour_walk_t;

static int tour_row(void *ud, PGresult *r)
{
    tour_walk_t *w = ud;
    dq_tour_row_t row = {0};
    row.id = dq_pg_col_int(r, 0, 0);
    dq_pg_copy_col(row.relic_id, sizeof(row.relic_id), r, 0, 1);
    row.doc = dq_pg_col(r, 0, 2);
    dq_pg_copy_col(row.author, sizeof(row.author), r, 0, 3);
    row.is_public = (int)dq_pg_col_int(r, 0, 4);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 5);
    dq_pg_copy_col(row.modified, sizeof(row.modified), r, 0, 6);
    row.version = dq_pg_col_int(r, 0, 7);
    w->n++;
    return w->cb(w->ud, &row);
}

static void tour_back(PGresult *r, dq_tour_row_t *row)
{
    row->id = dq_pg_col_int(r, 0, 0);
    row->version = dq_pg_col_int(r, 0, 1);
    dq_pg_copy_col(row->created, sizeof(row->created), r, 0, 2);
    dq_pg_copy_col(row->modified, sizeof(row->modified), r, 0, 3);
    dq_pg_copy_col(row->author, sizeof(row->author), r, 0, 4);
    dq_pg_copy_col(row->relic_id, sizeof(row->relic_id), r, 0, 5);
}

static int tour_insert(dq_store_txn_t *t, dq_tour_row_t *row, dq_err_t *err)
{
    if (relic_exists(t, row->relic_id, err) < 0)
        return -1;
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->relic_id);
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_text(&p, row->author);
    dq_pg_p_int(&p, row->is_public ? 1 : 0);
    PGresult *r = dq_pg_exec(
        t,
        "WITH c AS (UPDATE dq_counters SET value = value + 1 WHERE name = 'tours'"
        " RETURNING value) INSERT INTO tours (id, relic, doc, author, public, version, created_at,"
        " updated_at) SELECT c.value, $1, $2, $3, $4, 1, " DQ_PG_NOW ", " DQ_PG_NOW
        " FROM c RETURNING id, version, created_at, updated_at, author, relic",
        &p, err);
    if (!r)
        return -1;
    tour_back(r, row);
    PQclear(r);
    return 0;
}

static int tour_update(dq_store_txn_t *t, dq_tour_row_t *row, int64_t if_version, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_int(&p, row->id);
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_int(&p, row->is_public ? 1 : 0);
    dq_pg_p_int(&p, if_version);
    PGresult *r =
        dq_pg_exec(t,
                   "UPDATE tours SET doc = $2, public = $3, version = version + 1,"
                   " updated_at = " DQ_PG_NOW " WHERE id = $1 AND ($4 < 0 OR version = $4)"
                   " RETURNING id, version, created_at, updated_at, author, relic",
                   &p, err);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n)
        tour_back(r, row);
    PQclear(r);
    return n ? 0
             : why_unchanged(t, "SELECT version FROM tours WHERE id = $1", row->id, NULL,
                             if_version, err);
}

static int tour_remove(dq_store_txn_t *t, int64_t id, int64_t if_version, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_int(&p, id);
    dq_pg_p_int(&p, if_version);
    if (dq_pg_run(t, "DELETE FROM tours WHERE id = $1 AND ($2 < 0 OR version = $2)", &p, &n, err) <
        0)
        return -1;
    if (n == 0)
        return why_unchanged(t, "SELECT version FROM tours WHERE id = $1", id, NULL, if_version,
                             err);
    return 0;
}

static int tour_get(dq_store_txn_t *t, int64_t id, dq_tour_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    tour_walk_t w = {cb, ud, 0};
    dq_pg_p_int(&p, id);
    if (dq_pg_walk(t, "SELECT " TOUR_COLS " FROM tours WHERE id = $1", &p, tour_row, &w, err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int tour_list(dq_store_txn_t *t, const char *relic_id, dq_tour_cb cb, void *ud,
                     dq_err_t *err)
{
    pg_params_t p = {0};
    tour_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, relic_id);
    return dq_pg_walk(t, "SELECT " TOUR_COLS " FROM tours WHERE relic = $1 ORDER BY id", &p,
                      tour_row, &w, err);
}

const dq_store_tour_ops dq_pg_tour_ops = {
    .insert = tour_insert,
    .update = tour_update,
    .remove = tour_remove,
    .get = tour_get,
    .list = tour_list,
};
