/*
 * store_sqlite_relic.c: relic records in SQLite. One row per relic in `relics` (the canonical
 * document as JSON text plus the columns search filters and sorts on), the many-valued facets
 * in `relic_subjects` and `relic_creators`, the ordered image links in `relic_images`, and an
 * FTS5 table `relic_fts` (title, creators, body, description) tokenized by search/'s
 * "danqing" tokenizer and ranked by bm25 with column weights 10, 8, 2, 1. Everything is
 * written explicitly by relic_save inside the caller's transaction (no triggers: the import
 * path prepares each statement once and reuses it for a whole batch).
 *
 * Search runs as: (1) with text, the FTS5 matches (rowid, score) go to a TEMP table once;
 * (2) total, page and each facet are indexed queries over relics joined with that table,
 * each facet with every filter but its own; (3) the page is a keyset on (sort key, seq), so
 * paging is stable under inserts. It does not validate documents (relic.c does).
 */
#include "store_sqlite_internal.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

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
    N_STMT
};

static const char *const stmt_sql[N_STMT] = {
    [S_LOAD_ID] = "SELECT id, version, created_at, updated_at, doc FROM relics WHERE id = ?1",
    [S_LOAD_ACC] =
        "SELECT id, version, created_at, updated_at, doc FROM relics WHERE accession = ?1",
    [S_INSERT] = "INSERT INTO relics (id, accession, version, doc, dynasty, object_type, medium,"
                 " year_from, year_to, sort_year, sort_year_desc, restricted, has_images,"
                 " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                 " ?12, ?13, coalesce(?14, " NOW_SQL "), " NOW_SQL ")",
    [S_UPDATE] = "UPDATE relics SET accession = ?2, version = ?3, doc = ?4, dynasty = ?5,"
                 " object_type = ?6, medium = ?7, year_from = ?8, year_to = ?9, sort_year = ?10,"
                 " sort_year_desc = ?11, restricted = ?12, has_images = ?13,"
                 " updated_at = " NOW_SQL " WHERE id = ?1",
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
        "INSERT INTO audit (who, at, action, object, detail) VALUES (?1, " NOW_SQL ", ?2, ?3, ?4)",
    [S_NEXT_SEQ] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'relics'), 0)"
                   " + 1, strftime('%Y', 'now')",
    [S_ID_TAKEN] = "SELECT 1 FROM relics WHERE id = ?1",
};

struct relic_cache {
    sqlite3_stmt *st[N_STMT]; /* prepared lazily, reset after each use */
    dq_buf_t loaded;          /* the doc relic_load last returned (borrowed by callers) */
};

