/*
 * test_account.c: accounts through the catalog's public interface on a real SQLite file:
 * names and roles, argon2id hashes (never the password in the database), login answering
 * alike for unknown users and wrong passwords, sessions and API tokens stored only as
 * hashes, expiry, revocation on password change, role changes taking effect at once, the
 * last-admin guard, admin-only changes and the audit trail. Includes account.c to reach
 * token_shape_ok.
 */
#include "dq_test.h"
#include "dq_pg_test.h"

#include "../../../src/catalog/account.c"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const dq_actor_t cli = {"cli", DQ_ROLE_ADMIN};
static const dq_actor_t cur = {"cora", DQ_ROLE_CURATOR};

typedef struct {
    char *dir;
    dq_catalog_t *cat;
} fx_t;

static void fx_open(fx_t *f)
{
    char *d = dq_test_tmpdir("dq_account");
    f->dir = dq_xasprintf("%s/data", d);
    free(d);
    dq_err_t err = {0};
    f->cat = dq_test_catalog_open(f->dir, &err);
    if (!f->cat)
        fprintf(stderr, "open: %s\n", err.msg);
    DQ_REQUIRE(f->cat != NULL);
}

static void fx_close(fx_t *f)
{
    dq_catalog_close(f->cat);
    free(f->dir);
}

/* Runs a query on the catalog file with its own connection; returns the first column of the
 * first row as a new string ("" when no row). */
static char *sql1(const fx_t *f, const char *sql)
{
    if (dq_test_on_pg())
        return dq_pg_test_sql1(f->dir, sql);
    char *path = dq_xasprintf("%s/catalog.sqlite", f->dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    DQ_REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    DQ_REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = dq_xstrdup((const char *)sqlite3_column_text(st, 0));
    else
        out = dq_xstrdup("");
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    return out;
}

DQ_TEST(names_and_roles)
{
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_user_name_valid("admin", &err));
    DQ_CHECK(dq_catalog_user_name_valid("li.wei@museum-1", &err));
    DQ_CHECK(!dq_catalog_user_name_valid("", &err));
    DQ_CHECK(!dq_catalog_user_name_valid(".hidden", &err));
    DQ_CHECK(!dq_catalog_user_name_valid("a b", &err));
    DQ_CHECK(!dq_catalog_user_name_valid("x/y", &err));
    DQ_CHECK(!dq_catalog_user_name_valid("cli", &err));
    DQ_CHECK_INT(err.http_status, 400);
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    DQ_CHECK(!dq_catalog_user_name_valid(longname, &err));
    DQ_CHECK_INT(dq_catalog_role_parse("curator"), DQ_ROLE_CURATOR);
    DQ_CHECK_INT(dq_catalog_role_parse("admin"), DQ_ROLE_ADMIN);
    DQ_CHECK_INT(dq_catalog_role_parse("anonymous"), -1);
    DQ_CHECK_INT(dq_catalog_role_parse("root"), -1);
    DQ_CHECK_STR(dq_catalog_role_name(DQ_ROLE_VIEWER), "viewer");
    DQ_CHECK_STR(dq_catalog_role_name(99), "?");
}

