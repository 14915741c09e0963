/*
 * parse.c: "region/size/rotation/quality.format" into a dq_iiif_req_t, for
 * Image API 3.0 and 2.1. Syntax only: whether a region lies inside the image or
 * a size needs upscaling is decided by dq_iiif_plan, which knows the image.
 * Numbers are strict: digits and at most one '.', no sign, exponent, hex,
 * blanks or more than 19 significant digits, so that "1e3", "+5", "0x10" and
 * 99999999999999999999 are all 400.
 */
#include "iiif/iiif.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- numbers */

/* A whole number of pixels: decimal digits only. */
static int parse_uint(const char *s, size_t len, double *out)
{
    uint64_t v;
    if (dq_str_to_u64(s, len, &v) < 0)
        return -1;
    *out = (double)v;
    return 0;
}

/* A non-negative decimal with an optional fraction (IIIF Image 3.0 §4.7: "only
 * of decimal digits and '.'"). ".5" and "5." are accepted as the clear, if
 * non-recommended, spellings. */
static int parse_float(const char *s, size_t len, double *out)
{
    uint64_t mant = 0;
    int n_digits = 0, n_frac = 0, seen_dot = 0;

    if (len == 0 || len > 40)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (seen_dot)
                return -1;
            seen_dot = 1;
            continue;
        }
        if (c < '0' || c > '9')
            return -1;
        if (mant == 0 && c == '0' && !seen_dot)
            continue; /* leading zeros carry nothing */
        if (n_digits >= 19) {
            /* Beyond 19 significant digits: ignore further fraction digits, refuse
             * larger integers (they cannot be a meaningful percentage or angle). */
            if (seen_dot)
                continue;
            return -1;
        }
        mant = mant * 10 + (uint64_t)(c - '0');
        n_digits++;
        if (seen_dot)
            n_frac++;
    }
    if (len == 1 && seen_dot)
        return -1; /* "." alone */
    double v = (double)mant;
    for (int i = 0; i < n_frac; i++)
        v /= 10.0;
    *out = v;
    return 0;
}

/* Splits s[0..len) at commas into exactly n parts. */
static int split_commas(const char *s, size_t len, int n, const char **part, size_t *part_len)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            if (k >= n)
                return -1;
            part[k] = s + start;
            part_len[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k == n ? 0 : -1;
}

/* ---------------------------------------------------------------- parameters
 */

/* IIIF Image 3.0 §4.1, 2.1 §4.1 */
static int parse_region(const char *s, size_t len, dq_iiif_req_t *req, dq_err_t *err)
{
    const char *p[4];
    size_t pl[4];

    if (len == 4 && memcmp(s, "full", 4) == 0) {
        req->region_kind = DQ_REGION_FULL;
        return 0;
    }
    if (len == 6 && memcmp(s, "square", 6) == 0) { /* 2.1 added "square"; 3.0 keeps it */
        req->region_kind = DQ_REGION_SQUARE;
        return 0;
    }
    double v[4];
    if (len > 4 && memcmp(s, "pct:", 4) == 0) {
        if (split_commas(s + 4, len - 4, 4, p, pl) < 0)
            goto bad;
        for (int i = 0; i < 4; i++)
            if (parse_float(p[i], pl[i], &v[i]) < 0)
                goto bad;
        if (v[0] >= 100.0 || v[1] >= 100.0)
            return dq_err_set(err, DQ_EINVAL, 400, "region starts outside the image");
        req->region_kind = DQ_REGION_PCT;
    } else {
        if (split_commas(s, len, 4, p, pl) < 0)
            goto bad;
        for (int i = 0; i < 4; i++)
            if (parse_uint(p[i], pl[i], &v[i]) < 0)
                goto bad;
        req->region_kind = DQ_REGION_PIXELS;
    }
    /* 3.0 §4.1: a zero width or height is a 400, whatever the image. */
    if (v[2] <= 0.0 || v[3] <= 0.0)
        return dq_err_set(err, DQ_EINVAL, 400, "region width and height must be positive");
    req->rx = v[0];
    req->ry = v[1];
    req->rw = v[2];
    req->rh = v[3];
    return 0;
bad:
    return dq_err_set(err, DQ_EINVAL, 400, "bad region \"%.*s\"", (int)DQ_MIN(len, 64), s);
}

