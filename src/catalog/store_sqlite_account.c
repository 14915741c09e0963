/*
 * store_sqlite_account.c: the SQLite rows behind accounts (migration 4): users with their
 * argon2id hash and folded name key (migration 7), browser sessions and API tokens, each
 * credential stored only as the SHA-256 of its text, with an expiry in Unix seconds. Row
 * primitives inside the caller's transaction (store.h): hashing, minting, validation, the
 * last-admin rule and the audit rows are account.c's.
 */
#include "catalog.h"
#include "store_sqlite_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Migration 4. Credentials cascade with their account, so deleting a user can never leave a
 * working token behind. WITHOUT ROWID: the hash is the key and the only way in. */
const char dq_sqlite_account_schema[] =
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
    " role TEXT NOT NULL CHECK (role IN ('viewer','conservator','curator','admin')),"
    " pwhash TEXT NOT NULL CHECK (pwhash LIKE '$argon2id$%'),"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE sessions ("
    " hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),"
    " account TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    " created_at TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL CHECK (expires_at > 0)) WITHOUT ROWID;"
    "CREATE INDEX sessions_account ON sessions(account);"
    "CREATE INDEX sessions_expiry ON sessions(expires_at);"
    "CREATE TABLE api_tokens ("
    " hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),"
    " account TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    " created_at TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL CHECK (expires_at >= 0)) WITHOUT ROWID;" /* 0: never */
    "CREATE INDEX api_tokens_account ON api_tokens(account);";

/* Migration 7: user names are unique without regard to case. The key is the name folded to
 * lower case (names are ASCII, so SQLite's lower() folds them exactly as account.c does).
 * Not a UNIQUE index: two accounts made before this migration may differ only in case
 * ("Alice" and "alice"); both keep working (each logs in by its exact name), and
 * user_insert refuses every new name whose key is taken, so no new collision can appear. */
const char dq_sqlite_account_fold_schema[] =
    "ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';"
    "UPDATE users SET name_key = lower(name);"
    "CREATE INDEX users_key ON users(name_key);";

/* ---------------------------------------------------------------- helpers */

/* Runs sql with text parameters (a NULL-terminated list); *changed gets the row count. */
static int run(dq_store_txn_t *t, int *changed, dq_err_t *err, const char *sql, ...)
{
    sqlite3_stmt *st = dq_sq_stmt(t, sql, err);
    if (!st)
        return -1;
    va_list ap;
    va_start(ap, sql);
    const char *v;
    for (int i = 1; (v = va_arg(ap, const char *)) != NULL; i++)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    va_end(ap);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    if (changed)
        *changed = sqlite3_changes(t->db);
    return 0;
}

/* ---------------------------------------------------------------- users */

static int user_get(dq_store_txn_t *t, const char *key, const char *name_hint, dq_user_t *out,
                    char *pwhash, dq_err_t *err)
{
    /* The exact name first, then the oldest: see dq_sqlite_account_fold_schema. */
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT name, role, created_at, updated_at, pwhash FROM users"
                                  " WHERE name_key = ?1 ORDER BY name = ?2 DESC, rowid LIMIT 1",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    dq_sq_bind_text(st, 2, name_hint);
    int r = dq_sq_row(t, st, "user_get", err);
    if (r == 0) {
        memset(out, 0, sizeof(*out));
        dq_sq_copy_col(out->name, sizeof(out->name), st, 0);
        out->role = dq_catalog_role_parse((const char *)sqlite3_column_text(st, 1));
        dq_sq_copy_col(out->created_at, sizeof(out->created_at), st, 2);
        dq_sq_copy_col(out->updated_at, sizeof(out->updated_at), st, 3);
        if (pwhash)
            dq_sq_copy_col(pwhash, DQ_PWHASH_MAX, st, 4);
    }
    sqlite3_reset(st);
    return r;
}

