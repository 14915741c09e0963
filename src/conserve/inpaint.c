/*
 * conserve/inpaint.c: virtual restoration of masked areas, for painted silk and paper. The
 * damage to fill is mostly thin (cracks, tears, abrasion along folds) or a few millimetres
 * across (losses, foxing), on a support with a fine texture (silk weave of ~3 px, paper
 * fibres) and under ink strokes that continue smoothly. So each region is filled in two
 * layers, as in Bertalmio, Vese, Sapiro & Osher (2003), "Simultaneous structure and texture
 * image inpainting":
 *   structure  the harmonic fill (Laplace's equation with the surrounding colours as boundary
 *              values): smooth, continues tone and colour, exact on thin cracks; started by
 *              push-pull interpolation so that SOR needs few sweeps;
 *   texture    the high-pass of the best-matching nearby exemplar (Efros & Leung 1999 sample
 *              by patch agreement; one offset per region), added with the least-squares
 *              weight that the ring around the region supports (0 when it explains nothing).
 * Regions are filled independently inside a window around each, so that memory follows the
 * largest region, not the image. It never changes a pixel outside the mask.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conserve/conserve.h"
#include "conserve/conserve_internal.h"

#define TEX_R 12      /* exemplar offsets searched: [-TEX_R, TEX_R]^2 */
#define RING 3        /* ring of known pixels compared around a region */
#define MARGIN (TEX_R + RING + 3)
#define TEX_MAX_PX 20000 /* larger regions get structure only (an exemplar that large is not local) */

typedef struct {
    int x0, y0, w, h, nb;
    float *v;        /* w*h*nb: the image, then the fill */
    uint8_t *known;  /* w*h: 1 = outside the mask (boundary data) */
    uint8_t *mine;   /* w*h: 1 = a pixel of the region being filled */
    float *hp;       /* w*h*nb: high-pass of the known pixels */
} win_t;

/* ---------------------------------------------------------------- structure */

/* Push-pull: fills every unknown pixel with the mean of the known ones at the finest scale
 * at which its neighbourhood has any. */
static void push_pull(win_t *W)
{
    int nb = W->nb;
    int lw[32], lh[32], nl = 0;
    float *val[32], *wgt[32];
    lw[0] = W->w, lh[0] = W->h;
    val[0] = dq_xmalloc((size_t)W->w * W->h * nb * sizeof(float));
    wgt[0] = dq_xmalloc((size_t)W->w * W->h * sizeof(float));
    for (size_t i = 0; i < (size_t)W->w * W->h; i++) {
        wgt[0][i] = W->known[i];
        for (int c = 0; c < nb; c++)
            val[0][i * nb + c] = W->known[i] ? W->v[i * nb + c] : 0;
    }
    nl = 1;
    while (nl < 32 && (lw[nl - 1] > 1 || lh[nl - 1] > 1)) {
        int pw = lw[nl - 1], ph = lh[nl - 1], cw = (pw + 1) / 2, ch = (ph + 1) / 2;
        lw[nl] = cw, lh[nl] = ch;
        val[nl] = dq_xcalloc((size_t)cw * ch * nb, sizeof(float));
        wgt[nl] = dq_xcalloc((size_t)cw * ch, sizeof(float));
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                size_t s = (size_t)y * pw + x, d = (size_t)(y / 2) * cw + x / 2;
                wgt[nl][d] += wgt[nl - 1][s];
                for (int c = 0; c < nb; c++)
                    val[nl][d * nb + c] += val[nl - 1][s * nb + c];
            }
        nl++;
    }
    /* Pull: normalise top-down; an empty cell takes its parent's mean. */
    for (int l = nl - 1; l >= 0; l--)
        for (int y = 0; y < lh[l]; y++)
            for (int x = 0; x < lw[l]; x++) {
                size_t i = (size_t)y * lw[l] + x;
                if (wgt[l][i] > 0) {
                    for (int c = 0; c < nb; c++)
                        val[l][i * nb + c] /= wgt[l][i];
                } else if (l + 1 < nl) {
                    size_t p = (size_t)(y / 2) * lw[l + 1] + x / 2;
                    for (int c = 0; c < nb; c++)
                        val[l][i * nb + c] = val[l + 1][p * nb + c];
                }
                wgt[l][i] = 1;
            }
    for (size_t i = 0; i < (size_t)W->w * W->h; i++)
        if (!W->known[i])
            for (int c = 0; c < nb; c++)
                W->v[i * nb + c] = val[0][i * nb + c];
    for (int l = 0; l < nl; l++) {
        free(val[l]);
        free(wgt[l]);
    }
}

