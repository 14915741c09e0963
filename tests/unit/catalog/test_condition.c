/*
 * test_condition.c: condition records (src/catalog/condition.c over store_sqlite_condition.c,
 * issue 12) through the public catalog API on a real SQLite catalog: create/get/replace/delete
 * with versions (412 stale), validation against the controlled vocabularies (422 with field
 * paths), roles (conservators and above write; viewers read all; anonymous callers only
 * published records of public relics), date order, and the audit row of every write; and
 * that a record's capture and change map are hidden from anonymous callers until the record
 * is published (the image map's condition gates, also after a re-open).
 */
#include "relic_fixture.h"
#include "canvas_fixture.h"

#include <jansson.h>

static const dq_actor_t conservator = {"connie", DQ_ROLE_CONSERVATOR};

static const char *rec2016 =
    "{\"date\":\"2016-05-17\",\"examiner\":\"Wang Li\",\"overall\":\"fair\",\"published\":true,"
    "\"observations\":[{\"type\":\"loss\",\"severity\":\"moderate\",\"region\":{\"xywh\":[10,20,"
    "30,40]},\"note\":\"old losses along the lower edge\"}],"
    "\"environment\":{\"rh_percent\":52,\"temperature_c\":19.5,\"lux\":50},"
    "\"treatments\":[{\"status\":\"proposed\",\"description\":\"consolidate flaking azurite\"}]}";
static const char *rec2026 = "{\"date\":\"2026-04-09\",\"examiner\":\"Li Na\",\"overall\":\"poor\","
                             "\"observations\":[{\"type\":\"flaking\",\"severity\":\"severe\"}]}";

/* Creates a record; returns its id ("c{n}", new string) or NULL with *status. */
static char *fx_record(dq_catalog_t *c, const char *relic, const dq_actor_t *who,
                       const char *json, int *status, dq_buf_t *fe)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    char *id = NULL;
    *status = 201;
    if (dq_catalog_condition_create(c, relic, json, strlen(json), who, &out, fe, &err) < 0) {
        *status = err.http_status;
    } else {
        json_t *j = json_loads(out.data, 0, NULL);
        DQ_REQUIRE(j);
        id = dq_xstrdup(json_string_value(json_object_get(j, "id")));
        json_decref(j);
    }
    dq_buf_free(&out);
    return id;
}

