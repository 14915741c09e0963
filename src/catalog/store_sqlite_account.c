/*
 * store_sqlite_account.c: the SQLite rows behind accounts (migration 4): users with their
 * argon2id hash, browser sessions and API tokens, each credential stored only as the SHA-256
 * of its text, with an expiry in Unix seconds. Hashing, minting and validation are
 * account.c's; this file only reads and writes rows, one transaction per call, audited.
 *
 * Threads: every entry point holds store_t.lock for its whole duration, like the rest of the
 * backend (store_sqlite.c).
 */
#include "catalog.h"
#include "store_sqlite_internal.h"

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

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

/* ---------------------------------------------------------------- helpers */

/* Prepares sql, binds text parameters (NULL-terminated list), runs it to the end. */
static int run(store_t *s, dq_err_t *err, const char *sql, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (dq_sq_prepare(s, sql, &st, err) < 0)
        goto out;
    va_list ap;
    va_start(ap, sql);
    const char *v;
    for (int i = 1; (v = va_arg(ap, const char *)) != NULL; i++)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    va_end(ap);
    rc = dq_sq_step_done(s, st, err);
out:
    sqlite3_finalize(st);
    return rc;
}

/* Count of admins, or -1. */
static int64_t admin_count(store_t *s, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (dq_sq_prepare(s, "SELECT count(*) FROM users WHERE role = 'admin'", &st, err) < 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        dq_sq_fail(s, err, "admin count");
        goto out;
    }
    n = sqlite3_column_int64(st, 0);
out:
    sqlite3_finalize(st);
    return n;
}

/* Reads a user row (name, role, created_at, updated_at, pwhash) under the lock: 0 found,
 * 1 not found, -1 error. */
