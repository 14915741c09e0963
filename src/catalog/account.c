/*
 * account.c: the backend-neutral half of accounts (catalog.h "accounts"). It validates names,
 * roles and passwords, folds name case, keeps the last-admin rule, writes the audit rows, does
 * the password hashing and credential minting with libsodium, and runs each change as one
 * transaction of the backend's row primitives (store.h). It does not know about HTTP, cookies
 * or terminals: http/api_auth.c and cli/cmd_user.c do. Passwords and tokens are never logged
 * or copied into an error message.
 *
 * Why the hashing happens before any transaction: argon2id costs ~120 ms by design; holding
 * the database's write lock meanwhile would stall every other writer.
 *
 * Names and case: "Alice" and "alice" are one account. Every name is looked up by its key,
 * the name folded to lower case (names are ASCII), so a login works in any case, and a new
 * name whose key is taken is refused (409). Accounts created before folding (migration 7) may
 * share a key; both keep working: a lookup prefers the row whose name matches exactly.
 */
#include "account_internal.h"
#include "catalog.h"
#include "store.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* argon2id at libsodium's "interactive" limits (2 passes, 64 MiB). Measured on the 2-core
 * reference machine: 130 ms to hash, 120 ms to verify; "moderate" (3 passes, 256 MiB) took
 * 450 ms to verify, over the 300 ms login budget. */
#define PW_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE
#define PW_MIN 8
#define PW_MAX 1024

/* Verified when the user name is unknown, so that a failed login costs one argon2id verify
 * whether or not the account exists. It is the hash of 32 random bytes that were thrown away:
 * no password matches it, and it has the same parameters as real hashes. */
static const char dummy_hash[DQ_PWHASH_MAX] =
    "$argon2id$v=19$m=65536,t=2,p=1$R5m5lYJvd9YNHj5nDPvM4Q$XGu7JLhSDu7n4h8dJxkx51jS4R0CmcoDTCz4u/"
    "cBX+U";

/* ---------------------------------------------------------------- names and roles */

static const char *const role_names[] = {"anonymous",   "viewer",  "educator",
                                          "conservator", "curator", "admin"};

const char *dq_catalog_role_name(int role)
{
    return role >= 0 && role < (int)DQ_ARRAY_LEN(role_names) ? role_names[role] : "?";
}

int dq_catalog_role_parse(const char *name)
{
    for (int r = DQ_ROLE_VIEWER; name && r <= DQ_ROLE_ADMIN; r++)
        if (strcmp(name, role_names[r]) == 0)
            return r;
    return -1;
}

int dq_catalog_user_name_valid(const char *name, dq_err_t *err)
{
    if (!name || !*name)
        return dq_err_set(err, DQ_EINVAL, 400, "a user name must not be empty"), 0;
    size_t n = strlen(name);
    if (n > DQ_USER_NAME_MAX)
        return dq_err_set(err, DQ_EINVAL, 400, "a user name has at most %d bytes",
                          DQ_USER_NAME_MAX),
               0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || !strchr("._@-", c)))
            return dq_err_set(err, DQ_EINVAL, 400,
                              "a user name is a letter or digit, then letters, digits, '.', "
                              "'_', '@' or '-'"),
                   0;
    }
    /* "cli" is the actor the command line writes into audit rows. */
    if (strcasecmp(name, "cli") == 0)
        return dq_err_set(err, DQ_EINVAL, 400, "the user name 'cli' is reserved"), 0;
    return 1;
}

static int password_ok(const char *pw, dq_err_t *err)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < PW_MIN)
        return dq_err_set(err, DQ_EINVAL, 400, "a password needs at least %d characters", PW_MIN);
    if (n > PW_MAX)
        return dq_err_set(err, DQ_EINVAL, 400, "a password has at most %d bytes", PW_MAX);
    return 0;
}

static int need_admin(const dq_actor_t *who, dq_err_t *err)
{
    if (!who || who->role < DQ_ROLE_ADMIN)
        return dq_err_set(err, DQ_EINVAL, 403, "only an admin may change accounts");
    return 0;
}

static int lib_init(dq_err_t *err)
{
    /* Idempotent and thread-safe; after the first call it returns 1 at once. */
    if (sodium_init() < 0)
        return dq_err_set(err, DQ_EINTERNAL, 500, "libsodium cannot start");
    return 0;
}

