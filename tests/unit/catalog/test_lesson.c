/*
 * test_lesson.c: lessons and the glossary (issue 17) through the public catalog API on a real
 * SQLite catalog: the educator role (stored, read back, may write teaching material and never
 * records), lessons across works with views, tour stops, comparisons and questions, versions
 * (412), validation with field paths where a bad document changes nothing, private lessons,
 * steps on restricted works hidden from anonymous readers, answers given only to editors and
 * checked on the server; glossary entries, search in Chinese, pinyin and English, examples
 * found in annotations, author rules, and the all-or-nothing import.
 */
#include "relic_fixture.h"
#include "canvas_fixture.h"

#include <jansson.h>

static const dq_actor_t educator = {"eddie", DQ_ROLE_EDUCATOR};
static const dq_actor_t educator2 = {"erin", DQ_ROLE_EDUCATOR};
static const dq_actor_t admin = {"ada", DQ_ROLE_ADMIN};

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s ? s : "", 0, &je);
    if (!j)
        fprintf(stderr, "bad json: %s in %s\n", je.text, s ? s : "(null)");
    DQ_REQUIRE(j);
    return j;
}

static int64_t audit_rows(dq_catalog_t *c)
{
    int64_t n = -1;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_audit_count(c, &n, &err) == 0);
    return n;
}

/* A lesson over relics a and b: a view with a choice question, a comparison, a view of the
 * detail canvas with a find question. */
static char *lesson_doc(const char *a, const char *b, int pub)
{
    return dq_xasprintf(
        "{\"title\":{\"zh\":\"看山\",\"en\":\"Looking at mountains\"},\"public\":%s,"
        "\"summary\":{\"en\":\"Two works, three steps\"},\"steps\":["
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"text\":{\"zh\":\"先看全卷\"},"
        " \"question\":{\"type\":\"choice\",\"prompt\":{\"en\":\"Which way does it read?\"},"
        " \"choices\":[{\"en\":\"left to right\"},{\"en\":\"right to left\"}],\"answer\":1}},"
        "{\"kind\":\"compare\",\"a\":{\"relic_id\":\"%s\",\"canvas\":1,\"xywh\":[0,0,100,100]},"
        " \"b\":{\"relic_id\":\"%s\",\"canvas\":2,\"xywh\":[10,10,50,50]},"
        " \"title\":{\"en\":\"Two rocks\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"canvas\":2,\"xywh\":[0,0,800,600],"
        " \"layer\":\"detail\","
        " \"question\":{\"type\":\"find\",\"prompt\":{\"zh\":\"船在哪里？\"},"
        " \"target\":{\"xywh\":[100,200,50,40]}}}]}",
        pub ? "true" : "false", a, a, b, b);
}

static char *create_lesson(dq_catalog_t *c, const dq_actor_t *who, const char *json)
{
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int r = dq_catalog_lesson_create(c, json, strlen(json), who, &out, &fe, &err);
    if (r < 0)
        fprintf(stderr, "lesson create: %s %s\n", err.msg, fe.data ? fe.data : "");
    DQ_REQUIRE(r == 0);
    json_t *j = parse(out.data);
    char *id = dq_xstrdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    return id;
}