DQ_TEST(add_stores_argon2id_never_the_password)
{
    fx_t f;
    fx_open(&f);
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "wang", DQ_ROLE_CURATOR, "correct horse", &cli, &err) ==
               0);
    char *h = sql1(&f, "SELECT pwhash FROM users WHERE name = 'wang'");
    DQ_CHECK(dq_str_starts(h, "$argon2id$"));
    DQ_CHECK(strstr(h, "correct horse") == NULL);
    DQ_CHECK(strstr(h, "m=65536,t=2") != NULL); /* the interactive limits */
    free(h);
    dq_user_t u;
    DQ_REQUIRE(dq_catalog_user_get(f.cat, "wang", &u, &err) == 0);
    DQ_CHECK_STR(u.name, "wang");
    DQ_CHECK_INT(u.role, DQ_ROLE_CURATOR);
    DQ_CHECK(u.created_at[0] == '2');
    /* duplicates, bad input */
    DQ_CHECK(dq_catalog_user_add(f.cat, "wang", DQ_ROLE_VIEWER, "another one", &cli, &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    DQ_CHECK(dq_catalog_user_add(f.cat, "li", DQ_ROLE_VIEWER, "short", &cli, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    DQ_CHECK(dq_catalog_user_add(f.cat, "li", DQ_ROLE_ANON, "long enough", &cli, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    DQ_CHECK(dq_catalog_user_add(f.cat, "li", 7, "long enough", &cli, &err) < 0);
    DQ_CHECK(dq_catalog_user_get(f.cat, "nobody", &u, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    fx_close(&f);
}

DQ_TEST(only_admins_change_accounts)
{
    fx_t f;
    fx_open(&f);
    dq_err_t err = {0};
    char tok[DQ_TOKEN_MAX];
    DQ_CHECK(dq_catalog_user_add(f.cat, "x", DQ_ROLE_ADMIN, "password1", &cur, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_user_add(f.cat, "x", DQ_ROLE_ADMIN, "password1", NULL, &err) < 0);
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "x", DQ_ROLE_VIEWER, "password1", &cli, &err) == 0);
    DQ_CHECK(dq_catalog_user_set_role(f.cat, "x", DQ_ROLE_ADMIN, &cur, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_user_set_password(f.cat, "x", "password2", &cur, &err) < 0);
    DQ_CHECK(dq_catalog_user_delete(f.cat, "x", &cur, &err) < 0);
    DQ_CHECK(dq_catalog_token_create(f.cat, "x", 0, &cur, tok, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    fx_close(&f);
}

DQ_TEST(login_same_answer_for_unknown_user_and_wrong_password)
{
    fx_t f;
    fx_open(&f);
    dq_err_t err = {0}, e1 = {0}, e2 = {0};
    char tok[DQ_TOKEN_MAX];
    dq_actor_t a;
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "zhang", DQ_ROLE_VIEWER, "qingming1", &cli, &err) == 0);
    int64_t t0 = dq_now_us();
    DQ_CHECK(dq_catalog_login(f.cat, "zhang", "wrong pass", 3600, tok, &a, &e1) < 0);
    int64_t t1 = dq_now_us();
    DQ_CHECK(dq_catalog_login(f.cat, "nobody", "wrong pass", 3600, tok, &a, &e2) < 0);
    int64_t t2 = dq_now_us();
    DQ_CHECK_INT(e1.http_status, 401);
    DQ_CHECK_INT(e2.http_status, 401);
    DQ_CHECK_STR(e1.msg, e2.msg);
    DQ_CHECK_STR(tok, "");
    /* Both paths run one argon2id verify: neither is an order of magnitude cheaper. This
     * is a ratio, not a speed measurement (house style 26). */
    double wrong = (double)(t1 - t0), unknown = (double)(t2 - t1);
    DQ_CHECK(unknown > wrong / 5 && wrong > unknown / 5);
    /* bad names and huge passwords fail the same way */
    DQ_CHECK(dq_catalog_login(f.cat, "a b", "qingming1", 3600, tok, &a, &e2) < 0);
    DQ_CHECK_STR(e1.msg, e2.msg);
    DQ_CHECK(dq_catalog_login(f.cat, NULL, NULL, 3600, tok, &a, &e2) < 0);
    DQ_CHECK_INT(e2.http_status, 401);
    /* the right one */
    DQ_REQUIRE(dq_catalog_login(f.cat, "zhang", "qingming1", 3600, tok, &a, &err) == 0);
    DQ_CHECK_STR(a.user, "zhang");
    DQ_CHECK_INT(a.role, DQ_ROLE_VIEWER);
    DQ_CHECK(dq_str_starts(tok, "dqs_"));
    DQ_CHECK_INT(strlen(tok), 4 + 43);
    fx_close(&f);
}

DQ_TEST(sessions_are_hashed_expire_and_log_out)
{
    fx_t f;
    fx_open(&f);
    dq_err_t err = {0};
    char tok[DQ_TOKEN_MAX];
    dq_actor_t a;
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "zhang", DQ_ROLE_CURATOR, "qingming1", &cli, &err) == 0);
    DQ_REQUIRE(dq_catalog_login(f.cat, "zhang", "qingming1", 3600, tok, &a, &err) == 0);
    char hex[65];
    dq_sha256_buf(tok, strlen(tok), hex);
    char *q = dq_xasprintf("SELECT count(*) FROM sessions WHERE hash = '%s'", hex);
    char *n = sql1(&f, q);
    DQ_CHECK_STR(n, "1");
    free(n);
    free(q);
    /* the token text itself is nowhere in the database */
    q = dq_xasprintf("SELECT count(*) FROM sessions WHERE hash = '%s' OR account = '%s'", tok, tok);
    n = sql1(&f, q);
    DQ_CHECK_STR(n, "0");
    free(n);
    free(q);
    DQ_REQUIRE(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, tok, &a, &err) == 0);
    DQ_CHECK_STR(a.user, "zhang");
    DQ_CHECK_INT(a.role, DQ_ROLE_CURATOR);
    /* a session is not an API token, nor the other way round */
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, tok, &a, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);
    DQ_CHECK_INT(a.role, DQ_ROLE_ANON);
    /* one changed character */
    char bad[DQ_TOKEN_MAX];
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, bad, &a, &err) < 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, "dqs_short", &a, &err) < 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, "", &a, &err) < 0);
    /* expiry: move the session into the past */
    q = dq_xasprintf("UPDATE sessions SET expires_at = %lld WHERE hash = '%s' RETURNING 1",
                     (long long)time(NULL) - 1, hex);
    free(sql1(&f, q));
    free(q);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, tok, &a, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);
    /* a new login sweeps the expired one */
    char tok2[DQ_TOKEN_MAX];
    DQ_REQUIRE(dq_catalog_login(f.cat, "zhang", "qingming1", 3600, tok2, &a, &err) == 0);
    n = sql1(&f, "SELECT count(*) FROM sessions");
    DQ_CHECK_STR(n, "1");
    free(n);
    DQ_CHECK(strcmp(tok, tok2) != 0);
    /* logout */
    DQ_REQUIRE(dq_catalog_logout(f.cat, tok2, &err) == 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, tok2, &a, &err) < 0);
    DQ_CHECK(dq_catalog_logout(f.cat, "not a token", &err) == 0);
    fx_close(&f);
}

