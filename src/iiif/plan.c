/*
 * plan.c: relates a parsed request to an image's stored geometry. It resolves
 * the region to full-resolution pixels, the size to output pixels, checks the
 * served limits, picks the pyramid level to read and tells whether the answer
 * is one stored tile as it is. Arithmetic: image and output dimensions are at
 * most 2^32 - 1, so a product of two of them fits in uint64_t; request numbers
 * (doubles) are range-checked before they become integers. Nothing here can
 * overflow whatever the request says.
 */
#include "iiif/iiif.h"

#include <math.h>
#include <string.h>

#define U32_MAX_D 4294967295.0

/* The largest side an encoder can write: JPEG stores 16-bit dimensions, WebP 14-bit ones. A
 * size past these would fail deep in the encoder with a 500; refusing or fitting here gives a
 * clear answer before any pixel is read. PNG and TIFF hold 32-bit sizes. */
static uint64_t format_max_side(int format)
{
    switch (format) {
    case DQ_FMT_JPG:
        return 65535;
    case DQ_FMT_WEBP:
        return 16383;
    default:
        return UINT32_MAX;
    }
}

/* The served limits with "no limit" as the largest value, narrowed by what the format can
 * hold. 3.0 §5.2: a missing maxHeight means maxHeight = maxWidth. */
typedef struct {
    uint64_t w, h, area;
    int configured; /* a max_* limit is set (the format's side limit does not count) */
} limits_t;

static limits_t get_limits(const dq_iiif_image_t *img, int format)
{
    limits_t l;
    uint64_t f = format_max_side(format);
    l.w = img->max_width ? DQ_MIN(img->max_width, (uint64_t)UINT32_MAX) : UINT32_MAX;
    if (img->max_height)
        l.h = DQ_MIN(img->max_height, (uint64_t)UINT32_MAX);
    else
        l.h = img->max_width ? l.w : UINT32_MAX;
    l.w = DQ_MIN(l.w, f);
    l.h = DQ_MIN(l.h, f);
    l.area = img->max_area ? img->max_area : UINT64_MAX;
    l.configured = img->max_width || img->max_height || img->max_area;
    return l;
}

/* Rounds a non-negative double to the nearest integer, capped at 2^64 - 1. */
static uint64_t round_u64(double v)
{
    if (!(v >= 0.0))
        return 0;
    v = floor(v + 0.5);
    if (v >= 18446744073709551615.0) /* this constant is 2^64 as a double */
        return UINT64_MAX;
    return (uint64_t)v;
}

/* Fits (rw, rh) inside the box (bw, bh), keeping the aspect ratio and touching
 * the box on one side. All inputs are 1 .. 2^32 - 1, so the cross products fit
 * in 64 bits. The side that follows from the other is rounded to nearest and
 * kept at least 1 pixel (the server chose it, not the client). */
static void fit_box(uint64_t rw, uint64_t rh, uint64_t bw, uint64_t bh, uint64_t *ow, uint64_t *oh)
{
    if (bw * rh <= bh * rw) { /* bw / rw <= bh / rh: the width binds */
        *ow = bw;
        *oh = (rh * bw + rw / 2) / rw;
    } else {
        *oh = bh;
        *ow = (rw * bh + rh / 2) / rh;
    }
    if (*ow < 1)
        *ow = 1;
    if (*oh < 1)
        *oh = 1;
}

/* Shrinks (ow, oh) keeping its aspect until ow * oh <= area. */
static void fit_area(uint64_t area, uint64_t *ow, uint64_t *oh)
{
    if (*ow * *oh <= area)
        return;
    double sc = sqrt((double)area / ((double)*ow * (double)*oh));
    uint64_t w = (uint64_t)floor((double)*ow * sc), h = (uint64_t)floor((double)*oh * sc);
    w = w < 1 ? 1 : w;
    h = h < 1 ? 1 : h;
    /* The doubles may leave us a pixel over: trim the longer side by division
     * rather than a loop, so that a 1 x 4e9 region costs no more than a square
     * one. */
    if (w * h > area) {
        if (w <= h)
            h = area / w;
        else
            w = area / h;
    }
    *ow = w;
    *oh = h;
}

