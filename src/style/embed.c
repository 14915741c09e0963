/*
 * style/embed.c: the hand-built embedding "dq-style-1" (139 floats) and the palette. What
 * each part captures (docs/style.md has the ablation):
 *  - palette (31): the support's tone in CIELAB (age and silk show here), a hue x chroma
 *    histogram, the share of each named mineral colour (pale washes included), and the
 *    spread of a* and b*;
 *  - ink (13): the distribution of ink density relative to the support (1 - L/L_paper):
 *    how much is left blank, how much is pale wash, how much dense ink;
 *  - brushwork (74): at three scales (1, 1/2, 1/4), magnitude-weighted gradient orientation
 *    histograms (8 bins, oriented energy: Mi dots are horizontal, hemp-fibre strokes
 *    vertical, axe cuts slanted) with the mean energy, and rotation-invariant uniform local
 *    binary patterns (Ojala, Pietikainen and Maenpaa 2002, LBP riu2 P=8 R=1, plus a "flat"
 *    bin for paper); and run lengths of ink along rows and columns (dots vs long strokes);
 *  - composition (21): ink mass on a 4x4 grid, its centroid and spread, and the aspect.
 * Histograms are square-rooted (the Hellinger map), so that dot products and linear models
 * compare distributions sensibly.
 *
 * The picture is first box-filtered to at most 512 px on its long side: every feature is a
 * statistic of the whole, and 512 px keeps the finest texture scale (about 2-3 source pixels
 * per analysis pixel at 1,200 px) while an embedding costs a few milliseconds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "style/style.h"

#define SIDE 512
#define N_PAL 31
#define N_INK 13
#define N_TEX 74
#define N_COMP 21
#define DIM (N_PAL + N_INK + N_TEX + N_COMP)

/* ================================================================ colours */

/* Lab of each pigment as src/paint renders it at full coverage (spectra of the Hyperspectral
 * Pigments Dataset integrated under an equal-energy illuminant), rounded. */
const dq_style_colour_t dq_style_colours[] = {
    {"zhusha", "朱砂", "cinnabar", 54.1f, 42.8f, 24.8f, "#cd6059"},
    {"yinzhu", "银朱", "vermilion", 43.5f, 38.9f, 19.9f, "#a74948"},
    {"zheshi", "赭石", "red ochre", 40.2f, 25.9f, 16.3f, "#8d4d45"},
    {"tuhuang", "土黄", "yellow ochre", 60.6f, 7.1f, 30.2f, "#af8c5d"},
    {"shihuang", "石黄", "orpiment", 71.7f, -0.7f, 51.4f, "#caad4f"},
    {"shiqing", "石青", "azurite", 50.7f, -5.5f, -23.6f, "#507da1"},
    {"shilv", "石绿", "malachite", 66.1f, -15.7f, 8.7f, "#89a891"},
    {"huaqing", "花青", "indigo", 23.2f, 3.2f, -6.7f, "#373641"},
    {"qianbai", "铅白", "lead white", 96.8f, -0.3f, 0.5f, "#f6f6f5"},
    {"mo", "墨", "ink", 25.0f, 1.3f, -1.1f, "#3d3b3d"},
};
const int dq_style_n_colours = (int)DQ_ARRAY_LEN(dq_style_colours);
#define N_CHROMATIC 8 /* the first eight are the colour pigments */

const dq_style_colour_t *dq_style_colour_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < dq_style_n_colours; i++)
        if (strcmp(dq_style_colours[i].key, name) == 0 || strcmp(dq_style_colours[i].zh, name) == 0)
            return &dq_style_colours[i];
    return NULL;
}

static float srgb_lin(int v)
{
    double c = v / 255.0;
    return (float)(c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4));
}

static float lab_f(float t)
{
    return t > 0.008856f ? cbrtf(t) : 7.787f * t + 16.0f / 116.0f;
}

static void lin_to_lab(const float lin[3], float lab[3])
{
    float X = 0.4124f * lin[0] + 0.3576f * lin[1] + 0.1805f * lin[2];
    float Y = 0.2126f * lin[0] + 0.7152f * lin[1] + 0.0722f * lin[2];
    float Z = 0.0193f * lin[0] + 0.1192f * lin[1] + 0.9505f * lin[2];
    float fx = lab_f(X / 0.95047f), fy = lab_f(Y), fz = lab_f(Z / 1.08883f);
    lab[0] = 116.0f * fy - 16.0f;
    lab[1] = 500.0f * (fx - fy);
    lab[2] = 200.0f * (fy - fz);
}

