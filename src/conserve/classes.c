/*
 * conserve/classes.c: the class of a changed region, flaking or fading, decided for the region
 * as a whole (issue 12, session 24). changes.c finds the changed pixels and gives each a first
 * class pixel by pixel (alpha towards the support on strong colour, how local the lightening
 * is on a thin wash); what a pixel cannot see is the shape of the change it belongs to. Fading
 * is a loss of pigment where light fell: it takes whole exposed areas of a paint layer and
 * stops at the edge of the paint or of the light; a flake is pigment coming off the support
 * in islands, and its edge runs through paint that stays intact. So a changed region of
 * bounded size whose boundary mostly lies inside the same, unchanged paint is flaking,
 * whatever its pixels said. This file only re-classes pixels changes.c already found; it
 * does not read or write files.
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
