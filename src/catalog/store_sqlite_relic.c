/*
 * store_sqlite_relic.c: relic records in SQLite. One row per relic in `relics` (the canonical
 * document as JSON text plus the columns search filters and sorts on), the many-valued facets
 * in `relic_subjects` and `relic_creators`, the ordered image links in `relic_images`, and an
 * FTS5 table `relic_fts` (title, creators, body, description) tokenized by search/'s
 * "danqing" tokenizer and ranked by bm25 with column weights 10, 8, 2, 1. Everything is
 * written explicitly by relic_save inside the caller's transaction (no triggers: the import
 * path prepares each statement once and reuses it for a whole batch).
 *
 * Search runs over the in-memory index of store_sqlite_relic_index.c (filters, facets, sort
 * keys) and FTS5 (matches, rank, snippets); see search_locked. It does not validate
 * documents (relic.c does).
 */
#include "store_sqlite_internal.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>


/* ---------------------------------------------------------------- schema (migration 3) */

const char dq_sqlite_relic_schema[] =
    "CREATE TABLE relics ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT," /* FTS rowid; never reused (stable ids) */
    " id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 63),"
    " accession TEXT NOT NULL UNIQUE CHECK (length(accession) >= 1),"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " doc TEXT NOT NULL,"
    " dynasty TEXT, object_type TEXT, medium TEXT,"
    " year_from INTEGER, year_to INTEGER,"
    /* date sorts: missing dates sort last both ways */
    " sort_year INTEGER NOT NULL, sort_year_desc INTEGER NOT NULL,"
    " restricted INTEGER NOT NULL CHECK (restricted IN (0, 1)),"
    " has_images INTEGER NOT NULL CHECK (has_images IN (0, 1)),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX relics_dynasty ON relics(dynasty);"
    "CREATE INDEX relics_type ON relics(object_type);"
    "CREATE INDEX relics_medium ON relics(medium);"
    "CREATE INDEX relics_years ON relics(year_from, year_to);"
    "CREATE INDEX relics_date ON relics(sort_year, seq);"
    "CREATE INDEX relics_date_desc ON relics(sort_year_desc, seq);"
    "CREATE TABLE relic_subjects ("
    " subject TEXT NOT NULL,"
    " relic INTEGER NOT NULL REFERENCES relics(seq) ON DELETE CASCADE,"
    " PRIMARY KEY (subject, relic)) WITHOUT ROWID;"
    "CREATE INDEX relic_subjects_relic ON relic_subjects(relic);"
    "CREATE TABLE relic_creators ("
    " relic INTEGER NOT NULL REFERENCES relics(seq) ON DELETE CASCADE,"
    " pos INTEGER NOT NULL, name TEXT NOT NULL, name_en TEXT NOT NULL,"
    " PRIMARY KEY (relic, pos)) WITHOUT ROWID;"
    "CREATE INDEX relic_creators_name ON relic_creators(name, relic);"
    "CREATE INDEX relic_creators_name_en ON relic_creators(name_en, relic);"
    "CREATE TABLE relic_images ("
    " relic INTEGER NOT NULL REFERENCES relics(seq) ON DELETE CASCADE,"
    " pos INTEGER NOT NULL, image_id TEXT NOT NULL, role TEXT NOT NULL,"
    " PRIMARY KEY (relic, pos)) WITHOUT ROWID;"
    "CREATE INDEX relic_images_image ON relic_images(image_id);"
    "CREATE VIRTUAL TABLE relic_fts USING fts5(title, creators, body, description,"
    " tokenize = 'danqing');";

/* Migration 6: the names the search dictionary is refilled from at open (creator names in
 * both labels, zh titles), kept by relic_save. Reading them used to be a json_extract over
 * every document (1.9 s at 500,000 relics); this table holds each distinct name once. Names
 * stay when their last relic goes, as they do in the running process's dictionary: a
 * dictionary name only splits and boosts queries, it never makes a record match. */
const char dq_sqlite_relic_names_schema[] =
    "CREATE TABLE relic_names (name TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO relic_names SELECT name FROM relic_creators"
    " UNION SELECT name_en FROM relic_creators"
    " UNION SELECT json_extract(doc, '$.title.zh') FROM relics"
    " WHERE json_type(doc, '$.title.zh') = 'text';";

/* bm25 weights of title, creators, body, description: a word in the title says more about
 * what the work is than the same word in a colophon. */
#define BM25 "bm25(relic_fts, 10.0, 8.0, 2.0, 1.0)"

/* ---------------------------------------------------------------- statements */

enum {
    S_LOAD_ID,
    S_LOAD_ACC,
    S_INSERT,
    S_UPDATE,
    S_SEQ_OF,
    S_DEL_SUBJ,
    S_DEL_CRE,
    S_DEL_IMG,
    S_DEL_FTS,
    S_INS_SUBJ,
    S_INS_CRE,
    S_INS_IMG,
    S_INS_FTS,
    S_DELETE,
    S_IMG_EXISTS,
    S_AUDIT,
    S_NEXT_SEQ,
    S_ID_TAKEN,
    S_PAGE_ROW,
    S_INS_NAME,
    S_INS_TITLE_NAME,
    N_STMT
};

