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
    uint64_t n_regions, n_px; /* what was re-classed */
} region_t;

/* The boundary's continuity: at every edge pixel of the region, in each of the four
 * directions where the region ends (the next 4 pixels outward unchanged), REF 2 px inside
 * against REF 4 px outside. The fraction of pairs within REG_SAME levels is how much of the
 * edge runs through one paint; *n_pairs how many pairs there were. */
static double continuity(const region_t *R, const size_t *px, size_t n, uint64_t *n_pairs)
{
    static const int dir[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    uint64_t same = 0, tot = 0;
    for (size_t k = 0; k < n; k++) {
        int x = (int)(px[k] % (size_t)R->w), y = (int)(px[k] / (size_t)R->w);
        for (int d = 0; d < 4; d++) {
            int dx = dir[d][0], dy = dir[d][1], ok = 1;
            for (int s = 1; s <= 4 && ok; s++) {
                int xx = x + s * dx, yy = y + s * dy;
                ok = xx >= 0 && yy >= 0 && xx < R->w && yy < R->h &&
                     !R->changed[(size_t)yy * R->w + xx];
            }
            if (!ok || x - 2 * dx < 0 || x - 2 * dx >= R->w || y - 2 * dy < 0 ||
                y - 2 * dy >= R->h)
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

void cv_region_classes(const uint8_t *rgb, int w, int h, uint8_t *fl, uint8_t *fa)
{
    size_t n = (size_t)w * h;
    uint8_t *changed = dq_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        changed[i] = (fl[i] | fa[i]) != 0;
    region_t R = {.rgb = rgb, .changed = changed, .fl = fl, .fa = fa, .w = w, .h = h};
    cv_walk_regions(changed, w, h, region_class, &R);
    free(changed);
}
