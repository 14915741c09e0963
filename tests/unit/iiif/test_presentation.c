/*
 * test_presentation.c: the IIIF Presentation 3.0 builders, read back with jansson and checked
 * against what the spec requires of each resource (§5.2 Collection, §5.3 Manifest, §5.4
 * Canvas, §5.5 Annotation Page, §5.6 Annotation; §3 properties): @context, ids under the base
 * URL, types, language maps, canvases with sizes, painting annotations targeting their canvas
 * with an ImageService3, right-to-left handscrolls, rights, requiredStatement, provider,
 * seeAlso, partOf, and the paging of collections.
 */
#define _GNU_SOURCE /* memmem */
#include "dq_test.h"

#include "iiif/iiif.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BASE "http://example.org:8080"

static const char *scroll_doc =
    "{\"id\":\"dq-2026-0001\",\"accession\":\"故00005681\","
    "\"title\":{\"zh\":\"清明上河图\",\"en\":\"Along the River\",\"pinyin\":\"Qīngmíng\"},"
    "\"creators\":[{\"name\":{\"zh\":\"张择端\",\"en\":\"Zhang Zeduan\"},\"dates\":\"1085–1145\"}],"
    "\"dynasty\":\"northern_song\",\"date_text\":\"early 12th century\",\"year_from\":1100,"
    "\"year_to\":1125,\"object_type\":\"handscroll\",\"subject\":[\"landscape\"],"
    "\"medium\":{\"zh\":\"绢本设色\",\"en\":\"ink and colour on silk\"},"
    "\"dimensions_cm\":{\"height\":24.8,\"width\":528.7},"
    "\"seals\":[{\"reading\":\"乾隆御览之宝\",\"owner\":\"Qianlong\"}],"
    "\"description\":{\"en\":\"<b>not html</b>\"},"
    "\"rights\":\"https://creativecommons.org/publicdomain/mark/1.0/\",\"restricted\":false,"
    "\"images\":[{\"image_id\":\"qm-1\",\"role\":\"main\",\"label\":{\"zh\":\"卷首\"}},"
    "{\"image_id\":\"qm-missing\",\"role\":\"detail\"},"
    "{\"image_id\":\"qm-2\",\"role\":\"detail\"}],\"version\":3}";

static const char *dyn_vocab =
    "[{\"key\":\"northern_song\",\"zh\":\"北宋\",\"en\":\"Northern Song\"},"
    "{\"key\":\"song\",\"zh\":\"宋\",\"en\":\"Song\"}]";
static const char *type_vocab = "[{\"key\":\"handscroll\",\"zh\":\"手卷\",\"en\":\"Handscroll\"}]";

static const dq_iiif_pimage_t imgs[] = {{"qm-2", 300, 200}, {"qm-1", 20000, 1000}};

