/*
 * test_presentation_choice.c: a relic's virtual restoration (issue 12: image
 * "<image>.restoration" linked with role "restoration") appears in its IIIF Presentation 3.0
 * manifest as a Choice beside the original on the original's canvas (the original first, so
 * it is the default), labelled as a proposal, and never as a canvas of its own.
 */
#include <jansson.h>

#include "dq_test.h"
#include "iiif/iiif.h"

static json_t *manifest(const char *doc, const dq_iiif_pimage_t *im, int n)
{
    dq_iiif_pctx_t ctx = {.base_url = "http://x"};
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_iiif_manifest(doc, strlen(doc), im, n, &ctx, &out, &err) == 0);
    json_t *m = json_loads(out.data, 0, NULL);
    dq_buf_free(&out);
    DQ_REQUIRE(m);
    return m;
}

static const json_t *body_of(const json_t *m, size_t canvas)
{
    const json_t *c = json_array_get(json_object_get(m, "items"), canvas);
    const json_t *page = json_array_get(json_object_get(c, "items"), 0);
    return json_object_get(json_array_get(json_object_get(page, "items"), 0), "body");
}

DQ_TEST(restoration_is_a_choice_on_its_original)
{
    const dq_iiif_pimage_t im[] = {{"leaf", 900, 900}, {"leaf.restoration", 900, 900},
                                   {"leaf-uv", 900, 900}};
    json_t *m = manifest("{\"id\":\"r1\",\"images\":[{\"image_id\":\"leaf\",\"role\":\"main\"},"
                         "{\"image_id\":\"leaf-uv\",\"role\":\"uv\"},"
                         "{\"image_id\":\"leaf.restoration\",\"role\":\"restoration\"}]}",
                         im, 3);
    DQ_CHECK_INT((int)json_array_size(json_object_get(m, "items")), 2);
    const json_t *b = body_of(m, 0);
    DQ_CHECK_STR(json_string_value(json_object_get(b, "type")), "Choice");
    const json_t *items = json_object_get(b, "items");
    DQ_REQUIRE(json_array_size(items) == 2);
    DQ_CHECK(strstr(json_string_value(json_object_get(json_array_get(items, 0), "id")),
                    "/iiif/3/leaf/full/") != NULL);
    DQ_CHECK(strstr(json_string_value(json_object_get(json_array_get(items, 1), "id")),
                    "/iiif/3/leaf.restoration/full/") != NULL);
    const char *lab = json_string_value(
        json_array_get(json_object_get(json_object_get(json_array_get(items, 1), "label"), "en"), 0));
    DQ_CHECK(lab && strstr(lab, "proposal"));
    /* the other canvas is a plain image */
    DQ_CHECK_STR(json_string_value(json_object_get(body_of(m, 1), "type")), "Image");
    json_decref(m);
}

DQ_TEST(no_restoration_no_choice)
{
    const dq_iiif_pimage_t im[] = {{"leaf", 900, 900}, {"other.restoration", 900, 900}};
    /* a restoration of another image does not attach to this one */
    json_t *m = manifest("{\"id\":\"r1\",\"images\":[{\"image_id\":\"leaf\",\"role\":\"main\"},"
                         "{\"image_id\":\"other.restoration\",\"role\":\"restoration\"}]}",
                         im, 2);
    DQ_CHECK_INT((int)json_array_size(json_object_get(m, "items")), 1);
    DQ_CHECK_STR(json_string_value(json_object_get(body_of(m, 0), "type")), "Image");
    json_decref(m);
}
