/*
 * store_sqlite_iiif_auth.c: the SQLite rows behind the IIIF Authorization Flow 2.0
 * credentials (migration 17; catalog.h "IIIF Authorization Flow 2.0"): access cookies and
 * access tokens, each stored as the SHA-256 of its text with an expiry and the session it was
 * granted from. Row primitives only (store.h): minting, shapes and policy are iiif_auth.c's.
 */
#include "catalog.h"
#include "store_sqlite_internal.h"

#include <string.h>

/* Migration 17. ON DELETE CASCADE from sessions: whatever ends a session (logout, a new
 * password, a revoke, the account deleted, the expiry sweep) ends its IIIF credentials in the
 * same statement. WITHOUT ROWID: the hash is the key and the only way in. */
const char dq_sqlite_iiif_auth_schema[] =
    "CREATE TABLE iiif_access ("
    " hash TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),"
    " kind INTEGER NOT NULL CHECK (kind IN (3, 4)),"
    " session TEXT NOT NULL REFERENCES sessions(hash) ON DELETE CASCADE,"
    " created_at TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL CHECK (expires_at > 0)) WITHOUT ROWID;"
    "CREATE INDEX iiif_access_session ON iiif_access(session);"
    "CREATE INDEX iiif_access_expiry ON iiif_access(expires_at);";

static int insert(dq_store_txn_t *t, int kind, const char *hash, const char *session,
                  int64_t expires_at, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO iiif_access (hash, kind, session, created_at,"
                                  " expires_at) VALUES (?1, ?2, ?3, " DQ_SQ_NOW ", ?4)",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, kind);
    sqlite3_bind_text(st, 3, session, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, expires_at);
    return dq_sq_step_done(t, st, err);
}

static int lookup(dq_store_txn_t *t, int kind, const char *hash, int64_t now, dq_actor_t *out,
                  char *session, dq_err_t *err)
{
    /* The role comes from users at every lookup (a changed role counts at once); the session
     * must be alive too, so a credential never outlives what it was granted from. */
    sqlite3_stmt *st = dq_sq_stmt(
        t,
        "SELECT a.hash, u.name, u.role, a.session, a.expires_at > ?2 AND s.expires_at > ?2"
        " FROM iiif_access a JOIN sessions s ON s.hash = a.session"
        " JOIN users u ON u.name = s.account WHERE a.hash = ?1 AND a.kind = ?3",
        err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, kind);
    int rc = dq_sq_row(t, st, "iiif_access lookup", err);
    dq_actor_t who;
    if (rc == 0 && (rc = dq_sq_cred_row(st, hash, &who)) == 0) {
        if (!sqlite3_column_int(st, 4)) {
            rc = 2;
        } else {
            *out = who;
            if (session)
                dq_sq_copy_col(session, 65, st, 3);
        }
    }
    sqlite3_reset(st);
    return rc;
}

static int drop_session(dq_store_txn_t *t, const char *session, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM iiif_access WHERE session = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC);
    return dq_sq_step_done(t, st, err);
}

static int purge(dq_store_txn_t *t, int64_t now, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM iiif_access WHERE expires_at <= ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    return dq_sq_step_done(t, st, err);
}

const dq_store_iiif_auth_ops dq_sqlite_iiif_auth_ops = {
    .insert = insert,
    .lookup = lookup,
    .drop_session = drop_session,
    .purge = purge,
};
