/*
 * test_harvest.c: `danqing harvest` against a second danqing on loopback (issue 16). The
 * peer serves 30 relics that show one image; a fresh catalog harvests its IIIF Change
 * Discovery stream (30 linked records, each marked remote with the peer's Manifest), a second
 * run changes nothing, an edit and a deletion on the peer arrive as one update and one
 * deletion, the peer's IIIF Collection harvests to the same records, and a URL that is none
 * of those fails with a message and changes nothing. The peer's OAI-PMH endpoint harvests in
 * LIDO (what it offers first) or oai_dc, incrementally by from=, a deletion and a record the
 * peer made restricted removed, and source fields not mapped kept in remote.fields.
 */
#include <jansson.h>
#include <vips/vips.h>

#include "../dq_http_test.h"
#include "catalog/catalog.h"

#define N 30

typedef struct {
    char *dir, *peer, *mine, *auth;
    dqt_server_t srv;
    char base[64];
} fx_t;

/* Runs a command; its stdout (first 4 KiB) into out; returns the exit status. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dq_buf_t cmd = {0};
    dq_buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd.data, "r");
    dq_buf_free(&cmd);
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    f->dir = dqt_tmpdir();
    f->peer = dq_xasprintf("%s/peer", f->dir);
    f->mine = dq_xasprintf("%s/mine", f->dir);
    char *png = dq_xasprintf("%s/m.png", f->dir);
    VipsImage *im = NULL;
    DQ_REQUIRE(vips_black(&im, 64, 48, "bands", 3, NULL) == 0);
    DQ_REQUIRE(vips_pngsave(im, png, NULL) == 0);
    g_object_unref(im);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id img --data %s >/dev/null 2>&1", dqt_bin(), png,
                      f->peer) == 0);
    free(png);
    char *jl = dq_xasprintf("%s/r.jsonl", f->dir);
    FILE *o = fopen(jl, "w");
    DQ_REQUIRE(o);
    for (int i = 1; i <= N; i++)
        fprintf(o,
                "{\"id\":\"p-%03d\",\"accession\":\"P-%03d\",\"title\":{\"zh\":\"远山%d\","
                "\"en\":\"Far Hills %d\"},\"creators\":[{\"name\":{\"zh\":\"画家%d\",\"en\":"
                "\"Painter %d\"},\"dates\":\"1100-1160\"}],\"dynasty\":\"%s\",\"object_type\":"
                "\"%s\",\"year_from\":1120,\"year_to\":1125,\"rights\":\"http://"
                "creativecommons.org/publicdomain/zero/1.0/\",\"images\":[{\"image_id\":"
                "\"img\"}]}\n",
                i, i, i, i, i % 4, i % 4, i % 2 ? "song" : "ming",
                i % 3 ? "hanging_scroll" : "handscroll");
    fclose(o);
    DQ_REQUIRE(dqt_sh("%s --data %s import %s >/dev/null 2>&1", dqt_bin(), f->peer, jl) == 0);
    free(jl);
    DQ_REQUIRE(dqt_sh("%s --data %s user add cura --role curator --password curapass1 "
                      ">/dev/null 2>&1",
                      dqt_bin(), f->peer) == 0);
    char tok[256];
    DQ_REQUIRE(run(tok, sizeof(tok), "%s --data %s user token cura 2>/dev/null", dqt_bin(),
                   f->peer) == 0);
    tok[strcspn(tok, "\r\n")] = '\0';
    f->auth = dq_xasprintf("Authorization: Bearer %s\r\nIf-Match: *\r\n", tok);
    DQ_REQUIRE(dqt_server_start(&f->srv, f->peer, NULL) == 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->srv.port);
}

static void teardown(fx_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dq_test_rm_rf(f->dir);
    free(f->dir);
    free(f->peer);
    free(f->mine);
    free(f->auth);
    vips_shutdown();
}

/* The harvested catalog's relics (search as the admin CLI would see them). */
static json_t *mine_search(fx_t *f, const char *q)
{
    dq_err_t err = {0};
    dq_catalog_t *cat = dq_catalog_open(f->mine, &err);
    DQ_REQUIRE(cat);
    dq_actor_t anon = {.role = DQ_ROLE_ANON};
    dq_relic_query_t rq = {.q = q, .has_images = -1, .year_from = INT_MIN, .year_to = INT_MAX,
                           .limit = 100, .facets = 1};
    dq_buf_t out = {0};
    DQ_REQUIRE(dq_catalog_relic_search(cat, &rq, &anon, &out, &err) == 0);
    json_t *j = json_loads(out.data, 0, NULL);
    dq_buf_free(&out);
    dq_catalog_close(cat);
    return j;
}

