/*
 * store_pg_relic.c: relic records in PostgreSQL, the twin of store_sqlite_relic.c. One row per
 * relic in `relics` (the canonical document as text plus the columns search filters and sorts
 * on), the many-valued facets in `relic_subjects` and `relic_creators`, the ordered image links
 * in `relic_images`, the dictionary names in `relic_names`, and `relic_fts`: the tsvector of
 * the four search fields (store_pg_text.c) under a GIN index. The fields themselves are not
 * stored (migration 30): snippets make them again from the document.
 *
 * A new relic is written by one statement (data-modifying CTEs: the counter, the row, its
 * children, its index entry), so an import pays one round trip per record. Duplicate ids and
 * accessions are checked inside that statement rather than left to the unique indexes:
 * PostgreSQL aborts the whole transaction on a failed statement, while an import must skip
 * a bad row and keep the batch (SQLite undoes just the statement). Writers are serialized
 * (store_pg.c), so the check cannot race.
 *
 * Row primitives only (dq_store_relic_ops): validation, ranking, facets and JSON live in
 * relic_doc.c and relic_search.c; full-text matching is store_pg_relic_search.c.
 */
#include "store_pg_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- schema (migrations 3, 6) */

const char dq_pg_relic_schema[] =
    /* AUTOINCREMENT's sqlite_sequence: ids that are never reused, rolled back with their
     * transaction */
    "CREATE TABLE dq_counters (name text PRIMARY KEY, value bigint NOT NULL);"
    "INSERT INTO dq_counters VALUES ('relics', 0);"
    "CREATE TABLE relics ("
    " seq bigint PRIMARY KEY,"
    " id text COLLATE \"C\" NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 63),"
    " accession text COLLATE \"C\" NOT NULL UNIQUE CHECK (length(accession) >= 1),"
    " version bigint NOT NULL CHECK (version >= 1),"
    " doc text NOT NULL,"
    " dynasty text COLLATE \"C\", object_type text COLLATE \"C\", medium text COLLATE \"C\","
    " year_from integer, year_to integer,"
    " sort_year integer NOT NULL, sort_year_desc integer NOT NULL,"
    " restricted integer NOT NULL CHECK (restricted IN (0, 1)),"
    " has_images integer NOT NULL CHECK (has_images IN (0, 1)),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE INDEX relics_dynasty ON relics(dynasty);"
    "CREATE INDEX relics_type ON relics(object_type);"
    "CREATE INDEX relics_medium ON relics(medium);"
    "CREATE INDEX relics_years ON relics(year_from, year_to);"
    "CREATE INDEX relics_date ON relics(sort_year, seq);"
    "CREATE INDEX relics_date_desc ON relics(sort_year_desc, seq);"
    "CREATE TABLE relic_subjects ("
    " subject text COLLATE \"C\" NOT NULL,"
    " relic bigint NOT NULL REFERENCES relics(seq) ON DELETE CASCADE,"
    " PRIMARY KEY (subject, relic));"
    "CREATE INDEX relic_subjects_relic ON relic_subjects(relic, subject);"
    "CREATE TABLE relic_creators ("
    " relic bigint NOT NULL REFERENCES relics(seq) ON DELETE CASCADE,"
    " pos integer NOT NULL, name text COLLATE \"C\" NOT NULL, name_en text COLLATE \"C\" NOT NULL,"
    " PRIMARY KEY (relic, pos));"
    "CREATE INDEX relic_creators_name ON relic_creators(name, relic);"
    "CREATE INDEX relic_creators_name_en ON relic_creators(name_en, relic);"
    "CREATE TABLE relic_images ("
    " relic bigint NOT NULL REFERENCES relics(seq) ON DELETE CASCADE,"
    " pos integer NOT NULL, image_id text COLLATE \"C\" NOT NULL, role text NOT NULL,"
    " PRIMARY KEY (relic, pos));"
    "CREATE INDEX relic_images_image ON relic_images(image_id);"
    "CREATE TABLE relic_fts ("
    " seq bigint PRIMARY KEY REFERENCES relics(seq) ON DELETE CASCADE,"
    " title text, creators text, body text, description text,"
    " fts tsvector NOT NULL);"
    "CREATE INDEX relic_fts_terms ON relic_fts USING gin (fts);";

/* Migration 18 (issue 15), two changes for searches at 500,000 relics:
 *  - the title and creators lexemes of each relic on their own (fts_ab), for the title tier
 *    of relevance (relic_search.c): a weight-restricted query ('x':AB) on fts is answered by
 *    its GIN index only as a candidate set that every row's whole tsvector must then confirm,
 *    about a third of the collection for a broad query. ts_filter keeps the positions, so
 *    phrases match as they do in fts. Generated: every writer fills it alike.
 *  - a narrow heap: the GIN index gives row addresses, so every match costs a visit to its
 *    heap row for the seq; with the texts and tsvectors inline (about 1 KB a row) a query
 *    matching 150,000 relics read 59,000 pages (488 MB). toast_tuple_target = 128 moves them
 *    out of line (63 MB, 8,000 pages: 8 s -> 0.5 s on the loaded 2-core machine); phrase
 *    rechecks and snippets read them from TOAST. The ADD COLUMN rewrites the table, which
 *    applies the target to the rows already there. */
const char dq_pg_relic_title_schema[] =
    "ALTER TABLE relic_fts SET (toast_tuple_target = 128);"
    "ALTER TABLE relic_fts ADD COLUMN fts_ab tsvector"
    " GENERATED ALWAYS AS (ts_filter(fts, '{a,b}')) STORED;"
    "CREATE INDEX relic_fts_ab ON relic_fts USING gin (fts_ab);";

/* Migration 23 (issue 15): the search table's texts and tsvectors (kept out of line since
 * migration 18) and the documents compressed with lz4 instead of pglz, whose compression
 * was a tenth of the server's CPU in a bulk import (issue 15 profile at 50,000 relics:
 * relic_fts's COPY 7.7 -> 6.3 s of CPU). Only rows written from now on use it: existing
 * values stay pglz, readable as ever, and the change itself is catalog metadata only
 * (milliseconds on any size). A server built without lz4 keeps pglz. */
const char dq_pg_relic_lz4_schema[] =
    "DO $$ BEGIN"
    " ALTER TABLE relic_fts ALTER COLUMN title SET COMPRESSION lz4,"
    "  ALTER COLUMN creators SET COMPRESSION lz4, ALTER COLUMN body SET COMPRESSION lz4,"
    "  ALTER COLUMN description SET COMPRESSION lz4, ALTER COLUMN fts SET COMPRESSION lz4,"
    "  ALTER COLUMN fts_ab SET COMPRESSION lz4;"
    " ALTER TABLE relics ALTER COLUMN doc SET COMPRESSION lz4;"
    " EXCEPTION WHEN feature_not_supported THEN NULL;"
    " END $$;";

