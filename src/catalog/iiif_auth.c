/*
 * iiif_auth.c: the backend-neutral half of the IIIF Authorization Flow API 2.0 credentials
 * (catalog.h "IIIF Authorization Flow 2.0"): minting access cookies and access tokens,
 * looking them up, and ending them with the session they came from. The rows live behind
 * dq_store_iiif_auth_ops (store_sqlite_iiif_auth.c, store_pg_iiif_auth.c); the HTTP side
 * (cookies, postMessage pages, the probe) is http/iiif_auth.c. Nothing here logs a secret.
 *
 * Why every credential is tied to a session rather than to an account: Auth 2.0 §6.2 asks the
 * server to invalidate "any access tokens representing those aspects" at logout; a session
 * is the aspect the user signed in with, so ending it (logout, new password, revoke, account
 * deleted: all delete the session row) ends everything granted from it, in one place.
 */
#include "account_internal.h"
#include "catalog.h"
#include "store.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

/* The text before the 43 random characters, per kind: tells the kinds apart at a glance and
 * lets a malformed value be refused before any lookup. */
static const char *prefix_of(int kind)
{
    switch (kind) {
    case DQ_CRED_SESSION:
        return "dqs_";
    case DQ_IIIF_CRED_COOKIE:
        return "dqa_";
    case DQ_IIIF_CRED_TOKEN:
        return "dqt_";
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------- lookups */

typedef struct {
    const dq_store_backend_t *be;
    int kind;         /* DQ_CRED_SESSION or DQ_IIIF_CRED_* */
    const char *hash; /* of the credential asked about */
    dq_actor_t *out;
    char session[65]; /* out: the session's hash */
    int status;       /* out: the lookup's 0 / 1 / 2 */
} find_t;

/* Inside t: who holds f->hash and which session it belongs to. A session is its own root. */
static int find(find_t *f, dq_store_txn_t *t, int64_t now, dq_err_t *err)
{
    if (f->kind == DQ_CRED_SESSION) {
        int r = f->be->accounts->cred_lookup(t, DQ_CRED_SESSION, f->hash, now, f->out, err);
        if (r < 0)
            return -1;
        f->status = r; /* the accounts table does not say "expired" apart from "unknown" */
        if (r == 0)
            memcpy(f->session, f->hash, 65);
        return 0;
    }
    int r = f->be->iiif_auth->lookup(t, f->kind, f->hash, now, f->out, f->session, err);
    if (r < 0)
        return -1;
    f->status = r;
    return 0;
}

static int find_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    return find(ud, t, (int64_t)time(NULL), err);
}

/* Hashes cred of kind into f after checking its shape; 0 when well formed, else -1 with 401. */
static int prepare(find_t *f, dq_catalog_t *cat, int kind, const char *cred, dq_actor_t *out,
                   dq_err_t *err)
{
    memset(f, 0, sizeof(*f));
    memset(out, 0, sizeof(*out));
    f->be = dq_catalog_backend(cat);
    f->kind = kind;
    f->out = out;
    const char *prefix = prefix_of(kind);
    if (!prefix || !dq_account_token_shape_ok(prefix, cred))
        return dq_err_set(err, DQ_EINVAL, 401, "invalid credentials");
    return 0;
}

/* The 401 of a lookup that found nothing usable; *expired says which. */
static int refuse(const find_t *f, int *expired, dq_err_t *err)
{
    if (expired)
        *expired = f->status == 2;
    return dq_err_set(err, DQ_EINVAL, 401,
                      f->status == 2 ? "expired credentials" : "unknown or revoked credentials");
}

int dq_catalog_iiif_authenticate(dq_catalog_t *cat, int kind, const char *cred, dq_actor_t *out,
                                 int *expired, dq_err_t *err)
{
    find_t f;
    char hash[65];
    if (expired)
        *expired = 0;
    if ((kind != DQ_IIIF_CRED_COOKIE && kind != DQ_IIIF_CRED_TOKEN) ||
        prepare(&f, cat, kind, cred, out, err) < 0)
        return dq_err_set(err, DQ_EINVAL, 401, "invalid credentials");
    dq_sha256_buf(cred, strlen(cred), hash);
    f.hash = hash;
    if (dq_catalog_read(cat, find_txn, &f, err) < 0)
        return -1;
    if (f.status != 0) {
        memset(out, 0, sizeof(*out));
        return refuse(&f, expired, err);
    }
    return 0;
}

/* ---------------------------------------------------------------- minting */

typedef struct {
    find_t from;      /* the credential presented */
    int kind;         /* what to mint */
    const char *hash; /* of the new credential */
    int64_t expires_at;
} mint_t;

/* One transaction: the presented credential is still good, expired rows are swept (keeps
 * the table small without a timer), and the new one is stored under the same session. */
static int mint_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    mint_t *m = ud;
    int64_t now = (int64_t)time(NULL);
    if (find(&m->from, t, now, err) < 0)
        return -1;
    if (m->from.status != 0)
        return 0; /* nothing written (commits an empty transaction); the caller answers 401 */
    const dq_store_iiif_auth_ops *o = m->from.be->iiif_auth;
    if (o->purge(t, now, err) < 0 ||
        o->insert(t, m->kind, m->hash, m->from.session, m->expires_at, err) < 0)
        return -1;
    return 0;
}

