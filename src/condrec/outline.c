/*
 * outline.c: the outline of a restoration mask as SVG (condrec.h dq_condrec_outline_svg), for
 * the relic page's "show the mask" toggle over the original/restoration slider. The outline
 * follows the pixel edges ("cracks") of the mask's regions, so it is exactly the set of pixels
 * that were filled, not a smoothed guess; collinear steps are merged, so a rectangle is four
 * vertices. Holes get their own loops. Pure: no files, no HTTP.
 */
#include "condrec/condrec.h"

#include <stdlib.h>
#include <string.h>

enum { RIGHT = 0, DOWN = 1, LEFT = 2, UP = 3 };
static const int DX[4] = {1, 0, -1, 0}, DY[4] = {0, 1, 0, -1};

int dq_condrec_outline_svg(const uint8_t *mask, int w, int h, int max_side, dq_buf_t *out,
                           dq_err_t *err)
{
    if (!mask || w <= 0 || h <= 0 || max_side < 1)
        return dq_err_set(err, DQ_EINVAL, 400, "outline: empty mask");
    /* Reduce by an OR over f x f blocks so that neither side exceeds max_side. */
    int big = w > h ? w : h;
    int f = (big + max_side - 1) / max_side;
    int gw = (w + f - 1) / f, gh = (h + f - 1) / f;
    uint8_t *g = dq_xcalloc((size_t)gw * gh, 1);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = mask + (size_t)y * w;
        uint8_t *grow = g + (size_t)(y / f) * gw;
        for (int x = 0; x < w; x++)
            if (row[x])
                grow[x / f] = 1;
    }
#define CELL(x, y) ((x) >= 0 && (y) >= 0 && (x) < gw && (y) < gh && g[(size_t)(y)*gw + (x)])
    /* Outgoing boundary edges per vertex of the (gw+1) x (gh+1) corner grid, one bit per
     * direction, oriented clockwise around each region (screen coordinates, y down): the
     * region is always on the right-hand side of the walk. */
    size_t vw = (size_t)gw + 1;
    uint8_t *eo = dq_xcalloc(vw * ((size_t)gh + 1), 1);
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            if (!CELL(x, y))
                continue;
            if (!CELL(x, y - 1))
                eo[(size_t)y * vw + x] |= 1 << RIGHT; /* top: (x,y) -> (x+1,y) */
            if (!CELL(x + 1, y))
                eo[(size_t)y * vw + x + 1] |= 1 << DOWN; /* right: (x+1,y) -> (x+1,y+1) */
            if (!CELL(x, y + 1))
                eo[(size_t)(y + 1) * vw + x + 1] |= 1 << LEFT; /* bottom */
            if (!CELL(x - 1, y))
                eo[(size_t)(y + 1) * vw + x] |= 1 << UP; /* left: (x,y+1) -> (x,y) */
        }
#undef CELL
    dq_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/"
                  "1999/xlink\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                  "preserveAspectRatio=\"none\">\n<defs><path id=\"m\" fill=\"none\" d=\"",
                  w, h, w, h);
    size_t n_loops = 0;
    for (int sy = 0; sy <= gh; sy++)
        for (int sx = 0; sx <= gw; sx++) {
            while (eo[(size_t)sy * vw + sx]) {
                int x = sx, y = sy, d = -1;
                n_loops++;
                dq_buf_printf(out, "M%d %d", x * f < w ? x * f : w, y * f < h ? y * f : h);
                do {
                    uint8_t *v = &eo[(size_t)y * vw + x];
                    /* At a vertex where two regions touch corner to corner there are two ways
                     * on: turn right first, which keeps each region's loop to itself. */
                    int nd = -1;
                    if (d >= 0) {
                        const int pref[3] = {(d + 1) & 3, d, (d + 3) & 3};
                        for (int k = 0; k < 3 && nd < 0; k++)
                            if (*v & (1 << pref[k]))
                                nd = pref[k];
                    }
                    for (int k = 0; nd < 0 && k < 4; k++)
                        if (*v & (1 << k))
                            nd = k;
                    if (nd < 0)
                        break; /* cannot happen on a closed boundary; stop rather than spin */
                    *v &= (uint8_t) ~(1 << nd);
                    /* a corner: emit where the walk was before turning */
                    if (d >= 0 && nd != d)
                        dq_buf_printf(out, (d & 1) ? "V%d" : "H%d",
                                      (d & 1) ? (y * f < h ? y * f : h) : (x * f < w ? x * f : w));
                    d = nd;
                    x += DX[d];
                    y += DY[d];
                } while (x != sx || y != sy);
                dq_buf_puts(out, "Z");
            }
        }
    /* A dark halo under a light line: visible over ink and over bare silk alike; the width
     * does not scale with the image (vector-effect). */
    dq_buf_printf(
        out,
        "\"/></defs>\n<use xlink:href=\"#m\" href=\"#m\" stroke=\"#000\" "
        "stroke-opacity=\"0.6\" stroke-width=\"4\" vector-effect=\"non-scaling-stroke\"/>\n"
        "<use xlink:href=\"#m\" href=\"#m\" stroke=\"#35e0ff\" stroke-width=\"2\" "
        "vector-effect=\"non-scaling-stroke\"/>\n<!-- %zu loops; %d px per unit of "
        "the traced grid -->\n</svg>\n",
        n_loops, f);
    free(eo);
    free(g);
    return 0;
}
