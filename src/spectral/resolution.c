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
 * colours) and averages the residual resampling error away. It does not touch stored bands:
 * callers blur their own copies for analysis.
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