static int harvest(fx_t *f, const char *path, char *out, size_t cap)
{
    return run(out, cap, "%s --data %s harvest %s%s 2>&1", dqt_bin(), f->mine, f->base, path);
}

DQ_TEST(change_discovery_incremental)
{
    fx_t f;
    setup(&f);
    char out[4096];
    DQ_CHECK_INT(harvest(&f, "/iiif/discovery/changes", out, sizeof(out)), 0);
    if (!strstr(out, "30 inserted, 0 updated"))
        fprintf(stderr, "    first run: %s\n", out);
    DQ_CHECK(strstr(out, "30 manifests fetched; 30 inserted, 0 updated, 0 unchanged, 0 deleted, "
                         "0 failed") != NULL);
    json_t *j = mine_search(&f, NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), N);
    /* Facets work on harvested records like local ones. */
    char *facets = json_dumps(json_object_get(j, "facets"), 0);
    DQ_CHECK(facets && strstr(facets, "\"song\"") != NULL);
    free(facets);
    json_decref(j);
    j = mine_search(&f, "Far Hills 7");
    DQ_CHECK(json_integer_value(json_object_get(j, "total")) >= 1);
    const char *id = json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id"));
    DQ_REQUIRE(id && dq_str_starts(id, "ext-"));
    /* The record references the peer's Manifest and names where it came from. */
    dq_err_t err = {0};
    dq_catalog_t *cat = dq_catalog_open(f.mine, &err);
    dq_actor_t anon = {.role = DQ_ROLE_ANON};
    dq_buf_t doc = {0};
    DQ_REQUIRE(dq_catalog_relic_get(cat, id, &anon, &doc, NULL, &err) == 0);
    dq_catalog_close(cat);
    json_t *d = json_loads(doc.data, 0, NULL);
    json_t *remote = json_object_get(d, "remote");
    char want[128];
    snprintf(want, sizeof(want), "%s/iiif/presentation/3/p-", f.base);
    DQ_CHECK(dq_str_starts(json_string_value(json_object_get(remote, "manifest")), want));
    DQ_CHECK_STR(json_string_value(json_object_get(remote, "institution")), "danqing");
    DQ_CHECK_STR(json_string_value(json_object_get(remote, "licence")),
                 "http://creativecommons.org/publicdomain/zero/1.0/");
    DQ_CHECK_STR(json_string_value(json_object_get(d, "dynasty")), "song");
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
                                                       json_object_get(d, "creators"), 0),
                                                                   "name"),
                                                   "en")),
                 "Painter 3");
    json_decref(d);
    dq_buf_free(&doc);
    json_decref(j);

    /* A second run changes nothing. */
    DQ_CHECK_INT(harvest(&f, "/iiif/discovery/changes", out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, " 0 manifests fetched; 0 inserted, 0 updated,") &&
             strstr(out, "0 deleted, 0 failed"));

    /* An edit and a deletion on the peer arrive as one update and one deletion. */
    dqt_resp_t r;
    char *h = dq_xasprintf("%sContent-Type: application/merge-patch+json\r\n", f.auth);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/p-002", h,
                             "{\"title\":{\"en\":\"Far Hills, retitled\"}}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    free(h);
    DQ_REQUIRE(dqt_http(f.srv.port, "DELETE", "/api/relics/p-005", f.auth, &r) == 0);
    DQ_CHECK_INT(r.status, 204);
    dqt_resp_free(&r);
    DQ_CHECK_INT(harvest(&f, "/iiif/discovery/changes", out, sizeof(out)), 0);
    if (!strstr(out, "0 inserted, 1 updated"))
        fprintf(stderr, "    third run: %s\n", out);
    DQ_CHECK(strstr(out, "0 inserted, 1 updated,") && strstr(out, "1 deleted, 0 failed"));
    j = mine_search(&f, NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), N - 1);
    json_decref(j);
    j = mine_search(&f, "retitled");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    json_decref(j);
    teardown(&f);
}