static int hash_password(const char *pw, char out[DQ_PWHASH_MAX], dq_err_t *err)
{
    if (password_ok(pw, err) < 0 || lib_init(err) < 0)
        return -1;
    if (crypto_pwhash_str(out, pw, strlen(pw), PW_OPS, PW_MEM) != 0)
        return dq_err_set(err, DQ_EINTERNAL, 500, "password hashing ran out of memory");
    return 0;
}

void dq_catalog_password_generate(char *out, int n_chars)
{
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    DQ_ASSERT(n_chars >= 12 && n_chars <= 64);
    DQ_ASSERT(sodium_init() >= 0);
    /* randombytes_uniform avoids the modulo bias of `random byte % 57`. */
    for (int i = 0; i < n_chars; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    out[n_chars] = '\0';
}

/* ---------------------------------------------------------------- credentials */

/* Makes "<prefix><43 base64url chars>" from 32 random bytes into token and its SHA-256 (hex)
 * into hash. The prefix tells a session from an API token at a glance (and to secret scanners)
 * without a lookup. */
int dq_account_mint(const char *prefix, char token[DQ_TOKEN_MAX], char hash[65], dq_err_t *err)
{
    if (lib_init(err) < 0)
        return -1;
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    size_t pl = strlen(prefix);
    memcpy(token, prefix, pl);
    sodium_bin2base64(token + pl, DQ_TOKEN_MAX - pl, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    dq_sha256_buf(token, strlen(token), hash);
    return 0;
}

static const char *cred_prefix(int kind)
{
    return kind == DQ_CRED_SESSION ? "dqs_" : "dq_";
}

int dq_account_token_shape_ok(const char *prefix, const char *token)
{
    size_t pl = strlen(prefix);
    if (!token || strncmp(token, prefix, pl) != 0)
        return 0;
    const char *p = token + pl;
    size_t n = 0;
    for (; p[n]; n++) {
        unsigned char c = (unsigned char)p[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_') ||
            n > 43)
            return 0;
    }
    return n == 43;
}

/* 1 when token has the shape mint makes for kind. Checked before hashing so that junk never
 * reaches the store. */
static int token_shape_ok(int kind, const char *token)
{
    return dq_account_token_shape_ok(cred_prefix(kind), token);
}

/* ---------------------------------------------------------------- accounts */

/* The lookup key of a valid name: folded to lower case (ASCII). key: DQ_USER_NAME_MAX + 1. */
static void name_key(const char *name, char *key)
{
    size_t i = 0;
    for (; name[i] && i < DQ_USER_NAME_MAX; i++)
        key[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] - 'A' + 'a' : name[i]);
    key[i] = '\0';
}

/* Inside t: the account called name in any case into *u; 404 when there is none. */
static int find_user(const dq_store_backend_t *be, dq_store_txn_t *t, const char *name,
                     dq_user_t *u, char *pwhash, dq_err_t *err)
{
    char key[DQ_USER_NAME_MAX + 1];
    name_key(name, key);
    int r = be->accounts->user_get(t, key, name, u, pwhash, err);
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no user '%s'", name);
    return r;
}

/* An account change: what to do to the account called name, all in one transaction. */
typedef struct {
    const dq_store_backend_t *be;
    const char *name;
    const dq_actor_t *who;
    int role;           /* >= 0: set (add: the new account's role) */
    const char *pwhash; /* non-NULL: set (add: the new account's hash) */
    int add, del, revoke;
} change_t;

/* The last-admin rule: no change may leave the catalog without an admin, because nobody
 * could manage accounts any more. */
static int keep_an_admin(const change_t *c, dq_store_txn_t *t, const dq_user_t *u, dq_err_t *err)
{
    if (u->role != DQ_ROLE_ADMIN || (!c->del && (c->role < 0 || c->role == DQ_ROLE_ADMIN)))
        return 0;
    int64_t n = 0;
    if (c->be->accounts->admin_count(t, &n, err) < 0)
        return -1;
    if (n <= 1)
        return dq_err_set(err, DQ_EEXIST, 409, "'%s' is the last admin", u->name);
    return 0;
}

static int change_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    const change_t *c = ud;
    const dq_store_account_ops *a = c->be->accounts;
    const dq_store_audit_ops *au = c->be->audit;
    const char *who = c->who->user;
    char detail[128];
    dq_user_t u;
    if (c->add) {
        char key[DQ_USER_NAME_MAX + 1];
        name_key(c->name, key);
        snprintf(detail, sizeof(detail), "{\"role\":\"%s\"}", dq_catalog_role_name(c->role));
        return a->user_insert(t, c->name, key, c->role, c->pwhash, err) < 0 ||
                       au->append(t, who, "user.create", c->name, detail, err) < 0
                   ? -1
                   : 0;
    }
    if (find_user(c->be, t, c->name, &u, NULL, err) < 0 || keep_an_admin(c, t, &u, err) < 0)
        return -1;
    if (c->del) {
        snprintf(detail, sizeof(detail), "{\"role\":\"%s\"}", dq_catalog_role_name(u.role));
        return a->user_delete(t, u.name, err) != 0 ||
                       au->append(t, who, "user.delete", u.name, detail, err) < 0
                   ? -1
                   : 0;
    }
    if (c->role >= 0) {
        snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}",
                 dq_catalog_role_name(u.role), dq_catalog_role_name(c->role));
        if (a->user_update(t, u.name, c->role, NULL, err) != 0 ||
            au->append(t, who, "user.role", u.name, detail, err) < 0)
            return -1;
    }
    /* A new password ends every session and token: it is what a user does when a credential
     * may have leaked. */
    if (c->pwhash && (a->user_update(t, u.name, -1, c->pwhash, err) != 0 ||
                      a->cred_purge(t, u.name, (int64_t)time(NULL), err) < 0 ||
                      au->append(t, who, "user.password", u.name,
                                 "{\"credentials_revoked\":true}", err) < 0))
        return -1;
    if (c->revoke && (a->cred_purge(t, u.name, (int64_t)time(NULL), err) < 0 ||
                      au->append(t, who, "user.revoke", u.name, "{}", err) < 0))
        return -1;
    return 0;
}