static json_t *build(const char *doc, const dq_iiif_pimage_t *im, int n, dq_err_t *err)
{
    dq_iiif_pctx_t ctx = {.base_url = BASE,
                          .provider_en = "Palace Museum",
                          .provider_zh = "故宫博物院",
                          .dynasties_json = dyn_vocab,
                          .object_types_json = type_vocab};
    dq_buf_t out = {0};
    if (dq_iiif_manifest(doc, strlen(doc), im, n, &ctx, &out, err) < 0) {
        dq_buf_free(&out);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(out.data, out.len, 0, &je);
    if (!j)
        fprintf(stderr, "bad JSON: %s\n%s\n", je.text, out.data);
    dq_buf_free(&out);
    return j;
}

static const char *s(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* §3.1: a language map is an object of arrays of strings. */
static int is_lmap(const json_t *m)
{
    if (!json_is_object(m) || json_object_size(m) == 0)
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        if (!json_is_array(v) || json_array_size(v) == 0)
            return 0;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (!json_is_string(e)) return 0;
    }
    return 1;
}

DQ_TEST(manifest_required_properties)
{
    dq_err_t err = {0};
    json_t *m = build(scroll_doc, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_STR(s(m, "@context"), "http://iiif.io/api/presentation/3/context.json");
    DQ_CHECK_STR(s(m, "id"), BASE "/iiif/presentation/3/dq-2026-0001/manifest");
    DQ_CHECK_STR(s(m, "type"), "Manifest");
    /* insertion order: @context first */
    DQ_CHECK_STR(json_object_iter_key(json_object_iter(m)), "@context");
    const json_t *label = json_object_get(m, "label");
    DQ_CHECK(is_lmap(label));
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(label, "zh"), 0)), "清明上河图");
    DQ_CHECK(json_object_get(label, "pinyin") == NULL);
    DQ_CHECK(is_lmap(json_object_get(m, "summary")));
    /* text that looks like HTML stays text (§3.1) */
    DQ_CHECK(json_string_value(json_array_get(json_object_get(json_object_get(m, "summary"), "en"),
                                              0))[0] != '<');
    const json_t *md = json_object_get(m, "metadata");
    DQ_CHECK(json_array_size(md) >= 6);
    size_t i;
    json_t *e;
    int saw_dynasty = 0;
    json_array_foreach(md, i, e)
    {
        DQ_CHECK(is_lmap(json_object_get(e, "label")));
        DQ_CHECK(is_lmap(json_object_get(e, "value")));
        const json_t *en = json_object_get(json_object_get(e, "value"), "en");
        if (en && strcmp(json_string_value(json_array_get(en, 0)), "Northern Song") == 0)
            saw_dynasty = 1;
    }
    DQ_CHECK(saw_dynasty);
    const json_t *req = json_object_get(m, "requiredStatement");
    DQ_CHECK(is_lmap(json_object_get(req, "label")) && is_lmap(json_object_get(req, "value")));
    char *dump = json_dumps(json_object_get(req, "value"), 0);
    DQ_CHECK(strstr(dump, "Palace Museum") != NULL);
    free(dump);
    /* §3.3.1: canonical http form of a Creative Commons URI */
    DQ_CHECK_STR(s(m, "rights"), "http://creativecommons.org/publicdomain/mark/1.0/");
    const json_t *prov = json_array_get(json_object_get(m, "provider"), 0);
    DQ_CHECK_STR(s(prov, "type"), "Agent");
    DQ_CHECK(is_lmap(json_object_get(prov, "label")));
    DQ_CHECK_STR(s(json_array_get(json_object_get(prov, "homepage"), 0), "id"), BASE "/");
    const json_t *see = json_array_get(json_object_get(m, "seeAlso"), 0);
    DQ_CHECK_STR(s(see, "id"), BASE "/api/relics/dq-2026-0001");
    DQ_CHECK_STR(s(see, "type"), "Dataset");
    DQ_CHECK_STR(s(see, "format"), "application/json");
    const json_t *parts = json_object_get(m, "partOf");
    DQ_CHECK_INT(json_array_size(parts), 2);
    DQ_CHECK_STR(s(json_array_get(parts, 0), "id"), BASE "/iiif/presentation/3/collection/all");
    DQ_CHECK_STR(s(json_array_get(parts, 1), "id"),
                 BASE "/iiif/presentation/3/collection/dynasty-northern_song");
    DQ_CHECK_STR(s(m, "navDate"), "1100-01-01T00:00:00Z");
    json_decref(m);
}

DQ_TEST(manifest_handscroll_reads_right_to_left)
{
    dq_err_t err = {0};
    json_t *m = build(scroll_doc, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_STR(s(m, "viewingDirection"), "right-to-left");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(m, "behavior"), 0)),
                 "continuous");
    json_decref(m);
    /* an album is paged right to left; a hanging scroll is neither */
    char *album = dq_xstrdup(scroll_doc);
    memcpy(strstr(album, "\"handscroll\""), "\"album_leaf\"", 12);
    m = build(album, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(m, "behavior"), 0)), "paged");
    DQ_CHECK_STR(s(m, "viewingDirection"), "right-to-left");
    json_decref(m);
    free(album);
    const char *hanging = "{\"id\":\"h\",\"object_type\":\"hanging_scroll\","
                          "\"images\":[{\"image_id\":\"qm-2\"}]}";
    m = build(hanging, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK(json_object_get(m, "viewingDirection") == NULL);
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(m, "behavior"), 0)),
                 "individuals");
    /* no title: the id as a "none" label; no rights: copyright not evaluated */
    DQ_CHECK_STR(
        json_string_value(json_array_get(json_object_get(json_object_get(m, "label"), "none"), 0)),
        "h");
    DQ_CHECK_STR(s(m, "rights"), "http://rightsstatements.org/vocab/CNE/1.0/");
    json_decref(m);
}

