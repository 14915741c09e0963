/*
 * conserve/changes.c: change maps between two condition captures. After registration the
 * later capture is resampled into the earlier one's frame and its colours are mapped onto the
 * earlier one's by a per-channel gain, the consensus of the scattergram's unchanged pixels, so
 * that what remains is change of the object, not of the camera; REF takes the same resampling
 * round trip, so that both have the same blur. Each pixel is then classified by what the
 * painted layer's optics predicts (linear mixing of pigment over support):
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
#include "core/colour.h"

#define CELL 32     /* grid of the support estimate, REF pixels */
#define LOSS_GAP 1  /* pixels around a loss that the paint test leaves out (see changes_run) */
#define BOX 2       /* margin kept from the edge of MOVING's footprint, beyond 1 px */
#define Z_LOSS 8.0  /* per-pixel change, in noise sigmas, needed for a loss */
#define Z_PAINT 7.0 /* 5x5-mean change, in its calibrated sigmas, on strong colour */

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

/* The median of |d| for integer differences d, from h (h[2 |d|]: counts; the odd bins are
 * empty), read as grouped data: |d| = v stands for [v - 0.5, v + 0.5) (0 for [0, 0.5)) and
 * the median is interpolated inside its group. The plain median is a whole level: the noise
 * sigma derived from it was 0.87 or 2.35 and nothing between, and flipped between the two
 * when the colour map moved a fraction of a level (the fan DQ-2026-0014 seed 7: green 0.87
 * -> 2.35, and its loss F1 0.807 -> 0.736, when the normalisation was corrected). */
static double grouped_median(const uint64_t *h)
{
    uint64_t n = 0, acc = 0;
    for (int i = 0; i < 512; i += 2)
        n += h[i];
    if (!n)
        return 0;
    for (int v = 0; v < 256; v++) {
        uint64_t k = h[2 * v];
        if (k && 2 * (acc + k) >= n) {
            double lo = v ? v - 0.5 : 0, hi = v + 0.5;
            return lo + (0.5 * (double)n - (double)acc) / (double)k * (hi - lo);
        }
        acc += k;
    }
    return 255;
}

/* sRGB 8-bit -> linear light. */
static double lin(double v)
{
    v /= 255.0;
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

/* CIE 1976 colour difference between the sRGB colours a and a + d (8-bit levels). */
static double delta_e(const double a[3], const double d[3])
{
    double b[3] = {a[0] + d[0], a[1] + d[1], a[2] + d[2]}, la[3], lb[3];
    dq_colour_srgb8_lab(a, la); /* core/colour.c: the painter's truth uses the same */
    dq_colour_srgb8_lab(b, lb);
    return sqrt((la[0] - lb[0]) * (la[0] - lb[0]) + (la[1] - lb[1]) * (la[1] - lb[1]) +
                (la[2] - lb[2]) * (la[2] - lb[2]));
}

/* The inverse of a 3x3 matrix (adjugate over determinant); -1 when singular. */
static int invert3(const double m[3][3], double o[3][3])
{
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                 m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if (fabs(det) < 1e-12)
        return -1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int a = (j + 1) % 3, b = (j + 2) % 3, c = (i + 1) % 3, d = (i + 2) % 3;
            o[i][j] = (m[a][c] * m[b][d] - m[a][d] * m[b][c]) / det;
        }
    return 0;
}

/* ---------------------------------------------------------------- colour normalisation */

/* The consensus gain of a channel's scattergram: the gain a (REF ~ a * MOV) that puts the
 * most pixels within CONS_BAND levels of the line, searched exhaustively on the 256 x 256
 * joint histogram h (MOV level x, REF level y), coarse then fine. This is the no-change band
 * of automatic scattergram-controlled regression (Elvidge et al. 1995, PE&RS 61(10)):
 * unchanged pixels form the densest ridge of the scattergram. A least-squares start instead
 * (even one reweighted afterwards) is pulled by a large faded area: DQ-2026-0008 seed 2 faded
 * 28 % of its pixels, mostly red washes, and the fit came out gain 1.58, offset -110 in red
 * against the camera's true 1.04 and 0 (77 levels wrong at REF level 200); every fading
 * pixel's change was then measured against that line.
 * The line goes through the origin: exposure and white balance scale each channel's linear
 * signal (von Kries), which a power-law encoding keeps a scale of the encoded value. A free
 * offset let the consensus pivot about the paper, the densest cluster, onto a faded wash
 * where a wash's tones had faded nearly everywhere (the same pair: +5.9 levels in red at
 * REF 64); what a real camera adds (flare, black level) is left to the residual tone curve,
 * measured on the unchanged pixels of every tone (noise_model). */
#define CONS_BAND 3
static double consensus_gain(const uint64_t *h)
{
    uint64_t *cs = dq_xcalloc(256 * 257, sizeof(uint64_t));
    for (int x = 0; x < 256; x++)
        for (int y = 0; y < 256; y++)
            cs[x * 257 + y + 1] = cs[x * 257 + y] + h[x * 256 + y];
    double best_a = 1, a0 = 0.5, a1 = 2.0, da = 0.001;
    for (int stage = 0; stage < 2; stage++) {
        uint64_t best = 0;
        for (double a = a0; a <= a1 + 1e-9; a += da) {
            uint64_t n = 0;
            for (int x = 8; x < 248; x++) {
                double yc = a * x;
                int lo = (int)ceil(yc - CONS_BAND), hi = (int)floor(yc + CONS_BAND);
                lo = lo < 0 ? 0 : lo;
                hi = hi > 255 ? 255 : hi;
                if (hi >= lo)
                    n += cs[x * 257 + hi + 1] - cs[x * 257 + lo];
            }
            if (n > best)
                best = n, best_a = a;
        }
        a0 = best_a - da, a1 = best_a + da, da /= 10; /* then a tenth of the step around it */
    }
    free(cs);
    return best_a;
}

/* Fits REF_c ~ a * MOV_c per channel over valid, unsaturated pixels: the scattergram's
 * consensus gain (see consensus_gain), then least squares over the pixels in its no-change
 * band, twice re-centred (Elvidge et al. 1995); then applies it to mov in place. */
static void normalise_colour(const dq_raster_t *ref, dq_raster_t *mov, const uint8_t *valid,
                             double gain[3], double off[3])
{
    size_t n = (size_t)ref->w * ref->h;
    size_t stride = n > 2000000 ? n / 2000000 : 1;
    uint64_t *jh = dq_xmalloc(256 * 256 * sizeof(uint64_t));
    for (int c = 0; c < 3; c++) {
        memset(jh, 0, 256 * 256 * sizeof(uint64_t));
        for (size_t i = 0; i < n; i += stride)
            if (valid[i])
                jh[mov->px[3 * i + c] * 256 + ref->px[3 * i + c]]++;
        double a = consensus_gain(jh);
        for (int it = 0; it < 3; it++) { /* least squares over the no-change band */
            double sxx = 0, sxy = 0;
            for (int x = 8; x < 248; x++)
                for (int y = 8; y < 248; y++) {
                    uint64_t k = jh[x * 256 + y];
                    if (k && fabs(y - a * x) <= CONS_BAND)
                        sxx += (double)k * x * x, sxy += (double)k * x * y;
                }
            if (sxx <= 0)
                break;
            a = sxy / sxx;
        }
        gain[c] = a;
        off[c] = 0;
    }
    free(jh);
    uint8_t lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            double t = gain[c] * v + off[c];
            lut[c][v] = (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t + 0.5);
        }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            mov->px[3 * i + c] = lut[c][mov->px[3 * i + c]];
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

/* A quantile of a 256-bin histogram of n values. */
static uint8_t quantile_u8(const uint64_t *hist, uint64_t n, double q)
{
    uint64_t acc = 0;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if ((double)acc > q * (double)n)
            return (uint8_t)v;
    }
    return 255;
}

/* The bare support colour on a grid of cell x cell cells: the cell's median, then three
 * rounds of "median of the pixels within 12 levels of the neighbourhood's median", so that
 * cells mostly covered by paint take the colour of the paper around them.
 * The neighbourhood's median is taken over the cells that can be the support under this one:
 * pigments absorb, so paint over a support is darker than it in every channel (linear
 * mixing: support * (1 - c) + pigment * c; lead white, the exception, is near the paper's
 * own colour), and a neighbour cell darker than this cell's own bright end (its upper
 * quartile, less SUP_MARGIN, in any channel) is paint or another material, not its support.
 * Without this a cluster of blossoms at the edge of a fan leaf (their cells covered by pink,
 * their neighbourhood half the grey mount) took a pink-grey "support", and the paper bared by
 * a flake there read as the lining, a loss (DQ-2026-0014: 692 of the 1125 flaking pixels at
 * half size, seed 1). Neighbours within SUP_LINING of the lining are old losses, not support.
 * Fewer than 3 such neighbours: all of them, as before. lining NULL: every neighbour. */