static int valid_role(int role, dq_err_t *err)
{
    if (role < DQ_ROLE_VIEWER || role > DQ_ROLE_ADMIN)
        return dq_err_set(err, DQ_EINVAL, 400, "role must be viewer, educator, conservator, curator or admin");
    return 0;
}

int dq_catalog_user_add(dq_catalog_t *cat, const char *name, int role, const char *password,
                        const dq_actor_t *who, dq_err_t *err)
{
    char hash[DQ_PWHASH_MAX];
    int rc = -1;
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err) ||
        valid_role(role, err) < 0 || hash_password(password, hash, err) < 0)
        goto out;
    change_t c = {.be = dq_catalog_backend(cat), .name = name, .who = who, .role = role,
                  .pwhash = hash, .add = 1};
    rc = dq_catalog_write(cat, change_txn, &c, err);
out:
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

typedef struct {
    const dq_store_backend_t *be;
    const char *name;
    dq_user_t *out;
    char *pwhash;
} user_r_t;

static int user_get_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    user_r_t *r = ud;
    return find_user(r->be, t, r->name, r->out, r->pwhash, err);
}

int dq_catalog_user_get(dq_catalog_t *cat, const char *name, dq_user_t *out, dq_err_t *err)
{
    if (!dq_catalog_user_name_valid(name, err))
        return -1;
    user_r_t r = {.be = dq_catalog_backend(cat), .name = name, .out = out};
    return dq_catalog_read(cat, user_get_txn, &r, err);
}

typedef struct {
    const dq_store_backend_t *be;
    dq_user_cb cb;
    void *ud;
} user_l_t;

static int user_list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    user_l_t *l = ud;
    return l->be->accounts->user_list(t, (int64_t)time(NULL), l->cb, l->ud, err);
}

int dq_catalog_user_list(dq_catalog_t *cat, dq_user_cb cb, void *ud, dq_err_t *err)
{
    user_l_t l = {.be = dq_catalog_backend(cat), .cb = cb, .ud = ud};
    return dq_catalog_read(cat, user_list_txn, &l, err);
}

int dq_catalog_user_update(dq_catalog_t *cat, const char *name, int role, const char *password,
                           const dq_actor_t *who, dq_err_t *err)
{
    char hash[DQ_PWHASH_MAX];
    int rc = -1;
    /* Everything is checked (and the password hashed) before the transaction starts, so
     * that a bad password cannot leave a changed role behind (issue 10 item 6). */
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err) ||
        (role >= 0 && valid_role(role, err) < 0) ||
        (password && hash_password(password, hash, err) < 0))
        goto out;
    change_t c = {.be = dq_catalog_backend(cat), .name = name, .who = who, .role = role,
                  .pwhash = password ? hash : NULL};
    rc = dq_catalog_write(cat, change_txn, &c, err);
out:
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

int dq_catalog_user_set_password(dq_catalog_t *cat, const char *name, const char *password,
                                 const dq_actor_t *who, dq_err_t *err)
{
    if (!password)
        return dq_err_set(err, DQ_EINVAL, 400, "a password needs at least %d characters",
                          PW_MIN);
    return dq_catalog_user_update(cat, name, -1, password, who, err);
}

