/*
 * conserve/changes.c: change maps between two condition captures. After registration the
 * later capture is resampled into the earlier one's frame and its colours are mapped onto the
 * earlier one's by a robust per-channel gain and offset, so that what remains is change of
 * the object, not of the camera. Each pixel is then classified by what the painted layer's
 * optics predicts (linear mixing of pigment over support):
 *   loss     the lining behind the painting shows through: the pixel jumps to the lining
 *            colour (learned from REF's own old losses);
 *   flaking  the pigment is gone: the colour moves all the way to the bare support;
 *   fading   part of the pigment's contrast is gone: the colour moves part of the way.
 * "Towards the support by a fraction alpha" is measured in linear light against a local
 * estimate of the bare support colour. It does not read or write files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conserve/conserve.h"
#include "conserve/conserve_internal.h"

#define CELL 32     /* grid of the support estimate, REF pixels */
#define BOX 2       /* half-size of the 5x5 means */
#define Z_LOSS 8.0  /* per-pixel change, in noise sigmas, needed for a loss */
#define Z_PAINT 6.0 /* 5x5-mean change, in its noise sigmas, needed for flaking or fading */

const char *dq_conserve_class_name(int cls)
{
    static const char *const names[] = {"loss", "flaking", "fading"};
    return cls >= 0 && cls < DQ_CONSERVE_N_CLASSES ? names[cls] : "?";
}

void dq_conserve_changes_free(dq_conserve_changes_t *c)
{
    if (!c)
        return;
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
        free(c->mask[k]);
        c->mask[k] = NULL;
    }
}

/* ---------------------------------------------------------------- histogram statistics */

/* Quantile q of a histogram of n_bins bins of width `width` starting at lo. */
static double hist_quantile(const uint64_t *hist, int n_bins, double lo, double width, double q)
{
    uint64_t n = 0, acc = 0;
    for (int i = 0; i < n_bins; i++)
        n += hist[i];
    if (!n)
        return lo;
    uint64_t want = (uint64_t)(q * (double)(n - 1));
    for (int i = 0; i < n_bins; i++) {
        acc += hist[i];
        if (acc > want)
            return lo + (i + 0.5) * width;
    }
    return lo + n_bins * width;
}

