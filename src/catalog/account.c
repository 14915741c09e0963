/*
 * account.c: the backend-neutral half of accounts (catalog.h "accounts"). It validates names,
 * roles and passwords, does the password hashing and credential minting with libsodium, and
 * dispatches row work to dq_store_ops. It does not know about HTTP, cookies or terminals:
 * http/api_auth.c and cli/cmd_user.c do. Passwords and tokens are never logged or copied into
 * an error message.
 *
 * Why the hashing lives here and not in the backend: argon2id costs ~120 ms by design, and the
 * backend serializes every call under one lock; verifying outside the lock keeps a burst of
 * logins from stalling tile requests that need the catalog.
 */
#include "catalog.h"

#include <sodium.h>
#include <string.h>
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

static const char *const role_names[] = {"anonymous", "viewer", "conservator", "curator", "admin"};

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
    if (strcmp(name, "cli") == 0)
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
static int mint(const char *prefix, char token[DQ_TOKEN_MAX], char hash[65], dq_err_t *err)
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

/* 1 when token has the shape mint makes for kind: the prefix, then 43 base64url characters.
 * Checked before hashing so that junk never reaches the store. */
static int token_shape_ok(int kind, const char *token)
{
    const char *prefix = cred_prefix(kind);
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

/* ---------------------------------------------------------------- accounts */

int dq_catalog_user_add(dq_catalog_t *cat, const char *name, int role, const char *password,
                        const dq_actor_t *who, dq_err_t *err)
{
    char hash[DQ_PWHASH_MAX];
    int rc = -1;
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err))
        goto out;
    if (role < DQ_ROLE_VIEWER || role > DQ_ROLE_ADMIN) {
        dq_err_set(err, DQ_EINVAL, 400, "role must be viewer, conservator, curator or admin");
        goto out;
    }
    if (hash_password(password, hash, err) < 0)
        goto out;
    rc = dq_catalog_ops(cat)->user_insert(dq_catalog_impl(cat), name, role, hash, who->user, err);
out:
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

int dq_catalog_user_get(dq_catalog_t *cat, const char *name, dq_user_t *out, dq_err_t *err)
{
    if (!dq_catalog_user_name_valid(name, err))
        return -1;
    return dq_catalog_ops(cat)->user_get(dq_catalog_impl(cat), name, out, NULL, err);
}

int dq_catalog_user_list(dq_catalog_t *cat, dq_user_cb cb, void *ud, dq_err_t *err)
{
    return dq_catalog_ops(cat)->user_list(dq_catalog_impl(cat), (int64_t)time(NULL), cb, ud, err);
}

int dq_catalog_user_set_password(dq_catalog_t *cat, const char *name, const char *password,
                                 const dq_actor_t *who, dq_err_t *err)
{
    char hash[DQ_PWHASH_MAX];
    int rc = -1;
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err) ||
        hash_password(password, hash, err) < 0)
        goto out;
    rc = dq_catalog_ops(cat)->user_update(dq_catalog_impl(cat), name, -1, hash, who->user, err);
out:
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

int dq_catalog_user_set_role(dq_catalog_t *cat, const char *name, int role, const dq_actor_t *who,
                             dq_err_t *err)
{
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err))
        return -1;
    if (role < DQ_ROLE_VIEWER || role > DQ_ROLE_ADMIN)
        return dq_err_set(err, DQ_EINVAL, 400,
                          "role must be viewer, conservator, curator or admin");
    return dq_catalog_ops(cat)->user_update(dq_catalog_impl(cat), name, role, NULL, who->user, err);
}

int dq_catalog_user_delete(dq_catalog_t *cat, const char *name, const dq_actor_t *who,
                           dq_err_t *err)
{
    if (need_admin(who, err) < 0 || !dq_catalog_user_name_valid(name, err))
        return -1;
    return dq_catalog_ops(cat)->user_delete(dq_catalog_impl(cat), name, who->user, err);
}

