/*
 * test_parse.c: dq_iiif_split_path and dq_iiif_parse against every example in the IIIF Image
 * API 3.0 and 2.1 region/size/rotation/quality/format tables, the requests the official
 * validator makes (id_*, region_*, size_*, rot_*, quality_*, format_*), and each class of
 * malformed input: empty segments, signs, exponents, hex, huge numbers, forms from the other
 * version, case, escapes, NUL.
 */
#include "dq_test.h"
#include "iiif/iiif.h"

#include <string.h>

/* Parses s for version v; returns 0 or the HTTP status of the error. */
static int P(const char *s, int v, dq_iiif_req_t *r)
{
    dq_err_t err = {0};
    dq_iiif_req_t tmp;
    if (!r)
        r = &tmp;
    if (dq_iiif_parse(s, strlen(s), v, r, &err) == 0)
        return 0;
    if (err.http_status == 0 || err.msg[0] == '\0')
        return -1; /* every failure must say why */
    return err.http_status;
}

/* Splits s; returns 0 or the HTTP status. */
static int S(const char *s, size_t len, char *id, int *kind, const char **params, size_t *plen)
{
    dq_err_t err = {0};
    if (dq_iiif_split_path(s, len, id, kind, params, plen, &err) == 0)
        return 0;
    return err.http_status;
}

/* ---------------------------------------------------------------- split_path */

DQ_TEST(split_basic_kinds)
{
    char id[DQ_IIIF_ID_MAX + 1];
    int kind;
    const char *params;
    size_t plen;
    const char *p = "abc-1_2.tif";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, &params, &plen), 0);
    DQ_CHECK_INT(kind, DQ_IIIF_PATH_BASE);
    DQ_CHECK_STR(id, "abc-1_2.tif");
    p = "abc/info.json";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, &params, &plen), 0);
    DQ_CHECK_INT(kind, DQ_IIIF_PATH_INFO);
    DQ_CHECK_STR(id, "abc");
    p = "abc/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, &params, &plen), 0);
    DQ_CHECK_INT(kind, DQ_IIIF_PATH_IMAGE);
    DQ_CHECK(plen == strlen("full/max/0/default.jpg"));
    DQ_CHECK(memcmp(params, "full/max/0/default.jpg", plen) == 0);
    /* params may be left out */
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 0);
    /* a uuid (validator id_error_random) is a valid identifier: the catalog answers 404 */
    p = "5a6b7c1e-0d2f-11ee-be56-0242ac120002/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 0);
}

DQ_TEST(split_escaped_identifier)
{
    char id[DQ_IIIF_ID_MAX + 1];
    int kind;
    /* validator id_escaped: '-' sent as %2D must be decoded */
    const char *p = "abc%2Ddef/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 0);
    DQ_CHECK_STR(id, "abc-def");
    p = "%41bc";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 0);
    DQ_CHECK_STR(id, "Abc");
}

