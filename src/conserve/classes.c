/*
 * conserve/classes.c: the class of a changed region, flaking or fading, decided for the region
 * as a whole (issue 12, session 24). changes.c finds the changed pixels and gives each a first
 * class pixel by pixel (alpha towards the support on strong colour, how local the lightening
 * is on a thin wash); what a pixel cannot see is the shape of the change it belongs to. Fading
 * is a loss of pigment where light fell: it takes whole exposed areas of a paint layer and
 * stops at the edge of the paint or of the light; a flake is pigment coming off the support
 * in islands, and its edge runs through paint that stays intact. So a changed region of
 * bounded size whose boundary mostly lies inside the same, unchanged paint is flaking,
 * whatever its pixels said. Where the pigment's colour stands off the plane that the bare
 * support's colours span, the share of that colour left in 2026 has the last word (the support
 * plane, below: flakes leave bare support, fading leaves pigment); where it lies on that
 * plane, the same question is asked within the plane (session 26). This file only re-classes
 * pixels changes.c already found; it does not read or write files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conserve/conserve_internal.h"
#include "core/core.h"

/* Region sizes, as fractions of the image height squared (a work is framed to its height in
 * every capture; --scale changes pixels, not these). Fitted on generated seeds 21-24 (never
 * evaluated), held out on seeds 1-3: see docs/conservation.md "Session 24". */
#define REG_A_MIN 2e-5  /* below: a few dozen pixels, too small for the boundary to say much */
#define REG_A_MID 5e-4  /* up to here a region must be continuous on REG_CONT_SMALL of its edge */
#define REG_A_MAX 2e-3  /* from here on a region is a faded area (with flakes inside, perhaps) */
#define REG_CONT_SMALL 0.3
#define REG_CONT_LARGE 0.7
#define REG_MIN_PAIRS 8 /* boundary pairs needed at all */
#define REG_SAME 3.0    /* REF luma levels (5x5 means) within which two sides are one paint */