static int db_fail(store_t *s, dq_err_t *err, const char *what)
{
    return dq_err_set(err, DQ_EIO, 500, "catalog: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(store_t *s, const char *sql, dq_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        dq_err_set(err, DQ_EIO, 500, "catalog: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The cached statement k, reset and unbound, or NULL with err. */
static sqlite3_stmt *stmt(store_t *s, int k, dq_err_t *err)
{
    sqlite3_stmt **p = &s->relic->st[k];
    if (!*p) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT, p, NULL) !=
            SQLITE_OK) {
            db_fail(s, err, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(*p);
        sqlite3_clear_bindings(*p);
    }
    return *p;
}

/* Steps a statement to completion; resets it. */
static int run(store_t *s, sqlite3_stmt *st, dq_err_t *err)
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
            db_fail(s, err, "step");
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

int dq_sqlite_relic_open(store_t *s, dq_err_t *err)
{
    s->relic = dq_xcalloc(1, sizeof(*s->relic));
    /* The match table of a search lives in memory, per connection; a 64 MiB page cache keeps
     * the eight relic indexes of a bulk import in memory. automerge 8 and
     * crisismerge 32: fewer, larger merges during bulk imports (the FTS5 defaults are 4 and
     * 16); queries stay fast because a search reads few segments either way. */
    if (exec(s,
             "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;"
             "CREATE TEMP TABLE IF NOT EXISTS relic_match (rowid INTEGER PRIMARY KEY, score REAL);"
             "INSERT INTO relic_fts (relic_fts, rank) VALUES ('automerge', 8);"
             "INSERT INTO relic_fts (relic_fts, rank) VALUES ('crisismerge', 32);",
             err) < 0)
        return -1;
    return dq_sqlite_relic_names(s, add_name, s->search, err);
}

void dq_sqlite_relic_close(store_t *s)
{
    if (!s->relic)
        return;
    for (int i = 0; i < N_STMT; i++)
        sqlite3_finalize(s->relic->st[i]);
    dq_buf_free(&s->relic->loaded);
    free(s->relic);
    s->relic = NULL;
}

struct dq_search *dq_sqlite_relic_search_handle(void *impl)
{
    return ((store_t *)impl)->search;
}

/* ---------------------------------------------------------------- transactions */

int dq_sqlite_relic_txn(void *impl, dq_relic_txn_fn fn, void *ud, dq_err_t *err)
{
    store_t *s = impl;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    if (fn(ud, s, err) < 0)
        goto out;
    if (exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0 && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Reads the current row of a S_LOAD_* statement into out (doc copied into the cache). */
static void load_row(store_t *s, sqlite3_stmt *st, dq_relic_stored_t *out)
{
    copy_col(out->id, sizeof(out->id), st, 0);
    out->version = sqlite3_column_int64(st, 1);
    copy_col(out->created_at, sizeof(out->created_at), st, 2);
    copy_col(out->updated_at, sizeof(out->updated_at), st, 3);
    dq_buf_reset(&s->relic->loaded);
    dq_buf_append(&s->relic->loaded, sqlite3_column_text(st, 4),
                  (size_t)sqlite3_column_bytes(st, 4));
    out->doc = s->relic->loaded.data;
    out->doc_len = s->relic->loaded.len;
}

int dq_sqlite_relic_load(void *txn, const char *id, const char *accession, dq_relic_stored_t *out,
                         dq_err_t *err)
{
    store_t *s = txn;
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
        rc = db_fail(s, err, "relic_load");
    }
    sqlite3_reset(st);
    return rc;
}

/* The relic's children and FTS entry, (re)written for seq. */
static int save_children(store_t *s, int64_t seq, const dq_relic_row_t *r, dq_err_t *err)
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
    }
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
static int clear_children(store_t *s, int64_t seq, dq_err_t *err)
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

int dq_sqlite_relic_save(void *txn, const dq_relic_row_t *r, dq_err_t *err)
{
    store_t *s = txn;
    sqlite3_stmt *st;
    int64_t seq = 0;
    /* A savepoint, so that a row that fails half-way (a duplicate accession) leaves nothing
     * behind and the batch around it goes on. */
    if (exec(s, "SAVEPOINT relic_save", err) < 0)
        return -1;
    if (r->version == 1) {
        if (!(st = stmt(s, S_INSERT, err)))
            goto fail;
        bind_row(st, r);
        bind_text(st, 14, r->created_at);
        if (run(s, st, err) < 0)
            goto fail;
        seq = sqlite3_last_insert_rowid(s->db);
    } else {
        if (!(st = stmt(s, S_SEQ_OF, err)))
            goto fail;
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", r->id);
            goto fail;
        }
        seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (clear_children(s, seq, err) < 0 || !(st = stmt(s, S_UPDATE, err)))
            goto fail;
        bind_row(st, r);
        if (run(s, st, err) < 0)
            goto fail;
    }
    if (save_children(s, seq, r, err) < 0)
        goto fail;
    return exec(s, "RELEASE relic_save", err);
fail:
    sqlite3_exec(s->db, "ROLLBACK TO relic_save; RELEASE relic_save", NULL, NULL, NULL);
    return -1;
}

int dq_sqlite_relic_remove(void *txn, const char *id, dq_err_t *err)
{
    store_t *s = txn;
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
    return run(s, st, err);
}

int dq_sqlite_relic_new_id(void *txn, char id[32], dq_err_t *err)
{
    store_t *s = txn;
    sqlite3_stmt *st = stmt(s, S_NEXT_SEQ, err);
    if (!st)
        return -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return db_fail(s, err, "next id");
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
            return db_fail(s, err, "next id");
    }
}

int dq_sqlite_relic_image_exists(void *txn, const char *image_id, dq_err_t *err)
{
    store_t *s = txn;
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
    return db_fail(s, err, "image lookup");
}

int dq_sqlite_relic_audit(void *txn, const char *who, const char *action, const char *object,
                          const char *detail, dq_err_t *err)
{
    store_t *s = txn;
    sqlite3_stmt *st = stmt(s, S_AUDIT, err);
    if (!st)
        return -1;
    bind_text(st, 1, who);
    bind_text(st, 2, action);
    bind_text(st, 3, object);
    bind_text(st, 4, detail);
    return run(s, st, err);
}