/* Successive over-relaxation of Laplace's equation on the unknown pixels (4-neighbours
 * inside the window; the window edge is a free boundary). */
static void harmonic(win_t *W, const uint32_t *unk, size_t n_unk)
{
    int nb = W->nb, w = W->w, h = W->h;
    const float omega = 1.8f;
    /* Sweeps: enough for a region's width to relax after push-pull, bounded in cost. */
    int sweeps = 40 + (int)(4e7 / (double)(n_unk + 1));
    if (sweeps > 400)
        sweeps = 400;
    for (int it = 0; it < sweeps; it++) {
        float worst = 0;
        for (size_t k = 0; k < n_unk; k++) {
            uint32_t i = unk[k];
            int x = (int)(i % w), y = (int)(i / w);
            for (int c = 0; c < nb; c++) {
                float s = 0;
                int n = 0;
                if (x > 0)
                    s += W->v[(i - 1) * nb + c], n++;
                if (x < w - 1)
                    s += W->v[(i + 1) * nb + c], n++;
                if (y > 0)
                    s += W->v[(i - w) * nb + c], n++;
                if (y < h - 1)
                    s += W->v[(i + w) * nb + c], n++;
                float *p = &W->v[i * nb + c], nv = *p + omega * (s / n - *p);
                float d = fabsf(nv - *p);
                worst = d > worst ? d : worst;
                *p = nv;
            }
        }
        if (worst < 0.02f)
            break;
    }
}

/* ---------------------------------------------------------------- texture */

/* High-pass of the known pixels: minus the mean of the known pixels in the 5x5 around,
 * from summed-area tables of the known values and of their count (O(1) per pixel). */
static void high_pass(win_t *W)
{
    int nb = W->nb, w = W->w, h = W->h;
    size_t W1 = (size_t)w + 1;
    double *sum = dq_xcalloc(W1 * (size_t)(h + 1) * (size_t)(nb + 1), sizeof(double));
    /* layout: [(y * W1 + x) * (nb + 1) + c], c == nb is the count */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double *o = sum + (((size_t)y + 1) * W1 + (size_t)x + 1) * (nb + 1);
            const double *a = sum + ((size_t)y * W1 + (size_t)x + 1) * (nb + 1);
            const double *l = sum + (((size_t)y + 1) * W1 + (size_t)x) * (nb + 1);
            const double *al = sum + ((size_t)y * W1 + (size_t)x) * (nb + 1);
            for (int c = 0; c <= nb; c++) {
                double v = W->known[i] ? (c < nb ? W->v[i * nb + c] : 1.0) : 0.0;
                o[c] = v + a[c] + l[c] - al[c];
            }
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!W->known[i]) {
                for (int c = 0; c < nb; c++)
                    W->hp[i * nb + c] = 0;
                continue;
            }
            int x0 = x - 2 < 0 ? 0 : x - 2, y0 = y - 2 < 0 ? 0 : y - 2;
            int x1 = x + 3 > w ? w : x + 3, y1 = y + 3 > h ? h : y + 3;
            const double *p11 = sum + ((size_t)y1 * W1 + (size_t)x1) * (nb + 1);
            const double *p01 = sum + ((size_t)y0 * W1 + (size_t)x1) * (nb + 1);
            const double *p10 = sum + ((size_t)y1 * W1 + (size_t)x0) * (nb + 1);
            const double *p00 = sum + ((size_t)y0 * W1 + (size_t)x0) * (nb + 1);
            double n = p11[nb] - p01[nb] - p10[nb] + p00[nb];
            for (int c = 0; c < nb; c++)
                W->hp[i * nb + c] =
                    W->v[i * nb + c] - (float)((p11[c] - p01[c] - p10[c] + p00[c]) / n);
        }
    free(sum);
}

/* The mean squared high-pass difference between the ring and its copy at offset (ox, oy),
 * or INFINITY when the offset takes a region pixel (sampled every gstep) outside the known
 * pixels or leaves too little of the ring (sampled every rstep) to compare. */