/* sRGB 8-bit -> linear light. */
static double lin(double v)
{
    v /= 255.0;
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

/* ---------------------------------------------------------------- colour normalisation */

/* Fits REF_c ~ a * MOV_c + b per channel by iteratively reweighted least squares (Tukey),
 * over valid, unsaturated pixels, then applies it to mov in place. */
static void normalise_colour(const dq_raster_t *ref, dq_raster_t *mov, const uint8_t *valid,
                             double gain[3], double off[3])
{
    size_t n = (size_t)ref->w * ref->h;
    size_t stride = n > 2000000 ? n / 2000000 : 1;
    for (int c = 0; c < 3; c++) {
        double a = 1, b = 0, sigma = 0;
        for (int it = 0; it < 6; it++) {
            double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
            uint64_t hist[1024] = {0};
            for (size_t i = 0; i < n; i += stride) {
                if (!valid[i])
                    continue;
                double x = mov->px[3 * i + c], y = ref->px[3 * i + c];
                if (x < 8 || x > 247 || y < 8 || y > 247)
                    continue;
                double r = y - (a * x + b), w = 1;
                int hb = (int)(fabs(r) * 4);
                hist[hb < 1023 ? hb : 1023]++;
                if (sigma > 0) {
                    double t = r / (4.685 * sigma);
                    w = fabs(t) >= 1 ? 0 : (1 - t * t) * (1 - t * t);
                }
                sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
            }
            double det = sw * sxx - sx * sx;
            if (sw <= 0 || fabs(det) < 1e-9)
                break;
            a = (sw * sxy - sx * sy) / det;
            b = (sy - a * sx) / sw;
            sigma = 1.4826 * hist_quantile(hist, 1024, 0, 0.25, 0.5) + 0.5;
        }
        gain[c] = a;
        off[c] = b;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            double v = gain[c] * mov->px[3 * i + c] + off[c];
            mov->px[3 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
        }
}

/* ---------------------------------------------------------------- bare support estimate */

static uint8_t median_u8(const uint64_t *hist, uint64_t n)
{
    uint64_t acc = 0;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if (2 * acc > n)
            return (uint8_t)v;
    }
    return 255;
}

/* The bare support colour on a grid of CELL x CELL cells: the cell's median, then three
 * rounds of "median of the pixels within 12 levels of the neighbourhood's median", so that
 * cells mostly covered by paint take the colour of the paper around them. */
static float *support_grid(const dq_raster_t *ref, int gw, int gh)
{
    float *g = dq_xmalloc((size_t)gw * gh * 3 * sizeof(float));
    float *s = dq_xmalloc((size_t)gw * gh * 3 * sizeof(float));
    for (int round = 0; round < 4; round++) {
        if (round > 0) {
            /* 5x5 median of the cells, per channel */
            for (int cy = 0; cy < gh; cy++)
                for (int cx = 0; cx < gw; cx++)
                    for (int c = 0; c < 3; c++) {
                        float v[25];
                        int k = 0;
                        for (int dy = -2; dy <= 2; dy++)
                            for (int dx = -2; dx <= 2; dx++) {
                                int yy = cy + dy, xx = cx + dx;
                                if (yy >= 0 && yy < gh && xx >= 0 && xx < gw)
                                    v[k++] = g[((size_t)yy * gw + xx) * 3 + c];
                            }
                        for (int i = 1; i < k; i++) /* insertion sort of <= 25 */
                            for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
                                float t = v[j];
                                v[j] = v[j - 1];
                                v[j - 1] = t;
                            }
                        s[((size_t)cy * gw + cx) * 3 + c] = v[k / 2];
                    }
        }
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++) {
                uint64_t hist[3][256] = {{0}}, n = 0;
                const float *sc = s + ((size_t)cy * gw + cx) * 3;
                int y1 = cy == gh - 1 ? ref->h : (cy + 1) * CELL;
                int x1 = cx == gw - 1 ? ref->w : (cx + 1) * CELL;
                for (int y = cy * CELL; y < y1; y++)
                    for (int x = cx * CELL; x < x1; x++) {
                        const uint8_t *p = ref->px + ((size_t)y * ref->w + x) * 3;
                        if (round > 0 && (fabsf(p[0] - sc[0]) > 12 || fabsf(p[1] - sc[1]) > 12 ||
                                          fabsf(p[2] - sc[2]) > 12))
                            continue;
                        for (int c = 0; c < 3; c++)
                            hist[c][p[c]]++;
                        n++;
                    }
                uint64_t area = (uint64_t)(y1 - cy * CELL) * (uint64_t)(x1 - cx * CELL);
                float *gc = g + ((size_t)cy * gw + cx) * 3;
                for (int c = 0; c < 3; c++)
                    gc[c] = round == 0 || 100 * n > 15 * area ? median_u8(hist[c], n) : sc[c];
            }
    }
    free(s);
    return g;
}

/* Bilinear between cell centres. */
static void support_at(const float *g, int gw, int gh, int x, int y, double out[3])
{
    double fx = (x + 0.5) / CELL - 0.5, fy = (y + 0.5) / CELL - 0.5;
    if (fx < 0)
        fx = 0;
    if (fy < 0)
        fy = 0;
    if (fx > gw - 1)
        fx = gw - 1;
    if (fy > gh - 1)
        fy = gh - 1;
    int x0 = (int)fx, y0 = (int)fy;
    int x1 = x0 + 1 < gw ? x0 + 1 : x0, y1 = y0 + 1 < gh ? y0 + 1 : y0;
    double ax = fx - x0, ay = fy - y0;
    for (int c = 0; c < 3; c++) {
        double a = g[((size_t)y0 * gw + x0) * 3 + c], b = g[((size_t)y0 * gw + x1) * 3 + c];
        double d = g[((size_t)y1 * gw + x0) * 3 + c], e = g[((size_t)y1 * gw + x1) * 3 + c];
        out[c] = (a + (b - a) * ax) * (1 - ay) + (d + (e - d) * ax) * ay;
    }
}

/* ---------------------------------------------------------------- 5x5 means, streamed */

/* Sliding 5x5 sums of (N - R) and of R per channel, one output row at a time, from a ring of
 * five rows of horizontal sums: memory is 10 rows whatever the image height. */
typedef struct {
    const dq_raster_t *r, *n;
    int w, h;
    int32_t *ring; /* 5 rows x w x 6 (3 diff + 3 ref) */
    int next;      /* next source row to put in the ring */
} box_t;