static const char *const stmt_sql[N_STMT] = {
    [S_LOAD_ID] = "SELECT id, version, created_at, updated_at, doc FROM relics WHERE id = ?1",
    [S_LOAD_ACC] =
        "SELECT id, version, created_at, updated_at, doc FROM relics WHERE accession = ?1",
    [S_INSERT] = "INSERT INTO relics (id, accession, version, doc, dynasty, object_type, medium,"
                 " year_from, year_to, sort_year, sort_year_desc, restricted, has_images,"
                 " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                 " ?12, ?13, coalesce(?14, " DQ_SQ_NOW "), " DQ_SQ_NOW ")",
    [S_UPDATE] = "UPDATE relics SET accession = ?2, version = ?3, doc = ?4, dynasty = ?5,"
                 " object_type = ?6, medium = ?7, year_from = ?8, year_to = ?9, sort_year = ?10,"
                 " sort_year_desc = ?11, restricted = ?12, has_images = ?13,"
                 " updated_at = " DQ_SQ_NOW " WHERE id = ?1",
    [S_SEQ_OF] = "SELECT seq FROM relics WHERE id = ?1",
    [S_DEL_SUBJ] = "DELETE FROM relic_subjects WHERE relic = ?1",
    [S_DEL_CRE] = "DELETE FROM relic_creators WHERE relic = ?1",
    [S_DEL_IMG] = "DELETE FROM relic_images WHERE relic = ?1",
    [S_DEL_FTS] = "DELETE FROM relic_fts WHERE rowid = ?1",
    [S_INS_SUBJ] = "INSERT OR IGNORE INTO relic_subjects (subject, relic) VALUES (?1, ?2)",
    [S_INS_CRE] = "INSERT INTO relic_creators (relic, pos, name, name_en) VALUES (?1, ?2, ?3, ?4)",
    [S_INS_IMG] = "INSERT INTO relic_images (relic, pos, image_id, role) VALUES (?1, ?2, ?3, ?4)",
    [S_INS_FTS] = "INSERT INTO relic_fts (rowid, title, creators, body, description)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_DELETE] = "DELETE FROM relics WHERE id = ?1",
    [S_IMG_EXISTS] = "SELECT 1 FROM images WHERE id = ?1",
    [S_AUDIT] =
        "INSERT INTO audit (who, at, action, object, detail) VALUES (?1, " DQ_SQ_NOW ", ?2, ?3, ?4)",
    [S_NEXT_SEQ] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'relics'), 0)"
                   " + 1, strftime('%Y', 'now')",
    [S_ID_TAKEN] = "SELECT 1 FROM relics WHERE id = ?1",
    [S_PAGE_ROW] = "SELECT seq, id, doc, year_from, year_to FROM relics WHERE seq = ?1",
    [S_INS_NAME] = "INSERT OR IGNORE INTO relic_names (name) VALUES (?1)",
    /* VALUES, not INSERT ... SELECT: a SELECT makes the statement a possible multi-row write,
     * which opens a statement journal, and each statement journal in a transaction that has
     * written relic_fts makes FTS5 flush its pending terms (xSavepoint). A title that is not a
     * string gives NULL, which OR IGNORE skips (NOT NULL). */
    [S_INS_TITLE_NAME] = "INSERT OR IGNORE INTO relic_names VALUES (CASE WHEN"
                         " json_type(?1, '$.title.zh') = 'text' THEN json_extract(?1, '$.title.zh')"
                         " END)",
};

struct relic_cache {
    sqlite3_stmt *st[N_STMT]; /* prepared lazily, reset after each use */
    dq_buf_t loaded;          /* the doc relic_load last returned (borrowed by callers) */
};

/* The cached statement k, reset and unbound, or NULL with err. */
static sqlite3_stmt *stmt(dq_store_txn_t *s, int k, dq_err_t *err)
{
    sqlite3_stmt **p = &s->relic->st[k];
    if (!*p) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT, p, NULL) !=
            SQLITE_OK) {
            dq_sq_fail(s, err, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(*p);
        sqlite3_clear_bindings(*p);
    }
    return *p;
}

/* Steps a statement to completion; resets it. */
static int run(dq_store_txn_t *s, sqlite3_stmt *st, dq_err_t *err)
{
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        ;
    int rc = 0;
    if (r != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT) {
            const char *m = sqlite3_errmsg(s->db);
            dq_err_set(err, DQ_EEXIST, 409, "%s",
                       strstr(m, "accession")   ? "a relic with this accession exists"
                       : strstr(m, "relics.id") ? "a relic with this id exists"
                                                : m);
        } else {
            dq_sq_fail(s, err, "step");
        }
        rc = -1;
    }
    sqlite3_reset(st);
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* ---------------------------------------------------------------- open and close */

static int add_name(void *ud, const char *name)
{
    dq_err_t e = {0};
    dq_search_dict_add(ud, name, &e); /* refused names are just not boosted */
    return 0;
}

struct relic_cache *dq_sqlite_relic_cache_new(void)
{
    return dq_xcalloc(1, sizeof(struct relic_cache));
}

void dq_sqlite_relic_cache_free(struct relic_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_STMT; i++)
        sqlite3_finalize(c->st[i]);
    dq_buf_free(&c->loaded);
    free(c);
}

static int names_walk(dq_store_txn_t *s, int (*cb)(void *ud, const char *name), void *ud,
                      dq_err_t *err);