DQ_TEST(collection_and_bad_urls)
{
    fx_t f;
    setup(&f);
    char out[4096];
    DQ_CHECK_INT(harvest(&f, "/iiif/presentation/3/collection/all", out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, "30 inserted, 0 updated") != NULL);
    /* The same Manifests by Change Discovery are the same records (only their source, the
     * stream they came through, changes), and a repeat of that is all unchanged. */
    DQ_CHECK_INT(harvest(&f, "/iiif/discovery/changes", out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, "0 inserted, 30 updated, 0 unchanged") != NULL);
    DQ_CHECK_INT(harvest(&f, "/iiif/presentation/3/collection/all", out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, "0 inserted, 30 updated, 0 unchanged") != NULL);
    DQ_CHECK_INT(harvest(&f, "/iiif/presentation/3/collection/all", out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, "0 inserted, 0 updated, 30 unchanged") != NULL);
    /* One Manifest. */
    char *one = dq_xasprintf("/iiif/presentation/3/p-001/manifest");
    DQ_CHECK_INT(harvest(&f, one, out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, "1 manifests fetched; 0 inserted, 1 updated, 0 unchanged") != NULL);
    free(one);
    /* Not IIIF, not there, not http: an error and nothing changes. */
    DQ_CHECK(harvest(&f, "/api/vocab/dynasties", out, sizeof(out)) != 0);
    DQ_CHECK(strstr(out, "not a IIIF") != NULL || strstr(out, "is not a IIIF") != NULL);
    DQ_CHECK(harvest(&f, "/nope.json", out, sizeof(out)) != 0);
    DQ_CHECK(run(out, sizeof(out), "%s --data %s harvest file:///etc/passwd 2>&1", dqt_bin(),
                 f.mine) != 0);
    DQ_CHECK(strstr(out, "only http and https") != NULL);
    json_t *j = mine_search(&f, NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), N);
    json_decref(j);
    teardown(&f);
}

/* The harvested document of the peer's relic whose English title is en (new reference). */
static json_t *mine_doc(fx_t *f, const char *en)
{
    json_t *j = mine_search(f, en);
    const char *id =
        json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id"));
    DQ_REQUIRE(id);
    dq_err_t err = {0};
    dq_catalog_t *cat = dq_catalog_open(f->mine, &err);
    DQ_REQUIRE(cat);
    dq_actor_t admin = {.user = "t", .role = DQ_ROLE_ADMIN};
    dq_buf_t doc = {0};
    DQ_REQUIRE(dq_catalog_relic_get(cat, id, &admin, &doc, NULL, &err) == 0);
    dq_catalog_close(cat);
    json_decref(j);
    json_t *d = json_loads(doc.data, 0, NULL);
    dq_buf_free(&doc);
    return d;
}

/* 1 when remote.fields of d has a field named name (a prefix when it ends in '*'). */
static int has_field(const json_t *d, const char *name, const char *value)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(json_object_get(d, "remote"), "fields"), i, x)
    {
        const char *n = json_string_value(json_object_get(x, "name"));
        const char *v = json_string_value(json_object_get(x, "value"));
        if (n && v && strstr(n, name) && (!value || strcmp(v, value) == 0))
            return 1;
    }
    return 0;
}