#define SUP_MARGIN 6.0f
#define SUP_LINING 12.0f
static float *support_grid(const dq_raster_t *ref, int gw, int gh, int cell, const double *lining)
{
    float *g = dq_xmalloc((size_t)gw * gh * 3 * sizeof(float));
    float *s = dq_xmalloc((size_t)gw * gh * 3 * sizeof(float));
    float *up = dq_xmalloc((size_t)gw * gh * 3 * sizeof(float));
    for (int round = 0; round < 4; round++) {
        if (round > 0) {
            /* 5x5 median of the cells that can be this cell's support, per channel */
            for (int cy = 0; cy < gh; cy++)
                for (int cx = 0; cx < gw; cx++) {
                    const float *uc = up + ((size_t)cy * gw + cx) * 3;
                    float v[3][25];
                    int k = 0, ka = 0;
                    for (int pass = lining ? 0 : 1; pass < 2 && k < 3; pass++) {
                        k = 0;
                        for (int dy = -2; dy <= 2; dy++)
                            for (int dx = -2; dx <= 2; dx++) {
                                int yy = cy + dy, xx = cx + dx;
                                if (yy < 0 || yy >= gh || xx < 0 || xx >= gw)
                                    continue;
                                const float *gn = g + ((size_t)yy * gw + xx) * 3;
                                int near_lining = 1, below = 0;
                                for (int c = 0; pass == 0 && c < 3; c++) {
                                    below |= gn[c] < uc[c] - SUP_MARGIN;
                                    near_lining &= fabsf(gn[c] - (float)lining[c]) <= SUP_LINING;
                                }
                                if (pass == 0 && (below || near_lining))
                                    continue; /* pass 1: every neighbour */
                                for (int c = 0; c < 3; c++)
                                    v[c][k] = gn[c];
                                k++;
                            }
                        ka = k;
                    }
                    for (int c = 0; c < 3; c++) {
                        float *vc = v[c];
                        for (int i = 1; i < ka; i++) /* insertion sort of <= 25 */
                            for (int j = i; j > 0 && vc[j - 1] > vc[j]; j--) {
                                float t = vc[j];
                                vc[j] = vc[j - 1];
                                vc[j - 1] = t;
                            }
                        s[((size_t)cy * gw + cx) * 3 + c] = vc[ka / 2];
                    }
                }
        }
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++) {
                uint64_t hist[3][256] = {{0}}, n = 0;
                const float *sc = s + ((size_t)cy * gw + cx) * 3;
                int y1 = cy == gh - 1 ? ref->h : (cy + 1) * cell;
                int x1 = cx == gw - 1 ? ref->w : (cx + 1) * cell;
                for (int y = cy * cell; y < y1; y++)
                    for (int x = cx * cell; x < x1; x++) {
                        const uint8_t *p = ref->px + ((size_t)y * ref->w + x) * 3;
                        if (round > 0 && (fabsf(p[0] - sc[0]) > 12 || fabsf(p[1] - sc[1]) > 12 ||
                                          fabsf(p[2] - sc[2]) > 12))
                            continue;
                        for (int c = 0; c < 3; c++)
                            hist[c][p[c]]++;
                        n++;
                    }
                uint64_t area = (uint64_t)(y1 - cy * cell) * (uint64_t)(x1 - cx * cell);
                float *gc = g + ((size_t)cy * gw + cx) * 3;
                for (int c = 0; c < 3; c++) {
                    gc[c] = round == 0 || 100 * n > 15 * area ? median_u8(hist[c], n) : sc[c];
                    if (round == 0)
                        up[((size_t)cy * gw + cx) * 3 + c] = quantile_u8(hist[c], n, 0.75);
                }
            }
    }
    free(up);
    free(s);
    return g;
}

/* Bilinear between the centres of a grid of cell x cell cells (3 values each). */
static void grid_at(const float *g, int gw, int gh, int cell, int x, int y, double out[3])
{
    double fx = (x + 0.5) / cell - 0.5, fy = (y + 0.5) / cell - 0.5;
    fx = fx < 0 ? 0 : fx > gw - 1 ? gw - 1 : fx;
    fy = fy < 0 ? 0 : fy > gh - 1 ? gh - 1 : fy;
    int x0 = (int)fx, y0 = (int)fy;
    int x1 = x0 + 1 < gw ? x0 + 1 : x0, y1 = y0 + 1 < gh ? y0 + 1 : y0;
    double ax = fx - x0, ay = fy - y0;
    for (int c = 0; c < 3; c++) {
        double a = g[((size_t)y0 * gw + x0) * 3 + c], b = g[((size_t)y0 * gw + x1) * 3 + c];
        double d = g[((size_t)y1 * gw + x0) * 3 + c], e = g[((size_t)y1 * gw + x1) * 3 + c];
        out[c] = (a + (b - a) * ax) * (1 - ay) + (d + (e - d) * ax) * ay;
    }
}

/* The bare support colour at (x, y). */
static void support_at(const float *g, int gw, int gh, int x, int y, double out[3])
{
    grid_at(g, gw, gh, CELL, x, y, out);
}

/* ---------------------------------------------------------------- box sums, streamed */

/* Per pixel the statistics stream carries NV values: d_c (3), 1, REF_c (3), where d is
 * normalised MOVING - REF less the residual tone curve (all 0 on excluded pixels). A box of
 * radius r sums the first nv of them over (2r+1)^2 pixels; the 5x5 box needs all (the REF
 * means give the support contrast and alpha), the wider ones only the change and count. */
enum { NV = 7 };

typedef struct {
    int w, h, r, nv;
    int n_ring;  /* rows of horizontal sums kept: 2 * the largest radius + 2 */
    float *ring; /* n_ring rows x w x nv horizontal sums */
    double *vs;  /* w x nv running vertical sums (double: no drift over tall images) */
    int y_out;   /* next output row */
} wbox_t;

static void wbox_init(wbox_t *b, int w, int h, int r, int nv, int n_ring)
{
    b->w = w, b->h = h, b->r = r, b->nv = nv, b->n_ring = n_ring, b->y_out = 0;
    b->ring = dq_xmalloc((size_t)n_ring * w * nv * sizeof(float));
    b->vs = dq_xcalloc((size_t)w * nv, sizeof(double));
}

static void wbox_free(wbox_t *b)
{
    free(b->ring);
    free(b->vs);
}

/* Adds source row y (w x NV values): its horizontal box sums go into the ring. */
static void wbox_push(wbox_t *b, int y, const float *src)
{
    int r = b->r, w = b->w, nv = b->nv;
    float *hs = b->ring + (size_t)(y % b->n_ring) * w * nv;
    double acc[NV] = {0};
    for (int x = 0; x < r && x < w; x++)
        for (int k = 0; k < nv; k++)
            acc[k] += src[(size_t)x * NV + k];
    for (int x = 0; x < w; x++) {
        if (x + r < w)
            for (int k = 0; k < nv; k++)
                acc[k] += src[(size_t)(x + r) * NV + k];
        if (x - r - 1 >= 0)
            for (int k = 0; k < nv; k++)
                acc[k] -= src[(size_t)(x - r - 1) * NV + k];
        for (int k = 0; k < nv; k++)
            hs[(size_t)x * nv + k] = (float)acc[k];
    }
}

/* The box sums of output row b->y_out (w x nv, borrowed until the next call); rows y_out + r
 * must have been pushed. Rows outside the image count as excluded pixels (all zero). */
static const double *wbox_next(wbox_t *b)
{
    int y = b->y_out++, r = b->r;
    size_t n = (size_t)b->w * b->nv;
    if (y == 0)
        for (int yy = 0; yy < r && yy < b->h; yy++) {
            const float *hs = b->ring + (size_t)(yy % b->n_ring) * n;
            for (size_t i = 0; i < n; i++)
                b->vs[i] += hs[i];
        }
    if (y + r < b->h) {
        const float *hs = b->ring + (size_t)((y + r) % b->n_ring) * n;
        for (size_t i = 0; i < n; i++)
            b->vs[i] += hs[i];
    }
    if (y - r - 1 >= 0) {
        const float *hs = b->ring + (size_t)((y - r - 1) % b->n_ring) * n;
        for (size_t i = 0; i < n; i++)
            b->vs[i] -= hs[i];
    }
    return b->vs;
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

/* Dilates a 0/non-zero mask by r pixels (square) in place, with running counts: O(w h)
 * whatever r (conserve_internal.h; classes.c uses it too). */
void cv_dilate_box(uint8_t *m, int w, int h, int r)
{
    uint8_t *t = dq_xcalloc((size_t)w * h, 1);
    int *cnt = dq_xcalloc((size_t)w, sizeof(int));
    for (int y = 0; y < h; y++) {
        const uint8_t *row = m + (size_t)y * w;
        int c = 0;
        for (int x = 0; x < r && x < w; x++)
            c += row[x] != 0;
        for (int x = 0; x < w; x++) {
            if (x + r < w)
                c += row[x + r] != 0;
            if (x - r - 1 >= 0)
                c -= row[x - r - 1] != 0;
            t[(size_t)y * w + x] = c > 0;
        }
    }
    for (int y = 0; y < r && y < h; y++)
        for (int x = 0; x < w; x++)
            cnt[x] += t[(size_t)y * w + x];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            if (y + r < h)
                cnt[x] += t[(size_t)(y + r) * w + x];
            if (y - r - 1 >= 0)
                cnt[x] -= t[(size_t)(y - r - 1) * w + x];
            m[(size_t)y * w + x] = cnt[x] > 0 ? 255 : 0;
        }
    }
    free(cnt);
    free(t);
}

/* ---------------------------------------------------------------- flaking and fading */

/* The windows of the multi-scale test: 5x5 (a flake of a few pixels on strong colour),
 * 11x11 and 25x25 (a thin wash, whose change is a few grey levels: pooling 625 pixels
 * lifts it ~25x above the per-pixel noise). */