/* Rec. 601 luma of REF's 5x5 mean around (x, y), clamped at the image's edge. */
static double luma5(const uint8_t *rgb, int w, int h, int x, int y)
{
    double s = 0;
    for (int dy = -2; dy <= 2; dy++) {
        int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
        for (int dx = -2; dx <= 2; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
            const uint8_t *p = rgb + ((size_t)yy * w + xx) * 3;
            s += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    }
    return s / 25;
}

typedef struct {
    const uint8_t *rgb, *changed;
    uint8_t *fl, *fa;
    int w, h;
    const int16_t *chg; /* step test only: 5x5 mean luma change, CHG_UNIT per level */
    uint64_t n_regions, n_px; /* what was re-classed */
} region_t;

/* The four directions an edge pair is looked for in. */
static const int EDGE_DIR[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};

/* 1 when (x, y) of a region ends towards (dx, dy): the next 4 pixels outward are inside the
 * image and unchanged, and the pixel 2 inward is inside the image; its pair is then REF (or the
 * change) 2 px inside against 4 px outside. */
static int edge_pair(const region_t *R, int x, int y, int dx, int dy)
{
    for (int s = 1; s <= 4; s++) {
        int xx = x + s * dx, yy = y + s * dy;
        if (xx < 0 || yy < 0 || xx >= R->w || yy >= R->h || R->changed[(size_t)yy * R->w + xx])
            return 0;
    }
    int xi = x - 2 * dx, yi = y - 2 * dy;
    return xi >= 0 && xi < R->w && yi >= 0 && yi < R->h;
}

/* The boundary's continuity: at every edge pixel of the region, in each of the four
 * directions where the region ends (the next 4 pixels outward unchanged), REF 2 px inside
 * against REF 4 px outside. The fraction of pairs within REG_SAME levels is how much of the
 * edge runs through one paint; *n_pairs how many pairs there were. */
static double continuity(const region_t *R, const size_t *px, size_t n, uint64_t *n_pairs)
{
    uint64_t same = 0, tot = 0;
    for (size_t k = 0; k < n; k++) {
        int x = (int)(px[k] % (size_t)R->w), y = (int)(px[k] / (size_t)R->w);
        for (int d = 0; d < 4; d++) {
            int dx = EDGE_DIR[d][0], dy = EDGE_DIR[d][1];
            if (!edge_pair(R, x, y, dx, dy))
                continue;
            double in = luma5(R->rgb, R->w, R->h, x - 2 * dx, y - 2 * dy);
            double out = luma5(R->rgb, R->w, R->h, x + 4 * dx, y + 4 * dy);
            same += fabs(in - out) < REG_SAME;
            tot++;
        }
    }
    *n_pairs = tot;
    return tot ? (double)same / (double)tot : 0;
}

static void region_class(void *ud, const size_t *px, size_t n, int x0, int y0, int x1, int y1)
{
    region_t *R = ud;
    (void)x0, (void)y0, (void)x1, (void)y1;
    double a = (double)n / ((double)R->h * R->h);
    if (a < REG_A_MIN || a >= REG_A_MAX)
        return;
    uint64_t pairs;
    double cont = continuity(R, px, n, &pairs);
    if (pairs < REG_MIN_PAIRS || cont < (a < REG_A_MID ? REG_CONT_SMALL : REG_CONT_LARGE))
        return;
    for (size_t k = 0; k < n; k++) {
        R->fl[px[k]] = 255;
        R->fa[px[k]] = 0;
    }
    R->n_regions++;
    R->n_px += n;
}

/* ---------------------------------------------------------------- flakes inside a faded area */

/* Where a wash faded all round a flake, the flake's change is 1 / 0.6 = 1.67x that of the
 * fading beside it, and its edge is a step in the change that is no edge in REF: the paint is
 * the same on both sides, only how much of it went differs. A coverage gradient across a
 * faded wash also varies the change, but smoothly: no step. So: the change's lower envelope
 * F (a low quantile of cell medians of the change around), candidate regions where the change
 * exceeds t F for a few t (a flake on a thick part of the wash stands out only at a higher t),
 * and a candidate is flaking when most of its edge is such a step: REF within REG_SAME levels
 * across it, the change 2 px inside >= STEP_RATIO x the change 4 px outside. Fitted on seeds
 * 21-24 with the region rule above; held out on seeds 1-3 (docs/conservation.md). */
#define CHG_UNIT 8.0     /* int16 units per grey level of the stored change */
#define ENV_CELLS 128    /* cells per image height of the envelope grid */
#define ENV_NB 3         /* the envelope's neighbourhood: (2 ENV_NB + 1)^2 cells */
#define ENV_RANK 0.2     /* its quantile among those cells */
#define ENV_FILL 0.5     /* a cell counts when at least this share of it changed */
#define STEP_RATIO 1.35  /* inside / outside change across a flake's edge */
#define STEP_SHARE 0.5   /* share of a candidate's edge pairs that must be steps */
static const double cand_t[] = {1.2, 1.35, 1.5, 1.7};

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* The lower envelope of the change on a grid of gw x gh whole cells of B x B px (pixels past
 * the last whole cell take the edge cell's value): per cell the median change of its changed
 * pixels, when at least ENV_FILL of it changed; then the ENV_RANK quantile of the cells
 * around. INFINITY where too few cells around changed. New, free(). */
static float *envelope(const region_t *R, int B, int gw, int gh)
{
    size_t nc = (size_t)gw * gh;
    float *med = dq_xmalloc(nc * sizeof(float)), *buf = dq_xmalloc((size_t)B * B * sizeof(float));
    for (int cy = 0; cy < gh; cy++)
        for (int cx = 0; cx < gw; cx++) {
            int k = 0;
            for (int y = cy * B; y < (cy + 1) * B; y++)
                for (int x = cx * B; x < (cx + 1) * B; x++) {
                    size_t i = (size_t)y * R->w + x;
                    if (R->changed[i])
                        buf[k++] = R->chg[i] / (float)CHG_UNIT;
                }
            float m = INFINITY;
            if (k > 0 && k >= ENV_FILL * B * B) {
                qsort(buf, (size_t)k, sizeof(float), cmp_float);
                m = k % 2 ? buf[k / 2] : 0.5f * (buf[k / 2 - 1] + buf[k / 2]);
            }
            med[(size_t)cy * gw + cx] = m;
        }
    free(buf);
    float *env = dq_xmalloc(nc * sizeof(float)), v[(2 * ENV_NB + 1) * (2 * ENV_NB + 1)];
    const int nv = (2 * ENV_NB + 1) * (2 * ENV_NB + 1), rank = (int)(nv * ENV_RANK);
    for (int cy = 0; cy < gh; cy++)
        for (int cx = 0; cx < gw; cx++) {
            int k = 0;
            for (int dy = -ENV_NB; dy <= ENV_NB; dy++)
                for (int dx = -ENV_NB; dx <= ENV_NB; dx++) {
                    int yy = cy + dy < 0 ? 0 : cy + dy >= gh ? gh - 1 : cy + dy;
                    int xx = cx + dx < 0 ? 0 : cx + dx >= gw ? gw - 1 : cx + dx;
                    v[k++] = med[(size_t)yy * gw + xx];
                }
            qsort(v, (size_t)nv, sizeof(float), cmp_float);
            env[(size_t)cy * gw + cx] = v[rank];
        }
    free(med);
    return env;
}

/* The share of a candidate region's edge pairs that are steps of the change (see above). */
static void step_region(void *ud, const size_t *px, size_t n, int x0, int y0, int x1, int y1)
{
    region_t *R = ud; /* here ->changed is the candidate mask */
    (void)x0, (void)y0, (void)x1, (void)y1;
    if ((double)n < REG_A_MIN * R->h * (double)R->h)
        return;
    uint64_t steps = 0, tot = 0;
    for (size_t k = 0; k < n; k++) {
        int x = (int)(px[k] % (size_t)R->w), y = (int)(px[k] / (size_t)R->w);
        for (int d = 0; d < 4; d++) {
            int dx = EDGE_DIR[d][0], dy = EDGE_DIR[d][1];
            if (!edge_pair(R, x, y, dx, dy))
                continue;
            int xi = x - 2 * dx, yi = y - 2 * dy, xo = x + 4 * dx, yo = y + 4 * dy;
            double cin = R->chg[(size_t)yi * R->w + xi] / CHG_UNIT;
            double cout = R->chg[(size_t)yo * R->w + xo] / CHG_UNIT;
            double din = luma5(R->rgb, R->w, R->h, xi, yi), dout = luma5(R->rgb, R->w, R->h, xo, yo);
            steps += fabs(din - dout) < REG_SAME && cin >= STEP_RATIO * (cout > 0.5 ? cout : 0.5);
            tot++;
        }
    }
    if (tot < REG_MIN_PAIRS || (double)steps < STEP_SHARE * (double)tot)
        return;
    for (size_t k = 0; k < n; k++) {
        R->fl[px[k]] = 255;
        R->fa[px[k]] = 0;
    }
    R->n_regions++;
    R->n_px += n;
}

/* The 5x5 mean luma change MOVING - REF at every pixel (CHG_UNIT per level), streamed by
 * running column sums. New, free(). */
static int16_t *luma_change(const uint8_t *ref, const uint8_t *nrm, int w, int h)
{
    int16_t *out = dq_xmalloc((size_t)w * h * sizeof(int16_t));
    double *col = dq_xcalloc((size_t)w, sizeof(double));
#define LDIFF(i) (0.299 * ((int)nrm[3 * (i)] - ref[3 * (i)]) +                                  \
                  0.587 * ((int)nrm[3 * (i) + 1] - ref[3 * (i) + 1]) +                          \
                  0.114 * ((int)nrm[3 * (i) + 2] - ref[3 * (i) + 2]))
    /* column sums over rows [y - 2, y + 2] clamped to the image (edge rows repeat) */
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int dy = -2; dy <= 2; dy++) {
                int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
                s += LDIFF((size_t)yy * w + x);
            }
            col[x] = s;
        }
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int dx = -2; dx <= 2; dx++)
                s += col[x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx];
            double v = s / 25 * CHG_UNIT;
            out[(size_t)y * w + x] = (int16_t)(v < -32000 ? -32000 : v > 32000 ? 32000 : lround(v));
        }
    }
#undef LDIFF
    free(col);
    return out;
}

void cv_region_classes(const uint8_t *ref, const uint8_t *nrm, int w, int h, uint8_t *fl,
                       uint8_t *fa)
{
    size_t n = (size_t)w * h;
    uint8_t *changed = dq_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        changed[i] = (fl[i] | fa[i]) != 0;
    region_t R = {.rgb = ref, .changed = changed, .fl = fl, .fa = fa, .w = w, .h = h};
    cv_walk_regions(changed, w, h, region_class, &R);

    /* flakes inside faded areas */
    int B = (int)lround(h / (double)ENV_CELLS);
    B = B < 4 ? 4 : B;
    int gw = w / B, gh = h / B;
    if (gw < 1 || gh < 1) {
        free(changed);
        return;
    }
    int16_t *chg = luma_change(ref, nrm, w, h);
    R.chg = chg;
    float *env = envelope(&R, B, gw, gh);
    uint8_t *cand = dq_xmalloc(n);
    region_t S = R;
    S.changed = cand;
    for (size_t t = 0; t < sizeof(cand_t) / sizeof(cand_t[0]); t++) {
        for (int y = 0; y < h; y++) {
            int cy = y / B < gh ? y / B : gh - 1;
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                float f = env[(size_t)cy * gw + (x / B < gw ? x / B : gw - 1)];
                cand[i] = changed[i] && isfinite(f) &&
                          chg[i] / CHG_UNIT >= cand_t[t] * (f > 1.0f ? f : 1.0f);
            }
        }
        cv_walk_regions(cand, w, h, step_region, &S);
    }
    free(cand);
    free(env);
    free(chg);
    free(changed);
}