static void box_row(box_t *b, int y)
{
    if (y < 0 || y >= b->h)
        return;
    int32_t *row = b->ring + (size_t)(y % 5) * b->w * 6;
    const uint8_t *pr = b->r->px + (size_t)y * b->w * 3, *pn = b->n->px + (size_t)y * b->w * 3;
    for (int x = 0; x < b->w; x++) {
        int32_t acc[6] = {0};
        for (int dx = -BOX; dx <= BOX; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= b->w ? b->w - 1 : x + dx;
            for (int c = 0; c < 3; c++) {
                acc[c] += pn[3 * xx + c] - pr[3 * xx + c];
                acc[3 + c] += pr[3 * xx + c];
            }
        }
        memcpy(row + (size_t)x * 6, acc, sizeof(acc));
    }
}

/* Fills sums (w x 6) for output row y: the means times 25. */
static void box_get(box_t *b, int y, int32_t *sums)
{
    while (b->next <= y + BOX) {
        box_row(b, b->next < b->h ? b->next : -1);
        b->next++;
    }
    memset(sums, 0, (size_t)b->w * 6 * sizeof(int32_t));
    for (int dy = -BOX; dy <= BOX; dy++) {
        int yy = y + dy; /* rows outside the image are left out (box_rows counts the rest) */
        if (yy < 0 || yy >= b->h)
            continue;
        const int32_t *row = b->ring + (size_t)(yy % 5) * b->w * 6;
        for (size_t i = 0; i < (size_t)b->w * 6; i++)
            sums[i] += row[i];
    }
}

/* The number of rows summed for output row y (fewer at the top and bottom edges). */
static int box_rows(int y, int h)
{
    int n = 0;
    for (int dy = -BOX; dy <= BOX; dy++)
        n += y + dy >= 0 && y + dy < h;
    return n;
}

/* Erodes a 0/255 mask by r pixels (square), in place: pixels near the edge of MOVING's
 * footprint mix in the background of the resampling and must not count as change. */
