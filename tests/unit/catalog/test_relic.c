/*
 * test_relic.c: relic records through the public catalog API on a real SQLite catalog:
 * create/get/replace/patch/delete with versions (412 on a stale one), validation (422 with
 * field paths), duplicate accession (409), roles (403), restricted records hidden from
 * anonymous callers, the audit trail with changed fields, image links, vocabularies, counts.
 */
#include "relic_fixture.h"

#include <jansson.h>

static const char *qingming =
    "{\"accession\":\"故00005681\",\"title\":{\"zh\":\"清明上河图\",\"en\":\"Along the River "
    "During the Qingming Festival\",\"pinyin\":\"Qīngmíng Shànghé Tú\"},"
    "\"creators\":[{\"name\":{\"zh\":\"张择端\",\"en\":\"Zhang Zeduan\"},\"dates\":\"1085–1145\","
    "\"role\":\"artist\"}],\"dynasty\":\"northern_song\",\"date_text\":\"early 12th century\","
    "\"year_from\":1100,\"year_to\":1125,\"object_type\":\"handscroll\","
    "\"subject\":[\"landscape\",\"figure\"],\"medium\":{\"zh\":\"绢本设色\",\"en\":\"ink and "
    "colour on "
    "silk\"},\"dimensions_cm\":{\"height\":24.8,\"width\":528.7},\"restricted\":false}";

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fprintf(stderr, "bad json: %s in %s\n", je.text, s);
    DQ_REQUIRE(j);
    return j;
}

