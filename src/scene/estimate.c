/*
 * scene/estimate.c: proposes a painting's scene layers from its own structure, for
 * `danqing scene estimate` (issue 14). It reads ink, not objects: no learned model exists here,
 * and a Chinese landscape is built from conventions a few measurements can follow.
 *
 *  - Ink density: 1 - luminance / local paper tone (the tone is a bright percentile per block,
 *    so age, stains and silk do not read as ink).
 *  - Depth, by the three distances (三远, Guo Xi, "Linquan Gaozhi"): ranges are painted as
 *    overlapping layers, nearer ones lower on the picture, each outlined and washed darkest
 *    under its ridge. Ridges are found as downward steps of ink density in a copy blurred
 *    wide horizontally (a ridge runs across the picture; trees and writing do not), and each
 *    pixel takes the depth of the last ridge above it in its column: higher ridge, farther.
 *    Above every ridge is the sky, farthest of all.
 *  - Mist: large blank areas below a ridge (the wash dissolving, the blank bands between
 *    ranges); water: large blank areas in the lower band where painters put rivers and lakes;
 *    foliage: dense, finely broken ink (leaf dots, needles), which a mountain wash is not.
 * The "prior" method is the baseline it is measured against: depth from height alone.
 * Pure function of the pixels; no I/O.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scene/scene.h"

/* ================================================================ names */

static const char *const kind_name[DQ_SCENE_N] = {"depth", "mist",   "foliage",
                                                  "water", "figure", "boat"};
static const char *const kind_file[DQ_SCENE_N] = {"depth.png", "mist.png",    "foliage.png",
                                                  "water.png", "figures.png", "boats.png"};

const char *dq_scene_kind_name(int kind)
{
    return kind >= 0 && kind < DQ_SCENE_N ? kind_name[kind] : NULL;
}

const char *dq_scene_kind_file(int kind)
{
    return kind >= 0 && kind < DQ_SCENE_N ? kind_file[kind] : NULL;
}

int dq_scene_kind_parse(const char *name)
{
    for (int k = 0; name && k < DQ_SCENE_N; k++)
        if (strcmp(name, kind_name[k]) == 0)
            return k;
    return -1;
}

const char *dq_scene_method_name(int method)
{
    return method == DQ_SCENE_METHOD_PRIOR ? "prior" : "structure";
}

int dq_scene_method_parse(const char *name)
{
    if (name && strcmp(name, "structure") == 0)
        return DQ_SCENE_METHOD_STRUCTURE;
    if (name && strcmp(name, "prior") == 0)
        return DQ_SCENE_METHOD_PRIOR;
    return -1;
}

void dq_scene_layers_free(dq_scene_layers_t *l)
{
    if (!l)
        return;
    for (int k = 0; k < DQ_SCENE_N; k++)
        free(l->plane[k]);
    memset(l, 0, sizeof(*l));
}

/* ================================================================ filters */

/* Box blur in place, radius rx across and ry down (0: none), edges renormalised. */
static void box_blur(float *a, int w, int h, int rx, int ry)
{
    size_t m = (size_t)(w > h ? w : h);
    float *line = dq_xmalloc(m * sizeof(float));
    double *cum = dq_xmalloc((m + 1) * sizeof(double));
    for (int pass = 0; pass < 2; pass++) {
        int r = pass ? ry : rx;
        if (r <= 0)
            continue;
        int n = pass ? h : w, lines = pass ? w : h;
        for (int l = 0; l < lines; l++) {
            for (int i = 0; i < n; i++)
                line[i] = pass ? a[(size_t)i * (size_t)w + (size_t)l]
                               : a[(size_t)l * (size_t)w + (size_t)i];
            cum[0] = 0;
            for (int i = 0; i < n; i++)
                cum[i + 1] = cum[i] + line[i];
            for (int i = 0; i < n; i++) {
                int lo = i - r < 0 ? 0 : i - r, hi = i + r + 1 > n ? n : i + r + 1;
                float v = (float)((cum[hi] - cum[lo]) / (double)(hi - lo));
                if (pass)
                    a[(size_t)i * (size_t)w + (size_t)l] = v;
                else
                    a[(size_t)l * (size_t)w + (size_t)i] = v;
            }
        }
    }
    free(cum);
    free(line);
}

static float *copy_f(const float *a, size_t n)
{
    float *b = dq_xmalloc(n * sizeof(float));
    memcpy(b, a, n * sizeof(float));
    return b;
}

/* Ink density 0..1 from luminance and the local paper tone: the 90th percentile of
 * luminance in blocks of about a 25th of the height, interpolated between block centres. */