/* ---------------------------------------------------------------- the support plane */

/* Linear spectral unmixing with an abundance test (Keshava & Mustard 2002, "Spectral
 * unmixing", IEEE Signal Processing Magazine 19(1)). In linear light a pixel of the paint
 * layer is P = [S (1 - c) + c M] (1 - i) + i I: support S, pigment M at coverage c, ink I at
 * density i (docs/generate.md). The bare support of a work varies in brightness (texture,
 * exposure, the silk's weave) and along one hue line (fresh to aged, yellowing), so its
 * colours span a plane through black in linear RGB, and that plane is the same over the whole
 * work: it is measured once, from the pixels that are support, not from a local grid that a
 * large painted area fills (a blue-green handscroll's grid took the paint for the support
 * over whole mountains). Its unit normal n turns the test into one dot product: n . S = 0 for
 * every support colour, so n . P = c (1 - i) n . (M - S) is the pigment's own share, whatever
 * the support's brightness or tone, and the fraction of it left in 2026,
 *   rho = n . P2026 / n . P2016,
 * is 0 where the pigment came off (flaking: only support and ink remain) and stays well above
 * 0 where it thinned (fading takes part of it). It needs no local support estimate, works for
 * pigments lighter than the support as well as darker, and says nothing where the pigment lies
 * on the plane itself (of the generator's pigments azurite, indigo and lead white nearly do;
 * thin washes too: |n . P2016| under PL_Z noise sigmas); those are unmixed within the plane
 * (below), and keep the region rules' class where that cannot tell either.
 * Ink is near-neutral and in the same proportion in both captures, so it moves rho little.
 * PL_Z, PL_SURE and PL_RHO were chosen on generated seeds 21 and 22 (half size, never
 * evaluated) from a grid (Z 4-10, sure 0-4, rho 0.15-0.3, a band to 0.25-0.35 for fading);
 * PL_CORE_R is the reach of the 3x3 mean and the resampling's blur (docs/conservation.md
 * "Session 25"). */
#define PL_SAMPLES 1000000 /* REF pixels that the plane fit looks at, at most */
#define PL_DARK 0.3        /* the darkest share of REF (luma) is not support: paint, ink */
#define PL_BRIGHT 0.75     /* the first plane: REF above this quantile of luma */
#define PL_ITER 6          /* rounds of the fit: plane, residuals, inliers */
#define PL_INLIER 3.0      /* inliers: within this many median residuals of the plane */
#define PL_FLOOR 0.004     /* ... and at least this (sine of the angle to the plane) */
#define PL_LINING 12.0     /* sRGB levels: REF pixels this near the lining are old losses */
#define PL_Z 6.0           /* |n . P2016| in noise sigmas from which rho is trusted */
#define PL_RHO 0.15        /* rho under this: the pigment is gone, flaking; over it: fading */
#define PL_SURE 1.0        /* noise sigmas between b and PL_RHO a for a decision */
#define PL_CORE_R 3        /* px around a sure flake where no fading is decided */
#define PL_NOISE_BINS 4000 /* histogram of |n . (P2026 - P2016)|, bins of PL_NOISE_W */
#define PL_NOISE_W 2e-5

/* The eigenvector of the smallest eigenvalue of a symmetric 3x3 matrix (cyclic Jacobi
 * rotations; a is destroyed). */
static void smallest_eigvec(double a[3][3], double v[3])
{
    double e[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
        if (off < 1e-15 * (fabs(a[0][0]) + fabs(a[1][1]) + fabs(a[2][2])) + 1e-300)
            break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                if (fabs(a[p][q]) < 1e-300)
                    continue;
                double th = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < 3; k++) { /* A <- A J, then J^T A */
                    double x = a[k][p], y = a[k][q];
                    a[k][p] = c * x - s * y;
                    a[k][q] = s * x + c * y;
                }
                for (int k = 0; k < 3; k++) {
                    double x = a[p][k], y = a[q][k];
                    a[p][k] = c * x - s * y;
                    a[q][k] = s * x + c * y;
                }
                for (int k = 0; k < 3; k++) {
                    double x = e[k][p], y = e[k][q];
                    e[k][p] = c * x - s * y;
                    e[k][q] = s * x + c * y;
                }
            }
    }
    int m = a[0][0] <= a[1][1] && a[0][0] <= a[2][2] ? 0 : a[1][1] <= a[2][2] ? 1 : 2;
    for (int k = 0; k < 3; k++)
        v[k] = e[k][m];
}

/* sRGB level -> linear light, for all 256 levels. */
static void lin_table(double lt[256])
{
    for (int v = 0; v < 256; v++) {
        double x = v / 255.0;
        lt[v] = x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4);
    }
}