DQ_TEST(tokens_role_changes_password_change_revoke_delete)
{
    fx_t f;
    fx_open(&f);
    dq_err_t err = {0};
    char tok[DQ_TOKEN_MAX], sess[DQ_TOKEN_MAX], forever[DQ_TOKEN_MAX];
    dq_actor_t a;
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "li", DQ_ROLE_VIEWER, "password1", &cli, &err) == 0);
    DQ_REQUIRE(dq_catalog_token_create(f.cat, "li", 86400, &cli, tok, &err) == 0);
    DQ_REQUIRE(dq_catalog_token_create(f.cat, "li", 0, &cli, forever, &err) == 0);
    DQ_CHECK(dq_str_starts(tok, "dq_") && !dq_str_starts(tok, "dqs_"));
    DQ_CHECK(token_shape_ok(DQ_CRED_TOKEN, tok));
    DQ_CHECK(!token_shape_ok(DQ_CRED_SESSION, tok));
    DQ_CHECK(dq_catalog_token_create(f.cat, "nobody", 0, &cli, tok + 0, &err) < 0 &&
             err.http_status == 404);
    DQ_REQUIRE(dq_catalog_token_create(f.cat, "li", 86400, &cli, tok, &err) == 0);
    DQ_REQUIRE(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, tok, &a, &err) == 0);
    DQ_CHECK_INT(a.role, DQ_ROLE_VIEWER);
    DQ_REQUIRE(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, forever, &a, &err) == 0);
    /* the role comes from the account at each request */
    DQ_REQUIRE(dq_catalog_user_set_role(f.cat, "li", DQ_ROLE_CURATOR, &cli, &err) == 0);
    DQ_REQUIRE(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, tok, &a, &err) == 0);
    DQ_CHECK_INT(a.role, DQ_ROLE_CURATOR);
    /* listing counts live credentials */
    DQ_REQUIRE(dq_catalog_login(f.cat, "li", "password1", 3600, sess, &a, &err) == 0);
    /* a new password revokes every session and token, and the old password stops working */
    DQ_REQUIRE(dq_catalog_user_set_password(f.cat, "li", "password2", &cli, &err) == 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, tok, &a, &err) < 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, forever, &a, &err) < 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, sess, &a, &err) < 0);
    DQ_CHECK(dq_catalog_login(f.cat, "li", "password1", 3600, sess, &a, &err) < 0);
    DQ_REQUIRE(dq_catalog_login(f.cat, "li", "password2", 3600, sess, &a, &err) == 0);
    /* revoke */
    DQ_REQUIRE(dq_catalog_token_create(f.cat, "li", 86400, &cli, tok, &err) == 0);
    DQ_REQUIRE(dq_catalog_user_revoke(f.cat, "li", &cli, &err) == 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, tok, &a, &err) < 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, sess, &a, &err) < 0);
    /* delete cascades */
    DQ_REQUIRE(dq_catalog_token_create(f.cat, "li", 86400, &cli, tok, &err) == 0);
    DQ_REQUIRE(dq_catalog_user_delete(f.cat, "li", &cli, &err) == 0);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_TOKEN, tok, &a, &err) < 0);
    char *n = sql1(&f, "SELECT count(*) FROM api_tokens");
    DQ_CHECK_STR(n, "0");
    free(n);
    DQ_CHECK(dq_catalog_user_delete(f.cat, "li", &cli, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    fx_close(&f);
}

typedef struct {
    char names[8][64];
    int roles[8];
    int64_t sessions[8];
    int n;
} listed_t;

static int on_user(void *ud, const dq_user_t *u)
{
    listed_t *l = ud;
    if (l->n < 8) {
        snprintf(l->names[l->n], 64, "%s", u->name);
        l->roles[l->n] = u->role;
        l->sessions[l->n] = u->n_sessions;
    }
    l->n++;
    return 0;
}

DQ_TEST(last_admin_list_and_audit)
{
    fx_t f;
    fx_open(&f);
    dq_err_t err = {0};
    char tok[DQ_TOKEN_MAX];
    dq_actor_t a;
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "root", DQ_ROLE_ADMIN, "password1", &cli, &err) == 0);
    DQ_REQUIRE(dq_catalog_user_add(f.cat, "bo", DQ_ROLE_VIEWER, "password1", &cli, &err) == 0);
    DQ_CHECK(dq_catalog_user_delete(f.cat, "root", &cli, &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    DQ_CHECK(dq_catalog_user_set_role(f.cat, "root", DQ_ROLE_CURATOR, &cli, &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    DQ_REQUIRE(dq_catalog_user_set_role(f.cat, "bo", DQ_ROLE_ADMIN, &cli, &err) == 0);
    DQ_CHECK(dq_catalog_user_set_role(f.cat, "root", DQ_ROLE_CURATOR, &cli, &err) == 0);
    DQ_REQUIRE(dq_catalog_login(f.cat, "bo", "password1", 3600, tok, &a, &err) == 0);
    listed_t l = {0};
    DQ_REQUIRE(dq_catalog_user_list(f.cat, on_user, &l, &err) == 0);
    DQ_CHECK_INT(l.n, 2);
    DQ_CHECK_STR(l.names[0], "bo");
    DQ_CHECK_INT(l.roles[0], DQ_ROLE_ADMIN);
    DQ_CHECK_INT(l.sessions[0], 1);
    DQ_CHECK_STR(l.names[1], "root");
    DQ_CHECK_INT(l.roles[1], DQ_ROLE_CURATOR);
    /* audit: create x2, role x2, token never holds the secret */
    DQ_REQUIRE(dq_catalog_token_create(f.cat, "bo", 60, &cli, tok, &err) == 0);
    char *n = sql1(&f, "SELECT count(*) FROM audit WHERE action LIKE 'user.%' AND who = 'cli'");
    DQ_CHECK_STR(n, "4");
    free(n);
    char *q = dq_xasprintf("SELECT count(*) FROM audit WHERE detail LIKE '%%%s%%'", tok + 3);
    n = sql1(&f, q);
    DQ_CHECK_STR(n, "0");
    free(n);
    free(q);
    n = sql1(&f, "SELECT count(*) FROM audit WHERE action = 'token.create' AND object = 'bo'");
    DQ_CHECK_STR(n, "1");
    free(n);
    fx_close(&f);
}

DQ_TEST(generated_passwords)
{
    char a[21], b[21];
    dq_catalog_password_generate(a, 20);
    dq_catalog_password_generate(b, 20);
    DQ_CHECK_INT(strlen(a), 20);
    DQ_CHECK(strcmp(a, b) != 0);
    DQ_CHECK(strpbrk(a, "0O1lI") == NULL);
}