/* The size "max" (or "^max" when up) means for a region of rw x rh (3.0 §4.2).
 */
static void max_size(uint64_t rw, uint64_t rh, int up, const limits_t *l, uint64_t *ow,
                     uint64_t *oh)
{
    if (!l->configured)
        up = 0; /* no configured limit to scale up to: ^max is max, the region itself */
    uint64_t bw = up ? l->w : DQ_MIN(rw, l->w), bh = up ? l->h : DQ_MIN(rh, l->h);
    if (bw == rw && bh == rh) {
        *ow = rw;
        *oh = rh;
    } else {
        fit_box(rw, rh, bw, bh, ow, oh);
    }
    fit_area(l->area, ow, oh);
}

static int check_image(const dq_iiif_image_t *img, dq_err_t *err)
{
    if (img->width < 1 || img->height < 1 || img->tile_w < 1 || img->tile_h < 1 ||
        img->n_levels < 1 || img->n_levels > (int)DQ_ARRAY_LEN(img->levels) ||
        img->levels[0].width != img->width || img->levels[0].height != img->height)
        return dq_err_set(err, DQ_EINTERNAL, 500, "invalid image geometry");
    for (int k = 1; k < img->n_levels; k++) {
        const dq_iiif_level_t *lv = &img->levels[k];
        /* Level k is the image shrunk by 2^k, its odd last pixel rounded either way. */
        uint64_t s = (uint64_t)1 << k;
        uint64_t wlo = DQ_MAX(img->width / s, 1), whi = (img->width + s - 1) / s;
        uint64_t hlo = DQ_MAX(img->height / s, 1), hhi = (img->height + s - 1) / s;
        if (lv->width < wlo || lv->width > whi || lv->height < hlo || lv->height > hhi)
            return dq_err_set(err, DQ_EINTERNAL, 500, "pyramid level %d is not 1/%llu of the image",
                              k, (unsigned long long)s);
    }
    return 0;
}

/* ---------------------------------------------------------------- region */

/* IIIF Image 3.0 §4.1 (2.1 §4.1): regions past the edge are cropped; empty or
 * wholly outside regions are 400. */
static int plan_region(const dq_iiif_req_t *req, const dq_iiif_image_t *img, dq_iiif_plan_t *plan,
                       dq_err_t *err)
{
    uint64_t W = img->width, H = img->height;
    uint64_t x, y, w, h;

    switch (req->region_kind) {
    case DQ_REGION_FULL:
        x = y = 0;
        w = W;
        h = H;
        break;
    case DQ_REGION_SQUARE: { /* centred on the longer side, as 3.0 §4.1 suggests
                              */
        uint64_t s = DQ_MIN(W, H);
        x = (W - s) / 2;
        y = (H - s) / 2;
        w = h = s;
        break;
    }
    case DQ_REGION_PIXELS:
    case DQ_REGION_PCT: {
        if (!(req->rx >= 0.0 && req->ry >= 0.0 && req->rw > 0.0 && req->rh > 0.0))
            return dq_err_set(err, DQ_EINVAL, 400, "region values must be positive");
        double sx = 1.0, sy = 1.0;
        if (req->region_kind == DQ_REGION_PCT) {
            /* Percentages of the reported size, each rounded to the nearest pixel:
             * pct:41.6,7.5,40,70 of 300 x 200 is 125,15,120,140 (the 3.0 §4.1
             * examples). */
            sx = (double)W / 100.0;
            sy = (double)H / 100.0;
        }
        x = round_u64(req->rx * sx);
        y = round_u64(req->ry * sy);
        w = round_u64(req->rw * sx);
        h = round_u64(req->rh * sy);
        if (x >= W || y >= H)
            return dq_err_set(err, DQ_EINVAL, 400, "region is outside the image");
        if (w < 1 || h < 1)
            return dq_err_set(err, DQ_EINVAL, 400, "region is smaller than one pixel");
        w = DQ_MIN(w, W - x);
        h = DQ_MIN(h, H - y);
        break;
    }
    default:
        return dq_err_set(err, DQ_EINVAL, 400, "unknown region kind");
    }
    plan->x = (uint32_t)x;
    plan->y = (uint32_t)y;
    plan->w = (uint32_t)w;
    plan->h = (uint32_t)h;
    return 0;
}