DQ_TEST(split_bad_identifiers)
{
    char id[DQ_IIIF_ID_MAX + 1];
    int kind;
    const char *params;
    size_t plen;
    /* validator id_error_escapedslash: a/b unescaped gives 404 (no resource has that path) */
    const char *p = "a/b/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, &params, &plen), 404);
    DQ_CHECK(params == NULL);
    /* an escaped slash: an identifier that cannot exist */
    p = "a%2Fb/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 404);
    p = "a%2fb/info.json";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 404);
    /* validator id_error_unescaped: [frob] gives 400 (or 404) */
    p = "[frob]/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 400);
    p = "%5Bfrob%5D/full/max/0/default.jpg";
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 400);
    const char *bad400[] = {"..",
                            "../info.json",
                            "%2E%2E/info.json",
                            ".hidden",
                            "a b",
                            "a%20b",
                            "%00",
                            "a%00b",
                            "a%zzb",
                            "a%2",
                            "a%",
                            "",
                            "/info.json",
                            "caf%C3%A9",
                            "a+b",
                            "a;b/info.json",
                            "a?b",
                            "a\\b",
                            "a:b",
                            "~x",
                            "a%2E%2E%2Fb"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad400); i++) {
        int st = S(bad400[i], strlen(bad400[i]), id, &kind, NULL, NULL);
        if (st != 400 && !(i == DQ_ARRAY_LEN(bad400) - 1 && st == 404))
            fprintf(stderr, "    [%s] -> %d\n", bad400[i], st);
        DQ_CHECK(st == 400 || (i == DQ_ARRAY_LEN(bad400) - 1 && st == 404));
        DQ_CHECK_STR(id, "");
    }
    /* a raw NUL inside the given length */
    const char nul[] = "ab\0c/info.json";
    DQ_CHECK_INT(S(nul, sizeof(nul) - 1, id, &kind, NULL, NULL), 400);
    const char nul2[] = "abc/full/max/0/def\0ault.jpg";
    DQ_CHECK_INT(S(nul2, sizeof(nul2) - 1, id, &kind, NULL, NULL), 400);
}

DQ_TEST(split_identifier_length)
{
    char id[DQ_IIIF_ID_MAX + 1];
    char p[600];
    int kind;
    memset(p, 'a', DQ_IIIF_ID_MAX);
    p[DQ_IIIF_ID_MAX] = '\0';
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 0);
    DQ_CHECK(strlen(id) == DQ_IIIF_ID_MAX);
    memset(p, 'a', DQ_IIIF_ID_MAX + 1);
    p[DQ_IIIF_ID_MAX + 1] = '\0';
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 400);
    /* 128 escaped characters are fine, 129 are not */
    p[0] = '\0';
    for (int i = 0; i < DQ_IIIF_ID_MAX; i++)
        strcat(p, "%41");
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 0);
    strcat(p, "%41");
    DQ_CHECK_INT(S(p, strlen(p), id, &kind, NULL, NULL), 400);
}

DQ_TEST(split_wrong_segment_counts)
{
    char id[DQ_IIIF_ID_MAX + 1];
    int kind;
    const char *bad[] = {"abc/",
                         "abc/info.xml",
                         "abc/INFO.JSON",
                         "abc/info.json/",
                         "abc/full",
                         "abc/full/max",
                         "abc/full/max/0",
                         "abc/full/max/0/default.jpg/",
                         "abc/full/max/0/default.jpg/x",
                         "abc//full/max/0/default.jpg"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        int st = S(bad[i], strlen(bad[i]), id, &kind, NULL, NULL);
        if (st != 404)
            fprintf(stderr, "    [%s] -> %d\n", bad[i], st);
        DQ_CHECK_INT(st, 404);
    }
}

/* ---------------------------------------------------------------- 3.0 examples */