int dq_sqlite_relic_open(dq_store_txn_t *s, dq_err_t *err)
{
    /* A 64 MiB page cache keeps the eight relic indexes of a bulk import in memory. automerge
     * 8 and
     * crisismerge 32: fewer, larger merges during bulk imports (the FTS5 defaults are 4 and
     * 16); queries stay fast because a search reads few segments either way. hashsize 16 MiB:
     * FTS5 writes its pending terms out as a new segment whenever they pass hashsize (default
     * 1 MiB) and at commit; an import batch of 10,000 rows holds ~10 MiB of them, and one
     * segment per batch instead of ten means far less merging (500,000 rows: 7,050 ->
     * 10,700 rows/s together with the bigger batch; either alone gains nothing). The memory
     * is only used while a transaction writes that much. */
    if (dq_sq_exec(s,
                   "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;"
                   "INSERT INTO relic_fts (relic_fts, rank) VALUES ('automerge', 8);"
                   "INSERT INTO relic_fts (relic_fts, rank) VALUES ('crisismerge', 32);"
                   "INSERT INTO relic_fts (relic_fts, rank) VALUES ('hashsize', 16777216);",
                   err) < 0)
        return -1;
    return names_walk(s, add_name, s->search, err);
}

void dq_sqlite_relic_close(store_t *s)
{
    dq_sqlite_rindex_free(s->rindex);
    s->rindex = NULL;
}

static struct dq_search *relic_search_handle(void *impl)
{
    return ((store_t *)impl)->search;
}

/* Reads the current row of a S_LOAD_* statement into out (doc copied into the cache). */
static void load_row(dq_store_txn_t *s, sqlite3_stmt *st, dq_relic_stored_t *out)
{
    dq_sq_copy_col(out->id, sizeof(out->id), st, 0);
    out->version = sqlite3_column_int64(st, 1);
    dq_sq_copy_col(out->created_at, sizeof(out->created_at), st, 2);
    dq_sq_copy_col(out->updated_at, sizeof(out->updated_at), st, 3);
    dq_buf_reset(&s->relic->loaded);
    dq_buf_append(&s->relic->loaded, sqlite3_column_text(st, 4),
                  (size_t)sqlite3_column_bytes(st, 4));
    out->doc = s->relic->loaded.data;
    out->doc_len = s->relic->loaded.len;
}

static int relic_load(dq_store_txn_t *txn, const char *id, const char *accession, dq_relic_stored_t *out,
                         dq_err_t *err)
{
    dq_store_txn_t *s = txn;
    sqlite3_stmt *st = stmt(s, id ? S_LOAD_ID : S_LOAD_ACC, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id ? id : accession, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        load_row(s, st, out);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        rc = 1;
    } else {
        rc = dq_sq_fail(s, err, "relic_load");
    }
    sqlite3_reset(st);
    return rc;
}

/* The relic's children and FTS entry, (re)written for seq. */
static int save_children(dq_store_txn_t *s, int64_t seq, const dq_relic_row_t *r, dq_err_t *err)
{
    sqlite3_stmt *st;
    for (int i = 0; i < r->n_subjects; i++) {
        if (!(st = stmt(s, S_INS_SUBJ, err)))
            return -1;
        bind_text(st, 1, r->subjects[i]);
        sqlite3_bind_int64(st, 2, seq);
        if (run(s, st, err) < 0)
            return -1;
    }
    for (int i = 0; i < r->n_creators; i++) {
        if (!(st = stmt(s, S_INS_CRE, err)))
            return -1;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_int(st, 2, i);
        bind_text(st, 3, r->creators[i]);
        bind_text(st, 4, r->creators_en[i]);
        if (run(s, st, err) < 0)
            return -1;
        for (int k = 0; k < 2; k++) { /* the dictionary's names (migration 6) */
            if (!(st = stmt(s, S_INS_NAME, err)))
                return -1;
            bind_text(st, 1, k ? r->creators_en[i] : r->creators[i]);
            if (run(s, st, err) < 0)
                return -1;
        }
    }
    if (!(st = stmt(s, S_INS_TITLE_NAME, err)))
        return -1;
    sqlite3_bind_text(st, 1, r->doc, (int)r->doc_len, SQLITE_STATIC);
    if (run(s, st, err) < 0)
        return -1;
    for (int i = 0; i < r->n_links; i++) {
        if (!(st = stmt(s, S_INS_IMG, err)))
            return -1;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_int(st, 2, i);
        bind_text(st, 3, r->links[i].image_id);
        bind_text(st, 4, r->links[i].role ? r->links[i].role : "");
        if (run(s, st, err) < 0)
            return -1;
    }
    if (!(st = stmt(s, S_INS_FTS, err)))
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    bind_text(st, 2, r->fts_title);
    bind_text(st, 3, r->fts_creators);
    bind_text(st, 4, r->fts_body);
    bind_text(st, 5, r->fts_description);
    return run(s, st, err);
}

static void bind_row(sqlite3_stmt *st, const dq_relic_row_t *r)
{
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->accession);
    sqlite3_bind_int64(st, 3, r->version);
    sqlite3_bind_text(st, 4, r->doc, (int)r->doc_len, SQLITE_STATIC);
    bind_text(st, 5, r->dynasty);
    bind_text(st, 6, r->object_type);
    bind_text(st, 7, r->medium_key);
    if (r->has_year) {
        sqlite3_bind_int(st, 8, r->year_from);
        sqlite3_bind_int(st, 9, r->year_to);
    }
    sqlite3_bind_int(st, 10, r->has_year ? r->year_from : 1000000);
    sqlite3_bind_int(st, 11, r->has_year ? r->year_to : -1000000);
    sqlite3_bind_int(st, 12, r->restricted ? 1 : 0);
    sqlite3_bind_int(st, 13, r->n_links > 0);
}