/* IIIF Image 3.0 §4.2, 2.1 §4.2 */
static int parse_size(const char *s, size_t len, int version, dq_iiif_req_t *req, dq_err_t *err)
{
    const char *orig = s;
    size_t orig_len = len;
    const char *p[2];
    size_t pl[2];

    req->upscale = 0;
    if (len > 0 && s[0] == '^') {
        if (version != DQ_IIIF_V3)
            return dq_err_set(err, DQ_EINVAL, 400, "'^' (upscaling) is a 3.0 size form");
        req->upscale = 1;
        s++;
        len--;
    }
    if (len == 3 && memcmp(s, "max", 3) == 0) { /* 2.1 added "max" */
        req->size_kind = DQ_SIZE_MAX;
        return 0;
    }
    if (len == 4 && memcmp(s, "full", 4) == 0) {
        /* 3.0 replaced "full" by "max" (3.0 change log; validator size_nofull). */
        if (version != DQ_IIIF_V2 || req->upscale)
            return dq_err_set(err, DQ_EINVAL, 400, "size \"full\" is 2.x; use \"max\" in 3.0");
        req->size_kind = DQ_SIZE_FULL;
        return 0;
    }
    if (len > 4 && memcmp(s, "pct:", 4) == 0) {
        if (parse_float(s + 4, len - 4, &req->spct) < 0)
            goto bad;
        if (req->spct <= 0.0)
            return dq_err_set(err, DQ_EINVAL, 400, "size pct:n must be above 0");
        /* 3.0 §4.2: pct:n above 100 needs '^'; 2.1 allows scaling above full size.
         */
        if (version == DQ_IIIF_V3 && !req->upscale && req->spct > 100.0)
            return dq_err_set(err, DQ_EINVAL, 400, "pct:n above 100 needs '^' in 3.0");
        req->size_kind = DQ_SIZE_PCT;
        return 0;
    }
    int best = 0;
    if (len > 0 && s[0] == '!') {
        best = 1;
        s++;
        len--;
    }
    if (split_commas(s, len, 2, p, pl) < 0)
        goto bad;
    int has_w = pl[0] > 0, has_h = pl[1] > 0;
    if (!has_w && !has_h)
        goto bad;
    if (best && !(has_w && has_h))
        goto bad;
    if (has_w && parse_uint(p[0], pl[0], &req->sw) < 0)
        goto bad;
    if (has_h && parse_uint(p[1], pl[1], &req->sh) < 0)
        goto bad;
    if ((has_w && req->sw <= 0.0) || (has_h && req->sh <= 0.0))
        return dq_err_set(err, DQ_EINVAL, 400, "size must be at least 1 pixel");
    if (best)
        req->size_kind = DQ_SIZE_BEST;
    else if (has_w && has_h)
        req->size_kind = DQ_SIZE_WH;
    else if (has_w)
        req->size_kind = DQ_SIZE_W;
    else
        req->size_kind = DQ_SIZE_H;
    return 0;
bad:
    return dq_err_set(err, DQ_EINVAL, 400, "bad size \"%.*s\"", (int)DQ_MIN(orig_len, 64), orig);
}

/* IIIF Image 3.0 §4.3, 2.1 §4.3 */
static int parse_rotation(const char *s, size_t len, dq_iiif_req_t *req, dq_err_t *err)
{
    const char *orig = s;
    size_t orig_len = len;
    req->mirror = 0;
    if (len > 0 && s[0] == '!') {
        req->mirror = 1;
        s++;
        len--;
    }
    if (parse_float(s, len, &req->rotation) < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "bad rotation \"%.*s\"", (int)DQ_MIN(orig_len, 64),
                          orig);
    if (req->rotation > 360.0)
        return dq_err_set(err, DQ_EINVAL, 400, "rotation must be 0 to 360");
    return 0;
}

