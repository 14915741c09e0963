/*
 * test_annotation.c: annotations and tours through the public catalog API on a real SQLite
 * catalog: create/get/replace/delete with versions (412 stale), validation (422 with field
 * paths: region beyond the canvas, bad motivation, language, tags), roles (conservators own
 * their annotations), restricted relics hidden from anonymous callers, Content Search over
 * the bodies in Chinese, pinyin and English with hit context, tours with their stop order,
 * private tours, and the audit rows every write leaves.
 */
#include "relic_fixture.h"
#include "canvas_fixture.h"

#include <jansson.h>

static const dq_actor_t conservator = {"connie", DQ_ROLE_CONSERVATOR};
static const dq_actor_t conservator2 = {"carl", DQ_ROLE_CONSERVATOR};
static const dq_actor_t curator2 = {"cleo", DQ_ROLE_CURATOR};
static const dq_actor_t admin = {"ada", DQ_ROLE_ADMIN};

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fprintf(stderr, "bad json: %s in %s\n", je.text, s);
    DQ_REQUIRE(j);
    return j;
}

/* Creates an annotation; returns its id (> 0) or -(http status). */
static int64_t fx_anno(dq_catalog_t *c, const char *relic, const dq_actor_t *who, const char *json,
                       dq_buf_t *fe)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    int64_t id;
    if (dq_catalog_anno_create(c, relic, json, strlen(json), who, &out, fe, &err) < 0) {
        id = -err.http_status;
    } else {
        json_t *j = parse(out.data);
        id = json_integer_value(json_object_get(j, "id"));
        json_decref(j);
    }
    dq_buf_free(&out);
    return id;
}

static const char *boat =
    "{\"canvas\":1,\"xywh\":[1200,340,420,260],\"motivation\":\"commenting\",\"bodies\":["
    "{\"value\":\"一叶扁舟停在河边\",\"language\":\"zh\"},"
    "{\"value\":\"a small boat moored by the bank\",\"language\":\"en\"}]}";

