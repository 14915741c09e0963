/*
 * test_iiif_auth.c: the IIIF Authorization Flow 2.0 credentials (catalog.h "IIIF
 * Authorization Flow 2.0", issue 16) through the public catalog API on a real catalog (SQLite,
 * or PostgreSQL in the runner's second pass): an access cookie granted only to a live
 * session, access tokens minted from the cookie or the session, each its own random secret
 * with its kind's prefix, the account and its current role behind each, malformed and
 * unknown values refused before and after the store, expiry reported as expiry, and every
 * way a session ends (IIIF logout by cookie, the site's logout, a new password, a revoke,
 * the account deleted) ending its cookies and tokens with it, and nobody else's.
 */
#include "dq_test.h"
/* after dq_test.h, which it needs */
#include "dq_pg_test.h"

#include "catalog/catalog.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const dq_actor_t admin = {"ada", DQ_ROLE_ADMIN};

typedef struct {
    char *dir;
    dq_catalog_t *cat;
} fx_t;

static void fx_open(fx_t *f)
{
    char *d = dq_test_tmpdir("dq_iiif_auth");
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

static void add_user(fx_t *f, const char *name, int role)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_user_add(f->cat, name, role, "pass-word-1", &admin, &err) == 0);
}

/* Signs name in; the session text into session (DQ_TOKEN_MAX). */
static void login(fx_t *f, const char *name, char *session)
{
    dq_err_t err = {0};
    dq_actor_t who;
    DQ_REQUIRE(dq_catalog_login(f->cat, name, "pass-word-1", 3600, session, &who, &err) == 0);
}

/* 0 when cred of kind authenticates (who filled), else the error's http_status. */
static int auth_status(fx_t *f, int kind, const char *cred, dq_actor_t *who, int *expired)
{
    dq_err_t err = {0};
    dq_actor_t tmp;
    if (dq_catalog_iiif_authenticate(f->cat, kind, cred, who ? who : &tmp, expired, &err) == 0)
        return 0;
    return err.http_status;
}

DQ_TEST(grant_and_tokens)
{
    fx_t f;
    fx_open(&f);
    add_user(&f, "rita", DQ_ROLE_VIEWER);
    char session[DQ_TOKEN_MAX], cookie[DQ_TOKEN_MAX], t1[DQ_TOKEN_MAX], t2[DQ_TOKEN_MAX];
    dq_actor_t who;
    dq_err_t err = {0};
    login(&f, "rita", session);

    /* Only a live session is granted a cookie. */
    DQ_CHECK(dq_catalog_iiif_grant(f.cat, "dqs_nope", 600, cookie, &who, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);
    DQ_CHECK_STR(cookie, "");
    err = (dq_err_t){0};
    char forged[DQ_TOKEN_MAX];
    snprintf(forged, sizeof(forged), "dqs_%043d", 7);
    DQ_CHECK(dq_catalog_iiif_grant(f.cat, forged, 600, cookie, &who, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);
    err = (dq_err_t){0};
    DQ_CHECK(dq_catalog_iiif_grant(f.cat, session, 0, cookie, &who, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);

    err = (dq_err_t){0};
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, session, 600, cookie, &who, &err) == 0);
    DQ_CHECK(strncmp(cookie, "dqa_", 4) == 0 && strlen(cookie) == 47);
    DQ_CHECK_STR(who.user, "rita");
    DQ_CHECK_INT(who.role, DQ_ROLE_VIEWER);
    memset(&who, 0, sizeof(who));
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, cookie, &who, NULL), 0);
    DQ_CHECK_STR(who.user, "rita");

    /* Tokens from the cookie and from the session: distinct secrets, same account. */
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, cookie, DQ_IIIF_TOKEN_TTL, t1,
                                     &who, NULL, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_CRED_SESSION, session, DQ_IIIF_TOKEN_TTL, t2, &who,
                                     NULL, &err) == 0);
    DQ_CHECK(strncmp(t1, "dqt_", 4) == 0 && strncmp(t2, "dqt_", 4) == 0);
    DQ_CHECK(strcmp(t1, t2) != 0 && strcmp(t1, cookie) != 0 && strcmp(t1 + 4, session + 4) != 0);
    memset(&who, 0, sizeof(who));
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t1, &who, NULL), 0);
    DQ_CHECK_STR(who.user, "rita");
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t2, NULL, NULL), 0);

    /* Kinds do not stand in for each other. */
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, cookie, NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, t1, NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_CRED_SESSION, session, NULL, NULL), 401);
    char swapped[DQ_TOKEN_MAX];
    snprintf(swapped, sizeof(swapped), "dqa_%s", t1 + 4); /* a token's secret as a cookie */
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, swapped, NULL, NULL), 401);
    err = (dq_err_t){0};
    DQ_CHECK(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_TOKEN, t1, 60, t2, &who, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);

    /* Malformed values never reach the store. */
    const char *bad[] = {"",
                         "dqt_",
                         "dqt_short",
                         "dqt_"
                         "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                         "xyz",
                         NULL};
    for (int i = 0; bad[i]; i++)
        DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, bad[i], NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, NULL, NULL, NULL), 401);

    /* The role is read at every lookup. */
    DQ_REQUIRE(dq_catalog_user_set_role(f.cat, "rita", DQ_ROLE_CURATOR, &admin, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t1, &who, NULL), 0);
    DQ_CHECK_INT(who.role, DQ_ROLE_CURATOR);
    fx_close(&f);
}