/* ---------------------------------------------------------------- reads */

int dq_sqlite_relic_get(void *impl, const char *id, dq_relic_stored_t *out, dq_buf_t *out_doc,
                        dq_err_t *err)
{
    store_t *s = impl;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    int r = dq_sqlite_relic_load(s, id, NULL, out, err);
    if (r == 1)
        dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", id);
    if (r == 0) {
        dq_buf_append(out_doc, out->doc, out->doc_len);
        out->doc = NULL;
        out->doc_len = 0;
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_relic_image_visible(void *impl, const char *image_id, int show_restricted)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int vis = 0;
    if (show_restricted)
        return 1;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*), coalesce(sum(r.restricted = 0), 0) FROM relic_images i"
                           " JOIN relics r ON r.seq = i.relic WHERE i.image_id = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            vis = sqlite3_column_int64(st, 0) == 0 || sqlite3_column_int64(st, 1) > 0;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return vis;
}

static int count_query(store_t *s, const char *sql, int64_t *n, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        db_fail(s, err, "count");
        goto out;
    }
    *n = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int dq_sqlite_relic_counts(void *impl, int show_restricted, int64_t *relics, int64_t *images,
                           dq_err_t *err)
{
    store_t *s = impl;
    pthread_mutex_lock(&s->lock);
    int rc = count_query(s,
                         show_restricted ? "SELECT count(*) FROM relics"
                                         : "SELECT count(*) FROM relics WHERE restricted = 0",
                         relics, err) < 0 ||
                     count_query(s, "SELECT count(*) FROM images", images, err) < 0
                 ? -1
                 : 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_relic_audit_list(void *impl, const char *object, int limit, int64_t before_seq,
                               dq_buf_t *out, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, n = 0, r;
    int64_t last = 0;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq, at, who, action, object, detail FROM audit"
                           " WHERE (?1 IS NULL OR object = ?1) AND (?2 = 0 OR seq < ?2)"
                           " ORDER BY seq DESC LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "audit list");
        goto out;
    }
    bind_text(st, 1, object);
    sqlite3_bind_int64(st, 2, before_seq);
    sqlite3_bind_int(st, 3, limit + 1);
    dq_buf_puts(out, "{\"items\":[");
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            n++;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        dq_buf_puts(out, n ? ",{" : "{");
        static const char *const names[] = {"at", "who", "action", "object"};
        for (int c = 0; c < 4; c++) {
            const char *t = (const char *)sqlite3_column_text(st, c + 1);
            dq_buf_printf(out, "\"%s\":\"", names[c]);
            dq_buf_json_str(out, t ? t : "", t ? strlen(t) : 0);
            dq_buf_puts(out, "\",");
        }
        dq_buf_puts(out, "\"detail\":");
        dq_buf_puts(out, (const char *)sqlite3_column_text(st, 5)); /* json_valid by CHECK */
        dq_buf_putc(out, '}');
        n++;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        db_fail(s, err, "audit list");
        goto out;
    }
    if (n > limit)
        dq_buf_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last);
    else
        dq_buf_puts(out, "],\"next_cursor\":null}");
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_relic_names(void *impl, int (*cb)(void *ud, const char *name), void *ud,
                          dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1, r;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT name FROM relic_creators UNION SELECT name_en FROM relic_creators"
            " UNION SELECT json_extract(doc, '$.title.zh') FROM relics",
            -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "names");
        goto out;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && cb(ud, t) != 0)
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        db_fail(s, err, "names");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- search */

/* Filters, as bits: a facet's query leaves its own bit out. */
enum { F_DYN = 1, F_TYPE = 2, F_SUBJ = 4, F_CRE = 8, F_MED = 16, F_IMG = 32 };

typedef struct {
    const dq_relic_query_t *q;
    const dq_relic_plan_t *p;
    int show_restricted;
    int text; /* 1: relic_match holds the FTS matches */
} search_t;

/* Appends " FROM ... WHERE ..." for every filter not in `except`; binds follow in order
 * through bind_where. */