/* ---------------------------------------------------------------- size */

/* A requested pixel count as an integer, capped: values above 2^32 - 1 are
 * reported as such. */
static uint64_t req_px(double v) { return round_u64(v); }

/* IIIF Image 3.0 §4.2 (2.1 §4.2). */
static int plan_size(const dq_iiif_req_t *req, const dq_iiif_image_t *img, dq_iiif_plan_t *plan,
                     dq_err_t *err)
{
    limits_t l = get_limits(img, req->format);
    uint64_t rw = plan->w, rh = plan->h, ow = 0, oh = 0;
    int v3 = req->version == DQ_IIIF_V3;
    /* 2.1 §4.2: "The image server MAY support scaling above the full size"; we
     * do. 3.0 asks for '^'. */
    int up = v3 ? req->upscale : 1;
    const char *no_up = "size larger than the region needs '^' (upscaling) in 3.0";

    switch (req->size_kind) {
    case DQ_SIZE_FULL:
        if (v3)
            return dq_err_set(err, DQ_EINVAL, 400, "size \"full\" is 2.x; use \"max\" in 3.0");
        ow = rw;
        oh = rh;
        break;
    case DQ_SIZE_MAX:
        /* Fitted inside the limits: 3.0 §4.2 "unless it is constrained to a smaller
         * size by maxWidth, maxHeight, or maxArea"; 2.1 §4.2 likewise for "max".
         * "^max" is answered like "max" (the region, within the limits). Read literally,
         * 3.0 §4.2 would scale ^max up to maxWidth/maxHeight/maxArea, but the official
         * validator's size_up test expects ^max of a 1000 px image to be 1000 px while
         * maxWidth is advertised, and a viewer asking ^max wants the whole region, not a
         * 60-megapixel blow-up of a thumbnail; explicit ^w,h / ^pct: still upscale. */
        max_size(rw, rh, 0, &l, &ow, &oh);
        break;
    case DQ_SIZE_W:
    case DQ_SIZE_H: {
        int by_w = req->size_kind == DQ_SIZE_W;
        uint64_t v = req_px(by_w ? req->sw : req->sh), r = by_w ? rw : rh;
        if (v < 1)
            return dq_err_set(err, DQ_EINVAL, 400, "size must be at least 1 pixel");
        if (!up && v > r)
            return dq_err_set(err, DQ_EINVAL, 400, "%s", no_up);
        if (v > UINT32_MAX)
            return dq_err_set(err, DQ_ELIMIT, 403, "size beyond the served limits");
        if (by_w) {
            ow = v;
            oh = (rh * v + rw / 2) / rw;
        } else {
            oh = v;
            ow = (rw * v + rh / 2) / rh;
        }
        break;
    }
    case DQ_SIZE_PCT: {
        if (!(req->spct > 0.0))
            return dq_err_set(err, DQ_EINVAL, 400, "size pct:n must be above 0");
        if (!up && req->spct > 100.0)
            return dq_err_set(err, DQ_EINVAL, 400, "%s", no_up);
        double dw = (double)rw * req->spct / 100.0, dh = (double)rh * req->spct / 100.0;
        if (dw > U32_MAX_D || dh > U32_MAX_D)
            return dq_err_set(err, DQ_ELIMIT, 403, "size beyond the served limits");
        ow = round_u64(dw);
        oh = round_u64(dh);
        break;
    }
    case DQ_SIZE_WH:
        ow = req_px(req->sw);
        oh = req_px(req->sh);
        if (ow < 1 || oh < 1)
            return dq_err_set(err, DQ_EINVAL, 400, "size must be at least 1 pixel");
        if (!up && (ow > rw || oh > rh))
            return dq_err_set(err, DQ_EINVAL, 400, "%s", no_up);
        if (ow > UINT32_MAX || oh > UINT32_MAX)
            return dq_err_set(err, DQ_ELIMIT, 403, "size beyond the served limits");
        break;
    case DQ_SIZE_BEST: {
        uint64_t bw = req_px(req->sw), bh = req_px(req->sh);
        if (bw < 1 || bh < 1)
            return dq_err_set(err, DQ_EINVAL, 400, "size must be at least 1 pixel");
        fit_box(rw, rh, DQ_MIN(bw, (uint64_t)UINT32_MAX), DQ_MIN(bh, (uint64_t)UINT32_MAX), &ow,
                &oh);
        /* 3.0 §4.2 bounds !w,h by the region; the validator (size_noup,
         * "!2000,3000" on a 1000 px image) expects a box needing upscaling to be
         * refused rather than clamped. */
        if (!up && (ow > rw || oh > rh))
            return dq_err_set(err, DQ_EINVAL, 400, "%s", no_up);
        /* "as large as possible but not larger than ... server-imposed limits":
         * fit. */
        if (ow > l.w || oh > l.h)
            fit_box(rw, rh, DQ_MIN(ow, l.w), DQ_MIN(oh, l.h), &ow, &oh);
        fit_area(l.area, &ow, &oh);
        break;
    }
    default:
        return dq_err_set(err, DQ_EINVAL, 400, "unknown size kind");
    }
    /* 3.0 §4.2: "MUST NOT be less than 1 pixel". */
    if (ow < 1 || oh < 1)
        return dq_err_set(err, DQ_EINVAL, 400, "scaled size is less than one pixel");
    /* Explicit sizes beyond the limits. 3.0 says 400 in §4.2 and 404 in §7.3; a
     * limit the client may not pass is "Forbidden" to us (403), as design.md has
     * it. */
    if (ow > l.w || oh > l.h || ow * oh > l.area)
        return dq_err_set(err, DQ_ELIMIT, 403,
                          "size %llux%llu is beyond the served limits (%llux%llu, %llu pixels)",
                          (unsigned long long)ow, (unsigned long long)oh, (unsigned long long)l.w,
                          (unsigned long long)l.h, (unsigned long long)l.area);
    plan->out_w = (uint32_t)ow;
    plan->out_h = (uint32_t)oh;
    plan->upscale = ow > rw || oh > rh;
    return 0;
}