DQ_TEST(logout_ends_the_session_and_only_it)
{
    fx_t f;
    fx_open(&f);
    add_user(&f, "rita", DQ_ROLE_VIEWER);
    add_user(&f, "vera", DQ_ROLE_VIEWER);
    char s1[DQ_TOKEN_MAX], s2[DQ_TOKEN_MAX], c1[DQ_TOKEN_MAX], c2[DQ_TOKEN_MAX];
    char t1[DQ_TOKEN_MAX], t2[DQ_TOKEN_MAX], s3[DQ_TOKEN_MAX], c3[DQ_TOKEN_MAX];
    dq_actor_t who;
    dq_err_t err = {0};
    login(&f, "rita", s1);
    login(&f, "vera", s2);
    login(&f, "rita", s3); /* rita's second browser */
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s1, 600, c1, &who, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s2, 600, c2, &who, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s3, 600, c3, &who, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, c1, 600, t1, &who, NULL, &err) ==
               0);
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, c2, 600, t2, &who, NULL, &err) ==
               0);

    /* Auth 2.0 §6.2 by the access cookie alone (what a cross-site logout tab sends). */
    DQ_REQUIRE(dq_catalog_iiif_logout(f.cat, DQ_IIIF_CRED_COOKIE, c1, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c1, NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t1, NULL, NULL), 401);
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, s1, &who, &err) < 0);
    /* ... and only that session: vera's and rita's other browser keep theirs */
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t2, NULL, NULL), 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c3, NULL, NULL), 0);
    err = (dq_err_t){0};
    DQ_CHECK(dq_catalog_authenticate(f.cat, DQ_CRED_SESSION, s3, &who, &err) == 0);
    /* A second logout, an unknown or a malformed value: nothing to end, no error. */
    DQ_CHECK(dq_catalog_iiif_logout(f.cat, DQ_IIIF_CRED_COOKIE, c1, &err) == 0);
    DQ_CHECK(dq_catalog_iiif_logout(f.cat, DQ_IIIF_CRED_COOKIE, "junk", &err) == 0);
    DQ_CHECK(dq_catalog_iiif_logout(f.cat, DQ_IIIF_CRED_TOKEN, t2, &err) < 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t2, NULL, NULL), 0);

    /* The site's own logout (POST /api/logout) of vera's session ends her cookie and token. */
    DQ_REQUIRE(dq_catalog_logout(f.cat, s2, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c2, NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t2, NULL, NULL), 401);
    err = (dq_err_t){0};
    DQ_CHECK(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, c2, 600, t2, &who, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);

    /* A new password ends rita's remaining browser too. */
    DQ_REQUIRE(dq_catalog_user_set_password(f.cat, "rita", "another-pass-2", &admin, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c3, NULL, NULL), 401);
    fx_close(&f);
}

DQ_TEST(revoke_and_delete_end_everything)
{
    fx_t f;
    fx_open(&f);
    add_user(&f, "rita", DQ_ROLE_VIEWER);
    char s[DQ_TOKEN_MAX], c[DQ_TOKEN_MAX], t[DQ_TOKEN_MAX];
    dq_actor_t who;
    dq_err_t err = {0};
    login(&f, "rita", s);
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s, 600, c, &who, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_CRED_SESSION, s, 600, t, &who, NULL, &err) == 0);
    DQ_REQUIRE(dq_catalog_user_revoke(f.cat, "rita", &admin, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c, NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t, NULL, NULL), 401);

    login(&f, "rita", s);
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s, 600, c, &who, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, c, 600, t, &who, NULL, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t, NULL, NULL), 0);
    DQ_REQUIRE(dq_catalog_user_delete(f.cat, "rita", &admin, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c, NULL, NULL), 401);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, t, NULL, NULL), 401);
    fx_close(&f);
}

DQ_TEST(expiry_is_reported_as_expiry)
{
    fx_t f;
    fx_open(&f);
    add_user(&f, "rita", DQ_ROLE_VIEWER);
    char s[DQ_TOKEN_MAX], c[DQ_TOKEN_MAX], t[DQ_TOKEN_MAX], t2[DQ_TOKEN_MAX];
    dq_actor_t who;
    dq_err_t err = {0};
    login(&f, "rita", s);
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s, 1, c, &who, &err) == 0);
    DQ_REQUIRE(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, c, 1, t, &who, NULL, &err) == 0);
    /* A lifetime of one second: poll (bounded) until the clock passes it; no fixed sleep. */
    int expired = 0, st = 0;
    time_t deadline = time(NULL) + 5;
    while ((st = auth_status(&f, DQ_IIIF_CRED_TOKEN, t, NULL, &expired)) == 0 &&
           time(NULL) < deadline)
        usleep(50000);
    DQ_CHECK_INT(st, 401);
    DQ_CHECK_INT(expired, 1);
    expired = 0;
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c, NULL, &expired), 401);
    DQ_CHECK_INT(expired, 1);
    /* The token service learns it too (it answers expiredAspect), and mints nothing. */
    expired = 0;
    err = (dq_err_t){0};
    DQ_CHECK(dq_catalog_iiif_token(f.cat, DQ_IIIF_CRED_COOKIE, c, 60, t2, &who, &expired, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 401);
    DQ_CHECK_INT(expired, 1);
    DQ_CHECK_STR(t2, "");
    /* An unknown one is not "expired". */
    expired = 1;
    char unknown[DQ_TOKEN_MAX];
    snprintf(unknown, sizeof(unknown), "dqt_%043d", 5);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_TOKEN, unknown, NULL, &expired), 401);
    DQ_CHECK_INT(expired, 0);
    /* The session itself still works, and a fresh grant does too (the sweep removed the old). */
    DQ_REQUIRE(dq_catalog_iiif_grant(f.cat, s, 600, c, &who, &err) == 0);
    DQ_CHECK_INT(auth_status(&f, DQ_IIIF_CRED_COOKIE, c, NULL, NULL), 0);
    fx_close(&f);
}
