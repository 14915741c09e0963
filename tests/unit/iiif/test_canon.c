/*
 * test_canon.c: canonical parameter strings (3.0 §4.8, 2.1 §4.7), their round trip (the
 * canonical form plans to the same plan and is its own canonical form) and the info.json
 * documents for both versions, read back with jansson.
 */
#include "dq_test.h"
#include "iiif/iiif.h"

#include <jansson.h>
#include <string.h>

static dq_iiif_image_t mk(uint32_t w, uint32_t h)
{
    dq_iiif_image_t img;
    memset(&img, 0, sizeof(img));
    img.width = w;
    img.height = h;
    img.tile_w = img.tile_h = 256;
    img.levels[0].width = w;
    img.levels[0].height = h;
    img.n_levels = 1;
    while ((w > 256 || h > 256) && img.n_levels < 32) {
        w = (w + 1) / 2;
        h = (h + 1) / 2;
        img.levels[img.n_levels].width = w;
        img.levels[img.n_levels].height = h;
        img.n_levels++;
    }
    return img;
}

/* The canonical form of s, or "ERR <status>". */
static const char *C(const char *s, int v, const dq_iiif_image_t *img, char *out, size_t out_len)
{
    dq_err_t err = {0};
    dq_iiif_req_t req;
    dq_iiif_plan_t plan;
    if (dq_iiif_parse(s, strlen(s), v, &req, &err) < 0 ||
        dq_iiif_plan(&req, img, &plan, &err) < 0) {
        snprintf(out, out_len, "ERR %d", err.http_status);
        return out;
    }
    dq_buf_t b = {0};
    dq_iiif_canonical(&plan, img, v, &b);
    snprintf(out, out_len, "%s", b.data);
    dq_buf_free(&b);
    return out;
}

#define CANON(s, v, img, want)                                                                     \
    do {                                                                                           \
        char got_[256];                                                                            \
        DQ_CHECK_STR(C((s), (v), (img), got_, sizeof(got_)), (want));                              \
    } while (0)