#define N_SCALES 3
static const int scale_r[N_SCALES] = {2, 5, 12};
#define EXCLUDED 255   /* flag of a pixel the pigment test leaves out */
#define UNTESTED 0x80  /* flag of a pixel that counts in the windows but is not tested */
#define A_FLAKE 0.85   /* alpha (move towards the support) from which a loss of pigment is whole */
#define A_OWN 0.9      /* the same for the pixel on its own (noisier, and biased up like the window) */
#define A_DIR 0.3      /* alpha under which the pixel itself must carry its window's change */
#define OWN_SHARE 0.7  /* ... at least this share of it (see decide_row) */
#define C_ALPHA 24.0   /* support contrast (sRGB levels) above which alpha is trusted */
#define R_FLAKE 1.2    /* local / surrounding lightening above which a light-wash change is a flake */
#define Z_OWN 2.5      /* the pixel's own 5x5 window, at least, when a wider one detects */
#define Z_WASH 14.0    /* the 5x5 window's chi-square on its own, on a light wash */
#define Z_WASHL 6.0    /* 11x11 or 25x25 mean lightening (luma), in its calibrated sigmas */
#define L_FLOOR 1.0    /* ... and at least one grey level: see decide_row */
#define Z_GAP 2.0      /* own 5x5 luma this many sigmas below OWN_FRAC of the surround: no */
#define OWN_FRAC 0.5
#define DE_JND 2.3     /* CIE 1976 Delta E*ab a change must reach to be marked (see decide_row) */
#define VOTE_R 40      /* radius of a thin wash's class vote (see wash_vote) */
#define VOTE_FLAKE 0.3 /* share of flaking among the changed pixels there that makes a flake */
#define VOTE_OWN 0.3   /* ... less this times ln(q / R_FLAKE), the pixel's own evidence */
#define Q_CODES 252    /* wash codes 1..Q_CODES hold ln(q / R_FLAKE) over [-Q_SPAN, Q_SPAN] */
#define Q_SPAN 2.0
#define HY_N5 10    /* flaking pixels of 25 in its 5x5 that take a thin-wash flake under the JND */
#define HY_VOTE 0.4 /* ... with at least this share of flaking within VOTE_R (see wash_vote) */
/* wash codes past the q codes: a thin-wash flake the JND turned down, the vote's outcomes */
enum { WASH_WEAK = Q_CODES + 1, WASH_FLAKE = Q_CODES + 2, WASH_FADE = Q_CODES + 3 };

/* Luma of a colour or a colour change (Rec. 601 weights). */
static double luma(const double *v)
{
    return 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
}

typedef struct {
    const dq_raster_t *ref, *nrm;
    const uint8_t *bin; /* per pixel: 0, UNTESTED or EXCLUDED */
    float bias[3][256];  /* residual tone curve: median difference by mean level */
    int w, h;
    float *src; /* w x NV, the current source row */
    wbox_t box[N_SCALES];
} paint_t;

static void paint_row(paint_t *P, int y)
{
    const uint8_t *pr = P->ref->px + (size_t)y * P->w * 3, *pn = P->nrm->px + (size_t)y * P->w * 3;
    const uint8_t *bn = P->bin + (size_t)y * P->w;
    for (int x = 0; x < P->w; x++) {
        float *v = P->src + (size_t)x * NV;
        if (bn[x] == EXCLUDED) {
            memset(v, 0, NV * sizeof(float));
            continue;
        }
        for (int c = 0; c < 3; c++) {
            v[c] = (float)(pn[3 * x + c] - pr[3 * x + c]) -
                   P->bias[c][(pn[3 * x + c] + pr[3 * x + c] + 1) >> 1];
            v[4 + c] = pr[3 * x + c];
        }
        v[3] = 1;
    }
}

typedef void (*paint_fn)(void *ud, int y, const double *const *sums);

/* Streams rows [y0, y1) of the image, treated as a whole image, through the boxes of every
 * scale and calls fn once per row with the box sums of each scale (sums[k]: w x NV). */
static void paint_stream(paint_t *P, int y0, int y1, paint_fn fn, void *ud)
{
    int rmax = scale_r[N_SCALES - 1], h = y1 - y0;
    for (int k = 0; k < N_SCALES; k++)
        wbox_init(&P->box[k], P->w, h, scale_r[k], k ? 4 : NV, 2 * rmax + 2);
    for (int ys = 0; ys < h + rmax; ys++) {
        if (ys < h) {
            paint_row(P, y0 + ys);
            for (int k = 0; k < N_SCALES; k++)
                wbox_push(&P->box[k], ys, P->src);
        }
        if (ys < rmax)
            continue;
        const double *sums[N_SCALES];
        for (int k = 0; k < N_SCALES; k++)
            sums[k] = wbox_next(&P->box[k]);
        fn(ud, y0 + ys - rmax, sums);
    }
    for (int k = 0; k < N_SCALES; k++)
        wbox_free(&P->box[k]);
}

/* Calibration: the spread of the normalised window means sum(w d) / sqrt(sum(w)), which
 * would be 1 for independent noise; JPEG's 8x8 blocks and the resampling correlate
 * neighbours, so each scale and channel (and the luma of the change) gets its own factor
 * (robust: median |u| / 0.6745). For the 11x11 and 25x25 windows the broad trend of the
 * change (TCELL cells) is taken off first: where washes faded over a third of a work, the
 * spread around zero measured the fading (factors 2-5x those of the work's control pair)
 * and hid the very change the wide windows are there to find. */
typedef struct {
    paint_t *P;
    const uint8_t *quiet;            /* NULL, or non-zero where the null model must not look */
    const float *trend;              /* TCELL grid of mean changes (tw x th x 3) */
    int tw, th;
    int y_lo, y_hi;                  /* rows whose statistics count */
    uint32_t *hist;                  /* N_SCALES x 3 x 1000 bins of 0.02 */
    uint32_t *lhist;                 /* N_SCALES x 1000: the same for the luma of the change */
} calib_t;

#define TCELL 64 /* cells of the broad change trend that the calibration removes */

/* The broad trend of the change: per TCELL x TCELL cell the mean of the bias-corrected
 * differences over the pixels the null model may see. Fading covers whole painted regions
 * (a third of one work) with a change of a few levels; the spread of the window means
 * around this trend is the noise, their spread around zero is not. New, free(). */
static float *trend_grid(paint_t *P, const uint8_t *quiet, int tw, int th)
{
    double *acc = dq_xcalloc((size_t)tw * th * 4, sizeof(double));
    for (int y = 0; y < P->h; y++) {
        paint_row(P, y);
        int cy = y / TCELL < th ? y / TCELL : th - 1;
        for (int x = 0; x < P->w; x++) {
            const float *v = P->src + (size_t)x * NV;
            if (v[3] <= 0 || (quiet && quiet[(size_t)y * P->w + x]))
                continue;
            int cx = x / TCELL < tw ? x / TCELL : tw - 1;
            double *a = acc + ((size_t)cy * tw + cx) * 4;
            for (int c = 0; c < 3; c++)
                a[c] += v[c];
            a[3] += 1;
        }
    }
    float *g = dq_xmalloc((size_t)tw * th * 3 * sizeof(float));
    for (size_t i = 0; i < (size_t)tw * th; i++)
        for (int c = 0; c < 3; c++)
            g[3 * i + c] = acc[4 * i + 3] >= 64 ? (float)(acc[4 * i + c] / acc[4 * i + 3]) : 0;
    free(acc);
    return g;
}

static void calib_row(void *ud, int y, const double *const *sums)
{
    calib_t *C = ud;
    if (y < C->y_lo || y >= C->y_hi)
        return;
    const uint8_t *bn = C->P->bin + (size_t)y * C->P->w;
    const uint8_t *qn = C->quiet ? C->quiet + (size_t)y * C->P->w : NULL;
    for (int x = 0; x < C->P->w; x++) {
        if ((bn[x] & UNTESTED) || (qn && qn[x]))
            continue;
        for (int k = 0; k < N_SCALES; k++) {
            const double *s = sums[k] + (size_t)x * (k ? 4 : NV);
            if (s[3] <= 0)
                continue;
            double rn = 1 / sqrt(s[3]), t[3] = {0, 0, 0};
            if (k > 0) /* the 5x5 scale decides on strong colour, where no trend is removed */
                grid_at(C->trend, C->tw, C->th, TCELL, x, y, t);
            for (int c = 0; c < 3; c++) {
                int b = (int)(fabs(s[c] - s[3] * t[c]) * rn * 20);
                C->hist[(k * 3 + c) * 1000 + (b < 999 ? b : 999)]++;
            }
            double dl[3] = {s[0] - s[3] * t[0], s[1] - s[3] * t[1], s[2] - s[3] * t[2]};
            int bl = (int)(fabs(luma(dl)) * rn * 20);
            C->lhist[k * 1000 + (bl < 999 ? bl : 999)]++;
        }
    }
}

typedef struct {
    paint_t *P;
    double inv_k[N_SCALES][3]; /* 1 / calibration factor */
    double inv_kl[N_SCALES];   /* the same for the luma of the window means */
    const float *sup;
    int gw, gh;
    const float *sup2; /* the support at 4x the cell (see decide_row) */
    int gw2, gh2;
    uint8_t *flake, *fade;
    uint8_t *wash; /* where a thin wash's class is decided spatially: its q (wash_code; 0: not
                    * a wash pixel; NULL: not kept) */
} decide_t;

/* alpha, how far pixel (x, y) itself moved from REF towards the support colour b, in linear
 * light (the residual tone curve taken off); -1 when its own contrast with the support is
 * under C_ALPHA / 2 (alpha would be noise). */
static double own_alpha(const paint_t *P, int x, int y, const double b[3])
{
    const uint8_t *pr = P->ref->px + ((size_t)y * P->w + x) * 3;
    const uint8_t *pn = P->nrm->px + ((size_t)y * P->w + x) * 3;
    double num = 0, den = 0, con = 0;
    for (int c = 0; c < 3; c++) {
        double q = pn[c] - P->bias[c][(pn[c] + pr[c] + 1) >> 1], lr = lin(pr[c]);
        double v = lin(b[c]) - lr;
        num += (lin(q < 0 ? 0 : q > 255 ? 255 : q) - lr) * v;
        den += v * v;
        con += (b[c] - pr[c]) * (b[c] - pr[c]);
    }
    return con >= 0.25 * C_ALPHA * C_ALPHA && den > 0 ? num / den : -1;
}

