/*
 * store_sqlite_lesson.c: lessons and the glossary in SQLite (migration 13, issue 17), and the
 * role check of `users` widened for the educator role. One row per lesson in `lessons` (the
 * document as JSON, like tours), one row per glossary entry in `glossary` with its searchable
 * text in `fts` and an FTS5 index `glossary_fts` (tokenizer 'danqing') kept in step by
 * triggers. Row primitives inside the caller's transaction (store.h): validation, access rules,
 * visibility and the audit rows live in lesson.c and glossary.c; this file only stores, checks
 * versions and reads. Classroom sessions are not stored: they live in the serving process.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "search/search.h"

/* ---------------------------------------------------------------- schema (migration 13) */

/* Why `users` is rebuilt: its role column has a CHECK listing the roles, and SQLite cannot
 * change a CHECK in place. The rebuild keeps every account, session and token: the children
 * are copied into new tables that reference the new `users`, the old ones are dropped children
 * first (so the drop of the old `users` cascades into nothing), and the renames carry the
 * foreign keys over (SQLite rewrites REFERENCES on a parent's rename). */
const char dq_sqlite_lesson_schema[] =
    "CREATE TABLE users_13 ("
    " name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
    " role TEXT NOT NULL"
    "   CHECK (role IN ('viewer','educator','conservator','curator','admin')),"
    " pwhash TEXT NOT NULL CHECK (pwhash LIKE '$argon2id$%'),"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " name_key TEXT NOT NULL DEFAULT '');"
    "INSERT INTO users_13 (name, role, pwhash, created_at, updated_at, name_key)"
    " SELECT name, role, pwhash, created_at, updated_at, name_key FROM users;"
    "CREATE TABLE sessions_13 ("
    " hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),"
    " account TEXT NOT NULL REFERENCES users_13(name) ON DELETE CASCADE,"
    " created_at TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL CHECK (expires_at > 0)) WITHOUT ROWID;"
    "INSERT INTO sessions_13 SELECT hash, account, created_at, expires_at FROM sessions;"
    "CREATE TABLE api_tokens_13 ("
    " hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),"
    " account TEXT NOT NULL REFERENCES users_13(name) ON DELETE CASCADE,"
    " created_at TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL CHECK (expires_at >= 0)) WITHOUT ROWID;"
    "INSERT INTO api_tokens_13 SELECT hash, account, created_at, expires_at FROM api_tokens;"
    "DROP TABLE sessions;"
    "DROP TABLE api_tokens;"
    "DROP TABLE users;"
    "ALTER TABLE users_13 RENAME TO users;"
    "ALTER TABLE sessions_13 RENAME TO sessions;"
    "ALTER TABLE api_tokens_13 RENAME TO api_tokens;"
    "CREATE INDEX users_key ON users(name_key);"
    "CREATE INDEX sessions_account ON sessions(account);"
    "CREATE INDEX sessions_expiry ON sessions(expires_at);"
    "CREATE INDEX api_tokens_account ON api_tokens(account);"
    /* Lessons: documents that name relics in their steps; a relic's deletion leaves the
     * lesson (its steps then read as hidden), so there is no foreign key. */
    "CREATE TABLE lessons ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: ids are links teachers share */
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " author TEXT NOT NULL,"
    " public INTEGER NOT NULL CHECK (public IN (0, 1)),"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE TABLE glossary ("
    " key TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 63),"
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " fts TEXT NOT NULL,"
    " author TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE VIRTUAL TABLE glossary_fts USING fts5(body, tokenize = 'danqing');"
    "CREATE TRIGGER glossary_ai AFTER INSERT ON glossary BEGIN"
    " INSERT INTO glossary_fts (rowid, body) VALUES (new.rowid, new.fts); END;"
    "CREATE TRIGGER glossary_ad AFTER DELETE ON glossary BEGIN"
    " DELETE FROM glossary_fts WHERE rowid = old.rowid; END;"
    "CREATE TRIGGER glossary_au AFTER UPDATE OF fts ON glossary BEGIN"
    " DELETE FROM glossary_fts WHERE rowid = old.rowid;"
    " INSERT INTO glossary_fts (rowid, body) VALUES (new.rowid, new.fts); END;";

/* ---------------------------------------------------------------- helpers */

static int step_write(dq_store_txn_t *t, sqlite3_stmt *st, dq_err_t *err)
{
    return dq_sq_step_done(t, st, err);
}

/* After an UPDATE/DELETE guarded by version that changed nothing: 1 when the row is absent,
 * -1 with DQ_EEXIST (412) when only the version differs. */
static int why_unchanged(dq_store_txn_t *t, sqlite3_stmt *st, int64_t if_version, dq_err_t *err)
{
    int r = dq_sq_row(t, st, "lookup", err);
    if (r == 0)
        dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                   (long long)if_version, (long long)sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    return r == 1 ? 1 : -1;
}

/* ---------------------------------------------------------------- lessons */

#define LESSON_COLS "id, doc, author, public, created_at, updated_at, version"

static int walk_lesson(dq_store_txn_t *t, sqlite3_stmt *st, dq_lesson_cb cb, void *ud,
                       int *n_rows, dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_lesson_row_t row = {0};
        row.id = sqlite3_column_int64(st, 0);
        row.doc = (const char *)sqlite3_column_text(st, 1);
        dq_sq_copy_col(row.author, sizeof(row.author), st, 2);
        row.is_public = sqlite3_column_int(st, 3);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 4);
        dq_sq_copy_col(row.modified, sizeof(row.modified), st, 5);
        row.version = sqlite3_column_int64(st, 6);
        (*n_rows)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int lesson_read_back(dq_store_txn_t *t, dq_lesson_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT version, created_at, updated_at, author FROM lessons WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, row->id);
    int r = dq_sq_row(t, st, "read back", err);
    if (r == 0) {
        row->version = sqlite3_column_int64(st, 0);
        dq_sq_copy_col(row->created, sizeof(row->created), st, 1);
        dq_sq_copy_col(row->modified, sizeof(row->modified), st, 2);
        dq_sq_copy_col(row->author, sizeof(row->author), st, 3);
    }
    sqlite3_reset(st);
    return r == 0 ? 0 : dq_err_set(err, DQ_EIO, 500, "catalog: lesson vanished");
}

