/*
 * test_auth.c: the IIIF Authorization Flow API 2.0 builders and parser (iiif/auth.c, issue
 * 16), read back with jansson against what the specification requires: the service
 * descriptions nested probe > access > token + logout (§2.1, §3.1, §4.1, §6.1) with the
 * active profile's texts in zh and en, probe results (§5.2: status, heading and note only when
 * refused, never a location for 200), token messages and errors (§4.4, §4.5), the origin
 * and messageId parser (§4.2), the page whose one script the Content-Security-Policy allows by
 * hash, and hostile messageIds that stay text.
 */
#include "dq_test.h"

#include "iiif/iiif.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BASE "http://example.org:8080"

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fprintf(stderr, "bad json: %s in %s\n", je.text, s);
    DQ_REQUIRE(j);
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int lmap_ok(const json_t *o, const char *k)
{
    const json_t *m = json_object_get(o, k);
    return json_is_string(json_array_get(json_object_get(m, "en"), 0)) &&
           json_is_string(json_array_get(json_object_get(m, "zh"), 0));
}

DQ_TEST(services_nest_as_section_2_1_says)
{
    dq_buf_t b = {0};
    dq_iiif_auth_services(BASE, "a b/c", 0, &b);
    json_t *a = parse(b.data);
    DQ_REQUIRE(json_array_size(a) == 1);
    json_t *probe = json_array_get(a, 0);
    DQ_CHECK_STR(jstr(probe, "type"), "AuthProbeService2");
    DQ_CHECK_STR(jstr(probe, "id"), BASE "/iiif/auth/2/probe/a%20b%2Fc"); /* one segment */
    DQ_CHECK(json_object_get(probe, "@context") == NULL);
    json_t *acc = json_array_get(json_object_get(probe, "service"), 0);
    DQ_CHECK_STR(jstr(acc, "type"), "AuthAccessService2");
    DQ_CHECK_STR(jstr(acc, "profile"), "active");
    DQ_CHECK_STR(jstr(acc, "id"), BASE "/iiif/auth/2/access");
    DQ_CHECK(lmap_ok(acc, "label") && lmap_ok(acc, "heading") && lmap_ok(acc, "note") &&
             lmap_ok(acc, "confirmLabel"));
    json_t *inner = json_object_get(acc, "service");
    DQ_REQUIRE(json_array_size(inner) == 2);
    json_t *tok = json_array_get(inner, 0), *out = json_array_get(inner, 1);
    DQ_CHECK_STR(jstr(tok, "type"), "AuthAccessTokenService2");
    DQ_CHECK_STR(jstr(tok, "id"), BASE "/iiif/auth/2/token");
    DQ_CHECK(lmap_ok(tok, "errorHeading") && lmap_ok(tok, "errorNote"));
    DQ_CHECK_STR(jstr(out, "type"), "AuthLogoutService2");
    DQ_CHECK_STR(jstr(out, "id"), BASE "/iiif/auth/2/logout");
    DQ_CHECK(lmap_ok(out, "label"));
    json_decref(a);
    dq_buf_reset(&b);
    dq_iiif_auth_services(BASE, "x", 1, &b);
    a = parse(b.data);
    DQ_CHECK_STR(jstr(json_array_get(a, 0), "@context"), DQ_IIIF_AUTH_CONTEXT);
    json_decref(a);
    dq_buf_free(&b);
}

