/*
 * spectral/resolution.c: bands brought to one resolution before their spectra are compared.
 * Registration resamples each band of a raw capture by its own sub-pixel shift (Lanczos-3),
 * and how much that smooths a band depends on the shift's fraction of a pixel: a band moved
 * by 0.5 px is softer than one moved by 0.1 px, and where a painting has pixel-scale texture
 * (granular washes, stroke edges) the bands then disagree pixel by pixel, 0.01-0.04 in
 * reflectance per band against 0.003-0.005 of sensor noise. Spectral shape is read across
 * bands, so those disagreements look like another pigment (cinnabar read as red lead). A
 * common Gaussian, larger than any band's own resampling blur, makes the bands' point spread
 * functions alike (the PSF homogenisation that multi-band photometry does before measuring
 * colours) and averages the residual resampling error away. The blur also mixes a thin stroke
 * with its neighbour (orpiment beside cinnabar reads as realgar), so the blurred stack only
 * decides between spectra of one shape, the choice that the resampling error confuses; every
 * other answer stays the sharp stack's (dq_spec_pigments_resampled). It does not touch stored
 * bands: callers blur their own copies for analysis.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spectral/spectral.h"

double dq_spec_resampled_sigma(const double *dx, const double *dy, int n)
{
    for (int i = 0; i < n; i++) {
        double fx = fabs(dx[i] - round(dx[i])), fy = fabs(dy[i] - round(dy[i]));
        if (fx >= DQ_SPEC_RESAMPLED_FRAC || fy >= DQ_SPEC_RESAMPLED_FRAC)
            return DQ_SPEC_PSF_SIGMA;
    }
    return 0;
}

/* Column strips of this many columns for the vertical pass (one cache-friendly buffer). */
#define STRIP 64

void dq_spec_psf_match(float *const *planes, int n, int w, int h, double sigma)
{
    if (!(sigma > 0) || w < 1 || h < 1)
        return;
    int r = (int)ceil(3 * sigma);
    if (r > 32)
        r = 32;
    double k[65], ks = 0;
    for (int t = -r; t <= r; t++)
        ks += k[t + r] = exp(-0.5 * t * t / (sigma * sigma));
    for (int t = 0; t <= 2 * r; t++)
        k[t] /= ks;
    int m = w > h ? w : h;
    float *line = dq_xmalloc((size_t)m * sizeof(float));
    float *strip = dq_xmalloc((size_t)h * STRIP * sizeof(float));
    for (int b = 0; b < n; b++) {
        float *p = planes[b];
        /* Rows: a copy of the row, filtered back into place (edges clamped). */
        for (int y = 0; y < h; y++) {
            float *row = p + (size_t)y * w;
            memcpy(line, row, (size_t)w * sizeof(float));
            for (int x = 0; x < w; x++) {
                double a = 0;
                for (int t = -r; t <= r; t++) {
                    int xx = x + t < 0 ? 0 : x + t >= w ? w - 1 : x + t;
                    a += k[t + r] * line[xx];
                }
                row[x] = (float)a;
            }
        }
        /* Columns, STRIP at a time: copied out, filtered back. */
        for (int x0 = 0; x0 < w; x0 += STRIP) {
            int nx = w - x0 < STRIP ? w - x0 : STRIP;
            for (int y = 0; y < h; y++)
                memcpy(strip + (size_t)y * STRIP, p + (size_t)y * w + x0,
                       (size_t)nx * sizeof(float));
            for (int y = 0; y < h; y++) {
                float *o = p + (size_t)y * w + x0;
                for (int x = 0; x < nx; x++) {
                    double a = 0;
                    for (int t = -r; t <= r; t++) {
                        int yy = y + t < 0 ? 0 : y + t >= h ? h - 1 : y + t;
                        a += k[t + r] * strip[(size_t)yy * STRIP + x];
                    }
                    o[x] = (float)a;
                }
            }
        }
    }
    free(line);
    free(strip);
}

/* The angle (degrees) between two library spectra at the capture's bands. */
static double shape_angle(const dq_spec_lib_t *lib, int a, int b)
{
    const double *p = lib->refl + (size_t)a * lib->n_bands,
                 *q = lib->refl + (size_t)b * lib->n_bands;
    double pq = 0, pp = 0, qq = 0;
    for (int i = 0; i < lib->n_bands; i++) {
        pq += p[i] * q[i];
        pp += p[i] * p[i];
        qq += q[i] * q[i];
    }
    double c = pp > 0 && qq > 0 ? pq / sqrt(pp * qq) : 1;
    return acos(c > 1 ? 1 : c < -1 ? -1 : c) * 180 / M_PI;
}

int dq_spec_pigments_resampled(float *const *planes, int w, int h, const dq_spec_lib_t *lib,
                               double min_cover, double sigma, void (*progress)(void *ud, int pct),
                               void *ud, dq_spec_map_t *map, dq_err_t *err)
{
    if (dq_spec_pigments((const float *const *)planes, w, h, lib, min_cover, progress, ud, map,
                         err) < 0)
        return -1;
    if (!(sigma > 0))
        return 0;
    dq_spec_psf_match(planes, lib->n_bands, w, h, sigma);
    dq_spec_map_t soft;
    if (dq_spec_pigments((const float *const *)planes, w, h, lib, min_cover, progress, ud, &soft,
                         err) < 0) {
        dq_spec_map_free(map);
        return -1;
    }
    /* Which pairs of library entries are of one shape, once. */
    int np = lib->n_pig;
    uint8_t *same = dq_xcalloc((size_t)np * np, 1);
    for (int a = 0; a < np; a++)
        for (int b = 0; b < np; b++)
            same[(size_t)a * np + b] = shape_angle(lib, a, b) <= DQ_SPEC_SHAPE_ANGLE;
    size_t npx = (size_t)w * h;
    for (size_t i = 0; i < npx; i++) {
        if (map->label[i] < DQ_SPEC_LABEL_PIGMENT0 || soft.label[i] < DQ_SPEC_LABEL_PIGMENT0 ||
            map->best[i] == soft.best[i] || !same[(size_t)map->best[i] * np + soft.best[i]])
            continue;
        map->label[i] = soft.label[i];
        map->best[i] = soft.best[i];
        map->best2[i] = soft.best2[i];
        map->conf[i] = soft.conf[i];
        map->cover[i] = soft.cover[i];
        map->ink[i] = soft.ink[i];
    }
    free(same);
    dq_spec_map_free(&soft);
    return 0;
}