int dq_catalog_user_set_role(dq_catalog_t *cat, const char *name, int role, const dq_actor_t *who,
                             dq_err_t *err)
{
    if (need_admin(who, err) < 0 || valid_role(role, err) < 0)
        return -1;
    return dq_catalog_user_update(cat, name, role, NULL, who, err);
}

int dq_catalog_user_delete(dq_catalog_t *cat, const char *name, const dq_actor_t *who,
                           dq_err_t *err)
{
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err))
        return -1;
    change_t c = {.be = dq_catalog_backend(cat), .name = name, .who = who, .role = -1, .del = 1};
    return dq_catalog_write(cat, change_txn, &c, err);
}

int dq_catalog_user_revoke(dq_catalog_t *cat, const char *name, const dq_actor_t *who,
                           dq_err_t *err)
{
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err))
        return -1;
    change_t c = {.be = dq_catalog_backend(cat), .name = name, .who = who, .role = -1,
                  .revoke = 1};
    return dq_catalog_write(cat, change_txn, &c, err);
}

/* ---------------------------------------------------------------- sessions and tokens */

/* A credential write: mint into the store (insert), or delete one (hash only). */
typedef struct {
    const dq_store_backend_t *be;
    const char *name; /* insert: the account as typed (resolved inside) */
    const char *who;  /* non-NULL: audit "token.create" as who */
    int kind;
    const char *hash;
    int64_t expires_at;
    int del;
    dq_user_t *u; /* insert: the account found (may be NULL) */
} cred_w_t;

static int cred_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    cred_w_t *c = ud;
    const dq_store_account_ops *a = c->be->accounts;
    dq_user_t u;
    if (c->del)
        return a->cred_delete(t, c->kind, c->hash, err);
    /* Sweeping expired credentials here keeps the tables small without a timer thread. */
    if (find_user(c->be, t, c->name, &u, NULL, err) < 0 ||
        a->cred_purge(t, NULL, (int64_t)time(NULL), err) < 0 ||
        a->cred_insert(t, c->kind, c->hash, u.name, c->expires_at, err) < 0)
        return -1;
    if (c->u)
        *c->u = u;
    /* One audit row per API token (they are long-lived and made on purpose); sessions come
     * and go with every login and would drown the trail. */
    char detail[96];
    snprintf(detail, sizeof(detail), "{\"expires_at\":%lld}", (long long)c->expires_at);
    if (c->who && c->be->audit->append(t, c->who, "token.create", u.name, detail, err) < 0)
        return -1;
    return 0;
}

int dq_catalog_login(dq_catalog_t *cat, const char *name, const char *password, int64_t ttl_s,
                     char *token, dq_actor_t *actor, dq_err_t *err)
{
    char stored[DQ_PWHASH_MAX];
    char hash[65];
    dq_user_t u = {0};
    dq_err_t lookup = {0};
    int rc = -1;
    token[0] = '\0';
    if (lib_init(err) < 0)
        goto out;
    /* Every failure below answers the same message: a client must not learn which of the
     * name or the password was wrong. The name is looked up in any case (folded). */
    user_r_t r = {.be = dq_catalog_backend(cat), .name = name, .out = &u, .pwhash = stored};
    int known = name && password && strlen(password) <= PW_MAX &&
                dq_catalog_user_name_valid(name, &lookup) &&
                dq_catalog_read(cat, user_get_txn, &r, &lookup) == 0;
    if (!known && lookup.code != DQ_OK && lookup.code != DQ_ENOTFOUND && lookup.code != DQ_EINVAL) {
        *err = lookup; /* a database failure is a 500, not a wrong password */
        goto out;
    }
    /* The unknown-name path verifies against dummy_hash, so both paths cost one argon2id
     * verify; crypto_pwhash_str_verify compares in constant time. */
    const char *pw = password ? password : "";
    size_t pw_len = strlen(pw) <= PW_MAX ? strlen(pw) : 0;
    int ok = crypto_pwhash_str_verify(known ? stored : dummy_hash, pw, pw_len) == 0;
    if (!known || !ok) {
        dq_err_set(err, DQ_EINVAL, 401, "wrong user name or password");
        goto out;
    }
    if (ttl_s <= 0) {
        dq_err_set(err, DQ_EINVAL, 400, "a session needs a positive lifetime");
        goto out;
    }
    if (dq_account_mint(cred_prefix(DQ_CRED_SESSION), token, hash, err) < 0)
        goto out;
    /* The session belongs to the account as stored (its exact name). */
    cred_w_t c = {.be = r.be,
                  .name = u.name,
                  .kind = DQ_CRED_SESSION,
                  .hash = hash,
                  .expires_at = (int64_t)time(NULL) + ttl_s};
    if (dq_catalog_write(cat, cred_txn, &c, err) < 0)
        goto out;
    snprintf(actor->user, sizeof(actor->user), "%s", u.name);
    actor->role = u.role;
    rc = 0;
out:
    if (rc < 0 && token)
        sodium_memzero(token, DQ_TOKEN_MAX);
    sodium_memzero(stored, sizeof(stored));
    return rc;
}