void dq_style_srgb_to_lab(uint8_t r, uint8_t g, uint8_t b, float lab[3])
{
    float lin[3] = {srgb_lin(r), srgb_lin(g), srgb_lin(b)};
    lin_to_lab(lin, lab);
}

void dq_style_lab_to_srgb(const float lab[3], uint8_t rgb[3])
{
    float fy = (lab[0] + 16.0f) / 116.0f, fx = fy + lab[1] / 500.0f, fz = fy - lab[2] / 200.0f;
    float f[3] = {fx, fy, fz}, w[3] = {0.95047f, 1.0f, 1.08883f}, xyz[3];
    for (int i = 0; i < 3; i++) {
        float t = f[i] * f[i] * f[i];
        xyz[i] = w[i] * (t > 0.008856f ? t : (f[i] - 16.0f / 116.0f) / 7.787f);
    }
    float lin[3] = {3.2406f * xyz[0] - 1.5372f * xyz[1] - 0.4986f * xyz[2],
                    -0.9689f * xyz[0] + 1.8758f * xyz[1] + 0.0415f * xyz[2],
                    0.0557f * xyz[0] - 0.2040f * xyz[1] + 1.0570f * xyz[2]};
    for (int i = 0; i < 3; i++) {
        double c = lin[i] < 0 ? 0 : lin[i] > 1 ? 1 : lin[i];
        c = c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055;
        rgb[i] = (uint8_t)lround(c * 255.0);
    }
}

/* A pale wash of a pigment over the support lies between the support's colour and the
 * pigment's. The test is made in the a*b* (chroma) plane, where ink cannot imitate a colour:
 * grey ink only darkens, so its chroma offset from the support is near zero. The pixel's chroma
 * offset from the support must point towards the pigment's (within ~5 units of that line), reach
 * at least a third of the way and at least 7 units, and its lightness must fit the wash (within
 * ~15 units of the support-to-pigment lightness at the same fraction; ink may darken it). */
static float match_seg(const float *c, const float *paper, const float *lab)
{
    float da = c[1] - paper[1], db = c[2] - paper[2];
    float xa = lab[1] - paper[1], xb = lab[2] - paper[2];
    float dd = da * da + db * db;
    if (dd < 25.0f)
        return 0;
    float t = (xa * da + xb * db) / dd;
    float xx = xa * xa + xb * xb;
    if (t < 0.2f || xx < 49.0f)
        return 0;
    if (t > 1.3f)
        t = 1.3f;
    float ra = xa - t * da, rb = xb - t * db;
    float perp = ra * ra + rb * rb;
    float dl = lab[0] - (paper[0] + t * (c[0] - paper[0]));
    float ramp = t < 0.33f ? (t - 0.2f) / 0.13f : 1.0f;
    return ramp * expf(-perp / (2.0f * 5.0f * 5.0f)) * expf(-dl * dl / (2.0f * 15.0f * 15.0f));
}

float dq_style_colour_match(const dq_style_colour_t *c, const float lab[3])
{
    static const float paper[3] = {86.0f, 2.0f, 12.0f}; /* a typical aged support */
    float cl[3] = {c->L, c->a, c->b};
    return match_seg(cl, paper, lab);
}

/* ================================================================ the analysis image */

typedef struct {
    int w, h;
    float *L, *a, *b; /* Lab planes */
    float *d;         /* ink density relative to the support */
    float paper[3];   /* the support's Lab */
} plane_t;

static void plane_free(plane_t *p)
{
    free(p->L);
    free(p->a);
    free(p->b);
    free(p->d);
}

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return a < b ? -1 : a > b;
}