DQ_TEST(condition_crud_versions_and_order)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    int st;
    char *late = fx_record(c, relic, &conservator, rec2026, &st, NULL);
    char *early = fx_record(c, relic, &curator, rec2016, &st, NULL);
    DQ_REQUIRE(late && early);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_condition_get(c, relic, early, &viewer, &out, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    json_t *j = json_loads(out.data, 0, NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "overall")), "fair");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "author")), "cora");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "relic_id")), relic);
    DQ_CHECK(json_real_value(json_object_get(json_object_get(j, "environment"),
                                             "temperature_c")) == 19.5);
    json_decref(j);
    /* the list is in date order, whatever the order of creation */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_condition_list(c, relic, &viewer, &out, &err) == 0);
    j = json_loads(out.data, 0, NULL);
    json_t *items = json_object_get(j, "items");
    DQ_CHECK_INT((int)json_array_size(items), 2);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "date")),
                 "2016-05-17");
    json_decref(j);
    /* replace: stale version 412; the right one bumps it; a GET answer can be PUT back */
    const char *rep = "{\"date\":\"2026-04-09\",\"examiner\":\"Li Na\",\"overall\":\"critical\","
                      "\"version\":1,\"id\":\"c1\"}";
    DQ_CHECK(dq_catalog_condition_replace(c, relic, late, rep, strlen(rep), 7, &conservator,
                                          &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_condition_replace(c, relic, late, rep, strlen(rep), 1, &conservator,
                                            &out, &fe, &err) == 0);
    j = json_loads(out.data, 0, NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 2);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "overall")), "critical");
    json_decref(j);
    /* delete, then it is gone */
    DQ_REQUIRE(dq_catalog_condition_delete(c, relic, late, 2, &conservator, &err) == 0);
    DQ_CHECK(dq_catalog_condition_get(c, relic, late, &viewer, NULL, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    /* audit: create x2, replace, delete */
    dq_buf_reset(&out);
    int64_t n = 0;
    DQ_REQUIRE(dq_catalog_audit_count(c, &n, &err) == 0);
    DQ_CHECK(n >= 4);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    free(late);
    free(early);
    free(relic);
    dq_catalog_close(c);
}

DQ_TEST(condition_roles_and_visibility)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0), *hidden = fx_scroll(c, 1);
    int st;
    char *id = fx_record(c, relic, &viewer, rec2016, &st, NULL);
    DQ_CHECK(!id);
    DQ_CHECK_INT(st, 403);
    id = fx_record(c, relic, &anon, rec2016, &st, NULL);
    DQ_CHECK(!id);
    DQ_CHECK_INT(st, 401);
    char *pub = fx_record(c, relic, &conservator, rec2016, &st, NULL);  /* published */
    char *priv = fx_record(c, relic, &conservator, rec2026, &st, NULL); /* not published */
    DQ_REQUIRE(pub && priv);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    /* anonymous: only the published record */
    DQ_REQUIRE(dq_catalog_condition_list(c, relic, &anon, &out, &err) == 0);
    json_t *j = json_loads(out.data, 0, NULL);
    DQ_CHECK_INT((int)json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    DQ_CHECK(dq_catalog_condition_get(c, relic, priv, &anon, NULL, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_condition_get(c, relic, priv, &viewer, NULL, NULL, &err) == 0);
    /* a restricted relic: its records are as absent as the relic for anonymous callers */
    char *h = fx_record(c, hidden, &conservator, rec2016, &st, NULL);
    DQ_REQUIRE(h);
    dq_buf_reset(&out);
    DQ_CHECK(dq_catalog_condition_list(c, hidden, &anon, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_condition_get(c, hidden, h, &anon, NULL, NULL, &err) < 0);
    /* an unknown relic */
    DQ_CHECK(fx_record(c, "no-such-relic", &conservator, rec2016, &st, NULL) == NULL);
    DQ_CHECK_INT(st, 404);
    dq_buf_free(&out);
    free(pub);
    free(priv);
    free(h);
    free(relic);
    free(hidden);
    dq_catalog_close(c);
}

DQ_TEST(condition_validation)
{
    dq_catalog_t *c = fx_open();
    char *relic = fx_scroll(c, 0);
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"examiner\":\"a\",\"overall\":\"good\"}", "date"},
        {"{\"date\":\"2026-13-01\",\"examiner\":\"a\",\"overall\":\"good\"}", "date"},
        {"{\"date\":\"2026-01-01\",\"overall\":\"good\"}", "examiner"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"splendid\"}", "overall"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"colour\":1}",
         "colour"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"observations\":"
         "[{\"type\":\"dust\",\"severity\":\"minor\"}]}",
         "observations[0].type"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"observations\":"
         "[{\"type\":\"tear\",\"severity\":\"huge\"}]}",
         "observations[0].severity"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"observations\":"
         "[{\"type\":\"tear\",\"severity\":\"minor\",\"region\":{\"xywh\":[1,2,0,4]}}]}",
         "observations[0].region"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"environment\":"
         "{\"rh_percent\":140}}",
         "environment.rh_percent"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"treatments\":"
         "[{\"status\":\"maybe\",\"description\":\"x\"}]}",
         "treatments[0].status"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"images\":"
         "[\"no-such-image\"]}",
         "images[0]"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"published\":1}",
         "published"},
        /* what a one-step record drafts (condrec/): draft, area_px, area_cm2, auto */
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"draft\":\"yes\"}",
         "draft"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"observations\":"
         "[{\"type\":\"loss\",\"severity\":\"minor\",\"area_px\":-3}]}",
         "observations[0].area_px"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"observations\":"
         "[{\"type\":\"loss\",\"severity\":\"minor\",\"area_cm2\":\"2\"}]}",
         "observations[0].area_cm2"},
        {"{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\",\"observations\":"
         "[{\"type\":\"loss\",\"severity\":\"minor\",\"auto\":1}]}",
         "observations[0].auto"},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dq_buf_t fe = {0};
        int st;
        char *id = fx_record(c, relic, &conservator, bad[i].json, &st, &fe);
        DQ_CHECK(id == NULL);
        DQ_CHECK_INT(st, 422);
        json_t *j = fe.data ? json_loads(fe.data, 0, NULL) : NULL;
        if (!j || !json_object_get(j, bad[i].field))
            fprintf(stderr, "    case %zu: want %s in %s\n", i, bad[i].field,
                    fe.data ? fe.data : "(none)");
        DQ_CHECK(j && json_object_get(j, bad[i].field));
        json_decref(j);
        dq_buf_free(&fe);
        free(id);
    }
    /* not JSON at all: 400 */
    int st;
    DQ_CHECK(fx_record(c, relic, &conservator, "{date", &st, NULL) == NULL);
    DQ_CHECK_INT(st, 400);
    /* a record that names a catalogued capture is fine */
    char *ok = fx_record(c, relic, &conservator,
                         "{\"date\":\"2026-01-01\",\"examiner\":\"a\",\"overall\":\"good\","
                         "\"images\":[\"scroll-0-a\"],\"dimensions_cm\":{\"width\":52,"
                         "\"height\":24}}",
                         &st, NULL);
    DQ_CHECK(ok != NULL);
    free(ok);
    /* a drafted record keeps what was drafted, so a reviewer's PUT of the GET answer keeps it */
    char *dr = fx_record(c, relic, &conservator,
                         "{\"date\":\"2026-02-01\",\"examiner\":\"a\",\"overall\":\"fair\","
                         "\"draft\":true,\"observations\":[{\"type\":\"flaking\",\"severity\":"
                         "\"minor\",\"area_px\":120,\"area_cm2\":0.42,\"auto\":true}]}",
                         &st, NULL);
    DQ_CHECK(dr != NULL);
    dq_buf_t got = {0};
    dq_err_t err = {0};
    DQ_CHECK(dr && dq_catalog_condition_get(c, relic, dr, &conservator, &got, NULL, &err) == 0);
    json_t *g = got.data ? json_loads(got.data, 0, NULL) : NULL;
    json_t *o0 = json_array_get(json_object_get(g, "observations"), 0);
    DQ_CHECK(json_is_true(json_object_get(g, "draft")));
    DQ_CHECK(json_integer_value(json_object_get(o0, "area_px")) == 120);
    DQ_CHECK(json_real_value(json_object_get(o0, "area_cm2")) == 0.42);
    DQ_CHECK(json_is_true(json_object_get(o0, "auto")));
    json_decref(g);
    dq_buf_free(&got);
    free(dr);
    free(relic);
    dq_catalog_close(c);
}