DQ_TEST(canonical_v3)
{
    dq_iiif_image_t img = mk(300, 200);
    CANON("full/max/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("0,0,300,200/max/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("pct:0,0,100,100/300,200/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("0,0,999,999/max/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("square/max/0/default.jpg", 3, &img, "50,0,200,200/max/0/default.jpg");
    CANON("pct:41.6,7.5,40,70/max/0/default.jpg", 3, &img, "125,15,120,140/max/0/default.jpg");
    CANON("pct:41.6,7.5,66.6,100/max/0/default.jpg", 3, &img, "125,15,175,185/max/0/default.jpg");
    CANON("full/150,/0/default.jpg", 3, &img, "full/150,100/0/default.jpg");
    CANON("full/,150/0/default.jpg", 3, &img, "full/225,150/0/default.jpg");
    CANON("full/pct:50/0/default.jpg", 3, &img, "full/150,100/0/default.jpg");
    CANON("full/!225,100/0/default.jpg", 3, &img, "full/150,100/0/default.jpg");
    CANON("full/225,100/0/default.jpg", 3, &img, "full/225,100/0/default.jpg");
    CANON("full/^360,/0/default.jpg", 3, &img, "full/^360,240/0/default.jpg");
    CANON("full/^!360,360/0/default.jpg", 3, &img, "full/^360,240/0/default.jpg");
    CANON("full/^300,/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("full/^max/0/default.jpg", 3, &img, "full/max/0/default.jpg"); /* no limits */
    CANON("full/max/22.5/default.png", 3, &img, "full/max/22.5/default.png");
    CANON("full/max/!0/default.jpg", 3, &img, "full/max/!0/default.jpg");
    CANON("full/max/!180.0/color.jpg", 3, &img, "full/max/!180/color.jpg");
    CANON("full/max/090/gray.webp", 3, &img, "full/max/90/gray.webp");
    CANON("full/max/0.50/bitonal.tif", 3, &img, "full/max/0.5/bitonal.tif");
    CANON("full/max/.25/default.jpg", 3, &img, "full/max/0.25/default.jpg");
    CANON("full/max/360/default.jpg", 3, &img, "full/max/360/default.jpg");
    CANON("125,15,120,140/90,/!345/gray.jpg", 3, &img, "125,15,120,140/90,105/!345/gray.jpg");
    /* with limits: max is the fitted size; ^max is answered like max (plan.c) */
    img.max_width = 200;
    CANON("full/max/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("full/200,/0/default.jpg", 3, &img, "full/max/0/default.jpg");
    CANON("full/100,/0/default.jpg", 3, &img, "full/100,67/0/default.jpg");
    CANON("0,0,100,100/^max/0/default.jpg", 3, &img, "0,0,100,100/max/0/default.jpg");
    CANON("0,0,100,100/^150,/0/default.jpg", 3, &img, "0,0,100,100/^150,150/0/default.jpg");
    CANON("full/300,/0/default.jpg", 3, &img, "ERR 403");
    /* a square image: square is full */
    dq_iiif_image_t sq = mk(500, 500);
    CANON("square/max/0/default.jpg", 3, &sq, "full/max/0/default.jpg");
}

DQ_TEST(canonical_v2)
{
    dq_iiif_image_t img = mk(300, 200);
    CANON("full/full/0/default.jpg", 2, &img, "full/full/0/default.jpg");
    CANON("full/max/0/default.jpg", 2, &img, "full/full/0/default.jpg");
    CANON("full/300,/0/default.jpg", 2, &img, "full/full/0/default.jpg");
    CANON("full/150,/0/default.jpg", 2, &img, "full/150,/0/default.jpg");
    CANON("full/,100/0/default.jpg", 2, &img, "full/150,/0/default.jpg");
    CANON("full/pct:50/0/default.jpg", 2, &img, "full/150,/0/default.jpg");
    CANON("full/!225,100/0/default.jpg", 2, &img, "full/150,/0/default.jpg");
    CANON("full/150,100/0/default.jpg", 2, &img, "full/150,/0/default.jpg");
    CANON("full/225,100/0/default.jpg", 2, &img, "full/225,100/0/default.jpg");
    CANON("full/pct:200/0/default.jpg", 2, &img, "full/600,/0/default.jpg");
    CANON("square/full/0/default.jpg", 2, &img, "50,0,200,200/full/0/default.jpg");
    CANON("pct:41.6,7.5,40,70/full/0/default.jpg", 2, &img, "125,15,120,140/full/0/default.jpg");
    CANON("125,15,120,140/90,/!345/gray.jpg", 2, &img, "125,15,120,140/90,/!345/gray.jpg");
    CANON("full/full/22.50/default.png", 2, &img, "full/full/22.5/default.png");
    /* 2.1 §4.2 deprecation note: max that is not full is written w, */
    img.max_width = 200;
    CANON("full/max/0/default.jpg", 2, &img, "full/200,/0/default.jpg");
    CANON("full/full/0/default.jpg", 2, &img, "ERR 403");
    dq_iiif_image_t sq = mk(500, 500);
    CANON("square/full/0/default.jpg", 2, &sq, "full/full/0/default.jpg");
}

/* The canonical form must plan to the same plan, and be its own canonical form. */
DQ_TEST(canonical_round_trip)
{
    const char *reqs[] = {"full/max/0/default.jpg",
                          "square/max/0/default.jpg",
                          "pct:10.5,3.3,33.3,44.4/max/0/default.jpg",
                          "13,17,333,222/!100,100/0/gray.png",
                          "pct:0,0,50,50/pct:33.3/!22.75/color.webp",
                          "full/,77/270/bitonal.tif",
                          "0,0,256,256/256,/0/default.jpg",
                          "512,512,488,188/244,/0/default.jpg",
                          "full/^!2000,999/0/default.jpg",
                          "full/^pct:150/0/default.jpg",
                          "1,1,1,1/^7,5/359.5/default.jpg",
                          "full/^max/0/default.jpg",
                          "full/123,45/0/default.jpg",
                          "full/999,/0/default.jpg"};
    dq_iiif_image_t imgs[3];
    imgs[0] = mk(1000, 700);
    imgs[1] = mk(1000, 700);
    imgs[1].max_width = 600;
    imgs[1].max_area = 300000;
    imgs[2] = mk(37, 4111);
    for (int v = 2; v <= 3; v++) {
        for (int i = 0; i < 3; i++) {
            for (size_t r = 0; r < DQ_ARRAY_LEN(reqs); r++) {
                dq_err_t err = {0};
                dq_iiif_req_t req;
                dq_iiif_plan_t p1, p2;
                if (dq_iiif_parse(reqs[r], strlen(reqs[r]), v, &req, &err) < 0)
                    continue; /* ^ forms in 2.1 */
                if (dq_iiif_plan(&req, &imgs[i], &p1, &err) < 0)
                    continue; /* e.g. a size beyond this image's limits */
                dq_buf_t c1 = {0}, c2 = {0};
                dq_iiif_canonical(&p1, &imgs[i], v, &c1);
                DQ_REQUIRE(dq_iiif_parse(c1.data, c1.len, v, &req, &err) == 0);
                DQ_REQUIRE(dq_iiif_plan(&req, &imgs[i], &p2, &err) == 0);
                dq_iiif_canonical(&p2, &imgs[i], v, &c2);
                int same = p1.x == p2.x && p1.y == p2.y && p1.w == p2.w && p1.h == p2.h &&
                           p1.out_w == p2.out_w && p1.out_h == p2.out_h &&
                           p1.rotation == p2.rotation && p1.mirror == p2.mirror &&
                           p1.quality == p2.quality && p1.format == p2.format &&
                           p1.level == p2.level && p1.exact_tile == p2.exact_tile;
                if (!same || strcmp(c1.data, c2.data) != 0)
                    fprintf(stderr, "    v%d img%d [%s] -> [%s] -> [%s]\n", v, i, reqs[r], c1.data,
                            c2.data);
                DQ_CHECK(same);
                DQ_CHECK_STR(c1.data, c2.data);
                dq_buf_free(&c1);
                dq_buf_free(&c2);
            }
        }
    }
}

/* ---------------------------------------------------------------- info.json */

static json_t *info(const dq_iiif_image_t *img, const char *id, int v)
{
    dq_buf_t b = {0};
    dq_iiif_info_json(img, id, v, &b);
    json_error_t jerr;
    json_t *j = json_loads(b.data, 0, &jerr);
    if (!j)
        fprintf(stderr, "    bad JSON: %s\n%s\n", jerr.text, b.data);
    dq_buf_free(&b);
    return j;
}

static int has_str(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

DQ_TEST(info_v3)
{
    dq_iiif_image_t img = mk(6000, 4000);
    img.max_width = 3000;
    img.max_height = 2000;
    img.max_area = 6000000;
    json_t *j = info(&img, "http://127.0.0.1:8080/iiif/3/foo", 3);
    DQ_REQUIRE(j);
    /* @context first (3.0 §5.2 "SHOULD appear as the very first key-value pair") */
    dq_buf_t b = {0};
    dq_iiif_info_json(&img, "http://x/iiif/3/a", 3, &b);
    DQ_CHECK(strncmp(b.data, "{\n  \"@context\"", 14) == 0);
    dq_buf_free(&b);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "@context")),
                 "http://iiif.io/api/image/3/context.json");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "id")), "http://127.0.0.1:8080/iiif/3/foo");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "type")), "ImageService3");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "protocol")), "http://iiif.io/api/image");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "profile")), "level2");
    DQ_CHECK(json_is_integer(json_object_get(j, "width")));
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "width")), 6000);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "height")), 4000);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "maxWidth")), 3000);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "maxHeight")), 2000);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "maxArea")), 6000000);
    DQ_CHECK(json_object_get(j, "@id") == NULL);
    /* sizes: one per level within the limits, smallest first */
    json_t *sizes = json_object_get(j, "sizes");
    DQ_REQUIRE(json_is_array(sizes));
    size_t i;
    json_t *sz;
    long long prev = 0;
    json_array_foreach(sizes, i, sz)
    {
        long long w = json_integer_value(json_object_get(sz, "width"));
        long long h = json_integer_value(json_object_get(sz, "height"));
        DQ_CHECK(json_is_integer(json_object_get(sz, "width")));
        DQ_CHECK(w > prev && w <= 3000 && h <= 2000 && w * h <= 6000000);
        prev = w;
    }
    /* 6000, 3000, 1500, 750, 375, 188: 6000 is over the limits, so 5 of 6 */
    DQ_CHECK_INT(img.n_levels, 6);
    DQ_CHECK_INT(json_array_size(sizes), 5);
    DQ_CHECK_INT(json_integer_value(json_object_get(json_array_get(sizes, 0), "width")), 188);
    DQ_CHECK_INT(json_integer_value(json_object_get(json_array_get(sizes, 4), "width")), 3000);
    /* every listed size is servable as full/w,h (3.0 §5.3) and reads its own level */
    json_array_foreach(sizes, i, sz)
    {
        char req[128];
        dq_iiif_req_t r;
        dq_iiif_plan_t p;
        dq_err_t err = {0};
        snprintf(req, sizeof(req), "full/%lld,%lld/0/default.jpg",
                 json_integer_value(json_object_get(sz, "width")),
                 json_integer_value(json_object_get(sz, "height")));
        DQ_CHECK(dq_iiif_parse(req, strlen(req), 3, &r, &err) == 0);
        DQ_CHECK(dq_iiif_plan(&r, &img, &p, &err) == 0);
        DQ_CHECK_INT(p.level, img.n_levels - 1 - (int)i);
    }
    json_t *tiles = json_object_get(j, "tiles");
    DQ_REQUIRE(json_is_array(tiles) && json_array_size(tiles) == 1);
    json_t *t = json_array_get(tiles, 0);
    DQ_CHECK_INT(json_integer_value(json_object_get(t, "width")), 256);
    DQ_CHECK(json_object_get(t, "height") == NULL); /* square tiles */
    json_t *sf = json_object_get(t, "scaleFactors");
    DQ_CHECK_INT(json_array_size(sf), 6);
    for (size_t k = 0; k < json_array_size(sf); k++)
        DQ_CHECK_INT(json_integer_value(json_array_get(sf, k)), 1LL << k);
    json_t *q = json_object_get(j, "extraQualities");
    DQ_CHECK(has_str(q, "color") && has_str(q, "gray") && has_str(q, "bitonal"));
    DQ_CHECK(!has_str(q, "default"));
    json_t *f = json_object_get(j, "extraFormats");
    DQ_CHECK(has_str(f, "png") && has_str(f, "webp") && has_str(f, "tif"));
    DQ_CHECK(!has_str(f, "gif") && !has_str(f, "jp2") && !has_str(f, "pdf"));
    json_t *feat = json_object_get(j, "extraFeatures");
    const char *want[] = {"baseUriRedirect", "canonicalLinkHeader", "cors",
                          "jsonldMediaType", "mirroring",           "profileLinkHeader",
                          "regionSquare",    "rotationArbitrary",   "sizeUpscaling"};
    for (size_t k = 0; k < DQ_ARRAY_LEN(want); k++)
        DQ_CHECK(has_str(feat, want[k]));
    DQ_CHECK_INT(json_array_size(feat), DQ_ARRAY_LEN(want));
    json_decref(j);

    /* no limits: no max* keys, and sizeUpscaling is not claimed (3.0 §5.7 needs maxWidth or
     * maxArea with it) */
    dq_iiif_image_t open = mk(300, 200);
    j = info(&open, "http://h/iiif/3/a", 3);
    DQ_REQUIRE(j);
    DQ_CHECK(!json_object_get(j, "maxWidth") && !json_object_get(j, "maxHeight") &&
             !json_object_get(j, "maxArea"));
    DQ_CHECK(!has_str(json_object_get(j, "extraFeatures"), "sizeUpscaling"));
    DQ_CHECK_INT(json_array_size(json_object_get(j, "sizes")), 2);
    json_decref(j);

    /* maxHeight alone still comes with a maxWidth (3.0 §5.2) */
    open.max_height = 100;
    j = info(&open, "http://h/iiif/3/a", 3);
    DQ_REQUIRE(j);
    DQ_CHECK(json_is_integer(json_object_get(j, "maxWidth")));
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "maxHeight")), 100);
    json_decref(j);

    /* non-square tiles carry a height */
    dq_iiif_image_t rect = mk(300, 200);
    rect.tile_h = 128;
    j = info(&rect, "http://h/iiif/3/a", 3);
    DQ_REQUIRE(j);
    DQ_CHECK_INT(json_integer_value(
                     json_object_get(json_array_get(json_object_get(j, "tiles"), 0), "height")),
                 128);
    json_decref(j);
}