/* Rec. 601 luma of sRGB pixel p, rounded to a level. */
static int luma8(const uint8_t *p)
{
    return (299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000;
}

/* The luma levels of REF's samples (every stride-th of np pixels) below which lie its darkest
 * PL_DARK (*lcut: too dark to be support: paint, ink) and PL_BRIGHT (*lbright: the brightest
 * quarter from there on). */
static void luma_cuts(const uint8_t *ref, size_t np, size_t stride, int *lcut, int *lbright)
{
    uint64_t hl[256] = {0}, nh = 0;
    for (size_t i = 0; i < np; i += stride) {
        hl[luma8(ref + 3 * i)]++;
        nh++;
    }
    int a = 0, b = 0;
    for (uint64_t acc = 0; a < 255 && (double)(acc + hl[a]) <= PL_DARK * (double)nh; a++)
        acc += hl[a];
    for (uint64_t acc = 0; b < 255 && (double)(acc + hl[b]) <= PL_BRIGHT * (double)nh; b++)
        acc += hl[b];
    *lcut = a, *lbright = b;
}

/* Whether REF pixel p may be support at all: not in the darkest PL_DARK (luma under lcut),
 * not within PL_LINING of the lining (lining NULL: no lining). */
static int plane_candidate(const uint8_t *p, int lcut, const double *lining)
{
    if (luma8(p) < lcut)
        return 0;
    return !lining || fabs(p[0] - lining[0]) > PL_LINING || fabs(p[1] - lining[1]) > PL_LINING ||
           fabs(p[2] - lining[2]) > PL_LINING;
}

/* |x . n| / |x|: the sine of the angle between colour x and the plane of normal n. */
static double plane_residual(const double x[3], const double n[3])
{
    double len = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    return len > 0 ? fabs(x[0] * n[0] + x[1] * n[1] + x[2] * n[2]) / len : 1;
}

/* The trimmed plane fit (see cv_support_plane) on REF's samples (every stride-th of np
 * pixels) brighter than lcut (the first round: lbright), lining as for plane_candidate.
 * n: the normal; *th: the last inlier threshold. 0, or -1 when too few candidates. */
static int fit_plane(const uint8_t *ref, size_t np, size_t stride, const double lt[256], int lcut,
                     int lbright, const double *lining, double n[3], double *th_out)
{
    /* Least squares of a plane through black (the smallest eigenvector of the scatter): first
     * on the brightest quarter (the support is the lightest material of most works, and a
     * large painted area must not pull the first plane: a sheet 62 % covered in green took a
     * plane 32 degrees off), then on the inliers of the plane found (a trimmed fit: paint
     * lies off the plane, support on it), the threshold PL_INLIER x the median residual of
     * the previous round's inliers (the first round's: the bright quarter). */
    double th = INFINITY;
    for (int it = 0; it < PL_ITER; it++) {
        if (it > 0) {
            uint64_t hd[1000] = {0}, tot = 0, acc = 0;
            for (size_t i = 0; i < np; i += stride) {
                const uint8_t *p = ref + 3 * i;
                if (!plane_candidate(p, it == 1 ? lbright : lcut, lining))
                    continue;
                double x[3] = {lt[p[0]], lt[p[1]], lt[p[2]]}, d = plane_residual(x, n);
                if (d >= th)
                    continue;
                int b = (int)(d / 2e-4); /* bins of 2e-4 */
                hd[b < 999 ? b : 999]++;
                tot++;
            }
            int b = 0;
            while (b < 999 && 2 * (acc + hd[b]) <= tot)
                acc += hd[b++];
            double med = (b + 0.5) * 2e-4;
            th = PL_INLIER * med > PL_FLOOR ? PL_INLIER * med : PL_FLOOR;
        }
        double s[3][3] = {{0}};
        uint64_t ns = 0;
        for (size_t i = 0; i < np; i += stride) {
            const uint8_t *p = ref + 3 * i;
            if (!plane_candidate(p, it ? lcut : lbright, lining))
                continue;
            double x[3] = {lt[p[0]], lt[p[1]], lt[p[2]]};
            if (it > 0 && plane_residual(x, n) >= th)
                continue;
            for (int a = 0; a < 3; a++)
                for (int c = 0; c < 3; c++)
                    s[a][c] += x[a] * x[c];
            ns++;
        }
        if (ns < 100)
            return -1;
        smallest_eigvec(s, n);
    }
    *th_out = th;
    return 0;
}

int cv_support_plane(const uint8_t *ref, int w, int h, const double lining[3], double n[3])
{
    size_t np = (size_t)w * h, stride = np > PL_SAMPLES ? np / PL_SAMPLES : 1;
    double lt[256];
    lin_table(lt);
    int lcut, lbright;
    luma_cuts(ref, np, stride, &lcut, &lbright);
    /* Old losses show the lining, a second bright material (a work with many of them took a
     * plane 20 degrees off without this); but where the lining is close to the paper's own
     * colour, leaving out what is near it leaves out the paper. So both fits, and the plane
     * that more of REF's candidates lie on wins. */
    double na[3], nb[3], tha = 0, thb = 0;
    int ra = fit_plane(ref, np, stride, lt, lcut, lbright, NULL, na, &tha);
    int rb = lining ? fit_plane(ref, np, stride, lt, lcut, lbright, lining, nb, &thb) : -1;
    if (ra < 0 && rb < 0)
        return -1;
    if (ra == 0 && rb == 0) {
        double th = tha < thb ? tha : thb; /* the tighter: a loose plane counts everything */
        uint64_t ca = 0, cb = 0;
        for (size_t i = 0; i < np; i += stride) {
            const uint8_t *p = ref + 3 * i;
            if (!plane_candidate(p, lcut, NULL))
                continue;
            double x[3] = {lt[p[0]], lt[p[1]], lt[p[2]]};
            ca += plane_residual(x, na) < th;
            cb += plane_residual(x, nb) < th;
        }
        ra = cb > ca ? -1 : 0;
    }
    memcpy(n, ra == 0 ? na : nb, sizeof(na));
    return 0;
}

/* n . (3x3 mean of img around (x, y)) in linear light (clamped at the image's edge): the 3x3
 * mean keeps a flake's core apart from its rim and lowers the JPEG noise. */
static double plane_dot3(const uint8_t *img, int w, int h, const double lt[256], const double n[3],
                         int x, int y)
{
    double s = 0;
    for (int dy = -1; dy <= 1; dy++) {
        int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
            const uint8_t *p = img + ((size_t)yy * w + xx) * 3;
            s += n[0] * lt[p[0]] + n[1] * lt[p[1]] + n[2] * lt[p[2]];
        }
    }
    return s / 9;
}

/* ---------------------------------------------------------------- within the plane */

/* Where the pigment lies on the support's plane itself (|n . P2016| under PL_Z noise sigmas:
 * of the generator's pigments azurite, indigo and lead white, and thin washes), n . P says
 * nothing, but the plane is two-dimensional and the pigment is still a second endmember in
 * it: a multiple-endmember unmixing (Roberts, Gardner, Church, Ustin, Scheer & Green 1998,
 * "Mapping chaparral in the Santa Monica Mountains using multiple endmember spectral mixture
 * models", Remote Sensing of Environment 65(3)) with the support's endmember not one colour
 * but the distribution of the bare support's colours in the plane (Bateson, Asner & Wessman
 * 2000, "Endmember bundles", IEEE TGRS 38(2)). In the plane's coordinates (t along the
 * support's mean ray, u across it, towards the aged end of the tone line) the change
 * d = P2026 - P2016 = dc (1 - i) (S - M) runs from the pigment towards the support, and the
 * support under the pixel is S = P2026 + k d: k = 0 for a flake (2026 is bare support), k =
 * 0.4 / 0.6 for the generator's fading. k is the one that puts S nearest the support's
 * distribution (mean mu, covariance C: Mahalanobis, closed form), and rho = k / (1 + k) is
 * again the share of pigment left. A pixel is decided only where the two hypotheses are far
 * apart for that distribution: |d| in C's metric at least IP_CONF. The support's brightness
 * under a pixel is the least known part of it (texture, ink over it, the local tone: true
 * flakes in thin red-ochre washes read as 9 % darker than the support's mean), so C's
 * brightness variance is multiplied by 1 + IP_T_WIDEN: the decision rests mostly on the hue,
 * where azurite (blue against a yellowish support) stands far off. The support's
 * distribution is fitted to REF's unchanged pixels near the plane, from its brightest quarter
 * by trimmed Mahalanobis rounds (a minimum-covariance-determinant style fit, Rousseeuw 1984):
 * a mountain of azurite lies on the plane too and must not be taken for the support.
 * IP_T_WIDEN, IP_CONF, IP_RHO and IP_SURE were chosen on generated seeds 21 and 22 (half size,
 * whole collection, never evaluated): docs/conservation.md "Session 26". */