static float *ink_density(const uint8_t *px, int w, int h, int bands)
{
    size_t n = (size_t)w * (size_t)h;
    float *lum = dq_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = px + i * (size_t)bands;
        lum[i] = bands >= 3 ? (0.2126f * p[0] + 0.7152f * p[1] + 0.0722f * p[2]) / 255.0f
                            : p[0] / 255.0f;
    }
    int bs = h / 25 < 8 ? 8 : h / 25;
    int bw = (w + bs - 1) / bs, bh = (h + bs - 1) / bs;
    float *tone = dq_xmalloc((size_t)bw * (size_t)bh * sizeof(float));
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            unsigned hist[256] = {0}, cnt = 0;
            for (int y = by * bs; y < (by + 1) * bs && y < h; y++)
                for (int x = bx * bs; x < (bx + 1) * bs && x < w; x++, cnt++)
                    hist[(int)(lum[(size_t)y * (size_t)w + (size_t)x] * 255.0f + 0.5f)]++;
            unsigned want = cnt - cnt / 10, acc = 0;
            int v = 0;
            while (v < 255 && acc + hist[v] < want)
                acc += hist[v++];
            tone[(size_t)by * (size_t)bw + (size_t)bx] = DQ_MAX(v / 255.0f, 0.05f);
        }
    float *d = dq_xmalloc(n * sizeof(float));
    for (int y = 0; y < h; y++) {
        float fy = ((float)y + 0.5f) / (float)bs - 0.5f;
        int y0 = (int)floorf(fy);
        float ty = fy - (float)y0;
        int ya = DQ_MIN(DQ_MAX(y0, 0), bh - 1), yb = DQ_MIN(DQ_MAX(y0 + 1, 0), bh - 1);
        for (int x = 0; x < w; x++) {
            float fx = ((float)x + 0.5f) / (float)bs - 0.5f;
            int x0 = (int)floorf(fx);
            float tx = fx - (float)x0;
            int xa = DQ_MIN(DQ_MAX(x0, 0), bw - 1), xb = DQ_MIN(DQ_MAX(x0 + 1, 0), bw - 1);
            float t = (1 - ty) * ((1 - tx) * tone[(size_t)ya * (size_t)bw + (size_t)xa] +
                                  tx * tone[(size_t)ya * (size_t)bw + (size_t)xb]) +
                      ty * ((1 - tx) * tone[(size_t)yb * (size_t)bw + (size_t)xa] +
                            tx * tone[(size_t)yb * (size_t)bw + (size_t)xb]);
            float v = 1.0f - lum[(size_t)y * (size_t)w + (size_t)x] / t;
            d[(size_t)y * (size_t)w + (size_t)x] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
    free(tone);
    free(lum);
    return d;
}

/* ================================================================ the estimate */

/* Tuned on seed 1 of the sample collection at 400 px high, checked on other seeds
 * (bench/science/living.sh); fractions of the height unless said otherwise. */
#define RIDGE_BLUR_X 0.05f  /* horizontal blur before ridge finding */
#define RIDGE_BLUR_Y 0.006f /* vertical blur before ridge finding */
#define RIDGE_STEP 0.012f   /* the step compares density this far above and below */
#define RIDGE_MIN 0.02f     /* minimum density step of a ridge (density units) */
#define RIDGE_NMS 0.03f     /* a ridge is the strongest step within this distance */
#define BLANK_BLUR 0.02f    /* blur before judging blankness */
#define BLANK_MAX 0.035f    /* blurred density below this is a blank area */
#define WATER_TOP 0.72f     /* the band where rivers are painted (of the height) */
#define WATER_BOT 0.97f
#define LEAF_FINE 0.004f /* detail scale of leaf dots and needles */
#define LEAF_AREA 0.01f  /* the neighbourhood over which detail is averaged */
#define LEAF_MIN 0.07f   /* mean absolute detail of foliage (density units) */
#define LEAF_INK 0.18f   /* and its minimum local density */

static int px_of(float frac, int h, int min)
{
    int r = (int)lroundf(frac * (float)h);
    return r < min ? min : r;
}

static void estimate_prior(const float *d, int w, int h, dq_scene_layers_t *o)
{
    size_t n = (size_t)w * (size_t)h;
    float *blank = copy_f(d, n);
    box_blur(blank, w, h, px_of(BLANK_BLUR, h, 1), px_of(BLANK_BLUR, h, 1));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            float v = ((float)y + 0.5f) / (float)h;
            int b = blank[i] < BLANK_MAX, wat = b && v >= WATER_TOP && v <= WATER_BOT;
            o->plane[DQ_SCENE_DEPTH][i] = (uint8_t)lroundf(255.0f * (1.0f - v));
            o->plane[DQ_SCENE_WATER][i] = wat ? 255 : 0;
            o->plane[DQ_SCENE_MIST][i] = b && !wat ? 255 : 0;
        }
    free(blank);
}