/* Migration 28 (issue 15, bulk import): autovacuum analyzes relic_fts when it has grown by
 * half instead of by a tenth. Each analyze samples 30,000 rows and counts the lexemes of both
 * tsvectors (read back from TOAST): during a first load of 500,000 relics the default ran it
 * ~30 times from 30,000 rows on (~900,000 rows sampled, 7-9 % of the server's CPU in a profile
 * of the import), half of one over 0.5 ~7 times. The statistics (most common lexemes, the
 * planner's selectivities, store_pg_postings.c's frequent lexemes) are fractions, which a
 * sample of two thirds of a collection already gives; row counts follow the table's size
 * without an analyze. A catalog metadata change (milliseconds; no lock that readers or
 * writers wait on). */
const char dq_pg_relic_analyze_schema[] =
    "ALTER TABLE relic_fts SET (autovacuum_analyze_scale_factor = 0.5);";

/* Migration 30 (issue 15, bulk import): relic_fts without its four texts (title, creators,
 * body, description). They were there for snippets and migration 25's rebuild only, and with
 * toast_tuple_target = 128 each was a TOAST value of its own: per relic four TOAST tuples,
 * four TOAST index entries, four new TOAST OIDs (each looked up in that index) and their WAL,
 * on the import's search backend, about a fifth of its CPU with the two tsvectors' values
 * (bench/results/issue15-pg.md, "Session 25, import"). Snippets make the fields from
 * relics.doc for the rows of a page instead, as the writer made them (dq_relic_fts_fields),
 * so they are byte for byte the same. Dropping a column is catalog metadata only
 * (milliseconds, any size): the old values stay on disk, unread, until rows are rewritten
 * (VACUUM FULL relic_fts gives their space back at once). */
const char dq_pg_relic_texts_schema[] =
    "ALTER TABLE relic_fts DROP COLUMN title, DROP COLUMN creators, DROP COLUMN body,"
    " DROP COLUMN description;";

const char dq_pg_relic_names_schema[] =
    "CREATE TABLE relic_names (name text COLLATE \"C\" PRIMARY KEY);"
    "INSERT INTO relic_names SELECT name FROM relic_creators"
    " UNION SELECT name_en FROM relic_creators"
    " UNION SELECT doc::json->'title'->>'zh' FROM relics"
    "   WHERE json_typeof(doc::json->'title'->'zh') = 'string'"
    " ON CONFLICT DO NOTHING;";

/* ---------------------------------------------------------------- helpers */

/* Appends a PostgreSQL array literal of v[0..n) (NULL elements as NULL). */
static void put_array(dq_buf_t *b, const char *const *v, int n)
{
    size_t start = b->len;
    for (int k = 0; k < n; k++)
        dq_pg_array_add(b, v[k]);
    dq_buf_puts(b, b->len == start ? "{}" : "}");
}

static int add_name(void *ud, const char *name)
{
    dq_err_t e = {0};
    dq_search_dict_add(ud, name, &e); /* refused names are just not boosted */
    return 0;
}

static int names_row(void *ud, PGresult *r)
{
    void **a = ud;
    int (*cb)(void *, const char *) = (int (*)(void *, const char *))a[0];
    const char *n = dq_pg_col(r, 0, 0);
    return n ? cb(a[1], n) : 0;
}

static int names_walk(dq_store_txn_t *t, int (*cb)(void *ud, const char *name), void *ud,
                      dq_err_t *err)
{
    void *a[2] = {(void *)cb, ud};
    return dq_pg_walk(t, "SELECT name FROM relic_names", NULL, names_row, a, err);
}

int dq_pg_relic_open(dq_store_txn_t *t, dq_err_t *err)
{
    return names_walk(t, add_name, t->search, err);
}

static struct dq_search *relic_search_handle(void *impl)
{
    return ((pg_store_t *)impl)->search;
}

/* ---------------------------------------------------------------- load */

static int relic_load(dq_store_txn_t *t, const char *id, const char *accession,
                      dq_relic_stored_t *out, dq_err_t *err)
{
    for (size_t i = 0; id && i < t->n_pre; i++) {
        const dq_pg_prefetch_t *e = &t->pre[i];
        if (strcmp(t->pre_text.data + e->id, id) != 0)
            continue;
        snprintf(out->id, sizeof(out->id), "%s", id);
        out->version = e->version;
        snprintf(out->created_at, sizeof(out->created_at), "%s", e->created);
        snprintf(out->updated_at, sizeof(out->updated_at), "%s", e->updated);
        dq_buf_reset(&t->doc);
        dq_buf_append(&t->doc, t->pre_text.data + e->doc, e->doc_len);
        out->doc = t->doc.data;
        out->doc_len = t->doc.len;
        return 0;
    }
    pg_params_t p = {0};
    dq_pg_p_text(&p, id ? id : accession);
    PGresult *r = dq_pg_exec(t,
                             id ? "SELECT id, version, created_at, updated_at, doc FROM relics"
                                  " WHERE id = $1"
                                : "SELECT id, version, created_at, updated_at, doc FROM relics"
                                  " WHERE accession = $1",
                             &p, err);
    if (!r)
        return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (rc == 0) {
        dq_pg_copy_col(out->id, sizeof(out->id), r, 0, 0);
        out->version = dq_pg_col_int(r, 0, 1);
        dq_pg_copy_col(out->created_at, sizeof(out->created_at), r, 0, 2);
        dq_pg_copy_col(out->updated_at, sizeof(out->updated_at), r, 0, 3);
        dq_buf_reset(&t->doc);
        dq_buf_append(&t->doc, PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4));
        out->doc = t->doc.data;
        out->doc_len = t->doc.len;
    }
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- save */

/* The values of row that both the insert and the update statements take, from $first on:
 * the relic columns, then the children as arrays, then the search fields and tsvector. */
typedef struct {
    dq_buf_t subj, cre, cre_en, img, role, names, tsv;
    char restricted[4], has_images[4];
} save_vals_t;

static void vals_free(save_vals_t *v)
{
    dq_buf_free(&v->subj);
    dq_buf_free(&v->cre);
    dq_buf_free(&v->cre_en);
    dq_buf_free(&v->img);
    dq_buf_free(&v->role);
    dq_buf_free(&v->names);
    dq_buf_free(&v->tsv);
}