#define IP_RES 0.01     /* support samples: within this sine of the angle to the plane */
#define IP_MIN 1000     /* unchanged samples near the plane needed for a model at all */
#define IP_ROUNDS 6     /* trimmed rounds of the support's distribution */
#define IP_T_WIDEN 10.0 /* the brightness variance: x (1 + this) */
#define IP_CONF 4.0     /* |d| in the support's Mahalanobis metric from which k is trusted */
#define IP_RHO 0.25     /* rho under this: flaking; over it: fading */
#define IP_SURE 1.0     /* support sigmas between k and the threshold's k for a decision */

typedef struct {
    double e1[3], e2[3]; /* the plane's basis: e1 the support's mean ray, e2 = n x e1 */
    double mu[2];        /* the support's mean colour in (e1, e2) */
    double ci[2][2];     /* the inverse of its covariance, brightness widened */
} inplane_t;

/* The 3x3 mean of img around (x, y) in linear light (clamped at the image's edge). */
static void lin_mean3(const uint8_t *img, int w, int h, const double lt[256], int x, int y,
                      double o[3])
{
    o[0] = o[1] = o[2] = 0;
    for (int dy = -1; dy <= 1; dy++) {
        int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
            const uint8_t *p = img + ((size_t)yy * w + xx) * 3;
            for (int k = 0; k < 3; k++)
                o[k] += lt[p[k]] / 9;
        }
    }
}

/* The k-th smallest of v[0..n) (quickselect, Hoare's partition; v is reordered). */
static double kth_smallest(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double piv = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < piv)
                i++;
            while (v[j] > piv)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j], v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

/* Mean and covariance of the samples (t[i], u[i]) with keep[i] (NULL: all). -1 when fewer
 * than 3 or the covariance is singular. */
static int mean_cov(const double *t, const double *u, const uint8_t *keep, size_t n, double mu[2],
                    double c[2][2])
{
    double s0 = 0, s1 = 0, s00 = 0, s01 = 0, s11 = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i])
            continue;
        s0 += t[i], s1 += u[i];
        m++;
    }
    if (m < 3)
        return -1;
    mu[0] = s0 / m, mu[1] = s1 / m;
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i])
            continue;
        double a = t[i] - mu[0], b = u[i] - mu[1];
        s00 += a * a, s01 += a * b, s11 += b * b;
    }
    c[0][0] = s00 / (m - 1), c[0][1] = c[1][0] = s01 / (m - 1), c[1][1] = s11 / (m - 1);
    return c[0][0] * c[1][1] - c[0][1] * c[0][1] > 0 ? 0 : -1;
}

static void inv2(const double c[2][2], double ci[2][2])
{
    double det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
    ci[0][0] = c[1][1] / det, ci[1][1] = c[0][0] / det;
    ci[0][1] = ci[1][0] = -c[0][1] / det;
}

/* The support's distribution within the plane of normal n (see above), from REF's samples
 * (every stride-th of w h) that did not change (fl, fa zero). 0, or -1 when REF has too few
 * unchanged pixels near the plane. */
static int inplane_model(const uint8_t *ref, int w, int h, const double lt[256], const double n[3],
                         const uint8_t *fl, const uint8_t *fa, inplane_t *M)
{
    size_t np = (size_t)w * h, stride = np > PL_SAMPLES ? np / PL_SAMPLES : 1;
    int lcut, lbright;
    luma_cuts(ref, np, stride, &lcut, &lbright);
    /* e1: the mean of REF's brightest quarter, in the plane */
    double e[3] = {0, 0, 0}, x[3];
    for (size_t i = 0; i < np; i += stride) {
        const uint8_t *p = ref + 3 * i;
        if (luma8(p) < lbright)
            continue;
        lin_mean3(ref, w, h, lt, (int)(i % (size_t)w), (int)(i / (size_t)w), x);
        for (int k = 0; k < 3; k++)
            e[k] += x[k];
    }
    double en = e[0] * n[0] + e[1] * n[1] + e[2] * n[2];
    for (int k = 0; k < 3; k++)
        e[k] -= en * n[k];
    double el = sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]);
    if (!(el > 0))
        return -1;
    for (int k = 0; k < 3; k++)
        M->e1[k] = e[k] / el;
    M->e2[0] = n[1] * M->e1[2] - n[2] * M->e1[1];
    M->e2[1] = n[2] * M->e1[0] - n[0] * M->e1[2];
    M->e2[2] = n[0] * M->e1[1] - n[1] * M->e1[0];
    /* the samples: unchanged, not among the darkest PL_DARK, near the plane */
    size_t cap = np / stride + 1, m = 0;
    double *t = dq_xmalloc(cap * sizeof(double)), *u = dq_xmalloc(cap * sizeof(double));
    double *d2 = dq_xmalloc(cap * sizeof(double)), *tmp = dq_xmalloc(cap * sizeof(double));
    uint8_t *keep = dq_xmalloc(cap);
    for (size_t i = 0; i < np; i += stride) {
        const uint8_t *p = ref + 3 * i;
        int l = luma8(p);
        if ((fl[i] | fa[i]) || l < lcut)
            continue;
        lin_mean3(ref, w, h, lt, (int)(i % (size_t)w), (int)(i / (size_t)w), x);
        if (plane_residual(x, n) >= IP_RES)
            continue;
        t[m] = x[0] * M->e1[0] + x[1] * M->e1[1] + x[2] * M->e1[2];
        u[m] = x[0] * M->e2[0] + x[1] * M->e2[1] + x[2] * M->e2[2];
        keep[m] = l >= lbright; /* the first round: the brightest quarter */
        m++;
    }
    int rc = -1;
    double c[2][2], ci[2][2];
    if (m < IP_MIN || mean_cov(t, u, keep, m, M->mu, c) < 0)
        goto out;
    /* the first centre: the bright samples' median, robust to a bright paint among them */
    size_t nb = 0;
    for (size_t i = 0; i < m; i++)
        if (keep[i])
            tmp[nb++] = t[i];
    M->mu[0] = kth_smallest(tmp, nb, nb / 2);
    nb = 0;
    for (size_t i = 0; i < m; i++)
        if (keep[i])
            tmp[nb++] = u[i];
    M->mu[1] = kth_smallest(tmp, nb, nb / 2);
    for (int r = 0; r < IP_ROUNDS; r++) {
        inv2(c, ci);
        for (size_t i = 0; i < m; i++) {
            double a = t[i] - M->mu[0], b = u[i] - M->mu[1];
            d2[i] = tmp[i] = a * a * ci[0][0] + 2 * a * b * ci[0][1] + b * b * ci[1][1];
        }
        double med = kth_smallest(tmp, m, m / 2);
        for (size_t i = 0; i < m; i++)
            keep[i] = d2[i] <= med;
        if (mean_cov(t, u, keep, m, M->mu, c) < 0)
            goto out;
        /* the central half of a 2-D normal has 1 - ln 2 of its variance per axis */
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                c[a][b] /= 1 - M_LN2;
    }
    c[0][0] *= 1 + IP_T_WIDEN;
    inv2(c, M->ci);
    rc = 0;