DQ_TEST(info_escapes_base_id)
{
    dq_iiif_image_t img = mk(300, 200);
    const char *id = "http://h/iiif/3/a\"b\\c\n";
    for (int v = 2; v <= 3; v++) {
        json_t *j = info(&img, id, v);
        DQ_REQUIRE(j);
        DQ_CHECK_STR(json_string_value(json_object_get(j, v == 3 ? "id" : "@id")), id);
        json_decref(j);
    }
}

DQ_TEST(info_v2)
{
    dq_iiif_image_t img = mk(6000, 4000);
    img.max_width = 3000;
    img.max_area = 4000000;
    json_t *j = info(&img, "http://127.0.0.1:8080/iiif/2/foo", 2);
    DQ_REQUIRE(j);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "@context")),
                 "http://iiif.io/api/image/2/context.json");
    DQ_CHECK_STR(json_string_value(json_object_get(j, "@id")), "http://127.0.0.1:8080/iiif/2/foo");
    DQ_CHECK(json_object_get(j, "id") == NULL && json_object_get(j, "type") == NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "protocol")), "http://iiif.io/api/image");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "width")), 6000);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "height")), 4000);
    json_t *prof = json_object_get(j, "profile");
    DQ_REQUIRE(json_is_array(prof) && json_array_size(prof) == 2);
    DQ_CHECK_STR(json_string_value(json_array_get(prof, 0)),
                 "http://iiif.io/api/image/2/level2.json");
    json_t *p1 = json_array_get(prof, 1);
    DQ_REQUIRE(json_is_object(p1));
    json_t *fm = json_object_get(p1, "formats");
    DQ_CHECK(has_str(fm, "jpg") && has_str(fm, "png") && has_str(fm, "webp") && has_str(fm, "tif"));
    json_t *q = json_object_get(p1, "qualities");
    DQ_CHECK(has_str(q, "default") && has_str(q, "color") && has_str(q, "gray") &&
             has_str(q, "bitonal"));
    json_t *sup = json_object_get(p1, "supports");
    DQ_CHECK(has_str(sup, "mirroring") && has_str(sup, "rotationArbitrary") &&
             has_str(sup, "regionSquare") && has_str(sup, "sizeAboveFull") &&
             has_str(sup, "baseUriRedirect") && has_str(sup, "cors") &&
             has_str(sup, "canonicalLinkHeader") && has_str(sup, "profileLinkHeader") &&
             has_str(sup, "jsonldMediaType"));
    DQ_CHECK_INT(json_integer_value(json_object_get(p1, "maxWidth")), 3000);
    DQ_CHECK(json_object_get(p1, "maxHeight") == NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(p1, "maxArea")), 4000000);
    json_t *sizes = json_object_get(j, "sizes");
    DQ_CHECK_INT(json_array_size(sizes), 4); /* 3000 x 2000 is over maxArea */
    json_t *tiles = json_object_get(j, "tiles");
    DQ_CHECK_INT(json_array_size(json_object_get(json_array_get(tiles, 0), "scaleFactors")), 6);
    json_decref(j);
}

DQ_TEST(uris)
{
    DQ_CHECK_STR(dq_iiif_profile_uri(3), "http://iiif.io/api/image/3/level2.json");
    DQ_CHECK_STR(dq_iiif_profile_uri(2), "http://iiif.io/api/image/2/level2.json");
    DQ_CHECK_STR(dq_iiif_context_uri(3), "http://iiif.io/api/image/3/context.json");
    DQ_CHECK_STR(dq_iiif_context_uri(2), "http://iiif.io/api/image/2/context.json");
}