/* $1 id, $2 accession, $3 version, $4 doc, $5 dynasty, $6 object_type, $7 medium,
 * $8 year_from, $9 year_to, $10 sort_year, $11 sort_year_desc, $12 restricted, $13 has_images */
static void bind_row(pg_params_t *p, const dq_relic_row_t *r)
{
    dq_pg_p_text(p, r->id);
    dq_pg_p_text(p, r->accession);
    dq_pg_p_int(p, r->version);
    dq_pg_p_textn(p, r->doc, r->doc_len);
    dq_pg_p_text(p, r->dynasty);
    dq_pg_p_text(p, r->object_type);
    dq_pg_p_text(p, r->medium_key);
    if (r->has_year) {
        dq_pg_p_int(p, r->year_from);
        dq_pg_p_int(p, r->year_to);
    } else {
        dq_pg_p_text(p, NULL);
        dq_pg_p_text(p, NULL);
    }
    dq_pg_p_int(p, r->has_year ? r->year_from : 1000000);
    dq_pg_p_int(p, r->has_year ? r->year_to : -1000000);
    dq_pg_p_int(p, r->restricted ? 1 : 0);
    dq_pg_p_int(p, r->n_links > 0);
}

/* The children's parameters, appended to p from its current number on (6 values: subjects,
 * creators, creators_en, image ids, roles, names); the tsvector of the search fields into
 * v->tsv. */
static void bind_children(const dq_search_t *s, pg_params_t *p, const dq_relic_row_t *r,
                          save_vals_t *v)
{
    const char **img = dq_xcalloc((size_t)r->n_links + 1, sizeof(char *));
    const char **role = dq_xcalloc((size_t)r->n_links + 1, sizeof(char *));
    const char **names = dq_xcalloc((size_t)r->n_creators * 2 + 1, sizeof(char *));
    for (int i = 0; i < r->n_links; i++) {
        img[i] = r->links[i].image_id;
        role[i] = r->links[i].role ? r->links[i].role : "";
    }
    for (int i = 0; i < r->n_creators; i++) {
        names[2 * i] = r->creators[i];
        names[2 * i + 1] = r->creators_en[i];
    }
    put_array(&v->subj, r->subjects, r->n_subjects);
    put_array(&v->cre, r->creators, r->n_creators);
    put_array(&v->cre_en, r->creators_en, r->n_creators);
    put_array(&v->img, img, r->n_links);
    put_array(&v->role, role, r->n_links);
    put_array(&v->names, names, r->n_creators * 2);
    const char *fields[4] = {r->fts_title, r->fts_creators, r->fts_body, r->fts_description};
    dq_pg_tsvector(s, fields, 4, DQ_PG_RELIC_TSV, &v->tsv, NULL);
    dq_pg_p_text(p, v->subj.data);
    dq_pg_p_text(p, v->cre.data);
    dq_pg_p_text(p, v->cre_en.data);
    dq_pg_p_text(p, v->img.data);
    dq_pg_p_text(p, v->role.data);
    dq_pg_p_text(p, v->names.data);
    free(img);
    free(role);
    free(names);
}

/* The children of relic `r` (a CTE or table with column seq), parameters from $C on: $C
 * subjects, $C+1 creators, $C+2 creators_en, $C+3 image ids, $C+4 roles, $C+5 names; $4 is
 * the document (the zh title is a dictionary name). The search row is written apart
 * (fts_write), on the connection dq_pg_fts_half names. */
#define CHILDREN_SQL(C0, C1, C2, C3, C4, C5)                                                       \
    "s AS (INSERT INTO relic_subjects (subject, relic) SELECT DISTINCT u, r.seq FROM r,"           \
    " unnest($" C0 "::text[]) u WHERE u IS NOT NULL ON CONFLICT DO NOTHING),"                      \
    " cr AS (INSERT INTO relic_creators (relic, pos, name, name_en) SELECT r.seq, o.i - 1, o.n,"   \
    " o.e FROM r, unnest($" C1 "::text[], $" C2 "::text[]) WITH ORDINALITY AS o(n, e, i)),"        \
    " im AS (INSERT INTO relic_images (relic, pos, image_id, role) SELECT r.seq, o.i - 1, o.m,"    \
    " o.l FROM r, unnest($" C3 "::text[], $" C4 "::text[]) WITH ORDINALITY AS o(m, l, i)),"        \
    " nm AS (INSERT INTO relic_names (name) SELECT DISTINCT x FROM r, unnest($" C5 "::text[]"      \
    " || ARRAY[CASE WHEN json_typeof($4::json->'title'->'zh') = 'string'"                          \
    " THEN $4::json->'title'->>'zh' END]) x WHERE x IS NOT NULL ON CONFLICT DO NOTHING)"

static const char insert_sql[] =
    "WITH ok AS (SELECT NOT EXISTS (SELECT 1 FROM relics WHERE id = $1 OR accession = $2) AS ok),"
    " c AS (UPDATE dq_counters SET value = value + 1 WHERE name = 'relics'"
    "  AND (SELECT ok FROM ok) RETURNING value),"
    " r AS (INSERT INTO relics (seq, id, accession, version, doc, dynasty, object_type, medium,"
    "  year_from, year_to, sort_year, sort_year_desc, restricted, has_images, created_at,"
    "  updated_at) SELECT c.value, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
    "  coalesce($14, " DQ_PG_NOW "), " DQ_PG_NOW " FROM c RETURNING seq),"
    " " CHILDREN_SQL("15", "16", "17", "18", "19", "20") " SELECT seq FROM r";

/* The update's second statement: the children again, for relic $1 (by id), with the document
 * at $4 ($2 subjects, $3 creators, $5.. the rest). */
static const char children_sql[] = "WITH r AS (SELECT seq FROM relics WHERE id = $1),"
                                   " " CHILDREN_SQL("2", "3", "5", "6", "7", "8") " SELECT seq FROM r";

/* Relic seq's search row: the old one deleted (del), the new one of r written, on the
 * connection that writes relic_fts in this transaction (that wrote this row, if it did). */
static int fts_write(dq_store_txn_t *t, int64_t seq, int del, const dq_relic_row_t *r,
                     const save_vals_t *v, dq_err_t *err)
{
    dq_store_txn_t *ft = dq_pg_fts_half_of(t, seq, err);
    if (!ft)
        return -1;
    pg_params_t p = {0};
    dq_pg_p_int(&p, seq);
    if (del && dq_pg_run(ft, "DELETE FROM relic_fts WHERE seq = $1", &p, NULL, err) < 0)
        return -1;
    if (!r)
        return 0;
    dq_pg_p_text(&p, v->tsv.data ? v->tsv.data : "");
    return dq_pg_run(ft, "INSERT INTO relic_fts (seq, fts) VALUES ($1, $2::tsvector)", &p, NULL,
                     err);
}