/* ---------------------------------------------------------------- level and
 * tile */

/* Is the answer stored tile (col, row) of level k as it is? A tile request (3.0 implementation
 * notes) at scale factor s = 2^k asks for the region (col * tile_w * s, row * tile_h * s,
 * min(tile_w * s, rest), ...) at the size of that tile in the level, which is smaller at the
 * right and bottom edges (ceil(rest / s) in a pyramid halved rounding up). */
static int exact_tile_at(const dq_iiif_image_t *img, const dq_iiif_plan_t *plan, int k)
{
    uint64_t W = img->width, H = img->height, s = (uint64_t)1 << k;
    uint64_t lvw = img->levels[k].width, lvh = img->levels[k].height;
    uint64_t tw = (uint64_t)img->tile_w * s, th = (uint64_t)img->tile_h * s;
    if (plan->x % tw != 0 || plan->y % th != 0)
        return 0;
    if (plan->w != DQ_MIN(tw, W - plan->x) || plan->h != DQ_MIN(th, H - plan->y))
        return 0;
    uint64_t tx = plan->x / tw * img->tile_w, ty = plan->y / th * img->tile_h;
    if (tx >= lvw || ty >= lvh)
        return 0;
    return plan->out_w == DQ_MIN((uint64_t)img->tile_w, lvw - tx) &&
           plan->out_h == DQ_MIN((uint64_t)img->tile_h, lvh - ty);
}

