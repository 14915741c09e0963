/*
 * test_linkedart.c: Linked Art documents of lod/linkedart.c: the Accept header test of
 * content negotiation, stable URIs (percent-encoded keys), what a relic document becomes
 * (names with languages, the accession identifier, dimensions in cm, production time-span
 * with BCE years, creators as Person references, images as IIIF DigitalObjects) and a
 * person built from the relics that name it, with authority equivalents. Schema validity is
 * checked against the linked-art/json-validator schemas by tests/scripts/test_linkedart.py.
 */
#include "dq_test.h"

#include <jansson.h>

#include "lod/lod.h"

static const dq_lod_ctx_t ctx = {.base_url = "http://h"};

DQ_TEST(accept_header)
{
    DQ_CHECK(dq_lod_la_accepts(
        "application/ld+json;profile=\"https://linked.art/ns/v1/linked-art.json\""));
    DQ_CHECK(dq_lod_la_accepts("text/html, application/ld+json; "
                               "profile=https://linked.art/ns/v1/linked-art.json;q=0.9"));
    DQ_CHECK(!dq_lod_la_accepts("application/ld+json"));
    DQ_CHECK(!dq_lod_la_accepts("application/json"));
    DQ_CHECK(!dq_lod_la_accepts(NULL));
    DQ_CHECK(!dq_lod_la_accepts(
        "application/ld+json;profile=\"https://linked.art/ns/v1/linked-art.json\";q=0"));
}

DQ_TEST(object)
{
    const char *doc =
        "{\"id\":\"dq-1\",\"accession\":\"A 1\",\"title\":{\"zh\":\"山\",\"en\":\"Hill\"},"
        "\"creators\":[{\"name\":{\"zh\":\"王\",\"en\":\"Wang\"}}],\"year_from\":-206,"
        "\"year_to\":-100,\"object_type\":\"bronze\",\"dimensions_cm\":{\"height\":24.5},"
        "\"images\":[{\"image_id\":\"i/1\"}],\"rights\":\"http://rightsstatements.org/vocab/"
        "InC/1.0/\"}";
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_lod_la_object(doc, strlen(doc), &ctx, &out, &err) == 0);
    json_t *j = json_loads(out.data, 0, NULL);
    DQ_REQUIRE(j);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "id")), "http://h/linked-art/object/dq-1");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "type")), "HumanMadeObject");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "@context")), DQ_LOD_LA_PROFILE);
    json_t *ids = json_object_get(j, "identified_by");
    DQ_CHECK(json_array_size(ids) == 3); /* zh, en, accession */
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(ids, 2), "content")), "A 1");
    json_t *ts = json_object_get(json_object_get(j, "produced_by"), "timespan");
    DQ_CHECK_STR(json_string_value(json_object_get(ts, "begin_of_the_begin")),
                 "-0206-01-01T00:00:00Z");
    DQ_CHECK_STR(json_string_value(json_object_get(ts, "end_of_the_end")),
                 "-0100-12-31T23:59:59Z");
    json_t *by = json_object_get(json_object_get(j, "produced_by"), "carried_out_by");
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(by, 0), "id")),
                 "http://h/linked-art/person/%E7%8E%8B");
    json_t *dim = json_array_get(json_object_get(j, "dimension"), 0);
    DQ_CHECK(json_real_value(json_object_get(dim, "value")) == 24.5);
    json_t *rep = json_array_get(json_object_get(j, "representation"), 0);
    json_t *ap = json_array_get(
        json_object_get(json_array_get(json_object_get(rep, "digitally_shown_by"), 0),
                        "access_point"),
        0);
    DQ_CHECK_STR(json_string_value(json_object_get(ap, "id")), "http://h/iiif/3/i%2F1/info.json");
    json_decref(j);
    dq_buf_reset(&out);
    DQ_CHECK(dq_lod_la_object("[1]", 3, &ctx, &out, &err) < 0 && err.http_status == 400);
    dq_buf_free(&out);
}

DQ_TEST(person)
{
    const char *relics = "[{\"id\":\"a\",\"creators\":[{\"name\":{\"en\":\"Ma Yuan\"},"
                         "\"dates\":\"1160-1225\",\"wikidata\":\"Q1\"}]},"
                         "{\"id\":\"b\",\"creators\":[{\"name\":{\"en\":\"Ma Yuan\"},"
                         "\"wikidata\":\"Q1\",\"ulan\":\"500000001\"}]}]";
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_lod_la_person("Ma Yuan", relics, strlen(relics), &ctx, &out, &err) == 0);
    json_t *j = json_loads(out.data, 0, NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "id")),
                 "http://h/linked-art/person/Ma%20Yuan");
    json_t *eq = json_object_get(j, "equivalent");
    DQ_CHECK(json_array_size(eq) == 2); /* Q1 once, and the ULAN id */
    json_decref(j);
    dq_buf_reset(&out);
    DQ_CHECK(dq_lod_la_person("Nobody", relics, strlen(relics), &ctx, &out, &err) < 0);
    DQ_CHECK(err.http_status == 404);
    dq_buf_free(&out);
}

DQ_TEST(digital)
{
    dq_lod_image_t img = {.image_id = "scan-1", .width = 800, .height = 600};
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_lod_la_digital(&img, &ctx, &out, &err) == 0);
    json_t *j = json_loads(out.data, 0, NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "type")), "DigitalObject");
    DQ_CHECK(json_array_size(json_object_get(j, "dimension")) == 2);
    json_decref(j);
    dq_lod_image_t none = {0};
    DQ_CHECK(dq_lod_la_digital(&none, &ctx, &out, &err) < 0);
    dq_buf_free(&out);
}