/* One "login.fail" audit row in its own write transaction. */
typedef struct {
    const dq_store_backend_t *be;
    const char *object, *detail;
} fail_audit_t;

static int fail_audit_row(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    const fail_audit_t *a = ud;
    return a->be->audit->append(t, "anonymous", "login.fail", a->object, a->detail, err);
}

int dq_catalog_login_failed(dq_catalog_t *cat, const char *name, const char *client,
                            dq_err_t *err)
{
    dq_err_t ignored = {0};
    /* Only a well-formed name is written: a user who typed a password into the name field
     * must not find it in the audit trail. */
    const char *object = dq_catalog_user_name_valid(name, &ignored) ? name : "?";
    dq_buf_t detail = {0};
    dq_buf_puts(&detail, "{\"client\":\"");
    dq_buf_json_str(&detail, client ? client : "", client ? strlen(client) : 0);
    dq_buf_puts(&detail, "\"}");
    fail_audit_t a = {dq_catalog_backend(cat), object, detail.data};
    int rc = dq_catalog_write(cat, fail_audit_row, &a, err);
    dq_buf_free(&detail);
    return rc;
}

int dq_catalog_logout(dq_catalog_t *cat, const char *token, dq_err_t *err)
{
    char hash[65];
    if (!token_shape_ok(DQ_CRED_SESSION, token))
        return 0;
    dq_sha256_buf(token, strlen(token), hash);
    cred_w_t c = {.be = dq_catalog_backend(cat), .kind = DQ_CRED_SESSION, .hash = hash, .del = 1};
    return dq_catalog_write(cat, cred_txn, &c, err);
}

int dq_catalog_token_create(dq_catalog_t *cat, const char *name, int64_t ttl_s,
                            const dq_actor_t *who, char *token, dq_err_t *err)
{
    char hash[65];
    token[0] = '\0';
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err))
        return -1;
    if (ttl_s < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "a token lifetime must not be negative");
    int64_t expires = ttl_s ? (int64_t)time(NULL) + ttl_s : 0;
    cred_w_t c = {.be = dq_catalog_backend(cat),
                  .name = name,
                  .who = who->user,
                  .kind = DQ_CRED_TOKEN,
                  .hash = hash,
                  .expires_at = expires};
    if (dq_account_mint(cred_prefix(DQ_CRED_TOKEN), token, hash, err) < 0 ||
        dq_catalog_write(cat, cred_txn, &c, err) < 0) {
        sodium_memzero(token, DQ_TOKEN_MAX);
        return -1;
    }
    return 0;
}

typedef struct {
    const dq_store_backend_t *be;
    int kind;
    const char *hash;
    dq_actor_t *out;
} cred_r_t;

static int cred_lookup_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    cred_r_t *r = ud;
    return r->be->accounts->cred_lookup(t, r->kind, r->hash, (int64_t)time(NULL), r->out, err);
}

int dq_catalog_authenticate(dq_catalog_t *cat, int kind, const char *token, dq_actor_t *out,
                            dq_err_t *err)
{
    char hash[65];
    memset(out, 0, sizeof(*out));
    if ((kind != DQ_CRED_SESSION && kind != DQ_CRED_TOKEN) || !token_shape_ok(kind, token))
        return dq_err_set(err, DQ_EINVAL, 401, "invalid credentials");
    /* The lookup is by the SHA-256 of the token, so what an index lookup's timing could leak
     * is about a hash the attacker cannot steer, not about the secret itself. */
    dq_sha256_buf(token, strlen(token), hash);
    cred_r_t r = {.be = dq_catalog_backend(cat), .kind = kind, .hash = hash, .out = out};
    int rc = dq_catalog_read(cat, cred_lookup_txn, &r, err);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return dq_err_set(err, DQ_EINVAL, 401, "unknown, expired or revoked credentials");
    return 0;
}