/* Clears what a previous version of seq wrote besides its row. The FTS delete must come
 * before the row's new text is inserted: FTS5 removes the tokens of the stored text. */
static int clear_children(dq_store_txn_t *s, int64_t seq, dq_err_t *err)
{
    static const int k[] = {S_DEL_SUBJ, S_DEL_CRE, S_DEL_IMG, S_DEL_FTS};
    for (size_t i = 0; i < DQ_ARRAY_LEN(k); i++) {
        sqlite3_stmt *st = stmt(s, k[i], err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, seq);
        if (run(s, st, err) < 0)
            return -1;
    }
    return 0;
}

/* A row is written without a savepoint: inside a transaction that has written to relic_fts,
 * every SAVEPOINT makes FTS5 flush its pending terms into a new segment (xSavepoint), so a
 * savepoint per row meant one tiny segment per row and constant merging: a quarter of an
 * import's time. Instead the one statement that bad input can fail (the relics INSERT or
 * UPDATE: a duplicate id or accession) comes first, and SQLite undoes a failed statement by
 * itself, so such a row leaves nothing behind and the batch around it goes on. A failure
 * after that first write is not the row's fault (I/O, memory): it is reported as
 * DQ_EINTERNAL, which makes every caller roll the whole transaction back. */
static int relic_save(dq_store_txn_t *txn, const dq_relic_row_t *r, dq_err_t *err)
{
    dq_store_txn_t *s = txn;
    sqlite3_stmt *st;
    int64_t seq = 0;
    if (r->version == 1) {
        if (!(st = stmt(s, S_INSERT, err)))
            return -1;
        bind_row(st, r);
        bind_text(st, 14, r->created_at);
        if (run(s, st, err) < 0)
            return -1;
        seq = sqlite3_last_insert_rowid(s->db);
    } else {
        if (!(st = stmt(s, S_SEQ_OF, err)))
            return -1;
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            return dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", r->id);
        }
        seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (!(st = stmt(s, S_UPDATE, err)))
            return -1;
        bind_row(st, r);
        if (run(s, st, err) < 0)
            return -1;
        if (clear_children(s, seq, err) < 0)
            goto half_written;
    }
    if (save_children(s, seq, r, err) < 0)
        goto half_written;
    dq_sqlite_rindex_note(s, seq);
    return 0;
half_written:
    err->code = DQ_EINTERNAL;
    err->http_status = 500;
    return -1;
}

static int relic_remove(dq_store_txn_t *txn, const char *id, dq_err_t *err)
{
    dq_store_txn_t *s = txn;
    sqlite3_stmt *st = stmt(s, S_SEQ_OF, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", id);
    }
    int64_t seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (clear_children(s, seq, err) < 0 || !(st = stmt(s, S_DELETE, err)))
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    dq_sqlite_rindex_note(s, seq);
    return run(s, st, err);
}

static int relic_new_id(dq_store_txn_t *txn, char id[32], dq_err_t *err)
{
    dq_store_txn_t *s = txn;
    sqlite3_stmt *st = stmt(s, S_NEXT_SEQ, err);
    if (!st)
        return -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return dq_sq_fail(s, err, "next id");
    }
    int64_t next = sqlite3_column_int64(st, 0);
    int year = sqlite3_column_int(st, 1);
    sqlite3_reset(st);
    /* The sequence never goes back, so an id is never handed out twice; the loop only skips
     * ids that a client chose itself. */
    for (;; next++) {
        snprintf(id, 32, "dq-%d-%04lld", year, (long long)next);
        if (!(st = stmt(s, S_ID_TAKEN, err)))
            return -1;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r == SQLITE_DONE)
            return 0;
        if (r != SQLITE_ROW)
            return dq_sq_fail(s, err, "next id");
    }
}

static int relic_image_exists(dq_store_txn_t *txn, const char *image_id, dq_err_t *err)
{
    dq_store_txn_t *s = txn;
    sqlite3_stmt *st = stmt(s, S_IMG_EXISTS, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    return dq_sq_fail(s, err, "image lookup");
}

/* ---------------------------------------------------------------- reads */

static int relic_get(void *impl, const char *id, dq_relic_stored_t *out, dq_buf_t *out_doc,
                     dq_err_t *err)
{
    dq_store_txn_t *s;
    int rc = -1;
    if (dq_store_sqlite.begin(impl, 0, &s, err) < 0)
        return -1;
    int r = relic_load(s, id, NULL, out, err);
    if (r == 1)
        dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", id);
    if (r == 0) {
        dq_buf_append(out_doc, out->doc, out->doc_len);
        out->doc = NULL;
        out->doc_len = 0;
        rc = 0;
    }
    dq_store_sqlite.rollback(s);
    return rc;
}

static int count_query(dq_store_txn_t *s, const char *sql, int64_t *n, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "count");
        goto out;
    }
    *n = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int relic_counts(void *impl, int show_restricted, int64_t *relics, dq_err_t *err)
{
    dq_store_txn_t *s;
    if (dq_store_sqlite.begin(impl, 0, &s, err) < 0)
        return -1;
    int rc = count_query(s,
                         show_restricted ? "SELECT count(*) FROM relics"
                                         : "SELECT count(*) FROM relics WHERE restricted = 0",
                         relics, err);
    dq_store_sqlite.rollback(s);
    return rc;
}