static int conflict(dq_store_txn_t *t, const dq_relic_row_t *r, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, r->id);
    dq_pg_p_text(&p, r->accession);
    PGresult *res = dq_pg_exec(t,
                               "SELECT EXISTS (SELECT 1 FROM relics WHERE id = $1),"
                               " EXISTS (SELECT 1 FROM relics WHERE accession = $2 AND id <> $1)",
                               &p, err);
    if (!res)
        return -1;
    int id_taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    int acc_taken = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    if (r->version == 1 && id_taken)
        return dq_err_set(err, DQ_EEXIST, 409, "a relic with this id exists");
    if (acc_taken)
        return dq_err_set(err, DQ_EEXIST, 409, "a relic with this accession exists");
    if (r->version != 1 && !id_taken)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", r->id);
    return 0;
}

static int relic_save(dq_store_txn_t *t, const dq_relic_row_t *r, dq_err_t *err)
{
    save_vals_t v = {0};
    pg_params_t p = {0};
    int64_t seq = 0;
    int rc = -1;
    if (r->version == 1) {
        bind_row(&p, r);
        dq_pg_p_text(&p, r->created_at);
        bind_children(t->search, &p, r, &v);
        int e = dq_pg_int(t, insert_sql, &p, &seq, err);
        if (e < 0)
            goto half_written;
        if (e == 1) { /* a duplicate: nothing was written; say which */
            rc = conflict(t, r, err);
            if (rc == 0)
                rc = dq_err_set(err, DQ_EEXIST, 409, "a relic with this id exists");
            goto out;
        }
        if (t->next_relic_seq)
            t->next_relic_seq++; /* the counter moved on (relic_new_id's copy) */
        if (fts_write(t, seq, 0, r, &v, err) < 0)
            goto half_written;
        rc = 0;
        goto out;
    }
    if (conflict(t, r, err) < 0)
        goto out;
    bind_row(&p, r);
    if (dq_pg_int(t,
                  "WITH u AS (UPDATE relics SET accession = $2, version = $3, doc = $4,"
                  " dynasty = $5, object_type = $6, medium = $7, year_from = $8, year_to = $9,"
                  " sort_year = $10, sort_year_desc = $11, restricted = $12, has_images = $13,"
                  " updated_at = " DQ_PG_NOW " WHERE id = $1 RETURNING seq),"
                  " d1 AS (DELETE FROM relic_subjects WHERE relic IN (SELECT seq FROM u)),"
                  " d2 AS (DELETE FROM relic_creators WHERE relic IN (SELECT seq FROM u)),"
                  " d3 AS (DELETE FROM relic_images WHERE relic IN (SELECT seq FROM u))"
                  " SELECT seq FROM u",
                  &p, &seq, err) < 0)
        goto out;
    /* children_sql: $1 id, $2 subjects, $3 creators, $4 the document, $5.. the rest */
    pg_params_t c = {0}, q = {0};
    bind_children(t->search, &c, r, &v);
    dq_pg_p_text(&q, r->id);
    dq_pg_p_text(&q, c.v[0]);
    dq_pg_p_text(&q, c.v[1]);
    dq_pg_p_textn(&q, r->doc, r->doc_len);
    for (int i = 2; i < c.n; i++)
        dq_pg_p_text(&q, c.v[i]);
    if (dq_pg_run(t, children_sql, &q, NULL, err) < 0 || fts_write(t, seq, 1, r, &v, err) < 0)
        goto half_written;
    rc = 0;
    goto out;
half_written:
    if (err && err->code != DQ_EBUSY) {
        err->code = DQ_EINTERNAL;
        err->http_status = 500;
    }
out:
    vals_free(&v);
    return rc;
}

/* ---------------------------------------------------------------- remove, ids, images */

static int relic_remove(dq_store_txn_t *t, const char *id, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, id);
    /* Its children go in the same statement and its search row right after (they have no
     * foreign key since migration 26: store_pg_kinds.c says why); annotations, tours and
     * captures by their ON DELETE CASCADE. */
    int e = dq_pg_int(t,
                      "WITH r AS (DELETE FROM relics WHERE id = $1 RETURNING seq),"
                      " s AS (DELETE FROM relic_subjects WHERE relic IN (SELECT seq FROM r)),"
                      " c AS (DELETE FROM relic_creators WHERE relic IN (SELECT seq FROM r)),"
                      " i AS (DELETE FROM relic_images WHERE relic IN (SELECT seq FROM r))"
                      " SELECT seq FROM r",
                      &p, &n, err);
    if (e != 0)
        return e;
    /* its search row, where relic_fts is written, and with it the seq it had (migration 31:
     * the posting bitmaps forget it by that, store_pg_postings.c) */
    dq_store_txn_t *ft = dq_pg_fts_half_of(t, n, err);
    if (!ft)
        return -1;
    pg_params_t q = {0};
    dq_pg_p_int(&q, n);
    dq_pg_p_text(&q, id);
    return dq_pg_run(ft,
                     "WITH d AS (DELETE FROM relic_fts WHERE seq = $1)"
                     " INSERT INTO relic_gone (id, seq) VALUES ($2, $1)",
                     &q, NULL, err);
}

static int relic_new_id(dq_store_txn_t *t, char id[32], dq_err_t *err)
{
    /* The counter is read once per transaction: writers are serialized, and relic_save
     * advances the copy with each insert (an import asks for thousands of ids). */
    if (!t->next_relic_seq) {
        PGresult *r = dq_pg_exec(t,
                                 "SELECT value + 1, to_char(statement_timestamp() AT TIME ZONE"
                                 " 'UTC', 'YYYY') FROM dq_counters WHERE name = 'relics'",
                                 NULL, err);
        if (!r)
            return -1;
        t->next_relic_seq = dq_pg_col_int(r, 0, 0);
        t->relic_year = (int)dq_pg_col_int(r, 0, 1);
        PQclear(r);
    }
    int64_t next = t->next_relic_seq;
    int year = t->relic_year;
    for (;; next++) {
        snprintf(id, 32, "dq-%d-%04lld", year, (long long)next);
        pg_params_t p = {0};
        int64_t one;
        dq_pg_p_text(&p, id);
        int e = dq_pg_int(t, "SELECT 1 FROM relics WHERE id = $1", &p, &one, err);
        if (e < 0)
            return -1;
        if (e == 1)
            return 0;
    }
}

