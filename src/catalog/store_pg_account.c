/*
 * store_pg_account.c: the PostgreSQL rows behind accounts (migrations 4 and 7), the twin of
 * store_sqlite_account.c: users with their argon2id hash and folded name key, browser sessions
 * and API tokens, each credential kept only as the SHA-256 of its text with an expiry in Unix
 * seconds. Because sessions and tokens live here, every server sharing the database accepts
 * every login. Row primitives only: hashing, minting, validation, the last-admin rule and the
 * audit rows are account.c's.
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* Migration 4. `ord` stands in for SQLite's rowid: "the oldest" account of a folded key. */
const char dq_pg_account_schema[] =
    "CREATE TABLE users ("
    " name text COLLATE \"C\" PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 63),"
    " ord bigint GENERATED ALWAYS AS IDENTITY,"
    " role text NOT NULL CHECK (role IN ('viewer','conservator','curator','admin')),"
    " pwhash text NOT NULL CHECK (pwhash LIKE '$argon2id$%'),"
    " created_at text NOT NULL,"
    " updated_at text NOT NULL);"
    "CREATE TABLE sessions ("
    " hash text COLLATE \"C\" PRIMARY KEY CHECK (length(hash) = 64),"
    " account text COLLATE \"C\" NOT NULL REFERENCES users(name) ON DELETE CASCADE"
    "   ON UPDATE CASCADE,"
    " created_at text NOT NULL,"
    " expires_at bigint NOT NULL CHECK (expires_at > 0));"
    "CREATE INDEX sessions_account ON sessions(account);"
    "CREATE INDEX sessions_expiry ON sessions(expires_at);"
    "CREATE TABLE api_tokens ("
    " hash text COLLATE \"C\" PRIMARY KEY CHECK (length(hash) = 64),"
    " account text COLLATE \"C\" NOT NULL REFERENCES users(name) ON DELETE CASCADE"
    "   ON UPDATE CASCADE,"
    " created_at text NOT NULL,"
    " expires_at bigint NOT NULL CHECK (expires_at >= 0));"
    "CREATE INDEX api_tokens_account ON api_tokens(account);";

/* Migration 7: the key, lower-case ASCII (names are ASCII; see store_sqlite_account.c). */
const char dq_pg_account_fold_schema[] =
    "ALTER TABLE users ADD COLUMN name_key text COLLATE \"C\" NOT NULL DEFAULT '';"
    "UPDATE users SET name_key = lower(name);"
    "CREATE INDEX users_key ON users(name_key);";

/* ---------------------------------------------------------------- users */

static int user_get(dq_store_txn_t *t, const char *key, const char *name_hint, dq_user_t *out,
                    char *pwhash, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, key);
    dq_pg_p_text(&p, name_hint);
    PGresult *r = dq_pg_exec(t,
                             "SELECT name, role, created_at, updated_at, pwhash FROM users"
                             " WHERE name_key = $1 ORDER BY (name = $2::text) IS TRUE DESC, ord"
                             " LIMIT 1",
                             &p, err);
    if (!r)
        return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (rc == 0) {
        memset(out, 0, sizeof(*out));
        dq_pg_copy_col(out->name, sizeof(out->name), r, 0, 0);
        out->role = dq_catalog_role_parse(dq_pg_col(r, 0, 1));
        dq_pg_copy_col(out->created_at, sizeof(out->created_at), r, 0, 2);
        dq_pg_copy_col(out->updated_at, sizeof(out->updated_at), r, 0, 3);
        if (pwhash)
            dq_pg_copy_col(pwhash, DQ_PWHASH_MAX, r, 0, 4);
    }
    PQclear(r);
    return rc;
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
    pg_params_t p = {0};
    dq_pg_p_text(&p, name);
    dq_pg_p_text(&p, key);
    dq_pg_p_text(&p, dq_catalog_role_name(role));
    dq_pg_p_text(&p, pwhash);
    return dq_pg_run(t,
                     "INSERT INTO users (name, name_key, role, pwhash, created_at, updated_at)"
                     " VALUES ($1, $2, $3, $4, " DQ_PG_NOW ", " DQ_PG_NOW ")",
                     &p, NULL, err);
}

typedef struct {
    dq_user_cb cb;
    void *ud;
} users_t;

static int user_row(void *ud, PGresult *r)
{
    users_t *w = ud;
    dq_user_t u = {0};
    dq_pg_copy_col(u.name, sizeof(u.name), r, 0, 0);
    u.role = dq_catalog_role_parse(dq_pg_col(r, 0, 1));
    dq_pg_copy_col(u.created_at, sizeof(u.created_at), r, 0, 2);
    dq_pg_copy_col(u.updated_at, sizeof(u.updated_at), r, 0, 3);
    u.n_sessions = dq_pg_col_int(r, 0, 4);
    u.n_tokens = dq_pg_col_int(r, 0, 5);
    return w->cb(w->ud, &u);
}

static int user_list(dq_store_txn_t *t, int64_t now, dq_user_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    users_t w = {cb, ud};
    dq_pg_p_int(&p, now);
    return dq_pg_walk(t,
                      "SELECT name, role, created_at, updated_at,"
                      " (SELECT count(*) FROM sessions WHERE account = name AND expires_at > $1),"
                      " (SELECT count(*) FROM api_tokens WHERE account = name"
                      "  AND (expires_at = 0 OR expires_at > $1))"
                      " FROM users ORDER BY name",
                      &p, user_row, &w, err);
}