static int names_walk(dq_store_txn_t *s, int (*cb)(void *ud, const char *name), void *ud,
                      dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1, r;
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM relic_names", -1, &st, NULL) != SQLITE_OK) {
        dq_sq_fail(s, err, "names");
        goto out;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && cb(ud, t) != 0)
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_sq_fail(s, err, "names");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int relic_names(void *impl, int (*cb)(void *ud, const char *name), void *ud, dq_err_t *err)
{
    dq_store_txn_t *s;
    if (dq_store_sqlite.begin(impl, 0, &s, err) < 0)
        return -1;
    int rc = names_walk(s, cb, ud, err);
    dq_store_sqlite.rollback(s);
    return rc;
}

/* ---------------------------------------------------------------- search */

/* HTML-escapes a snippet and turns the \x01 / \x02 markers FTS5 put around hits into <mark>
 * and </mark>: escape first, then mark, so stored text can never inject markup. */
static void snippet_html(dq_buf_t *out, const char *t)
{
    dq_buf_t h = {0};
    for (const char *p = t; *p; p++) {
        switch (*p) {
        case '<':
            dq_buf_puts(&h, "&lt;");
            break;
        case '>':
            dq_buf_puts(&h, "&gt;");
            break;
        case '&':
            dq_buf_puts(&h, "&amp;");
            break;
        case '"':
            dq_buf_puts(&h, "&quot;");
            break;
        case '\'':
            dq_buf_puts(&h, "&#39;");
            break;
        case '\x01':
            dq_buf_puts(&h, "<mark>");
            break;
        case '\x02':
            dq_buf_puts(&h, "</mark>");
            break;
        default:
            dq_buf_putc(&h, *p);
        }
    }
    dq_buf_putc(out, '"');
    dq_buf_json_str(out, h.data ? h.data : "", h.len);
    dq_buf_putc(out, '"');
    dq_buf_free(&h);
}

static void json_field(dq_buf_t *out, const char *key, json_t *v)
{
    dq_buf_printf(out, ",\"%s\":", key);
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)) : NULL;
    dq_buf_puts(out, t ? t : "null");
    free(t);
}

/* One item of the page from the stored document and the indexed columns (row: seq, id, doc,
 * year_from, year_to); snip is its snippet (NULL: none, or no text query when !text). */
static int item(sqlite3_stmt *row, int text, const char *snip, dq_buf_t *out, dq_err_t *err)
{
    const char *id = (const char *)sqlite3_column_text(row, 1);
    json_t *d = json_loadb((const char *)sqlite3_column_text(row, 2),
                           (size_t)sqlite3_column_bytes(row, 2), 0, NULL);
    if (!d)
        return dq_err_set(err, DQ_EINTERNAL, 500, "relic %s: stored document is not JSON", id);
    dq_buf_puts(out, "{\"id\":\"");
    dq_buf_json_str(out, id, strlen(id));
    dq_buf_putc(out, '"');
    json_field(out, "accession", json_object_get(d, "accession"));
    json_field(out, "title", json_object_get(d, "title"));
    json_t *cr = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(d, "creators"), i, c)
        json_array_append_new(cr, json_pack("{s:O}", "name", json_object_get(c, "name")));
    json_field(out, "creators", cr);
    json_decref(cr);
    json_field(out, "dynasty", json_object_get(d, "dynasty"));
    json_field(out, "object_type", json_object_get(d, "object_type"));
    json_field(out, "date_text", json_object_get(d, "date_text"));
    if (sqlite3_column_type(row, 3) == SQLITE_NULL)
        dq_buf_puts(out, ",\"year_from\":null,\"year_to\":null");
    else
        dq_buf_printf(out, ",\"year_from\":%d,\"year_to\":%d", sqlite3_column_int(row, 3),
                      sqlite3_column_int(row, 4));
    /* The thumbnail: the first "main" image, else the first image. */
    json_t *imgs = json_object_get(d, "images"), *pick = NULL;
    json_array_foreach(imgs, i, c) if (!pick && json_is_string(json_object_get(c, "role")) &&
                                       strcmp(json_string_value(json_object_get(c, "role")),
                                              "main") == 0) pick = c;
    if (!pick)
        pick = json_array_get(imgs, 0);
    const char *iid = pick ? json_string_value(json_object_get(pick, "image_id")) : NULL;
    if (iid) {
        dq_buf_puts(out, ",\"thumbnail\":\"/iiif/3/");
        dq_buf_json_str(out, iid, strlen(iid));
        dq_buf_puts(out, "/full/!400,400/0/default.jpg\",\"image_id\":\"");
        dq_buf_json_str(out, iid, strlen(iid));
        dq_buf_putc(out, '"');
    } else {
        dq_buf_puts(out, ",\"thumbnail\":null,\"image_id\":null");
    }
    json_decref(d);
    dq_buf_puts(out, ",\"snippet\":");
    if (text && snip)
        snippet_html(out, snip);
    else
        dq_buf_puts(out, "null");
    dq_buf_putc(out, '}');
    return 0;
}

/* ---------------------------------------------------------------- search: FTS5 parts */

/* Match sets up to this size are ranked exactly as before: bm25 of every match (about 1 µs a
 * row, so 3 ms here). */