/* How much of the window's mean change m (sRGB levels, the tone bias taken off) pixel (x, y)
 * carries itself: its own change projected on m, over |m|^2 (1: all of it). */
static double own_share(const paint_t *P, int x, int y, const double m[3])
{
    const uint8_t *pr = P->ref->px + ((size_t)y * P->w + x) * 3;
    const uint8_t *pn = P->nrm->px + ((size_t)y * P->w + x) * 3;
    double num = 0, den = 0;
    for (int c = 0; c < 3; c++) {
        double d = pn[c] - pr[c] - P->bias[c][(pn[c] + pr[c] + 1) >> 1];
        num += d * m[c];
        den += m[c] * m[c];
    }
    return den > 0 ? num / den : 0;
}

/* REF's luma range within the 3x3 window (sRGB levels) above which visible3 says nothing: at
 * a sharp edge (an old loss's rim, an ink dot) the registration's residual subpixel shift
 * alone moves the 3x3 mean past the JND (an unchanged synthetic pair: 0.27 -> 0.62 % flagged
 * without this; seeds 21 / 22 flaking 0.581 / 0.687 -> 0.580 / 0.686 with it). */
#define FLAT3 16.0

/* Whether the 3x3 mean change at (x, y) reaches the just noticeable difference (CIE 1976
 * Delta E*ab DE_JND on the 3x3 mean of REF), the tone bias taken off, where REF is flat there
 * (FLAT3); excluded pixels do not count, fewer than 6 kept: no. See decide_row's visibility
 * rule. */
static int visible3(const paint_t *P, int x, int y)
{
    double r[3] = {0, 0, 0}, d[3] = {0, 0, 0}, lo = 255, hi = 0;
    int k = 0;
    for (int yy = y - 1; yy <= y + 1; yy++)
        for (int xx = x - 1; xx <= x + 1; xx++) {
            if (xx < 0 || yy < 0 || xx >= P->w || yy >= P->h)
                continue;
            size_t i = (size_t)yy * P->w + xx;
            if (P->bin[i] == EXCLUDED)
                continue;
            const uint8_t *pr = P->ref->px + 3 * i, *pn = P->nrm->px + 3 * i;
            for (int c = 0; c < 3; c++) {
                r[c] += pr[c];
                d[c] += pn[c] - pr[c] - P->bias[c][(pn[c] + pr[c] + 1) >> 1];
            }
            double l = luma((const double[3]){pr[0], pr[1], pr[2]});
            lo = l < lo ? l : lo, hi = l > hi ? l : hi;
            k++;
        }
    if (k < 6 || hi - lo > FLAT3)
        return 0;
    for (int c = 0; c < 3; c++)
        r[c] /= k, d[c] /= k;
    return delta_e(r, d) >= DE_JND;
}

/* A thin wash pixel's q (> 0) as a byte for wash_vote: ln(q / R_FLAKE) clamped to +-Q_SPAN
 * in Q_CODES steps, 1..Q_CODES (0 stays "no wash pixel"). */
static uint8_t wash_code(double q)
{
    double l = log(q / R_FLAKE);
    l = l < -Q_SPAN ? -Q_SPAN : l > Q_SPAN ? Q_SPAN : l;
    return (uint8_t)(1 + lround((l + Q_SPAN) / (2 * Q_SPAN) * (Q_CODES - 1)));
}

static void decide_row(void *ud, int y, const double *const *sums)
{
    decide_t *D = ud;
    paint_t *P = D->P;
    const uint8_t *bn = P->bin + (size_t)y * P->w;
    for (int x = 0; x < P->w; x++) {
        if (bn[x] & UNTESTED)
            continue;
        /* The test: the largest chi-square (3 channels) of the calibrated window means. */
        double z2max = 0, z2s[N_SCALES];
        for (int k = 0; k < N_SCALES; k++) {
            const double *s = sums[k] + (size_t)x * (k ? 4 : NV);
            double z2 = 0;
            if (s[3] > 0)
                for (int c = 0; c < 3; c++) {
                    double u = s[c] * D->inv_k[k][c];
                    z2 += u * u / s[3];
                }
            z2s[k] = z2;
            z2max = z2 > z2max ? z2 : z2max;
        }
        /* and the luma test of the wash: how much the 11x11 and 25x25 windows changed in
         * luma, in calibrated sigmas. A broad colour cast is no loss of pigment (a flat area
         * of one colour keeps its JPEG and 8-bit rounding error over its whole extent: up
         * to ~1 level, hue more than luma, which flagged 1-2 % of DQ-2026-0014's control
         * pair through a chi-square), so the test is on luma, and the change must also reach
         * one grey level, the most that rounding both captures can shift a flat area.
         * Two-sided: losing pigment moves a wash along (support - pigment), which darkens
         * where the pigment is lighter than the support (lead white over paper: the fan
         * DQ-2026-0014's blossoms; seed 2 full size, 29,028 of 33,222 fading pixels were
         * missed while the test looked for lightening only). zsign: the sign of the window
         * that decided. */
        double zl[N_SCALES], zlmax = 0;
        int zsign = 1;
        for (int k = 0; k < N_SCALES; k++) {
            const double *s = sums[k] + (size_t)x * (k ? 4 : NV);
            zl[k] = s[3] > 0 ? luma(s) * D->inv_kl[k] / sqrt(s[3]) : 0;
            if (k && s[3] > 0 && fabs(luma(s)) / s[3] < L_FLOOR)
                zl[k] = 0;
            if (k && fabs(zl[k]) > zlmax)
                zlmax = fabs(zl[k]), zsign = zl[k] >= 0 ? 1 : -1;
        }
        if (z2max <= Z_PAINT * Z_PAINT && zlmax <= Z_WASHL)
            continue;
        const double *s2 = sums[0] + (size_t)x * NV, *s5 = sums[1] + (size_t)x * 4,
                     *sl = sums[N_SCALES - 1] + (size_t)x * 4;
        if (s2[3] <= 0 || s5[3] <= 0 || sl[3] <= 0)
            continue;
        double rm[3], m2[3], ml[3], b[3], con = 0;
        support_at(D->sup, D->gw, D->gh, x, y, b);
        for (int c = 0; c < 3; c++) {
            rm[c] = s2[4 + c] / s2[3];
            m2[c] = s2[c] / s2[3];
            ml[c] = sl[c] / sl[3];
            con += (b[c] - rm[c]) * (b[c] - rm[c]);
        }
        /* A thin wash cannot move further than its contrast with the support: a change of
         * more than C_ALPHA levels where the fine grid sees no contrast means the grid took
         * the paint for the support (a seal or a block of colour filling its 160 px
         * neighbourhood: DQ-2026-0012's faded seal came out flaking, DQ-2026-0006's flaked
         * strokes fading). Then the support is read from the grid at 4x the cell. */
        if (con < C_ALPHA * C_ALPHA && luma(m2) * luma(m2) >= C_ALPHA * C_ALPHA) {
            double b2[3], con2 = 0;
            grid_at(D->sup2, D->gw2, D->gh2, 4 * CELL, x, y, b2);
            for (int c = 0; c < 3; c++)
                con2 += (b2[c] - rm[c]) * (b2[c] - rm[c]);
            if (con2 >= C_ALPHA * C_ALPHA) {
                memcpy(b, b2, sizeof(b));
                con = con2;
            }
        }
        int cls;
        double q = 0; /* a thin wash's local / surrounding lightening (see wash_vote) */
        if (con >= C_ALPHA * C_ALPHA) {
            /* Strong colour: the 5x5 window alone resolves a flake, and alpha, how far the
             * colour moved towards the support in linear light, tells a whole loss of
             * pigment from a partial one. */
            if (z2s[0] <= Z_PAINT * Z_PAINT)
                continue;
            double num = 0, den = 0;
            for (int c = 0; c < 3; c++) {
                double nm = rm[c] + m2[c], lr = lin(rm[c]), v = lin(b[c]) - lr;
                num += (lin(nm < 0 ? 0 : nm > 255 ? 255 : nm) - lr) * v;
                den += v * v;
            }
            double alpha = num / den;
            /* Not towards the support: not a loss of pigment. Between 0 and A_DIR the window
             * moved towards the support, but less than a loss of pigment moves it where the
             * pixel's move towards the bare support is mostly something else's: under an ink
             * stroke (P = [S (1 - c) + c M] (1 - i) + i I: the change is (1 - i) dc (S - M),
             * while the way to the support is mostly the ink's, i (S - I)), on a pixel of two
             * pigments, or where the grid's support is another paint. The window alone cannot
             * tell those from the rim of a change next door (a window 1-2 px from a flake
             * holds part of it; DQ-2026-0011 seed 1: 2,294 such false pixels when the rule
             * was alpha > 0 alone), so the pixel must carry the window's change itself:
             * its own change projected on the window's at least OWN_SHARE of it. */
            if (alpha <= 0 || (alpha <= A_DIR && own_share(P, x, y, m2) < OWN_SHARE))
                continue;
            /* The window's alpha mixes a flake's rim with the unchanged paint around it, and
             * a flake of a few dozen pixels is mostly rim (a synthetic 65 px flake came out
             * 13 flaking, 50 fading): so the pixel's own move decides too, where its own
             * contrast with the support is strong enough to measure it. */
            cls = alpha >= A_FLAKE || own_alpha(P, x, y, b) >= A_OWN ? DQ_CONSERVE_FLAKING
                                                                         : DQ_CONSERVE_FADING;
        } else {
            /* A thin wash, whose support the grid cannot see under it: a loss of pigment
             * lightens it (darkens it where the pigment is the lighter: lead white);
             * flaking is local (flakes), fading is broad (light-struck areas), so the
             * change here is compared with the change around it, both taken in the
             * direction of the change. */
            double l2 = luma(m2), ll = luma(ml), sd2 = 1 / (D->inv_kl[0] * sqrt(s2[3]));
            /* the way a loss of pigment moves this wash: the sign of the pixel's own 5x5
             * change where that decides, else of the wide window's (see zsign) */
            int sg = z2s[0] > Z_WASH * Z_WASH ? (l2 >= 0 ? 1 : -1) : zsign;
            l2 *= sg, ll *= sg;
            if (l2 <= 0)
                continue;
            /* Either the pixel's own 5x5 window changed strongly (a small painted area, a
             * few petals, whose 25x25 surround dilutes it), or a wide window lightened and
             * the pixel's own 5x5 window is not significantly below half of that (a wide
             * window also sees the changes next to it). */
            int own = z2s[0] > Z_WASH * Z_WASH;
            if (!own && (zlmax <= Z_WASHL || l2 < OWN_FRAC * ll - Z_GAP * sd2))
                continue;
            cls = l2 > R_FLAKE * (ll + 0.3) ? DQ_CONSERVE_FLAKING : DQ_CONSERVE_FADING;
            q = ll + 0.3 > 0 ? l2 / (ll + 0.3) : HUGE_VAL;
        }
        /* Significant is not yet visible: a wide window finds a fading of one or two grey
         * levels that no eye (and so no condition report) would mark. The change must also
         * reach the just noticeable colour difference, CIE 1976 Delta E*ab 2.3 (Sharma
         * 2003), the rule of the generator's truth masks: the larger of the 5x5 and 11x11
         * mean changes, applied to the 5x5 mean of REF, or the pixel's own 3x3 mean change.
         * The truth judges each pixel on its own; a flake a few pixels across, or the rim of
         * a larger one, is diluted in the 5x5 window by the unchanged paint around it (42k
         * of 483k flaking pixels of seed 22, the whole collection at half size, were turned
         * down here; their 3x3 Delta E median 2.2 against 1.3 for the unchanged pixels this
         * rule turns down). */
        double m5[3];
        for (int c = 0; c < 3; c++)
            m5[c] = s5[c] / s5[3];
        if (delta_e(rm, m2) < DE_JND && delta_e(rm, m5) < DE_JND && !visible3(P, x, y)) {
            /* a thin-wash flake under the JND: the wash vote may still take it (hysteresis) */
            if (D->wash && con < C_ALPHA * C_ALPHA && cls == DQ_CONSERVE_FLAKING)
                D->wash[(size_t)y * P->w + x] = WASH_WEAK;
            continue;
        }
        (cls == DQ_CONSERVE_FLAKING ? D->flake : D->fade)[(size_t)y * P->w + x] = 255;
        if (D->wash && con < C_ALPHA * C_ALPHA)
            D->wash[(size_t)y * P->w + x] = wash_code(q);
    }
}