static int relic_image_exists(dq_store_txn_t *t, const char *image_id, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t one;
    dq_pg_p_text(&p, image_id);
    int e = dq_pg_int(t, "SELECT 1 FROM images WHERE id = $1", &p, &one, err);
    return e < 0 ? -1 : e == 0;
}

/* ---------------------------------------------------------------- reads */

static int relic_counts(void *impl, int show_restricted, int64_t *relics, dq_err_t *err)
{
    dq_store_txn_t *t;
    if (dq_store_pg.begin(impl, 0, &t, err) < 0)
        return -1;
    int rc = dq_pg_int(t,
                       show_restricted ? "SELECT count(*) FROM relics"
                                       : "SELECT count(*) FROM relics WHERE restricted = 0",
                       NULL, relics, err) < 0
                 ? -1
                 : 0;
    dq_store_pg.rollback(t);
    return rc;
}

static int relic_names(void *impl, int (*cb)(void *ud, const char *name), void *ud, dq_err_t *err)
{
    dq_store_txn_t *t;
    if (dq_store_pg.begin(impl, 0, &t, err) < 0)
        return -1;
    int rc = names_walk(t, cb, ud, err);
    dq_store_pg.rollback(t);
    return rc;
}

/* GIN's fast update parks new entries in each index's pending list, which every search then
 * reads in full; the writer that overflows gin_pending_list_limit (4 MB) folds it in. After an
 * import up to a full list per index is left unfolded until autovacuum comes, and the searches
 * of that time pay for it: fold it now (a read transaction may: the function writes only the
 * index's pages, which no transaction's end undoes). */
static int relic_settle(void *impl, int64_t *pages, dq_err_t *err)
{
    dq_store_txn_t *t;
    *pages = 0;
    if (dq_store_pg.begin(impl, 0, &t, err) < 0)
        return -1;
    int rc = dq_pg_int(t,
                       "SELECT coalesce(sum(gin_clean_pending_list(i.indexrelid)), 0)"
                       " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                       " JOIN pg_am a ON a.oid = c.relam"
                       " WHERE i.indrelid = 'relic_fts'::regclass AND a.amname = 'gin'",
                       NULL, pages, err) < 0
                 ? -1
                 : 0;
    dq_store_pg.rollback(t);
    return rc;
}

/* ---------------------------------------------------------------- index rows */

typedef struct {
    dq_relic_ixrow_cb cb;
    void *ud;
} ix_t;

/* Strings of a JSON array of strings (json_agg), at most cap, into out; returns the count. */
static int json_strings(json_t *a, const char **out, int cap)
{
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (n == cap)
            break;
        out[n++] = json_is_string(v) ? json_string_value(v) : "";
    }
    return n;
}

static int ix_row(void *ud, PGresult *r)
{
    ix_t *w = ud;
    /* The SQLite backend keeps at most 512 subjects and 256 creators of a relic in the index
     * (store_sqlite_relic.c strlist_t); the same here, so that both indexes agree. */
    static const int max_subj = 512, max_cre = 256;
    const char **subj = dq_xmalloc(max_subj * sizeof(char *));
    const char **cre = dq_xmalloc(max_cre * sizeof(char *));
    const char **cre_en = dq_xmalloc(max_cre * sizeof(char *));
    json_t *js = dq_pg_col(r, 0, 10) ? json_loads(dq_pg_col(r, 0, 10), 0, NULL) : NULL;
    json_t *jc = dq_pg_col(r, 0, 11) ? json_loads(dq_pg_col(r, 0, 11), 0, NULL) : NULL;
    dq_relic_ixrow_t x = {0};
    x.seq = dq_pg_col_int(r, 0, 0);
    x.id = dq_pg_col(r, 0, 1);
    x.accession = dq_pg_col(r, 0, 2);
    x.dynasty = dq_pg_col(r, 0, 3);
    x.object_type = dq_pg_col(r, 0, 4);
    x.medium = dq_pg_col(r, 0, 5);
    x.has_year = dq_pg_col(r, 0, 6) != NULL;
    x.year_from = (int)dq_pg_col_int(r, 0, 6);
    x.year_to = (int)dq_pg_col_int(r, 0, 7);
    x.restricted = (int)dq_pg_col_int(r, 0, 8);
    x.has_images = (int)dq_pg_col_int(r, 0, 9);
    x.n_subjects = js ? json_strings(js, subj, max_subj) : 0;
    x.subjects = subj;
    /* creators come as [[name, name_en], ...] in pos order */
    size_t i;
    json_t *pair;
    json_array_foreach(jc, i, pair)
    {
        if (x.n_creators == max_cre)
            break;
        const char *a = json_string_value(json_array_get(pair, 0));
        const char *b = json_string_value(json_array_get(pair, 1));
        cre[x.n_creators] = a ? a : "";
        cre_en[x.n_creators] = b ? b : "";
        x.n_creators++;
    }
    x.creators = cre;
    x.creators_en = cre_en;
    int stop = w->cb(w->ud, &x);
    json_decref(js);
    json_decref(jc);
    free(subj);
    free(cre);
    free(cre_en);
    return stop;
}

#define IX_SQL                                                                                     \
    "SELECT r.seq, r.id, r.accession, r.dynasty, r.object_type, r.medium, r.year_from,"            \
    " r.year_to, r.restricted, r.has_images,"                                                      \
    " (SELECT json_agg(s.subject ORDER BY s.subject) FROM relic_subjects s WHERE s.relic = "       \
    "r.seq),"                                                                                      \
    " (SELECT json_agg(json_build_array(c.name, c.name_en) ORDER BY c.pos) FROM relic_creators c"  \
    "  WHERE c.relic = r.seq) FROM relics r"

static int relic_index_rows(dq_store_txn_t *t, const char *id, dq_relic_ixrow_cb cb, void *ud,
                            dq_err_t *err)
{
    ix_t w = {cb, ud};
    if (id) {
        pg_params_t p = {0};
        dq_pg_p_text(&p, id);
        return dq_pg_walk(t, IX_SQL " WHERE r.id = $1", &p, ix_row, &w, err);
    }
    return dq_pg_walk(t, IX_SQL " ORDER BY r.seq", NULL, ix_row, &w, err);
}

/* ---------------------------------------------------------------- import batches */

