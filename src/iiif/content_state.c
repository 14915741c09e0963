/*
 * content_state.c: IIIF Content State API 1.0, the part danqing needs to share a view of a
 * region: the content state of "this region of this canvas of this manifest" as JSON (§2.2,
 * an Annotation with motivation contentState whose target is the Canvas with an xywh
 * fragment and partOf the Manifest), its encoding for URLs (§2.3) and the decoding and
 * reading of one that a client sends (any of the §2.2 forms that name a canvas region).
 * Pure functions: no I/O, no catalog; checking that the relic exists is the caller's job.
 */
#include "iiif.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT "http://iiif.io/api/presentation/3/context.json"
#define MAX_ENCODED (64 * 1024) /* a content state is a few hundred bytes */

/* ---------------------------------------------------------------- §2.3 encoding */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* encodeURIComponent (ECMA-262 §19.2.6.5) first: every byte except the unreserved set
 * A-Z a-z 0-9 - _ . ! ~ * ' ( ) becomes %XX. §2.3 asks for this step so that the base64
 * input is ASCII, which is what browsers' btoa() can take. */
void dq_iiif_content_state_encode(const char *json, size_t len, dq_buf_t *out)
{
    dq_buf_t u = {0};
    dq_buf_pct_encode(&u, json, len, DQ_PCT_URI_COMPONENT);
    /* base64url (RFC 4648 §5) without '=' padding: 3 bytes -> 4 characters; a final group
     * of 1 or 2 bytes gives 2 or 3 characters. */
    const unsigned char *p = (const unsigned char *)u.data;
    size_t n = u.len, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        dq_buf_putc(out, b64url[v >> 18]);
        dq_buf_putc(out, b64url[(v >> 12) & 63]);
        dq_buf_putc(out, b64url[(v >> 6) & 63]);
        dq_buf_putc(out, b64url[v & 63]);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        dq_buf_putc(out, b64url[v >> 18]);
        dq_buf_putc(out, b64url[(v >> 12) & 63]);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        dq_buf_putc(out, b64url[v >> 18]);
        dq_buf_putc(out, b64url[(v >> 12) & 63]);
        dq_buf_putc(out, b64url[(v >> 6) & 63]);
    }
    dq_buf_free(&u);
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    if (p)
        return (int)(p - b64url);
    /* Be liberal in what we accept: standard base64's + and / too. */
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

char *dq_iiif_content_state_decode(const char *enc, size_t len, size_t *out_len, dq_err_t *err)
{
    dq_buf_t raw = {0};
    char *res = NULL;
    if (len > MAX_ENCODED) {
        dq_err_set(err, DQ_ELIMIT, 400, "content state: longer than 64 KiB");
        goto out;
    }
    while (len && enc[len - 1] == '=') /* padding is optional (§2.3 strips it) */
        len--;
    if (len % 4 == 1) {
        dq_err_set(err, DQ_EINVAL, 400, "content state: not base64url");
        goto out;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(enc[i]);
        if (v < 0) {
            dq_err_set(err, DQ_EINVAL, 400, "content state: not base64url");
            goto out;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dq_buf_putc(&raw, (char)((acc >> bits) & 0xff));
        }
    }
    /* The base64 payload is the URI-encoded JSON: undo encodeURIComponent. */
    res = dq_str_pct_decode(raw.data ? raw.data : "", raw.len, err);
    if (!res) {
        err->http_status = 400;
        goto out;
    }
    if (out_len)
        *out_len = strlen(res);
out:
    dq_buf_free(&raw);
    return res;
}

/* ---------------------------------------------------------------- §2.2 the document */

void dq_iiif_canvas_id(const char *base_url, const char *relic_id, int canvas, dq_buf_t *out)
{
    dq_buf_printf(out, "%s/iiif/presentation/3/", base_url);
    dq_buf_url_segment(out, relic_id);
    dq_buf_printf(out, "/canvas/%d", canvas);
}

void dq_iiif_content_state_region(const char *base_url, const char *relic_id, int canvas,
                                  const int xywh[4], dq_buf_t *out)
{
    dq_buf_t cid = {0}, mid = {0}, aid = {0};
    dq_iiif_canvas_id(base_url, relic_id, canvas, &cid);
    /* Presentation 3 §3.4 (and its schema) require an id on every Annotation: the view's own
     * URI, under its canvas and named by the region, so equal views have equal ids. It is an
     * identifier; nothing is served there. web/js/contentstate.js builds the same. */
    dq_buf_printf(&aid, "%s/view/%d,%d,%d,%d", cid.data, xywh[0], xywh[1], xywh[2], xywh[3]);
    dq_buf_printf(&cid, "#xywh=%d,%d,%d,%d", xywh[0], xywh[1], xywh[2], xywh[3]);
    dq_buf_printf(&mid, "%s/iiif/presentation/3/", base_url);
    dq_buf_url_segment(&mid, relic_id);
    dq_buf_puts(&mid, "/manifest");
    json_t *a = json_pack("{s:s, s:s, s:s, s:[s], s:{s:s, s:s, s:[{s:s, s:s}]}}", "@context",
                          CONTEXT, "id", aid.data, "type", "Annotation", "motivation",
                          "contentState", "target", "id",
                          cid.data, "type", "Canvas", "partOf", "id", mid.data, "type", "Manifest");
    DQ_ASSERT(a != NULL);
    char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
    DQ_ASSERT(s != NULL);
    dq_buf_puts(out, s);
    free(s);
    json_decref(a);
    dq_buf_free(&cid);
    dq_buf_free(&mid);
    dq_buf_free(&aid);
}