static int user_insert(dq_store_txn_t *t, const char *name, const char *key, int role,
                       const char *pwhash, dq_err_t *err)
{
    dq_user_t u;
    int r = user_get(t, key, NULL, &u, NULL, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return dq_err_set(err, DQ_EEXIST, 409, "user '%s' already exists", u.name);
    return run(t, NULL, err,
               "INSERT INTO users (name, name_key, role, pwhash, created_at, updated_at)"
               " VALUES (?1, ?2, ?3, ?4, " DQ_SQ_NOW ", " DQ_SQ_NOW ")",
               name, key, dq_catalog_role_name(role), pwhash, (const char *)NULL);
}

static int user_list(dq_store_txn_t *t, int64_t now, dq_user_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t,
                   "SELECT name, role, created_at, updated_at,"
                   " (SELECT count(*) FROM sessions WHERE account = name AND expires_at > ?1),"
                   " (SELECT count(*) FROM api_tokens WHERE account = name"
                   "  AND (expires_at = 0 OR expires_at > ?1))"
                   " FROM users ORDER BY name",
                   err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    int r;
    while ((r = dq_sq_row(t, st, "user_list", err)) == 0) {
        dq_user_t u = {0};
        dq_sq_copy_col(u.name, sizeof(u.name), st, 0);
        u.role = dq_catalog_role_parse((const char *)sqlite3_column_text(st, 1));
        dq_sq_copy_col(u.created_at, sizeof(u.created_at), st, 2);
        dq_sq_copy_col(u.updated_at, sizeof(u.updated_at), st, 3);
        u.n_sessions = sqlite3_column_int64(st, 4);
        u.n_tokens = sqlite3_column_int64(st, 5);
        if (cb(ud, &u) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int user_update(dq_store_txn_t *t, const char *name, int role, const char *pwhash,
                       dq_err_t *err)
{
    int n = 0;
    if (role >= 0 &&
        run(t, &n, err, "UPDATE users SET role = ?2, updated_at = " DQ_SQ_NOW " WHERE name = ?1",
            name, dq_catalog_role_name(role), (const char *)NULL) < 0)
        return -1;
    if (pwhash &&
        run(t, &n, err, "UPDATE users SET pwhash = ?2, updated_at = " DQ_SQ_NOW " WHERE name = ?1",
            name, pwhash, (const char *)NULL) < 0)
        return -1;
    return n ? 0 : 1;
}

static int user_delete(dq_store_txn_t *t, const char *name, dq_err_t *err)
{
    int n = 0;
    /* Credentials go by ON DELETE CASCADE (foreign_keys is on for every connection). */
    if (run(t, &n, err, "DELETE FROM users WHERE name = ?1", name, (const char *)NULL) < 0)
        return -1;
    return n ? 0 : 1;
}

static int admin_count(dq_store_txn_t *t, int64_t *n, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT count(*) FROM users WHERE role = 'admin'", err);
    if (!st)
        return -1;
    int r = dq_sq_row(t, st, "admin count", err);
    if (r == 0)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- credentials */

static int cred_insert(dq_store_txn_t *t, int kind, const char *hash, const char *name,
                       int64_t expires_at, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  kind == DQ_CRED_SESSION
                                      ? "INSERT INTO sessions (hash, account, created_at,"
                                        " expires_at) VALUES (?1, ?2, " DQ_SQ_NOW ", ?3)"
                                      : "INSERT INTO api_tokens (hash, account, created_at,"
                                        " expires_at) VALUES (?1, ?2, " DQ_SQ_NOW ", ?3)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, expires_at);
    return dq_sq_step_done(t, st, err);
}

static int cred_lookup(dq_store_txn_t *t, int kind, const char *hash, int64_t now, dq_actor_t *out,
                       dq_err_t *err)
{
    /* The role comes from users at every request, so a role change or a deletion takes effect
     * at once; expiry is checked in the same statement. */
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        kind == DQ_CRED_SESSION
            ? "SELECT c.hash, u.name, u.role FROM sessions c JOIN users u ON u.name = c.account"
              " WHERE c.hash = ?1 AND c.expires_at > ?2"
            : "SELECT c.hash, u.name, u.role FROM api_tokens c JOIN users u ON u.name = c.account"
              " WHERE c.hash = ?1 AND (c.expires_at = 0 OR c.expires_at > ?2)",
        err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = dq_sq_row(t, st, "cred_lookup", err);
    if (rc == 0)
        rc = dq_sq_cred_row(st, hash, out); /* belt and braces: the key must be the hash */
    sqlite3_reset(st);
    return rc;
}

int dq_sq_cred_row(sqlite3_stmt *st, const char *hash, dq_actor_t *out)
{
    const unsigned char *h = sqlite3_column_text(st, 0);
    size_t hl = h ? strlen((const char *)h) : 0;
    unsigned diff = hl != 64;
    for (size_t i = 0; i < 64 && hl == 64; i++)
        diff |= (unsigned)(h[i] ^ (unsigned char)hash[i]);
    if (diff)
        return 1;
    memset(out, 0, sizeof(*out));
    dq_sq_copy_col(out->user, sizeof(out->user), st, 1);
    out->role = dq_catalog_role_parse((const char *)sqlite3_column_text(st, 2));
    if (out->role < 0)
        out->role = DQ_ROLE_ANON;
    return 0;
}

static int cred_delete(dq_store_txn_t *t, int kind, const char *hash, dq_err_t *err)
{
    return run(t, NULL, err,
               kind == DQ_CRED_SESSION ? "DELETE FROM sessions WHERE hash = ?1"
                                       : "DELETE FROM api_tokens WHERE hash = ?1",
               hash, (const char *)NULL);
}

static int cred_purge(dq_store_txn_t *t, const char *name, int64_t now, dq_err_t *err)
{
    if (name &&
        (run(t, NULL, err, "DELETE FROM sessions WHERE account = ?1", name, (const char *)NULL) <
             0 ||
         run(t, NULL, err, "DELETE FROM api_tokens WHERE account = ?1", name, (const char *)NULL) <
             0))
        return -1;
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM sessions WHERE expires_at <= ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    if (dq_sq_step_done(t, st, err) < 0)
        return -1;
    st = dq_sq_stmt(t, "DELETE FROM api_tokens WHERE expires_at <> 0 AND expires_at <= ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    return dq_sq_step_done(t, st, err);
}

const dq_store_account_ops dq_sqlite_account_ops = {
    .user_insert = user_insert,
    .user_get = user_get,
    .user_list = user_list,
    .user_update = user_update,
    .user_delete = user_delete,
    .admin_count = admin_count,
    .cred_insert = cred_insert,
    .cred_lookup = cred_lookup,
    .cred_delete = cred_delete,
    .cred_purge = cred_purge,
};