DQ_TEST(anno_crud_versions)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    int64_t id = fx_anno(c, relic, &curator, boat, NULL);
    DQ_REQUIRE(id > 0);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_anno_get(c, relic, id, &anon, &out, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    json_t *j = parse(out.data);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "creator")), "cora");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "motivation")), "commenting");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "canvas")), 1);
    DQ_CHECK_INT(json_integer_value(json_array_get(json_object_get(j, "xywh"), 2)), 420);
    DQ_CHECK_STR(json_string_value(
                     json_object_get(json_array_get(json_object_get(j, "bodies"), 0), "language")),
                 "zh");
    DQ_CHECK(json_object_get(j, "created") && json_object_get(j, "modified"));
    json_decref(j);
    /* replace: stale version 412, right version bumps it */
    const char *rep = "{\"canvas\":2,\"xywh\":[0,0,800,600],\"motivation\":\"describing\","
                      "\"bodies\":[{\"value\":\"the whole leaf\",\"language\":\"en\"}]}";
    dq_buf_reset(&out);
    DQ_CHECK(dq_catalog_anno_replace(c, relic, id, rep, strlen(rep), 5, &curator, &out, &fe, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(
        dq_catalog_anno_replace(c, relic, id, rep, strlen(rep), 1, &curator, &out, &fe, &err) == 0);
    j = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 2);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "canvas")), 2);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "creator")), "cora"); /* kept */
    json_decref(j);
    /* list */
    dq_buf_reset(&out);
    int64_t total = -1;
    DQ_REQUIRE(dq_catalog_anno_list(c, relic, 0, 0, 100, &anon, &out, &total, &err) == 0);
    DQ_CHECK_INT(total, 1);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_anno_list(c, relic, 1, 0, 100, &anon, &out, &total, &err) == 0);
    DQ_CHECK_INT(total, 0);
    DQ_CHECK_STR(out.data, "[]");
    /* past the last page: the total still counts all, the page is empty */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_anno_list(c, relic, 2, 1, 100, &anon, &out, &total, &err) == 0);
    DQ_CHECK_INT(total, 1);
    DQ_CHECK_STR(out.data, "[]");
    /* delete: stale 412, then 204-equivalent, then 404 */
    DQ_CHECK(dq_catalog_anno_delete(c, relic, id, 1, &curator, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(dq_catalog_anno_delete(c, relic, id, 2, &curator, &err) == 0);
    DQ_CHECK(dq_catalog_anno_get(c, relic, id, &curator, &out, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    /* the same id on another relic is not there */
    char *other = fx_scroll(c, 0);
    int64_t id2 = fx_anno(c, other, &curator, boat, NULL);
    DQ_REQUIRE(id2 > 0);
    DQ_CHECK(dq_catalog_anno_get(c, relic, id2, &curator, &out, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    /* audit: create, replace, delete on the first, create on the second */
    dq_buf_reset(&out);
    char *obj = dq_xasprintf("%s/annotations/%lld", relic, (long long)id);
    DQ_REQUIRE(dq_catalog_audit_list(c, obj, 50, NULL, &out, &err) == 0);
    j = parse(out.data);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 3);
    DQ_CHECK_STR(json_string_value(
                     json_object_get(json_array_get(json_object_get(j, "items"), 0), "action")),
                 "annotation.delete");
    json_decref(j);
    free(obj);
    free(other);
    free(relic);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(anno_validation)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    struct {
        const char *json, *field;
    } bad[] = {
        {"{\"canvas\":1,\"xywh\":[3900,0,200,100],\"motivation\":\"commenting\","
         "\"bodies\":[{\"value\":\"x\",\"language\":\"en\"}]}",
         "xywh"}, /* beyond the 4000-pixel width */
        {"{\"canvas\":2,\"xywh\":[0,0,100,601],\"motivation\":\"commenting\","
         "\"bodies\":[{\"value\":\"x\",\"language\":\"en\"}]}",
         "xywh"},
        {"{\"canvas\":3,\"xywh\":[0,0,1,1],\"motivation\":\"commenting\","
         "\"bodies\":[{\"value\":\"x\",\"language\":\"en\"}]}",
         "canvas"},
        {"{\"canvas\":1,\"xywh\":[0,0,0,1],\"motivation\":\"commenting\","
         "\"bodies\":[{\"value\":\"x\",\"language\":\"en\"}]}",
         "xywh"},
        {"{\"canvas\":1,\"xywh\":[0,0,1,1],\"motivation\":\"painting\","
         "\"bodies\":[{\"value\":\"x\",\"language\":\"en\"}]}",
         "motivation"},
        {"{\"canvas\":1,\"xywh\":[0,0,1,1],\"motivation\":\"commenting\","
         "\"bodies\":[{\"value\":\"x\",\"language\":\"fr\"}]}",
         "bodies[0].language"},
        {"{\"canvas\":1,\"xywh\":[0,0,1,1],\"motivation\":\"commenting\",\"bodies\":[]}", "bodies"},
        {"{\"canvas\":1,\"xywh\":[0,0,1,1],\"motivation\":\"commenting\","
         "\"bodies\":[{\"value\":\"a\\u0001b\",\"language\":\"en\"}]}",
         "bodies[0].value"},
        {"{\"canvas\":1,\"xywh\":[0,0,1,1],\"motivation\":\"tagging\","
         "\"bodies\":[{\"value\":\"two\\nlines\",\"language\":\"en\"}]}",
         "bodies[0].value"},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dq_buf_t fe = {0};
        int64_t r = fx_anno(c, relic, &curator, bad[i].json, &fe);
        DQ_CHECK_INT(r, -422);
        if (fe.data) {
            json_t *j = parse(fe.data);
            if (!json_object_get(j, bad[i].field))
                fprintf(stderr, "    case %zu: %s\n", i, fe.data);
            DQ_CHECK(json_object_get(j, bad[i].field) != NULL);
            json_decref(j);
        }
        dq_buf_free(&fe);
    }
    /* not JSON: 400; unknown relic: 404; the exact edge of the canvas is inside */
    DQ_CHECK_INT(fx_anno(c, relic, &curator, "[1]", NULL), -400);
    DQ_CHECK_INT(fx_anno(c, "no-such-relic", &curator, boat, NULL), -404);
    DQ_CHECK(fx_anno(c, relic, &curator,
                     "{\"canvas\":1,\"xywh\":[3000,0,1000,1000],\"motivation\":\"tagging\","
                     "\"bodies\":[{\"value\":\"船\",\"language\":\"zh\"}]}",
                     NULL) > 0);
    free(relic);
    dq_catalog_close(c);
}

DQ_TEST(anno_roles_and_restricted)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    char *hidden = fx_scroll(c, 1);
    DQ_CHECK_INT(fx_anno(c, relic, &anon, boat, NULL), -401);
    DQ_CHECK_INT(fx_anno(c, relic, &viewer, boat, NULL), -403);
    int64_t mine = fx_anno(c, relic, &conservator, boat, NULL);
    DQ_REQUIRE(mine > 0);
    dq_err_t err = {0};
    dq_buf_t out = {0};
    /* another conservator may not change it; a curator may */
    DQ_CHECK(dq_catalog_anno_replace(c, relic, mine, boat, strlen(boat), -1, &conservator2, &out,
                                     NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_anno_delete(c, relic, mine, -1, &conservator2, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_anno_replace(c, relic, mine, boat, strlen(boat), -1, &conservator, &out,
                                     NULL, &err) == 0);
    DQ_CHECK(dq_catalog_anno_replace(c, relic, mine, boat, strlen(boat), -1, &curator2, &out, NULL,
                                     &err) == 0);
    /* restricted: anonymous sees nothing (404), a viewer sees it */
    int64_t h = fx_anno(c, hidden, &curator, boat, NULL);
    DQ_REQUIRE(h > 0);
    DQ_CHECK(dq_catalog_anno_get(c, hidden, h, &anon, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_anno_list(c, hidden, 0, 0, 10, &anon, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_anno_search(c, hidden, "boat", NULL, NULL, 10, &anon, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_anno_get(c, hidden, h, &viewer, &out, NULL, &err) == 0);
    free(relic);
    free(hidden);
    dq_buf_free(&out);
    dq_catalog_close(c);
}

/* Runs a Content Search; returns the number of results and the first hit's exact text. */
static int search_n(dq_catalog_t *c, const char *relic, const char *q, const char *motivation,
                    const char *user, char **exact)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_anno_search(c, relic, q, motivation, user, 100, &anon, &out, &err) < 0) {
        fprintf(stderr, "    search '%s': %s\n", q, err.msg);
        dq_buf_free(&out); /* caller-owned even when the search fails */
        return -err.http_status;
    }
    json_t *j = parse(out.data);
    int n = (int)json_array_size(j);
    if (exact) {
        const char *e = json_string_value(json_object_get(
            json_array_get(json_object_get(json_array_get(j, 0), "hits"), 0), "exact"));
        *exact = e ? dq_xstrdup(e) : NULL;
    }
    json_decref(j);
    dq_buf_free(&out);
    return n;
}

DQ_TEST(anno_search_zh_en_pinyin)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    char *other = fx_scroll(c, 0);
    DQ_REQUIRE(fx_anno(c, relic, &curator, boat, NULL) > 0);
    DQ_REQUIRE(fx_anno(c, relic, &conservator,
                       "{\"canvas\":1,\"xywh\":[10,10,50,50],\"motivation\":\"identifying\","
                       "\"bodies\":[{\"value\":\"虹桥\",\"language\":\"zh\"},"
                       "{\"value\":\"Rainbow Bridge, with boats beneath\",\"language\":\"en\"}]}",
                       NULL) > 0);
    DQ_REQUIRE(fx_anno(c, relic, &curator,
                       "{\"canvas\":2,\"xywh\":[0,0,10,10],\"motivation\":\"tagging\","
                       "\"bodies\":[{\"value\":\"船\",\"language\":\"zh\"}]}",
                       NULL) > 0);
    DQ_REQUIRE(fx_anno(c, other, &curator, boat, NULL) > 0); /* not in relic's results */
    char *exact = NULL;
    DQ_CHECK_INT(search_n(c, relic, "boat", NULL, NULL, &exact), 2); /* boat and boats */
    DQ_CHECK(exact && (strcmp(exact, "boat") == 0 || strcmp(exact, "boats") == 0));
    free(exact);
    DQ_CHECK_INT(search_n(c, relic, "扁舟", NULL, NULL, &exact), 1);
    DQ_CHECK_STR(exact, "扁舟");
    free(exact);
    DQ_CHECK_INT(search_n(c, relic, "船", NULL, NULL, NULL), 1);
    DQ_CHECK_INT(search_n(c, relic, "hongqiao", NULL, NULL, NULL), 1); /* pinyin of 虹桥 */
    DQ_CHECK_INT(search_n(c, relic, "虹橋", NULL, NULL, NULL), 1);     /* traditional */
    DQ_CHECK_INT(search_n(c, relic, "boat", "identifying", NULL, NULL), 1);
    DQ_CHECK_INT(search_n(c, relic, "boat", "commenting tagging", NULL, NULL), 1);
    DQ_CHECK_INT(search_n(c, relic, "boat", NULL, "connie", NULL), 1);
    DQ_CHECK_INT(search_n(c, relic, "boat", "painting", NULL, NULL), -400);
    DQ_CHECK_INT(search_n(c, relic, "", NULL, NULL, NULL), -400);
    DQ_CHECK_INT(search_n(c, relic, "\"OR*(", NULL, NULL, NULL) <= 0, 1); /* no FTS5 syntax */
    DQ_CHECK_INT(search_n(c, relic, "elephant", NULL, NULL, NULL), 0);
    /* prefix and suffix carry context */
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_anno_search(c, relic, "moored", NULL, NULL, 10, &anon, &out, &err) == 0);
    json_t *j = parse(out.data);
    json_t *hit = json_array_get(json_object_get(json_array_get(j, 0), "hits"), 0);
    DQ_CHECK_STR(json_string_value(json_object_get(hit, "prefix")), "a small boat ");
    DQ_CHECK_STR(json_string_value(json_object_get(hit, "suffix")), " by the bank");
    json_decref(j);
    /* a replaced body leaves the index, a deleted annotation too */
    dq_buf_free(&out);
    free(relic);
    free(other);
    dq_catalog_close(c);
}

DQ_TEST(anno_index_follows_writes)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    int64_t id = fx_anno(c, relic, &curator, boat, NULL);
    DQ_REQUIRE(id > 0);
    const char *rep = "{\"canvas\":1,\"xywh\":[0,0,10,10],\"motivation\":\"commenting\","
                      "\"bodies\":[{\"value\":\"a pavilion\",\"language\":\"en\"}]}";
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_anno_replace(c, relic, id, rep, strlen(rep), 1, &curator, NULL, NULL,
                                       &err) == 0);
    DQ_CHECK_INT(search_n(c, relic, "boat", NULL, NULL, NULL), 0);
    DQ_CHECK_INT(search_n(c, relic, "pavilion", NULL, NULL, NULL), 1);
    DQ_REQUIRE(dq_catalog_anno_delete(c, relic, id, -1, &curator, &err) == 0);
    DQ_CHECK_INT(search_n(c, relic, "pavilion", NULL, NULL, NULL), 0);
    /* deleting the relic cascades to its annotations and their index entries */
    int64_t id2 = fx_anno(c, relic, &curator, boat, NULL);
    DQ_REQUIRE(id2 > 0);
    DQ_REQUIRE(dq_catalog_relic_delete(c, relic, -1, &curator, &err) == 0);
    char *again = fx_scroll(c, 0);
    DQ_CHECK_INT(search_n(c, again, "boat", NULL, NULL, NULL), 0);
    free(again);
    free(relic);
    dq_catalog_close(c);
}

static const char *tour_json =
    "{\"title\":{\"zh\":\"汴河上的船\",\"en\":\"Boats on the river\"},\"public\":true,"
    "\"stops\":[{\"canvas\":1,\"xywh\":[3000,0,1000,1000],\"text\":{\"zh\":\"第三站\"}},"
    "{\"canvas\":2,\"xywh\":[0,0,100,100],\"text\":{\"en\":\"first\"},\"zoom\":2.5},"
    "{\"canvas\":1,\"xywh\":[0,0,100,100],\"text\":{\"zh\":\"二\",\"en\":\"two\"}}]}";

DQ_TEST(tour_crud_order_roles)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_tour_create(c, relic, tour_json, strlen(tour_json), &viewer, &out, &fe,
                                    &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_REQUIRE(dq_catalog_tour_create(c, relic, tour_json, strlen(tour_json), &curator, &out, &fe,
                                      &err) == 0);
    json_t *j = parse(out.data);
    char *tid = dq_xstrdup(json_string_value(json_object_get(j, "id")));
    DQ_CHECK(tid[0] == 't');
    DQ_CHECK_STR(json_string_value(json_object_get(j, "author")), "cora");
    json_t *stops = json_object_get(j, "stops");
    DQ_CHECK_INT(json_array_size(stops), 3);
    /* play order is the array order */
    DQ_CHECK_STR(
        json_string_value(json_object_get(json_object_get(json_array_get(stops, 0), "text"), "zh")),
        "第三站");
    DQ_CHECK(json_real_value(json_object_get(json_array_get(stops, 1), "zoom")) == 2.5);
    DQ_CHECK(json_object_get(json_array_get(stops, 0), "zoom") == NULL);
    json_decref(j);
    /* anyone reads a public tour */
    dq_buf_reset(&out);
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_tour_get(c, tid, &anon, &out, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    /* another curator may not change it; the author may, with the right version */
    const char *rep = "{\"title\":{\"en\":\"Boats\"},\"public\":false,"
                      "\"stops\":[{\"canvas\":2,\"xywh\":[1,2,3,4]}]}";
    DQ_CHECK(dq_catalog_tour_replace(c, tid, rep, strlen(rep), -1, &curator2, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_tour_replace(c, tid, rep, strlen(rep), 9, &curator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(dq_catalog_tour_replace(c, tid, rep, strlen(rep), 1, &curator, &out, &fe, &err) ==
               0);
    /* now private: hidden from anonymous and other curators, seen by the author and admin */
    DQ_CHECK(dq_catalog_tour_get(c, tid, &anon, &out, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_tour_get(c, tid, &curator2, &out, &v, &err) < 0);
    DQ_CHECK(dq_catalog_tour_get(c, tid, &admin, &out, &v, &err) == 0);
    DQ_CHECK_INT(v, 2);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_tour_list(c, relic, &anon, &out, &err) == 0);
    DQ_CHECK_STR(out.data, "{\"items\":[]}");
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_tour_list(c, relic, &curator, &out, &err) == 0);
    j = parse(out.data);
    DQ_CHECK_INT(json_integer_value(
                     json_object_get(json_array_get(json_object_get(j, "items"), 0), "n_stops")),
                 1);
    json_decref(j);
    /* validation */
    const char *bad = "{\"title\":{},\"stops\":[{\"canvas\":1,\"xywh\":[0,0,5000,1],"
                      "\"zoom\":-1,\"extra\":1}],\"colour\":\"red\"}";
    dq_buf_reset(&fe);
    DQ_CHECK(dq_catalog_tour_create(c, relic, bad, strlen(bad), &curator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    j = parse(fe.data);
    DQ_CHECK(json_object_get(j, "title") && json_object_get(j, "stops[0].xywh") &&
             json_object_get(j, "stops[0].zoom") && json_object_get(j, "stops[0].extra") &&
             json_object_get(j, "colour"));
    json_decref(j);
    /* delete: author only, then gone; bad ids are 404 */
    DQ_CHECK(dq_catalog_tour_delete(c, tid, -1, &curator2, &err) < 0);
    DQ_REQUIRE(dq_catalog_tour_delete(c, tid, 2, &curator, &err) == 0);
    DQ_CHECK(dq_catalog_tour_get(c, tid, &admin, &out, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_tour_get(c, "x1", &admin, &out, &v, &err) < 0);
    DQ_CHECK(dq_catalog_tour_get(c, "t", &admin, &out, &v, &err) < 0);
    free(tid);
    free(relic);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(tour_restricted_relic)
{
    dq_catalog_t *c = fx_open();
    char *hidden = fx_scroll(c, 1);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_tour_create(c, hidden, tour_json, strlen(tour_json), &curator, &out, NULL,
                                      &err) == 0);
    json_t *j = parse(out.data);
    char *tid = dq_xstrdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    DQ_CHECK(dq_catalog_tour_get(c, tid, &anon, &out, NULL, &err) < 0); /* public, but hidden */
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_tour_list(c, hidden, &anon, &out, &err) < 0);
    DQ_CHECK(dq_catalog_tour_get(c, tid, &viewer, &out, NULL, &err) == 0);
    free(tid);
    free(hidden);
    dq_buf_free(&out);
    dq_catalog_close(c);
}