/* Publishes (1) or unpublishes (0) record id of relic: the GET answer PUT back. */
static void fx_publish(dq_catalog_t *c, const char *relic, const char *id, int published)
{
    dq_buf_t got = {0}, out = {0}, fe = {0};
    dq_err_t err = {0};
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_condition_get(c, relic, id, &conservator, &got, &v, &err) == 0);
    json_t *j = json_loads(got.data, 0, NULL);
    json_object_set_new(j, "published", json_boolean(published));
    char *t = json_dumps(j, JSON_COMPACT);
    DQ_REQUIRE(dq_catalog_condition_replace(c, relic, id, t, strlen(t), v, &conservator, &out,
                                            &fe, &err) == 0);
    free(t);
    json_decref(j);
    dq_buf_free(&got);
    dq_buf_free(&out);
    dq_buf_free(&fe);
}

/* Anonymous visibility of the relic's main image, the old record's photograph, the draft's
 * capture and its change map, as a 4-digit number (1 visible). */
static int fx_gates(dq_catalog_t *c)
{
    static const char *const ids[] = {"gate-main", "gate-old", "gate-cap", "gate-cap.changes"};
    int v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 10 + dq_catalog_image_visible(c, ids[i], &anon);
    return v;
}

/* Issue 12: "anonymous users see only what the museum publishes". The one-step record links
 * its capture (role condition) and change map (role change-map) to the relic; until a
 * record that refers to them is published, anonymous callers do not see them (viewers and
 * conservators do, as they read drafts). A photograph linked with role condition by an older,
 * published record stays visible. The map built at open agrees with the one kept current. */