static double offset_score(const win_t *W, const uint32_t *reg, size_t n_reg, size_t gstep,
                           const uint32_t *ring, size_t n_ring, size_t rstep, int ox, int oy)
{
    int nb = W->nb, w = W->w, h = W->h;
    for (size_t k = 0; k < n_reg; k += gstep) {
        int x = (int)(reg[k] % w) + ox, y = (int)(reg[k] / w) + oy;
        if (x < 0 || y < 0 || x >= w || y >= h || !W->known[(size_t)y * w + x])
            return INFINITY;
    }
    double s = 0;
    size_t n = 0;
    for (size_t k = 0; k < n_ring; k += rstep) {
        int x = (int)(ring[k] % w) + ox, y = (int)(ring[k] / w) + oy;
        if (x < 0 || y < 0 || x >= w || y >= h || !W->known[(size_t)y * w + x])
            continue;
        size_t a = ring[k], b = (size_t)y * w + x;
        for (int c = 0; c < nb; c++) {
            double d = W->hp[a * nb + c] - W->hp[b * nb + c];
            s += d * d;
        }
        n++;
    }
    if (n * 2 < (n_ring + rstep - 1) / rstep)
        return INFINITY;
    return s / (double)n;
}

/* Adds an exemplar's texture to the region; returns 1 when it did. */
static int add_texture(win_t *W, const uint32_t *reg, size_t n_reg)
{
    int nb = W->nb, w = W->w, h = W->h;
    /* The ring: known pixels within RING of the region (Chebyshev). */
    uint32_t *ring = NULL;
    size_t n_ring = 0, cap = 0;
    uint8_t *in_ring = dq_xcalloc((size_t)w * h, 1);
    for (size_t k = 0; k < n_reg; k++) {
        int x = (int)(reg[k] % w), y = (int)(reg[k] / w);
        for (int dy = -RING; dy <= RING; dy++)
            for (int dx = -RING; dx <= RING; dx++) {
                int xx = x + dx, yy = y + dy;
                if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                    continue;
                size_t j = (size_t)yy * w + xx;
                if (!W->known[j] || in_ring[j])
                    continue;
                in_ring[j] = 1;
                if (n_ring == cap) {
                    cap = cap ? 2 * cap : 256;
                    ring = dq_xrealloc(ring, cap * sizeof(*ring));
                }
                ring[n_ring++] = (uint32_t)j;
            }
    }
    free(in_ring);
    int done = 0;
    if (n_ring < 8)
        goto out;
    size_t rstep = n_ring > 300 ? n_ring / 300 : 1, gstep = n_reg > 500 ? n_reg / 500 : 1;
    double best = INFINITY;
    int bx = 0, by = 0;
    /* Offsets on a grid of 2 px first, then the 3x3 around the best of them: a quarter of
     * the exhaustive search's cost (the score is smooth at the scale of a thread or fibre). */
    for (int pass = 0; pass < 2; pass++) {
        int cx = bx, cy = by, lo = pass ? -1 : -TEX_R, hi = pass ? 1 : TEX_R, st = pass ? 1 : 2;
        if (pass && !isfinite(best))
            break;
        for (int dy = lo; dy <= hi; dy += st)
            for (int dx = lo; dx <= hi; dx += st) {
                int ox = pass ? cx + dx : dx, oy = pass ? cy + dy : dy;
                if ((abs(ox) < 2 && abs(oy) < 2) || abs(ox) > TEX_R || abs(oy) > TEX_R ||
                    (pass && dx == 0 && dy == 0))
                    continue;
                double sc = offset_score(W, reg, n_reg, gstep, ring, n_ring, rstep, ox, oy);
                if (sc < best) {
                    best = sc;
                    bx = ox, by = oy;
                }
            }
    }
    if (!isfinite(best))
        goto out;
    /* The weight: least squares of the ring's own high-pass on the exemplar's. */
    double sab = 0, sbb = 0;
    for (size_t k = 0; k < n_ring; k++) {
        int x = (int)(ring[k] % w) + bx, y = (int)(ring[k] / w) + by;
        if (x < 0 || y < 0 || x >= w || y >= h || !W->known[(size_t)y * w + x])
            continue;
        size_t a = ring[k], b = (size_t)y * w + x;
        for (int c = 0; c < nb; c++) {
            sab += W->hp[a * nb + c] * W->hp[b * nb + c];
            sbb += W->hp[b * nb + c] * W->hp[b * nb + c];
        }
    }
    double beta = sbb > 0 ? sab / sbb : 0;
    beta = beta < 0 ? 0 : beta > 1 ? 1 : beta;
    if (beta < 0.05)
        goto out;
    for (size_t k = 0; k < n_reg; k++) {
        size_t i = reg[k], s = (size_t)((int)(i / w) + by) * w + (size_t)((int)(i % w) + bx);
        for (int c = 0; c < nb; c++)
            W->v[i * nb + c] += (float)beta * W->hp[s * nb + c];
    }
    done = 1;
out:
    free(ring);
    return done;
}