DQ_TEST(educator_role)
{
    dq_catalog_t *c = fx_open();
    dq_err_t err = {0};
    DQ_CHECK_STR(dq_catalog_role_name(DQ_ROLE_EDUCATOR), "educator");
    DQ_CHECK_INT(dq_catalog_role_parse("educator"), DQ_ROLE_EDUCATOR);
    /* below conservator, above viewer: it gains nothing a conservator may do to condition data */
    DQ_CHECK(DQ_ROLE_VIEWER < DQ_ROLE_EDUCATOR && DQ_ROLE_EDUCATOR < DQ_ROLE_CONSERVATOR);
    /* stored and read back (migration 13 widened the users table's role check) */
    DQ_REQUIRE(dq_catalog_user_add(c, "Eddie", DQ_ROLE_EDUCATOR, "long enough pw", &admin, &err) ==
               0);
    dq_user_t u;
    DQ_REQUIRE(dq_catalog_user_get(c, "eddie", &u, &err) == 0);
    DQ_CHECK_INT(u.role, DQ_ROLE_EDUCATOR);
    int v = 0;
    DQ_REQUIRE(dq_catalog_schema_version(c, &v, &err) == 0);
    DQ_CHECK(v >= 13);
    /* an educator never edits records */
    dq_buf_t out = {0}, fe = {0};
    const char *rec = "{\"accession\":\"E-1\",\"title\":{\"en\":\"x\"}}";
    DQ_CHECK(dq_catalog_relic_create(c, rec, strlen(rec), &educator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    char *relic = fx_scroll(c, 0);
    DQ_CHECK(dq_catalog_relic_delete(c, relic, -1, &educator, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    /* but writes tours and (their own) annotations */
    const char *tour = "{\"title\":{\"en\":\"t\"},\"public\":true,"
                       "\"stops\":[{\"canvas\":1,\"xywh\":[0,0,10,10]}]}";
    DQ_CHECK(dq_catalog_tour_create(c, relic, tour, strlen(tour), &educator, &out, &fe, &err) ==
             0);
    const char *anno = "{\"canvas\":1,\"xywh\":[1,1,5,5],\"motivation\":\"describing\","
                       "\"bodies\":[{\"value\":\"a pine\",\"language\":\"en\"}]}";
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_anno_create(c, relic, anno, strlen(anno), &educator, &out, &fe, &err) ==
               0);
    json_t *j = parse(out.data);
    int64_t aid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    DQ_CHECK(dq_catalog_anno_delete(c, relic, aid, -1, &educator2, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_anno_delete(c, relic, aid, -1, &educator, &err) == 0);
    /* a viewer writes none of it; anonymous is asked to sign in */
    DQ_CHECK(dq_catalog_tour_create(c, relic, tour, strlen(tour), &viewer, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    char *doc = lesson_doc(relic, relic, 1);
    DQ_CHECK(dq_catalog_lesson_create(c, doc, strlen(doc), &viewer, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_lesson_create(c, doc, strlen(doc), &anon, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);
    free(doc);
    free(relic);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(lesson_crud_versions_answers)
{
    dq_catalog_t *c = fx_open();
    char *a = fx_scroll(c, 0), *b = fx_scroll(c, 0);
    char *doc = lesson_doc(a, b, 1);
    char *id = create_lesson(c, &educator, doc);
    DQ_CHECK(id[0] == 'l');
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int64_t v = 0;
    /* the author sees answers; the whole-canvas view got its region written out */
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &educator, &out, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    json_t *j = parse(out.data);
    json_t *steps = json_object_get(j, "steps");
    DQ_CHECK_INT(json_array_size(steps), 3);
    json_t *s0 = json_array_get(steps, 0);
    DQ_CHECK_INT(json_integer_value(json_array_get(json_object_get(s0, "xywh"), 2)), 4000);
    DQ_CHECK_INT(json_integer_value(json_object_get(json_object_get(s0, "question"), "answer")), 1);
    json_t *s2 = json_array_get(steps, 2);
    DQ_CHECK_STR(json_string_value(json_object_get(s2, "layer")), "detail");
    json_t *tgt = json_object_get(json_object_get(s2, "question"), "target");
    DQ_CHECK_STR(json_string_value(json_object_get(tgt, "relic_id")), b); /* from the view */
    DQ_CHECK_INT(json_integer_value(json_object_get(tgt, "canvas")), 2);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "author")), "eddie");
    json_decref(j);
    /* a learner does not */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &anon, &out, NULL, &err) == 0);
    j = parse(out.data);
    steps = json_object_get(j, "steps");
    DQ_CHECK(json_object_get(json_object_get(json_array_get(steps, 0), "question"), "answer") ==
             NULL);
    tgt = json_object_get(json_object_get(json_array_get(steps, 2), "question"), "target");
    DQ_CHECK(tgt && json_object_get(tgt, "xywh") == NULL && json_object_get(tgt, "canvas"));
    json_decref(j);
    /* another educator may not change it; stale versions are 412 */
    DQ_CHECK(dq_catalog_lesson_replace(c, id, doc, strlen(doc), -1, &educator2, &out, &fe, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_lesson_replace(c, id, doc, strlen(doc), 7, &educator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    char *priv = lesson_doc(b, a, 0);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_replace(c, id, priv, strlen(priv), 1, &educator, &out, &fe,
                                         &err) == 0);
    j = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 2);
    json_decref(j);
    /* private: the author and admin only */
    DQ_CHECK(dq_catalog_lesson_get(c, id, &anon, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_lesson_get(c, id, &educator2, &out, NULL, &err) < 0);
    DQ_CHECK(dq_catalog_lesson_get(c, id, &admin, &out, NULL, &err) == 0);
    /* the list: visible ones, filtered by work, with the works each names */
    char *id2 = create_lesson(c, &educator2, doc);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_list(c, NULL, &anon, &out, &err) == 0);
    j = parse(out.data);
    json_t *items = json_object_get(j, "items");
    DQ_CHECK_INT(json_array_size(items), 1);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "id")), id2);
    DQ_CHECK_INT(json_integer_value(json_object_get(json_array_get(items, 0), "n_steps")), 3);
    DQ_CHECK_INT(json_array_size(json_object_get(json_array_get(items, 0), "works")), 2);
    json_decref(j);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_list(c, a, &educator, &out, &err) == 0);
    j = parse(out.data);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_list(c, "no-such-relic", &educator, &out, &err) == 0);
    DQ_CHECK_STR(out.data, "{\"items\":[]}");
    /* delete: author (or admin), stale 412, then 404; audit create, replace, delete */
    DQ_CHECK(dq_catalog_lesson_delete(c, id, -1, &educator2, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404); /* private: as absent to others as to anonymous */
    DQ_CHECK(dq_catalog_lesson_delete(c, id2, -1, &educator, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403); /* public, but not theirs */
    DQ_CHECK(dq_catalog_lesson_delete(c, id, 1, &educator, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(dq_catalog_lesson_delete(c, id, 2, &educator, &err) == 0);
    DQ_CHECK(dq_catalog_lesson_get(c, id, &admin, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_lesson_delete(c, id2, -1, &admin, &err) == 0);
    dq_buf_reset(&out);
    char *obj = dq_xasprintf("lesson/%s", id);
    DQ_REQUIRE(dq_catalog_audit_list(c, obj, 50, NULL, &out, &err) == 0);
    j = parse(out.data);
    items = json_object_get(j, "items");
    DQ_CHECK_INT(json_array_size(items), 3);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "action")),
                 "lesson.delete");
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(items, 2), "who")), "eddie");
    json_decref(j);
    /* ids that are not lessons */
    DQ_CHECK(dq_catalog_lesson_get(c, "t1", &admin, &out, NULL, &err) < 0);
    DQ_CHECK(dq_catalog_lesson_get(c, "l", &admin, &out, NULL, &err) < 0);
    DQ_CHECK(dq_catalog_lesson_get(c, "l99999999999999999999", &admin, &out, NULL, &err) < 0);
    free(obj);
    free(priv);
    free(id2);
    free(id);
    free(doc);
    free(a);
    free(b);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(lesson_validation_changes_nothing)
{
    dq_catalog_t *c = fx_open();
    char *a = fx_scroll(c, 0);
    char *hidden = fx_scroll(c, 1);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int64_t before = audit_rows(c);
    char *bad = dq_xasprintf(
        "{\"title\":{\"fr\":\"x\"},\"colour\":1,\"public\":\"yes\",\"steps\":["
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"canvas\":3},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"xywh\":[3990,0,20,10]},"
        "{\"kind\":\"compare\",\"a\":{\"relic_id\":\"%s\",\"canvas\":1,\"xywh\":[0,0,1,1]}},"
        "{\"kind\":\"tour\",\"tour_id\":\"t999\"},"
        "{\"kind\":\"dance\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"layer\":\"xray\","
        " \"question\":{\"type\":\"choice\",\"prompt\":{\"en\":\"?\"},"
        " \"choices\":[{\"en\":\"only one\"}],\"answer\":3}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"question\":{\"type\":\"find\","
        " \"prompt\":{\"en\":\"where?\"},\"target\":{\"xywh\":[0,0,9000,1]}}}]}",
        a, a, a, a, hidden, a);
    DQ_CHECK(dq_catalog_lesson_create(c, bad, strlen(bad), &educator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    json_t *j = parse(fe.data);
    const char *want[] = {"title.fr",
                          "colour",
                          "public",
                          "steps[0].canvas",
                          "steps[1].xywh",
                          "steps[2].b",
                          "steps[3].tour_id",
                          "steps[4].kind",
                          "steps[5].layer",
                          "steps[5].question.choices",
                          "steps[5].question.answer",
                          "steps[7].question.target.xywh"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(want); i++) {
        if (!json_object_get(j, want[i]))
            fprintf(stderr, "missing field error %s in %s\n", want[i], fe.data);
        DQ_CHECK(json_object_get(j, want[i]) != NULL);
    }
    /* an educator reads restricted works (viewer and above do), so step 6 is fine */
    DQ_CHECK(json_object_get(j, "steps[6].relic_id") == NULL);
    json_decref(j);
    /* not JSON, not an object, no steps */
    const char *junk[] = {"", "[1]", "{\"title\":{\"en\":\"x\"}", "{\"title\":{\"en\":\"x\"}}",
                          "{\"title\":{\"en\":\"x\"},\"steps\":[]}"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(junk); i++) {
        DQ_CHECK(dq_catalog_lesson_create(c, junk[i], strlen(junk[i]), &educator, &out, NULL,
                                          &err) < 0);
        DQ_CHECK(err.http_status == 400 || err.http_status == 422);
    }
    /* nothing was written */
    DQ_CHECK_INT(audit_rows(c), before);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_list(c, NULL, &admin, &out, &err) == 0);
    DQ_CHECK_STR(out.data, "{\"items\":[]}");
    /* a bad replace leaves the stored lesson as it was */
    char *good = lesson_doc(a, a, 1);
    char *id = create_lesson(c, &educator, good);
    before = audit_rows(c);
    DQ_CHECK(dq_catalog_lesson_replace(c, id, bad, strlen(bad), 1, &educator, &out, &fe, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 422);
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &educator, NULL, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    DQ_CHECK_INT(audit_rows(c), before);
    free(id);
    free(good);
    free(bad);
    free(a);
    free(hidden);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(lesson_hidden_steps_and_checks)
{
    dq_catalog_t *c = fx_open();
    char *pub = fx_scroll(c, 0), *secret = fx_scroll(c, 1);
    char *doc = lesson_doc(pub, secret, 1);
    char *id = create_lesson(c, &educator, doc);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    /* anonymous: steps on the restricted work are hidden, the others not */
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &anon, &out, NULL, &err) == 0);
    json_t *j = parse(out.data);
    json_t *steps = json_object_get(j, "steps");
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 0), "kind")), "view");
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 1), "kind")), "hidden");
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 2), "kind")), "hidden");
    DQ_CHECK(json_object_get(json_array_get(steps, 1), "b") == NULL);
    json_decref(j);
    /* choice: right, wrong, malformed */
    int ok = -1;
    const char *right = "{\"step\":0,\"choice\":1}", *wrong = "{\"step\":0,\"choice\":0}";
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_check(c, id, 0, right, strlen(right), &anon, &out, &ok, &err) ==
               0);
    DQ_CHECK_INT(ok, 1);
    j = parse(out.data);
    DQ_CHECK(json_is_true(json_object_get(j, "correct")));
    DQ_CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "answer"), "choice")), 1);
    json_decref(j);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_check(c, id, 0, wrong, strlen(wrong), &anon, &out, &ok, &err) ==
               0);
    DQ_CHECK_INT(ok, 0);
    const char *mal = "{\"choice\":\"one\"}";
    DQ_CHECK(dq_catalog_lesson_check(c, id, 0, mal, strlen(mal), &anon, &out, &ok, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    /* no question at step 1; no step 9 */
    DQ_CHECK(dq_catalog_lesson_check(c, id, 1, right, strlen(right), &anon, &out, &ok, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_lesson_check(c, id, 9, right, strlen(right), &anon, &out, &ok, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    /* find on the restricted work: anonymous cannot answer it; a viewer can */
    const char *in = "{\"point\":[120,230]}", *edge = "{\"point\":[150,240]}",
               *out_pt = "{\"point\":[151,230]}", *other = "{\"point\":[120,230],\"canvas\":1}";
    DQ_CHECK(dq_catalog_lesson_check(c, id, 2, in, strlen(in), &anon, &out, &ok, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_check(c, id, 2, in, strlen(in), &viewer, &out, &ok, &err) == 0);
    DQ_CHECK_INT(ok, 1);
    j = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_array_get(
                     json_object_get(json_object_get(j, "answer"), "xywh"), 0)),
                 100);
    json_decref(j);
    DQ_REQUIRE(dq_catalog_lesson_check(c, id, 2, edge, strlen(edge), &viewer, &out, &ok, &err) ==
               0);
    DQ_CHECK_INT(ok, 1);
    DQ_REQUIRE(dq_catalog_lesson_check(c, id, 2, out_pt, strlen(out_pt), &viewer, &out, &ok,
                                       &err) == 0);
    DQ_CHECK_INT(ok, 0);
    DQ_REQUIRE(dq_catalog_lesson_check(c, id, 2, other, strlen(other), &viewer, &out, &ok, &err) ==
               0);
    DQ_CHECK_INT(ok, 0);
    DQ_CHECK(dq_catalog_lesson_check(c, id, 2, right, strlen(right), &viewer, &out, &ok, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 400);
    free(id);
    free(doc);
    free(pub);
    free(secret);
    dq_buf_free(&out);
    dq_catalog_close(c);
}

DQ_TEST(lesson_tour_step)
{
    dq_catalog_t *c = fx_open();
    char *a = fx_scroll(c, 0);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    const char *tour = "{\"title\":{\"en\":\"t\"},\"public\":true,\"stops\":["
                       "{\"canvas\":1,\"xywh\":[0,0,10,10]},{\"canvas\":2,\"xywh\":[5,6,7,8]}]}";
    DQ_REQUIRE(dq_catalog_tour_create(c, a, tour, strlen(tour), &educator, &out, &fe, &err) == 0);
    json_t *t = parse(out.data);
    char *doc = dq_xasprintf("{\"title\":{\"en\":\"via a tour\"},\"public\":true,\"steps\":["
                             "{\"kind\":\"tour\",\"tour_id\":\"%s\",\"stop\":1}]}",
                             json_string_value(json_object_get(t, "id")));
    char *id = create_lesson(c, &educator2, doc);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &anon, &out, NULL, &err) == 0);
    json_t *j = parse(out.data);
    json_t *s = json_array_get(json_object_get(j, "steps"), 0);
    DQ_CHECK_STR(json_string_value(json_object_get(s, "relic_id")), a);
    DQ_CHECK_INT(json_integer_value(json_object_get(s, "canvas")), 2);
    DQ_CHECK_INT(json_integer_value(json_array_get(json_object_get(s, "xywh"), 3)), 8);
    json_decref(j);
    /* a stop that the tour does not have */
    char *bad = dq_xasprintf("{\"title\":{\"en\":\"x\"},\"steps\":[{\"kind\":\"tour\","
                             "\"tour_id\":\"%s\",\"stop\":2}]}",
                             json_string_value(json_object_get(t, "id")));
    dq_buf_reset(&fe);
    DQ_CHECK(dq_catalog_lesson_create(c, bad, strlen(bad), &educator, &out, &fe, &err) < 0);
    DQ_CHECK(strstr(fe.data, "steps[0].stop") != NULL);
    free(bad);
    json_decref(t);
    free(id);
    free(doc);
    free(a);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

/* ---------------------------------------------------------------- spectral and condition steps */

static const dq_actor_t conservator = {"connie", DQ_ROLE_CONSERVATOR};

/* A capture of relic with bands in 450-940 nm (ir 1: with r940) and a stored pigment map. */
static void fx_capture(dq_catalog_t *c, const char *relic, const char *id, int ir)
{
    char *doc = dq_xasprintf(
        "{\"bands\":[{\"name\":\"r450\",\"kind\":\"reflectance\",\"nm\":450,\"channels\":1},"
        "{\"name\":\"r550\",\"kind\":\"reflectance\",\"nm\":550,\"channels\":1},"
        "{\"name\":\"r650\",\"kind\":\"reflectance\",\"nm\":650,\"channels\":1}%s]}",
        ir ? ",{\"name\":\"r940\",\"kind\":\"reflectance\",\"nm\":940,\"channels\":1}" : "");
    dq_capture_t cap = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_capture_put(c, relic, id, 2000, 500, doc, 0, &conservator, &cap, &err) ==
               0);
    dq_capture_free(&cap);
    DQ_REQUIRE(dq_catalog_capture_layer_put(c, id, "pigments", "pigments",
                                            "{\"file\":\"pigments.tif\"}", &conservator,
                                            &err) == 0);
    free(doc);
}

/* A condition record of relic; returns its id (new). */
static char *fx_condition(dq_catalog_t *c, const char *relic, const char *date, int published,
                          const char *image)
{
    char *doc = dq_xasprintf(
        "{\"date\":\"%s\",\"examiner\":\"Li Na\",\"overall\":\"fair\",\"published\":%s,"
        "\"images\":[\"%s\"],\"note\":\"flaking in the lower left\","
        "\"observations\":[{\"type\":\"flaking\",\"severity\":\"severe\"}]}",
        date, published ? "true" : "false", image);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int r = dq_catalog_condition_create(c, relic, doc, strlen(doc), &conservator, &out, &fe, &err);
    if (r < 0)
        fprintf(stderr, "condition create: %s %s\n", err.msg, fe.data ? fe.data : "");
    DQ_REQUIRE(r == 0);
    json_t *j = parse(out.data);
    char *id = dq_xstrdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    free(doc);
    return id;
}

DQ_TEST(lesson_spectral_and_condition_steps)
{
    dq_catalog_t *c = fx_open();
    char *a = fx_scroll(c, 0), *b = fx_scroll(c, 0);
    fx_image(c, "cond-2016", 2000, 500);
    fx_image(c, "cond-2026", 2000, 500);
    fx_capture(c, a, "cap-a", 1);
    fx_capture(c, b, "cap-b", 0);
    char *c16 = fx_condition(c, a, "2016-05-17", 1, "cond-2016");
    char *c26 = fx_condition(c, a, "2026-04-09", 0, "cond-2026");
    char *c16b = fx_condition(c, a, "2016-11-02", 1, "cond-2016");
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    char *doc = dq_xasprintf(
        "{\"title\":{\"en\":\"Beyond the visible\"},\"public\":true,\"steps\":["
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-a\","
        "\"layer\":\"irfc\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"xywh\":[0,0,400,100],"
        " \"spectral\":{\"capture\":\"cap-a\",\"layer\":\"rgb-r940-r650-r450\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-a\","
        "\"layer\":\"pigments\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition_date\":\"2016-05-17\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition\":\"%s\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"canvas\":2,\"layer\":\"detail\"}]}",
        a, a, a, a, a, c26, a);
    char *id = create_lesson(c, &educator, doc);
    /* the author: canonical references, both records with their summaries */
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &educator, &out, NULL, &err) == 0);
    json_t *j = parse(out.data), *st = json_object_get(j, "steps");
    json_t *sp = json_object_get(json_array_get(st, 1), "spectral");
    DQ_CHECK_STR(json_string_value(json_object_get(sp, "capture")), "cap-a");
    DQ_CHECK_STR(json_string_value(json_object_get(sp, "layer")), "rgb-r940-r650-r450");
    json_t *s3 = json_array_get(st, 3), *s4 = json_array_get(st, 4);
    DQ_CHECK_STR(json_string_value(json_object_get(s3, "condition")), c16);
    DQ_CHECK_STR(json_string_value(json_object_get(s4, "condition_date")), "2026-04-09");
    json_t *r3 = json_object_get(s3, "condition_record");
    DQ_CHECK_STR(json_string_value(json_object_get(r3, "image")), "cond-2016");
    DQ_CHECK_STR(json_string_value(json_object_get(r3, "overall")), "fair");
    DQ_CHECK_STR(json_string_value(json_object_get(
                     json_array_get(json_object_get(r3, "observations"), 0), "type")),
                 "flaking");
    DQ_CHECK(json_is_false(json_object_get(json_object_get(s4, "condition_record"),
                                           "published")));
    json_decref(j);
    /* an anonymous learner: the published record with its photograph; of the unpublished one,
     * nothing at all (not its id, its date or its photograph) */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &anon, &out, NULL, &err) == 0);
    j = parse(out.data);
    st = json_object_get(j, "steps");
    DQ_CHECK_STR(json_string_value(json_object_get(
                     json_object_get(json_array_get(st, 3), "condition_record"), "image")),
                 "cond-2016");
    s4 = json_array_get(st, 4);
    DQ_CHECK_STR(json_string_value(json_object_get(s4, "kind")), "view");
    DQ_CHECK(json_object_get(s4, "condition") == NULL);
    DQ_CHECK(json_object_get(s4, "condition_date") == NULL);
    DQ_CHECK(json_object_get(s4, "condition_record") == NULL);
    DQ_CHECK(strstr(out.data, "2026-04-09") == NULL && strstr(out.data, "cond-2026") == NULL);
    json_decref(j);
    /* a viewer sees every record (the rule of condition records) */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &viewer, &out, NULL, &err) == 0);
    DQ_CHECK(strstr(out.data, "cond-2026") != NULL);
    /* what cannot be, with the field that says why; nothing is written */
    int64_t before = audit_rows(c);
    char *bad = dq_xasprintf(
        "{\"title\":{\"en\":\"x\"},\"steps\":["
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"nope\",\"layer\":\"irfc\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-b\",\"layer\":\"irfc\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-a\",\"layer\":\"xray\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-a\",\"layer\":\"rgb-r650-r450\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-b\",\"layer\":\"irfc\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"canvas\":2,\"spectral\":{\"capture\":\"cap-a\",\"layer\":\"r450\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition_date\":\"2016\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition_date\":\"2019-01-01\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition\":\"c999999\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition\":\"%s\",\"condition_date\":\"2026-04-09\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"layer\":\"main\",\"spectral\":{\"capture\":\"cap-a\",\"layer\":\"irfc\"}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition\":\"%s\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"spectral\":{\"capture\":\"cap-a\",\"layer\":\"uvf\",\"x\":1}},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition_date\":\"May\"}]}",
        a, a, a, a, b, a, a, a, a, a, c16, a, b, c16, a, a);
    DQ_CHECK(dq_catalog_lesson_create(c, bad, strlen(bad), &educator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    j = parse(fe.data);
    const char *want[] = {"steps[0].spectral.capture", "steps[1].spectral.capture",
                          "steps[2].spectral.layer",   "steps[3].spectral.layer",
                          "steps[4].spectral.layer",   "steps[5].spectral.capture",
                          "steps[6].condition_date",   "steps[7].condition_date",
                          "steps[8].condition",        "steps[9].condition_date",
                          "steps[10].spectral",        "steps[11].condition",
                          "steps[12].spectral.x",      "steps[12].spectral.layer",
                          "steps[13].condition_date"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(want); i++) {
        if (!json_object_get(j, want[i]))
            fprintf(stderr, "missing field error %s in %s\n", want[i], fe.data);
        DQ_CHECK(json_object_get(j, want[i]) != NULL);
    }
    DQ_CHECK(strstr(json_string_value(json_object_get(j, "steps[1].spectral.capture")),
                    "another work") != NULL);
    DQ_CHECK(strstr(json_string_value(json_object_get(j, "steps[6].condition_date")),
                    "several") != NULL);
    DQ_CHECK_INT((int)json_object_size(j), (int)DQ_ARRAY_LEN(want));
    json_decref(j);
    DQ_CHECK_INT(audit_rows(c), before);
    /* a record deleted after the lesson was written: learners see the plain view, the author
     * keeps the reference to mend it */
    DQ_REQUIRE(dq_catalog_condition_delete(c, a, c16, -1, &conservator, &err) == 0);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &anon, &out, NULL, &err) == 0);
    j = parse(out.data);
    s3 = json_array_get(json_object_get(j, "steps"), 3);
    DQ_CHECK(json_object_get(s3, "condition") == NULL && json_object_get(s3, "condition_record") == NULL);
    json_decref(j);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_lesson_get(c, id, &educator, &out, NULL, &err) == 0);
    j = parse(out.data);
    s3 = json_array_get(json_object_get(j, "steps"), 3);
    DQ_CHECK_STR(json_string_value(json_object_get(s3, "condition")), c16);
    DQ_CHECK(json_object_get(s3, "condition_record") == NULL);
    json_decref(j);
    free(bad);
    free(doc);
    free(id);
    free(c16);
    free(c26);
    free(c16b);
    free(a);
    free(b);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