/* Mints a credential of kind from cred of from_kind; see dq_catalog_iiif_grant/_token. */
static int mint_from(dq_catalog_t *cat, int from_kind, const char *cred, int kind, int64_t ttl_s,
                     char *out, dq_actor_t *who, int *expired, dq_err_t *err)
{
    mint_t m = {.kind = kind};
    char from_hash[65], hash[65];
    out[0] = '\0';
    if (expired)
        *expired = 0;
    if (ttl_s <= 0)
        return dq_err_set(err, DQ_EINVAL, 400, "a credential needs a positive lifetime");
    if (prepare(&m.from, cat, from_kind, cred, who, err) < 0)
        return -1;
    dq_sha256_buf(cred, strlen(cred), from_hash);
    m.from.hash = from_hash;
    if (dq_account_mint(prefix_of(kind), out, hash, err) < 0)
        return -1;
    m.hash = hash;
    m.expires_at = (int64_t)time(NULL) + ttl_s;
    int rc = dq_catalog_write(cat, mint_txn, &m, err);
    if (rc < 0 || m.from.status != 0) {
        sodium_memzero(out, DQ_TOKEN_MAX);
        memset(who, 0, sizeof(*who));
        return rc < 0 ? -1 : refuse(&m.from, expired, err);
    }
    return 0;
}

int dq_catalog_iiif_grant(dq_catalog_t *cat, const char *session, int64_t ttl_s, char *cookie,
                          dq_actor_t *who, dq_err_t *err)
{
    return mint_from(cat, DQ_CRED_SESSION, session, DQ_IIIF_CRED_COOKIE, ttl_s, cookie, who, NULL,
                     err);
}

int dq_catalog_iiif_token(dq_catalog_t *cat, int from_kind, const char *cred, int64_t ttl_s,
                          char *token, dq_actor_t *who, int *expired, dq_err_t *err)
{
    if (from_kind != DQ_CRED_SESSION && from_kind != DQ_IIIF_CRED_COOKIE) {
        token[0] = '\0';
        return dq_err_set(err, DQ_EINVAL, 401, "invalid credentials");
    }
    return mint_from(cat, from_kind, cred, DQ_IIIF_CRED_TOKEN, ttl_s, token, who, expired, err);
}

/* ---------------------------------------------------------------- logout */

/* Ends the session behind f (found even when expired, so that a stale cookie still clears
 * what is left of it): its IIIF credentials, then the session row itself. */
static int logout_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    find_t *f = ud;
    /* A lookup at time 0 sees every row that still exists, expired or not. */
    if (find(f, t, 0, err) < 0)
        return -1;
    if (f->status != 0)
        return 0; /* unknown: nothing to end */
    return f->be->iiif_auth->drop_session(t, f->session, err) < 0 ||
                   f->be->accounts->cred_delete(t, DQ_CRED_SESSION, f->session, err) < 0
               ? -1
               : 0;
}

int dq_catalog_iiif_logout(dq_catalog_t *cat, int kind, const char *cred, dq_err_t *err)
{
    find_t f;
    dq_actor_t who;
    char hash[65];
    if (kind != DQ_CRED_SESSION && kind != DQ_IIIF_CRED_COOKIE)
        return dq_err_set(err, DQ_EINVAL, 400, "only a session or an access cookie signs out");
    if (prepare(&f, cat, kind, cred, &who, err) < 0)
        return 0; /* malformed: it never named a session */
    dq_sha256_buf(cred, strlen(cred), hash);
    f.hash = hash;
    return dq_catalog_write(cat, logout_txn, &f, err);
}