static int acc_row(void *ud, PGresult *r)
{
    void **a = ud;
    int (*cb)(void *, int, const dq_relic_stored_t *) =
        (int (*)(void *, int, const dq_relic_stored_t *))a[0];
    dq_relic_stored_t out = {0};
    dq_pg_copy_col(out.id, sizeof(out.id), r, 0, 1);
    out.version = dq_pg_col_int(r, 0, 2);
    dq_pg_copy_col(out.created_at, sizeof(out.created_at), r, 0, 3);
    dq_pg_copy_col(out.updated_at, sizeof(out.updated_at), r, 0, 4);
    out.doc = PQgetvalue(r, 0, 5);
    out.doc_len = (size_t)PQgetlength(r, 0, 5);
    return cb(a[1], (int)dq_pg_col_int(r, 0, 0) - 1, &out);
}

/* One statement for the whole batch's accessions. */
static int relic_load_accessions(dq_store_txn_t *t, const char *const *accessions, int n,
                                 int (*cb)(void *ud, int i, const dq_relic_stored_t *row),
                                 void *ud, dq_err_t *err)
{
    dq_buf_t arr = {0};
    pg_params_t p = {0};
    void *a[2] = {(void *)cb, ud};
    put_array(&arr, accessions, n);
    dq_pg_p_text(&p, arr.data);
    int rc = dq_pg_walk(t,
                        "SELECT a.i, r.id, r.version, r.created_at, r.updated_at, r.doc"
                        " FROM unnest($1::text[]) WITH ORDINALITY AS a(acc, i)"
                        " JOIN relics r ON r.accession = a.acc",
                        &p, acc_row, a, err);
    dq_buf_free(&arr);
    return rc;
}

/* Appends s as one COPY text field (PostgreSQL COPY, "Text Format": backslash escapes for
 * the delimiter, line ends and backslash itself; \N is NULL), then sep. */
static void copy_textn(dq_buf_t *b, const char *s, size_t len, char sep)
{
    if (!s)
        dq_buf_puts(b, "\\N");
    /* runs without a byte to escape go in one append (byte by byte was 7 % of an import's
     * client CPU: a document is ~700 bytes) */
    for (size_t i = 0, run = 0; s && i <= len; i++) {
        char e = i == len      ? 0
                 : s[i] == '\\' ? '\\'
                 : s[i] == '\n'  ? 'n'
                 : s[i] == '\r'  ? 'r'
                 : s[i] == '\t'  ? 't'
                                 : 1;
        if (e == 1)
            continue;
        dq_buf_append(b, s + run, i - run);
        if (e) {
            char esc[2] = {'\\', e};
            dq_buf_append(b, esc, 2);
        }
        run = i + 1;
    }
    dq_buf_putc(b, sep);
}

static void copy_text(dq_buf_t *b, const char *s, char sep)
{
    copy_textn(b, s, s ? strlen(s) : 0, sep);
}

/* Appends the low `bytes` bytes of v, big-endian (COPY binary fields). */
static void bin_int(dq_buf_t *b, uint64_t v, int bytes)
{
    char d[8];
    for (int k = 0; k < bytes; k++)
        d[k] = (char)((v >> (8 * (bytes - 1 - k))) & 0xff);
    dq_buf_append(b, d, (size_t)bytes);
}

/* Appends v in decimal, then sep. By hand: printf's format parsing was 7 % of an import's
 * client CPU (about ten integers per relic). */
