/*
 * Issue 10, items 6 and 8, against the real binary.
 * Item 6 (accounts): PATCH /api/users/{name} with {"role":"curator","password":"a"} answered
 * 422 but had already committed the role; now everything is validated first and applied in one
 * transaction. User names that differ only in case could both be created; now a name is one
 * account in any case (login by any case; a second name with the same folded key is 409), and
 * accounts that collided before the fold (made here with raw SQL, as an old catalog holds
 * them) both keep working while no new collision can be made.
 * Item 8 (restricted counts): anonymous /api/health counted images that anonymous /api/images
 * hides; now the counts apply the same visibility.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <vips/vips.h>

#include "../dq_fixture.h"

typedef struct {
    char *dir, *data;
    dqt_server_t srv;
    char *admin; /* "Authorization: Bearer ...\r\n" */
} fx_t;

/* Accounts root (admin) and vier (viewer); setup_sql (may be NULL) runs on the catalog
 * before the server starts. */
static void setup(fx_t *f, const char *setup_sql)
{
    memset(f, 0, sizeof(*f));
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    DQ_REQUIRE(dqt_sh("%s --data %s user add root --role admin --password root-pass-1 >/dev/null "
                      "2>&1 && %s --data %s user add vier --role viewer --password vier-pass-1 "
                      ">/dev/null 2>&1",
                      dqt_bin(), f->data, dqt_bin(), f->data) == 0);
    char *tok = dqt_token(f->data, "root");
    DQ_REQUIRE(tok != NULL);
    f->admin = dq_xasprintf("Authorization: Bearer %s\r\n", tok);
    free(tok);
    if (setup_sql) {
        sqlite3 *db = NULL;
        char *path = dq_xasprintf("%s/catalog.sqlite", f->data);
        DQ_REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
        DQ_REQUIRE(sqlite3_exec(db, setup_sql, NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
        free(path);
    }
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, NULL) == 0);
}

static void teardown(fx_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dqt_sh("rm -rf %s", f->dir);
    free(f->dir);
    free(f->data);
    free(f->admin);
}

static int status_of(fx_t *f, const char *method, const char *path, const char *headers,
                     const char *body)
{
    dqt_resp_t r;
    int st = dqt_http_body(f->srv.port, method, path, headers, body, &r) == 0 ? r.status : -1;
    dqt_resp_free(&r);
    return st;
}

static int login_status(fx_t *f, const char *user, const char *pw)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    return status_of(f, "POST", "/api/login", "Content-Type: application/json\r\n", body);
}

/* The role of user in GET /api/users ("" when not listed). */
static char *role_of(fx_t *f, const char *user)
{
    dqt_resp_t r;
    char *role = dq_xstrdup("");
    if (dqt_http(f->srv.port, "GET", "/api/users", f->admin, &r) == 0 && r.status == 200) {
        json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(j, "items"), i, u)
        {
            if (strcmp(json_string_value(json_object_get(u, "user")), user) == 0) {
                free(role);
                role = dq_xstrdup(json_string_value(json_object_get(u, "role")));
            }
        }
        json_decref(j);
    }
    dqt_resp_free(&r);
    return role;
}

static char *json_hdr(const fx_t *f)
{
    return dq_xasprintf("%sContent-Type: application/json\r\n", f->admin);
}

DQ_TEST(patch_role_with_bad_password_changes_nothing)
{
    fx_t f;
    setup(&f, NULL);
    char *h = json_hdr(&f);
    /* the defect: 422 for the password, but the role was already curator */
    DQ_CHECK_INT(status_of(&f, "PATCH", "/api/users/vier", h,
                           "{\"role\":\"curator\",\"password\":\"a\"}"),
                 422);
    char *role = role_of(&f, "vier");
    DQ_CHECK_STR(role, "viewer");
    free(role);
    DQ_CHECK_INT(login_status(&f, "vier", "vier-pass-1"), 200); /* the password stayed too */
    /* a valid change of both applies both */
    DQ_CHECK_INT(status_of(&f, "PATCH", "/api/users/vier", h,
                           "{\"role\":\"curator\",\"password\":\"new-pass-22\"}"),
                 200);
    role = role_of(&f, "vier");
    DQ_CHECK_STR(role, "curator");
    free(role);
    DQ_CHECK_INT(login_status(&f, "vier", "vier-pass-1"), 401);
    DQ_CHECK_INT(login_status(&f, "vier", "new-pass-22"), 200);
    /* the last admin cannot be demoted, and a password in the same request is not applied */
    DQ_CHECK_INT(status_of(&f, "PATCH", "/api/users/root", h,
                           "{\"role\":\"viewer\",\"password\":\"other-pass-33\"}"),
                 409);
    DQ_CHECK_INT(login_status(&f, "root", "root-pass-1"), 200);
    free(h);
    teardown(&f);
}