DQ_TEST(oai_pmh_incremental)
{
    fx_t f;
    setup(&f);
    char out[4096];
    DQ_CHECK_INT(harvest(&f, "/oai", out, sizeof(out)), 0);
    if (!strstr(out, "30 inserted"))
        fprintf(stderr, "    first run: %s\n", out);
    DQ_CHECK(strstr(out, "OAI-PMH lido: 30 records (0 deleted)") != NULL);
    DQ_CHECK(strstr(out, "30 inserted, 0 updated, 0 unchanged, 0 deleted, 0 failed") != NULL);
    json_t *j = mine_search(&f, NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), N);
    json_decref(j);
    json_t *d = mine_doc(&f, "Far Hills 7");
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "title"), "zh")), "远山7");
    DQ_CHECK_STR(json_string_value(json_object_get(d, "dynasty")), "song");
    DQ_CHECK_STR(json_string_value(json_object_get(d, "object_type")), "hanging_scroll");
    DQ_CHECK_INT((int)json_integer_value(json_object_get(d, "year_from")), 1120);
    DQ_CHECK_INT((int)json_integer_value(json_object_get(d, "year_to")), 1125);
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
                                                       json_object_get(d, "creators"), 0),
                                                                   "name"),
                                                   "en")),
                 "Painter 3");
    json_t *rm = json_object_get(d, "remote");
    DQ_CHECK_STR(json_string_value(json_object_get(rm, "format")), "lido");
    DQ_CHECK_STR(json_string_value(json_object_get(rm, "oai_identifier")),
                 "oai:127.0.0.1:p-007");
    char want[160];
    snprintf(want, sizeof(want), "%s/oai?verb=GetRecord&metadataPrefix=lido&identifier=", f.base);
    DQ_CHECK(dq_str_starts(json_string_value(json_object_get(rm, "record")), want));
    /* What the mapping does not use is kept: the peer's own inventory number, for one. */
    DQ_CHECK(has_field(d, "workID", "P-007"));
    json_decref(d);

    /* A second run asks from= the first run's responseDate: nothing new. */
    DQ_CHECK_INT(harvest(&f, "/oai", out, sizeof(out)), 0);
    DQ_CHECK(strstr(out, " 0 inserted, 0 updated,") && strstr(out, "0 deleted, 0 failed"));

    /* An edit, a deletion and a record made restricted on the peer. */
    dqt_resp_t r;
    char *h = dq_xasprintf("%sContent-Type: application/merge-patch+json\r\n", f.auth);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/p-002", h,
                             "{\"title\":{\"en\":\"Far Hills, retitled\"}}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/p-009", h,
                             "{\"restricted\":true}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    free(h);
    DQ_REQUIRE(dqt_http(f.srv.port, "DELETE", "/api/relics/p-005", f.auth, &r) == 0);
    DQ_CHECK_INT(r.status, 204);
    dqt_resp_free(&r);
    DQ_CHECK_INT(harvest(&f, "/oai", out, sizeof(out)), 0);
    if (!strstr(out, "2 deleted"))
        fprintf(stderr, "    third run: %s\n", out);
    DQ_CHECK(strstr(out, "(2 deleted)") && strstr(out, "0 inserted, 1 updated,") &&
             strstr(out, "2 deleted, 0 failed"));
    j = mine_search(&f, NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), N - 2);
    json_decref(j);
    j = mine_search(&f, "retitled");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    json_decref(j);

    /* oai_dc on request: the same records (same ids), mapped from Dublin Core. */
    DQ_CHECK_INT(run(out, sizeof(out), "%s --data %s harvest %s/oai --format oai_dc 2>&1",
                     dqt_bin(), f.mine, f.base),
                 0);
    DQ_CHECK(strstr(out, "OAI-PMH oai_dc: 30 records (2 deleted)") &&
             strstr(out, "0 inserted, 28 updated") != NULL);
    d = mine_doc(&f, "Far Hills 7");
    rm = json_object_get(d, "remote");
    DQ_CHECK_STR(json_string_value(json_object_get(rm, "format")), "oai_dc");
    DQ_CHECK_STR(json_string_value(json_object_get(d, "dynasty")), "song");
    DQ_CHECK_STR(json_string_value(json_object_get(d, "rights")),
                 "http://creativecommons.org/publicdomain/zero/1.0/");
    DQ_CHECK(has_field(d, "identifier", "P-007"));
    json_decref(d);
    teardown(&f);
}