DQ_TEST(create_get_roundtrip)
{
    dq_catalog_t *c = fx_open();
    char *id = fx_create(c, qingming);
    DQ_CHECK(strncmp(id, "dq-", 3) == 0);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_relic_get(c, id, &anon, &out, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    json_t *d = parse(out.data);
    DQ_CHECK_STR(json_string_value(json_object_get(d, "id")), id);
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "title"), "zh")),
                 "清明上河图");
    DQ_CHECK_INT(json_integer_value(json_object_get(d, "version")), 1);
    DQ_CHECK(json_object_get(d, "created_at") && json_object_get(d, "updated_at"));
    DQ_CHECK(json_real_value(json_object_get(json_object_get(d, "dimensions_cm"), "width")) ==
             528.7);
    json_decref(d);
    /* a client-chosen id */
    char *id2 =
        fx_create(c, "{\"id\":\"qingming-copy\",\"accession\":\"X1\",\"title\":{\"en\":\"Copy\"}}");
    DQ_CHECK_STR(id2, "qingming-copy");
    /* unknown id */
    DQ_CHECK(dq_catalog_relic_get(c, "nope", &anon, &out, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    free(id);
    free(id2);
    dq_buf_free(&out);
    dq_catalog_close(c);
}

DQ_TEST(versions_replace_patch_delete)
{
    dq_catalog_t *c = fx_open();
    char *id = fx_create(c, qingming);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    const char *rep = "{\"accession\":\"故00005681\",\"title\":{\"zh\":\"清明上河图卷\"}}";
    DQ_CHECK(dq_catalog_relic_replace(c, id, rep, strlen(rep), 7, &curator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(dq_catalog_relic_replace(c, id, rep, strlen(rep), 1, &curator, &out, &fe, &err) ==
               0);
    json_t *d = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_object_get(d, "version")), 2);
    DQ_CHECK(json_object_get(d, "creators") == NULL); /* replace drops what it does not say */
    json_decref(d);
    dq_buf_reset(&out);
    /* RFC 7396: null deletes, objects merge, other values replace */
    const char *patch = "{\"title\":{\"en\":\"Qingming scroll\"},\"dynasty\":\"song\","
                        "\"subject\":[\"landscape\"]}";
    DQ_CHECK(dq_catalog_relic_patch(c, id, patch, strlen(patch), 1, &curator, &out, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_REQUIRE(dq_catalog_relic_patch(c, id, patch, strlen(patch), 2, &curator, &out, &fe, &err) ==
               0);
    d = parse(out.data);
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "title"), "zh")),
                 "清明上河图卷");
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "title"), "en")),
                 "Qingming scroll");
    DQ_CHECK_INT(json_integer_value(json_object_get(d, "version")), 3);
    json_decref(d);
    dq_buf_reset(&out);
    const char *p2 = "{\"dynasty\":null}";
    DQ_REQUIRE(dq_catalog_relic_patch(c, id, p2, strlen(p2), -1, &curator, &out, &fe, &err) == 0);
    d = parse(out.data);
    DQ_CHECK(json_object_get(d, "dynasty") == NULL);
    json_decref(d);
    /* a patch that changes nothing makes no new version */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_relic_patch(c, id, p2, strlen(p2), 4, &curator, &out, &fe, &err) == 0);
    d = parse(out.data);
    DQ_CHECK_INT(json_integer_value(json_object_get(d, "version")), 4);
    json_decref(d);
    DQ_CHECK(dq_catalog_relic_delete(c, id, 3, &curator, &err) < 0);
    DQ_CHECK_INT(err.http_status, 412);
    DQ_CHECK(dq_catalog_relic_delete(c, id, 4, &curator, &err) == 0);
    DQ_CHECK(dq_catalog_relic_get(c, id, &curator, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_relic_delete(c, id, -1, &curator, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    free(id);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

/* Each bad document names the field path that is wrong. */
DQ_TEST(validation_field_errors)
{
    dq_catalog_t *c = fx_open();
    static const struct {
        const char *doc, *path;
    } cases[] = {
        {"{\"title\":{\"zh\":\"画\"}}", "accession"},
        {"{\"accession\":\"A\"}", "title.zh"},
        {"{\"accession\":\"A\",\"title\":{\"fr\":\"Paysage\"}}", "title.fr"},
        {"{\"accession\":\"A\",\"title\":{\"pinyin\":\"hua\"}}", "title.zh"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"dynasty\":\"atlantis\"}", "dynasty"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"object_type\":\"vase\"}", "object_type"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"subject\":[\"landscape\",\"cats\"]}",
         "subject[1]"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"year_from\":1200,\"year_to\":1100}",
         "year_from"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"dimensions_cm\":{\"height\":-1}}",
         "dimensions_cm.height"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"colour\":\"red\"}", "colour"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"creators\":[{\"name\":{}}]}",
         "creators[0].name.zh"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"seals\":[{\"owner\":\"Q\"}]}",
         "seals[0].reading"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"restricted\":\"no\"}", "restricted"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"a\\u0001b\"}}", "title.en"},
        {"{\"accession\":\"A\",\"title\":{\"en\":\"x\"},\"images\":[{\"image_id\":\"nope\"}]}",
         "images[0].image_id"},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(cases); i++) {
        dq_buf_t out = {0}, fe = {0};
        dq_err_t err = {0};
        DQ_CHECK(dq_catalog_relic_create(c, cases[i].doc, strlen(cases[i].doc), &curator, &out, &fe,
                                         &err) < 0);
        DQ_CHECK_INT(err.http_status, 422);
        json_t *j = fe.data ? json_loads(fe.data, 0, NULL) : NULL;
        if (!json_object_get(j, cases[i].path))
            fprintf(stderr, "    case %zu: expected %s in %s\n", i, cases[i].path,
                    fe.data ? fe.data : "(none)");
        DQ_CHECK(json_object_get(j, cases[i].path) != NULL);
        json_decref(j);
        dq_buf_free(&out);
        dq_buf_free(&fe);
    }
    /* a too-long string and a too-long array */
    dq_buf_t big = {0}, fe = {0};
    dq_err_t err = {0};
    dq_buf_puts(&big, "{\"accession\":\"A\",\"title\":{\"en\":\"");
    for (int i = 0; i < 70000; i++)
        dq_buf_putc(&big, 'x');
    dq_buf_puts(&big, "\"}}");
    DQ_CHECK(dq_catalog_relic_create(c, big.data, big.len, &curator, NULL, &fe, &err) < 0);
    DQ_CHECK_INT(err.http_status, 422);
    DQ_CHECK(fe.data && strstr(fe.data, "title.en"));
    /* not JSON: 400 */
    DQ_CHECK(dq_catalog_relic_create(c, "{", 1, &curator, NULL, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    dq_buf_free(&big);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(duplicate_accession_and_roles)
{
    dq_catalog_t *c = fx_open();
    char *id = fx_create(c, qingming);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_relic_create(c, qingming, strlen(qingming), &curator, &out, NULL, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 409);
    char *dup_id =
        dq_xasprintf("{\"id\":\"%s\",\"accession\":\"other\",\"title\":{\"en\":\"x\"}}", id);
    DQ_CHECK(dq_catalog_relic_create(c, dup_id, strlen(dup_id), &curator, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    /* replacing with another record's accession is a conflict too */
    char *other = fx_create(c, "{\"accession\":\"B2\",\"title\":{\"en\":\"b\"}}");
    const char *steal = "{\"accession\":\"故00005681\",\"title\":{\"en\":\"b\"}}";
    DQ_CHECK(dq_catalog_relic_replace(c, other, steal, strlen(steal), -1, &curator, &out, NULL,
                                      &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    DQ_CHECK(dq_catalog_relic_create(c, qingming, strlen(qingming), &viewer, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_relic_delete(c, id, -1, &anon, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    free(id);
    free(other);
    free(dup_id);
    dq_buf_free(&out);
    dq_catalog_close(c);
}

DQ_TEST(restricted_hidden_from_anonymous)
{
    dq_catalog_t *c = fx_open();
    char *pub =
        fx_create(c, "{\"accession\":\"P1\",\"title\":{\"zh\":\"山水图\"},\"dynasty\":\"ming\"}");
    char *sec =
        fx_create(c, "{\"accession\":\"S1\",\"title\":{\"zh\":\"秘山水\"},\"dynasty\":\"qing\","
                     "\"restricted\":true}");
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_relic_get(c, sec, &anon, &out, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    DQ_CHECK(dq_catalog_relic_get(c, sec, &viewer, &out, NULL, &err) == 0);
    int64_t n = 0, ni = -1;
    DQ_CHECK(dq_catalog_counts(c, &anon, &n, &ni, &err) == 0);
    DQ_CHECK_INT(n, 1);
    DQ_CHECK_INT(ni, 0);
    DQ_CHECK(dq_catalog_counts(c, &viewer, &n, NULL, &err) == 0);
    DQ_CHECK_INT(n, 2);
    dq_relic_query_t q = fx_query("山水");
    q.facets = 1;
    char *r = fx_search(c, &q, &anon, &err);
    DQ_REQUIRE(r);
    json_t *j = parse(r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    DQ_CHECK(strstr(r, "qing\"") == NULL); /* not even in the dynasty facet */
    json_decref(j);
    free(r);
    r = fx_search(c, &q, &viewer, &err);
    j = parse(r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);
    free(r);
    free(pub);
    free(sec);
    dq_buf_free(&out);
    dq_catalog_close(c);
}

DQ_TEST(audit_rows_with_changed_fields)
{
    dq_catalog_t *c = fx_open();
    char *id = fx_create(c, qingming);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    const char *patch = "{\"dynasty\":\"song\",\"date_text\":\"c. 1100\"}";
    DQ_REQUIRE(dq_catalog_relic_patch(c, id, patch, strlen(patch), 1, &curator, &out, NULL, &err) ==
               0);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_audit_list(c, id, 0, NULL, &out, &err) == 0);
    json_t *j = parse(out.data);
    json_t *items = json_object_get(j, "items");
    DQ_CHECK_INT(json_array_size(items), 2);
    json_t *last = json_array_get(items, 0); /* newest first */
    DQ_CHECK_STR(json_string_value(json_object_get(last, "action")), "relic.patch");
    DQ_CHECK_STR(json_string_value(json_object_get(last, "who")), "cora");
    json_t *ch = json_object_get(json_object_get(last, "detail"), "changed");
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(ch, "dynasty"), "old")),
                 "northern_song");
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(ch, "dynasty"), "new")), "song");
    DQ_CHECK(json_object_get(ch, "date_text") != NULL);
    DQ_CHECK(json_object_get(ch, "title") == NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(items, 1), "action")),
                 "relic.create");
    json_decref(j);
    /* paging */
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_audit_list(c, NULL, 1, NULL, &out, &err) == 0);
    j = parse(out.data);
    const char *cur = json_string_value(json_object_get(j, "next_cursor"));
    DQ_REQUIRE(cur);
    dq_buf_t out2 = {0};
    DQ_REQUIRE(dq_catalog_audit_list(c, NULL, 1, cur, &out2, &err) == 0);
    json_t *j2 = parse(out2.data);
    DQ_CHECK_STR(json_string_value(
                     json_object_get(json_array_get(json_object_get(j2, "items"), 0), "action")),
                 "relic.create");
    json_decref(j);
    json_decref(j2);
    DQ_CHECK(dq_catalog_audit_list(c, NULL, 1, "x", &out2, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    free(id);
    dq_buf_free(&out);
    dq_buf_free(&out2);
    dq_catalog_close(c);
}

static void put_image(dq_catalog_t *c, const char *id)
{
    dq_image_rec_t r = {0};
    snprintf(r.id, sizeof(r.id), "%s", id);
    memset(r.master_sha256, 'a', 64);
    memset(r.pyramid_sha256, 'b', 64);
    snprintf(r.master_path, sizeof(r.master_path), "masters/aa/%s", r.master_sha256);
    snprintf(r.pyramid_path, sizeof(r.pyramid_path), "pyramids/%s.tif", id);
    snprintf(r.master_format, sizeof(r.master_format), "jpeg");
    r.width = r.height = 1000;
    r.levels = 3;
    r.tile_size = 256;
    r.bands = 3;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_image_put(c, &r, 0, "test", &err) == 0);
}

DQ_TEST(image_links_thumbnail_and_visibility)
{
    dq_catalog_t *c = fx_open();
    put_image(c, "scroll-detail");
    put_image(c, "scroll-main");
    put_image(c, "secret-img");
    put_image(c, "loose");
    char *id = fx_create(c, qingming);
    char *sec = fx_create(c, "{\"accession\":\"S\",\"title\":{\"en\":\"s\"},\"restricted\":true}");
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    const char *imgs =
        "[{\"image_id\":\"scroll-detail\",\"role\":\"detail\"},"
        "{\"image_id\":\"scroll-main\",\"role\":\"main\",\"label\":{\"en\":\"all\"}}]";
    DQ_REQUIRE(
        dq_catalog_relic_set_images(c, id, imgs, strlen(imgs), 1, &curator, &out, &fe, &err) == 0);
    const char *bad = "[{\"image_id\":\"scroll-main\"},{\"image_id\":\"ghost\"}]";
    DQ_CHECK(dq_catalog_relic_set_images(c, id, bad, strlen(bad), -1, &curator, &out, &fe, &err) <
             0);
    DQ_CHECK_INT(err.http_status, 422);
    DQ_CHECK(fe.data && strstr(fe.data, "images[1].image_id"));
    const char *simg = "[{\"image_id\":\"secret-img\",\"role\":\"main\"}]";
    DQ_REQUIRE(dq_catalog_relic_set_images(c, sec, simg, strlen(simg), -1, &curator, &out, &fe,
                                           &err) == 0);
    dq_relic_query_t q = fx_query(NULL);
    q.has_images = 1;
    char *r = fx_search(c, &q, &anon, &err);
    DQ_REQUIRE(r);
    DQ_CHECK(strstr(r, "\"thumbnail\":\"/iiif/3/scroll-main/full/!400,400/0/default.jpg\""));
    DQ_CHECK(strstr(r, "\"total\":1"));
    free(r);
    DQ_CHECK(dq_catalog_image_visible(c, "scroll-main", &anon) == 1);
    DQ_CHECK(dq_catalog_image_visible(c, "loose", &anon) == 1);
    DQ_CHECK(dq_catalog_image_visible(c, "secret-img", &anon) == 0);
    DQ_CHECK(dq_catalog_image_visible(c, "secret-img", &viewer) == 1);
    /* a replace without "images" keeps the links */
    dq_buf_reset(&out);
    const char *rep = "{\"accession\":\"故00005681\",\"title\":{\"zh\":\"清明上河图\"}}";
    DQ_REQUIRE(dq_catalog_relic_replace(c, id, rep, strlen(rep), -1, &curator, &out, &fe, &err) ==
               0);
    DQ_CHECK(strstr(out.data, "scroll-main") != NULL);
    free(id);
    free(sec);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(c);
}

DQ_TEST(vocabularies)
{
    dq_catalog_t *c = fx_open();
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_vocab(c, "dynasties", &out, &err) == 0);
    json_t *j = parse(out.data);
    int found = 0;
    size_t i;
    json_t *x;
    json_array_foreach(j, i,
                       x) if (strcmp(json_string_value(json_object_get(x, "key")), "song") == 0)
    {
        found = 1;
        DQ_CHECK_INT(json_integer_value(json_object_get(x, "year_from")), 960);
        DQ_CHECK_STR(json_string_value(json_object_get(x, "zh")), "宋");
    }
    DQ_CHECK(found);
    json_decref(j);
    dq_buf_reset(&out);
    DQ_REQUIRE(dq_catalog_vocab(c, "subjects", &out, &err) == 0);
    DQ_CHECK(strstr(out.data, "\"key\":\"landscape\",\"zh\":\"山水\""));
    DQ_CHECK(dq_catalog_vocab(c, "colours", &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    dq_buf_free(&out);
    dq_catalog_close(c);
}

DQ_TEST(reopen_keeps_records_and_schema)
{
    char *d = dq_test_tmpdir("dq_relic");
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(d, &err);
    DQ_REQUIRE(c);
    char *id = fx_create(c, qingming);
    dq_catalog_close(c);
    c = dq_test_catalog_open(d, &err);
    DQ_REQUIRE(c);
    int v = 0;
    DQ_CHECK(dq_catalog_schema_version(c, &v, &err) == 0);
    DQ_CHECK(v >= 3);
    dq_buf_t out = {0};
    DQ_CHECK(dq_catalog_relic_get(c, id, &anon, &out, NULL, &err) == 0);
    /* the dictionary was refilled from the stored names: a whole-name query boosts */
    dq_relic_query_t q = fx_query("张择端");
    char *r = fx_search(c, &q, &anon, &err);
    DQ_CHECK(r && strstr(r, "\"total\":1"));
    free(r);
    free(id);
    free(d);
    dq_buf_free(&out);
    dq_catalog_close(c);
}