static void copy_int(dq_buf_t *b, int64_t v, char sep)
{
    char d[24];
    int n = (int)sizeof(d);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    d[--n] = sep;
    do {
        d[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--n] = '-';
    dq_buf_append(b, d + n, sizeof(d) - (size_t)n);
}

/* What insert_many sends: one COPY input per table, and the dictionary names. */
typedef struct {
    dq_buf_t relics, subjects, creators, images, fts, names;
    int64_t counter;          /* the relics counter once they are in */
    dq_pg_audit_rows_t audit; /* with the search rows: the rows before's audit rows */
} copy_set_t;

/* The parts of a new relic's COPY lines that need no answer from the database (everything
 * but its seq, id and times), made while the writes of the rows before still run on the
 * server: offsets into one text buffer. */
typedef struct {
    size_t rel, rel_len; /* relics: the columns from accession to has_images, tabs included */
    size_t fts, fts_len; /* relic_fts: the binary tuple after its seq field (the tsvector) */
    const char *title_zh; /* the zh title, a dictionary name (borrowed from the row) */
} frag_t;

/* The fragments of row r into text (see frag_t). The costly part of a new relic on this
 * side: its tsvector, made by our tokenizer. */
static void frag_row(const dq_search_t *s, dq_buf_t *text, dq_buf_t *tsv, frag_t *fr,
                     const dq_relic_row_t *r)
{
    fr->rel = text->len;
    copy_text(text, r->accession, '\t');
    copy_int(text, 1, '\t');
    copy_textn(text, r->doc, r->doc_len, '\t');
    copy_text(text, r->dynasty, '\t');
    copy_text(text, r->object_type, '\t');
    copy_text(text, r->medium_key, '\t');
    if (r->has_year) {
        copy_int(text, r->year_from, '\t');
        copy_int(text, r->year_to, '\t');
    } else {
        copy_text(text, NULL, '\t');
        copy_text(text, NULL, '\t');
    }
    copy_int(text, r->has_year ? r->year_from : 1000000, '\t');
    copy_int(text, r->has_year ? r->year_to : -1000000, '\t');
    copy_int(text, r->restricted ? 1 : 0, '\t');
    copy_int(text, r->n_links > 0, '\t');
    fr->rel_len = text->len - fr->rel;
    /* relic_fts in COPY's binary format ("Binary Format": a tuple is an int16 field count,
     * then per field an int32 length, -1 for NULL, and the type's send form; big-endian), so
     * that the server receives the tsvector instead of parsing its literal */
    const char *fields[4] = {r->fts_title, r->fts_creators, r->fts_body, r->fts_description};
    fr->fts = text->len;
    dq_buf_reset(tsv);
    dq_pg_tsvector_bin(s, fields, 4, DQ_PG_RELIC_TSV, tsv);
    bin_int(text, (uint32_t)tsv->len, 4);
    dq_buf_append(text, tsv->data ? tsv->data : "", tsv->len);
    fr->fts_len = text->len - fr->fts;
    fr->title_zh = r->title_zh;
}

/* The lines of relic r (as seq, id) in every table, as relic_save's insert_sql writes them,
 * from its fragments; now: the statement time the backend gives both times (created_at
 * when the row has none). */
static void copy_row(copy_set_t *c, const dq_relic_row_t *r, const char *text, const frag_t *fr,
                     const char *id, int64_t seq, const char *now)
{
    dq_buf_t *b = &c->relics;
    copy_int(b, seq, '\t');
    copy_text(b, id, '\t');
    dq_buf_append(b, text + fr->rel, fr->rel_len);
    copy_text(b, r->created_at ? r->created_at : now, '\t');
    copy_text(b, now, '\n');
    for (int i = 0; i < r->n_subjects; i++) { /* distinct, as the SELECT DISTINCT */
        int dup = !r->subjects[i];
        for (int k = 0; k < i && !dup; k++)
            dup = r->subjects[k] && strcmp(r->subjects[k], r->subjects[i]) == 0;
        if (dup)
            continue;
        copy_text(&c->subjects, r->subjects[i], '\t');
        copy_int(&c->subjects, seq, '\n');
    }
    for (int i = 0; i < r->n_creators; i++) {
        copy_int(&c->creators, seq, '\t');
        copy_int(&c->creators, i, '\t');
        copy_text(&c->creators, r->creators[i], '\t');
        copy_text(&c->creators, r->creators_en[i], '\n');
        dq_pg_array_add(&c->names, r->creators[i]);
        dq_pg_array_add(&c->names, r->creators_en[i]);
    }
    if (fr->title_zh) /* the zh title is a dictionary name too (as insert_sql takes it) */
        dq_pg_array_add(&c->names, fr->title_zh);
    for (int i = 0; i < r->n_links; i++) {
        copy_int(&c->images, seq, '\t');
        copy_int(&c->images, i, '\t');
        copy_text(&c->images, r->links[i].image_id, '\t');
        copy_text(&c->images, r->links[i].role ? r->links[i].role : "", '\n');
    }
    dq_buf_t *f = &c->fts;
    if (!f->len) /* the header: signature, flags, extension length */
        dq_buf_append(f, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
    bin_int(f, 2, 2); /* seq, fts */
    bin_int(f, 8, 4);
    bin_int(f, (uint64_t)seq, 8);
    dq_buf_append(f, text + fr->fts, fr->fts_len);
}

static void copy_set_free(void *job)
{
    copy_set_t *c = job;
    dq_buf_free(&c->relics);
    dq_buf_free(&c->subjects);
    dq_buf_free(&c->creators);
    dq_buf_free(&c->images);
    dq_buf_free(&c->fts);
    dq_buf_free(&c->names);
    dq_buf_free(&c->audit.who);
    dq_buf_free(&c->audit.action);
    dq_buf_free(&c->audit.object);
    dq_buf_free(&c->audit.detail);
    free(c);
}

static const char fts_copy_sql[] =
    "COPY relic_fts (seq, fts) FROM STDIN (FORMAT binary)";

/* A failed COPY leaves the transaction half written: DQ_EINTERNAL (it rolls back). */
static int copy_failed(dq_err_t *err)
{
    if (err->code != DQ_EBUSY) {
        err->code = DQ_EINTERNAL;
        err->http_status = 500;
    }
    return -1;
}

/* Sends the relic_fts rows of c (a copy_set_t, on the sender thread of the transaction's
 * second half: dq_pg_fts_half). */
static int fts_send(dq_store_txn_t *t, void *job, dq_err_t *err)
{
    copy_set_t *c = job;
    bin_int(&c->fts, 0xffff, 2); /* the binary trailer */
    if (dq_pg_copy_in(t, fts_copy_sql, c->fts.data, c->fts.len, err) < 0 ||
        dq_pg_audit_send(t, &c->audit, err) < 0)
        return copy_failed(err);
    return 0;
}

/* Sends c (a copy_set_t, on the sender thread of dq_pg_send_async): COPY into each table
 * (parents first), relic_fts's unless the second half took them, the names, then the
 * counter. */
static int copy_send(dq_store_txn_t *t, void *job, dq_err_t *err)
{
    copy_set_t *c = job;
    static const char *const sql[4] = {
        "COPY relics (seq, id, accession, version, doc, dynasty, object_type, medium,"
        " year_from, year_to, sort_year, sort_year_desc, restricted, has_images, created_at,"
        " updated_at) FROM STDIN",
        "COPY relic_subjects (subject, relic) FROM STDIN",
        "COPY relic_creators (relic, pos, name, name_en) FROM STDIN",
        "COPY relic_images (relic, pos, image_id, role) FROM STDIN",
    };
    dq_buf_t *in[4] = {&c->relics, &c->subjects, &c->creators, &c->images};
    pg_params_t p = {0}, q = {0};
    for (int i = 0; i < 4; i++)
        if (in[i]->len && dq_pg_copy_in(t, sql[i], in[i]->data, in[i]->len, err) < 0)
            goto half_written;
    if (c->fts.len && fts_send(t, c, err) < 0)
        return -1;
    dq_buf_puts(&c->names, c->names.len ? "}" : "{}");
    dq_pg_p_text(&p, c->names.data);
    if (dq_pg_run(t,
                  "INSERT INTO relic_names (name) SELECT DISTINCT x FROM unnest($1::text[]) x"
                  " WHERE x IS NOT NULL ON CONFLICT DO NOTHING",
                  &p, NULL, err) < 0)
        goto half_written;
    dq_pg_p_int(&q, c->counter);
    if (dq_pg_run(t, "UPDATE dq_counters SET value = $1 WHERE name = 'relics'", &q, NULL, err) < 0)
        goto half_written;
    return 0;
half_written:
    return copy_failed(err);
}

/* Fills taken (a set: JSON object keys) with those of ids[] (an array literal) that a stored
 * relic has. */
static int taken_ids(dq_store_txn_t *t, dq_buf_t *ids, json_t *taken, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_buf_puts(ids, ids->len ? "}" : "{}");
    dq_pg_p_text(&p, ids->data);
    PGresult *r = dq_pg_exec(t, "SELECT id FROM relics WHERE id = ANY($1::text[])", &p, err);
    dq_buf_reset(ids);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(taken, PQgetvalue(r, i, 0), json_true());
    PQclear(r);
    return 0;
}

/* The ids new_id would try from next on: [next, next + n) asked about in one statement. */
static int taken_range(dq_store_txn_t *t, int64_t next, int n, json_t *taken, dq_err_t *err)
{
    dq_buf_t ids = {0};
    char id[32];
    for (int k = 0; k < n; k++) {
        snprintf(id, sizeof(id), "dq-%d-%04lld", t->relic_year, (long long)(next + k));
        dq_pg_array_add(&ids, id);
    }
    int rc = taken_ids(t, &ids, taken, err);
    dq_buf_free(&ids);
    return rc;
}

/* new_id then save for each row, decided here in C against what the database holds (asked
 * in three statements), then written by one COPY per table and one INSERT of the dictionary
 * names: a handful of round trips per batch instead of three per relic, and no per-row
 * statement for the server to plan and run (COPY into the tables themselves: a staging table
 * cost as much again, the data parsed twice). Writers are serialized (store_pg.c), so
 * nothing can take an id or accession between the check and the write.
 *
 * The client and the server overlap (issue 15: each took about half of an import's CPU,
 * one waiting for the other): the rows' tokens and COPY fragments are made first, while the
 * previous call's writes still run on the server, and this call's writes go out on a thread
 * of their own (dq_pg_send_async) while the caller reads and checks the next rows. Their
 * failure fails the transaction at the next statement or at commit, as a failed COPY did
 * before: the outcome is the same as sending them here. */
static int relic_insert_many(dq_store_txn_t *t, const dq_relic_row_t *rows, int n,
                             char (*ids)[64], dq_err_t *errs, dq_err_t *err)
{
    json_t *taken = json_object(), *accs = json_object();
    copy_set_t *cs = dq_xcalloc(1, sizeof(*cs));
    dq_buf_t arr = {0}, text = {0}, tsv = {0};
    frag_t *fr = dq_xcalloc((size_t)n + 1, sizeof(*fr));
    char now[32] = "";
    int rc = -1;
    for (int i = 0; i < n; i++) /* no statement yet: the last writes may still be running */
        frag_row(t->search, &text, &tsv, &fr[i], &rows[i]);
    if (!t->next_relic_seq) { /* relic_new_id's copy of the counter, read once */
        char id[32];
        if (relic_new_id(t, id, err) < 0)
            goto out;
    }
    /* What the database holds of the explicit ids, the candidates for fresh ids (a margin
     * over n; more are asked for when client ids sit in the way) and the accessions. */
    for (int i = 0; i < n; i++)
        if (rows[i].id)
            dq_pg_array_add(&arr, rows[i].id);
    if (taken_ids(t, &arr, taken, err) < 0)
        goto out;
    int64_t next = t->next_relic_seq, first = next, asked_to = next + n + 64;
    if (taken_range(t, next, n + 64, taken, err) < 0)
        goto out;
    {
        const char **a = dq_xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++)
            a[i] = rows[i].accession;
        put_array(&arr, a, n);
        free(a);
        pg_params_t p = {0};
        dq_pg_p_text(&p, arr.data);
        PGresult *r = dq_pg_exec(t,
                                 "SELECT accession, " DQ_PG_NOW " FROM relics"
                                 " WHERE accession = ANY($1::text[])"
                                 " UNION ALL SELECT NULL, " DQ_PG_NOW,
                                 &p, err);
        dq_buf_reset(&arr);
        if (!r)
            goto out;
        for (int i = 0; i < PQntuples(r); i++)
            if (dq_pg_col(r, i, 0))
                json_object_set_new(accs, PQgetvalue(r, i, 0), json_true());
            else
                dq_pg_copy_col(now, sizeof(now), r, i, 1);
        PQclear(r);
    }
    for (int i = 0; i < n; i++) {
        dq_err_clear(&errs[i]);
        if (rows[i].id) {
            snprintf(ids[i], 64, "%s", rows[i].id);
        } else {
            for (int64_t k = next;; k++) {
                if (k >= asked_to) {
                    if (taken_range(t, asked_to, n + 64, taken, err) < 0)
                        goto out;
                    asked_to += n + 64;
                }
                snprintf(ids[i], 64, "dq-%d-%04lld", t->relic_year, (long long)k);
                if (!json_object_get(taken, ids[i]))
                    break;
            }
        }
        /* as conflict() words it: the id first */
        if (json_object_get(taken, ids[i])) {
            dq_err_set(&errs[i], DQ_EEXIST, 409, "a relic with this id exists");
            continue;
        }
        if (!rows[i].accession || json_object_get(accs, rows[i].accession)) {
            dq_err_set(&errs[i], DQ_EEXIST, 409, "a relic with this accession exists");
            continue;
        }
        json_object_set_new(taken, ids[i], json_true());
        json_object_set_new(accs, rows[i].accession, json_true());
        copy_row(cs, &rows[i], text.data, &fr[i], ids[i], next++, now);
    }
    rc = 0;
    if (next == first)
        goto out;
    cs->counter = next - 1;
    t->next_relic_seq = next;
    /* relic_fts's rows, two thirds of the server's work, on a search half's connection:
     * other server processes write them while the first writes the rest, the two search
     * halves in turn, so that two of them keep the GIN indexes at once */
    dq_store_txn_t *ft = dq_pg_fts_bulk_half(t, first, next, err);
    if (!ft) {
        rc = -1;
        goto out;
    }
    if (ft != t) {
        copy_set_t *fj = dq_xcalloc(1, sizeof(*fj));
        fj->fts = cs->fts;
        cs->fts = (dq_buf_t){0};
        /* the audit rows so far (the sends before's relics, in order) go with them where the
         * audit rows are written: at commit, the search backend writing 10,000 of them was
         * 4 % of an import's time, the other backends waiting */
        if (ft == dq_pg_audit_txn(t))
            dq_pg_audit_take(t, &fj->audit);
        if (dq_pg_send_async(ft, fts_send, copy_set_free, fj, err) < 0) {
            rc = -1;
            goto out;
        }
    }
    rc = dq_pg_send_async(t, copy_send, copy_set_free, cs, err);
    cs = NULL; /* the sender's now */
out:
    if (cs)
        copy_set_free(cs);
    json_decref(taken);
    json_decref(accs);
    dq_buf_free(&arr);
    dq_buf_free(&text);
    dq_buf_free(&tsv);
    free(fr);
    return rc;
}

const dq_store_relic_ops dq_pg_relic_ops = {
    .search_handle = relic_search_handle,
    .load = relic_load,
    .save = relic_save,
    .remove = relic_remove,
    .new_id = relic_new_id,
    .image_exists = relic_image_exists,
    .index_rows = relic_index_rows,
    .match = dq_pg_relic_match,
    .match_bound = dq_pg_relic_match_bound,
    .snippets = dq_pg_relic_snippets,
    .counts = relic_counts,
    .names = relic_names,
    .settle = relic_settle,
    .load_accessions = relic_load_accessions,
    .insert_many = relic_insert_many,
};