/* The tone model of the difference, from the pixels the test keeps (bin: 0 kept, UNTESTED
 * or EXCLUDED). The noise needs no model here: each window's spread is calibrated on the
 * image itself. (Inverse-variance weights from a per-pixel sigma by REF's local gradient were
 * tried: the window means then leant on flat pixels and flagged the rims of strong strokes,
 * flake precision 0.69 -> 0.34 on DQ-2026-0009 seed 1.)
 * bias: the gain and offset leave sub-level biases that depend on the tone (the camera's
 * rounding, JPEG); pooled over hundreds of pixels they would read as change (they flagged
 * 8.8 % of a control pair). The residual tone curve is the trimmed mean difference per
 * channel as a function of the mean of the two values (conditioning on the mean, not on REF,
 * keeps the noise out of it, as in a Bland-Altman plot); it is subtracted before pooling.
 * quiet (may be NULL): pixels left out, what a first pass found (else the curve absorbs the
 * fading of the tones that faded). */
static void noise_model(const dq_raster_t *ref, const dq_raster_t *nrm, const uint8_t *bin,
                        const uint8_t *quiet, float bias[3][256])
{
    double (*ls)[256][2] = dq_xcalloc(3, sizeof(*ls));
    for (size_t i = 0; i < (size_t)ref->w * ref->h; i++) {
        if (bin[i] || (quiet && quiet[i]))
            continue;
        for (int c = 0; c < 3; c++) {
            int p = ref->px[3 * i + c], q = nrm->px[3 * i + c], d = q - p;
            if (d >= -6 && d <= 6) { /* trimmed: changes and outliers stay out */
                ls[c][(p + q + 1) >> 1][0] += d;
                ls[c][(p + q + 1) >> 1][1] += 1;
            }
        }
    }
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            double sd = 0, sn = 0;
            for (int u = v - 2; u <= v + 2; u++) /* +-2 levels: a smooth curve */
                if (u >= 0 && u < 256)
                    sd += ls[c][u][0], sn += ls[c][u][1];
            bias[c][v] = sn >= 200 ? (float)(sd / sn) : 0;
        }
    free(ls);
}

/* Flaking and fading: a multi-scale test of the inverse-variance weighted mean change in
 * windows of 5, 11 and 25 pixels, calibrated per scale, then the class (see decide_row). */
static void paint_changes(const dq_raster_t *ref, const dq_raster_t *nrm, uint8_t *bin,
                          const float *const sups[2], const int gdim[4], const uint8_t *quiet,
                          uint8_t *flake, uint8_t *fade, uint8_t *wash)
{
    paint_t P = {.ref = ref, .nrm = nrm, .bin = bin, .w = ref->w, .h = ref->h};
    noise_model(ref, nrm, bin, quiet, P.bias);
    P.src = dq_xmalloc((size_t)P.w * NV * sizeof(float));
    int h = P.h, rmax = scale_r[N_SCALES - 1];
    /* Calibrate on the whole image when it is small, else on 4 strips of 128 rows (the
     * statistics are image-wide; a fraction of the rows measures them). */
    calib_t C = {.P = &P, .quiet = quiet,
                 .hist = dq_xcalloc((size_t)N_SCALES * 3 * 1000, sizeof(uint32_t)),
                 .lhist = dq_xcalloc((size_t)N_SCALES * 1000, sizeof(uint32_t))};
    C.tw = P.w / TCELL > 0 ? P.w / TCELL : 1;
    C.th = h / TCELL > 0 ? h / TCELL : 1;
    float *trend = trend_grid(&P, quiet, C.tw, C.th);
    C.trend = trend;
    if (h <= 1024) {
        C.y_lo = 0, C.y_hi = h;
        paint_stream(&P, 0, h, calib_row, &C);
    } else {
        for (int s = 0; s < 4; s++) {
            int yc = (int)((s + 0.5) * h / 4);
            C.y_lo = yc - 64, C.y_hi = yc + 64;
            paint_stream(&P, C.y_lo - rmax, C.y_hi + rmax, calib_row, &C);
        }
    }
    decide_t D = {.P = &P, .sup = sups[0], .gw = gdim[0], .gh = gdim[1], .sup2 = sups[1],
                  .gw2 = gdim[2], .gh2 = gdim[3], .flake = flake, .fade = fade, .wash = wash};
    for (int k = 0; k < N_SCALES; k++)
        for (int c = 0; c < 3; c++) {
            uint64_t hh[1000];
            for (int i = 0; i < 1000; i++)
                hh[i] = C.hist[(k * 3 + c) * 1000 + i];
            double kk = 1.4826 * hist_quantile(hh, 1000, 0, 0.05, 0.5);
            D.inv_k[k][c] = 1.0 / (kk > 0.25 ? kk : 0.25);
        }
    for (int k = 0; k < N_SCALES; k++) {
        uint64_t hh[1000];
        for (int i = 0; i < 1000; i++)
            hh[i] = C.lhist[k * 1000 + i];
        double kk = 1.4826 * hist_quantile(hh, 1000, 0, 0.05, 0.5);
        D.inv_kl[k] = 1.0 / (kk > 0.25 ? kk : 0.25);
    }
    free(C.hist);
    free(C.lhist);
    free(trend);
    paint_stream(&P, 0, h, decide_row, &D);
    free(P.src);
}

/* Streams the (2r + 1)^2 box counts round every pixel of the flaking mask (nf) and of the
 * changed pixels (fl | fa: nc), row by row: row(ud, y, nf, nc) gets row y's counts. Each
 * row's counts along the row are taken when it enters the window, before row() sees it, so
 * row() may rewrite the masks at rows up to y (the majority filter does; the wash vote only
 * reads). Memory: 2r + 1 rows of counts. */