static int user_update(dq_store_txn_t *t, const char *name, int role, const char *pwhash,
                       dq_err_t *err)
{
    int64_t n = 0;
    pg_params_t p = {0};
    if (role >= 0) {
        dq_pg_p_text(&p, name);
        dq_pg_p_text(&p, dq_catalog_role_name(role));
        if (dq_pg_run(t, "UPDATE users SET role = $2, updated_at = " DQ_PG_NOW " WHERE name = $1",
                      &p, &n, err) < 0)
            return -1;
    }
    if (pwhash) {
        p = (pg_params_t){0};
        dq_pg_p_text(&p, name);
        dq_pg_p_text(&p, pwhash);
        if (dq_pg_run(t, "UPDATE users SET pwhash = $2, updated_at = " DQ_PG_NOW " WHERE name = $1",
                      &p, &n, err) < 0)
            return -1;
    }
    return n ? 0 : 1;
}

static int user_delete(dq_store_txn_t *t, const char *name, dq_err_t *err)
{
    int64_t n = 0;
    pg_params_t p = {0};
    dq_pg_p_text(&p, name);
    if (dq_pg_run(t, "DELETE FROM users WHERE name = $1", &p, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int admin_count(dq_store_txn_t *t, int64_t *n, dq_err_t *err)
{
    return dq_pg_int(t, "SELECT count(*) FROM users WHERE role = 'admin'", NULL, n, err) < 0 ? -1
                                                                                             : 0;
}

/* ---------------------------------------------------------------- credentials */

static int cred_insert(dq_store_txn_t *t, int kind, const char *hash, const char *name,
                       int64_t expires_at, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, hash);
    dq_pg_p_text(&p, name);
    dq_pg_p_int(&p, expires_at);
    return dq_pg_run(t,
                     kind == DQ_CRED_SESSION
                         ? "INSERT INTO sessions (hash, account, created_at, expires_at)"
                           " VALUES ($1, $2, " DQ_PG_NOW ", $3)"
                         : "INSERT INTO api_tokens (hash, account, created_at, expires_at)"
                           " VALUES ($1, $2, " DQ_PG_NOW ", $3)",
                     &p, NULL, err);
}

static int cred_lookup(dq_store_txn_t *t, int kind, const char *hash, int64_t now, dq_actor_t *out,
                       dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, hash);
    dq_pg_p_int(&p, now);
    PGresult *r = dq_pg_exec(
        t,
        kind == DQ_CRED_SESSION
            ? "SELECT c.hash, u.name, u.role FROM sessions c JOIN users u ON u.name = c.account"
              " WHERE c.hash = $1 AND c.expires_at > $2"
            : "SELECT c.hash, u.name, u.role FROM api_tokens c JOIN users u ON u.name = c.account"
              " WHERE c.hash = $1 AND (c.expires_at = 0 OR c.expires_at > $2)",
        &p, err);
    if (!r)
        return -1;
    int rc = PQntuples(r) ? dq_pg_cred_row(r, hash, out) : 1;
    PQclear(r);
    return rc;
}

int dq_pg_cred_row(PGresult *r, const char *hash, dq_actor_t *out)
{
    /* As on SQLite: the row's key must equal the hash asked for, compared without an early
     * exit. */
    const char *h = dq_pg_col(r, 0, 0);
    size_t hl = h ? strlen(h) : 0;
    unsigned diff = hl != 64;
    for (size_t i = 0; i < 64 && hl == 64; i++)
        diff |= (unsigned)((unsigned char)h[i] ^ (unsigned char)hash[i]);
    if (diff)
        return 1;
    memset(out, 0, sizeof(*out));
    dq_pg_copy_col(out->user, sizeof(out->user), r, 0, 1);
    out->role = dq_catalog_role_parse(dq_pg_col(r, 0, 2));
    if (out->role < 0)
        out->role = DQ_ROLE_ANON;
    return 0;
}

static int cred_delete(dq_store_txn_t *t, int kind, const char *hash, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, hash);
    return dq_pg_run(t,
                     kind == DQ_CRED_SESSION ? "DELETE FROM sessions WHERE hash = $1"
                                             : "DELETE FROM api_tokens WHERE hash = $1",
                     &p, NULL, err);
}

static int cred_purge(dq_store_txn_t *t, const char *name, int64_t now, dq_err_t *err)
{
    pg_params_t p = {0};
    if (name) {
        dq_pg_p_text(&p, name);
        if (dq_pg_run(t, "DELETE FROM sessions WHERE account = $1", &p, NULL, err) < 0 ||
            dq_pg_run(t, "DELETE FROM api_tokens WHERE account = $1", &p, NULL, err) < 0)
            return -1;
    }
    p = (pg_params_t){0};
    dq_pg_p_int(&p, now);
    if (dq_pg_run(t, "DELETE FROM sessions WHERE expires_at <= $1", &p, NULL, err) < 0)
        return -1;
    return dq_pg_run(t, "DELETE FROM api_tokens WHERE expires_at <> 0 AND expires_at <= $1", &p,
                     NULL, err);
}

const dq_store_account_ops dq_pg_account_ops = {
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
