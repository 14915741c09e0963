/*
 * api_auth.c: who is asking, and the account endpoints of the JSON API: login, logout, me
 * and the admin's /api/users. Credentials are checked by the catalog (catalog.h "accounts");
 * this file reads them from the request (Authorization header, Cookie header), writes the
 * session cookie, and never logs or echoes a password or token.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- who is asking */

/* Copies the value of cookie `name` from a Cookie header (RFC 6265 §4.2.1: "a=b; c=d") into
 * out (cap bytes); 1 found, 0 not (or too long to be ours). */
static int cookie_value(const char *header, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = len - nl - 1;
            while (vl && v[vl - 1] == ' ')
                vl--;
            /* RFC 6265 §4.1.1 allows a quoted value. */
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
            }
            if (vl + 1 > cap)
                return 0;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 1;
        }
        p = end;
    }
    return 0;
}

int dq_http_cookie(const dq_http_req_t *req, const char *name, char *out, size_t cap)
{
    const char *cookies = req->header(req, "Cookie");
    return cookies && cookie_value(cookies, name, out, cap);
}

int dq_http_actor(dq_server_t *srv, const dq_http_req_t *req, dq_actor_t *actor, int *via_cookie,
                  dq_err_t *err)
{
    memset(actor, 0, sizeof(*actor));
    actor->role = DQ_ROLE_ANON;
    if (via_cookie)
        *via_cookie = 0;
    const char *auth = req->header(req, "Authorization");
    if (auth) {
        /* RFC 6750 §2.1: "Bearer" (case-insensitive scheme), one space, the token. */
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return dq_err_set(err, DQ_EINVAL, 401, "Authorization must be 'Bearer <token>'");
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        return dq_catalog_authenticate(srv->catalog, DQ_CRED_TOKEN, tok, actor, err);
    }
    const char *cookies = req->header(req, "Cookie");
    char tok[DQ_TOKEN_MAX];
    if (cookies && cookie_value(cookies, "dq_session", tok, sizeof(tok))) {
        dq_err_t ignored = {0};
        /* A stale cookie (expired, logged out elsewhere, password changed) is not an error:
         * the browser simply is not signed in any more. */
        if (dq_catalog_authenticate(srv->catalog, DQ_CRED_SESSION, tok, actor, &ignored) == 0) {
            if (via_cookie)
                *via_cookie = 1;
        } else {
            memset(actor, 0, sizeof(*actor));
            actor->role = DQ_ROLE_ANON;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- sessions */

/* Set-Cookie for the session (RFC 6265 §4.1): HttpOnly keeps it from scripts, SameSite=Strict
 * keeps other sites from riding it, Secure when the client reached us over https (an https
 * --public-url, or a trusted proxy that says so). value "" with max_age 0 deletes it
 * (§4.1.2: an expired cookie is removed). */
static void session_cookie(dq_http_resp_t *resp, int secure, const char *value, long max_age)
{
    char buf[DQ_TOKEN_MAX + 128];
    snprintf(buf, sizeof(buf), "dq_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%ld%s",
             value, max_age, secure ? "; Secure" : "");
    dq_http_resp_header(resp, "Set-Cookie", buf);
}

/* 1 when the client reached us over https as it sees us: the configured public URL, else what
 * a trusted proxy says (docs/security.md "Proxies"); a client's own X-Forwarded-Proto counts
 * for nothing. */
static int came_over_https(dq_api_t *c)
{
    dq_buf_t base = {0};
    dq_http_base_url(c->srv, c->req, &base);
    int secure = dq_str_starts(base.data, "https://");
    dq_buf_free(&base);
    return secure;
}

static void set_session_cookie(dq_api_t *c, const char *value, long max_age)
{
    session_cookie(c->resp, came_over_https(c), value, max_age);
}

static void put_user(dq_buf_t *b, const char *name, int role)
{
    dq_buf_puts(b, "{\"user\":\"");
    dq_buf_json_str(b, name, strlen(name));
    dq_buf_printf(b, "\",\"role\":\"%s\"}", dq_catalog_role_name(role));
}

/* 1 when the request's Content-Type is JSON (application/json or any +json type). */
static int is_json_type(const dq_http_req_t *req)
{
    const char *ct = req->header(req, "Content-Type");
    if (!ct)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

/* The client's address for the throttle and the audit trail: the TCP peer. A proxy in front
 * makes every client one address; then the address limit applies to all of them together and
 * the account limit still holds (docs/security.md). */
static void client_addr(const dq_api_t *c, char *out, size_t cap)
{
    out[0] = '\0';
    if (c->req->peer)
        c->req->peer(c->req, out, cap);
}

/* Answers status (429 or 503) with Retry-After: the whole seconds in wait_ms, rounded up. */
static void answer_retry(dq_api_t *c, int status, int64_t wait_ms, const char *msg)
{
    long s = (long)((wait_ms + 999) / 1000);
    char v[24];
    snprintf(v, sizeof(v), "%ld", s < 1 ? 1L : s);
    dq_api_error(c->resp, status, msg, NULL);
    if (status != 503) /* dq_api_error gives every 503 its Retry-After: 1 */
        dq_http_resp_header(c->resp, "Retry-After", v); /* RFC 9110 §10.2.3, delay-seconds */
}

/* The password check of one sign-in. It runs on an API-queue thread (mhd.c run_api: every
 * POST under /api/ does), never on a libmicrohttpd connection thread, so the ~120 ms of
 * argon2id holds no keep-alive tile or /health connection. The caller holds a hashing slot;
 * this releases it and ends the throttle's attempt. */
static void login_check(dq_api_t *c, const char *user, const char *pw, const char *addr)
{
    dq_server_t *srv = c->srv;
    char token[DQ_TOKEN_MAX] = "";
    dq_err_t err = {0};
    dq_actor_t who;
    int outcome = DQ_THROTTLE_NOT_CHECKED;
    int rc = dq_catalog_login(srv->catalog, user, pw, DQ_API_SESSION_TTL, token, &who, &err);
    dq_throttle_hash_release(srv->throttle);
    if (rc < 0) {
        if (err.http_status == 401) {
            outcome = DQ_THROTTLE_FAILED;
            dq_err_t aerr = {0};
            dq_log(DQ_LOG_WARN, "api", "failed login from %s", addr); /* never name or pw */
            if (dq_catalog_login_failed(srv->catalog, user, addr, &aerr) < 0)
                dq_log(DQ_LOG_WARN, "api", "cannot audit a failed login: %s", aerr.msg);
        }
        dq_api_error_err(c->resp, &err);
    } else {
        outcome = DQ_THROTTLE_SUCCEEDED;
        dq_buf_t b = {0};
        put_user(&b, who.user, who.role);
        dq_buf_putc(&b, '\n');
        dq_api_json(c->resp, 200, &b);
        c->resp->no_etag = 1;
        set_session_cookie(c, token, DQ_API_SESSION_TTL);
    }
    dq_throttle_end(srv->throttle, user, addr, outcome, dq_now_us() / 1000);
    explicit_bzero(token, sizeof(token));
}

void dq_api_login(dq_api_t *c)
{
    json_t *body = NULL;
    char addr[64];
    /* Login CSRF (a site signing the victim in as the attacker): an HTML form can only send
     * form or text/plain bodies, and a cross-site fetch with a JSON type needs a preflight. */
    if (!is_json_type(c->req)) {
        dq_api_error(c->resp, 400, "login needs Content-Type: application/json", NULL);
        goto out;
    }
    if (!(body = dq_api_body(c, 0)))
        goto out;
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!user || !pw) {
        dq_api_error(c->resp, 400, "login needs {\"user\": \"...\", \"password\": \"...\"}", NULL);
        goto out;
    }
    /* Throttle before any password work: a locked account or address is refused even with
     * the right password, and the refusal costs no hashing (docs/security.md "Logins and throttling"). */
    client_addr(c, addr, sizeof(addr));
    int64_t wait = dq_throttle_begin(c->srv->throttle, user, addr, dq_now_us() / 1000);
    if (wait > 0) {
        answer_retry(c, 429, wait, "too many failed sign-ins; try again later");
        goto out;
    }
    /* argon2id takes ~120 ms and 64 MiB: only a few checks at once; the rest are told to come
     * back at once rather than queued. */
    if (!dq_throttle_hash_acquire(c->srv->throttle)) {
        dq_throttle_end(c->srv->throttle, user, addr, DQ_THROTTLE_NOT_CHECKED,
                        dq_now_us() / 1000);
        answer_retry(c, 503, 1000, "too many sign-ins at once; try again in a moment");
        goto out;
    }
    login_check(c, user, pw, addr);
out:
    json_decref(body);
}

void dq_api_logout(dq_api_t *c)
{
    const char *cookies = c->req->header(c->req, "Cookie");
    char tok[DQ_TOKEN_MAX];
    dq_err_t err = {0};
    if (cookies && cookie_value(cookies, "dq_session", tok, sizeof(tok)) &&
        dq_catalog_logout(c->srv->catalog, tok, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
    set_session_cookie(c, "", 0);
}

void dq_api_me(dq_api_t *c)
{
    if (c->actor.role == DQ_ROLE_ANON) {
        dq_api_error(c->resp, 401, "not signed in", NULL);
        return;
    }
    dq_buf_t b = {0};
    put_user(&b, c->actor.user, c->actor.role);
    dq_buf_putc(&b, '\n');
    dq_api_json(c->resp, 200, &b);
}

/* ---------------------------------------------------------------- /api/users (admin) */

static int list_one(void *ud, const dq_user_t *u)
{
    dq_buf_t *b = ud;
    if (b->data[b->len - 1] != '[')
        dq_buf_putc(b, ',');
    dq_buf_puts(b, "{\"user\":\"");
    dq_buf_json_str(b, u->name, strlen(u->name));
    dq_buf_printf(b,
                  "\",\"role\":\"%s\",\"created_at\":\"%s\",\"updated_at\":\"%s\","
                  "\"sessions\":%lld,\"tokens\":%lld}",
                  dq_catalog_role_name(u->role), u->created_at, u->updated_at,
                  (long long)u->n_sessions, (long long)u->n_tokens);
    return 0;
}

void dq_api_users_list(dq_api_t *c)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    dq_buf_puts(&b, "{\"items\":[");
    if (dq_catalog_user_list(c->srv->catalog, list_one, &b, &err) < 0) {
        dq_buf_free(&b);
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_buf_puts(&b, "]}\n");
    dq_api_json(c->resp, 200, &b);
}

/* The role named by member "role" of body: the role, -1 when absent, -2 when invalid (422
 * answered). */
static int body_role(dq_api_t *c, const json_t *body)
{
    const json_t *r = json_object_get(body, "role");
    if (!r)
        return -1;
    int role = json_is_string(r) ? dq_catalog_role_parse(json_string_value(r)) : -1;
    if (role < 0) {
        dq_api_error(c->resp, 422, "invalid account",
                     "{\"role\":\"must be viewer, educator, conservator, curator or admin\"}");
        return -2;
    }
    return role;
}

/* 1 when body has only members from the NULL-terminated list; else a 422 is answered. */
static int only_members(dq_api_t *c, const json_t *body, const char *const *allowed)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok) {
            dq_buf_t f = {0};
            dq_buf_puts(&f, "{\"");
            dq_buf_json_str(&f, k, strlen(k));
            dq_buf_puts(&f, "\":\"unknown field\"}");
            dq_api_error(c->resp, 422, "invalid account", f.data);
            dq_buf_free(&f);
            return 0;
        }
        (void)v;
    }
    return 1;
}

/* Maps an account error: a bad name or password from the body is a field error (422). */
static void account_error(dq_api_t *c, const dq_err_t *err, const char *field)
{
    if (err->http_status == 400 && field) {
        dq_buf_t f = {0};
        dq_buf_printf(&f, "{\"%s\":\"", field);
        dq_buf_json_str(&f, err->msg, strlen(err->msg));
        dq_buf_puts(&f, "\"}");
        dq_api_error(c->resp, 422, "invalid account", f.data);
        dq_buf_free(&f);
        return;
    }
    dq_api_error_err(c->resp, err);
}

void dq_api_users_add(dq_api_t *c)
{
    static const char *const allowed[] = {"user", "role", "password", NULL};
    json_t *body = dq_api_body(c, 0);
    dq_err_t err = {0};
    if (!body || !only_members(c, body, allowed))
        goto out;
    const char *name = json_string_value(json_object_get(body, "user"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    int role = body_role(c, body);
    if (role == -2)
        goto out;
    if (!name || !pw || role < 0) {
        dq_api_error(c->resp, 422, "invalid account",
                     !name ? "{\"user\":\"required\"}"
                     : !pw ? "{\"password\":\"required\"}"
                           : "{\"role\":\"required\"}");
        goto out;
    }
    dq_err_t nerr = {0};
    if (!dq_catalog_user_name_valid(name, &nerr)) {
        account_error(c, &nerr, "user");
        goto out;
    }
    if (dq_catalog_user_add(c->srv->catalog, name, role, pw, &c->actor, &err) < 0) {
        account_error(c, &err, "password");
        goto out;
    }
    dq_buf_t b = {0};
    put_user(&b, name, role);
    dq_buf_putc(&b, '\n');
    dq_api_json(c->resp, 201, &b);
    char *loc = dq_xasprintf("/api/users/%s", name); /* names are URL-safe by their syntax */
    dq_http_resp_header(c->resp, "Location", loc);
    free(loc);
out:
    json_decref(body);
}

void dq_api_users_patch(dq_api_t *c)
{
    static const char *const allowed[] = {"role", "password", NULL};
    json_t *body = dq_api_body(c, 0);
    dq_err_t err = {0};
    const char *name = c->seg[1];
    if (!body || !only_members(c, body, allowed))
        goto out;
    int role = body_role(c, body);
    if (role == -2)
        goto out;
    const json_t *pwj = json_object_get(body, "password");
    if (pwj && !json_is_string(pwj)) {
        dq_api_error(c->resp, 422, "invalid account", "{\"password\":\"must be a string\"}");
        goto out;
    }
    if (!dq_catalog_user_name_valid(name, &err)) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    /* One call: everything is validated before anything is written (issue 10 item 6). A 400
     * can only be about the password here (the name and role were checked above). */
    if (dq_catalog_user_update(c->srv->catalog, name, role, pwj ? json_string_value(pwj) : NULL,
                               &c->actor, &err) < 0) {
        account_error(c, &err, pwj ? "password" : NULL);
        goto out;
    }
    dq_user_t u;
    if (dq_catalog_user_get(c->srv->catalog, name, &u, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_buf_t b = {0};
    put_user(&b, u.name, u.role);
    dq_buf_putc(&b, '\n');
    dq_api_json(c->resp, 200, &b);
out:
    json_decref(body);
}

void dq_api_users_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    if (dq_catalog_user_delete(c->srv->catalog, c->seg[1], &c->actor, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
}