typedef void (*box_row_fn)(void *ud, int y, const int *nf, const int *nc);
static void box_counts(const uint8_t *fl, const uint8_t *fa, int w, int h, int r, box_row_fn row,
                       void *ud)
{
    const int k = 2 * r + 1;
    int *hf = dq_xcalloc((size_t)k * w, sizeof(int)), *hc = dq_xcalloc((size_t)k * w, sizeof(int));
    int *cf = dq_xcalloc((size_t)w, sizeof(int)), *cc = dq_xcalloc((size_t)w, sizeof(int));
    for (int y = -r; y < h; y++) {
        int yin = y + r, yout = y - r - 1;
        if (yout >= 0) { /* the row leaving the window */
            const int *of = hf + (size_t)(yout % k) * w, *oc = hc + (size_t)(yout % k) * w;
            for (int x = 0; x < w; x++)
                cf[x] -= of[x], cc[x] -= oc[x];
        }
        if (yin < h) { /* the row entering it, counted along the row */
            int *nf = hf + (size_t)(yin % k) * w, *nc = hc + (size_t)(yin % k) * w;
            const uint8_t *rf = fl + (size_t)yin * w, *ra = fa + (size_t)yin * w;
            int sf = 0, sc = 0;
            for (int x = 0; x < r && x < w; x++)
                sf += rf[x] != 0, sc += (rf[x] | ra[x]) != 0;
            for (int x = 0; x < w; x++) {
                if (x + r < w)
                    sf += rf[x + r] != 0, sc += (rf[x + r] | ra[x + r]) != 0;
                if (x - r - 1 >= 0)
                    sf -= rf[x - r - 1] != 0, sc -= (rf[x - r - 1] | ra[x - r - 1]) != 0;
                nf[x] = sf, nc[x] = sc;
                cf[x] += sf, cc[x] += sc;
            }
        }
        if (y >= 0)
            row(ud, y, cf, cc);
    }
    free(hf);
    free(hc);
    free(cf);
    free(cc);
}

/* The class of a thin wash's change by a local vote. On a wash the support under the paint is
 * not seen, so decide_row tells a flake from fading by how local the lightening is, pixel by
 * pixel; a flake's pixels then split between the classes (its rim looks like its surround).
 * Flaking and fading are spatially coherent (flakes come in clusters, fading covers whole
 * light-struck regions), so a wash pixel is flaking when flaking holds at least VOTE_FLAKE of
 * the changed pixels in the square of radius VOTE_R around it, else fading; every changed
 * pixel votes, strong colour's too (its class comes from alpha). Fitted on seed 1 at full size
 * (radius 10/20/40, share 0.2-0.4; DQ-2026-0012 flaking 0.66 -> 0.75), checked on seeds 2
 * and 3. Voting on strong colour as well was worse (DQ-2026-0009 flaking 0.72 -> 0.35):
 * there alpha is the better witness.
 * The pixel's own evidence counts too, as in a contextual classifier that adds the pixel's own
 * likelihood to its neighbours' prior (Besag 1986, iterated conditional modes, one step): q =
 * l2 / (ll + 0.3), decide_row's local over surrounding lightening (a flake's peaks at 1.1-1.2
 * with a long tail above, fading's at 0.9-1), shifts the share needed, VOTE_FLAKE - VOTE_OWN
 * ln(q/R_FLAKE) (within 0.05-0.95). A single share threw the own call away: on seeds 21 and 22
 * (half size, 16 works) 25.6k / 18.7k true fading wash pixels next to flake clusters came out
 * flaking, and a flake whose surround is unchanged needed as many flaking neighbours as one in
 * a faded area. Pooled flaking / fading there: 0.720 / 0.887 and 0.735 / 0.880 -> 0.737 /
 * 0.890 and 0.745 / 0.881 (own class only, 0.3 to stay flaking and 0.4 to become it: 0.732 /
 * 0.890 and 0.746 / 0.883). A Python replica on the dumped maps found the two seeds' flaking
 * flat within 0.005 for VOTE_OWN 0.2-0.4 and a centre of 0.3-0.35, lower at radius 30 or 50,
 * and lower again when strong colour votes too with its alpha as the own evidence.
 * Hysteresis (Canny 1986): a thin-wash pixel that decide_row called a flake but whose change
 * stayed under the JND (a flake's rim, whose 3x3 and 5x5 means hold the paint around it) is
 * taken as flaking where at least HY_N5 of its 5x5 are flaking and the vote's share reaches
 * HY_VOTE: it continues a visible flake. On seeds 21 and 22 (half size, 16 works) those pixels
 * were 21k / 17k truth flaking against 93k / 86k unchanged, the ones next to flakes 59 % / 54
 * % flaking (a replica on dumped maps); pooled flaking 0.737 / 0.745 -> 0.740 / 0.748, fading
 * and loss unchanged.
 * wash: the q code (wash_code) of the pixels to revote, WASH_WEAK on those; the masks change in
 * place. */
typedef struct {
    const uint8_t *fl;
    uint8_t *wash;
    int w, h;
} vote_t;

static void vote_row(void *ud, int y, const int *nf, const int *nc)
{
    vote_t *V = ud;
    const uint8_t *fl = V->fl;
    int w = V->w, h = V->h;
    for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        uint8_t *wi = &V->wash[i];
        if (*wi == WASH_WEAK) {
            int n5 = 0;
            for (int yy = y - 2; yy <= y + 2; yy++)
                for (int xx = x - 2; xx <= x + 2; xx++)
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                        n5 += fl[(size_t)yy * w + xx] != 0;
            *wi = n5 >= HY_N5 && nc[x] > 0 && (double)nf[x] >= HY_VOTE * (double)nc[x] ? WASH_FLAKE
                                                                                       : 0;
        } else if (*wi) { /* decided now, applied after the pass (the masks are read) */
            double lq = ((*wi - 1) * (2 * Q_SPAN) / (Q_CODES - 1)) - Q_SPAN;
            double v = VOTE_FLAKE - VOTE_OWN * lq;
            v = v < 0.05 ? 0.05 : v > 0.95 ? 0.95 : v;
            *wi = nc[x] > 0 && (double)nf[x] >= v * (double)nc[x] ? WASH_FLAKE : WASH_FADE;
        }
    }
}

static void wash_vote(uint8_t *fl, uint8_t *fa, uint8_t *wash, int w, int h)
{
    vote_t V = {.fl = fl, .wash = wash, .w = w, .h = h};
    box_counts(fl, fa, w, h, VOTE_R, vote_row, &V);
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (wash[i] >= WASH_FLAKE) {
            fl[i] = wash[i] == WASH_FLAKE ? 255 : 0;
            fa[i] = wash[i] == WASH_FLAKE ? 0 : 255;
        }
}

/* Flakes inside a faded area. A flake takes all of the pigment, fading 60 % of it, so where a
 * wash has faded all around, a flake's change is 1 / 0.6 = 1.67x what fading would have done
 * to a pixel of its own depth of colour; decide_row's 5x5 / 25x25 ratio misses most of them
 * (its surround holds the flakes' own pixels and unchanged ones). Here the surround is the
 * changed pixels within SUR_R, and what fading does there is fitted as a line: change =
 * a + b * REF (luma, linear light; the change of a faded wash is proportional to its depth of
 * colour, so a wash of varying coverage fades along a line, not to one value). A faded pixel
 * lies on the line, a flake SUR_RATIO times above it. Only where the surround is densely
 * changed (>= SUR_DENSE of its pixels: a faded area, not a scatter of flakes), and only from
 * fading to flaking. Fitted on seed 1 at full size (radius 25/50, ratio 1.2-1.4, density
 * 0.3/0.5: DQ-2026-0006 flaking 0.54 -> 0.72, DQ-2026-0012 0.725 -> 0.714). */
#define SUR_R 50
#define SUR_RATIO 1.4
#define SUR_DENSE 0.5

/* Linear-light luma of pixel i of r, through the table lt (lin() of each level). */
static double lin_luma(const dq_raster_t *r, const double *lt, size_t i)
{
    const uint8_t *p = r->px + 3 * i;
    return 0.2126 * lt[p[0]] + 0.7152 * lt[p[1]] + 0.0722 * lt[p[2]];
}

static void surround_flakes(const dq_raster_t *ref, const dq_raster_t *nrm, uint8_t *fl,
                            uint8_t *fa, int w, int h)
{
    enum { NS = 5 }; /* per column: n, sum r, sum d, sum r^2, sum r d */
    double lt[256];
    for (int v = 0; v < 256; v++)
        lt[v] = lin(v);
    double *col = dq_xcalloc((size_t)w * NS, sizeof(double));
    const int r = SUR_R;
    /* adds (sign +1) or removes (-1) row y's changed pixels from the column sums */
#define SUR_ROW(y, sign)                                                                       \
    for (int x = 0; x < w; x++) {                                                              \
        size_t i = (size_t)(y) * w + x;                                                        \
        if (!(fl[i] | fa[i]))                                                                  \
            continue;                                                                          \
        double a = lin_luma(ref, lt, i), d = lin_luma(nrm, lt, i) - a;                         \
        double *c = col + (size_t)x * NS;                                                      \
        c[0] += (sign), c[1] += (sign)*a, c[2] += (sign)*d, c[3] += (sign)*a * a,              \
            c[4] += (sign)*a * d;                                                              \
    }
    for (int y = 0; y < r && y < h; y++)
        SUR_ROW(y, 1.0)
    for (int y = 0; y < h; y++) {
        if (y + r < h)
            SUR_ROW(y + r, 1.0)
        if (y - r - 1 >= 0)
            SUR_ROW(y - r - 1, -1.0)
        double S[NS] = {0};
        for (int x = 0; x < r && x < w; x++)
            for (int k = 0; k < NS; k++)
                S[k] += col[(size_t)x * NS + k];
        for (int x = 0; x < w; x++) {
            if (x + r < w)
                for (int k = 0; k < NS; k++)
                    S[k] += col[(size_t)(x + r) * NS + k];
            if (x - r - 1 >= 0)
                for (int k = 0; k < NS; k++)
                    S[k] -= col[(size_t)(x - r - 1) * NS + k];
            size_t i = (size_t)y * w + x;
            if (!fa[i] || S[0] < SUR_DENSE * (2 * r + 1) * (2 * r + 1))
                continue;
            /* the pixel's own 3x3 mean change and REF */
            double oa = 0, od = 0;
            int no = 0;
            for (int yy = y - 1; yy <= y + 1; yy++)
                for (int xx = x - 1; xx <= x + 1; xx++)
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                        size_t j = (size_t)yy * w + xx;
                        double a = lin_luma(ref, lt, j);
                        oa += a, od += lin_luma(nrm, lt, j) - a, no++;
                    }
            oa /= no, od /= no;
            double mr = S[1] / S[0], md = S[2] / S[0], vr = S[3] / S[0] - mr * mr;
            double b = vr > 1e-7 ? (S[4] / S[0] - mr * md) / vr : 0;
            double pred = md + b * (oa - mr);
            if (od >= SUR_RATIO * (pred > 1e-4 ? pred : 1e-4)) {
                fl[i] = 255;
                fa[i] = 0;
            }
        }
    }