#define RANK_EXACT_MAX 3000
/* Beyond it, bm25 of 150,000 matches would cost 130 ms (and bm25 of chosen rows through
 * rowid IN (...) costs ~100 µs a row: FTS5 re-runs the query per rowid). The matches are
 * split into tiers instead: (dictionary-boosted, all terms in title or creators), (boosted),
 * (title or creators), (the rest: body and description only). Rows of the title/creators
 * tiers are ordered by the bm25 of the query restricted to those columns when that query
 * has at most RANK_TIER_MAX matches; every other tier is in seq (catalogue) order, since its
 * rows match the same way in the same columns and bm25 would mostly tell their lengths
 * apart. */
#define RANK_TIER_MAX 5000

typedef struct {
    int64_t *id;
    double *score; /* NULL unless asked for */
    size_t n, cap;
} rowset_t;

static void rowset_free(rowset_t *r)
{
    free(r->id);
    free(r->score);
    memset(r, 0, sizeof(*r));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs sql (binding m1 to ?1, m2 to ?2 when non-NULL) and collects column 0 (rowids) and,
 * with want_score, column 1. A MATCH that FTS5 rejects is the query's fault: 400. */
static int fts_rows(dq_store_txn_t *s, const char *sql, const char *m1, const char *m2, int want_score,
                    rowset_t *out, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1, r, sorted = 1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        dq_sq_fail(s, err, "search");
        goto out;
    }
    sqlite3_bind_text(st, 1, m1, -1, SQLITE_STATIC);
    if (m2)
        sqlite3_bind_text(st, 2, m2, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->id = dq_xrealloc(out->id, out->cap * sizeof(*out->id));
            if (want_score)
                out->score = dq_xrealloc(out->score, out->cap * sizeof(*out->score));
        }
        int64_t id = sqlite3_column_int64(st, 0);
        if (out->n && id <= out->id[out->n - 1])
            sorted = 0;
        out->id[out->n] = id;
        if (want_score)
            out->score[out->n] = sqlite3_column_double(st, 1);
        out->n++;
    }
    if (r != SQLITE_DONE) {
        dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(s->db));
        goto out;
    }
    /* FTS5 returns rowids in ascending order; membership tests below rely on it */
    if (!sorted && !want_score)
        qsort(out->id, out->n, sizeof(*out->id), cmp_i64);
    DQ_ASSERT(sorted || !want_score);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Index of id in the ascending a[0..n), or -1. */
static long find_sorted(const int64_t *a, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == id ? (long)lo : -1;
}

/* Index of id in the ascending r->id, or -1. */
static long rowset_find(const rowset_t *r, int64_t id)
{
    return find_sorted(r->id, r->n, id);
}

typedef struct {
    int64_t seq;
    double score;
} ranked_t;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends " IN (a,b,...)" for ids[0..n). */
static void in_list(dq_buf_t *sql, const int64_t *ids, size_t n)
{
    dq_buf_puts(sql, " IN (");
    for (size_t i = 0; i < n; i++)
        dq_buf_printf(sql, i ? ",%lld" : "%lld", (long long)ids[i]);
    dq_buf_putc(sql, ')');
}

/* The title/creators tier: the rowids (ascending) of the rows that match expr, the query
 * restricted to those columns. When may_stop, it stops reading once it knows that the tier
 * has more than RANK_TIER_MAX rows (so it is not scored: seq order) and it has seen need of
 * them among r[0..n) (ascending): the first page of that tier is then known, and the rest of
 * the doclist is not read (for 山水 at 500,000 relics, 150,000 matches, this was a second
 * full pass of ~9 ms). *partial says whether it stopped early; the caller must then treat
 * rows past the last one read as unknown, which it can when nothing but this tier comes
 * before them in the order. */
static int tier_rows(dq_store_txn_t *s, const char *expr, const int64_t *r, size_t n, size_t need,
                     int may_stop, rowset_t *out, int *partial, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    size_t j = 0, seen = 0;
    int rc = -1, x;
    *partial = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1", -1, &st,
                           NULL) != SQLITE_OK) {
        dq_sq_fail(s, err, "search");
        goto out;
    }
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        DQ_ASSERT(out->n == 0 || id > out->id[out->n - 1]); /* FTS5: ascending rowids */
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->id = dq_xrealloc(out->id, out->cap * sizeof(*out->id));
        }
        out->id[out->n++] = id;
        while (j < n && r[j] < id)
            j++;
        if (j < n && r[j] == id)
            seen++;
        if (may_stop && out->n > RANK_TIER_MAX && seen >= need) {
            *partial = 1;
            x = SQLITE_DONE;
            break;
        }
    }
    if (x != SQLITE_DONE) {
        dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(s->db));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The relevance order of r[0..n) (ascending seqs, all FTS matches of p->match, n_match of
 * them in the table): fills page with the rows at positions [offset, offset + k). */