/* Reads "…/iiif/presentation/3/{relic}/canvas/{n}#xywh=x,y,w,h" (relic percent-decoded). */
static int parse_canvas_ref(const char *id, dq_iiif_region_ref_t *r, dq_err_t *err)
{
    const char *hash = strchr(id, '#');
    const char *key = "/iiif/presentation/3/";
    const char *p = strstr(id, key);
    if (!p || !hash || hash < p)
        return dq_err_set(err, DQ_EINVAL, 422,
                          "content state: the target is not a canvas region of this server");
    p += strlen(key);
    const char *slash = strchr(p, '/');
    if (!slash || slash > hash || strncmp(slash, "/canvas/", 8) != 0)
        return dq_err_set(err, DQ_EINVAL, 422, "content state: the target is not a canvas");
    char *relic = dq_str_pct_decode(p, (size_t)(slash - p), err);
    if (!relic)
        return dq_err_set(err, DQ_EINVAL, 422, "content state: bad relic id");
    snprintf(r->relic_id, sizeof(r->relic_id), "%s", relic);
    free(relic);
    uint64_t n = 0;
    const char *num = slash + 8;
    if (dq_str_to_u64(num, (size_t)(hash - num), &n) < 0 || n < 1 || n > 100000)
        return dq_err_set(err, DQ_EINVAL, 422, "content state: bad canvas number");
    r->canvas = (int)n;
    /* Media Fragments §4.2.2: xywh=[pixel:]x,y,w,h; percent regions are not ours. */
    const char *f = hash + 1;
    if (strncmp(f, "xywh=", 5) != 0)
        return dq_err_set(err, DQ_EINVAL, 422, "content state: the target has no xywh region");
    f += 5;
    if (strncmp(f, "pixel:", 6) == 0)
        f += 6;
    for (int i = 0; i < 4; i++) {
        size_t k = strcspn(f, ",");
        uint64_t v;
        if ((i < 3 && f[k] != ',') || (i == 3 && f[k] != '\0') || dq_str_to_u64(f, k, &v) < 0 ||
            v > 1000000000 || (i >= 2 && v == 0))
            return dq_err_set(err, DQ_EINVAL, 422, "content state: bad xywh region");
        r->xywh[i] = (int)v;
        f += k + (i < 3 ? 1 : 0);
    }
    return 0;
}

int dq_iiif_content_state_read(const char *json, size_t len, dq_iiif_region_ref_t *out,
                               dq_err_t *err)
{
    json_t *j = NULL;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    /* §2.2: a plain URI is a content state too. */
    if (len && json[0] != '{') {
        char *s = dq_xstrndup(json, len);
        rc = parse_canvas_ref(s, out, err);
        free(s);
        return rc;
    }
    j = json_loadb(json, len, 0, NULL);
    if (!json_is_object(j)) {
        dq_err_set(err, DQ_EINVAL, 400, "content state: not JSON");
        goto out;
    }
    /* The full form is an Annotation whose target is the resource; a bare resource (a Canvas
     * with partOf) is allowed too. */
    const json_t *t = j;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type && strcmp(type, "Annotation") == 0) {
        const json_t *m = json_object_get(j, "motivation");
        int ok = json_is_string(m) && strcmp(json_string_value(m), "contentState") == 0;
        size_t i;
        const json_t *e;
        json_array_foreach(m, i, e) ok |=
            json_is_string(e) && strcmp(json_string_value(e), "contentState") == 0;
        if (!ok) {
            dq_err_set(err, DQ_EINVAL, 422, "content state: motivation must be contentState");
            goto out;
        }
        t = json_object_get(j, "target");
        if (json_is_array(t)) /* several targets: we open the first */
            t = json_array_get(t, 0);
    }
    const char *tid =
        json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "id"));
    const char *ttype = json_string_value(json_object_get(t, "type"));
    if (!tid || (json_is_object(t) && ttype && strcmp(ttype, "Canvas") != 0)) {
        dq_err_set(err, DQ_EINVAL, 422, "content state: the target must be a Canvas");
        goto out;
    }
    if (parse_canvas_ref(tid, out, err) < 0)
        goto out;
    rc = 0;
out:
    json_decref(j);
    return rc;
}