#undef SUR_ROW
    free(col);
}

/* ---------------------------------------------------------------- losses */

/* Squared distance between two sRGB colours, one of them 8-bit. */
static double dist2(const uint8_t *a, const double *b)
{
    double s = 0;
    for (int c = 0; c < 3; c++)
        s += (a[c] - b[c]) * (a[c] - b[c]);
    return s;
}

/* Losses: the lining behind the painting shows through, i.e. the new colour q lands nearer the
 * lining L than the bare support b and gets at least LOSS_WAY of the way from REF's p to L
 * (in squared distance: a quarter). Three things decide whether q moved at all:
 *  - per pixel, a change over Z_LOSS noise sigmas (most losses: paint or paper to the pale
 *    lining is a jump of dozens of levels);
 *  - else over the 3x3 window: on light paper the lining is only ~15-20 levels away
 *    (DQ-2026-0011: the median new loss moved 6 sigmas, 81 % of them were missed), and
 *    losses are blobs, not single pixels, so the 3x3 means of p and q must pass the same
 *    tests (their noise: sigma / 3, doubled for JPEG's and the resampling's correlation of
 *    neighbours) while the pixel itself still moved at least half way to the lining;
 *  - and p must not be a loss already: a pixel whose REF colour is nearer the lining than the
 *    support showed the lining in 2016 (an old loss, or the rim of one that the resampling
 *    mixed with its surround), so a growing loss next to it changes its colour without being
 *    a new loss there. On the captures' blurred rims this was most of the false losses (DQ-
 *    2026-0013 loss F1 0.861 -> 0.922 at half size, seed 1).
 * loss: 255 where lost (REF's frame); valid: 0 outside MOVING's footprint. */
#define LOSS_WAY 0.25 /* squared distance to the lining over REF's, at most */
#define LOSS_OWN 0.5  /* the same for the pixel itself when the 3x3 window decides */
#define LOSS_CORR 2.0 /* 3x3 mean's sigma over sigma / 3: JPEG and resampling correlate */
static void loss_test(const dq_raster_t *ref, const dq_raster_t *nrm, const uint8_t *valid,
                      const float *sup, int gw, int gh, const double noise[3],
                      const double lining[3], uint8_t *loss)
{
    int w = ref->w, h = ref->h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!valid[i])
                continue;
            const uint8_t *p = ref->px + 3 * i, *q = nrm->px + 3 * i;
            double z = 0, b[3];
            for (int c = 0; c < 3; c++) {
                double d = (q[c] - p[c]) / noise[c];
                z += d * d;
            }
            double dln = dist2(q, lining), dlr = dist2(p, lining);
            int own = z > Z_LOSS * Z_LOSS;
            if (!own && !(dln < LOSS_OWN * dlr)) /* most pixels: no window, no support */
                continue;
            support_at(sup, gw, gh, x, y, b);
            if (dln >= dist2(q, b) || dist2(p, b) > dlr)
                continue; /* nearer the support than the lining now, or a loss already */
            if (own) {
                if (dln < LOSS_WAY * dlr)
                    loss[i] = 255;
                continue;
            }
            if (x < 1 || y < 1 || x >= w - 1 || y >= h - 1)
                continue;
            double pm[3] = {0, 0, 0}, qm[3] = {0, 0, 0}, zm = 0;
            int nv = 0;
            for (int yy = y - 1; yy <= y + 1; yy++)
                for (int xx = x - 1; xx <= x + 1; xx++) {
                    size_t j = (size_t)yy * w + xx;
                    if (!valid[j])
                        continue;
                    for (int c = 0; c < 3; c++)
                        pm[c] += ref->px[3 * j + c], qm[c] += nrm->px[3 * j + c];
                    nv++;
                }
            if (nv < 9)
                continue;
            for (int c = 0; c < 3; c++) {
                pm[c] /= nv, qm[c] /= nv;
                double d = (qm[c] - pm[c]) / (LOSS_CORR * noise[c] / 3);
                zm += d * d;
            }
            if (zm <= Z_LOSS * Z_LOSS)
                continue;
            double dlnm = 0, dlrm = 0, dbnm = 0;
            for (int c = 0; c < 3; c++) {
                dlnm += (qm[c] - lining[c]) * (qm[c] - lining[c]);
                dlrm += (pm[c] - lining[c]) * (pm[c] - lining[c]);
                dbnm += (qm[c] - b[c]) * (qm[c] - b[c]);
            }
            if (dlnm < dbnm && dlnm < LOSS_WAY * dlrm)
                loss[i] = 255;
        }
}

/* The loss test's support where its grid took paint for the support. A loss shows the lining;
 * a flake shows the support itself. Inside a painted area wider than the grid's neighbourhood
 * (160 px) the grid's "support" is the paint, and paper bared by a flake is then nearer the
 * lining than that: a loss (a unit test's flakes in an 800 x 600 block all were). The support
 * has its own colour model, the plane its colours span in linear light (classes.c, "the
 * support plane": n . S = 0 for any brightness and tone of it); a cell whose colour lies off
 * that plane by more than PL_CELL (sine of the angle) is not support, and takes the mean of
 * its nearest support cells instead (grown outwards ring by ring). g: gw x gh x 3 sRGB, in
 * place; n: the plane's unit normal. */
#define PL_CELL 0.03 /* sine of the angle off the support's plane above which a cell is paint */
static void plane_fill(float *g, int gw, int gh, const double n[3])
{
    size_t nc = (size_t)gw * gh;
    uint8_t *ok = dq_xmalloc(nc), *nx = dq_xmalloc(nc);
    size_t n_ok = 0;
    for (size_t i = 0; i < nc; i++) {
        double x[3] = {lin(g[3 * i]), lin(g[3 * i + 1]), lin(g[3 * i + 2])};
        double len = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
        double r = len > 0 ? fabs(x[0] * n[0] + x[1] * n[1] + x[2] * n[2]) / len : 1;
        ok[i] = r <= PL_CELL;
        n_ok += ok[i];
    }
    while (n_ok > 0 && n_ok < nc) { /* each round fills the cells next to filled ones */
        memcpy(nx, ok, nc);
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++) {
                size_t i = (size_t)cy * gw + cx;
                if (ok[i])
                    continue;
                double acc[3] = {0, 0, 0};
                int k = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = cy + dy, xx = cx + dx;
                        if (yy < 0 || yy >= gh || xx < 0 || xx >= gw || !ok[(size_t)yy * gw + xx])
                            continue;
                        for (int c = 0; c < 3; c++)
                            acc[c] += g[((size_t)yy * gw + xx) * 3 + c];
                        k++;
                    }
                if (!k)
                    continue;
                for (int c = 0; c < 3; c++)
                    g[3 * i + c] = (float)(acc[c] / k);
                nx[i] = 1;
                n_ok++;
            }
        memcpy(ok, nx, nc);
    }
    free(ok);
    free(nx);
}

/* ---------------------------------------------------------------- the change map */

/* The change map. own_ref / own_mov (NULL, or ref / mov themselves, then owned by this call)
 * are freed as soon as they are no longer needed: on a 24000 x 2000 pair each capture is
 * 144 MB, and the captures, MOVING resampled, REF's blur round trip and the masks all held at
 * once peaked at ~900 MiB against the 1 GiB. */
/* The last pass over the classes: a majority filter, the usual clean-up after a per-pixel
 * classification (post-classification smoothing: Lillesand, Kiefer & Chipman, "Remote
 * Sensing and Image Interpretation", 7th ed. 2015, 9.11; Tso & Mather 2009, 8.3). A found
 * pixel takes the class of most changed pixels in its 5x5 window, flaking when they are more
 * than 2/5 flaking (MAJ_FLAKE: flakes are solid blobs, and the steps above leave speckle in
 * both directions: rims and holes of flakes called fading, fading pixels called flaking next
 * to them). Only the class moves: what is found, and losses, stay. Chosen on fitting seeds 21
 * and 22 (half size, 16 works, the maps of main 6b7b90f): pooled flaking 0.746 / 0.755 ->
 * 0.763 / 0.766, fading 0.893 / 0.884 -> 0.899 / 0.889; 3x3 0.754 / 0.760, 7x7 0.757 /
 * 0.761 (at 1/2 and 0.45), share 0.35 / 0.45 / 0.5 lower by 0.001-0.007. Each row's horizontal
 * counts are taken when the row enters the window, before the row itself is rewritten, so
 * the masks change in place with 5 rows of counts. */
#define MAJ_R 2
#define MAJ_FLAKE 0.4
typedef struct {
    uint8_t *fl, *fa;
    int w;
} majority_t;

