/*
 * canon.c: the text the server writes back: canonical parameter strings (the
 * cache key and the Link rel="canonical" header) and the image information
 * document, for 3.0 and 2.1. The JSON is written by hand (this module includes
 * no JSON library); the only string that comes from outside, base_id, goes
 * through dq_buf_json_str.
 */
#include "iiif/iiif.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- canonical */

/* IIIF Image 3.0 §4.7: "only decimal digits and '.'", a leading 0 below 1, no
 * trailing zeros; an integer where possible (§4.8). */
static void put_degrees(dq_buf_t *out, double deg)
{
    if (deg == floor(deg) && deg >= 0) { /* the parser allows 0..360 */
        dq_buf_put_u64(out, (uint64_t)deg);
        return;
    }
    if (deg == floor(deg)) {
        dq_buf_printf(out, "%d", (int)deg);
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%.10f", deg);
    size_t n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == '0')
        n--;
    if (n > 0 && tmp[n - 1] == '.')
        n--;
    dq_buf_append(out, tmp, n);
}

/* "a,b,...,z/": every tile answer writes this, so without printf (about 4 % of the cache-off
 * tile path went to formatting its headers, issue 9 profile). */
static void put_u32s(dq_buf_t *out, const uint32_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        dq_buf_put_u64(out, v[i]);
        dq_buf_putc(out, i + 1 < n ? ',' : '/');
    }
}

void dq_iiif_canonical(const dq_iiif_plan_t *plan, const dq_iiif_image_t *img, int version,
                       dq_buf_t *out)
{
    /* Region, 3.0 §4.8 and 2.1 §4.7: "full" for the whole image (so also "square"
     * of a square image), otherwise x,y,w,h of the clipped region. */
    if (plan->x == 0 && plan->y == 0 && plan->w == img->width && plan->h == img->height)
        dq_buf_puts(out, "full/");
    else
        put_u32s(out, (uint32_t[]){plan->x, plan->y, plan->w, plan->h}, 4);

    uint32_t mw, mh;
    dq_iiif_max_size(img, plan->w, plan->h, 0, plan->format, &mw, &mh);
    if (version == DQ_IIIF_V3) {
        /* 3.0 §4.8: "max", else w,h or ^w,h when the region is upscaled. "^max" never
         * appears: we answer it like "max" (see plan.c), so its canonical form is "max". */
        if (plan->out_w == mw && plan->out_h == mh) {
            dq_buf_puts(out, "max/");
        } else {
            if (plan->upscale)
                dq_buf_putc(out, '^');
            put_u32s(out, (uint32_t[]){plan->out_w, plan->out_h}, 2);
        }
    } else {
        /* 2.1 §4.7: "full" for the unscaled region, "w," when the aspect ratio is
         * kept (the height that "w," gives, rounded as dq_iiif_plan rounds it, is
         * out_h), else "w,h". 2.1 §4.2 deprecation note: "max" is written "w,"
         * unless it equals "full". */
        uint64_t h_from_w = plan->w ? ((uint64_t)plan->h * plan->out_w + plan->w / 2) / plan->w : 0;
        if (plan->out_w == plan->w && plan->out_h == plan->h)
            dq_buf_puts(out, "full/");
        else if (h_from_w == plan->out_h) {
            dq_buf_put_u64(out, plan->out_w);
            dq_buf_puts(out, ",/");
        } else {
            put_u32s(out, (uint32_t[]){plan->out_w, plan->out_h}, 2);
        }
    }

    if (plan->mirror)
        dq_buf_putc(out, '!');
    put_degrees(out, plan->rotation);
    dq_buf_putc(out, '/');
    dq_buf_puts(out, dq_iiif_quality_name(plan->quality));
    dq_buf_putc(out, '.');
    dq_buf_puts(out, dq_iiif_format_ext(plan->format));
}

/* ---------------------------------------------------------------- info.json */

const char *dq_iiif_profile_uri(int version)
{
    return version == DQ_IIIF_V2 ? "http://iiif.io/api/image/2/level2.json"
                                 : "http://iiif.io/api/image/3/level2.json";
}