/* Box-filters im to at most SIDE on the long side (in linear light) and converts to Lab. */
static int analyse(const dq_style_image_t *im, plane_t *p, dq_err_t *err)
{
    if (!im || !im->rgb || im->width < 16 || im->height < 16)
        return dq_err_set(err, DQ_EINVAL, 400, "style: picture too small (need 16x16)");
    int f = 1;
    while ((im->width + f - 1) / f > SIDE || (im->height + f - 1) / f > SIDE)
        f++;
    int w = im->width / f, h = im->height / f;
    if (w < 8 || h < 8)
        return dq_err_set(err, DQ_EINVAL, 400, "style: picture too narrow");
    float lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = srgb_lin(i);
    size_t n = (size_t)w * h;
    p->w = w;
    p->h = h;
    p->L = dq_xmalloc(n * sizeof(float));
    p->a = dq_xmalloc(n * sizeof(float));
    p->b = dq_xmalloc(n * sizeof(float));
    p->d = dq_xmalloc(n * sizeof(float));
    float inv = 1.0f / (float)(f * f);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float acc[3] = {0, 0, 0};
            for (int j = 0; j < f; j++) {
                const uint8_t *row = im->rgb + (size_t)(y * f + j) * im->stride + (size_t)x * f * 3;
                for (int i = 0; i < f; i++)
                    for (int c = 0; c < 3; c++)
                        acc[c] += lut[row[i * 3 + c]];
            }
            for (int c = 0; c < 3; c++)
                acc[c] *= inv;
            float lab[3];
            lin_to_lab(acc, lab);
            size_t k = (size_t)y * w + x;
            p->L[k] = lab[0];
            p->a[k] = lab[1];
            p->b[k] = lab[2];
        }
    /* The support: the median colour of the brightest fifth (paper dominates the bright end
     * of almost every painting; a dense one still shows its ground in the highlights). */
    float *tmp = dq_xmalloc(n * sizeof(float));
    memcpy(tmp, p->L, n * sizeof(float));
    qsort(tmp, n, sizeof(float), cmp_float);
    float lo = tmp[(size_t)(n * 0.80)], hi = tmp[n - 1 - n / 50];
    free(tmp);
    double s[3] = {0, 0, 0};
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (p->L[k] >= lo && p->L[k] <= hi) {
            s[0] += p->L[k];
            s[1] += p->a[k];
            s[2] += p->b[k];
            m++;
        }
    for (int c = 0; c < 3; c++)
        p->paper[c] = m ? (float)(s[c] / (double)m) : (c ? 0.0f : 90.0f);
    float Lp = p->paper[0] > 20 ? p->paper[0] : 20;
    for (size_t k = 0; k < n; k++) {
        float d = (Lp - p->L[k]) / Lp;
        p->d[k] = d < 0 ? 0 : d > 1 ? 1 : d;
    }
    return 0;
}

/* ================================================================ parts */

static void sqrt_hist(float *h, int n, double total)
{
    for (int i = 0; i < n; i++)
        h[i] = total > 0 ? sqrtf((float)(h[i] / total)) : 0;
}

static void palette_part(const plane_t *p, float *v)
{
    size_t n = (size_t)p->w * p->h;
    v[0] = p->paper[0] / 100.0f;
    v[1] = p->paper[1] / 20.0f;
    v[2] = p->paper[2] / 20.0f;
    float *hc = v + 3; /* 8 hue sectors x 2 chroma rings */
    float *named = v + 19;
    memset(hc, 0, 16 * sizeof(float));
    memset(named, 0, N_CHROMATIC * sizeof(float));
    double sa = 0, sb = 0, saa = 0, sbb = 0;
    for (size_t k = 0; k < n; k++) {
        float a = p->a[k] - p->paper[1], b = p->b[k] - p->paper[2];
        float C = sqrtf(a * a + b * b);
        sa += p->a[k];
        sb += p->b[k];
        saa += (double)p->a[k] * p->a[k];
        sbb += (double)p->b[k] * p->b[k];
        if (C >= 6.0f) {
            float hue = atan2f(b, a);
            int sec = (int)floorf((hue + (float)M_PI) / (2.0f * (float)M_PI) * 8.0f) & 7;
            hc[sec * 2 + (C >= 18.0f)] += 1.0f;
        }
        float lab[3] = {p->L[k], p->a[k], p->b[k]};
        for (int c = 0; c < N_CHROMATIC; c++) {
            const dq_style_colour_t *col = &dq_style_colours[c];
            float cl[3] = {col->L, col->a, col->b};
            named[c] += match_seg(cl, p->paper, lab);
        }
    }
    sqrt_hist(hc, 16, (double)n);
    sqrt_hist(named, N_CHROMATIC, (double)n);
    double ma = sa / (double)n, mb = sb / (double)n;
    v[27] = (float)(ma / 20.0);
    v[28] = (float)(mb / 20.0);
    v[29] = (float)(sqrt(fmax(0, saa / (double)n - ma * ma)) / 10.0);
    v[30] = (float)(sqrt(fmax(0, sbb / (double)n - mb * mb)) / 10.0);
}

