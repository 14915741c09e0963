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

/* ================================================================ the mount */

static int cmp_u8(const void *a, const void *b)
{
    return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}

static int near_edge(const uint8_t *px, size_t i, int bands, const int *edge, int tol)
{
    for (int c = 0; c < bands; c++)
        if (abs((int)px[i * (size_t)bands + (size_t)c] - edge[c]) > tol)
            return 0;
    return 1;
}

/* A mount inside the image (a fan leaf pasted on a board, an album leaf in its surround): the
 * region connected to the image's edge whose colour is the edge's own, when that colour is
 * clearly not the painting's support. Returns a 0/1 mask, or NULL where there is none (the
 * edge is the support itself, as on most scans, or the region would be most of the image).
 * The mount is the object's front plane: the scene lies behind it. */
static uint8_t *find_mount(const uint8_t *px, int w, int h, int bands)
{
    size_t n = (size_t)w * (size_t)h, nb = 2 * (size_t)w + 2 * (size_t)h;
    uint8_t *vals = dq_xmalloc(nb);
    int edge[3] = {0, 0, 0}, spread = 0;
    for (int c = 0; c < bands; c++) {
        size_t k = 0;
        for (int x = 0; x < w; x++) {
            vals[k++] = px[(size_t)x * (size_t)bands + (size_t)c];
            vals[k++] = px[((size_t)(h - 1) * (size_t)w + (size_t)x) * (size_t)bands + (size_t)c];
        }
        for (int y = 0; y < h; y++) {
            vals[k++] = px[((size_t)y * (size_t)w) * (size_t)bands + (size_t)c];
            vals[k++] = px[((size_t)y * (size_t)w + (size_t)(w - 1)) * (size_t)bands + (size_t)c];
        }
        qsort(vals, k, 1, cmp_u8);
        edge[c] = vals[k / 2];
        for (size_t i = 0; i < k; i++) /* median absolute deviation, in place */
            vals[i] = (uint8_t)abs((int)vals[i] - edge[c]);
        qsort(vals, k, 1, cmp_u8);
        spread = DQ_MAX(spread, (int)vals[k / 2]);
    }
    free(vals);
    /* The support: the 90th percentile of luminance over the whole picture. */
    unsigned hist[256] = {0};
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = px + i * (size_t)bands;
        hist[bands >= 3 ? (p[0] * 54 + p[1] * 183 + p[2] * 19) >> 8 : p[0]]++;
    }
    size_t want = n - n / 10, acc = 0;
    int paper = 0;
    while (paper < 255 && acc + hist[paper] < want)
        acc += hist[paper++];
    int edge_lum = bands >= 3 ? (edge[0] * 54 + edge[1] * 183 + edge[2] * 19) >> 8 : edge[0];
    if (abs(paper - edge_lum) < 26) /* within a tenth: the edge is the support */
        return NULL;
    /* Flood from the edge over pixels within a few deviations of its colour. */
    int tol = DQ_MAX(12, (int)lroundf(4.0f * 1.4826f * (float)spread));
    uint8_t *m = dq_xcalloc(n, 1);
    size_t *queue = dq_xmalloc(n * sizeof(size_t)), qh = 0, qt = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (y != 0 && y != h - 1 && x != 0 && x != w - 1)
                continue;
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            if (!m[i] && near_edge(px, i, bands, edge, tol)) {
                m[i] = 1;
                queue[qt++] = i;
            }
        }
    while (qh < qt) {
        size_t i = queue[qh++];
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
        for (int k = 0; k < 4; k++) {
            int xx = x + dx[k], yy = y + dy[k];
            if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                continue;
            size_t j = (size_t)yy * (size_t)w + (size_t)xx;
            if (!m[j] && near_edge(px, j, bands, edge, tol)) {
                m[j] = 1;
                queue[qt++] = j;
            }
        }
    }
    free(queue);
    if (qt < n / 50 || qt > n - n / 5) { /* a speck, or (nearly) everything */
        free(m);
        return NULL;
    }
    return m;
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

/* mount: NULL, or the mount's mask; the picture's own extent in each column then replaces
 * the image's height in the three-distances mapping (a fan leaf's top is its outer arc). */
static void estimate_structure(const float *d, const uint8_t *mount, int w, int h,
                               dq_scene_layers_t *o)
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
        int top = 0, bot = h - 1;
        if (mount) {
            while (top < h && mount[(size_t)top * (size_t)w + (size_t)x])
                top++;
            while (bot >= top && mount[(size_t)bot * (size_t)w + (size_t)x])
                bot--;
        }
        float span = (float)(bot - top + 1);
        for (int y = 0; y < h; y++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            if (mount && mount[i]) { /* the front plane; nothing moves on it */
                o->plane[DQ_SCENE_DEPTH][i] = 0;
                continue;
            }
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
            float v = ((float)(y - top) + 0.5f) / span;
            /* Higher ridge, farther; the sky above every ridge is farthest. Ridges map into
             * 0..235 so that the sky's 255 stays apart from the farthest range. */
            float rv = DQ_MIN(DQ_MAX(((float)(ridge - top) + 0.5f) / span, 0.0f), 1.0f);
            uint8_t depth = ridge < 0 ? 255 : (uint8_t)lroundf(235.0f * (1.0f - rv));
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
    if (method == DQ_SCENE_METHOD_PRIOR) {
        estimate_prior(d, width, height, out);
    } else {
        /* A mount reads as a dark wash to the density (grey board against light paper): it
         * is left out of ridges and blankness, and takes the front plane. */
        uint8_t *mount = find_mount(px, width, height, bands);
        if (mount)
            for (size_t i = 0; i < n; i++)
                if (mount[i])
                    d[i] = 0;
        estimate_structure(d, mount, width, height, out);
        free(mount);
    }
    free(d);
    return 0;
}