out:
    free(t);
    free(u);
    free(d2);
    free(tmp);
    free(keep);
    return rc;
}

/* The in-plane decision for changed pixel (x, y): 1 flaking, 0 fading, -1 no decision. */
static int inplane_class(const inplane_t *M, const uint8_t *ref, const uint8_t *nrm, int w, int h,
                         const double lt[256], int x, int y)
{
    double p[3], q[3];
    lin_mean3(ref, w, h, lt, x, y, p);
    lin_mean3(nrm, w, h, lt, x, y, q);
    double t2 = q[0] * M->e1[0] + q[1] * M->e1[1] + q[2] * M->e1[2];
    double u2 = q[0] * M->e2[0] + q[1] * M->e2[1] + q[2] * M->e2[2];
    double dt = t2 - (p[0] * M->e1[0] + p[1] * M->e1[1] + p[2] * M->e1[2]);
    double du = u2 - (p[0] * M->e2[0] + p[1] * M->e2[1] + p[2] * M->e2[2]);
    double rt = t2 - M->mu[0], ru = u2 - M->mu[1];
    double dd = dt * dt * M->ci[0][0] + 2 * dt * du * M->ci[0][1] + du * du * M->ci[1][1];
    if (dd < IP_CONF * IP_CONF)
        return -1; /* the support's spread cannot tell the hypotheses apart */
    double k =
        -(dt * rt * M->ci[0][0] + (dt * ru + du * rt) * M->ci[0][1] + du * ru * M->ci[1][1]) / dd;
    if (k <= -1)
        return -1; /* the support would lie beyond 2016's colour: not a loss of pigment */
    /* k's standard error is 1 / |d| in that metric: only a sure decision overrides, as in
     * the plane step (PL_SURE) */
    if (fabs(k - IP_RHO / (1 - IP_RHO)) * sqrt(dd) < IP_SURE)
        return -1;
    return k / (1 + k) < IP_RHO;
}

/* ---------------------------------------------------------------- flakes within a faded area */

/* A thin wash (red ochre at coverage ~0.2, say) is too thin for either test above to decide a
 * pixel: n . P2016 is within a few noise sigmas of 0, and within the plane the support's own
 * spread is larger than the change. The pixels keep the class the region rules gave them, and
 * a flake inside a large faded area of such a wash is classed fading with the area round it.
 * What one pixel cannot tell, the region can (object-based change detection: the decision
 * is taken on the object's pooled evidence, not per pixel; Hussain, Chen, Cheng, Wei &
 * Stanley 2013, "Change detection from remotely sensed images: from pixel-based to
 * object-based approaches", ISPRS J. Photogramm. Remote Sens. 80; Blaschke 2010, "Object
 * based image analysis for remote sensing", ibid. 65(1)): n . P is linear in the coverage,
 * so over any set of pixels of one pigment sum(n . P2026) / sum(n . P2016) is the share of
 * the pigment left, pooled, with the noise of the sums growing only as the square root of
 * their size. A faded area (a changed region classed fading of at least REG_A_MAX h^2)
 * gives its own rho, rho_A, from all its pixels; a (2 FR_R + 1)^2 window of its pixels round
 * an undecided pixel gives a local one. A flake in the area keeps none of the pigment where
 * the fading round it keeps 40 %, so the window is a flake where its rho is under FR_F
 * rho_A, FR_SURE noise sigmas of the window's sums off that line, and its n . P2016 sum at
 * least FR_ZA of them. The comparison is within the area, so a bias of n . P that the whole
 * area shares (the work's normalisation, its support's tone off the plane) cancels: rho_A of
 * the fitting seeds' faded red-ochre washes ran from 0.2 to 0.5 against the generator's 0.4;
 * a local one (a stain under part of the wash) does not, hence the confirmation. The noise
 * of a sum of N 3x3 means is taken as FR_NOISE sigma sqrt N (neighbouring means share
 * pixels). A window that passes is confirmed by its luma change (fr_confirm, below), and
 * only pixels the steps above left undecided are re-classed, and only to flaking. A changed
 * region classed fading but smaller than a faded area is pooled whole against the rho of the
 * work's faded areas (fr_small). FR_R, FR_F, FR_SURE, FR_ZA, FR_LUMA and FR_SMALL_F were
 * chosen on generated seeds 21 and 22 (half size, whole collection, never evaluated) and
 * seed 3 (DQ-2026-0002, 0006, 0010, 0012): docs/conservation.md "Session 27". */
#define FR_UNDECIDED 0x80 /* core byte: the steps above left this pixel's class as it was */
#define FR_R 3            /* the local window's radius, px */
#define FR_F 0.5          /* the window is a flake under FR_F rho_A */
#define FR_SURE 1.0       /* noise sigmas between the window's sums and that line */
#define FR_ZA 2.0         /* noise sigmas the window's sum of n . P2016 must reach */
#define FR_AREA_Z 3.0     /* ... and the area's, for rho_A to mean anything */
#define FR_RHO_MIN 0.1    /* rho_A under this: not a faded area, nothing to compare with */
#define FR_NOISE 3.0      /* the noise of a sum of N 3x3 means: FR_NOISE sigma sqrt N */
#define FR_LUMA 1.25      /* a flake's luma change: at least this x the area's median */
#define FR_CAND 0xff      /* mark byte of a pixel the window test found (rho_A is <= 100) */
#define FR_BINS 2048      /* histogram of |luma change|, bins of 1/8 level */
#define FR_SMALL_F 0.7    /* a small region classed fading is a flake under this x rho_W */
#define FR_SMALL_Z 3.0    /* noise sigmas its sum of n . P2016 must reach */

