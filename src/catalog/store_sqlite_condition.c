/*
 * store_sqlite_condition.c: condition records in SQLite (migration 10, issue 12). One row per
 * record in `condition_records`: the relic it describes, its date (for ordering), whether the
 * museum publishes it, the document as JSON, author, version and times. Row primitives
 * inside the caller's transaction (store.h); validation, roles, visibility, JSON for the API
 * and the audit rows live in condition.c.
 */
#include "store_sqlite_internal.h"

#include <string.h>

/* A relic's deletion leaves its condition history (records are evidence; the audit trail
 * names them), so there is no foreign key to relics. */
const char dq_sqlite_condition_schema[] =
    "CREATE TABLE condition_records ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: record ids are cited */
    " relic_id TEXT NOT NULL CHECK (length(relic_id) BETWEEN 1 AND 63),"
    " date TEXT NOT NULL CHECK (length(date) = 10),"
    " published INTEGER NOT NULL CHECK (published IN (0, 1)),"
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"
    " author TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE INDEX condition_records_relic ON condition_records(relic_id, date, id);";

#define COLS "id, relic_id, date, published, doc, author, version, created_at, updated_at"

static int walk(dq_store_txn_t *t, sqlite3_stmt *st, dq_condition_cb cb, void *ud, int *n_rows,
                dq_err_t *err)
{
    int r;
    *n_rows = 0;
    while ((r = dq_sq_row(t, st, "read", err)) == 0) {
        dq_condition_row_t row = {0};
        row.id = sqlite3_column_int64(st, 0);
        dq_sq_copy_col(row.relic_id, sizeof(row.relic_id), st, 1);
        dq_sq_copy_col(row.date, sizeof(row.date), st, 2);
        row.published = sqlite3_column_int(st, 3);
        row.doc = (const char *)sqlite3_column_text(st, 4);
        dq_sq_copy_col(row.author, sizeof(row.author), st, 5);
        row.version = sqlite3_column_int64(st, 6);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 7);
        dq_sq_copy_col(row.modified, sizeof(row.modified), st, 8);
        (*n_rows)++;
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int read_back(dq_store_txn_t *t, dq_condition_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT version, created_at, updated_at, author FROM condition_records WHERE id = ?1",
        err);
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
    return r == 0 ? 0 : dq_err_set(err, DQ_EIO, 500, "catalog: condition record vanished");
}

static int cond_insert(dq_store_txn_t *t, dq_condition_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO condition_records (relic_id, date, published, doc,"
                                  " author, version, created_at, updated_at) VALUES (?1, ?2, ?3,"
                                  " ?4, ?5, 1, " DQ_SQ_NOW ", " DQ_SQ_NOW ")",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->date, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, row->published ? 1 : 0);
    sqlite3_bind_text(st, 4, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, row->author, -1, SQLITE_STATIC);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    row->id = sqlite3_last_insert_rowid(t->db);
    return read_back(t, row, err);
}

/* After a guarded UPDATE/DELETE that changed nothing: 1 when the record is absent, -1 with
 * DQ_EEXIST (412) when only the version differs. */
static int why_unchanged(dq_store_txn_t *t, const char *relic_id, int64_t id, int64_t if_version,
                         dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT version FROM condition_records WHERE id = ?1 AND relic_id = ?2", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, relic_id, -1, SQLITE_STATIC);
    int r = dq_sq_row(t, st, "lookup", err);
    if (r == 0)
        dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                   (long long)if_version, (long long)sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    return r == 1 ? 1 : -1;
}

static int cond_update(dq_store_txn_t *t, dq_condition_row_t *row, int64_t if_version,
                       dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "UPDATE condition_records SET date = ?1, published = ?2,"
                                  " doc = ?3, version = version + 1, updated_at = " DQ_SQ_NOW
                                  " WHERE id = ?4 AND relic_id = ?5 AND (?6 < 0 OR version = ?6)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, row->date, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, row->published ? 1 : 0);
    sqlite3_bind_text(st, 3, row->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, row->id);
    sqlite3_bind_text(st, 5, row->relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, if_version);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return why_unchanged(t, row->relic_id, row->id, if_version, err);
    return read_back(t, row, err);
}

static int cond_remove(dq_store_txn_t *t, const char *relic_id, int64_t id, int64_t if_version,
                       dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "DELETE FROM condition_records WHERE id = ?1 AND relic_id = ?2"
                                  " AND (?3 < 0 OR version = ?3)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, relic_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, if_version);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    if (sqlite3_changes(t->db) == 0)
        return why_unchanged(t, relic_id, id, if_version, err);
    return 0;
}

static int cond_get(dq_store_txn_t *t, const char *relic_id, int64_t id, dq_condition_cb cb,
                    void *ud, dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(
        t, "SELECT " COLS " FROM condition_records WHERE id = ?1 AND relic_id = ?2", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, relic_id, -1, SQLITE_STATIC);
    if (walk(t, st, cb, ud, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int cond_list(dq_store_txn_t *t, const char *relic_id, dq_condition_cb cb, void *ud,
                     dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  relic_id ? "SELECT " COLS " FROM condition_records"
                                             " WHERE relic_id = ?1 ORDER BY date, id"
                                           : "SELECT " COLS " FROM condition_records"
                                             " ORDER BY relic_id, id",
                                  err);
    if (!st)
        return -1;
    if (relic_id)
        sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    return walk(t, st, cb, ud, &n, err);
}

static int cond_published(dq_store_txn_t *t, const char *relic_id, dq_condition_cb cb, void *ud,
                          dq_err_t *err)
{
    int n = 0;
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  relic_id ? "SELECT " COLS " FROM condition_records"
                                             " WHERE relic_id = ?1 AND published = 1"
                                             " ORDER BY date, id"
                                           : "SELECT " COLS " FROM condition_records"
                                             " WHERE published = 1 ORDER BY relic_id, date, id",
                                  err);
    if (!st)
        return -1;
    if (relic_id)
        sqlite3_bind_text(st, 1, relic_id, -1, SQLITE_STATIC);
    return walk(t, st, cb, ud, &n, err);
}

static int cond_role_links(dq_store_txn_t *t, const char *relic_id, const char *role,
                           dq_store_link_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  relic_id ? "SELECT r.id, r.restricted, i.image_id FROM relics r"
                                             " JOIN relic_images i ON i.relic = r.seq"
                                             " WHERE i.role = ?1 AND r.id = ?2"
                                           : "SELECT r.id, r.restricted, i.image_id FROM relics r"
                                             " JOIN relic_images i ON i.relic = r.seq"
                                             " WHERE i.role = ?1",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
    if (relic_id)
        sqlite3_bind_text(st, 2, relic_id, -1, SQLITE_STATIC);
    int r;
    while ((r = dq_sq_row(t, st, "role links", err)) == 0)
        if (cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1) != 0,
               (const char *)sqlite3_column_text(st, 2)) != 0)
            break;
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

const dq_store_condition_ops dq_sqlite_condition_ops = {
    .insert = cond_insert,
    .update = cond_update,
    .remove = cond_remove,
    .get = cond_get,
    .list = cond_list,
    .published = cond_published,
    .role_links = cond_role_links,
};
