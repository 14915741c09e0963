/*
 * store_sqlite_relic.c: relic records in SQLite. One row per relic in `relics` (the canonical
 * document as JSON text plus the columns search filters and sorts on), the many-valued facets
 * in `relic_subjects` and `relic_creators`, the ordered image links in `relic_images`, and an
 * FTS5 table `relic_fts` (title, creators, body, description) tokenized by search/'s
 * "danqing" tokenizer and ranked by bm25 with column weights 10, 8, 2, 1. Everything is
 * written explicitly by relic_save inside the caller's transaction (no triggers: the import
 * path prepares each statement once and reuses it for a whole batch).
 *
 * These are row primitives (dq_store_relic_ops, store.h): load, save, remove, new ids, image
 * checks, and the rows the facet index (relic_index.c) is built and refreshed from. Full-text
 * matching and snippets are store_sqlite_relic_search.c. Validation, ranking, facets and JSON
 * are not here (relic_doc.c, relic_search.c).
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

/* Migration 8: a read-only view of relic_fts's term occurrences (FTS5 §7 fts5vocab,
 * "instance": one row per occurrence, in doclist order), which bounded a query's matches
 * before it ran. Since issue 9's session 20 the bound is the walk itself (stopped early and
 * reused, store_sqlite_relic_search.c) and nothing reads this view; it stays, as every
 * migration does, and costs nothing (a view over the index, no storage). */
const char dq_sqlite_relic_vocab_schema[] =
    "CREATE VIRTUAL TABLE relic_fts_vocab USING fts5vocab(relic_fts, 'instance');";


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
    [S_AUDIT] = "INSERT INTO audit (who, at, action, object, detail) VALUES (?1, " DQ_SQ_NOW
                ", ?2, ?3, ?4)",
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

static int relic_load(dq_store_txn_t *txn, const char *id, const char *accession,
                      dq_relic_stored_t *out, dq_err_t *err)
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
        return 1;
    }
    int64_t seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (clear_children(s, seq, err) < 0 || !(st = stmt(s, S_DELETE, err)))
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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

/* ---------------------------------------------------------------- index rows */

#define IX_COLS                                                                                    \
    "seq, id, accession, dynasty, object_type, medium, year_from, year_to, restricted, has_images"

/* The list values (subjects; creator name pairs) of the relic being read, copied: the child
 * statements step past them to find the next relic's rows. */
typedef struct {
    dq_buf_t text;          /* NUL-separated strings */
    size_t off[2 * 256], n; /* offsets into text */
    const char *ptr[2 * 256];
} strlist_t;

static void strlist_add(strlist_t *l, const char *s)
{
    if (l->n == DQ_ARRAY_LEN(l->off))
        return; /* the index keeps at most 255 of each */
    l->off[l->n++] = l->text.len;
    dq_buf_append(&l->text, s ? s : "", strlen(s ? s : "") + 1);
}

static const char *const *strlist_ptrs(strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->ptr[i] = l->text.data + l->off[i];
    return l->ptr;
}

/* A child table walked alongside relics in relic order: st's current row is for relic `at`
 * (0: done). */
typedef struct {
    sqlite3_stmt *st;
    int64_t at;
} child_t;

static int child_step(dq_store_txn_t *t, child_t *c, dq_err_t *err)
{
    int r = sqlite3_step(c->st);
    if (r == SQLITE_ROW) {
        c->at = sqlite3_column_int64(c->st, 0);
        return 0;
    }
    c->at = 0;
    return r == SQLITE_DONE ? 0 : dq_sq_fail(t, err, "index rows");
}

/* Collects the rows of c for relic seq into l (ncol text columns from column 1). */
static int child_take(dq_store_txn_t *t, child_t *c, int64_t seq, int ncol, strlist_t *l,
                      dq_err_t *err)
{
    dq_buf_reset(&l->text);
    l->n = 0;
    while (c->at && c->at < seq) /* rows of relics that are gone: skip */
        if (child_step(t, c, err) < 0)
            return -1;
    while (c->at == seq) {
        for (int k = 0; k < ncol; k++)
            strlist_add(l, (const char *)sqlite3_column_text(c->st, 1 + k));
        if (child_step(t, c, err) < 0)
            return -1;
    }
    return 0;
}

