/*
 * spectral/reveal.c: later retouching from UV fluorescence against reflectance. An aged
 * surface fluoresces under UV; fresh retouching paint that matches the original in visible
 * light (and in every reflectance band: a good restorer matches metamerically) lacks that
 * fluorescence and reads as a dark patch in a UV photograph (de la Rie, Stud. Conserv. 27,
 * 1982). Ink and pigments also quench fluorescence, but they show in the reflectance too:
 * so the fluorescence is predicted from the reflectance by least squares, and what the
 * prediction cannot explain, a fluorescence deficit, is the score. The underdrawing score is
 * in unmix.c (it needs the mixture models). No files, no HTTP.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "spectral/spectral.h"

#define MAX_F (DQ_SPEC_MAX_BANDS + 4)

/* The regression features of pixel i: 1, each band, the ink and pigment fractions. */
static int features(const float *const *planes, int n_planes, const dq_spec_map_t *map, size_t i,
                    double *f)
{
    int k = 0;
    f[k++] = 1;
    for (int b = 0; b < n_planes; b++)
        f[k++] = planes[b][i];
    f[k++] = map->ink[i];
    f[k++] = map->label[i] >= DQ_SPEC_LABEL_PIGMENT0 ? map->cover[i] : 0;
    return k;
}

/* Least squares of uv on the features over the sampled pixels with keep[j] set. */
static int fit(const float *const *planes, int n_planes, const float *uv, const dq_spec_map_t *map,
               size_t npx, size_t step, const uint8_t *keep, double *beta, int *nf, dq_err_t *err)
{
    double ata[MAX_F * MAX_F] = {0}, atb[MAX_F] = {0}, f[MAX_F];
    int m = 0;
    size_t used = 0;
    for (size_t i = 0, j = 0; i < npx; i += step, j++) {
        if (keep && !keep[j])
            continue;
        m = features(planes, n_planes, map, i, f);
        for (int a = 0; a < m; a++) {
            atb[a] += f[a] * uv[i];
            for (int b = 0; b < m; b++)
                ata[a * m + b] += f[a] * f[b];
        }
        used++;
    }
    if (used < (size_t)(4 * (n_planes + 3)))
        return dq_err_set(err, DQ_EINVAL, 0, "too few pixels to fit the fluorescence");
    for (int a = 0; a < m; a++)
        ata[a * m + a] += 1e-9 * (ata[a * m + a] + 1); /* ridge: bands can be collinear */
    if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', m, 1, ata, m, atb, 1) != 0)
        return dq_err_set(err, DQ_EINVAL, 0, "fluorescence fit is singular");
    memcpy(beta, atb, (size_t)m * sizeof(double));
    *nf = m;
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int dq_spec_reveal_retouching(const float *const *planes, int n_planes, int w, int h,
                              const float *uv, const dq_spec_map_t *map, float *out,
                              dq_err_t *err)
{
    size_t npx = (size_t)w * (size_t)h;
    if (n_planes < 1 || n_planes > DQ_SPEC_MAX_BANDS)
        return dq_err_set(err, DQ_EINVAL, 0, "retouching needs 1..%d reflectance bands",
                          DQ_SPEC_MAX_BANDS);
    size_t step = npx > 300000 ? npx / 300000 : 1, m = (npx + step - 1) / step;
    double beta[MAX_F], f[MAX_F];
    int nf = 0, rc = -1;
    uint8_t *keep = dq_xmalloc(m);
    float *res = dq_xmalloc(m * sizeof(float)), *tmp = dq_xmalloc(m * sizeof(float));
    float *raw = dq_xmalloc(npx * sizeof(float));
    if (fit(planes, n_planes, uv, map, npx, step, NULL, beta, &nf, err) < 0)
        goto out;
    /* Refit without the tenth of pixels that fluoresce least for their reflectance. */
    for (size_t i = 0, j = 0; i < npx; i += step, j++) {
        double p = 0;
        features(planes, n_planes, map, i, f);
        for (int a = 0; a < nf; a++)
            p += beta[a] * f[a];
        res[j] = (float)(p - uv[i]);
    }
    memcpy(tmp, res, m * sizeof(float));
    qsort(tmp, m, sizeof(float), cmp_float);
    float thr = tmp[(size_t)(0.9 * (double)(m - 1))];
    for (size_t j = 0; j < m; j++)
        keep[j] = res[j] < thr;
    if (fit(planes, n_planes, uv, map, npx, step, keep, beta, &nf, err) < 0)
        goto out;
    /* The typical fluorescence level sets the floor of the relative deficit. */
    double mean_uv = 0;
    for (size_t i = 0; i < npx; i += step)
        mean_uv += uv[i];
    mean_uv = mean_uv / (double)m;
    double floor_v = DQ_MAX(0.2 * mean_uv, 1e-4);
    for (size_t i = 0; i < npx; i++) {
        double p = 0;
        features(planes, n_planes, map, i, f);
        for (int a = 0; a < nf; a++)
            p += beta[a] * f[a];
        double d = (p - uv[i]) / (p > floor_v ? p : floor_v);
        raw[i] = (float)(d < 0 ? 0 : d > 1 ? 1 : d);
    }
    /* 5 x 5 box mean: retouching is a patch, noise is per pixel. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            int c = 0;
            for (int yy = DQ_MAX(0, y - 2); yy <= DQ_MIN(h - 1, y + 2); yy++)
                for (int xx = DQ_MAX(0, x - 2); xx <= DQ_MIN(w - 1, x + 2); xx++) {
                    s += raw[(size_t)yy * w + xx];
                    c++;
                }
            out[(size_t)y * w + x] = (float)(s / c);
        }
    rc = 0;
out:
    free(keep);
    free(res);
    free(tmp);
    free(raw);
    return rc;
}

void dq_spec_stretch(const float *plane, size_t n, double lo, double hi, uint8_t *out)
{
    size_t step = n > 200000 ? n / 200000 : 1, m = (n + step - 1) / step;
    float *tmp = dq_xmalloc(m * sizeof(float));
    for (size_t i = 0, j = 0; i < n; i += step, j++)
        tmp[j] = plane[i];
    qsort(tmp, m, sizeof(float), cmp_float);
    double a = tmp[(size_t)(lo / 100.0 * (double)(m - 1))];
    double b = tmp[(size_t)(hi / 100.0 * (double)(m - 1))];
    free(tmp);
    double s = b > a ? 255.0 / (b - a) : 0;
    for (size_t i = 0; i < n; i++) {
        double v = (plane[i] - a) * s;
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
    }
}