DQ_TEST(manifest_canvases_annotations_services)
{
    dq_err_t err = {0};
    json_t *m = build(scroll_doc, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    const json_t *items = json_object_get(m, "items");
    /* qm-missing has no geometry: two canvases, in the record's order */
    DQ_REQUIRE(json_array_size(items) == 2);
    const char *want_img[] = {"qm-1", "qm-2"};
    int want_w[] = {20000, 300}, want_h[] = {1000, 200};
    for (size_t i = 0; i < 2; i++) {
        const json_t *c = json_array_get(items, i);
        DQ_CHECK_STR(s(c, "type"), "Canvas");
        DQ_CHECK(dq_str_starts(s(c, "id"), BASE "/iiif/presentation/3/dq-2026-0001/canvas/"));
        DQ_CHECK_INT(json_integer_value(json_object_get(c, "width")), want_w[i]);
        DQ_CHECK_INT(json_integer_value(json_object_get(c, "height")), want_h[i]);
        DQ_CHECK(is_lmap(json_object_get(c, "label")));
        const json_t *page = json_array_get(json_object_get(c, "items"), 0);
        DQ_CHECK_STR(s(page, "type"), "AnnotationPage");
        DQ_CHECK(s(page, "id") != NULL);
        const json_t *anno = json_array_get(json_object_get(page, "items"), 0);
        DQ_CHECK_STR(s(anno, "type"), "Annotation");
        DQ_CHECK_STR(s(anno, "motivation"), "painting");
        DQ_CHECK_STR(s(anno, "target"), s(c, "id"));
        const json_t *body = json_object_get(anno, "body");
        DQ_CHECK_STR(s(body, "type"), "Image");
        DQ_CHECK_STR(s(body, "format"), "image/jpeg");
        DQ_CHECK_INT(json_integer_value(json_object_get(body, "width")), want_w[i]);
        const json_t *svc = json_array_get(json_object_get(body, "service"), 0);
        DQ_CHECK_STR(s(svc, "type"), "ImageService3");
        DQ_CHECK_STR(s(svc, "profile"), "level2");
        char want[128];
        snprintf(want, sizeof(want), BASE "/iiif/3/%s", want_img[i]);
        DQ_CHECK_STR(s(svc, "id"), want);
    }
    DQ_CHECK_STR(json_string_value(json_array_get(
                     json_object_get(json_object_get(json_array_get(items, 0), "label"), "zh"), 0)),
                 "卷首");
    /* thumbnail: the first image fitted in 400 x 400 */
    const json_t *th = json_array_get(json_object_get(m, "thumbnail"), 0);
    DQ_CHECK_STR(s(th, "id"), BASE "/iiif/3/qm-1/full/!400,400/0/default.jpg");
    DQ_CHECK_INT(json_integer_value(json_object_get(th, "width")), 400);
    DQ_CHECK_INT(json_integer_value(json_object_get(th, "height")), 20);
    /* a small image's thumbnail is never enlarged */
    const json_t *th2 = json_array_get(json_object_get(json_array_get(items, 1), "thumbnail"), 0);
    DQ_CHECK_STR(s(th2, "id"), BASE "/iiif/3/qm-2/full/max/0/default.jpg");
    json_decref(m);
}

DQ_TEST(manifest_errors)
{
    dq_err_t err = {0};
    DQ_CHECK(build("[]", imgs, 2, &err) == NULL);
    DQ_CHECK_INT(err.http_status, 400);
    DQ_CHECK(build("{\"title\":{}}", imgs, 2, &err) == NULL);
    DQ_CHECK(build("not json", imgs, 2, &err) == NULL);
    /* §5.3: no images, no canvas, no manifest */
    DQ_CHECK(build("{\"id\":\"x\",\"images\":[]}", imgs, 2, &err) == NULL);
    DQ_CHECK_INT(err.http_status, 404);
    dq_iiif_pctx_t ctx = {0};
    dq_buf_t out = {0};
    DQ_CHECK(dq_iiif_manifest(scroll_doc, strlen(scroll_doc), imgs, 2, &ctx, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 500);
    dq_buf_free(&out);
    /* odd ids are percent-encoded in URLs */
    json_t *m = build("{\"id\":\"a b/c\",\"images\":[{\"image_id\":\"qm-2\"}]}", imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_STR(s(m, "id"), BASE "/iiif/presentation/3/a%20b%2Fc/manifest");
    json_decref(m);
}

static const char *search_page =
    "{\"total\":250,\"items\":[{\"id\":\"dq-1\",\"accession\":\"A1\","
    "\"title\":{\"zh\":\"山水\",\"en\":\"Landscape\"},"
    "\"thumbnail\":\"/iiif/3/img-1/full/!400,400/0/default.jpg\",\"image_id\":\"img-1\"},"
    "{\"id\":\"dq-2\",\"accession\":\"A2\",\"title\":{},\"thumbnail\":null}],"
    "\"next_cursor\":\"abc\"}";

static json_t *coll(const dq_iiif_coll_t *c, const char *res, dq_err_t *err)
{
    dq_iiif_pctx_t ctx = {.base_url = BASE, .dynasties_json = dyn_vocab};
    dq_buf_t out = {0};
    if (dq_iiif_collection(c, res, res ? strlen(res) : 0, &ctx, &out, err) < 0) {
        dq_buf_free(&out);
        return NULL;
    }
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    dq_buf_free(&out);
    return j;
}

DQ_TEST(collection_paging)
{
    dq_err_t err = {0};
    dq_iiif_coll_t c = {.kind = DQ_IIIF_COLL_DYNASTY, .key = "song", .n_pages = 3, .total = 250};
    /* the top: a Collection of page Collections */
    json_t *top = coll(&c, NULL, &err);
    DQ_REQUIRE(top != NULL);
    DQ_CHECK_STR(s(top, "@context"), "http://iiif.io/api/presentation/3/context.json");
    DQ_CHECK_STR(s(top, "id"), BASE "/iiif/presentation/3/collection/dynasty-song");
    DQ_CHECK_STR(s(top, "type"), "Collection");
    DQ_CHECK(is_lmap(json_object_get(top, "label")));
    char *dump = json_dumps(json_object_get(top, "label"), 0);
    DQ_CHECK(strstr(dump, "Song") != NULL);
    free(dump);
    const json_t *items = json_object_get(top, "items");
    DQ_REQUIRE(json_array_size(items) == 3);
    DQ_CHECK_STR(s(json_array_get(items, 1), "id"),
                 BASE "/iiif/presentation/3/collection/dynasty-song?page=2");
    DQ_CHECK_STR(s(json_array_get(items, 1), "type"), "Collection");
    DQ_CHECK(json_object_get(top, "next") == NULL);
    json_decref(top);
    /* a middle page: Manifests, partOf the top, next and prev */
    c.page = 2;
    json_t *p = coll(&c, search_page, &err);
    DQ_REQUIRE(p != NULL);
    DQ_CHECK_STR(s(p, "id"), BASE "/iiif/presentation/3/collection/dynasty-song?page=2");
    DQ_CHECK_STR(s(p, "next"), BASE "/iiif/presentation/3/collection/dynasty-song?page=3");
    DQ_CHECK_STR(s(p, "prev"), BASE "/iiif/presentation/3/collection/dynasty-song?page=1");
    DQ_CHECK_STR(s(json_array_get(json_object_get(p, "partOf"), 0), "id"),
                 BASE "/iiif/presentation/3/collection/dynasty-song");
    items = json_object_get(p, "items");
    DQ_REQUIRE(json_array_size(items) == 2);
    const json_t *m0 = json_array_get(items, 0);
    DQ_CHECK_STR(s(m0, "type"), "Manifest");
    DQ_CHECK_STR(s(m0, "id"), BASE "/iiif/presentation/3/dq-1/manifest");
    DQ_CHECK(is_lmap(json_object_get(m0, "label")));
    const json_t *th = json_array_get(json_object_get(m0, "thumbnail"), 0);
    DQ_CHECK_STR(s(th, "id"), BASE "/iiif/3/img-1/full/!400,400/0/default.jpg");
    DQ_CHECK_STR(s(json_array_get(json_object_get(th, "service"), 0), "id"), BASE "/iiif/3/img-1");
    /* an empty title falls back to the accession */
    const json_t *m1 = json_array_get(items, 1);
    DQ_CHECK_STR(
        json_string_value(json_array_get(json_object_get(json_object_get(m1, "label"), "none"), 0)),
        "A2");
    DQ_CHECK(json_object_get(m1, "thumbnail") == NULL);
    json_decref(p);
    /* first and last pages have one neighbour */
    c.page = 1;
    p = coll(&c, search_page, &err);
    DQ_REQUIRE(p != NULL);
    DQ_CHECK(json_object_get(p, "prev") == NULL && json_object_get(p, "next") != NULL);
    json_decref(p);
    c.page = 3;
    p = coll(&c, search_page, &err);
    DQ_REQUIRE(p != NULL);
    DQ_CHECK(json_object_get(p, "prev") != NULL && json_object_get(p, "next") == NULL);
    json_decref(p);
    /* out of range, bad input */
    c.page = 4;
    DQ_CHECK(coll(&c, search_page, &err) == NULL);
    DQ_CHECK_INT(err.http_status, 400);
    c.page = 1;
    DQ_CHECK(coll(&c, "{\"items\":5}", &err) == NULL);
    DQ_CHECK(coll(&c, NULL, &err) == NULL);
    dq_iiif_coll_t nokey = {.kind = DQ_IIIF_COLL_TYPE, .n_pages = 1};
    DQ_CHECK(coll(&nokey, search_page, &err) == NULL);
}

DQ_TEST(collection_single_page_and_root)
{
    dq_err_t err = {0};
    dq_iiif_coll_t c = {.kind = DQ_IIIF_COLL_ALL, .n_pages = 1, .total = 2};
    json_t *j = coll(&c, search_page, &err);
    DQ_REQUIRE(j != NULL);
    DQ_CHECK_STR(s(j, "id"), BASE "/iiif/presentation/3/collection/all");
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 2);
    DQ_CHECK_STR(s(json_array_get(json_object_get(j, "items"), 0), "type"), "Manifest");
    DQ_CHECK(json_object_get(j, "partOf") == NULL);
    json_decref(j);
    const char *facets = "{\"total\":3,\"items\":[],\"facets\":{\"dynasty\":[{\"key\":\"song\","
                         "\"count\":2},{\"key\":\"tang\",\"count\":0}],\"object_type\":["
                         "{\"key\":\"handscroll\",\"count\":1}]}}";
    dq_iiif_pctx_t ctx = {.base_url = BASE, .dynasties_json = dyn_vocab};
    dq_buf_t out = {0};
    DQ_REQUIRE(dq_iiif_collection_root(facets, strlen(facets), &ctx, &out, &err) == 0);
    j = json_loadb(out.data, out.len, 0, NULL);
    DQ_REQUIRE(j != NULL);
    DQ_CHECK_STR(s(j, "id"), BASE "/iiif/presentation/3/collection");
    const json_t *items = json_object_get(j, "items");
    DQ_REQUIRE(json_array_size(items) == 3); /* all, song, handscroll; tang has no relics */
    DQ_CHECK_STR(s(json_array_get(items, 1), "id"),
                 BASE "/iiif/presentation/3/collection/dynasty-song");
    DQ_CHECK_STR(s(json_array_get(items, 2), "id"),
                 BASE "/iiif/presentation/3/collection/type-handscroll");
    json_decref(j);
    dq_buf_free(&out);
    dq_buf_t path = {0};
    dq_iiif_collection_path(&(dq_iiif_coll_t){.kind = DQ_IIIF_COLL_TYPE, .key = "fan"}, 7, &path);
    DQ_CHECK_STR(path.data, "/iiif/presentation/3/collection/type-fan?page=7");
    dq_buf_free(&path);
}

/* Issue 16: a handscroll opens at its right end (§3.4 start: a SpecificResource on the first
 * Canvas, the rightmost 16:9 of it) and names the sections its inscriptions mention as Ranges
 * (§3.4 structures) in reading order; other objects get neither. */
DQ_TEST(manifest_handscroll_start_and_sections)
{
    dq_err_t err = {0};
    json_t *m = build(scroll_doc, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    const json_t *st = json_object_get(m, "start");
    DQ_CHECK_STR(s(st, "type"), "SpecificResource");
    DQ_CHECK_STR(s(st, "id"), BASE "/iiif/presentation/3/dq-2026-0001/start");
    DQ_CHECK_STR(s(st, "source"), BASE "/iiif/presentation/3/dq-2026-0001/canvas/1");
    const json_t *sel = json_object_get(st, "selector");
    DQ_CHECK_STR(s(sel, "type"), "FragmentSelector");
    DQ_CHECK_STR(s(sel, "conformsTo"), "http://www.w3.org/TR/media-frags/");
    DQ_CHECK_STR(s(sel, "value"), "xywh=18223,0,1777,1000"); /* 1000 * 16 / 9 = 1777 */
    DQ_CHECK(json_object_get(m, "structures") == NULL);       /* no section named */
    json_decref(m);

    /* With a frontispiece and colophons named: three Ranges, the painting between them. */
    char *doc = dq_xasprintf(
        "%.*s,\"inscriptions\":[{\"text\":\"t\",\"position\":\"frontispiece, right end\"},"
        "{\"text\":\"c\",\"position\":\"colophon, left end\"}]}",
        (int)strlen(scroll_doc) - 1, scroll_doc);
    m = build(doc, imgs, 2, &err);
    free(doc);
    DQ_REQUIRE(m != NULL);
    const json_t *rs = json_object_get(m, "structures");
    DQ_REQUIRE(json_array_size(rs) == 3);
    const char *c1 = BASE "/iiif/presentation/3/dq-2026-0001/canvas/1";
    const char *c2 = BASE "/iiif/presentation/3/dq-2026-0001/canvas/2";
    char want[256];
    const json_t *r0 = json_array_get(rs, 0), *r1 = json_array_get(rs, 1), *r2 = json_array_get(rs, 2);
    DQ_CHECK_STR(s(r0, "type"), "Range");
    DQ_CHECK_STR(s(r0, "id"), BASE "/iiif/presentation/3/dq-2026-0001/range/frontispiece");
    DQ_CHECK(is_lmap(json_object_get(r0, "label")));
    snprintf(want, sizeof(want), "%s#xywh=18000,0,2000,1000", c1);
    DQ_CHECK_STR(s(json_array_get(json_object_get(r0, "items"), 0), "id"), want);
    DQ_CHECK_STR(s(json_array_get(json_object_get(r0, "items"), 0), "type"), "Canvas");
    DQ_REQUIRE(json_array_size(json_object_get(r1, "items")) == 2);
    snprintf(want, sizeof(want), "%s#xywh=0,0,18000,1000", c1);
    DQ_CHECK_STR(s(json_array_get(json_object_get(r1, "items"), 0), "id"), want);
    snprintf(want, sizeof(want), "%s#xywh=42,0,258,200", c2); /* 14 % of 300 = 42 */
    DQ_CHECK_STR(s(json_array_get(json_object_get(r1, "items"), 1), "id"), want);
    snprintf(want, sizeof(want), "%s#xywh=0,0,42,200", c2);
    DQ_CHECK_STR(s(json_array_get(json_object_get(r2, "items"), 0), "id"), want);
    json_decref(m);

    const char *hanging = "{\"id\":\"h\",\"object_type\":\"hanging_scroll\","
                          "\"images\":[{\"image_id\":\"qm-2\"}]}";
    m = build(hanging, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK(json_object_get(m, "start") == NULL && json_object_get(m, "structures") == NULL);
    json_decref(m);
}

static json_t *build_sections(const char *doc, const dq_iiif_pimage_t *im, int n, dq_err_t *err)
{
    dq_iiif_pctx_t ctx = {.base_url = BASE};
    dq_buf_t out = {0};
    json_t *j = NULL;
    if (dq_iiif_manifest_sections(doc, strlen(doc), im, n, &ctx, &out, err) == 0)
        j = json_loadb(out.data, out.len, 0, NULL);
    dq_buf_free(&out);
    return j;
}

static const char *body_id(const json_t *canvas)
{
    const json_t *page = json_array_get(json_object_get(canvas, "items"), 0);
    const json_t *anno = json_array_get(json_object_get(page, "items"), 0);
    return s(json_object_get(anno, "body"), "id");
}

/* Issue 16: the sections view cuts each scroll image into Canvases 4:3 of its height, from the
 * right end, painted by plain Image API regions (no service), start on the first; only
 * handscrolls have one; an image over 4096 px is asked for at most 4096 px. */
DQ_TEST(manifest_sections_view)
{
    dq_err_t err = {0};
    json_t *m = build_sections(scroll_doc, imgs, 2, &err);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_STR(s(m, "id"), BASE "/iiif/presentation/3/dq-2026-0001/manifest?view=sections");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(m, "behavior"), 0)), "paged");
    DQ_CHECK_STR(s(m, "viewingDirection"), "right-to-left");
    const json_t *items = json_object_get(m, "items");
    /* qm-1 20000 x 1000: 16 sections of 1250; qm-2 300 x 200: 2 of 150 */
    DQ_REQUIRE(json_array_size(items) == 18);
    const json_t *c1 = json_array_get(items, 0);
    DQ_CHECK_STR(s(c1, "id"), BASE "/iiif/presentation/3/dq-2026-0001/sections/canvas/1");
    DQ_CHECK_INT(json_integer_value(json_object_get(c1, "width")), 1250);
    DQ_CHECK_STR(body_id(c1), BASE "/iiif/3/qm-1/18750,0,1250,1000/1250,1000/0/default.jpg");
    DQ_CHECK_STR(body_id(json_array_get(items, 15)),
                 BASE "/iiif/3/qm-1/0,0,1250,1000/1250,1000/0/default.jpg");
    DQ_CHECK_STR(body_id(json_array_get(items, 16)),
                 BASE "/iiif/3/qm-2/150,0,150,200/150,200/0/default.jpg");
    DQ_CHECK_STR(body_id(json_array_get(items, 17)),
                 BASE "/iiif/3/qm-2/0,0,150,200/150,200/0/default.jpg");
    const json_t *page = json_array_get(json_object_get(c1, "items"), 0);
    DQ_CHECK(
        json_object_get(json_object_get(json_array_get(json_object_get(page, "items"), 0), "body"),
                        "service") == NULL);
    const json_t *st = json_object_get(m, "start");
    DQ_CHECK_STR(s(st, "type"), "Canvas");
    DQ_CHECK_STR(s(st, "id"), s(c1, "id"));
    json_decref(m);

    const dq_iiif_pimage_t big[] = {{"qm-1", 20000, 6000}};
    const char *one =
        "{\"id\":\"b\",\"object_type\":\"handscroll\",\"images\":[{\"image_id\":\"qm-1\"}]}";
    m = build_sections(one, big, 1, &err);
    DQ_REQUIRE(m != NULL);
    DQ_REQUIRE(json_array_size(json_object_get(m, "items")) == 3);
    DQ_CHECK_STR(body_id(json_array_get(json_object_get(m, "items"), 0)),
                 BASE "/iiif/3/qm-1/13334,0,6666,6000/4096,3687/0/default.jpg");
    json_decref(m);

    const char *hanging = "{\"id\":\"h\",\"object_type\":\"hanging_scroll\","
                          "\"images\":[{\"image_id\":\"qm-2\"}]}";
    DQ_CHECK(build_sections(hanging, imgs, 2, &err) == NULL && err.http_status == 404);
}

/* Issue 16: what a download embeds comes from the record with the manifest's own rights URI
 * and attribution; IIM datasets are length-prefixed and cut on UTF-8 boundaries. */
DQ_TEST(embedded_rights_match_the_manifest)
{
    dq_iiif_pctx_t ctx = {.base_url = BASE, .provider_en = "Palace Museum"};
    dq_buf_t x = {0}, i = {0}, l = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_iiif_embed_meta(scroll_doc, strlen(scroll_doc), &ctx, BASE "/relic/dq-2026-0001",
                                  &x, &i, &err) == 0);
    /* https in the record, canonical http in the manifest and in the file */
    DQ_CHECK(strstr(x.data, "<xmpRights:WebStatement>http://creativecommons.org/publicdomain/"
                            "mark/1.0/</xmpRights:WebStatement>") != NULL);
    DQ_CHECK(strstr(x.data, "<xmpRights:Marked>False</xmpRights:Marked>") != NULL);
    DQ_CHECK(strstr(x.data, "<photoshop:Credit>Provided by Palace Museum</photoshop:Credit>"));
    DQ_CHECK(strstr(x.data, "<rdf:li xml:lang=\"x-default\">Public Domain Mark: http://"));
    DQ_CHECK(strstr(x.data, "<rdf:li>张择端 (Zhang Zeduan)</rdf:li>") != NULL);
    DQ_CHECK(strstr(x.data, "&lt;b&gt;") == NULL); /* the description is not embedded */
    DQ_CHECK(strncmp(x.data, "<?xpacket begin=", 16) == 0);
    DQ_CHECK(strstr(x.data, "<?xpacket end=\"w\"?>") != NULL);
    DQ_CHECK(memcmp(i.data, "Photoshop 3.0\0" "8BIM\x04\x04\0\0", 22) == 0);
    DQ_CHECK(i.len % 2 == 0);
    /* 2:05 Object Name = the zh title */
    const char *t = memmem(i.data, i.len, "\x1c\x02\x05", 3);
    DQ_REQUIRE(t != NULL);
    DQ_CHECK((size_t)((unsigned char)t[3] << 8 | (unsigned char)t[4]) == strlen("清明上河图"));
    /* a 40-character zh name cut to 32 bytes lands on a character boundary (30 bytes) */
    const char *longname = "{\"id\":\"z\",\"creators\":[{\"name\":{\"zh\":"
                           "\"一二三四五六七八九十一二三四五六七八九十\"}}]}";
    dq_buf_reset(&i);
    dq_buf_reset(&x);
    DQ_REQUIRE(dq_iiif_embed_meta(longname, strlen(longname), NULL, NULL, &x, &i, &err) == 0);
    t = memmem(i.data, i.len, "\x1c\x02\x50", 3);
    DQ_REQUIRE(t != NULL);
    DQ_CHECK_INT((unsigned char)t[3] << 8 | (unsigned char)t[4], 30);
    DQ_CHECK(strstr(x.data, DQ_IIIF_RIGHTS_CNE) != NULL); /* no rights: not evaluated, marked */
    DQ_CHECK(strstr(x.data, "<xmpRights:Marked>True</xmpRights:Marked>") != NULL);
    DQ_CHECK(dq_iiif_embed_meta("[1]", 3, NULL, NULL, &x, &i, &err) < 0 && err.http_status == 400);
    DQ_CHECK(dq_iiif_rights_label("https://creativecommons.org/licenses/by-nc/4.0/", &l) == 1);
    DQ_CHECK_STR(l.data, "CC BY-NC 4.0 licence");
    DQ_CHECK(dq_iiif_rights_label("http://example.org/terms", &l) == 0);
    dq_buf_free(&x);
    dq_buf_free(&i);
    dq_buf_free(&l);
}