static int load_user(store_t *s, const char *name, dq_user_t *out, char *pwhash, dq_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (dq_sq_prepare(
            s, "SELECT name, role, created_at, updated_at, pwhash FROM users WHERE name = ?1", &st,
            err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = 1;
        goto out;
    }
    if (r != SQLITE_ROW) {
        dq_sq_fail(s, err, "user_get");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    dq_sq_copy_col(out->name, sizeof(out->name), st, 0);
    out->role = dq_catalog_role_parse((const char *)sqlite3_column_text(st, 1));
    dq_sq_copy_col(out->created_at, sizeof(out->created_at), st, 2);
    dq_sq_copy_col(out->updated_at, sizeof(out->updated_at), st, 3);
    if (pwhash)
        dq_sq_copy_col(pwhash, DQ_PWHASH_MAX, st, 4);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static const char *cred_table(int kind)
{
    return kind == DQ_CRED_SESSION ? "sessions" : "api_tokens";
}

/* ---------------------------------------------------------------- users */

int dq_sqlite_user_insert(void *impl, const char *name, int role, const char *pwhash,
                          const char *who, dq_err_t *err)
{
    store_t *s = impl;
    dq_user_t u;
    char detail[128];
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    int r = load_user(s, name, &u, NULL, err);
    if (r < 0)
        goto out;
    if (r == 0) {
        dq_err_set(err, DQ_EEXIST, 409, "user '%s' already exists", name);
        goto out;
    }
    snprintf(detail, sizeof(detail), "{\"role\":\"%s\"}", dq_catalog_role_name(role));
    if (run(s, err,
            "INSERT INTO users (name, role, pwhash, created_at, updated_at) VALUES (?1, ?2, "
            "?3, " NOW_SQL ", " NOW_SQL ")",
            name, dq_catalog_role_name(role), pwhash, (const char *)NULL) < 0 ||
        dq_sq_audit(s, who, "user.create", name, detail, err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_user_get(void *impl, const char *name, dq_user_t *out, char *pwhash, dq_err_t *err)
{
    store_t *s = impl;
    pthread_mutex_lock(&s->lock);
    int r = load_user(s, name, out, pwhash, err);
    pthread_mutex_unlock(&s->lock);
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no user '%s'", name);
    return r;
}

int dq_sqlite_user_list(void *impl, int64_t now, dq_user_cb cb, void *ud, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s,
                      "SELECT name, role, created_at, updated_at,"
                      " (SELECT count(*) FROM sessions WHERE account = name AND expires_at > ?1),"
                      " (SELECT count(*) FROM api_tokens WHERE account = name"
                      "  AND (expires_at = 0 OR expires_at > ?1))"
                      " FROM users ORDER BY name",
                      &st, err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, now);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
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
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_sq_fail(s, err, "user_list");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_user_update(void *impl, const char *name, int role, const char *pwhash,
                          const char *who, dq_err_t *err)
{
    store_t *s = impl;
    dq_user_t u;
    char detail[128];
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    int r = load_user(s, name, &u, NULL, err);
    if (r != 0) {
        if (r > 0)
            dq_err_set(err, DQ_ENOTFOUND, 404, "no user '%s'", name);
        goto out;
    }
    if (role >= 0) {
        /* Demoting the only admin would lock everybody out of account management. */
        if (u.role == DQ_ROLE_ADMIN && role != DQ_ROLE_ADMIN) {
            int64_t n = admin_count(s, err);
            if (n < 0)
                goto out;
            if (n <= 1) {
                dq_err_set(err, DQ_EEXIST, 409, "'%s' is the last admin", name);
                goto out;
            }
        }
        snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}",
                 dq_catalog_role_name(u.role), dq_catalog_role_name(role));
        if (run(s, err, "UPDATE users SET role = ?2, updated_at = " NOW_SQL " WHERE name = ?1",
                name, dq_catalog_role_name(role), (const char *)NULL) < 0 ||
            dq_sq_audit(s, who, "user.role", name, detail, err) < 0)
            goto out;
    }
    if (pwhash) {
        /* A new password ends every session and token: it is what a user does when a
         * credential may have leaked. */
        if (run(s, err, "UPDATE users SET pwhash = ?2, updated_at = " NOW_SQL " WHERE name = ?1",
                name, pwhash, (const char *)NULL) < 0 ||
            run(s, err, "DELETE FROM sessions WHERE account = ?1", name, (const char *)NULL) < 0 ||
            run(s, err, "DELETE FROM api_tokens WHERE account = ?1", name, (const char *)NULL) <
                0 ||
            dq_sq_audit(s, who, "user.password", name, "{\"credentials_revoked\":true}", err) < 0)
            goto out;
    }
    if (dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_user_delete(void *impl, const char *name, const char *who, dq_err_t *err)
{
    store_t *s = impl;
    dq_user_t u;
    char detail[128];
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    int r = load_user(s, name, &u, NULL, err);
    if (r != 0) {
        if (r > 0)
            dq_err_set(err, DQ_ENOTFOUND, 404, "no user '%s'", name);
        goto out;
    }
    if (u.role == DQ_ROLE_ADMIN) {
        int64_t n = admin_count(s, err);
        if (n < 0)
            goto out;
        if (n <= 1) {
            dq_err_set(err, DQ_EEXIST, 409, "'%s' is the last admin", name);
            goto out;
        }
    }
    snprintf(detail, sizeof(detail), "{\"role\":\"%s\"}", dq_catalog_role_name(u.role));
    /* Credentials go by ON DELETE CASCADE (foreign_keys is on for every connection). */
    if (run(s, err, "DELETE FROM users WHERE name = ?1", name, (const char *)NULL) < 0 ||
        dq_sq_audit(s, who, "user.delete", name, detail, err) < 0 ||
        dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---------------------------------------------------------------- credentials */

int dq_sqlite_cred_insert(void *impl, int kind, const char *hash, const char *name,
                          int64_t expires_at, const char *who, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    dq_user_t u;
    char detail[96];
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    int r = load_user(s, name, &u, NULL, err);
    if (r != 0) {
        if (r > 0)
            dq_err_set(err, DQ_ENOTFOUND, 404, "no user '%s'", name);
        goto out;
    }
    const char *sql = kind == DQ_CRED_SESSION
                          ? "INSERT INTO sessions (hash, account, created_at, expires_at)"
                            " VALUES (?1, ?2, " NOW_SQL ", ?3)"
                          : "INSERT INTO api_tokens (hash, account, created_at, expires_at)"
                            " VALUES (?1, ?2, " NOW_SQL ", ?3)";
    if (dq_sq_prepare(s, sql, &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, expires_at);
    if (dq_sq_step_done(s, st, err) < 0)
        goto out;
    /* One audit row per API token (they are long-lived and made on purpose); sessions come
     * and go with every login and would drown the trail. */
    snprintf(detail, sizeof(detail), "{\"expires_at\":%lld}", (long long)expires_at);
    if (kind == DQ_CRED_TOKEN && dq_sq_audit(s, who, "token.create", name, detail, err) < 0)
        goto out;
    if (dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_cred_lookup(void *impl, int kind, const char *hash, int64_t now, dq_actor_t *out,
                          dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    /* The role comes from users at every request, so a role change or a deletion takes effect
     * at once; expiry is checked in the same statement. */
    const char *sql =
        kind == DQ_CRED_SESSION
            ? "SELECT c.hash, u.name, u.role FROM sessions c JOIN users u ON u.name = c.account"
              " WHERE c.hash = ?1 AND c.expires_at > ?2"
            : "SELECT c.hash, u.name, u.role FROM api_tokens c JOIN users u ON u.name = c.account"
              " WHERE c.hash = ?1 AND (c.expires_at = 0 OR c.expires_at > ?2)";
    pthread_mutex_lock(&s->lock);
    if (dq_sq_prepare(s, sql, &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = 1;
        goto out;
    }
    if (r != SQLITE_ROW) {
        dq_sq_fail(s, err, "cred_lookup");
        goto out;
    }
    /* Belt and braces: the row's key must equal the hash asked for, compared without an
     * early exit. */
    const unsigned char *h = sqlite3_column_text(st, 0);
    size_t hl = h ? strlen((const char *)h) : 0;
    unsigned diff = hl != 64;
    for (size_t i = 0; i < 64 && hl == 64; i++)
        diff |= (unsigned)(h[i] ^ (unsigned char)hash[i]);
    if (diff) {
        rc = 1;
        goto out;
    }
    memset(out, 0, sizeof(*out));
    dq_sq_copy_col(out->user, sizeof(out->user), st, 1);
    out->role = dq_catalog_role_parse((const char *)sqlite3_column_text(st, 2));
    if (out->role < 0)
        out->role = DQ_ROLE_ANON;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_cred_delete(void *impl, int kind, const char *hash, dq_err_t *err)
{
    store_t *s = impl;
    char sql[80];
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE hash = ?1", cred_table(kind));
    pthread_mutex_lock(&s->lock);
    int rc = run(s, err, sql, hash, (const char *)NULL);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int dq_sqlite_cred_revoke(void *impl, const char *name, int64_t now, const char *who, dq_err_t *err)
{
    store_t *s = impl;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (dq_sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    if (name &&
        (run(s, err, "DELETE FROM sessions WHERE account = ?1", name, (const char *)NULL) < 0 ||
         run(s, err, "DELETE FROM api_tokens WHERE account = ?1", name, (const char *)NULL) < 0 ||
         dq_sq_audit(s, who, "user.revoke", name, "{}", err) < 0))
        goto out;
    if (dq_sq_prepare(s, "DELETE FROM sessions WHERE expires_at <= ?1", &st, err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, now);
    if (dq_sq_step_done(s, st, err) < 0)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    if (dq_sq_prepare(s, "DELETE FROM api_tokens WHERE expires_at <> 0 AND expires_at <= ?1", &st,
                      err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, now);
    if (dq_sq_step_done(s, st, err) < 0 || dq_sq_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        dq_sq_rollback(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