static void where_sql(const search_t *x, unsigned except, dq_buf_t *b)
{
    const dq_relic_query_t *q = x->q;
    dq_buf_puts(b, x->text ? " FROM relic_match m CROSS JOIN relics r ON r.seq = m.rowid WHERE 1"
                           : " FROM relics r WHERE 1");
    if (!x->show_restricted)
        dq_buf_puts(b, " AND r.restricted = 0");
    if (q->dynasty && !(except & F_DYN))
        dq_buf_puts(b, " AND r.dynasty = ?");
    if (q->object_type && !(except & F_TYPE))
        dq_buf_puts(b, " AND r.object_type = ?");
    if (q->medium && !(except & F_MED))
        dq_buf_puts(b, " AND r.medium = ?");
    if (q->has_images >= 0 && !(except & F_IMG))
        dq_buf_puts(b, " AND r.has_images = ?");
    /* Overlap (docs/api.md): the work's span meets the asked span. */
    if (q->year_from != INT_MIN)
        dq_buf_puts(b, " AND r.year_to >= ?");
    if (q->year_to != INT_MAX)
        dq_buf_puts(b, " AND r.year_from <= ?");
    if (q->subject && !(except & F_SUBJ))
        dq_buf_puts(b, " AND EXISTS (SELECT 1 FROM relic_subjects s0 WHERE s0.subject = ?"
                       " AND s0.relic = r.seq)");
    if (q->creator && !(except & F_CRE))
        dq_buf_puts(b, " AND r.seq IN (SELECT relic FROM relic_creators WHERE name = ?"
                       " UNION SELECT relic FROM relic_creators WHERE name_en = ?)");
}

static int bind_where(const search_t *x, unsigned except, sqlite3_stmt *st, int i)
{
    const dq_relic_query_t *q = x->q;
    if (q->dynasty && !(except & F_DYN))
        sqlite3_bind_text(st, i++, q->dynasty, -1, SQLITE_STATIC);
    if (q->object_type && !(except & F_TYPE))
        sqlite3_bind_text(st, i++, q->object_type, -1, SQLITE_STATIC);
    if (q->medium && !(except & F_MED))
        sqlite3_bind_text(st, i++, q->medium, -1, SQLITE_STATIC);
    if (q->has_images >= 0 && !(except & F_IMG))
        sqlite3_bind_int(st, i++, q->has_images);
    if (q->year_from != INT_MIN)
        sqlite3_bind_int(st, i++, q->year_from);
    if (q->year_to != INT_MAX)
        sqlite3_bind_int(st, i++, q->year_to);
    if (q->subject && !(except & F_SUBJ))
        sqlite3_bind_text(st, i++, q->subject, -1, SQLITE_STATIC);
    if (q->creator && !(except & F_CRE)) {
        sqlite3_bind_text(st, i++, q->creator, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, i++, q->creator, -1, SQLITE_STATIC);
    }
    return i;
}

/* One facet: {"key":…, "count":…} pairs, most frequent first (then by key), at most 50. */
static int facet(store_t *s, const search_t *x, const char *name, unsigned except,
                 const char *key_sql, const char *join, dq_buf_t *out, dq_err_t *err)
{
    dq_buf_t sql = {0};
    sqlite3_stmt *st = NULL;
    int rc = -1, r, n = 0;
    dq_buf_printf(&sql, "SELECT %s AS k, count(*) AS c", key_sql);
    dq_buf_t w = {0};
    where_sql(x, except, &w);
    /* the join goes between FROM ... and WHERE */
    char *wh = strstr(w.data, " WHERE ");
    dq_buf_append(&sql, w.data, (size_t)(wh - w.data));
    dq_buf_puts(&sql, join);
    dq_buf_puts(&sql, wh);
    dq_buf_printf(&sql, " AND %s IS NOT NULL GROUP BY k ORDER BY c DESC, k LIMIT 50", key_sql);
    dq_buf_free(&w);
    if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "facet");
        goto out;
    }
    bind_where(x, except, st, 1);
    dq_buf_printf(out, "\"%s\":[", name);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        dq_buf_puts(out, n++ ? ",{\"key\":\"" : "{\"key\":\"");
        dq_buf_json_str(out, k ? k : "", k ? strlen(k) : 0);
        dq_buf_printf(out, "\",\"count\":%lld}", (long long)sqlite3_column_int64(st, 1));
    }
    if (r != SQLITE_DONE) {
        db_fail(s, err, "facet");
        goto out;
    }
    dq_buf_putc(out, ']');
    rc = 0;
out:
    sqlite3_finalize(st);
    dq_buf_free(&sql);
    return rc;
}

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