static void ink_part(const plane_t *p, float *v)
{
    size_t n = (size_t)p->w * p->h;
    memset(v, 0, N_INK * sizeof(float));
    double s = 0, ss = 0, m = 0;
    for (size_t k = 0; k < n; k++) {
        float d = p->d[k];
        if (d < 0.04f) {
            v[0] += 1;
            continue;
        }
        int bin = 1 + (int)((d - 0.04f) / 0.96f * 10.0f);
        v[bin > 10 ? 10 : bin] += 1;
        s += d;
        ss += (double)d * d;
        m += 1;
    }
    sqrt_hist(v, 11, (double)n);
    double mean = m > 0 ? s / m : 0;
    v[11] = (float)mean;
    v[12] = (float)(m > 0 ? sqrt(fmax(0, ss / m - mean * mean)) : 0);
}

/* Halves a plane (2x2 box). */
static float *half(const float *src, int w, int h, int *ow, int *oh)
{
    int w2 = w / 2, h2 = h / 2;
    float *o = dq_xmalloc((size_t)(w2 > 0 ? w2 : 1) * (size_t)(h2 > 0 ? h2 : 1) * sizeof(float));
    for (int y = 0; y < h2; y++)
        for (int x = 0; x < w2; x++) {
            const float *r0 = src + (size_t)(2 * y) * w + 2 * x, *r1 = r0 + w;
            o[(size_t)y * w2 + x] = 0.25f * (r0[0] + r0[1] + r1[0] + r1[1]);
        }
    *ow = w2;
    *oh = h2;
    return o;
}

/* Oriented energy and LBP of one scale of the L plane: 8 + 1 + 11 floats. */
static void texture_scale(const float *L, int w, int h, float *v)
{
    float *ori = v, *lbp = v + 9;
    memset(v, 0, 20 * sizeof(float));
    double esum = 0, npx = 0;
    static const int dx[8] = {1, 1, 0, -1, -1, -1, 0, 1}, dy[8] = {0, -1, -1, -1, 0, 1, 1, 1};
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            const float *c = L + (size_t)y * w + x;
            float gx = c[1] - c[-1], gy = c[w] - c[-w];
            float mag = sqrtf(gx * gx + gy * gy);
            /* Edge orientation modulo pi, 8 sectors of 22.5 degrees. */
            float th = atan2f(gy, gx);
            if (th < 0)
                th += (float)M_PI;
            int bin = (int)(th / (float)M_PI * 8.0f) & 7;
            ori[bin] += mag;
            esum += mag;
            npx += 1;
            /* LBP riu2: number of neighbours >= centre when the pattern is uniform (at most
             * two 0/1 transitions round the circle), else 9; 10 when the neighbourhood is flat
             * (bare paper and flat washes, whose noise would otherwise fill every bin). */
            int bits[8], ones = 0, trans = 0, flat = 1;
            for (int i = 0; i < 8; i++) {
                float nb = c[dy[i] * w + dx[i]];
                bits[i] = nb >= c[0];
                ones += bits[i];
                if (fabsf(nb - c[0]) > 1.5f)
                    flat = 0;
            }
            for (int i = 0; i < 8; i++)
                trans += bits[i] != bits[(i + 1) & 7];
            lbp[flat ? 10 : trans <= 2 ? ones : 9] += 1;
        }
    sqrt_hist(ori, 8, esum);
    ori[8] = npx > 0 ? logf(1.0f + (float)(esum / npx)) / 3.0f : 0;
    sqrt_hist(lbp, 11, npx);
}

/* Run lengths of ink (d > 0.25) along rows and columns, 7 log2 buckets each. */
static void runs_part(const plane_t *p, float *v)
{
    memset(v, 0, 14 * sizeof(float));
    double nr = 0, nc = 0;
    for (int dir = 0; dir < 2; dir++) {
        int outer = dir ? p->w : p->h, inner = dir ? p->h : p->w;
        for (int o = 0; o < outer; o++) {
            int run = 0;
            for (int i = 0; i <= inner; i++) {
                int on = 0;
                if (i < inner) {
                    size_t k = dir ? (size_t)i * p->w + o : (size_t)o * p->w + i;
                    on = p->d[k] > 0.25f;
                }
                if (on) {
                    run++;
                } else if (run) {
                    int b = run <= 1 ? 0 : run <= 2 ? 1 : run <= 4 ? 2 : run <= 8 ? 3 : run <= 16 ? 4
                                                                        : run <= 32 ? 5 : 6;
                    v[dir * 7 + b] += 1;
                    *(dir ? &nc : &nr) += 1;
                    run = 0;
                }
            }
        }
    }
    sqrt_hist(v, 7, nr);
    sqrt_hist(v + 7, 7, nc);
}