DQ_TEST(user_names_differing_only_in_case_are_one_account)
{
    fx_t f;
    setup(&f, NULL);
    char *h = json_hdr(&f);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", h,
                           "{\"user\":\"Alice\",\"role\":\"viewer\",\"password\":\"alice-pass-1\"}"),
                 201);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", h,
                           "{\"user\":\"alice\",\"role\":\"admin\",\"password\":\"other-pass-1\"}"),
                 409);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", h,
                           "{\"user\":\"VIER\",\"role\":\"admin\",\"password\":\"other-pass-1\"}"),
                 409);
    DQ_CHECK_INT(login_status(&f, "alice", "alice-pass-1"), 200);
    DQ_CHECK_INT(login_status(&f, "ALICE", "alice-pass-1"), 200);
    DQ_CHECK_INT(login_status(&f, "alice", "other-pass-1"), 401);
    /* changes reach the one account whatever the case */
    DQ_CHECK_INT(status_of(&f, "PATCH", "/api/users/aLiCe", h, "{\"role\":\"curator\"}"), 200);
    char *role = role_of(&f, "Alice");
    DQ_CHECK_STR(role, "curator");
    free(role);
    DQ_CHECK_INT(status_of(&f, "DELETE", "/api/users/ALICE", f.admin, NULL), 204);
    DQ_CHECK_INT(login_status(&f, "Alice", "alice-pass-1"), 401);
    free(h);
    teardown(&f);
}

DQ_TEST(accounts_that_collided_before_folding_keep_working)
{
    fx_t f;
    /* "VIER" next to "vier", as a catalog made before the fold may hold them (the same hash
     * as vier's, so each login proves which row answered by the role it reports). */
    setup(&f, "INSERT INTO users (name, name_key, role, pwhash, created_at, updated_at)"
              " SELECT 'VIER', 'vier', 'curator', pwhash, created_at, updated_at FROM users"
              " WHERE name = 'vier'");
    dqt_resp_t r;
    const char *hj = "Content-Type: application/json\r\n";
    DQ_REQUIRE(dqt_http_body(f.srv.port, "POST", "/api/login", hj,
                             "{\"user\":\"VIER\",\"password\":\"vier-pass-1\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(r.body.data && strstr(r.body.data, "\"role\":\"curator\""));
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "POST", "/api/login", hj,
                             "{\"user\":\"vier\",\"password\":\"vier-pass-1\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(r.body.data && strstr(r.body.data, "\"role\":\"viewer\""));
    dqt_resp_free(&r);
    char *h = json_hdr(&f);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", h,
                           "{\"user\":\"Vier\",\"role\":\"viewer\",\"password\":\"other-pass-1\"}"),
                 409);
    free(h);
    teardown(&f);
}

/* ---------------------------------------------------------------- item 8 */

/* "images" of /api/health and the number of items of /api/images, as headers sees them. */
static void image_counts(fx_t *f, const char *headers, long long *health, long long *listed)
{
    dqt_resp_t r;
    *health = *listed = -1;
    if (dqt_http(f->srv.port, "GET", "/api/health", headers, &r) == 0) {
        json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
        *health = json_integer_value(json_object_get(j, "images"));
        json_decref(j);
    }
    dqt_resp_free(&r);
    if (dqt_http(f->srv.port, "GET", "/api/images", headers, &r) == 0) {
        json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
        json_t *items = json_is_array(j) ? j : json_object_get(j, "items");
        *listed = (long long)json_array_size(items);
        json_decref(j);
    }
    dqt_resp_free(&r);
}

DQ_TEST(anonymous_health_counts_only_images_anonymous_may_see)
{
    fx_t f;
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    setup(&f, NULL);
    char *master = dq_xasprintf("%s/m.png", f.dir);
    DQ_REQUIRE(dqt_make_master(master, 300, 200, DQT_MASTER_BYTES) == 0);
    static const char *const ids[] = {"open-img", "secret-img", "loose-img"};
    for (int i = 0; i < 3; i++)
        DQ_REQUIRE(dqt_sh("%s ingest %s --id %s --data %s >/dev/null 2>&1", dqt_bin(), master,
                          ids[i], f.data) == 0);
    char *h = json_hdr(&f);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", h,
                           "{\"accession\":\"R-1\",\"title\":{\"zh\":\"公开\"},\"restricted\":false,"
                           "\"images\":[{\"image_id\":\"open-img\",\"role\":\"main\"}]}"),
                 201);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", h,
                           "{\"accession\":\"R-2\",\"title\":{\"zh\":\"保密\"},\"restricted\":true,"
                           "\"images\":[{\"image_id\":\"secret-img\",\"role\":\"main\"}]}"),
                 201);
    long long health = 0, listed = 0;
    image_counts(&f, NULL, &health, &listed);
    DQ_CHECK_INT(listed, 2); /* open-img and the unlinked loose-img */
    DQ_CHECK_INT(health, listed);
    image_counts(&f, f.admin, &health, &listed);
    DQ_CHECK_INT(listed, 3);
    DQ_CHECK_INT(health, 3);
    free(h);
    free(master);
    teardown(&f);
}