const char *dq_iiif_context_uri(int version)
{
    return version == DQ_IIIF_V2 ? "http://iiif.io/api/image/2/context.json"
                                 : "http://iiif.io/api/image/3/context.json";
}

static void put_str_array(dq_buf_t *out, const char *const *items, size_t n)
{
    dq_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++)
        dq_buf_printf(out, "%s\"%s\"", i ? ", " : "", items[i]);
    dq_buf_putc(out, ']');
}

/* 3.0 §5.3: "Servers MUST ensure that sizes specified by any sizes or tiles
 * properties are within any size limits expressed." */
static int within_limits(const dq_iiif_image_t *img, uint64_t w, uint64_t h)
{
    uint64_t mh = img->max_height ? img->max_height : img->max_width;
    return (!img->max_width || w <= img->max_width) && (!mh || h <= mh) &&
           (!img->max_area || w * h <= img->max_area);
}

/* "sizes": every pyramid level within the limits, smallest first; "tiles": the
 * stored tile with scale factors 2^k for every level (3.0 §5.3, §5.4; 2.1
 * §5.2). */
static void put_sizes_tiles(const dq_iiif_image_t *img, dq_buf_t *out)
{
    int n = img->n_levels;
    if (n < 1 || n > (int)DQ_ARRAY_LEN(img->levels))
        n = 1;
    dq_buf_puts(out, "  \"sizes\": [");
    int first = 1;
    for (int k = n - 1; k >= 0; k--) {
        uint32_t w = k == 0 ? img->width : img->levels[k].width;
        uint32_t h = k == 0 ? img->height : img->levels[k].height;
        if (w < 1 || h < 1 || !within_limits(img, w, h))
            continue;
        dq_buf_printf(out, "%s{\"width\": %u, \"height\": %u}", first ? "" : ", ", w, h);
        first = 0;
    }
    dq_buf_puts(out, "],\n");
    dq_buf_printf(out, "  \"tiles\": [{\"width\": %u", img->tile_w);
    if (img->tile_h != img->tile_w)
        dq_buf_printf(out, ", \"height\": %u", img->tile_h);
    dq_buf_puts(out, ", \"scaleFactors\": [");
    for (int k = 0; k < n; k++)
        dq_buf_printf(out, "%s%llu", k ? ", " : "", 1ULL << k);
    dq_buf_puts(out, "]}]");
}

/* Limits as given, with maxWidth always present when maxHeight is (3.0 §5.2
 * "maxWidth MUST be specified if maxHeight is specified"); a height-only limit
 * is written as no width limit. */
static void put_limits(const dq_iiif_image_t *img, dq_buf_t *out)
{
    if (img->max_width || img->max_height)
        dq_buf_printf(out, ",\n  \"maxWidth\": %llu",
                      (unsigned long long)(img->max_width ? img->max_width : UINT32_MAX));
    if (img->max_height)
        dq_buf_printf(out, ",\n  \"maxHeight\": %llu", (unsigned long long)img->max_height);
    if (img->max_area)
        dq_buf_printf(out, ",\n  \"maxArea\": %llu", (unsigned long long)img->max_area);
}

/* Everything we serve beyond compliance level 2: each of these is implemented
 * by this module (mirroring, arbitrary rotation, square regions, '^') or by
 * http/ (headers, redirect). */
static const char *const features_v3[] = {
    "baseUriRedirect", "canonicalLinkHeader", "cors",
    "jsonldMediaType", "mirroring",           "profileLinkHeader",
    "regionSquare",    "rotationArbitrary",   "sizeUpscaling",
};
static const char *const features_v2[] = {
    "baseUriRedirect", "canonicalLinkHeader", "cors",
    "jsonldMediaType", "mirroring",           "profileLinkHeader",
    "regionSquare",    "rotationArbitrary",   "sizeAboveFull",
};
static const char *const qualities_v3[] = {"color", "gray", "bitonal"};
static const char *const formats_v3[] = {"png", "webp", "tif"};
static const char *const qualities_v2[] = {"default", "color", "gray", "bitonal"};
static const char *const formats_v2[] = {"jpg", "png", "webp", "tif"};