DQ_TEST(spec30_region_examples)
{
    dq_iiif_req_t r;
    DQ_CHECK_INT(P("full/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(r.region_kind, DQ_REGION_FULL);
    DQ_CHECK_INT(r.size_kind, DQ_SIZE_MAX);
    DQ_CHECK_INT(r.version, DQ_IIIF_V3);
    DQ_CHECK_INT(P("square/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(r.region_kind, DQ_REGION_SQUARE);
    DQ_CHECK_INT(P("125,15,120,140/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(r.region_kind, DQ_REGION_PIXELS);
    DQ_CHECK(r.rx == 125 && r.ry == 15 && r.rw == 120 && r.rh == 140);
    DQ_CHECK_INT(P("pct:41.6,7.5,40,70/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(r.region_kind, DQ_REGION_PCT);
    DQ_CHECK(r.rx > 41.59 && r.rx < 41.61 && r.ry == 7.5 && r.rw == 40 && r.rh == 70);
    DQ_CHECK_INT(P("125,15,200,200/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(P("pct:41.6,7.5,66.6,100/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.rw > 66.59 && r.rw < 66.61 && r.rh == 100);
}

DQ_TEST(spec30_size_examples)
{
    dq_iiif_req_t r;
    DQ_CHECK_INT(P("full/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_MAX && !r.upscale);
    DQ_CHECK_INT(P("full/^max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_MAX && r.upscale);
    DQ_CHECK_INT(P("full/150,/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_W && r.sw == 150 && !r.upscale);
    DQ_CHECK_INT(P("full/^360,/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_W && r.sw == 360 && r.upscale);
    DQ_CHECK_INT(P("full/,150/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_H && r.sh == 150);
    DQ_CHECK_INT(P("full/^,240/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_H && r.sh == 240 && r.upscale);
    /* the 3.0 example table prints ",^240": a typo for "^,240", not a valid form */
    DQ_CHECK_INT(P("full/,^240/0/default.jpg", DQ_IIIF_V3, NULL), 400);
    DQ_CHECK_INT(P("full/pct:50/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_PCT && r.spct == 50);
    /* the example "pct:120" without '^' is exactly what 3.0 §4.2 makes an error */
    DQ_CHECK_INT(P("full/pct:120/0/default.jpg", DQ_IIIF_V3, NULL), 400);
    DQ_CHECK_INT(P("full/^pct:120/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_PCT && r.spct == 120 && r.upscale);
    DQ_CHECK_INT(P("full/225,100/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_WH && r.sw == 225 && r.sh == 100);
    DQ_CHECK_INT(P("full/^360,360/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_WH && r.upscale);
    DQ_CHECK_INT(P("full/!225,100/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_BEST && r.sw == 225 && r.sh == 100 && !r.upscale);
    DQ_CHECK_INT(P("full/^!360,360/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_BEST && r.upscale);
    /* validator size_nofull: "full" is gone in 3.0 */
    DQ_CHECK_INT(P("full/full/0/default.jpg", DQ_IIIF_V3, NULL), 400);
    DQ_CHECK_INT(P("full/^full/0/default.jpg", DQ_IIIF_V3, NULL), 400);
}

DQ_TEST(spec_rotation_examples)
{
    dq_iiif_req_t r;
    for (int v = 2; v <= 3; v++) {
        DQ_CHECK_INT(P("full/max/0/default.jpg", v, &r), 0);
        DQ_CHECK(r.rotation == 0 && !r.mirror);
        DQ_CHECK_INT(P("full/max/180/default.jpg", v, &r), 0);
        DQ_CHECK(r.rotation == 180);
        DQ_CHECK_INT(P("full/max/90/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/max/22.5/default.png", v, &r), 0);
        DQ_CHECK(r.rotation == 22.5 && r.format == DQ_FMT_PNG);
        DQ_CHECK_INT(P("full/max/!0/default.jpg", v, &r), 0);
        DQ_CHECK(r.rotation == 0 && r.mirror);
        DQ_CHECK_INT(P("full/max/!180/default.jpg", v, &r), 0);
        DQ_CHECK(r.rotation == 180 && r.mirror);
        DQ_CHECK_INT(P("125,15,120,140/90,/!345/gray.jpg", v, &r), 0);
        DQ_CHECK(r.rotation == 345 && r.mirror && r.quality == DQ_Q_GRAY);
        DQ_CHECK_INT(P("full/max/360/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/max/0.5/default.jpg", v, &r), 0);
        DQ_CHECK(r.rotation == 0.5);
        DQ_CHECK_INT(P("full/max/359.999/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/max/360.0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/max/360.0001/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/361/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/-90/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/+90/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/!/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/!!90/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/90!/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/1e2/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0x10/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/9.0.0/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/./default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/ 90/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/99999999999999999999/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/nan/default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/inf/default.jpg", v, NULL), 400);
    }
}

DQ_TEST(spec_quality_format_examples)
{
    dq_iiif_req_t r;
    const char *q[] = {"default", "color", "gray", "bitonal"};
    for (int v = 2; v <= 3; v++) {
        char buf[128];
        for (int i = 0; i < 4; i++) {
            snprintf(buf, sizeof(buf), "full/max/0/%s.jpg", q[i]);
            DQ_CHECK_INT(P(buf, v, &r), 0);
            DQ_CHECK_INT(r.quality, i);
            DQ_CHECK_STR(dq_iiif_quality_name(i), q[i]);
        }
        DQ_CHECK_INT(P("full/max/0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(r.format, DQ_FMT_JPG);
        DQ_CHECK_INT(P("full/max/0/default.png", v, &r), 0);
        DQ_CHECK_INT(r.format, DQ_FMT_PNG);
        DQ_CHECK_INT(P("full/max/0/default.tif", v, &r), 0);
        DQ_CHECK_INT(r.format, DQ_FMT_TIF);
        DQ_CHECK_INT(P("full/max/0/default.webp", v, &r), 0);
        DQ_CHECK_INT(r.format, DQ_FMT_WEBP);
        /* valid IIIF formats we do not produce */
        DQ_CHECK_INT(P("full/max/0/default.gif", v, NULL), 501);
        DQ_CHECK_INT(P("full/max/0/default.jp2", v, NULL), 501);
        DQ_CHECK_INT(P("full/max/0/default.pdf", v, NULL), 501);
        /* unknown qualities and formats, case-sensitive names */
        DQ_CHECK_INT(P("full/max/0/default.JPG", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/default.jpeg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/default.tiff", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/default.", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/default", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/Default.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/grey.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/native.jpg", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/default.jpg.png", v, NULL), 400);
        DQ_CHECK_INT(P("full/max/0/default.jpg ", v, NULL), 400);
    }
    DQ_CHECK_STR(dq_iiif_format_mime(DQ_FMT_JPG), "image/jpeg");
    DQ_CHECK_STR(dq_iiif_format_mime(DQ_FMT_PNG), "image/png");
    DQ_CHECK_STR(dq_iiif_format_mime(DQ_FMT_WEBP), "image/webp");
    DQ_CHECK_STR(dq_iiif_format_mime(DQ_FMT_TIF), "image/tiff");
    DQ_CHECK_STR(dq_iiif_format_mime(DQ_FMT_PDF), "application/pdf");
    DQ_CHECK_STR(dq_iiif_format_ext(DQ_FMT_WEBP), "webp");
    DQ_CHECK_STR(dq_iiif_format_ext(DQ_FMT_TIF), "tif");
    DQ_CHECK(dq_iiif_format_mime(-1) == NULL && dq_iiif_format_mime(7) == NULL);
    DQ_CHECK(dq_iiif_format_ext(99) == NULL && dq_iiif_quality_name(4) == NULL);
}

/* ---------------------------------------------------------------- 2.1 examples */

DQ_TEST(spec21_examples)
{
    dq_iiif_req_t r;
    DQ_CHECK_INT(P("full/full/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(r.size_kind, DQ_SIZE_FULL);
    DQ_CHECK_INT(r.version, DQ_IIIF_V2);
    /* 2.1 added "max" and "square" */
    DQ_CHECK_INT(P("full/max/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(r.size_kind, DQ_SIZE_MAX);
    DQ_CHECK_INT(P("square/full/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(r.region_kind, DQ_REGION_SQUARE);
    DQ_CHECK_INT(P("125,15,120,140/full/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("pct:41.6,7.5,40,70/full/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("125,15,200,200/full/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("pct:41.6,7.5,66.6,100/full/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("full/150,/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_W && r.sw == 150);
    DQ_CHECK_INT(P("full/,150/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("full/pct:50/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("full/225,100/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(P("full/!225,100/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK_INT(r.size_kind, DQ_SIZE_BEST);
    DQ_CHECK_INT(P("125,15,120,140/90,/!345/gray.jpg", DQ_IIIF_V2, &r), 0);
    /* 2.1 §4.2 lets the server scale above full size without any marker */
    DQ_CHECK_INT(P("full/pct:200/0/default.jpg", DQ_IIIF_V2, &r), 0);
    DQ_CHECK(r.spct == 200 && !r.upscale);
    /* '^' is 3.0 syntax */
    DQ_CHECK_INT(P("full/^max/0/default.jpg", DQ_IIIF_V2, NULL), 400);
    DQ_CHECK_INT(P("full/^150,/0/default.jpg", DQ_IIIF_V2, NULL), 400);
    DQ_CHECK_INT(P("full/^pct:50/0/default.jpg", DQ_IIIF_V2, NULL), 400);
}

/* ---------------------------------------------------------------- validator requests */

DQ_TEST(validator_requests)
{
    dq_iiif_req_t r;
    char buf[128];
    for (int v = 2; v <= 3; v++) {
        const char *sz = v == 3 ? "max" : "full";
        for (int x = 0; x < 10; x++) { /* region_percent, region_pixels */
            snprintf(buf, sizeof(buf), "pct:%d,%d,9,9/%s/0/default.jpg", x * 10 + 1, 91 - x * 10,
                     sz);
            DQ_CHECK_INT(P(buf, v, &r), 0);
            snprintf(buf, sizeof(buf), "%d,%d,74,74/%s/0/default.jpg", x * 100 + 13, x * 100 + 13,
                     sz);
            DQ_CHECK_INT(P(buf, v, &r), 0);
        }
        snprintf(buf, sizeof(buf), "square/%s/0/default.jpg", sz);
        DQ_CHECK_INT(P(buf, v, &r), 0);
        DQ_CHECK_INT(P("full/!500,600/0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/,600/0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/600,/0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/pct:60/0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("300,400,100,100/50,50/0/default.jpg", v, &r), 0);
        DQ_CHECK_INT(P("full/,1500/0/default.jpg", v, &r), 0); /* size_up: plan decides */
        snprintf(buf, sizeof(buf), "full/%s/!0/default.jpg", sz);
        DQ_CHECK_INT(P(buf, v, &r), 0);
        DQ_CHECK(r.mirror);
    }
    /* size_up's '^' forms */
    const char *up[] = {"^1500,1500", "^,1500",     "^1500,",     "^max",
                        "^pct:200",   "^!2000,500", "^!2000,3000"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(up); i++) {
        snprintf(buf, sizeof(buf), "full/%s/0/default.jpg", up[i]);
        DQ_CHECK_INT(P(buf, DQ_IIIF_V3, &r), 0);
        DQ_CHECK(r.upscale);
    }
    /* *_error_random: strings drawn from chr(48..122) with '/', '?', '#' replaced by '$' */
    const char *rand6[] = {"a$Zq:;", "QwErTy", "<=>@[]", "x_y`z^", "123456", "pct:ab",
                           "^^^^^^", "!!!!!!", "max123", "full:1", "9,9,9;", "0:0:0:"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(rand6); i++) {
        for (int v = 2; v <= 3; v++) {
            snprintf(buf, sizeof(buf), "%s/max/0/default.jpg", rand6[i]);
            DQ_CHECK_INT(P(buf, v, NULL), 400); /* region_error_random */
            snprintf(buf, sizeof(buf), "full/%s/0/default.jpg", rand6[i]);
            DQ_CHECK_INT(P(buf, v, NULL), 400); /* size_error_random */
            snprintf(buf, sizeof(buf), "full/max/0/%s.jpg", rand6[i]);
            DQ_CHECK_INT(P(buf, v, NULL), 400); /* quality_error_random */
        }
    }
    const char *rand4[] = {"abcd", "9999", "Z:;<", "36a0", "[]^_", "361.", "1234"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(rand4); i++) {
        snprintf(buf, sizeof(buf), "full/max/%s/default.jpg", rand4[i]);
        DQ_CHECK_INT(P(buf, DQ_IIIF_V3, NULL), 400); /* rot_error_random */
    }
    const char *rand3[] = {"abc", "J:P", "xyz", "9_9", "JPG", "Png", "@@@"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(rand3); i++) {
        snprintf(buf, sizeof(buf), "full/max/0/default.%s", rand3[i]);
        DQ_CHECK_INT(P(buf, DQ_IIIF_V3, NULL), 400); /* format_error_random: 400/415/503 */
    }
}

/* ---------------------------------------------------------------- malformed */

DQ_TEST(malformed_structure)
{
    const char *bad[] = {"",
                         "/",
                         "full/max/0",
                         "full/max/0/",
                         "/full/max/0/default.jpg",
                         "full//0/default.jpg",
                         "full/max//default.jpg",
                         "//max/0/default.jpg",
                         "full/max/0/default.jpg/",
                         "full/max/0/default.jpg/x",
                         "full/max/0/default.jpg?x=1",
                         "full%2Fmax/0/default.jpg",
                         "full/max%2F0/default.jpg/",
                         "full/max/0/default%2Ejpg%00",
                         "full/max/0/default.jpg%",
                         "full/max/0/default%2",
                         "FULL/max/0/default.jpg",
                         "full/MAX/0/default.jpg"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        for (int v = 2; v <= 3; v++) {
            int st = P(bad[i], v, NULL);
            if (st != 400)
                fprintf(stderr, "    [%s] v%d -> %d\n", bad[i], v, st);
            DQ_CHECK_INT(st, 400);
        }
    }
    /* escapes in parameters are decoded per segment */
    dq_iiif_req_t r;
    DQ_CHECK_INT(P("full/%5E%21360%2C360/%2190/default%2Ejpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.size_kind == DQ_SIZE_BEST && r.upscale && r.mirror && r.rotation == 90);
    DQ_CHECK_INT(P("pct%3A10,10,10,10/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(r.region_kind, DQ_REGION_PCT);
    /* a NUL inside the given length */
    const char nul[] = "full/max/0/de\0fault.jpg";
    dq_err_t err = {0};
    DQ_CHECK(dq_iiif_parse(nul, sizeof(nul) - 1, DQ_IIIF_V3, &r, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    /* an unknown version is a caller bug */
    DQ_CHECK_INT(P("full/max/0/default.jpg", 4, NULL), 500);
}

DQ_TEST(malformed_region)
{
    const char *bad[] = {"0,0,0,0",
                         "0,0,10,0",
                         "0,0,0,10",
                         "-1,0,10,10",
                         "0,-1,10,10",
                         "+5,0,10,10",
                         "1e3,0,10,10",
                         "0x10,0,10,10",
                         "0,0,10",
                         "0,0,10,10,10",
                         "0,0,10,",
                         ",0,10,10",
                         "0,,10,10",
                         "0,0,10.5,10",
                         "0.5,0,10,10",
                         " 0,0,10,10",
                         "0 ,0,10,10",
                         "99999999999999999999,0,10,10",
                         "0,0,99999999999999999999,10",
                         "pct:",
                         "pct:0,0,0,0",
                         "pct:0,0,10,0",
                         "pct:100,0,10,10",
                         "pct:0,100,10,10",
                         "pct:101,0,10,10",
                         "pct:-1,0,10,10",
                         "pct:0,0,1e2,10",
                         "pct:0,0,10",
                         "pct:0,0,10,10,",
                         "pct:.,0,10,10",
                         "pct:1..5,0,10,10",
                         "pct:0,0,+10,10",
                         "PCT:0,0,10,10",
                         "pct :0,0,10,10",
                         "pct:pct:0,0,1,1",
                         "squares",
                         "fullx",
                         "Square",
                         "!full",
                         "^full"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        char buf[256];
        for (int v = 2; v <= 3; v++) {
            snprintf(buf, sizeof(buf), "%s/max/0/default.jpg", bad[i]);
            int st = P(buf, v, NULL);
            if (st != 400)
                fprintf(stderr, "    [%s] v%d -> %d\n", buf, v, st);
            DQ_CHECK_INT(st, 400);
        }
    }
    /* accepted edge cases: leading zeros, widths past the edge (cropped by the plan), a pct
     * width above 100 (the spec's own pct:41.6,7.5,66.6,100 needs that), ".5" and "5." */
    dq_iiif_req_t r;
    DQ_CHECK_INT(P("007,0,10,10/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.rx == 7);
    DQ_CHECK_INT(P("0,0,9999999999,10/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(P("pct:0,0,150,150/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(P("pct:.5,5.,10,10/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.rx == 0.5 && r.ry == 5);
    DQ_CHECK_INT(P("pct:99.999,0,10,10/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK_INT(P("pct:0.0000000000000000000000001,0,10,10/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
}

DQ_TEST(malformed_size)
{
    const char *bad[] = {"0,",
                         ",0",
                         "0,0",
                         "0,10",
                         "10,0",
                         ",",
                         "",
                         "!",
                         "!,",
                         "!10,",
                         "!,10",
                         "!0,10",
                         "!10,0",
                         "!!10,10",
                         "^",
                         "^^max",
                         "^!",
                         "!^10,10",
                         "max^",
                         "^ max",
                         "10",
                         "10,10,10",
                         "-10,",
                         ",-10",
                         "+10,",
                         "1e3,",
                         "0x10,",
                         "10.5,",
                         ",10.5",
                         "10,10.0",
                         "pct:",
                         "pct:0",
                         "pct:0.0",
                         "pct:-5",
                         "pct:+5",
                         "pct:1e2",
                         "pct:abc",
                         "pct:50,",
                         "pct:5 0",
                         "pct:101",
                         "pct:100.001",
                         "pct:200",
                         "Max",
                         "maximum",
                         "fulll",
                         "99999999999999999999,",
                         ",99999999999999999999",
                         "max,",
                         " 10,",
                         "10 ,",
                         "pct:99999999999999999999999"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "full/%s/0/default.jpg", bad[i]);
        int st = P(buf, DQ_IIIF_V3, NULL);
        if (st != 400)
            fprintf(stderr, "    [%s] v3 -> %d\n", buf, st);
        DQ_CHECK_INT(st, 400);
    }
    /* in 2.1 the pct above 100 forms are valid; the rest stay bad */
    DQ_CHECK_INT(P("full/pct:101/0/default.jpg", DQ_IIIF_V2, NULL), 0);
    DQ_CHECK_INT(P("full/pct:0/0/default.jpg", DQ_IIIF_V2, NULL), 400);
    DQ_CHECK_INT(P("full/!10,/0/default.jpg", DQ_IIIF_V2, NULL), 400);
    DQ_CHECK_INT(P("full/0,/0/default.jpg", DQ_IIIF_V2, NULL), 400);
    /* '^' with pct above 100 is fine in 3.0 */
    DQ_CHECK_INT(P("full/^pct:100.001/0/default.jpg", DQ_IIIF_V3, NULL), 0);
    DQ_CHECK_INT(P("full/pct:100/0/default.jpg", DQ_IIIF_V3, NULL), 0);
    DQ_CHECK_INT(P("full/pct:0.5/0/default.jpg", DQ_IIIF_V3, NULL), 0);
    /* big but well-formed pixel sizes parse; the plan answers 403 */
    DQ_CHECK_INT(P("full/^9999999999999999999,/0/default.jpg", DQ_IIIF_V3, NULL), 0);
    DQ_CHECK_INT(P("full/2457600,1200/0/default.jpg", DQ_IIIF_V2, NULL), 0);
}

DQ_TEST(parse_clears_request)
{
    dq_iiif_req_t r;
    memset(&r, 0x5a, sizeof(r));
    DQ_CHECK_INT(P("full/max/0/default.jpg", DQ_IIIF_V3, &r), 0);
    DQ_CHECK(r.rx == 0 && r.sw == 0 && r.spct == 0 && r.upscale == 0 && r.mirror == 0);
}