static int rank_page(dq_store_txn_t *s, const dq_relic_plan_t *p, const int64_t *r, size_t n,
                     size_t n_match, size_t offset, size_t k, int64_t *page, size_t *n_page,
                     dq_err_t *err)
{
    rowset_t all = {0}, boost = {0}, tier = {0};
    ranked_t *rk = NULL;
    int64_t *cls[4] = {NULL, NULL, NULL, NULL};
    size_t n_cls[4] = {0, 0, 0, 0}, need = offset + k, have = 0;
    dq_buf_t expr = {0};
    int rc = -1;
    *n_page = 0;
    rk = dq_xmalloc((n ? n : 1) * sizeof(*rk));
    if (n_match <= RANK_EXACT_MAX) {
        /* The exact order: the dictionary boost subtracts a constant, so whole-name matches
         * come first and keep their bm25 order among themselves. */
        if (fts_rows(s,
                     p->boost ? "SELECT rowid, " BM25 " - 100.0 * (rowid IN (SELECT rowid FROM"
                                " relic_fts WHERE relic_fts MATCH ?2)) FROM relic_fts"
                                " WHERE relic_fts MATCH ?1 ORDER BY rowid"
                              : "SELECT rowid, " BM25 " FROM relic_fts WHERE relic_fts MATCH ?1"
                                " ORDER BY rowid",
                     p->match, p->boost, 1, &all, err) < 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            long j = rowset_find(&all, r[i]);
            rk[i] = (ranked_t){r[i], j >= 0 ? all.score[j] : 0.0};
        }
        qsort(rk, n, sizeof(*rk), cmp_ranked);
        have = n;
    } else {
        if (p->boost && fts_rows(s, "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1",
                                 p->boost, NULL, 0, &boost, err) < 0)
            goto out;
        /* Early stop is safe only when no boosted row is listed: the boosted tiers come
         * first and need every row's title/creators membership. */
        int any_boosted = 0, partial = 0;
        for (size_t i = 0; i < boost.n && !any_boosted; i++)
            any_boosted = find_sorted(r, n, boost.id[i]) >= 0;
        dq_buf_printf(&expr, "{title creators} : (%s)", p->match);
        if (tier_rows(s, expr.data, r, n, need, !any_boosted, &tier, &partial, err) < 0)
            goto out;
        if (tier.n && tier.n <= RANK_TIER_MAX) { /* small enough to score: again, with bm25 */
            rowset_free(&tier);
            if (fts_rows(s,
                         "SELECT rowid, " BM25 " FROM relic_fts WHERE relic_fts MATCH ?1"
                         " ORDER BY rowid",
                         expr.data, NULL, 1, &tier, err) < 0)
                goto out;
        }
        for (int c = 0; c < 4; c++)
            cls[c] = dq_xmalloc((n ? n : 1) * sizeof(int64_t));
        for (size_t i = 0; i < n; i++) {
            int c = (boost.n && rowset_find(&boost, r[i]) >= 0 ? 0 : 2) +
                    (rowset_find(&tier, r[i]) >= 0 ? 0 : 1);
            cls[c][n_cls[c]++] = r[i];
        }
        /* After an early stop, rows past the last tier row read count as class 3: harmless,
         * because class 2 alone fills the page (tier_rows stopped only then). */
        DQ_ASSERT(!partial || (n_cls[0] + n_cls[1] == 0 && n_cls[2] >= need));
        for (int c = 0; c < 4 && have < need; c++) {
            for (size_t i = 0; i < n_cls[c]; i++) {
                long j = c % 2 == 0 && tier.score ? rowset_find(&tier, cls[c][i]) : -1;
                rk[have + i] = (ranked_t){cls[c][i], j >= 0 ? tier.score[j] : 0.0};
            }
            if (c % 2 == 0 && tier.score)
                qsort(rk + have, n_cls[c], sizeof(*rk), cmp_ranked);
            have += n_cls[c];
        }
    }
    for (size_t i = offset; i < have && i < need; i++)
        page[(*n_page)++] = rk[i].seq;
    rc = 0;
out:
    for (int c = 0; c < 4; c++)
        free(cls[c]);
    free(rk);
    rowset_free(&all);
    rowset_free(&boost);
    rowset_free(&tier);
    dq_buf_free(&expr);
    return rc;
}

/* The snippets of the page's rows, in one FTS5 query: snip[i] for page[i] (owned, NULL when
 * none). The best-matching column is chosen by FTS5 (-1). */
static int snippets(dq_store_txn_t *s, const char *match, const int64_t *page, size_t n, char **snip,
                    dq_err_t *err)
{
    dq_buf_t sql = {0};
    sqlite3_stmt *st = NULL;
    int rc = -1, r;
    if (!n)
        return 0;
    dq_buf_puts(&sql, "SELECT rowid, snippet(relic_fts, -1, char(1), char(2), '…', 24)"
                      " FROM relic_fts WHERE relic_fts MATCH ?1 AND rowid");
    in_list(&sql, page, n);
    if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        dq_sq_fail(s, err, "snippet");
        goto out;
    }
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *t = (const char *)sqlite3_column_text(st, 1);
        for (size_t i = 0; i < n; i++)
            if (page[i] == id && t && !snip[i])
                snip[i] = dq_xstrdup(t);
    }
    if (r != SQLITE_DONE) {
        dq_sq_fail(s, err, "snippet");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    dq_buf_free(&sql);
    return rc;
}

/* ---------------------------------------------------------------- search */

/* A search: (1) the FTS5 matches as a rowid list (text queries only); (2) the in-memory index
 * filters them (or every relic), counts the facets and (3) picks the page: the top k of the
 * sort key with a heap, or the relevance order (rank_page); (4) only the page's documents and
 * snippets are read. Date and accession cursors are keysets on (sort key, seq). Relevance
 * cannot be a keyset: bm25 depends on corpus statistics, so a row inserted between two pages
 * moves every score and a keyset on the old score would repeat or skip rows. Its cursor is
 * instead (offset, snapshot seq): later pages see only rows that existed when the first page
 * was made (seq never goes back), so inserts cannot shift them. */