DQ_TEST(condition_images_follow_publication)
{
    char *d = dq_test_tmpdir("dq_condgate");
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    fx_image(c, "gate-main", 800, 600);
    fx_image(c, "gate-old", 800, 600);
    fx_image(c, "gate-cap", 800, 600);
    fx_image(c, "gate-cap.changes", 800, 600);
    char *relic = fx_create(
        c, "{\"accession\":\"G-1\",\"title\":{\"en\":\"Gate\"},\"images\":["
           "{\"image_id\":\"gate-main\",\"role\":\"main\"},"
           "{\"image_id\":\"gate-old\",\"role\":\"condition\"},"
           "{\"image_id\":\"gate-cap\",\"role\":\"condition\"},"
           "{\"image_id\":\"gate-cap.changes\",\"role\":\"change-map\"}]}");
    /* nothing published yet: only the main image */
    DQ_CHECK_INT(fx_gates(c), 1000);
    int st;
    char *old = fx_record(c, relic, &conservator,
                          "{\"date\":\"2016-05-17\",\"examiner\":\"a\",\"overall\":\"fair\","
                          "\"published\":true,\"images\":[\"gate-old\"]}",
                          &st, NULL);
    char *draft = fx_record(c, relic, &conservator,
                            "{\"date\":\"2026-04-09\",\"examiner\":\"a\",\"overall\":\"poor\","
                            "\"draft\":true,\"images\":[\"gate-cap\"],\"changes\":{"
                            "\"capture_image\":\"gate-cap\",\"map_image\":\"gate-cap.changes\","
                            "\"ref_image\":\"gate-old\"}}",
                            &st, NULL);
    DQ_REQUIRE(old && draft);
    DQ_CHECK_INT(fx_gates(c), 1100);
    DQ_CHECK(dq_catalog_image_visible(c, "gate-cap", &viewer));
    DQ_CHECK(dq_catalog_image_visible(c, "gate-cap.changes", &conservator));
    int64_t n_img = 0;
    DQ_CHECK(dq_catalog_counts(c, &anon, NULL, &n_img, &err) == 0 && n_img == 2);
    fx_publish(c, relic, draft, 1);
    DQ_CHECK_INT(fx_gates(c), 1111);
    /* re-opened: the map built from the tables says the same */
    dq_catalog_close(c);
    DQ_REQUIRE((c = dq_test_catalog_open(dir, &err)) != NULL);
    DQ_CHECK_INT(fx_gates(c), 1111);
    fx_publish(c, relic, draft, 0);
    DQ_CHECK_INT(fx_gates(c), 1100);
    dq_catalog_close(c);
    DQ_REQUIRE((c = dq_test_catalog_open(dir, &err)) != NULL);
    DQ_CHECK_INT(fx_gates(c), 1100);
    /* deleting the published old record hides its photograph */
    DQ_REQUIRE(dq_catalog_condition_delete(c, relic, old, -1, &conservator, &err) == 0);
    DQ_CHECK_INT(fx_gates(c), 1000);
    free(old);
    free(draft);
    free(relic);
    dq_catalog_close(c);
    free(dir);
    free(d);
}

/* The derived link roles (catalog.h), one list for the manifest, style and these gates:
 * restorations are derived but follow their relic; condition captures and change maps are
 * derived and gated by publication; other roles are pictures of the work. */
DQ_TEST(condition_derived_link_roles)
{
    DQ_CHECK(dq_catalog_link_derived("restoration"));
    DQ_CHECK(dq_catalog_link_derived("condition"));
    DQ_CHECK(dq_catalog_link_derived("change-map"));
    DQ_CHECK(!dq_catalog_link_derived("detail") && !dq_catalog_link_derived("") &&
             !dq_catalog_link_derived(NULL) && !dq_catalog_link_derived("Condition"));
    int gated = -1, n_gated = 0, n = 0;
    const char *r;
    for (; (r = dq_catalog_link_derived_at(n, &gated)) != NULL; n++) {
        n_gated += gated;
        DQ_CHECK(gated == (strcmp(r, "restoration") != 0));
    }
    DQ_CHECK_INT(n, 3);
    DQ_CHECK_INT(n_gated, 2);
    DQ_CHECK(dq_catalog_link_derived_at(-1, NULL) == NULL);
}