typedef struct {
    const uint8_t *ref, *nrm;
    uint8_t *fl, *fa;
    int w, h;
    const double *lt, *n;
    double sigma;
    uint8_t *mark; /* FR_UNDECIDED | the area's rho_A in hundredths (1..100), 0: no area */
    double wa, wb; /* sums of n . P2016, n . P2026 over the work's faded areas */
    double rho_w;  /* wb / wa: the work's faded areas' rho, 0 when none or out of (0.1, 1) */
    uint64_t n_flake;
} fr_area_t;

/* sum n . P2016 (*sa) and n . P2026 (*sb) over the n pixels px of a region. */
static void fr_sums(const fr_area_t *F, const size_t *px, size_t n, double *sa, double *sb)
{
    *sa = *sb = 0;
    for (size_t k = 0; k < n; k++) {
        int x = (int)(px[k] % (size_t)F->w), y = (int)(px[k] / (size_t)F->w);
        *sa += plane_dot3(F->ref, F->w, F->h, F->lt, F->n, x, y);
        *sb += plane_dot3(F->nrm, F->w, F->h, F->lt, F->n, x, y);
    }
}

/* A region classed fading but smaller than a faded area, a whole flake perhaps that the
 * region rules could not tell: the same pooled rho, against the one the work's faded areas
 * kept (rho_w: its bias is the work's), decides its undecided pixels. */
static void fr_small(fr_area_t *F, const size_t *px, size_t n)
{
    if (!(F->rho_w > 0))
        return;
    double sa, sb, noise = FR_NOISE * F->sigma * sqrt((double)n), r = FR_SMALL_F * F->rho_w;
    fr_sums(F, px, n, &sa, &sb);
    if (fabs(sa) <= FR_SMALL_Z * noise || sb / sa >= r ||
        fabs(sb - r * sa) <= FR_SURE * noise * sqrt(1 + r * r))
        return;
    for (size_t k = 0; k < n; k++)
        if (F->mark[px[k]] & FR_UNDECIDED) {
            F->fl[px[k]] = 255;
            F->fa[px[k]] = 0;
            F->n_flake++;
        }
}

/* The change of Rec. 601 luma, nrm - ref, of the 5x5 means around (x, y) (clamped). */
static double luma_change5(const uint8_t *ref, const uint8_t *nrm, int w, int h, int x, int y)
{
    return luma5(nrm, w, h, x, y) - luma5(ref, w, h, x, y);
}

/* The second look at a faded area whose window test found flakes (FR_CAND): a flake loses
 * 1 / 0.4 - 1 = 1.67 x the colour that the fading beside it lost, so its luma change stands
 * above the area's typical one (the step test of the region rules, above, asks the same of a
 * region's edge). A candidate is a flake where its 5x5 luma change is at least FR_LUMA x the
 * median over the area; the others, and the area, stay fading. Two independent readings of
 * the same physics: the window's rho alone took parts of faded washes on a stained support
 * (off the plane, n . S != 0 there) for flakes. */
static void fr_confirm(void *ud, const size_t *px, size_t n, int x0, int y0, int x1, int y1)
{
    fr_area_t *F = ud;
    (void)x0, (void)y0, (void)x1, (void)y1;
    if ((double)n < REG_A_MAX * F->h * (double)F->h) {
        fr_small(F, px, n);
        return;
    }
    size_t nc = 0;
    for (size_t k = 0; k < n; k++)
        nc += F->mark[px[k]] == FR_CAND;
    if (!nc)
        return;
    uint32_t *hist = dq_xcalloc(FR_BINS, sizeof(uint32_t));
    for (size_t k = 0; k < n; k++) {
        int x = (int)(px[k] % (size_t)F->w), y = (int)(px[k] / (size_t)F->w);
        int b = (int)(fabs(luma_change5(F->ref, F->nrm, F->w, F->h, x, y)) * 8);
        hist[b < FR_BINS - 1 ? b : FR_BINS - 1]++;
    }
    size_t acc = 0;
    int b = 0;
    while (b < FR_BINS - 1 && 2 * (acc + hist[b]) <= n)
        acc += hist[b++];
    free(hist);
    double med = (b + 0.5) / 8;
    for (size_t k = 0; k < n; k++) {
        size_t i = px[k];
        if (F->mark[i] != FR_CAND)
            continue;
        int x = (int)(i % (size_t)F->w), y = (int)(i / (size_t)F->w);
        if (fabs(luma_change5(F->ref, F->nrm, F->w, F->h, x, y)) < FR_LUMA * med)
            continue;
        F->fl[i] = 255;
        F->fa[i] = 0;
        F->n_flake++;
    }
}

/* A region of the fading mask: a faded area when large and its rho_A is measurable; then its
 * pixels' mark bytes take rho_A. */
static void fr_area(void *ud, const size_t *px, size_t n, int x0, int y0, int x1, int y1)
{
    fr_area_t *F = ud;
    (void)x0, (void)y0, (void)x1, (void)y1;
    if ((double)n < REG_A_MAX * F->h * (double)F->h)
        return;
    double sa, sb;
    fr_sums(F, px, n, &sa, &sb);
    if (fabs(sa) <= FR_AREA_Z * FR_NOISE * F->sigma * sqrt((double)n))
        return;
    F->wa += sa, F->wb += sb;
    double rho = sb / sa;
    if (!(rho > FR_RHO_MIN) || rho >= 1)
        return;
    int q = (int)ceil(rho * 100);
    for (size_t k = 0; k < n; k++)
        F->mark[px[k]] = (uint8_t)((F->mark[px[k]] & FR_UNDECIDED) | (q > 100 ? 100 : q));
}

/* Flakes within faded areas (see above). mark: FR_UNDECIDED on the pixels the steps above
 * left undecided, else 0 (overwritten). */
