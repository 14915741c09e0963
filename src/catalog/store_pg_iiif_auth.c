/*
 * store_pg_iiif_auth.c: the PostgreSQL rows behind the IIIF Authorization Flow 2.0
 * credentials (migration 17), the same table and meaning as store_sqlite_iiif_auth.c: access
 * cookies and access tokens as SHA-256 with an expiry and the session they came from. Because
 * they live here, every server sharing the database honours them. Row primitives only.
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <string.h>

/* Migration 17; ON DELETE CASCADE from sessions as on SQLite. */
const char dq_pg_iiif_auth_schema[] =
    "CREATE TABLE iiif_access ("
    " hash text COLLATE \"C\" PRIMARY KEY CHECK (length(hash) = 64),"
    " kind integer NOT NULL CHECK (kind IN (3, 4)),"
    " session text COLLATE \"C\" NOT NULL REFERENCES sessions(hash) ON DELETE CASCADE,"
    " created_at text NOT NULL,"
    " expires_at bigint NOT NULL CHECK (expires_at > 0));"
    "CREATE INDEX iiif_access_session ON iiif_access(session);"
    "CREATE INDEX iiif_access_expiry ON iiif_access(expires_at);";

static int insert(dq_store_txn_t *t, int kind, const char *hash, const char *session,
                  int64_t expires_at, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, hash);
    dq_pg_p_int(&p, kind);
    dq_pg_p_text(&p, session);
    dq_pg_p_int(&p, expires_at);
    return dq_pg_run(t,
                     "INSERT INTO iiif_access (hash, kind, session, created_at, expires_at)"
                     " VALUES ($1, $2, $3, " DQ_PG_NOW ", $4)",
                     &p, NULL, err);
}

static int lookup(dq_store_txn_t *t, int kind, const char *hash, int64_t now, dq_actor_t *out,
                  char *session, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, hash);
    dq_pg_p_int(&p, now);
    dq_pg_p_int(&p, kind);
    PGresult *r =
        dq_pg_exec(t,
                   "SELECT a.hash, u.name, u.role, a.session,"
                   " (a.expires_at > $2 AND s.expires_at > $2)::int"
                   " FROM iiif_access a JOIN sessions s ON s.hash = a.session"
                   " JOIN users u ON u.name = s.account WHERE a.hash = $1 AND a.kind = $3",
                   &p, err);
    if (!r)
        return -1;
    dq_actor_t who;
    int rc = PQntuples(r) ? dq_pg_cred_row(r, hash, &who) : 1;
    if (rc == 0) {
        if (!dq_pg_col_int(r, 0, 4)) {
            rc = 2;
        } else {
            *out = who;
            if (session)
                dq_pg_copy_col(session, 65, r, 0, 3);
        }
    }
    PQclear(r);
    return rc;
}

static int drop_session(dq_store_txn_t *t, const char *session, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, session);
    return dq_pg_run(t, "DELETE FROM iiif_access WHERE session = $1", &p, NULL, err);
}

static int purge(dq_store_txn_t *t, int64_t now, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_int(&p, now);
    return dq_pg_run(t, "DELETE FROM iiif_access WHERE expires_at <= $1", &p, NULL, err);
}

const dq_store_iiif_auth_ops dq_pg_iiif_auth_ops = {
    .insert = insert,
    .lookup = lookup,
    .drop_session = drop_session,
    .purge = purge,
};