DQ_TEST(info_json_lists_the_auth_context_first)
{
    dq_iiif_image_t img = {.width = 1000,
                           .height = 500,
                           .tile_w = 256,
                           .tile_h = 256,
                           .n_levels = 1,
                           .levels = {{1000, 500}}};
    dq_buf_t svc = {0}, b = {0};
    dq_iiif_info_json(&img, BASE "/iiif/3/x", DQ_IIIF_V3, &b);
    json_t *j = parse(b.data);
    DQ_CHECK(json_is_string(json_object_get(j, "@context")) && !json_object_get(j, "service"));
    json_decref(j);
    dq_iiif_auth_services(BASE, "x", 0, &svc);
    img.auth_services = svc.data;
    dq_buf_reset(&b);
    dq_iiif_info_json(&img, BASE "/iiif/3/x", DQ_IIIF_V3, &b);
    j = parse(b.data);
    json_t *ctx = json_object_get(j, "@context");
    DQ_CHECK(json_array_size(ctx) == 2);
    DQ_CHECK_STR(json_string_value(json_array_get(ctx, 0)), DQ_IIIF_AUTH_CONTEXT);
    DQ_CHECK_STR(json_string_value(json_array_get(ctx, 1)),
                 "http://iiif.io/api/image/3/context.json");
    DQ_CHECK_STR(jstr(json_array_get(json_object_get(j, "service"), 0), "type"),
                 "AuthProbeService2");
    json_decref(j);
    dq_buf_reset(&b);
    dq_iiif_info_json(&img, BASE "/iiif/2/x", DQ_IIIF_V2, &b);
    j = parse(b.data); /* 2.1: the context stays a string; the service is there */
    DQ_CHECK(json_is_string(json_object_get(j, "@context")));
    DQ_CHECK(json_array_size(json_object_get(j, "service")) == 1);
    json_decref(j);
    dq_buf_free(&b);
    dq_buf_free(&svc);
}

DQ_TEST(probe_results)
{
    dq_buf_t b = {0};
    dq_iiif_auth_probe_result(0, &b);
    json_t *j = parse(b.data);
    DQ_CHECK_STR(jstr(j, "@context"), DQ_IIIF_AUTH_CONTEXT);
    DQ_CHECK_STR(jstr(j, "type"), "AuthProbeResult2");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "status")), 200);
    /* §5.2: location only with a 30x; heading and note only when refused */
    DQ_CHECK(!json_object_get(j, "location") && !json_object_get(j, "heading"));
    json_decref(j);
    char *seen[4] = {0};
    for (int why = DQ_IIIF_PROBE_NO_TOKEN; why <= DQ_IIIF_PROBE_NOT_ALLOWED; why++) {
        dq_buf_reset(&b);
        dq_iiif_auth_probe_result(why, &b);
        j = parse(b.data);
        DQ_CHECK_INT(json_integer_value(json_object_get(j, "status")), 401);
        DQ_CHECK(lmap_ok(j, "heading") && lmap_ok(j, "note"));
        seen[why - 1] = strdup(json_string_value(
            json_array_get(json_object_get(json_object_get(j, "heading"), "en"), 0)));
        json_decref(j);
    }
    for (int i = 0; i < 4; i++)
        for (int k = i + 1; k < 4; k++)
            DQ_CHECK(strcmp(seen[i], seen[k]) != 0); /* each reason says something different */
    for (int i = 0; i < 4; i++)
        free(seen[i]);
    dq_buf_free(&b);
}

DQ_TEST(origins)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        {"https://client.example.org", "https://client.example.org"},
        {"HTTP://Viewer.Example:9000", "http://viewer.example:9000"},
        {"http://127.0.0.1:65535", "http://127.0.0.1:65535"},
        {"http://[::1]:8080", "http://[::1]:8080"},
        {"https://xn--fiq228c.example", "https://xn--fiq228c.example"},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(good); i++) {
        char out[DQ_IIIF_AUTH_ORIGIN_MAX + 1];
        DQ_CHECK(dq_iiif_auth_origin_check(good[i].in, strlen(good[i].in), out) == 1);
        DQ_CHECK_STR(out, good[i].out);
    }
    static const char *const bad[] = {
        "",
        "null",
        "*",
        "javascript:alert(1)",
        "ftp://x.org",
        "https://",
        "https://x.org/",
        "https://x.org/path",
        "https://x.org?q",
        "https://x.org#f",
        "https://u@x.org",
        "https://x.org:0",
        "https://x.org:65536",
        "https://x.org:080",
        "https://x.org:",
        "https://x.org:123456",
        "https://[::1",
        "https://[]",
        "https://.x.org",
        "https://-x.org",
        "https://x.org\"",
        "https://x.org'",
        "https://x.org<",
        "https://x .org",
        "//x.org",
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        if (dq_iiif_auth_origin_check(bad[i], strlen(bad[i]), NULL))
            fprintf(stderr, "accepted %s\n", bad[i]);
        DQ_CHECK(dq_iiif_auth_origin_check(bad[i], strlen(bad[i]), NULL) == 0);
    }
    char longer[400];
    memset(longer, 'a', sizeof(longer));
    memcpy(longer, "https://", 8);
    DQ_CHECK(dq_iiif_auth_origin_check(longer, 300, NULL) == 0);
}