static void erode(uint8_t *m, int w, int h, int r)
{
    uint8_t *t = dq_xmalloc((size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = 255;
            for (int dx = -r; dx <= r && v; dx++)
                if (x + dx < 0 || x + dx >= w || !m[(size_t)y * w + x + dx])
                    v = 0;
            t[(size_t)y * w + x] = v;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = 255;
            for (int dy = -r; dy <= r && v; dy++)
                if (y + dy < 0 || y + dy >= h || !t[(size_t)(y + dy) * w + x])
                    v = 0;
            m[(size_t)y * w + x] = v;
        }
    free(t);
}

/* ---------------------------------------------------------------- the change map */

int dq_conserve_changes(const dq_raster_t *ref, const dq_raster_t *mov,
                        dq_conserve_changes_t *out, dq_err_t *err)
{
    dq_raster_t nrm = {0};
    uint8_t *valid = NULL, *lossd = NULL;
    float *sup = NULL;
    int32_t *sums = NULL;
    box_t box = {0};
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (!ref || !mov || ref->bands != 3 || mov->bands != 3)
        return dq_err_set(err, DQ_EINVAL, 400, "changes: both captures must be colour images");
    if (dq_conserve_register(ref, mov, &out->reg, err) < 0 ||
        dq_conserve_warp(mov, out->reg.m, ref->w, ref->h, &nrm, &valid, err) < 0)
        goto out;
    int w = ref->w, h = ref->h;
    size_t n = (size_t)w * h;
    out->w = w;
    out->h = h;
    erode(valid, w, h, 1);
    normalise_colour(ref, &nrm, valid, out->colour_gain, out->colour_offset);

    /* Noise of the per-pixel difference, and REF's luma and chroma distributions. */
    uint64_t hd[3][512] = {{0}}, hl[256] = {0}, hc[256] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!valid[i])
            continue;
        out->n_valid++;
        const uint8_t *p = ref->px + 3 * i, *q = nrm.px + 3 * i;
        for (int c = 0; c < 3; c++)
            hd[c][abs(q[c] - p[c]) * 2]++;
        int mx = p[0] > p[1] ? p[0] : p[1], mn = p[0] < p[1] ? p[0] : p[1];
        mx = mx > p[2] ? mx : p[2], mn = mn < p[2] ? mn : p[2];
        hl[(299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000]++;
        hc[mx - mn]++;
    }
    if (out->n_valid < 1000) {
        dq_err_set(err, DQ_EINVAL, 422, "changes: the captures hardly overlap");
        goto out;
    }
    for (int c = 0; c < 3; c++)
        out->noise[c] = 1.4826 * hist_quantile(hd[c], 512, 0, 0.5, 0.5) + 0.5;
    /* The lining: the median colour of REF's brightest (top 0.5 %) less-than-median-chroma
     * pixels, i.e. its old losses when it has any. */
    double l995 = hist_quantile(hl, 256, 0, 1, 0.995) - 0.5;
    double cmed = hist_quantile(hc, 256, 0, 1, 0.5) - 0.5;
    uint64_t hlin[3][256] = {{0}}, nl = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = ref->px + 3 * i;
        int mx = p[0] > p[1] ? p[0] : p[1], mn = p[0] < p[1] ? p[0] : p[1];
        mx = mx > p[2] ? mx : p[2], mn = mn < p[2] ? mn : p[2];
        if ((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000 >= l995 && mx - mn <= cmed) {
            for (int c = 0; c < 3; c++)
                hlin[c][p[c]]++;
            nl++;
        }
    }
    for (int c = 0; c < 3; c++)
        out->lining[c] = nl ? median_u8(hlin[c], nl) : 255;

    int gw = w / CELL > 0 ? w / CELL : 1, gh = h / CELL > 0 ? h / CELL : 1;
    sup = support_grid(ref, gw, gh);

    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++)
        out->mask[k] = dq_xcalloc(n, 1);
    uint8_t *loss = out->mask[DQ_CONSERVE_LOSS];
    /* Losses, per pixel: a big change that lands nearer the lining than the support and
     * at least halves the distance to the lining. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!valid[i])
                continue;
            const uint8_t *p = ref->px + 3 * i, *q = nrm.px + 3 * i;
            double z = 0, dln = 0, dlr = 0, dbn = 0, b[3];
            support_at(sup, gw, gh, x, y, b);
            for (int c = 0; c < 3; c++) {
                double d = (q[c] - p[c]) / out->noise[c];
                z += d * d;
                dln += (q[c] - out->lining[c]) * (q[c] - out->lining[c]);
                dlr += (p[c] - out->lining[c]) * (p[c] - out->lining[c]);
                dbn += (q[c] - b[c]) * (q[c] - b[c]);
            }
            if (z > Z_LOSS * Z_LOSS && dln < dbn && dln < 0.25 * dlr)
                loss[i] = 255;
        }
    /* Keep 5x5 means clear of losses: dilate by 3 px (separable square). */
    lossd = dq_xcalloc(n, 1);
    {
        uint8_t *tmp = dq_xcalloc(n, 1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (loss[(size_t)y * w + x])
                    for (int dx = -3; dx <= 3; dx++)
                        if (x + dx >= 0 && x + dx < w)
                            tmp[(size_t)y * w + x + dx] = 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (tmp[(size_t)y * w + x])
                    for (int dy = -3; dy <= 3; dy++)
                        if (y + dy >= 0 && y + dy < h)
                            lossd[(size_t)(y + dy) * w + x] = 1;
        free(tmp);
    }

    /* Flaking and fading on 5x5 means, which must lie wholly inside MOVING's footprint:
     * first the noise of those means, then the classes. */
    erode(valid, w, h, BOX + 1);
    box.r = ref;
    box.n = &nrm;
    box.w = w;
    box.h = h;
    box.ring = dq_xmalloc((size_t)5 * w * 6 * sizeof(int32_t));
    sums = dq_xmalloc((size_t)w * 6 * sizeof(int32_t));
    uint64_t hs[3][1024] = {{0}};
    for (int y = 0; y < h; y++) {
        box_get(&box, y, sums);
        double k = 1.0 / (5.0 * box_rows(y, h));
        for (int x = 0; x < w; x++)
            if (valid[(size_t)y * w + x] && !lossd[(size_t)y * w + x])
                for (int c = 0; c < 3; c++) {
                    int b = (int)(fabs(sums[(size_t)x * 6 + c] * k) * 8);
                    hs[c][b < 1023 ? b : 1023]++;
                }
    }
    double sn[3];
    for (int c = 0; c < 3; c++)
        sn[c] = 1.4826 * hist_quantile(hs[c], 1024, 0, 0.125, 0.5) + 0.25;
    box.next = 0;
    for (int y = 0; y < h; y++) {
        box_get(&box, y, sums);
        double k = 1.0 / (5.0 * box_rows(y, h));
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!valid[i] || lossd[i])
                continue;
            const int32_t *s = sums + (size_t)x * 6;
            double z = 0;
            for (int c = 0; c < 3; c++) {
                double d = s[c] * k / sn[c];
                z += d * d;
            }
            if (z <= Z_PAINT * Z_PAINT)
                continue;
            /* alpha: how far the colour moved towards the support, in linear light */
            double b[3], num = 0, den = 0;
            support_at(sup, gw, gh, x, y, b);
            for (int c = 0; c < 3; c++) {
                double rm = s[3 + c] * k, nm = rm + s[c] * k;
                double lr = lin(rm), v = lin(b[c]) - lr;
                num += (lin(nm < 0 ? 0 : nm > 255 ? 255 : nm) - lr) * v;
                den += v * v;
            }
            if (den < 1e-8)
                continue;
            double alpha = num / den;
            if (alpha <= 0.3)
                continue; /* not towards the support: not a loss of pigment */
            out->mask[alpha >= 0.85 ? DQ_CONSERVE_FLAKING : DQ_CONSERVE_FADING][i] = 255;
        }
    }
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++)
        for (size_t i = 0; i < n; i++)
            out->area[k] += out->mask[k][i] != 0;
    rc = 0;
