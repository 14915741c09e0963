/*
 * scene/metrics.c: how close proposed layers are to the truth. Depth is compared by rank
 * (Spearman's rho), because a depth map from a single painting is only ever known up to a
 * monotone rescaling: what matters is what lies in front of what. Masks are compared by
 * intersection over union. Also the nearest-neighbour resample that brings two rasters to
 * one size first. Pure functions, no I/O.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scene/scene.h"

/* Average rank of each 8-bit value among the counted samples: values tie in runs, so the
 * ranks come from a histogram (O(n)) and a run of c equal values starting after `below`
 * smaller ones gets rank below + (c + 1) / 2. */
static void value_ranks(const unsigned long *hist, double rank[256])
{
    unsigned long below = 0;
    for (int v = 0; v < 256; v++) {
        rank[v] = (double)below + ((double)hist[v] + 1.0) / 2.0;
        below += hist[v];
    }
}

double dq_scene_rank_corr(const uint8_t *a, const uint8_t *b, const uint8_t *mask, size_t n)
{
    unsigned long ha[256] = {0}, hb[256] = {0}, m = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i] >= 128) {
            ha[a[i]]++;
            hb[b[i]]++;
            m++;
        }
    if (m < 2)
        return NAN;
    double ra[256], rb[256];
    value_ranks(ha, ra);
    value_ranks(hb, rb);
    double mean = ((double)m + 1.0) / 2.0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i] >= 128) {
            double x = ra[a[i]] - mean, y = rb[b[i]] - mean;
            sab += x * y;
            saa += x * x;
            sbb += y * y;
        }
    if (saa <= 0 || sbb <= 0)
        return NAN;
    return sab / sqrt(saa * sbb);
}

double dq_scene_iou(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t inter = 0, uni = 0;
    for (size_t i = 0; i < n; i++) {
        int x = a[i] >= 128, y = b[i] >= 128;
        inter += (size_t)(x && y);
        uni += (size_t)(x || y);
    }
    return uni ? (double)inter / (double)uni : NAN;
}

uint8_t *dq_scene_resample(const uint8_t *src, int sw, int sh, int dw, int dh)
{
    uint8_t *d = dq_xmalloc((size_t)dw * (size_t)dh);
    for (int y = 0; y < dh; y++) {
        int sy = (int)(((int64_t)y * 2 + 1) * sh / (2 * (int64_t)dh));
        for (int x = 0; x < dw; x++) {
            int sx = (int)(((int64_t)x * 2 + 1) * sw / (2 * (int64_t)dw));
            d[(size_t)y * (size_t)dw + (size_t)x] = src[(size_t)sy * (size_t)sw + (size_t)sx];
        }
    }
    return d;
}