int dq_catalog_user_revoke(dq_catalog_t *cat, const char *name, const dq_actor_t *who,
                           dq_err_t *err)
{
    dq_user_t u;
    if (need_admin(who, err) < 0 || dq_catalog_user_get(cat, name, &u, err) < 0)
        return -1;
    return dq_catalog_ops(cat)->cred_revoke(dq_catalog_impl(cat), name, (int64_t)time(NULL),
                                            who->user, err);
}

/* ---------------------------------------------------------------- sessions and tokens */

int dq_catalog_login(dq_catalog_t *cat, const char *name, const char *password, int64_t ttl_s,
                     char *token, dq_actor_t *actor, dq_err_t *err)
{
    const dq_store_ops *ops = dq_catalog_ops(cat);
    void *impl = dq_catalog_impl(cat);
    char stored[DQ_PWHASH_MAX];
    char hash[65];
    dq_user_t u = {0};
    dq_err_t lookup = {0};
    int rc = -1;
    token[0] = '\0';
    if (lib_init(err) < 0)
        goto out;
    /* Every failure below answers the same message: a client must not learn which of the
     * name or the password was wrong. */
    int known = name && password && strlen(password) <= PW_MAX &&
                dq_catalog_user_name_valid(name, &lookup) &&
                ops->user_get(impl, name, &u, stored, &lookup) == 0;
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
    int64_t now = (int64_t)time(NULL);
    /* Sweeping expired credentials here keeps the tables small without a timer thread. */
    if (ops->cred_revoke(impl, NULL, now, name, err) < 0 ||
        mint(cred_prefix(DQ_CRED_SESSION), token, hash, err) < 0 ||
        ops->cred_insert(impl, DQ_CRED_SESSION, hash, name, now + ttl_s, name, err) < 0)
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

/* One "login.fail" audit row inside the backend's write transaction. */
typedef struct {
    const dq_store_ops *ops;
    const char *object, *detail;
} fail_audit_t;

static int fail_audit_row(void *ud, void *txn, dq_err_t *err)
{
    const fail_audit_t *a = ud;
    return a->ops->relic_audit(txn, "anonymous", "login.fail", a->object, a->detail, err);
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
    fail_audit_t a = {dq_catalog_ops(cat), object, detail.data};
    int rc = a.ops->relic_txn(dq_catalog_impl(cat), fail_audit_row, &a, err);
    dq_buf_free(&detail);
    return rc;
}

int dq_catalog_logout(dq_catalog_t *cat, const char *token, dq_err_t *err)
{
    char hash[65];
    if (!token_shape_ok(DQ_CRED_SESSION, token))
        return 0;
    dq_sha256_buf(token, strlen(token), hash);
    return dq_catalog_ops(cat)->cred_delete(dq_catalog_impl(cat), DQ_CRED_SESSION, hash, err);
}

int dq_catalog_token_create(dq_catalog_t *cat, const char *name, int64_t ttl_s,
                            const dq_actor_t *who, char *token, dq_err_t *err)
{
    char hash[65];
    dq_user_t u;
    token[0] = '\0';
    if (need_admin(who, err) < 0 || dq_catalog_user_get(cat, name, &u, err) < 0)
        return -1;
    if (ttl_s < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "a token lifetime must not be negative");
    int64_t expires = ttl_s ? (int64_t)time(NULL) + ttl_s : 0;
    if (mint(cred_prefix(DQ_CRED_TOKEN), token, hash, err) < 0 ||
        dq_catalog_ops(cat)->cred_insert(dq_catalog_impl(cat), DQ_CRED_TOKEN, hash, name, expires,
                                         who->user, err) < 0) {
        sodium_memzero(token, DQ_TOKEN_MAX);
        return -1;
    }
    return 0;
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
    int r = dq_catalog_ops(cat)->cred_lookup(dq_catalog_impl(cat), kind, hash, (int64_t)time(NULL),
                                             out, err);
    if (r < 0)
        return -1;
    if (r > 0)
        return dq_err_set(err, DQ_EINVAL, 401, "unknown, expired or revoked credentials");
    return 0;
}