static int relic_index_rows(dq_store_txn_t *t, const char *id, dq_relic_ixrow_cb cb, void *ud,
                            dq_err_t *err)
{
    /* One relic: by id. Every relic: three walks in seq order merged here (relics by rowid;
     * relic_subjects_relic is (relic, subject); relic_creators is WITHOUT ROWID on (relic,
     * pos)): three statements, no JSON, about 0.3 s per 100,000 relics. */
    sqlite3_stmt *st = NULL;
    child_t subj = {0}, cre = {0};
    strlist_t *ls = dq_xcalloc(1, sizeof(*ls)), *lc = dq_xcalloc(1, sizeof(*lc));
    int rc = -1, r;
    if (id) {
        st = dq_sq_stmt(t, "SELECT " IX_COLS " FROM relics WHERE id = ?1", err);
        subj.st = dq_sq_stmt(t,
                             "SELECT relic, subject FROM relic_subjects WHERE relic ="
                             " (SELECT seq FROM relics WHERE id = ?1) ORDER BY subject",
                             err);
        cre.st = dq_sq_stmt(t,
                            "SELECT relic, name, name_en FROM relic_creators WHERE relic ="
                            " (SELECT seq FROM relics WHERE id = ?1) ORDER BY pos",
                            err);
    } else {
        st = dq_sq_stmt(t, "SELECT " IX_COLS " FROM relics ORDER BY seq", err);
        subj.st = dq_sq_stmt(t,
                             "SELECT relic, subject FROM relic_subjects INDEXED BY"
                             " relic_subjects_relic ORDER BY relic",
                             err);
        cre.st = dq_sq_stmt(
            t, "SELECT relic, name, name_en FROM relic_creators ORDER BY relic, pos", err);
    }
    if (!st || !subj.st || !cre.st)
        goto out;
    if (id) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(subj.st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(cre.st, 1, id, -1, SQLITE_STATIC);
    }
    if (child_step(t, &subj, err) < 0 || child_step(t, &cre, err) < 0)
        goto out;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        dq_relic_ixrow_t x = {0};
        x.seq = sqlite3_column_int64(st, 0);
        if (child_take(t, &subj, x.seq, 1, ls, err) < 0 ||
            child_take(t, &cre, x.seq, 2, lc, err) < 0)
            goto out;
        x.id = (const char *)sqlite3_column_text(st, 1);
        x.accession = (const char *)sqlite3_column_text(st, 2);
        x.dynasty = (const char *)sqlite3_column_text(st, 3);
        x.object_type = (const char *)sqlite3_column_text(st, 4);
        x.medium = (const char *)sqlite3_column_text(st, 5);
        x.has_year = sqlite3_column_type(st, 6) != SQLITE_NULL;
        x.year_from = sqlite3_column_int(st, 6);
        x.year_to = sqlite3_column_int(st, 7);
        x.restricted = sqlite3_column_int(st, 8);
        x.has_images = sqlite3_column_int(st, 9);
        x.subjects = strlist_ptrs(ls);
        x.n_subjects = (int)ls->n;
        const char *const *c = strlist_ptrs(lc);
        const char *names[256], *names_en[256];
        x.n_creators = (int)(lc->n / 2);
        for (int i = 0; i < x.n_creators; i++) {
            names[i] = c[2 * i];
            names_en[i] = c[2 * i + 1];
        }
        x.creators = names;
        x.creators_en = names_en;
        if (cb(ud, &x))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_sq_fail(t, err, "index rows");
        goto out;
    }
    rc = 0;
out:
    /* cached statements: reset so that they hold no read cursor */
    if (st)
        sqlite3_reset(st);
    if (subj.st)
        sqlite3_reset(subj.st);
    if (cre.st)
        sqlite3_reset(cre.st);
    dq_buf_free(&ls->text);
    dq_buf_free(&lc->text);
    free(ls);
    free(lc);
    return rc;
}

/* ---------------------------------------------------------------- import batches */

/* SQLite answers in process: the batch primitives are the single ones in a loop. */
static int relic_load_accessions(dq_store_txn_t *txn, const char *const *accessions, int n,
                                 int (*cb)(void *ud, int i, const dq_relic_stored_t *row),
                                 void *ud, dq_err_t *err)
{
    for (int i = 0; i < n; i++) {
        dq_relic_stored_t row = {0};
        int r = relic_load(txn, NULL, accessions[i], &row, err);
        if (r < 0)
            return -1;
        if (r == 0 && cb(ud, i, &row) != 0)
            return 0;
    }
    return 0;
}

static int relic_insert_many(dq_store_txn_t *txn, const dq_relic_row_t *rows, int n,
                             char (*ids)[64], dq_err_t *errs, dq_err_t *err)
{
    for (int i = 0; i < n; i++) {
        dq_relic_row_t r = rows[i];
        dq_err_clear(&errs[i]);
        if (!r.id) {
            char nid[32];
            if (relic_new_id(txn, nid, err) < 0)
                return -1;
            snprintf(ids[i], 64, "%s", nid);
        } else {
            snprintf(ids[i], 64, "%s", r.id);
        }
        r.id = ids[i];
        if (relic_save(txn, &r, &errs[i]) < 0 && errs[i].code != DQ_EEXIST) {
            *err = errs[i];
            return -1;
        }
    }
    return 0;
}

const dq_store_relic_ops dq_sqlite_relic_ops = {
    .search_handle = relic_search_handle,
    .load = relic_load,
    .save = relic_save,
    .remove = relic_remove,
    .new_id = relic_new_id,
    .image_exists = relic_image_exists,
    .index_rows = relic_index_rows,
    .match = dq_sqlite_relic_match,
    .match_bound = dq_sqlite_relic_match_bound,
    .snippets = dq_sqlite_relic_snippets,
    .counts = relic_counts,
    .names = relic_names,
    .load_accessions = relic_load_accessions,
    .insert_many = relic_insert_many,
};