/* One item of the page from the stored document and the indexed columns. */
static int item(store_t *s, const search_t *x, sqlite3_stmt *row, dq_buf_t *out, dq_err_t *err)
{
    int64_t seq = sqlite3_column_int64(row, 0);
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
    if (!x->text) {
        dq_buf_puts(out, "null}");
        return 0;
    }
    /* snippet() needs the full-text query context; rowid = ? makes it one lookup. The
     * description column is preferred for English readers only when it matches; -1 lets
     * FTS5 pick the best-matching column. */
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT snippet(relic_fts, -1, char(1), char(2), '…', 24)"
                           " FROM relic_fts WHERE relic_fts MATCH ?1 AND rowid = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "snippet");
        goto out;
    }
    sqlite3_bind_text(st, 1, x->p->match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snippet_html(out, (const char *)sqlite3_column_text(st, 0));
    else
        dq_buf_puts(out, "null");
    dq_buf_putc(out, '}');
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int search_locked(store_t *s, const search_t *x, dq_buf_t *out, dq_err_t *err)
{
    const dq_relic_plan_t *p = x->p;
    sqlite3_stmt *st = NULL;
    dq_buf_t sql = {0};
    int rc = -1, r;
    int64_t total = 0;

    if (x->text) {
        /* The matches once, into memory: total, page and six facets all join with it. The
         * dictionary boost subtracts a constant, so whole-name matches come first and keep
         * their bm25 order among themselves. */
        if (sqlite3_exec(s->db, "DELETE FROM temp.relic_match", NULL, NULL, NULL) != SQLITE_OK) {
            db_fail(s, err, "search");
            goto out;
        }
        if (p->sort != DQ_RELIC_SORT_RELEVANCE)
            dq_buf_puts(&sql, "INSERT INTO temp.relic_match SELECT rowid, 0 FROM relic_fts"
                              " WHERE relic_fts MATCH ?1");
        else if (p->boost)
            dq_buf_puts(&sql, "INSERT INTO temp.relic_match SELECT rowid, " BM25
                              " - 100.0 * (rowid IN (SELECT rowid FROM relic_fts WHERE relic_fts"
                              " MATCH ?2)) FROM relic_fts WHERE relic_fts MATCH ?1");
        else
            dq_buf_puts(&sql, "INSERT INTO temp.relic_match SELECT rowid, " BM25
                              " FROM relic_fts WHERE relic_fts MATCH ?1");
        if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
            db_fail(s, err, "search");
            goto out;
        }
        sqlite3_bind_text(st, 1, p->match, -1, SQLITE_STATIC);
        if (p->boost && p->sort == DQ_RELIC_SORT_RELEVANCE)
            sqlite3_bind_text(st, 2, p->boost, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_finalize(st);
        st = NULL;
        if (r != SQLITE_DONE) {
            /* A MATCH that FTS5 rejects is the query's fault, not the server's. */
            dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(s->db));
            goto out;
        }
    }

    /* total */
    dq_buf_reset(&sql);
    dq_buf_puts(&sql, "SELECT count(*)");
    where_sql(x, 0, &sql);
    if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "search total");
        goto out;
    }
    bind_where(x, 0, st, 1);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(s, err, "search total");
        goto out;
    }
    total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;

    /* The page. Date and accession sorts: a keyset on (sort key, seq). Relevance cannot be a
     * keyset: bm25 depends on corpus statistics, so a row inserted between two pages moves
     * every score and a keyset on the old score would repeat or skip rows. Its cursor is
     * instead (offset, snapshot seq): later pages see only rows that existed when the first
     * page was made (seq never goes back), so inserts cannot shift them. */
    int64_t snapshot = p->has_cursor ? p->cursor_rowid : 0;
    if (p->sort == DQ_RELIC_SORT_RELEVANCE && !p->has_cursor &&
        count_query(s, "SELECT coalesce(max(seq), 0) FROM relics", &snapshot, err) < 0)
        goto out;
    int rel = p->sort == DQ_RELIC_SORT_RELEVANCE;
    static const char *const key_col[] = {"m.score", "r.sort_year", "r.sort_year_desc",
                                          "r.accession"};
    const char *kc = key_col[p->sort];
    int desc = p->sort == DQ_RELIC_SORT_DATE_DESC;
    dq_buf_reset(&sql);
    dq_buf_printf(&sql, "SELECT r.seq, r.id, r.doc, r.year_from, r.year_to, %s", kc);
    where_sql(x, 0, &sql);
    if (rel)
        dq_buf_puts(&sql, " AND r.seq <= ?");
    else if (p->has_cursor)
        dq_buf_printf(&sql, " AND (%s, r.seq) %s (?, ?)", kc, desc ? "<" : ">");
    dq_buf_printf(&sql, " ORDER BY %s %s, r.seq %s LIMIT ? OFFSET ?", kc, desc ? "DESC" : "ASC",
                  desc ? "DESC" : "ASC");
    if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "search page");
        goto out;
    }
    int bi = bind_where(x, 0, st, 1);
    int64_t offset = rel && p->has_cursor ? (int64_t)p->cursor_num : 0;
    if (rel) {
        sqlite3_bind_int64(st, bi++, snapshot);
    } else if (p->has_cursor) {
        if (p->sort == DQ_RELIC_SORT_ACCESSION)
            sqlite3_bind_text(st, bi++, p->cursor_str, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, bi++, (sqlite3_int64)p->cursor_num);
        sqlite3_bind_int64(st, bi++, p->cursor_rowid);
    }
    sqlite3_bind_int(st, bi++, p->limit + 1);
    sqlite3_bind_int64(st, bi, offset);
    dq_buf_printf(out, "{\"total\":%lld,\"items\":[", (long long)total);
    int n = 0;
    dq_buf_t next = {0};
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == p->limit) { /* one more row exists: the cursor points after the last shown */
            n++;
            break;
        }
        if (n)
            dq_buf_putc(out, ',');
        if (item(s, x, st, out, err) < 0) {
            dq_buf_free(&next);
            goto out;
        }
        dq_buf_reset(&next);
        if (rel)
            dq_relic_cursor_encode(&next, p->sort, (double)(offset + n + 1), NULL, snapshot);
        else if (p->sort == DQ_RELIC_SORT_ACCESSION)
            dq_relic_cursor_encode(&next, p->sort, 0, (const char *)sqlite3_column_text(st, 5),
                                   sqlite3_column_int64(st, 0));
        else
            dq_relic_cursor_encode(&next, p->sort, sqlite3_column_double(st, 5), NULL,
                                   sqlite3_column_int64(st, 0));
        n++;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_buf_free(&next);
        db_fail(s, err, "search page");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    dq_buf_putc(out, ']');

    if (x->q->facets) {
        const char *cre = p->lang_en ? "c.name_en" : "c.name";
        dq_buf_puts(out, ",\"facets\":{");
        if (facet(s, x, "dynasty", F_DYN, "r.dynasty", "", out, err) < 0)
            goto facet_fail;
        dq_buf_putc(out, ',');
        if (facet(s, x, "object_type", F_TYPE, "r.object_type", "", out, err) < 0)
            goto facet_fail;
        dq_buf_putc(out, ',');
        if (facet(s, x, "subject", F_SUBJ, "sj.subject",
                  " JOIN relic_subjects sj ON sj.relic = r.seq", out, err) < 0)
            goto facet_fail;
        dq_buf_putc(out, ',');
        if (facet(s, x, "creator", F_CRE, cre, " JOIN relic_creators c ON c.relic = r.seq", out,
                  err) < 0)
            goto facet_fail;
        dq_buf_putc(out, ',');
        if (facet(s, x, "medium", F_MED, "r.medium", "", out, err) < 0)
            goto facet_fail;
        dq_buf_putc(out, ',');
        if (facet(s, x, "has_images", F_IMG, "cast(r.has_images AS TEXT)", "", out, err) < 0)
            goto facet_fail;
        dq_buf_putc(out, '}');
    }
    if (n > p->limit) {
        dq_buf_puts(out, ",\"next_cursor\":\"");
        dq_buf_append(out, next.data, next.len);
        dq_buf_puts(out, "\"}");
    } else {
        dq_buf_puts(out, ",\"next_cursor\":null}");
    }
    dq_buf_free(&next);
    rc = 0;
    goto out;
facet_fail:
    dq_buf_free(&next);
out:
    sqlite3_finalize(st);
    dq_buf_free(&sql);
    return rc;
}

int dq_sqlite_relic_search(void *impl, const dq_relic_query_t *q, const dq_relic_plan_t *plan,
                           int show_restricted, dq_buf_t *out, dq_err_t *err)
{
    store_t *s = impl;
    search_t x = {
        .q = q, .p = plan, .show_restricted = show_restricted, .text = plan->match != NULL};
    size_t mark = out->len;
    pthread_mutex_lock(&s->lock);
    int rc = search_locked(s, &x, out, err);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) { /* leave out as it was */
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}
