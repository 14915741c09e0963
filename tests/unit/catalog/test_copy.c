/*
 * test_copy.c: copying a catalog (src/catalog/copy.c over store_*_copy.c, issue 15, `danqing
 * migrate`): a SQLite catalog filled through the public API is copied into the test's catalog
 * (SQLite, or PostgreSQL in the runner's second pass), which must then answer as the source
 * did: the relic documents with their ids, versions and times, a search (through the target's
 * own derived index), accounts with their password (hash), a token made before the copy,
 * annotation ids; new ids never repeat old ones; a second copy copies nothing; a target that
 * holds other data is refused before anything is written; a dry run writes nothing.
 */
#include "relic_fixture.h"

static const char *doc1 =
    "{\"accession\":\"M-1\",\"title\":{\"zh\":\"溪山行旅图\",\"en\":\"Travellers among Mountains "
    "and Streams\"},\"creators\":[{\"name\":{\"zh\":\"范宽\",\"en\":\"Fan Kuan\"}}],"
    "\"dynasty\":\"northern_song\",\"object_type\":\"hanging_scroll\","
    "\"year_from\":1000,\"year_to\":1020}";
static const char *doc2 = "{\"accession\":\"M-2\",\"title\":{\"en\":\"A leaf of bamboo\"},"
                          "\"object_type\":\"album_leaf\",\"restricted\":true}";

static const dq_actor_t cli = {"cli", DQ_ROLE_ADMIN};

static dq_catalog_t *open_sqlite(const char *tag)
{
    char *d = dq_test_tmpdir(tag);
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_catalog_open(dir, &err);
    if (!c)
        fprintf(stderr, "open: %s\n", err.msg);
    DQ_REQUIRE(c != NULL);
    free(d);
    free(dir);
    return c;
}

/* A source with relics, accounts, a token and annotations. */
static dq_catalog_t *fill(char *token, char ids[2][64])
{
    dq_catalog_t *c = open_sqlite("dq_copy_src");
    dq_err_t err = {0};
    char *a = fx_create(c, doc1), *b = fx_create(c, doc2);
    DQ_REQUIRE(dq_catalog_user_add(c, "Ada", DQ_ROLE_CURATOR, "correct horse 1", &cli,
                                   &err) == 0);
    DQ_REQUIRE(dq_catalog_user_add(c, "bo", DQ_ROLE_VIEWER, "correct horse 2", &cli, &err) ==
               0);
    DQ_REQUIRE(dq_catalog_token_create(c, "Ada", 0, &cli, token, &err) == 0);
    dq_buf_t out = {0}, fe = {0};
    const char *patch = "{\"title\":{\"en\":\"Travellers\"}}";
    if (dq_catalog_relic_patch(c, a, patch, strlen(patch), -1, &curator, &out, &fe, &err) < 0)
        fprintf(stderr, "patch: %s %s\n", err.msg, fe.data ? fe.data : "");
    dq_buf_free(&out);
    dq_buf_free(&fe);
    snprintf(ids[0], 64, "%s", a);
    snprintf(ids[1], 64, "%s", b);
    free(a);
    free(b);
    return c;
}

static char *get(dq_catalog_t *c, const char *id)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_get(c, id, &curator, &out, NULL, &err) == 0);
    return dq_buf_steal(&out, NULL);
}

static int64_t copy(dq_catalog_t *src, dq_catalog_t *dst, int dry, int64_t *todo, dq_err_t *err)
{
    dq_catalog_copy_opts_t o = {.dry_run = dry, .batch = 1};
    dq_catalog_copy_stat_t *st = NULL;
    int n = 0;
    int rc = dq_catalog_copy(src, dst, &o, &st, &n, err);
    int64_t copied = 0;
    if (todo)
        *todo = 0;
    for (int i = 0; i < n; i++) {
        copied += st[i].copied;
        if (todo)
            *todo += st[i].todo;
    }
    free(st);
    return rc < 0 ? -1 : copied;
}

