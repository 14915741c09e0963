/*
 * test_harvest.c: lod/harvest.c's mapping of another institution's IIIF Manifest to a relic
 * document (issue 16): Presentation 3.0 as before, Presentation 2.1 read through the 3.0
 * properties it maps to (label and metadata values as strings or @value/@language objects,
 * description, license, attribution, related, navDate), labels keyed by a language we do not
 * show (kept, filed by script), and documents that are neither refused with a reason.
 */
#include "dq_test.h"

#include <jansson.h>

#include "lod/lod.h"

static json_t *map(const char *m, dq_err_t *err)
{
    dq_lod_ctx_t ctx = {.object_types_json = "[{\"key\":\"handscroll\",\"en\":\"Handscroll\"}]"};
    dq_buf_t out = {0};
    json_t *j = NULL;
    if (dq_lod_manifest_to_relic(m, strlen(m), "http://h/m", "http://h/c", &ctx, &out, err) == 0)
        j = json_loadb(out.data, out.len, 0, NULL);
    dq_buf_free(&out);
    return j;
}

static const char *str(const json_t *o, const char *a, const char *b)
{
    const json_t *x = json_object_get(o, a);
    return json_string_value(b ? json_object_get(x, b) : x);
}

DQ_TEST(presentation_2_1_manifest)
{
    dq_err_t err = {0};
    json_t *d = map("{\"@context\":\"http://iiif.io/api/presentation/2/context.json\","
                    "\"@id\":\"http://h/m\",\"@type\":\"sc:Manifest\","
                    "\"label\":[{\"@value\":\"Fishing in spring\",\"@language\":\"en\"},"
                    "{\"@value\":\"春江渔乐\",\"@language\":\"zh\"}],"
                    "\"description\":\"A scroll\",\"navDate\":\"1127-01-01T00:00:00Z\","
                    "\"metadata\":[{\"label\":\"Object type\",\"value\":\"Handscroll\"},"
                    "{\"label\":[{\"@value\":\"Artist\"}],\"value\":[{\"@value\":\"Li Tang (1050-1130)\"}]}],"
                    "\"license\":[\"not a uri\",{\"@id\":\"http://creativecommons.org/publicdomain/zero/1.0/\"}],"
                    "\"attribution\":\"Provided by a museum\",\"related\":{\"@id\":\"https://h/page\"}}",
                    &err);
    DQ_REQUIRE(d != NULL);
    DQ_CHECK_STR(str(d, "title", "en"), "Fishing in spring");
    DQ_CHECK_STR(str(d, "title", "zh"), "春江渔乐");
    DQ_CHECK_STR(str(d, "description", "en"), "A scroll");
    DQ_CHECK_STR(str(d, "object_type", NULL), "handscroll");
    DQ_CHECK_STR(str(d, "rights", NULL), "http://creativecommons.org/publicdomain/zero/1.0/");
    DQ_CHECK(json_integer_value(json_object_get(d, "year_from")) == 1127);
    const json_t *c = json_array_get(json_object_get(d, "creators"), 0);
    DQ_CHECK_STR(str(c, "name", "en"), "Li Tang");
    DQ_CHECK_STR(str(c, "dates", NULL), "1050-1130");
    DQ_CHECK_STR(str(d, "remote", "institution"), "Provided by a museum");
    DQ_CHECK_STR(str(d, "remote", "url"), "https://h/page");
    json_decref(d);
}

DQ_TEST(labels_in_other_languages_and_refusals)
{
    dq_err_t err = {0};
    /* The Library of Congress's Hamilton manifest keys every language map "true". */
    json_t *d = map("{\"type\":\"Manifest\",\"label\":{\"true\":[\"Letter\"]},"
                    "\"requiredStatement\":{\"value\":{\"true\":[\"Library of Congress\"]}}}",
                    &err);
    DQ_REQUIRE(d != NULL);
    DQ_CHECK_STR(str(d, "title", "en"), "Letter");
    DQ_CHECK_STR(str(d, "remote", "institution"), "Library of Congress");
    json_decref(d);
    d = map("{\"type\":\"Manifest\",\"label\":{\"ja\":[\"山水図\"]}}", &err);
    DQ_REQUIRE(d != NULL);
    DQ_CHECK_STR(str(d, "title", "zh"), "山水図"); /* CJK text without zh/en: filed as zh */
    json_decref(d);
    DQ_CHECK(map("{\"@type\":\"sc:Collection\",\"label\":\"x\"}", &err) == NULL &&
             err.http_status == 422);
    DQ_CHECK(map("{\"@type\":\"sc:Manifest\"}", &err) == NULL && strstr(err.msg, "no label"));
    DQ_CHECK(map("[1,2]", &err) == NULL && err.http_status == 422);
}