/* ---------------------------------------------------------------- regions */

typedef struct {
    dq_raster_t *img;
    const uint8_t *mask;
    int w, h;
    dq_conserve_inpaint_stats_t *st;
} fill_t;

/* Fills one region inside a window around it (a cv_region_fn). */
static void fill_region(void *ud, const size_t *regpx, size_t n_reg, int x0, int y0, int x1,
                        int y1)
{
    fill_t *F = ud;
    dq_raster_t *img = F->img;
    const uint8_t *mask = F->mask;
    int w = F->w, h = F->h, nb = img->bands;
    dq_conserve_inpaint_stats_t *st = F->st;
    st->n_regions++;
    st->n_masked += n_reg;
    /* The window: the box and a margin, clipped to the image. */
    win_t W = {0};
    W.nb = nb;
    W.x0 = x0 - MARGIN < 0 ? 0 : x0 - MARGIN;
    W.y0 = y0 - MARGIN < 0 ? 0 : y0 - MARGIN;
    int wx1 = x1 + MARGIN >= w ? w - 1 : x1 + MARGIN, wy1 = y1 + MARGIN >= h ? h - 1 : y1 + MARGIN;
    W.w = wx1 - W.x0 + 1;
    W.h = wy1 - W.y0 + 1;
    size_t wn = (size_t)W.w * W.h;
    W.v = dq_xmalloc(wn * nb * sizeof(float));
    W.known = dq_xmalloc(wn);
    W.mine = dq_xcalloc(wn, 1);
    uint32_t *unk = dq_xmalloc(wn * sizeof(uint32_t)), *reg = dq_xmalloc(n_reg * sizeof(uint32_t));
    size_t n_unk = 0;
    for (int y = 0; y < W.h; y++)
        for (int x = 0; x < W.w; x++) {
            size_t g = (size_t)(y + W.y0) * w + (size_t)(x + W.x0), i = (size_t)y * W.w + x;
            W.known[i] = !mask[g];
            for (int c = 0; c < nb; c++)
                W.v[i * nb + c] = img->px[g * nb + c];
            if (!W.known[i])
                unk[n_unk++] = (uint32_t)i;
        }
    for (size_t k = 0; k < n_reg; k++) {
        int x = (int)(regpx[k] % w) - W.x0, y = (int)(regpx[k] / w) - W.y0;
        reg[k] = (uint32_t)((size_t)y * W.w + x);
        W.mine[reg[k]] = 1;
    }
    /* Texture statistics come from the image as it is, before the fill. */
    if (n_reg <= TEX_MAX_PX) {
        W.hp = dq_xmalloc(wn * nb * sizeof(float));
        high_pass(&W);
    }
    push_pull(&W);
    /* Only the region relaxes; other regions' pixels in the window keep their push-pull
     * values (each gets its own solve), so a small region beside a large one stays cheap. */
    harmonic(&W, reg, n_reg);
    if (W.hp && add_texture(&W, reg, n_reg))
        st->n_textured++;
    for (size_t k = 0; k < n_reg; k++)
        for (int c = 0; c < nb; c++) {
            float v = W.v[(size_t)reg[k] * nb + c];
            img->px[regpx[k] * nb + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        }
    free(W.v);
    free(W.known);
    free(W.mine);
    free(W.hp);
    free(unk);
    free(reg);
}

int dq_conserve_inpaint(dq_raster_t *img, const uint8_t *mask, int w, int h,
                        dq_conserve_inpaint_stats_t *stats, dq_err_t *err)
{
    dq_conserve_inpaint_stats_t st = {0};
    if (!img || !img->px || !mask || img->w != w || img->h != h ||
        (img->bands != 1 && img->bands != 3))
        return dq_err_set(err, DQ_EINVAL, 400,
                          "inpaint: the mask (%dx%d) must match the image (%dx%d)", w, h,
                          img ? img->w : 0, img ? img->h : 0);
    fill_t F = {img, mask, w, h, &st};
    cv_walk_regions(mask, w, h, fill_region, &F);
    if (stats)
        *stats = st;
    return 0;
}