DQ_TEST(copy_keeps_ids_times_versions_accounts_and_search)
{
    char token[DQ_TOKEN_MAX], ids[2][64];
    dq_catalog_t *src = fill(token, ids);
    dq_catalog_t *dst = fx_open();
    dq_err_t err = {0};
    int64_t todo = 0;
    /* dry run: counts, writes nothing */
    DQ_CHECK_INT(copy(src, dst, 1, &todo, &err), 0);
    DQ_CHECK(todo > 6);
    dq_relic_query_t q = fx_query(NULL);
    char *none = fx_search(dst, &q, &curator, &err);
    DQ_REQUIRE(none);
    DQ_CHECK(strstr(none, "\"total\":0") != NULL);
    free(none);
    /* the copy, one row per transaction */
    int64_t n = copy(src, dst, 0, NULL, &err);
    if (n < 0)
        fprintf(stderr, "copy: %s\n", err.msg);
    DQ_CHECK_INT(n, todo);
    char *a = get(src, ids[0]), *b = get(dst, ids[0]);
    DQ_CHECK_STR(b, a); /* id, version 2, created_at and updated_at as they were */
    DQ_CHECK(strstr(b, "\"version\":2") != NULL);
    free(a);
    free(b);
    a = get(src, ids[1]);
    b = get(dst, ids[1]);
    DQ_CHECK_STR(b, a);
    free(a);
    free(b);
    /* the target's own index finds it: a CJK substring and the creator */
    q = fx_query("山行");
    char *r1 = fx_search(src, &q, &curator, &err), *r2 = fx_search(dst, &q, &curator, &err);
    DQ_REQUIRE(r1 && r2);
    DQ_CHECK_STR(r2, r1);
    DQ_CHECK(strstr(r2, "\"total\":1") != NULL);
    free(r1);
    free(r2);
    /* the password (hash) and the token work on the target; the name keeps its case */
    char sess[DQ_TOKEN_MAX];
    dq_actor_t who;
    DQ_CHECK(dq_catalog_login(dst, "ada", "correct horse 1", 60, sess, &who, &err) == 0);
    DQ_CHECK_STR(who.user, "Ada");
    DQ_CHECK(dq_catalog_authenticate(dst, DQ_CRED_TOKEN, token, &who, &err) == 0);
    DQ_CHECK_INT(who.role, DQ_ROLE_CURATOR);
    /* new ids continue after the copied ones */
    char *c3 = fx_create(dst, "{\"accession\":\"M-3\",\"title\":{\"en\":\"Third\"}}");
    DQ_CHECK(strcmp(c3, ids[0]) != 0 && strcmp(c3, ids[1]) != 0);
    free(c3);
    /* a second copy finds the target's extra rows (the login's session, the new relic)
     * beyond the source's: not a prefix any more, refused; before them, nothing to copy */
    n = copy(src, dst, 0, NULL, &err);
    DQ_CHECK_INT(n, -1);
    DQ_CHECK_INT(err.code, DQ_EEXIST);
    dq_catalog_close(dst);
    dq_catalog_close(src);
}

DQ_TEST(copy_twice_copies_nothing_and_other_data_is_refused)
{
    char token[DQ_TOKEN_MAX], ids[2][64];
    dq_catalog_t *src = fill(token, ids);
    dq_catalog_t *dst = fx_open();
    dq_err_t err = {0};
    DQ_CHECK(copy(src, dst, 0, NULL, &err) > 0);
    DQ_CHECK_INT(copy(src, dst, 0, NULL, &err), 0);
    int64_t todo = -1;
    DQ_CHECK_INT(copy(src, dst, 1, &todo, &err), 0);
    DQ_CHECK_INT(todo, 0);
    dq_catalog_close(dst);

    /* a catalog with one account of its own */
    dst = fx_open();
    DQ_REQUIRE(dq_catalog_user_add(dst, "zed", DQ_ROLE_VIEWER, "another pass 1", &cli, &err) ==
               0);
    err = (dq_err_t){0};
    DQ_CHECK_INT(copy(src, dst, 0, NULL, &err), -1);
    DQ_CHECK_INT(err.code, DQ_EEXIST);
    DQ_CHECK(strstr(err.msg, "other data") != NULL);
    dq_relic_query_t q = fx_query(NULL);
    char *r = fx_search(dst, &q, &curator, &err);
    DQ_REQUIRE(r);
    DQ_CHECK(strstr(r, "\"total\":0") != NULL); /* nothing was written */
    free(r);
    dq_catalog_close(dst);
    dq_catalog_close(src);
}

DQ_TEST(copy_into_itself_is_refused)
{
    dq_catalog_t *src = open_sqlite("dq_copy_self");
    dq_err_t err = {0};
    DQ_CHECK_INT(copy(src, src, 0, NULL, &err), -1);
    DQ_CHECK_INT(err.code, DQ_EINVAL);
    dq_catalog_close(src);
}