static void estimate_structure(const float *d, int w, int h, dq_scene_layers_t *o)
{
    size_t n = (size_t)w * (size_t)h;
    /* Ridges: downward steps of density, blurred across so that only long edges remain. */
    float *rd = copy_f(d, n);
    box_blur(rd, w, h, px_of(RIDGE_BLUR_X, h, 1), px_of(RIDGE_BLUR_Y, h, 1));
    int step = px_of(RIDGE_STEP, h, 1), nms = px_of(RIDGE_NMS, h, 1);
    float *edge = dq_xcalloc(n, sizeof(float));
    for (int y = step; y < h - step; y++)
        for (int x = 0; x < w; x++)
            edge[(size_t)y * (size_t)w + (size_t)x] =
                rd[(size_t)(y + step) * (size_t)w + (size_t)x] -
                rd[(size_t)(y - step) * (size_t)w + (size_t)x];
    float *blank = copy_f(d, n);
    box_blur(blank, w, h, px_of(BLANK_BLUR, h, 1), px_of(BLANK_BLUR, h, 1));
    /* Foliage: the mean absolute fine detail of the density, where it is dark enough. */
    float *fine = copy_f(d, n), *local = copy_f(d, n);
    box_blur(fine, w, h, px_of(LEAF_FINE, h, 1), px_of(LEAF_FINE, h, 1));
    for (size_t i = 0; i < n; i++)
        fine[i] = fabsf(d[i] - fine[i]);
    box_blur(fine, w, h, px_of(LEAF_AREA, h, 1), px_of(LEAF_AREA, h, 1));
    box_blur(local, w, h, px_of(LEAF_AREA, h, 1), px_of(LEAF_AREA, h, 1));

    for (int x = 0; x < w; x++) {
        int ridge = -1; /* row of the last ridge above, -1: the sky */
        for (int y = 0; y < h; y++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            float e = edge[i];
            if (e > RIDGE_MIN) {
                int best = 1;
                for (int k = -nms; k <= nms && best; k++) {
                    int yy = y + k;
                    if (k && yy >= 0 && yy < h) {
                        float f = edge[(size_t)yy * (size_t)w + (size_t)x];
                        best = f < e || (f == e && k > 0);
                    }
                }
                if (best)
                    ridge = y;
            }
            float v = ((float)y + 0.5f) / (float)h;
            /* Higher ridge, farther; the sky above every ridge is farthest. Ridges map into
             * 0..235 so that the sky's 255 stays apart from the farthest range. */
            uint8_t depth =
                ridge < 0 ? 255
                          : (uint8_t)lroundf(235.0f * (1.0f - ((float)ridge + 0.5f) / (float)h));
            int b = blank[i] < BLANK_MAX;
            int wat = b && v >= WATER_TOP && v <= WATER_BOT;
            int leaf = fine[i] > LEAF_MIN && local[i] > LEAF_INK;
            o->plane[DQ_SCENE_DEPTH][i] = depth;
            o->plane[DQ_SCENE_WATER][i] = wat ? 255 : 0;
            o->plane[DQ_SCENE_MIST][i] = b && !wat && ridge >= 0 ? 255 : 0;
            o->plane[DQ_SCENE_FOLIAGE][i] = leaf ? 255 : 0;
        }
    }
    free(local);
    free(fine);
    free(blank);
    free(edge);
    free(rd);
}

int dq_scene_estimate(const uint8_t *px, int width, int height, int bands, int method,
                      dq_scene_layers_t *out, dq_err_t *err)
{
    if (!px || width < 16 || height < 16 || (int64_t)width * height > 64ll * 1024 * 1024)
        return dq_err_set(err, DQ_EINVAL, 400, "scene estimate: bad size %dx%d", width, height);
    if (bands != 1 && bands != 3)
        return dq_err_set(err, DQ_EINVAL, 400, "scene estimate: %d bands (1 or 3)", bands);
    if (method != DQ_SCENE_METHOD_STRUCTURE && method != DQ_SCENE_METHOD_PRIOR)
        return dq_err_set(err, DQ_EINVAL, 400, "scene estimate: unknown method %d", method);
    size_t n = (size_t)width * (size_t)height;
    memset(out, 0, sizeof(*out));
    out->width = width;
    out->height = height;
    out->plane[DQ_SCENE_DEPTH] = dq_xcalloc(n, 1);
    out->plane[DQ_SCENE_MIST] = dq_xcalloc(n, 1);
    out->plane[DQ_SCENE_FOLIAGE] = dq_xcalloc(n, 1);
    out->plane[DQ_SCENE_WATER] = dq_xcalloc(n, 1);
    float *d = ink_density(px, width, height, bands);
    if (method == DQ_SCENE_METHOD_PRIOR)
        estimate_prior(d, width, height, out);
    else
        estimate_structure(d, width, height, out);
    free(d);
    return 0;
}