static void plan_level(const dq_iiif_image_t *img, dq_iiif_plan_t *plan)
{
    int k;

    plan->exact_tile = 0;
    plan->tile_col = plan->tile_row = 0;
    if (plan->rotation == 0.0 && !plan->mirror &&
        (plan->quality == DQ_Q_DEFAULT || plan->quality == DQ_Q_COLOR) &&
        plan->format == DQ_FMT_JPG) {
        for (k = 0; k < img->n_levels; k++) {
            if (!exact_tile_at(img, plan, k))
                continue;
            uint64_t s = (uint64_t)1 << k;
            plan->exact_tile = 1;
            plan->level = k;
            plan->tile_col = (uint32_t)(plan->x / (img->tile_w * s));
            plan->tile_row = (uint32_t)(plan->y / (img->tile_h * s));
            plan->lx = plan->tile_col * img->tile_w;
            plan->ly = plan->tile_row * img->tile_h;
            plan->lw = plan->out_w;
            plan->lh = plan->out_h;
            return;
        }
    }

    /* Level k holds the image shrunk by exactly s = 2^k (each level pixel is a 2 x 2 block of
     * the one above; only the odd last row and column are rounded). Take the smallest level
     * in which the region still has at least the output's pixels: w / s >= out_w. Level 0
     * always qualifies unless we upscale, and then it is the one to use. Products stay below
     * 2^63: out_w < 2^32 and s <= 2^31. */
    for (k = img->n_levels - 1; k > 0; k--) {
        uint64_t s = (uint64_t)1 << k;
        if ((uint64_t)plan->w >= (uint64_t)plan->out_w * s &&
            (uint64_t)plan->h >= (uint64_t)plan->out_h * s)
            break;
    }
    plan->level = k;
    uint64_t lvw = img->levels[k].width, lvh = img->levels[k].height, s = (uint64_t)1 << k;
    /* Rounded outward so that the level's rectangle covers the whole region, then clipped to
     * the level (a pyramid halved rounding down has lost the odd last pixels). */
    uint64_t x0 = plan->x / s, y0 = plan->y / s;
    uint64_t x1 = ((uint64_t)plan->x + plan->w + s - 1) / s;
    uint64_t y1 = ((uint64_t)plan->y + plan->h + s - 1) / s;
    x0 = DQ_MIN(x0, lvw - 1);
    y0 = DQ_MIN(y0, lvh - 1);
    x1 = DQ_MAX(DQ_MIN(x1, lvw), x0 + 1);
    y1 = DQ_MAX(DQ_MIN(y1, lvh), y0 + 1);
    plan->lx = (uint32_t)x0;
    plan->ly = (uint32_t)y0;
    plan->lw = (uint32_t)(x1 - x0);
    plan->lh = (uint32_t)(y1 - y0);
}

/* ---------------------------------------------------------------- rotation */

/* The output's size after rotation (3.0 §4.3: the bounding box of the whole rotated content,
 * no extra space): right angles swap or keep the sides exactly, other angles widen both. */
static void rotated_box(uint64_t w, uint64_t h, double rot, uint64_t *bw, uint64_t *bh)
{
    double r = fmod(rot, 360.0);
    if (r == 0.0 || r == 180.0) {
        *bw = w, *bh = h;
        return;
    }
    if (r == 90.0 || r == 270.0) {
        *bw = h, *bh = w;
        return;
    }
    double rad = r * 3.14159265358979323846 / 180.0;
    double c = fabs(cos(rad)), sn = fabs(sin(rad));
    *bw = (uint64_t)ceil((double)w * c + (double)h * sn - 1e-9);
    *bh = (uint64_t)ceil((double)w * sn + (double)h * c - 1e-9);
}

static int box_fits(uint64_t bw, uint64_t bh, const limits_t *l)
{
    return bw <= l->w && bh <= l->h && bw * bh <= l->area;
}

/* Issue 10: every limit (maxWidth, maxHeight, maxArea, the format's largest side) applies to
 * the final output, after rotation: "full/^!100000,100000/45" once rendered a 120 Mpx image
 * past a 60 Mpx maxArea. A size the server chooses ("max", "!w,h") shrinks until its rotated
 * box fits; an explicit size whose rotated box does not fit is 403. */