static void faded_area_flakes(const uint8_t *ref, const uint8_t *nrm, int w, int h,
                              const double lt[256], const double n[3], double sigma, uint8_t *mark,
                              uint8_t *fl, uint8_t *fa, uint64_t *n_flake)
{
    fr_area_t F = {.ref = ref, .nrm = nrm, .fl = fl, .fa = fa, .w = w, .h = h, .lt = lt, .n = n,
                   .sigma = sigma, .mark = mark};
    cv_walk_regions(fa, w, h, fr_area, &F);
    /* window sums of n . P2016, n . P2026 and the count over the areas' pixels, streamed by
     * rows: a ring of 2 FR_R + 1 rows of per-pixel values and their column sums */
    const int K = 2 * FR_R + 1;
    double *ring = dq_xcalloc((size_t)K * w * 3, sizeof(double));
    double *col = dq_xcalloc((size_t)w * 3, sizeof(double));
    for (int yc = -FR_R; yc < h; yc++) {
        int yo = yc - FR_R - 1, yn = yc + FR_R; /* the row leaving the window, the row entering */
        if (yo >= 0) {
            double *r = ring + (size_t)(yo % K) * w * 3;
            for (size_t k = 0; k < (size_t)w * 3; k++)
                col[k] -= r[k];
        }
        if (yn < h) {
            double *r = ring + (size_t)(yn % K) * w * 3;
            for (int x = 0; x < w; x++) {
                double *v = r + (size_t)x * 3;
                if (mark[(size_t)yn * w + x] & 0x7f) {
                    v[0] = plane_dot3(ref, w, h, lt, n, x, yn);
                    v[1] = plane_dot3(nrm, w, h, lt, n, x, yn);
                    v[2] = 1;
                } else {
                    v[0] = v[1] = v[2] = 0;
                }
                for (int k = 0; k < 3; k++)
                    col[(size_t)x * 3 + k] += v[k];
            }
        }
        if (yc < 0)
            continue;
        double s[3] = {0, 0, 0};
        for (int x = 0; x < FR_R && x < w; x++)
            for (int k = 0; k < 3; k++)
                s[k] += col[(size_t)x * 3 + k];
        for (int x = 0; x < w; x++) {
            if (x + FR_R < w)
                for (int k = 0; k < 3; k++)
                    s[k] += col[(size_t)(x + FR_R) * 3 + k];
            if (x - FR_R - 1 >= 0)
                for (int k = 0; k < 3; k++)
                    s[k] -= col[(size_t)(x - FR_R - 1) * 3 + k];
            size_t i = (size_t)yc * w + x;
            if (!(mark[i] & FR_UNDECIDED) || !(mark[i] & 0x7f) || !fa[i])
                continue;
            double r = FR_F * (mark[i] & 0x7f) / 100.0, noise = FR_NOISE * sigma * sqrt(s[2]);
            if (fabs(s[0]) <= FR_ZA * noise || s[1] / s[0] >= r ||
                fabs(s[1] - r * s[0]) <= FR_SURE * noise * sqrt(1 + r * r))
                continue;
            mark[i] = FR_CAND;
        }
    }
    free(ring);
    free(col);
    /* the same regions (fa is as it was): confirm the areas' candidates by their luma
     * change, and decide the small regions by the work's rho */
    double rw = F.wa != 0 ? F.wb / F.wa : 0;
    F.rho_w = rw > FR_RHO_MIN && rw < 1 ? rw : 0;
    cv_walk_regions(fa, w, h, fr_confirm, &F);
    *n_flake += F.n_flake;
}

void cv_plane_classes(const uint8_t *ref, const uint8_t *nrm, int w, int h, const double n[3],
                      uint8_t *fl, uint8_t *fa, uint64_t *n_flake, uint64_t *n_fade)
{
    size_t np = (size_t)w * h, stride = np > PL_SAMPLES ? np / PL_SAMPLES : 1;
    double lt[256];
    lin_table(lt);
    *n_flake = *n_fade = 0;
    /* The noise of n . P, robust: the median |n . (P2026 - P2016)| of the 3x3 means over
     * unchanged pixels (the few outside MOVING's footprint or in losses are outliers). */
    uint32_t *hn = dq_xcalloc(PL_NOISE_BINS, sizeof(uint32_t));
    uint64_t tot = 0, acc = 0;
    for (size_t i = 0; i < np; i += stride) {
        if (fl[i] | fa[i])
            continue;
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        double d = plane_dot3(nrm, w, h, lt, n, x, y) - plane_dot3(ref, w, h, lt, n, x, y);
        int b = (int)(fabs(d) / PL_NOISE_W);
        hn[b < PL_NOISE_BINS - 1 ? b : PL_NOISE_BINS - 1]++;
        tot++;
    }
    int b = 0;
    while (b < PL_NOISE_BINS - 1 && 2 * (acc + hn[b]) <= tot)
        acc += hn[b++];
    free(hn);
    double sigma = 1.4826 * (b + 0.5) * PL_NOISE_W;
    inplane_t ip;
    int have_ip = inplane_model(ref, w, h, lt, n, fl, fa, &ip) == 0;
    /* Two passes: the sure flakes first (their cores), then the rest, so that the rim of a
     * small flake, whose 3x3 mean (and the resampling's blur) keeps some of the paint around
     * it, is not turned to fading next to a flake's core: within PL_CORE_R of a sure flake
     * only flaking may be decided. */
    uint8_t *core = dq_xcalloc(np, 1);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            cv_dilate_box(core, w, h, PL_CORE_R);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                if (!(fl[i] | fa[i])) {
                    if (pass == 1)
                        core[i] = 0;
                    continue;
                }
                int near_core = core[i] != 0;
                if (pass == 1)
                    core[i] = FR_UNDECIDED; /* until a decision below clears it */
                double a = plane_dot3(ref, w, h, lt, n, x, y);
                if (fabs(a) <= PL_Z * sigma) {
                    /* the pigment lies on the support's plane: no say for n . P; the
                     * unmixing within the plane decides where it can */
                    int c =
                        pass == 1 && have_ip ? inplane_class(&ip, ref, nrm, w, h, lt, x, y) : -1;
                    if (c < 0)
                        continue;
                    core[i] = 0;
                    *n_flake += c && !fl[i];
                    *n_fade += !c && !fa[i];
                    fl[i] = c ? 255 : 0;
                    fa[i] = c ? 0 : 255;
                    continue;
                }
                double b = plane_dot3(nrm, w, h, lt, n, x, y), rho = b / a;
                if (rho >= 1)
                    continue; /* moved away from the support: not a loss of pigment */
                /* Only a sure decision overrides: b stands off the line rho = PL_RHO by
                 * PL_SURE noise sigmas (single capture: sigma / sqrt 2 each for a and b);
                 * near it the pixel keeps the class the regions gave it. */
                if (fabs(b - PL_RHO * a) <= PL_SURE * sigma / M_SQRT2 * sqrt(1 + PL_RHO * PL_RHO))
                    continue;
                int flake = rho < PL_RHO;
                if (pass == 0) {
                    core[i] |= flake;
                    continue;
                }
                if (!flake && near_core)
                    continue;
                core[i] = 0;
                if (flake && !fl[i])
                    ++*n_flake;
                if (!flake && !fa[i])
                    ++*n_fade;
                fl[i] = flake ? 255 : 0;
                fa[i] = flake ? 0 : 255;
            }
    }
    faded_area_flakes(ref, nrm, w, h, lt, n, sigma, core, fl, fa, n_flake); /* only flakes */
    free(core);
}
