/*
 * test_content_state.c: IIIF Content State 1.0 in iiif/content_state.c: the §2.3 encoding
 * against hand-computed vectors (encodeURIComponent, then base64url without padding),
 * round trips of Chinese text, liberal decoding (padding, standard base64), bad input, and
 * reading the §2.2 forms (Annotation, bare Canvas, plain URI) into a region.
 */
#include "dq_test.h"

#include <jansson.h>

#include "iiif/iiif.h"

static char *enc(const char *s)
{
    dq_buf_t b = {0};
    dq_iiif_content_state_encode(s, strlen(s), &b);
    return b.data ? dq_buf_steal(&b, NULL) : dq_xstrdup("");
}

static char *dec(const char *s, int *status)
{
    dq_err_t err = {0};
    char *r = dq_iiif_content_state_decode(s, strlen(s), NULL, &err);
    *status = r ? 0 : err.http_status;
    return r;
}

DQ_TEST(encode_vectors)
{
    /* "{}" is URI-encoded to "%7B%7D" (6 bytes: no padding needed) = "JTdCJTdE" */
    char *e = enc("{}");
    DQ_CHECK_STR(e, "JTdCJTdE");
    free(e);
    /* "a" -> "a" -> base64 "YQ==" -> "YQ" */
    e = enc("a");
    DQ_CHECK_STR(e, "YQ");
    free(e);
    /* "ab" -> "YWI=" -> "YWI"; unreserved punctuation stays as it is */
    e = enc("ab");
    DQ_CHECK_STR(e, "YWI");
    free(e);
    e = enc("");
    DQ_CHECK_STR(e, "");
    free(e);
    /* 船 is E8 88 B9 -> "%E8%88%B9" -> base64 of that */
    e = enc("\xe8\x88\xb9");
    DQ_CHECK_STR(e, "JUU4JTg4JUI5");
    free(e);
}

DQ_TEST(round_trip_chinese)
{
    const char *docs[] = {"{\"label\":{\"zh\":[\"清明上河图：虹桥下的船\"]}}",
                          "a",
                          "ab",
                          "abc",
                          "x y+z/?&=#%",
                          "\xf0\x9f\x8c\x8a wave"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++) {
        char *e = enc(docs[i]);
        DQ_CHECK(strspn(e, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                 strlen(e));
        int st = 0;
        char *d = dec(e, &st);
        DQ_CHECK_STR(d, docs[i]);
        free(d);
        /* with padding re-added, and in standard base64's alphabet */
        dq_buf_t p = {0};
        dq_buf_puts(&p, e);
        while (p.len % 4)
            dq_buf_putc(&p, '=');
        for (size_t k = 0; k < p.len; k++)
            p.data[k] = p.data[k] == '-' ? '+' : p.data[k] == '_' ? '/' : p.data[k];
        d = dec(p.data, &st);
        DQ_CHECK_STR(d, docs[i]);
        free(d);
        dq_buf_free(&p);
        free(e);
    }
}

DQ_TEST(decode_rejects)
{
    int st = 0;
    char *d = dec("%%%%", &st);
    DQ_CHECK(d == NULL && st == 400);
    d = dec("A", &st); /* one leftover character cannot hold a byte */
    DQ_CHECK(d == NULL && st == 400);
    d = dec("JUU", &st); /* "%E" : a broken percent escape */
    DQ_CHECK(d == NULL && st == 400);
    free(d);
}

static int read_state(const char *json, dq_iiif_region_ref_t *r)
{
    dq_err_t err = {0};
    return dq_iiif_content_state_read(json, strlen(json), r, &err) < 0 ? -err.http_status : 0;
}

DQ_TEST(read_forms)
{
    dq_buf_t b = {0};
    int xywh[4] = {10, 20, 300, 200};
    dq_iiif_content_state_region("http://h:1", "dq-2026-0001", 2, xywh, &b);
    json_t *j = json_loads(b.data, 0, NULL);
    DQ_REQUIRE(j);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "type")), "Annotation");
    /* issue 10: Presentation 3 requires an id on every Annotation */
    DQ_CHECK_STR(json_string_value(json_object_get(j, "id")),
                 "http://h:1/iiif/presentation/3/dq-2026-0001/canvas/2/view/10,20,300,200");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(j, "motivation"), 0)),
                 "contentState");
    json_t *t = json_object_get(j, "target");
    DQ_CHECK_STR(json_string_value(json_object_get(t, "id")),
                 "http://h:1/iiif/presentation/3/dq-2026-0001/canvas/2#xywh=10,20,300,200");
    DQ_CHECK_STR(
        json_string_value(json_object_get(json_array_get(json_object_get(t, "partOf"), 0), "id")),
        "http://h:1/iiif/presentation/3/dq-2026-0001/manifest");
    dq_iiif_region_ref_t r;
    DQ_REQUIRE(read_state(b.data, &r) == 0);
    DQ_CHECK_STR(r.relic_id, "dq-2026-0001");
    DQ_CHECK_INT(r.canvas, 2);
    DQ_CHECK_INT(r.xywh[0], 10);
    DQ_CHECK_INT(r.xywh[3], 200);
    /* a bare Canvas, a plain URI (pixel: prefix), a percent-encoded relic id */
    DQ_CHECK_INT(read_state("{\"id\":\"http://x/iiif/presentation/3/a/canvas/1#xywh=1,2,3,4\","
                            "\"type\":\"Canvas\"}",
                            &r),
                 0);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a%20b/canvas/3#xywh=pixel:0,0,5,6", &r),
                 0);
    DQ_CHECK_STR(r.relic_id, "a b");
    DQ_CHECK_INT(r.canvas, 3);
    /* not regions */
    DQ_CHECK_INT(read_state("{\"type\":\"Annotation\",\"motivation\":\"painting\",\"target\":"
                            "\"http://x/iiif/presentation/3/a/canvas/1#xywh=1,2,3,4\"}",
                            &r),
                 -422);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a/canvas/1", &r), -422);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a/canvas/1#xywh=percent:1,2,3,4", &r),
                 -422);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a/canvas/0#xywh=1,2,3,4", &r), -422);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a/canvas/1#xywh=1,2,0,4", &r), -422);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a/canvas/1#xywh=1,2,3", &r), -422);
    DQ_CHECK_INT(read_state("http://x/iiif/presentation/3/a/manifest#xywh=1,2,3,4", &r), -422);
    DQ_CHECK_INT(read_state("{\"type\":\"Manifest\",\"id\":\"http://x/iiif/presentation/3/a/"
                            "canvas/1#xywh=1,2,3,4\"}",
                            &r),
                 -422);
    DQ_CHECK_INT(read_state("{not json", &r), -400);
    json_decref(j);
    dq_buf_free(&b);
}