static int search_locked(dq_store_txn_t *s, const dq_relic_query_t *q, const dq_relic_plan_t *p,
                         int show_restricted, dq_buf_t *out, dq_err_t *err)
{
    rowset_t m = {0};
    dq_rsel_t sel = {0};
    dq_buf_t fac = {0}, next = {0};
    int64_t *page = NULL;
    char **snip = NULL;
    size_t n_page = 0, k = (size_t)p->limit + 1;
    int text = p->match != NULL, rc = -1, rel = p->sort == DQ_RELIC_SORT_RELEVANCE;
    sqlite3_stmt *st;

    if (dq_sqlite_rindex_sync(s, err) < 0)
        goto out;
    if (text && fts_rows(s, "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1", p->match, NULL,
                         0, &m, err) < 0)
        goto out;
    dq_sqlite_rindex_select(s, q, show_restricted, p->lang_en, text, m.id, m.n, &sel,
                            q->facets ? &fac : NULL);
    page = dq_xmalloc(k * sizeof(*page));
    int64_t snapshot = p->has_cursor ? p->cursor_rowid : dq_sqlite_rindex_max_seq(s);
    size_t offset = rel && p->has_cursor ? (size_t)p->cursor_num : 0;
    if (rel) {
        size_t n = 0; /* rows inserted after the first page are not part of this listing */
        while (n < sel.n && sel.seq[n] <= snapshot)
            n++;
        if (rank_page(s, p, sel.seq, n, m.n, offset, k, page, &n_page, err) < 0)
            goto out;
    } else {
        n_page = dq_sqlite_rindex_page(s, p, &sel, page, k);
    }
    size_t shown = n_page < (size_t)p->limit ? n_page : (size_t)p->limit;
    snip = dq_xcalloc(k, sizeof(*snip));
    if (text && snippets(s, p->match, page, shown, snip, err) < 0)
        goto out;
    dq_buf_printf(out, "{\"total\":%lld,\"items\":[", (long long)sel.n);
    int n = 0;
    for (size_t i = 0; i < shown; i++) {
        if (!(st = stmt(s, S_PAGE_ROW, err)))
            goto out;
        sqlite3_bind_int64(st, 1, page[i]);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            if (n++)
                dq_buf_putc(out, ',');
            if (item(st, text, snip[i], out, err) < 0) {
                sqlite3_reset(st);
                goto out;
            }
        }
        sqlite3_reset(st);
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            dq_sq_fail(s, err, "search page");
            goto out;
        }
        dq_buf_reset(&next);
        if (rel) {
            dq_relic_cursor_encode(&next, p->sort, (double)(offset + i + 1), NULL, snapshot);
        } else {
            double num;
            const char *str;
            dq_sqlite_rindex_sort_key(s, p->sort, page[i], &num, &str);
            dq_relic_cursor_encode(&next, p->sort, num,
                                   p->sort == DQ_RELIC_SORT_ACCESSION ? str : NULL, page[i]);
        }
    }
    dq_buf_putc(out, ']');
    if (fac.len)
        dq_buf_append(out, fac.data, fac.len);
    if (n_page > (size_t)p->limit) { /* one more row exists: the cursor points after the last */
        dq_buf_puts(out, ",\"next_cursor\":\"");
        dq_buf_append(out, next.data, next.len);
        dq_buf_puts(out, "\"}");
    } else {
        dq_buf_puts(out, ",\"next_cursor\":null}");
    }
    rc = 0;
out:
    for (size_t i = 0; snip && i < k; i++)
        free(snip[i]);
    free(snip);
    free(page);
    rowset_free(&m);
    dq_sqlite_rsel_free(&sel);
    dq_buf_free(&fac);
    dq_buf_free(&next);
    return rc;
}

/* Search and warm-up read on a pooled connection under ixlock, the index's lock: they never
 * wait for a writer (a write only takes ixlock for a moment after its commit). */
static int relic_warm(void *impl, dq_err_t *err)
{
    store_t *st = impl;
    dq_store_txn_t *s;
    if (dq_store_sqlite.begin(impl, 0, &s, err) < 0)
        return -1;
    pthread_mutex_lock(&st->ixlock);
    int rc = dq_sqlite_rindex_sync(s, err);
    pthread_mutex_unlock(&st->ixlock);
    dq_store_sqlite.rollback(s);
    return rc;
}

static int relic_search(void *impl, const dq_relic_query_t *q, const dq_relic_plan_t *plan,
                        int show_restricted, dq_buf_t *out, dq_err_t *err)
{
    store_t *st = impl;
    dq_store_txn_t *s;
    size_t mark = out->len;
    if (dq_store_sqlite.begin(impl, 0, &s, err) < 0)
        return -1;
    pthread_mutex_lock(&st->ixlock);
    int rc = search_locked(s, q, plan, show_restricted, out, err);
    pthread_mutex_unlock(&st->ixlock);
    dq_store_sqlite.rollback(s);
    if (rc < 0) { /* leave out as it was */
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

const dq_store_relic_ops dq_sqlite_relic_ops = {
    .search_handle = relic_search_handle,
    .load = relic_load,
    .save = relic_save,
    .remove = relic_remove,
    .new_id = relic_new_id,
    .image_exists = relic_image_exists,
    .get = relic_get,
    .search = relic_search,
    .warm = relic_warm,
    .counts = relic_counts,
    .names = relic_names,
};