static const char *pine =
    "{\"key\":\"pine\",\"category\":\"motif\",\"term\":{\"zh\":\"松\",\"en\":\"pine\"},"
    "\"pinyin\":\"song\",\"aliases\":[\"青松\",\"pine tree\"],"
    "\"definition\":{\"zh\":\"岁寒不凋，喻君子之坚贞。\",\"en\":\"Evergreen through winter: the "
    "constancy of the gentleman.\"},\"see_also\":[\"crane\"]}";

DQ_TEST(glossary_crud_search_examples)
{
    dq_catalog_t *c = fx_open();
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_gloss_create(c, pine, strlen(pine), &viewer, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_REQUIRE(dq_catalog_gloss_create(c, pine, strlen(pine), &educator, &out, &fe, &err) == 0);
    json_t *j = parse(out.data);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "key")), "pine");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 1);
    json_decref(j);
    DQ_CHECK(dq_catalog_gloss_create(c, pine, strlen(pine), &educator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    /* search: Chinese, alias, pinyin, English in the definition */
    const char *qs[] = {"松", "青松", "song", "constancy", "pine"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(qs); i++) {
        dq_buf_reset(&out);
        DQ_REQUIRE(dq_catalog_gloss_search(c, qs[i], 0, 20, &out, &err) == 0);
        j = parse(out.data);
        if (json_integer_value(json_object_get(j, "total")) != 1)
            fprintf(stderr, "query %s: %s\n", qs[i], out.data);
        DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
        json_decref(j);
    }
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_gloss_search(c, "plum", 0, 20, &out, &err) == 0);
    DQ_CHECK(strstr(out.data, "\"total\":0") != NULL);
    DQ_CHECK(dq_catalog_gloss_search(c, NULL, 0, 0, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    /* examples: annotations that use the term, on works the reader may see */
    char *pub = fx_scroll(c, 0), *secret = fx_scroll(c, 1);
    const char *a1 = "{\"canvas\":1,\"xywh\":[10,10,50,80],\"motivation\":\"describing\","
                     "\"bodies\":[{\"value\":\"一株青松立于坡上\",\"language\":\"zh\"}]}";
    const char *a2 = "{\"canvas\":2,\"xywh\":[1,1,5,5],\"motivation\":\"describing\","
                     "\"bodies\":[{\"value\":\"a pine by the hut\",\"language\":\"en\"}]}";
    const char *a3 = "{\"canvas\":1,\"xywh\":[1,1,5,5],\"motivation\":\"describing\","
                     "\"bodies\":[{\"value\":\"a boat\",\"language\":\"en\"}]}";
    DQ_REQUIRE(dq_catalog_anno_create(c, pub, a1, strlen(a1), &educator, NULL, NULL, &err) == 0);
    DQ_REQUIRE(dq_catalog_anno_create(c, secret, a2, strlen(a2), &educator, NULL, NULL, &err) ==
               0);
    DQ_REQUIRE(dq_catalog_anno_create(c, pub, a3, strlen(a3), &educator, NULL, NULL, &err) == 0);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_gloss_get(c, "pine", &anon, &out, NULL, &err) == 0);
    j = parse(out.data);
    json_t *ex = json_object_get(j, "examples");
    DQ_CHECK_INT(json_array_size(ex), 1);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(ex, 0), "relic_id")), pub);
    json_decref(j);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_gloss_get(c, "pine", &viewer, &out, NULL, &err) == 0);
    j = parse(out.data);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "examples")), 2);
    json_decref(j);
    /* another educator may not change the entry; a curator may; key never changes */
    DQ_CHECK(dq_catalog_gloss_replace(c, "pine", pine, strlen(pine), -1, &educator2, &out, &fe,
                                      &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_gloss_replace(c, "pine", pine, strlen(pine), 4, &curator, &out, &fe, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(dq_catalog_gloss_replace(c, "pine", pine, strlen(pine), 1, &curator, &out, &fe,
                                        &err) == 0);
    const char *renamed = "{\"key\":\"pines\",\"category\":\"motif\",\"term\":{\"zh\":\"松\","
                          "\"en\":\"pine\"},\"definition\":{\"en\":\"x\"}}";
    dq_buf_reset(&fe);
    DQ_CHECK(dq_catalog_gloss_replace(c, "pine", renamed, strlen(renamed), -1, &curator, &out, &fe,
                                      &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    /* validation */
    const char *bad = "{\"key\":\"Pine Tree\",\"category\":\"tree\",\"term\":{\"zh\":\"松\"},"
                      "\"aliases\":[\"a\\nb\"],\"see_also\":[\"X\"],\"colour\":1}";
    dq_buf_reset(&fe);
    DQ_CHECK(dq_catalog_gloss_create(c, bad, strlen(bad), &educator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    j = parse(fe.data);
    const char *want[] = {"key", "category", "term.en", "definition", "aliases[0]", "see_also[0]",
                          "colour"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(want); i++)
        DQ_CHECK(json_object_get(j, want[i]) != NULL);
    json_decref(j);
    /* delete */
    DQ_CHECK(dq_catalog_gloss_delete(c, "pine", -1, &educator2, &err) < 0);
    DQ_REQUIRE(dq_catalog_gloss_delete(c, "pine", 2, &educator, &err) == 0);
    DQ_CHECK(dq_catalog_gloss_get(c, "pine", &anon, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_gloss_get(c, "../x", &anon, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    free(pub);
    free(secret);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(glossary_import_all_or_nothing)
{
    dq_catalog_t *c = fx_open();
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    char *two = dq_xasprintf("[%s,{\"key\":\"crane\",\"category\":\"motif\",\"term\":{\"zh\":"
                             "\"鹤\",\"en\":\"crane\"},\"definition\":{\"en\":\"long life\"}}]",
                             pine);
    char *broken = dq_xasprintf("[%s,{\"key\":\"crane\",\"category\":\"motif\",\"term\":{\"zh\":"
                                "\"鹤\"},\"definition\":{\"en\":\"long life\"}}]",
                                pine);
    int created = -1, updated = -1;
    int64_t before = audit_rows(c);
    DQ_CHECK(dq_catalog_gloss_import(c, two, strlen(two), &educator, &created, &updated, &fe,
                                     &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_gloss_import(c, broken, strlen(broken), &admin, &created, &updated, &fe,
                                     &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    DQ_CHECK(strstr(fe.data, "[1].term.en") != NULL);
    DQ_CHECK_INT(audit_rows(c), before);
    DQ_REQUIRE(dq_catalog_gloss_search(c, NULL, 0, 100, &out, &err) == 0);
    DQ_CHECK(strstr(out.data, "\"total\":0") != NULL);
    DQ_REQUIRE(dq_catalog_gloss_import(c, two, strlen(two), &admin, &created, &updated, &fe,
                                       &err) == 0);
    DQ_CHECK_INT(created, 2);
    DQ_CHECK_INT(updated, 0);
    /* again: nothing to do */
    DQ_REQUIRE(dq_catalog_gloss_import(c, two, strlen(two), &admin, &created, &updated, &fe,
                                       &err) == 0);
    DQ_CHECK_INT(created, 0);
    DQ_CHECK_INT(updated, 0);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_gloss_search(c, "", 0, 100, &out, &err) == 0);
    json_t *j = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 2);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0),
                                                   "key")),
                 "crane");
    json_t *all = json_object_get(j, "items");
    /* one page further (the paging shared with annotations, session 25): total is all, the
     * page the second entry alone */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_gloss_search(c, NULL, 1, 1, &out, &err) == 0);
    json_t *p2 = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_object_get(p2, "total")), 2);
    DQ_CHECK_INT(json_array_size(json_object_get(p2, "items")), 1);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(p2, "items"), 0),
                                                   "key")),
                 json_string_value(json_object_get(json_array_get(all, 1), "key")));
    json_decref(p2);
    json_decref(j);
    const char *dup = "[{\"key\":\"a\",\"category\":\"motif\",\"term\":{\"zh\":\"甲\",\"en\":"
                      "\"a\"},\"definition\":{\"en\":\"a\"}},{\"key\":\"a\",\"category\":"
                      "\"motif\",\"term\":{\"zh\":\"甲\",\"en\":\"a\"},\"definition\":{\"en\":"
                      "\"b\"}}]";
    dq_buf_reset(&fe);
    DQ_CHECK(dq_catalog_gloss_import(c, dup, strlen(dup), &admin, &created, &updated, &fe, &err) <
             0);
    DQ_CHECK(strstr(fe.data, "[1].key") != NULL);
    DQ_CHECK(dq_catalog_gloss_import(c, "{}", 2, &admin, &created, &updated, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    free(two);
    free(broken);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}