DQ_TEST(query)
{
    dq_iiif_auth_query_t q;
    dq_err_t err = {0};
    DQ_CHECK(dq_iiif_auth_query_parse("ae%203415", "https%3A%2F%2Fclient.example.org", &q, &err) ==
             0);
    DQ_CHECK(q.has_message_id && q.has_origin);
    DQ_CHECK_STR(q.message_id, "ae 3415");
    DQ_CHECK_STR(q.origin, "https://client.example.org");
    DQ_CHECK(dq_iiif_auth_query_parse("%E4%B8%B9%E9%9D%92", "http://a.b", &q, &err) == 0);
    DQ_CHECK_STR(q.message_id, "丹青");
    /* missing or bad: 400, and the flags say what is still usable */
    DQ_CHECK(dq_iiif_auth_query_parse(NULL, "http://a.b", &q, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    DQ_CHECK(!q.has_message_id && q.has_origin);
    DQ_CHECK(dq_iiif_auth_query_parse("m", NULL, &q, &err) < 0);
    DQ_CHECK(q.has_message_id && !q.has_origin);
    DQ_CHECK(dq_iiif_auth_query_parse("m", "http%3A%2F%2Fa.b%2Fpath", &q, &err) < 0);
    DQ_CHECK(!q.has_origin);
    static const char *const bad_ids[] = {"",       "%00",       "a%0Ab",        "%7F",
                                          "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "%E4%B8",
                                          "%FF",    "%",         "%zz"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad_ids); i++) {
        DQ_CHECK(dq_iiif_auth_query_parse(bad_ids[i], "http://a.b", &q, &err) < 0);
        DQ_CHECK(!q.has_message_id && q.has_origin);
    }
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[256] = '\0';
    DQ_CHECK(dq_iiif_auth_query_parse(big, "http://a.b", &q, &err) < 0);
    big[255] = '\0';
    DQ_CHECK(dq_iiif_auth_query_parse(big, "http://a.b", &q, &err) == 0);
}

/* The data block's JSON and the one script of a token page. */
static json_t *page_data(const char *page, char **script)
{
    const char *open = "<script type=\"application/json\" id=\"m\">";
    const char *a = strstr(page, open);
    DQ_REQUIRE(a);
    a += strlen(open);
    const char *e = strstr(a, "</script>");
    DQ_REQUIRE(e);
    char *text = dq_xstrndup(a, (size_t)(e - a));
    json_t *j = parse(text);
    free(text);
    const char *s = strstr(e, "<script>");
    DQ_REQUIRE(s);
    s += 8;
    const char *se = strstr(s, "</script>");
    DQ_REQUIRE(se);
    *script = dq_xstrndup(s, (size_t)(se - s));
    return j;
}

/* RFC 4648 §4 base64 of n bytes (for the CSP hash). */
static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

DQ_TEST(token_page_posts_the_message_and_its_script_is_the_one_the_csp_allows)
{
    dq_buf_t msg = {0}, page = {0};
    dq_iiif_auth_token_message("ae3415", "dqt_secret", 600, &msg);
    dq_iiif_auth_token_page(msg.data, "https://client.example.org", &page);
    char *script = NULL;
    json_t *d = page_data(page.data, &script);
    DQ_CHECK_STR(jstr(d, "origin"), "https://client.example.org");
    json_t *m = json_object_get(d, "message");
    DQ_CHECK_STR(jstr(m, "@context"), DQ_IIIF_AUTH_CONTEXT);
    DQ_CHECK_STR(jstr(m, "type"), "AuthAccessToken2");
    DQ_CHECK_STR(jstr(m, "messageId"), "ae3415");
    DQ_CHECK_STR(jstr(m, "accessToken"), "dqt_secret");
    DQ_CHECK_INT(json_integer_value(json_object_get(m, "expiresIn")), 600);
    DQ_CHECK(strstr(script, "postMessage(d.message,d.origin)") != NULL);
    /* The CSP names the script by its SHA-256 (CSP Level 3 §8.4 hash-source). */
    char hex[65];
    unsigned char raw[32];
    dq_sha256_buf(script, strlen(script), hex);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
    char h64[64], want[96];
    b64(raw, 32, h64);
    snprintf(want, sizeof(want), "'sha256-%s'", h64);
    DQ_CHECK(strstr(dq_iiif_auth_token_csp, want) != NULL);
    DQ_CHECK(strstr(dq_iiif_auth_token_csp, "default-src 'none'") != NULL);
    free(script);
    json_decref(d);

    /* Errors: every profile of §4.5, with heading and note; an unknown one is "unavailable". */
    static const char *const profiles[] = {"invalidRequest", "invalidOrigin", "missingAspect",
                                           "expiredAspect",  "invalidAspect", "unavailable"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(profiles); i++) {
        dq_buf_reset(&msg);
        dq_iiif_auth_token_error("m9", profiles[i], &msg);
        json_t *e = parse(msg.data);
        DQ_CHECK_STR(jstr(e, "type"), "AuthAccessTokenError2");
        DQ_CHECK_STR(jstr(e, "profile"), profiles[i]);
        DQ_CHECK_STR(jstr(e, "messageId"), "m9");
        DQ_CHECK(lmap_ok(e, "heading") && lmap_ok(e, "note") && !json_object_get(e, "accessToken"));
        json_decref(e);
    }
    dq_buf_reset(&msg);
    dq_iiif_auth_token_error(NULL, "nonsense", &msg);
    json_t *e = parse(msg.data);
    DQ_CHECK_STR(jstr(e, "profile"), "unavailable");
    DQ_CHECK_STR(jstr(e, "messageId"), "");
    json_decref(e);

    /* No origin: nothing is posted. */
    dq_buf_reset(&page);
    dq_iiif_auth_token_page(msg.data, NULL, &page);
    DQ_CHECK(strstr(page.data, "<script") == NULL);
    dq_buf_free(&msg);
    dq_buf_free(&page);
}

DQ_TEST(hostile_message_ids_stay_text)
{
    static const char *const evil[] = {"</script><script>alert(1)</script>", "<!--", "]]>",
                                       "\"'&<>\\", "\xe2\x80\xa8\xe2\x80\xa9"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(evil); i++) {
        dq_buf_t msg = {0}, page = {0};
        dq_iiif_auth_token_error(evil[i], "missingAspect", &msg);
        dq_iiif_auth_token_page(msg.data, "http://a.b", &page);
        /* exactly the two script elements we wrote */
        int n = 0;
        for (const char *p = page.data; (p = strstr(p, "</script")); p++)
            n++;
        DQ_CHECK_INT(n, 2);
        DQ_CHECK(strstr(page.data, "<!--") == NULL);
        char *script = NULL;
        json_t *d = page_data(page.data, &script);
        DQ_CHECK_STR(jstr(json_object_get(d, "message"), "messageId"), evil[i]);
        free(script);
        json_decref(d);
        dq_buf_free(&msg);
        dq_buf_free(&page);
    }
}