static void composition_part(const plane_t *p, float *v)
{
    memset(v, 0, N_COMP * sizeof(float));
    double tot = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < p->w; x++) {
            double d = p->d[(size_t)y * p->w + x];
            double fx = (x + 0.5) / p->w, fy = (y + 0.5) / p->h;
            int gx = (int)(fx * 4), gy = (int)(fy * 4);
            v[gy * 4 + gx] += (float)d;
            tot += d;
            sx += d * fx;
            sy += d * fy;
            sxx += d * fx * fx;
            syy += d * fy * fy;
        }
    sqrt_hist(v, 16, tot);
    double cx = tot > 0 ? sx / tot : 0.5, cy = tot > 0 ? sy / tot : 0.5;
    v[16] = (float)cx;
    v[17] = (float)cy;
    v[18] = (float)(tot > 0 ? sqrt(fmax(0, sxx / tot - cx * cx)) * 3 : 0);
    v[19] = (float)(tot > 0 ? sqrt(fmax(0, syy / tot - cy * cy)) * 3 : 0);
    v[20] = (float)(log((double)p->w / p->h) / 2.0);
}

static int embed_default(const dq_style_embedder_t *self, const dq_style_image_t *im, float *vec,
                         dq_err_t *err)
{
    (void)self;
    plane_t p = {0};
    if (analyse(im, &p, err) < 0) {
        plane_free(&p);
        return -1;
    }
    palette_part(&p, vec);
    ink_part(&p, vec + N_PAL);
    float *t = vec + N_PAL + N_INK;
    float *L = p.L;
    int w = p.w, h = p.h;
    for (int s = 0; s < 3; s++) {
        if (w >= 3 && h >= 3)
            texture_scale(L, w, h, t + s * 20);
        else
            memset(t + s * 20, 0, 20 * sizeof(float));
        if (s < 2) {
            int w2, h2;
            float *n = half(L, w, h, &w2, &h2);
            if (L != p.L)
                free(L);
            L = n;
            w = w2;
            h = h2;
        }
    }
    if (L != p.L)
        free(L);
    runs_part(&p, t + 60);
    composition_part(&p, vec + N_PAL + N_INK + N_TEX);
    plane_free(&p);
    return 0;
}

static const dq_style_part_t parts[] = {
    {"palette", "palette", "设色", 0, N_PAL},
    {"ink", "ink tones", "墨色", N_PAL, N_INK},
    {"brushwork", "brushwork", "笔法", N_PAL + N_INK, N_TEX},
    {"composition", "composition", "构图", N_PAL + N_INK + N_TEX, N_COMP},
};

static const dq_style_embedder_t handcrafted = {
    "dq-style-1", DIM, (int)DQ_ARRAY_LEN(parts), parts, SIDE, embed_default,
};

const dq_style_embedder_t *dq_style_default(void)
{
    return &handcrafted;
}

const dq_style_embedder_t *dq_style_embedder(const char *name)
{
    return name && strcmp(name, handcrafted.name) == 0 ? &handcrafted : NULL;
}

/* ================================================================ palette */