static int lesson_insert(dq_store_txn_t *t, dq_lesson_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO lessons (doc, author, public, version, created_at,"
                                  " updated_at) VALUES (?1, ?2, ?3, 1, " DQ_SQ_NOW ", " DQ_SQ_NOW
                                  ")",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->author, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, row->is_public ? 1 : 0);
    if (step_write(t, st, err) < 0)
        return -1;
    row->id = sqlite3_last_insert_rowid(t->db);
    return lesson_read_back(t, row, err);
}

static int lesson_version(dq_store_txn_t *t, int64_t id, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT version FROM lessons WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    return why_unchanged(t, st, if_version, err);
}

static int lesson_update(dq_store_txn_t *t, dq_lesson_row_t *row, int64_t if_version,
                         dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "UPDATE lessons SET doc = ?1, public = ?2,"
                                  " version = version + 1, updated_at = " DQ_SQ_NOW
                                  " WHERE id = ?3 AND (?4 < 0 OR version = ?4)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, row->is_public ? 1 : 0);
    sqlite3_bind_int64(st, 3, row->id);
    sqlite3_bind_int64(st, 4, if_version);
    if (step_write(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return lesson_version(t, row->id, if_version, err);
    return lesson_read_back(t, row, err);
}

static int lesson_remove(dq_store_txn_t *t, int64_t id, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "DELETE FROM lessons WHERE id = ?1 AND (?2 < 0 OR version = ?2)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, if_version);
    if (step_write(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return lesson_version(t, id, if_version, err);
    return 0;
}

static int lesson_get(dq_store_txn_t *t, int64_t id, dq_lesson_cb cb, void *ud, dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT " LESSON_COLS " FROM lessons WHERE id = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (walk_lesson(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int lesson_list(dq_store_txn_t *t, dq_lesson_cb cb, void *ud, dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT " LESSON_COLS " FROM lessons ORDER BY id", err);
    if (!st)
        return -1;
    return walk_lesson(t, st, cb, ud, &n, err);
}

const dq_store_lesson_ops dq_sqlite_lesson_ops = {
    .insert = lesson_insert,
    .update = lesson_update,
    .remove = lesson_remove,
    .get = lesson_get,
    .list = lesson_list,
};

/* ---------------------------------------------------------------- glossary */

#define GLOSS_COLS "g.key, g.doc, g.fts, g.author, g.created_at, g.updated_at, g.version"

static int walk_gloss(dq_store_txn_t *t, sqlite3_stmt *st, dq_gloss_cb cb, void *ud, int *n_rows,
                      dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_gloss_row_t row = {0};
        dq_sq_copy_col(row.key, sizeof(row.key), st, 0);
        row.doc = (const char *)sqlite3_column_text(st, 1);
        row.fts = (const char *)sqlite3_column_text(st, 2);
        dq_sq_copy_col(row.author, sizeof(row.author), st, 3);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 4);
        dq_sq_copy_col(row.modified, sizeof(row.modified), st, 5);
        row.version = sqlite3_column_int64(st, 6);
        (*n_rows)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int gloss_read_back(dq_store_txn_t *t, dq_gloss_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT version, created_at, updated_at, author FROM glossary WHERE key = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->key, -1, SQLITE_STATIC);
    int r = dq_sq_row(t, st, "read back", err);
    if (r == 0) {
        row->version = sqlite3_column_int64(st, 0);
        dq_sq_copy_col(row->created, sizeof(row->created), st, 1);
        dq_sq_copy_col(row->modified, sizeof(row->modified), st, 2);
        dq_sq_copy_col(row->author, sizeof(row->author), st, 3);
    }
    sqlite3_reset(st);
    return r == 0 ? 0 : dq_err_set(err, DQ_EIO, 500, "catalog: glossary entry vanished");
}

static int gloss_insert(dq_store_txn_t *t, dq_gloss_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO glossary (key, doc, fts, author, version,"
                                  " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 1, " DQ_SQ_NOW
                                  ", " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->fts, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->author, -1, SQLITE_STATIC);
    if (step_write(t, st, err) < 0)
        return -1;
    return gloss_read_back(t, row, err);
}

static int gloss_version(dq_store_txn_t *t, const char *key, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT version FROM glossary WHERE key = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return why_unchanged(t, st, if_version, err);
}

static int gloss_update(dq_store_txn_t *t, dq_gloss_row_t *row, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "UPDATE glossary SET doc = ?2, fts = ?3, version = version + 1,"
                                  " updated_at = " DQ_SQ_NOW
                                  " WHERE key = ?1 AND (?4 < 0 OR version = ?4)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->fts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, if_version);
    if (step_write(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return gloss_version(t, row->key, if_version, err);
    return gloss_read_back(t, row, err);
}

static int gloss_remove(dq_store_txn_t *t, const char *key, int64_t if_version, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "DELETE FROM glossary WHERE key = ?1 AND (?2 < 0 OR version = ?2)", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, if_version);
    if (step_write(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return gloss_version(t, key, if_version, err);
    return 0;
}

static int gloss_get(dq_store_txn_t *t, const char *key, dq_gloss_cb cb, void *ud, dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st =
        dq_sq_stmt(t, "SELECT " GLOSS_COLS " FROM glossary g WHERE g.key = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (walk_gloss(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int gloss_list(dq_store_txn_t *t, int64_t offset, int limit, dq_gloss_cb cb, void *ud,
                      int64_t *total, dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_page(t, "SELECT count(*) FROM glossary",
                                  "SELECT " GLOSS_COLS " FROM glossary g ORDER BY g.key LIMIT ?1"
                                  " OFFSET ?2",
                                  NULL, NULL, 0, limit, offset, total, err);
    return st ? walk_gloss(t, st, cb, ud, &n, err) : -1;
}

/* The FTS5 expression of the user text q (every term, each of its alternative forms), made
 * from search/'s plan so that nothing a user typed becomes FTS5 syntax. */
static int fts_of(dq_store_txn_t *t, const char *q, dq_buf_t *match, dq_err_t *err)
{
    dq_search_plan_t plan = {0};
    if (dq_search_query_plan(t->search, q ? q : "", &plan, err) < 0) {
        if (err)
            err->code = DQ_EINVAL, err->http_status = 400;
        dq_search_plan_free(&plan);
        return -1;
    }
    dq_sqlite_fts_render(&plan, DQ_SQ_FTS_MATCH, match);
    dq_search_plan_free(&plan);
    return 0;
}

static int gloss_search(dq_store_txn_t *t, const char *q, int limit, dq_gloss_cb cb, void *ud,
                        dq_err_t *err)
{
    dq_buf_t match = {0};
    int rc = -1, n = 0;
    if (fts_of(t, q, &match, err) < 0)
        goto out;
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT " GLOSS_COLS " FROM glossary_fts"
                                  " JOIN glossary g ON g.rowid = glossary_fts.rowid"
                                  " WHERE glossary_fts MATCH ?1"
                                  " ORDER BY bm25(glossary_fts), g.key LIMIT ?2",
                                  err);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, match.data ? match.data : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    rc = walk_gloss(t, st, cb, ud, &n, err);
out:
    dq_buf_free(&match);
    return rc;
}

static int gloss_anno_examples(dq_store_txn_t *t, const char *q, int limit, dq_anno_cb cb,
                               void *ud, dq_err_t *err)
{
    dq_buf_t match = {0};
    int rc = -1, r;
    if (fts_of(t, q, &match, err) < 0)
        goto out;
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        "SELECT a.id, a.relic, a.canvas, a.x, a.y, a.w, a.h, a.motivation, a.bodies, a.fts,"
        " a.creator, a.created_at, a.updated_at, a.version,"
        " highlight(annotation_fts, 0, char(1), char(2))"
        " FROM annotation_fts JOIN annotations a ON a.id = annotation_fts.rowid"
        " WHERE annotation_fts MATCH ?1 ORDER BY bm25(annotation_fts), a.id LIMIT ?2",
        err);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, match.data ? match.data : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_anno_row_t a = {0};
        a.id = sqlite3_column_int64(st, 0);
        dq_sq_copy_col(a.relic_id, sizeof(a.relic_id), st, 1);
        a.canvas = sqlite3_column_int(st, 2);
        a.x = sqlite3_column_int(st, 3);
        a.y = sqlite3_column_int(st, 4);
        a.w = sqlite3_column_int(st, 5);
        a.h = sqlite3_column_int(st, 6);
        dq_sq_copy_col(a.motivation, sizeof(a.motivation), st, 7);
        a.bodies = (const char *)sqlite3_column_text(st, 8);
        a.fts = (const char *)sqlite3_column_text(st, 9);
        dq_sq_copy_col(a.creator, sizeof(a.creator), st, 10);
        dq_sq_copy_col(a.created, sizeof(a.created), st, 11);
        dq_sq_copy_col(a.modified, sizeof(a.modified), st, 12);
        a.version = sqlite3_column_int64(st, 13);
        if (cb(ud, &a, (const char *)sqlite3_column_text(st, 14)))
            break;
    }
    sqlite3_reset(st);
    rc = r < 0 ? -1 : 0;
out:
    dq_buf_free(&match);
    return rc;
}

const dq_store_gloss_ops dq_sqlite_gloss_ops = {
    .insert = gloss_insert,
    .update = gloss_update,
    .remove = gloss_remove,
    .get = gloss_get,
    .list = gloss_list,
    .search = gloss_search,
    .anno_examples = gloss_anno_examples,
};