static void majority_row(void *ud, int y, const int *nf, const int *nc)
{
    majority_t *M = ud;
    uint8_t *rf = M->fl + (size_t)y * M->w, *ra = M->fa + (size_t)y * M->w;
    for (int x = 0; x < M->w; x++) {
        if (!rf[x] && !ra[x])
            continue;
        int flake = nf[x] > MAJ_FLAKE * nc[x];
        rf[x] = flake ? 255 : 0;
        ra[x] = flake ? 0 : 255;
    }
}

void cv_class_majority(uint8_t *fl, uint8_t *fa, int w, int h)
{
    majority_t M = {.fl = fl, .fa = fa, .w = w};
    box_counts(fl, fa, w, h, MAJ_R, majority_row, &M);
}

static int changes_run(const dq_raster_t *ref, const dq_raster_t *mov, dq_raster_t *own_ref,
                       dq_raster_t *own_mov, dq_conserve_changes_t *out, dq_err_t *err)
{
    dq_raster_t nrm = {0}, rb = {0};
    uint8_t *valid = NULL, *lossd = NULL, *quiet = NULL, *wash = NULL;
    float *sup = NULL, *sup2 = NULL;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (!ref || !mov || ref->bands != 3 || mov->bands != 3) {
        dq_err_set(err, DQ_EINVAL, 400, "changes: both captures must be colour images");
        goto out;
    }
    if (dq_conserve_register(ref, mov, &out->reg, err) < 0)
        goto out;
    /* MOVING into REF's frame first, so that MOVING itself can go before the round trip's
     * two copies exist. */
    int mw = mov->w, mh = mov->h;
    if (dq_conserve_warp(mov, out->reg.m, ref->w, ref->h, &nrm, &valid, err) < 0)
        goto out;
    if (own_mov)
        dq_raster_free(own_mov);
    mov = NULL;
    /* Matched blur: MOVING was resampled twice (the camera's view of the object, then into
     * REF's frame), each a bilinear low-pass whose strength varies with the subpixel phase,
     * so every sharp edge (foxing spots, stroke rims) differs between the two even on an
     * unchanged object, and a blurred spot lightens like a flake. REF takes the same round
     * trip (into MOVING's grid and back) so both have the same point spread before they are
     * compared (PSF matching before differencing; Radke et al. 2005, section 3). */
    {
        double mi[3][3];
        dq_raster_t tmp = {0};
        if (invert3(out->reg.m, mi) < 0) {
            dq_err_set(err, DQ_EINVAL, 422, "changes: the registration is singular");
            goto out;
        }
        int r1 = dq_conserve_warp(ref, mi, mw, mh, &tmp, NULL, err);
        int r2 = r1 < 0 ? -1 : dq_conserve_warp(&tmp, out->reg.m, ref->w, ref->h, &rb, NULL, err);
        dq_raster_free(&tmp);
        if (r2 < 0)
            goto out;
    }
    if (own_ref)
        dq_raster_free(own_ref);
    ref = &rb;
    int w = ref->w, h = ref->h;
    size_t n = (size_t)w * h;
    out->w = w;
    out->h = h;
    /* the round trip mixes in the outside of REF within a pixel or two of its border */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (x < 2 || y < 2 || x >= w - 2 || y >= h - 2)
                valid[(size_t)y * w + x] = 0;
    erode(valid, w, h, 1);
    /* Saturated pixels (either capture clipped in a channel) say nothing about pigment: the
     * paint test leaves them out (lossd holds every pixel it leaves out). */
    lossd = dq_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = ref->px + 3 * i, *q = nrm.px + 3 * i;
        if (p[0] >= 253 || p[1] >= 253 || p[2] >= 253 || q[0] >= 253 || q[1] >= 253 ||
            q[2] >= 253)
            lossd[i] = 2;
    }
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
        out->noise[c] = 1.4826 * grouped_median(hd[c]) + 0.5;
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
    sup = support_grid(ref, gw, gh, CELL, NULL);
    /* The same at 4x the cell (see decide_row: where paint fills the fine grid's whole
     * neighbourhood, 160 px, the fine grid takes the paint for the support). */
    int gw2 = w / (4 * CELL) > 0 ? w / (4 * CELL) : 1, gh2 = h / (4 * CELL) > 0 ? h / (4 * CELL) : 1;
    sup2 = support_grid(ref, gw2, gh2, 4 * CELL, NULL);
    float *lsup = support_grid(ref, gw, gh, CELL, out->lining);
    /* the support's plane (NULL-like when too few pixels can be support): the loss test's
     * support where the grid took paint for it, and the last word on the class below */
    double pn[3];
    int plane = cv_support_plane(ref->px, w, h, out->lining, pn) == 0;
    if (plane)
        plane_fill(lsup, gw, gh, pn);

    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++)
        out->mask[k] = dq_xcalloc(n, 1);
    uint8_t *loss = out->mask[DQ_CONSERVE_LOSS];
    loss_test(ref, &nrm, valid, lsup, gw, gh, out->noise, out->lining, loss);
    free(lsup);
    /* Keep the paint test off the losses' rims: dilate by LOSS_GAP px (separable square).
     * The loss pixels themselves are out of every window already; what the gap adds is the
     * rim that the resampling mixes with the lining, one pixel. At 3 px (until session 26)
     * the flakes around a loss, where damage clusters, were never tested: 8k of the 483k
     * flaking pixels of seed 22 (half size); gap 1 against 3 on seeds 21 / 22: flaking
     * 0.562 / 0.670 -> 0.566 / 0.673, fading 0.798 / 0.854 -> 0.802 / 0.857; gap 0 reads
     * the mixed rim as change (flaking 0.551 / 0.651), gap 2 was between (with the 3x3 rule
     * of decide_row: 0.579 / 0.686 against 0.581 / 0.687 at gap 1). */
    {
        uint8_t *tmp = dq_xcalloc(n, 1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (loss[(size_t)y * w + x])
                    for (int dx = -LOSS_GAP; dx <= LOSS_GAP; dx++)
                        if (x + dx >= 0 && x + dx < w)
                            tmp[(size_t)y * w + x + dx] = 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (tmp[(size_t)y * w + x])
                    for (int dy = -LOSS_GAP; dy <= LOSS_GAP; dy++)
                        if (y + dy >= 0 && y + dy < h)
                            lossd[(size_t)(y + dy) * w + x] = 1;
        free(tmp);
    }

    /* Flaking and fading: tested on pixels wholly inside MOVING's footprint, clear of
     * losses, and unsaturated in both captures (a clipped channel says nothing of change). */
    erode(valid, w, h, BOX + 1);
    for (size_t i = 0; i < n; i++)
        lossd[i] = !valid[i] || lossd[i] == 1 ? EXCLUDED : lossd[i] == 2 ? UNTESTED : 0;
    free(valid); /* lossd says it now (EXCLUDED) */
    valid = NULL;
    /* Two passes, as in EM-style unsupervised change detection (Bruzzone & Prieto 2000): the
     * null model (tone curve, window spreads) is estimated from every pixel in the first
     * pass, then again without what the first pass found (and the windows that see it),
     * and the second pass decides. On a work whose washes faded over a third of its area
     * the first estimate is contaminated: the tone curve absorbs part of the fading and the
     * spreads come out 2-5x those of the same work's control pair. */
    uint8_t *fl = out->mask[DQ_CONSERVE_FLAKING], *fa = out->mask[DQ_CONSERVE_FADING];
    const float *sups[2] = {sup, sup2};
    const int gdim[4] = {gw, gh, gw2, gh2};
    paint_changes(ref, &nrm, lossd, sups, gdim, NULL, fl, fa, NULL);
    quiet = dq_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++)
        quiet[i] = fl[i] | fa[i];
    cv_dilate_box(quiet, w, h, scale_r[N_SCALES - 1]);
    memset(fl, 0, n);
    memset(fa, 0, n);
    wash = dq_xcalloc(n, 1);
    paint_changes(ref, &nrm, lossd, sups, gdim, quiet, fl, fa, wash);
    free(quiet); /* the region step below needs their bytes (peak memory on a long scroll) */
    quiet = NULL;
    free(lossd);
    lossd = NULL;
    wash_vote(fl, fa, wash, w, h);
    free(wash);
    wash = NULL;
    surround_flakes(ref, &nrm, fl, fa, w, h);
    cv_region_classes(ref->px, nrm.px, w, h, fl, fa);
    /* The last word on the class where the pigment's colour is off the support's plane
     * (classes.c, "the support plane"): a flake leaves bare support, fading leaves pigment. */
    if (plane) {
        uint64_t to_fl, to_fa;
        cv_plane_classes(ref->px, nrm.px, w, h, pn, fl, fa, &to_fl, &to_fa);
    }
    cv_class_majority(fl, fa, w, h);
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++)
        for (size_t i = 0; i < n; i++)
            out->area[k] += out->mask[k][i] != 0;
    rc = 0;
out:
    if (rc < 0)
        dq_conserve_changes_free(out);
    free(sup);
    free(sup2);
    free(quiet);
    free(wash);
    free(lossd);
    free(valid);
    dq_raster_free(&nrm);
    dq_raster_free(&rb);
    if (own_ref)
        dq_raster_free(own_ref);
    if (own_mov)
        dq_raster_free(own_mov);
    return rc;
}

int dq_conserve_changes(const dq_raster_t *ref, const dq_raster_t *mov,
                        dq_conserve_changes_t *out, dq_err_t *err)
{
    return changes_run(ref, mov, NULL, NULL, out, err);
}

int dq_conserve_changes_take(dq_raster_t *ref, dq_raster_t *mov, dq_conserve_changes_t *out,
                             dq_err_t *err)
{
    return changes_run(ref, mov, ref, mov, out, err);
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