static const char *const quality_names[] = {"default", "color", "gray", "bitonal"};
static const char *const format_exts[] = {"jpg", "png", "webp", "tif", "gif", "jp2", "pdf"};
static const char *const format_mimes[] = {"image/jpeg",     "image/png", "image/webp",
                                           "image/tiff",     "image/gif", "image/jp2",
                                           "application/pdf"};

/* IIIF Image 3.0 §4.4 and §4.5 (2.1 the same): names are case-sensitive. */
static int parse_quality_format(const char *s, size_t len, dq_iiif_req_t *req, dq_err_t *err)
{
    const char *dot = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.')
            dot = s + i;
    if (!dot)
        return dq_err_set(err, DQ_EINVAL, 400, "missing format extension");
    size_t q_len = (size_t)(dot - s), f_len = len - q_len - 1;

    req->quality = -1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(quality_names); i++)
        if (strlen(quality_names[i]) == q_len && memcmp(quality_names[i], s, q_len) == 0)
            req->quality = (int)i;
    if (req->quality < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "unknown quality \"%.*s\"", (int)DQ_MIN(q_len, 64),
                          s);
    req->format = -1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(format_exts); i++)
        if (strlen(format_exts[i]) == f_len && memcmp(format_exts[i], dot + 1, f_len) == 0)
            req->format = (int)i;
    if (req->format < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "unknown format \"%.*s\"", (int)DQ_MIN(f_len, 64),
                          dot + 1);
    /* A valid IIIF format that this server does not produce: 3.0 §7.3 "501 Not
     * Implemented". */
    if (req->format == DQ_FMT_GIF || req->format == DQ_FMT_JP2 || req->format == DQ_FMT_PDF)
        return dq_err_set(err, DQ_EUNSUP, 501, "format %s is not produced by this server",
                          format_exts[req->format]);
    return 0;
}

int dq_iiif_parse(const char *params, size_t len, int version, dq_iiif_req_t *req, dq_err_t *err)
{
    int rc = -1;
    char *seg[4] = {NULL, NULL, NULL, NULL};
    size_t start = 0;
    int k = 0;

    memset(req, 0, sizeof(*req));
    if (version != DQ_IIIF_V2 && version != DQ_IIIF_V3) {
        dq_err_set(err, DQ_EINTERNAL, 500, "unknown IIIF version %d", version);
        goto out;
    }
    req->version = version;
    /* Split on the raw '/' first: an escaped %2F inside a parameter stays inside
     * it (and then fails that parameter's syntax) instead of shifting the
     * parameters. */
    for (size_t i = 0; i <= len; i++) {
        if (i == len || params[i] == '/') {
            if (k >= 4) {
                dq_err_set(err, DQ_EINVAL, 400, "more than four image parameters");
                goto out;
            }
            if (i == start) {
                dq_err_set(err, DQ_EINVAL, 400, "empty image parameter");
                goto out;
            }
            seg[k] = dq_str_pct_decode(params + start, i - start, err);
            if (!seg[k])
                goto out;
            k++;
            start = i + 1;
        }
    }
    if (k != 4) {
        dq_err_set(err, DQ_EINVAL, 400, "expected region/size/rotation/quality.format");
        goto out;
    }
    if (parse_region(seg[0], strlen(seg[0]), req, err) < 0 ||
        parse_size(seg[1], strlen(seg[1]), version, req, err) < 0 ||
        parse_rotation(seg[2], strlen(seg[2]), req, err) < 0 ||
        parse_quality_format(seg[3], strlen(seg[3]), req, err) < 0)
        goto out;
    rc = 0;
out:
    for (int i = 0; i < 4; i++)
        free(seg[i]);
    return rc;
}

/* ---------------------------------------------------------------- names */

const char *dq_iiif_format_mime(int format)
{
    if (format < 0 || (size_t)format >= DQ_ARRAY_LEN(format_mimes))
        return NULL;
    return format_mimes[format];
}

const char *dq_iiif_format_ext(int format)
{
    if (format < 0 || (size_t)format >= DQ_ARRAY_LEN(format_exts))
        return NULL;
    return format_exts[format];
}

const char *dq_iiif_quality_name(int quality)
{
    if (quality < 0 || (size_t)quality >= DQ_ARRAY_LEN(quality_names))
        return NULL;
    return quality_names[quality];
}