int dq_style_palette(const dq_style_image_t *im, dq_buf_t *out, dq_buf_t *named_out,
                     dq_err_t *err)
{
    plane_t p = {0};
    if (analyse(im, &p, err) < 0) {
        plane_free(&p);
        return -1;
    }
    size_t n = (size_t)p.w * p.h;
    /* A fixed grid sample of at most 4096 pixels, k-means with k = 6 from a deterministic
     * farthest-point start (the support first), 12 Lloyd iterations. */
    enum { K = 6, MAXS = 4096 };
    size_t step = n / MAXS + 1, ns = 0;
    float (*s)[3] = dq_xmalloc(MAXS * sizeof(*s));
    for (size_t k = 0; k < n && ns < MAXS; k += step) {
        s[ns][0] = p.L[k];
        s[ns][1] = p.a[k];
        s[ns][2] = p.b[k];
        ns++;
    }
    float c[K][3];
    int nk = 0;
    memcpy(c[nk++], p.paper, sizeof(c[0]));
    int *as = dq_xcalloc(ns, sizeof(int));
    while (nk < K) {
        float best = -1;
        size_t bi = 0;
        for (size_t i = 0; i < ns; i++) {
            float md = 1e30f;
            for (int j = 0; j < nk; j++) {
                float dl = s[i][0] - c[j][0], da = s[i][1] - c[j][1], db = s[i][2] - c[j][2];
                float d = dl * dl + da * da + db * db;
                md = d < md ? d : md;
            }
            if (md > best) {
                best = md;
                bi = i;
            }
        }
        if (best < 25.0f) /* everything is within 5 Lab units of a centre already */
            break;
        memcpy(c[nk++], s[bi], sizeof(c[0]));
    }
    int cnt[K];
    for (int it = 0; it < 12; it++) {
        double acc[K][3];
        memset(acc, 0, sizeof(acc));
        memset(cnt, 0, sizeof(cnt));
        for (size_t i = 0; i < ns; i++) {
            float md = 1e30f;
            int bj = 0;
            for (int j = 0; j < nk; j++) {
                float dl = s[i][0] - c[j][0], da = s[i][1] - c[j][1], db = s[i][2] - c[j][2];
                float d = dl * dl + da * da + db * db;
                if (d < md) {
                    md = d;
                    bj = j;
                }
            }
            as[i] = bj;
            cnt[bj]++;
            for (int q = 0; q < 3; q++)
                acc[bj][q] += s[i][q];
        }
        for (int j = 0; j < nk; j++)
            if (cnt[j])
                for (int q = 0; q < 3; q++)
                    c[j][q] = (float)(acc[j][q] / cnt[j]);
    }
    int order[K];
    for (int j = 0; j < nk; j++)
        order[j] = j;
    for (int i = 1; i < nk; i++) /* insertion sort by count, descending */
        for (int j = i; j > 0 && cnt[order[j]] > cnt[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    dq_buf_putc(out, '[');
    int first = 1;
    for (int r = 0; r < nk; r++) {
        int j = order[r];
        if (!cnt[j])
            continue;
        uint8_t rgb[3];
        dq_style_lab_to_srgb(c[j], rgb);
        const char *name = NULL;
        float dp = 0;
        for (int q = 0; q < 3; q++)
            dp += (c[j][q] - p.paper[q]) * (c[j][q] - p.paper[q]);
        float bestm = 0.5f;
        for (int q = 0; q < dq_style_n_colours; q++) {
            float m = dq_style_colour_match(&dq_style_colours[q], c[j]);
            const dq_style_colour_t *col = &dq_style_colours[q];
            if (q >= N_CHROMATIC) { /* neutral: plain distance */
                float e = 0, cl[3] = {col->L, col->a, col->b};
                for (int z = 0; z < 3; z++)
                    e += (c[j][z] - cl[z]) * (c[j][z] - cl[z]);
                m = expf(-e / (2.0f * 8.0f * 8.0f));
            }
            if (m > bestm) {
                bestm = m;
                name = col->zh;
            }
        }
        if (dp < 36.0f)
            name = "paper";
        dq_buf_printf(out,
                      "%s{\"hex\":\"#%02x%02x%02x\",\"lab\":[%.1f,%.1f,%.1f],\"share\":%.4f,"
                      "\"name\":",
                      first ? "" : ",", rgb[0], rgb[1], rgb[2], (double)c[j][0], (double)c[j][1],
                      (double)c[j][2], (double)cnt[j] / (double)ns);
        if (name)
            dq_buf_printf(out, "\"%s\"}", name);
        else
            dq_buf_puts(out, "null}");
        first = 0;
    }
    dq_buf_putc(out, ']');
    if (named_out) {
        double share[N_CHROMATIC] = {0};
        for (size_t k = 0; k < n; k++) {
            float lab[3] = {p.L[k], p.a[k], p.b[k]};
            for (int q = 0; q < N_CHROMATIC; q++) {
                const dq_style_colour_t *col = &dq_style_colours[q];
                float cl[3] = {col->L, col->a, col->b};
                share[q] += match_seg(cl, p.paper, lab);
            }
        }
        dq_buf_putc(named_out, '[');
        first = 1;
        for (int q = 0; q < N_CHROMATIC; q++) {
            double sh = share[q] / (double)n;
            if (sh < 0.001)
                continue;
            dq_buf_printf(named_out, "%s{\"key\":\"%s\",\"share\":%.4f}", first ? "" : ",",
                          dq_style_colours[q].key, sh);
            first = 0;
        }
        dq_buf_putc(named_out, ']');
    }
    free(as);
    free(s);
    plane_free(&p);
    return 0;
}