static int fit_rotated(const dq_iiif_req_t *req, const dq_iiif_image_t *img,
                       dq_iiif_plan_t *plan, dq_err_t *err)
{
    limits_t l = get_limits(img, plan->format);
    uint64_t ow = plan->out_w, oh = plan->out_h, bw, bh;
    rotated_box(ow, oh, plan->rotation, &bw, &bh);
    if (box_fits(bw, bh, &l))
        return 0;
    if (req->size_kind == DQ_SIZE_MAX || req->size_kind == DQ_SIZE_BEST) {
        /* The box grows linearly with the size, so one scale factor nearly fits it; the loop
         * takes off the last rounding pixels (a few steps of 0.2%). */
        double f = DQ_MIN((double)l.w / (double)bw, (double)l.h / (double)bh);
        if (l.area != UINT64_MAX)
            f = DQ_MIN(f, sqrt((double)l.area / ((double)bw * (double)bh)));
        for (int i = 0; i < 64; i++, f *= 0.998) {
            uint64_t w = DQ_MAX((uint64_t)floor((double)ow * f), 1);
            uint64_t h = DQ_MAX((uint64_t)floor((double)oh * f), 1);
            rotated_box(w, h, plan->rotation, &bw, &bh);
            if (box_fits(bw, bh, &l)) {
                plan->out_w = (uint32_t)w;
                plan->out_h = (uint32_t)h;
                plan->upscale = w > plan->w || h > plan->h;
                return 0;
            }
        }
    }
    return dq_err_set(err, DQ_ELIMIT, 403,
                      "rotated size %llux%llu is beyond the served limits (%llux%llu, %llu pixels)",
                      (unsigned long long)bw, (unsigned long long)bh, (unsigned long long)l.w,
                      (unsigned long long)l.h, (unsigned long long)l.area);
}

/* ---------------------------------------------------------------- plan */

int dq_iiif_plan(const dq_iiif_req_t *req, const dq_iiif_image_t *img, dq_iiif_plan_t *plan,
                 dq_err_t *err)
{
    memset(plan, 0, sizeof(*plan));
    if (req->version != DQ_IIIF_V2 && req->version != DQ_IIIF_V3)
        return dq_err_set(err, DQ_EINTERNAL, 500, "unknown IIIF version %d", req->version);
    if (check_image(img, err) < 0)
        return -1;
    /* 3.0 §4.3: 0 to 360 degrees; checked again for requests not made by
     * dq_iiif_parse. */
    if (!(req->rotation >= 0.0 && req->rotation <= 360.0))
        return dq_err_set(err, DQ_EINVAL, 400, "rotation must be 0 to 360");
    if (!dq_iiif_quality_name(req->quality) || !dq_iiif_format_ext(req->format))
        return dq_err_set(err, DQ_EINVAL, 400, "unknown quality or format");
    plan->rotation = req->rotation;
    plan->mirror = req->mirror ? 1 : 0;
    plan->quality = req->quality;
    plan->format = req->format;
    if (plan_region(req, img, plan, err) < 0 || plan_size(req, img, plan, err) < 0) {
        dq_iiif_plan_t zero;
        memset(&zero, 0, sizeof(zero));
        *plan = zero;
        return -1;
    }
    if (fit_rotated(req, img, plan, err) < 0) {
        memset(plan, 0, sizeof(*plan));
        return -1;
    }
    plan_level(img, plan);
    return 0;
}

void dq_iiif_max_size(const dq_iiif_image_t *img, uint32_t rw, uint32_t rh, int up, int format,
                      uint32_t *ow, uint32_t *oh)
{
    limits_t l = get_limits(img, format);
    uint64_t w, h;
    if (rw < 1 || rh < 1) {
        *ow = *oh = 0;
        return;
    }
    max_size(rw, rh, up, &l, &w, &h);
    *ow = (uint32_t)DQ_MIN(w, (uint64_t)UINT32_MAX);
    *oh = (uint32_t)DQ_MIN(h, (uint64_t)UINT32_MAX);
}