void dq_iiif_info_json(const dq_iiif_image_t *img, const char *base_id, int version, dq_buf_t *out)
{
    if (img->auth_services && version == DQ_IIIF_V3)
        dq_buf_printf(out, "{\n  \"@context\": [\"%s\", \"%s\"],\n", DQ_IIIF_AUTH_CONTEXT,
                      dq_iiif_context_uri(version));
    else
        dq_buf_printf(out, "{\n  \"@context\": \"%s\",\n", dq_iiif_context_uri(version));
    dq_buf_puts(out, version == DQ_IIIF_V2 ? "  \"@id\": \"" : "  \"id\": \"");
    dq_buf_json_str(out, base_id, strlen(base_id));
    dq_buf_puts(out, "\",\n");

    if (version == DQ_IIIF_V3) {
        /* IIIF Image 3.0 §5.2, §5.7 */
        dq_buf_puts(out, "  \"type\": \"ImageService3\",\n"
                         "  \"protocol\": \"http://iiif.io/api/image\",\n"
                         "  \"profile\": \"level2\",\n");
        dq_buf_printf(out, "  \"width\": %u,\n  \"height\": %u", img->width, img->height);
        put_limits(img, out);
        dq_buf_puts(out, ",\n");
        put_sizes_tiles(img, out);
        dq_buf_puts(out, ",\n  \"extraQualities\": ");
        put_str_array(out, qualities_v3, DQ_ARRAY_LEN(qualities_v3));
        dq_buf_puts(out, ",\n  \"extraFormats\": ");
        put_str_array(out, formats_v3, DQ_ARRAY_LEN(formats_v3));
        dq_buf_puts(out, ",\n  \"extraFeatures\": ");
        /* 3.0 §5.7: "A server that supports sizeUpscaling MUST specify maxWidth or
         * maxArea"; without them '^' still works, but we do not advertise it. */
        size_t n_feat = DQ_ARRAY_LEN(features_v3);
        if (!img->max_width && !img->max_height && !img->max_area)
            n_feat--; /* sizeUpscaling is last */
        put_str_array(out, features_v3, n_feat);
        if (img->auth_services) {
            dq_buf_puts(out, ",\n  \"service\": ");
            dq_buf_puts(out, img->auth_services);
        }
        dq_buf_puts(out, "\n}\n");
        return;
    }

    /* IIIF Image 2.1 §5.2, §5.3 */
    dq_buf_puts(out, "  \"protocol\": \"http://iiif.io/api/image\",\n");
    dq_buf_printf(out, "  \"width\": %u,\n  \"height\": %u,\n", img->width, img->height);
    put_sizes_tiles(img, out);
    dq_buf_printf(
        out, ",\n  \"profile\": [\"%s\", {\n    \"formats\": ", dq_iiif_profile_uri(DQ_IIIF_V2));
    put_str_array(out, formats_v2, DQ_ARRAY_LEN(formats_v2));
    dq_buf_puts(out, ",\n    \"qualities\": ");
    put_str_array(out, qualities_v2, DQ_ARRAY_LEN(qualities_v2));
    dq_buf_puts(out, ",\n    \"supports\": ");
    put_str_array(out, features_v2, DQ_ARRAY_LEN(features_v2));
    if (img->max_width || img->max_height)
        dq_buf_printf(out, ",\n    \"maxWidth\": %llu",
                      (unsigned long long)(img->max_width ? img->max_width : UINT32_MAX));
    if (img->max_height)
        dq_buf_printf(out, ",\n    \"maxHeight\": %llu", (unsigned long long)img->max_height);
    if (img->max_area)
        dq_buf_printf(out, ",\n    \"maxArea\": %llu", (unsigned long long)img->max_area);
    dq_buf_puts(out, "\n  }]");
    if (img->auth_services) { /* 2.1 §5.3 service; the probe carries its own @context */
        dq_buf_puts(out, ",\n  \"service\": ");
        dq_buf_puts(out, img->auth_services);
    }
    dq_buf_puts(out, "\n}\n");
}