out:
    if (rc < 0)
        dq_conserve_changes_free(out);
    free(box.ring);
    free(sums);
    free(sup);
    free(lossd);
    free(valid);
    dq_raster_free(&nrm);
    return rc;
}

/* ---------------------------------------------------------------- connected regions */

static int region_cmp(const void *a, const void *b)
{
    const dq_conserve_region_t *x = a, *y = b;
    return x->area < y->area ? 1 : x->area > y->area ? -1 : (x->y0 - y->y0) ? x->y0 - y->y0
                                                                             : x->x0 - y->x0;
}

typedef struct {
    uint64_t min_area;
    dq_conserve_region_t *r;
    int n, cap;
} regions_t;

static void collect_region(void *ud, const size_t *px, size_t n, int x0, int y0, int x1, int y1)
{
    regions_t *R = ud;
    (void)px;
    if (n < R->min_area)
        return;
    if (R->n == R->cap) {
        R->cap = R->cap ? R->cap * 2 : 64;
        R->r = dq_xrealloc(R->r, (size_t)R->cap * sizeof(*R->r));
    }
    R->r[R->n++] = (dq_conserve_region_t){x0, y0, x1, y1, n};
}

void dq_conserve_regions(const uint8_t *mask, int w, int h, uint64_t min_area,
                         dq_conserve_region_t **out, int *n)
{
    regions_t R = {.min_area = min_area};
    cv_walk_regions(mask, w, h, collect_region, &R);
    if (R.n > 1)
        qsort(R.r, (size_t)R.n, sizeof(*R.r), region_cmp);
    *out = R.r;
    *n = R.n;
}

void cv_walk_regions(const uint8_t *mask, int w, int h, cv_region_fn fn, void *ud)
{
    size_t np = (size_t)w * h;
    uint8_t *seen = dq_xcalloc(np, 1);
    size_t cap = 1024, *stack = dq_xmalloc(cap * sizeof(size_t));
    size_t rcap = 1024, *px = dq_xmalloc(rcap * sizeof(size_t));
    for (size_t s0 = 0; s0 < np; s0++) {
        if (!mask[s0] || seen[s0])
            continue;
        int x0 = (int)(s0 % w), x1 = x0, y0 = (int)(s0 / w), y1 = y0;
        size_t top = 0, n = 0;
        stack[top++] = s0;
        seen[s0] = 1;
        while (top) {
            size_t i = stack[--top];
            int x = (int)(i % w), y = (int)(i / w);
            if (n == rcap) {
                rcap *= 2;
                px = dq_xrealloc(px, rcap * sizeof(size_t));
            }
            px[n++] = i;
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                        continue;
                    size_t j = (size_t)yy * w + xx;
                    if (!mask[j] || seen[j])
                        continue;
                    seen[j] = 1;
                    if (top == cap) {
                        cap *= 2;
                        stack = dq_xrealloc(stack, cap * sizeof(size_t));
                    }
                    stack[top++] = j;
                }
        }
        fn(ud, px, n, x0, y0, x1, y1);
    }
    free(seen);
    free(stack);
    free(px);
}
