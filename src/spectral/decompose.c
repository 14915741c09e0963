/*
 * spectral/decompose.c: linear decompositions of a band stack that make faint differences
 * visible. PCA: eigenvectors of the band covariance. MNF (minimum noise fraction, Green,
 * Berman, Switzer and Craig, IEEE TGRS 26(1), 1988; the noise-adjusted principal components of
 * Lee, Woodyatt and Berman 1990): components ordered by signal-to-noise rather than by
 * variance, with the noise covariance estimated from neighbouring-pixel differences. ICA:
 * FastICA (Hyvarinen, IEEE TNN 10(3), 1999) on PCA-whitened data, which separates
 * non-Gaussian sources such as a drawing under a wash. Covariances and eigenproblems go
 * through LAPACKE. It does not render or store components (callers do).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "spectral/spectral.h"

#define MAX_IN 64

void dq_spec_decomp_free(dq_spec_decomp_t *d)
{
    if (!d)
        return;
    free(d->mean);
    free(d->vectors);
    free(d->values);
    memset(d, 0, sizeof(*d));
}

static dq_spec_rect_t clip_rect(dq_spec_rect_t r, int w, int h)
{
    if (r.w <= 0 || r.h <= 0)
        return (dq_spec_rect_t){0, 0, w, h};
    return r;
}

static int rect_inside(dq_spec_rect_t r, int w, int h)
{
    return r.x >= 0 && r.y >= 0 && r.w > 0 && r.h > 0 && r.x + r.w <= w && r.y + r.h <= h;
}

/* Mean and covariance (divisor N - 1) of the planes over r; with diag set, of the
 * differences (x, y) - (x + 1, y + 1) inside r instead, halved (the noise estimate). */
static void stats(const float *const *planes, int n, int w, dq_spec_rect_t r, int diag,
                  double *mean, double *cov)
{
    int rw = diag ? r.w - 1 : r.w, rh = diag ? r.h - 1 : r.h;
    double N = (double)rw * rh;
    double v[MAX_IN];
    memset(mean, 0, (size_t)n * sizeof(double));
    memset(cov, 0, (size_t)n * n * sizeof(double));
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            size_t i = (size_t)(r.y + y) * w + r.x + x;
            for (int b = 0; b < n; b++) {
                v[b] = planes[b][i] - (diag ? planes[b][i + w + 1] : 0.0f);
                mean[b] += v[b];
            }
        }
    for (int b = 0; b < n; b++)
        mean[b] /= N;
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            size_t i = (size_t)(r.y + y) * w + r.x + x;
            for (int b = 0; b < n; b++)
                v[b] = planes[b][i] - (diag ? planes[b][i + w + 1] : 0.0f) - mean[b];
            for (int a = 0; a < n; a++)
                for (int b = a; b < n; b++)
                    cov[a * n + b] += v[a] * v[b];
        }
    for (int a = 0; a < n; a++)
        for (int b = a; b < n; b++) {
            cov[a * n + b] /= (N - 1) * (diag ? 2.0 : 1.0);
            cov[b * n + a] = cov[a * n + b];
        }
}

/* Makes each row's largest-magnitude weight positive (a sign convention, so that results
 * compare across implementations). */
static void fix_signs(double *vec, int n_comp, int n)
{
    for (int k = 0; k < n_comp; k++) {
        double *row = vec + (size_t)k * n;
        int big = 0;
        for (int j = 1; j < n; j++)
            if (fabs(row[j]) > fabs(row[big]))
                big = j;
        if (row[big] < 0)
            for (int j = 0; j < n; j++)
                row[j] = -row[j];
    }
}

/* Eigen-decomposition of the symmetric n x n matrix a (destroyed): eigenvalues descending into
 * val, eigenvectors as rows of vec. */
static int eig_desc(double *a, int n, double *val, double *vec, dq_err_t *err)
{
    double w[MAX_IN];
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', n, a, n, w) != 0)
        return dq_err_set(err, DQ_EINTERNAL, 0, "eigen-decomposition failed (dsyevd)");
    for (int k = 0; k < n; k++) {
        int src = n - 1 - k;
        val[k] = w[src];
        for (int j = 0; j < n; j++)
            vec[(size_t)k * n + j] = a[(size_t)j * n + src]; /* column src */
    }
    return 0;
}

/* ================================================================ FastICA */

/* Symmetric decorrelation W <- (W W')^(-1/2) W for the m x m matrix W. */
static int decorrelate(double *W, int m, dq_err_t *err)
{
    double A[MAX_IN * MAX_IN], val[MAX_IN], vec[MAX_IN * MAX_IN], T[MAX_IN * MAX_IN],
        R[MAX_IN * MAX_IN];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += W[i * m + k] * W[j * m + k];
            A[i * m + j] = s;
        }
    if (eig_desc(A, m, val, vec, err) < 0)
        return -1;
    /* T = E diag(val^-1/2) E' with E's columns = vec's rows. */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += vec[k * m + i] * vec[k * m + j] / sqrt(val[k] > 1e-300 ? val[k] : 1e-300);
            T[i * m + j] = s;
        }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += T[i * m + k] * W[k * m + j];
            R[i * m + j] = s;
        }
    memcpy(W, R, (size_t)m * m * sizeof(double));
    return 0;
}

/* FastICA on z (ns x m, whitened): W (m x m) with rows the unmixing vectors. */
static int fastica(const double *z, size_t ns, int m, double *W, dq_err_t *err)
{
    double Wn[MAX_IN * MAX_IN];
    /* A fixed, non-symmetric start so that runs are reproducible. */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            W[i * m + j] = (i == j ? 1.0 : 0.0) + 0.1 * sin(1.0 + i * 7 + j * 3);
    if (decorrelate(W, m, err) < 0)
        return -1;
    for (int it = 0; it < 200; it++) {
        memset(Wn, 0, sizeof(Wn));
        double gp[MAX_IN] = {0};
        for (size_t s = 0; s < ns; s++) {
            const double *zs = z + s * m;
            for (int i = 0; i < m; i++) {
                double u = 0;
                for (int j = 0; j < m; j++)
                    u += W[i * m + j] * zs[j];
                double g = tanh(u);
                gp[i] += 1 - g * g;
                for (int j = 0; j < m; j++)
                    Wn[i * m + j] += g * zs[j];
            }
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                Wn[i * m + j] = Wn[i * m + j] / ns - gp[i] / ns * W[i * m + j];
        if (decorrelate(Wn, m, err) < 0)
            return -1;
        double lim = 0;
        for (int i = 0; i < m; i++) {
            double d = 0;
            for (int j = 0; j < m; j++)
                d += Wn[i * m + j] * W[i * m + j];
            lim = DQ_MAX(lim, fabs(fabs(d) - 1));
        }
        memcpy(W, Wn, (size_t)m * m * sizeof(double));
        if (lim < 1e-6)
            break;
    }
    return 0;
}

/* ================================================================ the decompositions */

int dq_spec_decompose(const float *const *planes, int n_in, int w, int h, int method,
                      dq_spec_rect_t region, dq_spec_rect_t noise, dq_spec_decomp_t *d,
                      dq_err_t *err)
{
    memset(d, 0, sizeof(*d));
    if (n_in < 2 || n_in > MAX_IN)
        return dq_err_set(err, DQ_EINVAL, 0, "%d planes (2..%d)", n_in, MAX_IN);
    if (region.w > 0 && !rect_inside(region, w, h))
        return dq_err_set(err, DQ_EINVAL, 0, "region %d,%d,%d,%d is not inside the %dx%d image",
                          region.x, region.y, region.w, region.h, w, h);
    if (noise.w > 0 && !rect_inside(noise, w, h))
        return dq_err_set(err, DQ_EINVAL, 0,
                          "noise region %d,%d,%d,%d is not inside the %dx%d image", noise.x,
                          noise.y, noise.w, noise.h, w, h);
    region = clip_rect(region, w, h);
    noise = noise.w > 0 ? noise : region;
    if ((double)region.w * region.h < 2.0 * n_in + 2 || noise.w < 3 || noise.h < 3)
        return dq_err_set(err, DQ_EINVAL, 0, "region too small for %d planes", n_in);
    int n = n_in, rc = -1;
    double *cov = dq_xmalloc((size_t)n * n * sizeof(double));
    double *ncov = dq_xmalloc((size_t)n * n * sizeof(double));
    double nmean[MAX_IN];
    double *z = NULL;
    d->method = method;
    d->n_in = n;
    d->n_comp = n;
    d->mean = dq_xmalloc((size_t)n * sizeof(double));
    d->vectors = dq_xcalloc((size_t)n * n, sizeof(double));
    d->values = dq_xcalloc((size_t)n, sizeof(double));
    stats(planes, n, w, region, 0, d->mean, cov);
    if (method == DQ_SPEC_PCA) {
        if (eig_desc(cov, n, d->values, d->vectors, err) < 0)
            goto out;
    } else if (method == DQ_SPEC_MNF) {
        stats(planes, n, w, noise, 1, nmean, ncov);
        /* Sigma v = lambda Sigma_n v; dsygv normalises v' Sigma_n v = 1. */
        double lam[MAX_IN];
        if (LAPACKE_dsygv(LAPACK_ROW_MAJOR, 1, 'V', 'U', n, cov, n, ncov, n, lam) != 0) {
            dq_err_set(err, DQ_EINVAL, 0,
                       "noise covariance is singular: choose a --noise region with texture");
            goto out;
        }
        for (int k = 0; k < n; k++) {
            int src = n - 1 - k;
            d->values[k] = lam[src];
            for (int j = 0; j < n; j++)
                d->vectors[(size_t)k * n + j] = cov[(size_t)j * n + src];
        }
    } else if (method == DQ_SPEC_ICA) {
        double val[MAX_IN], vec[MAX_IN * MAX_IN], W[MAX_IN * MAX_IN];
        if (eig_desc(cov, n, val, vec, err) < 0)
            goto out;
        /* Whiten onto the components with real variance. */
        int m = 0;
        while (m < n && val[m] > 1e-9 * val[0])
            m++;
        if (m < 1) {
            dq_err_set(err, DQ_EINVAL, 0, "the bands do not vary: nothing to decompose");
            goto out;
        }
        size_t npx = (size_t)region.w * region.h, step = npx > 100000 ? npx / 100000 : 1;
        size_t ns = (npx + step - 1) / step;
        z = dq_xmalloc(ns * (size_t)m * sizeof(double));
        size_t s = 0;
        for (size_t p = 0; p < npx && s < ns; p += step, s++) {
            size_t i = (size_t)(region.y + (int)(p / region.w)) * w + region.x + p % region.w;
            for (int k = 0; k < m; k++) {
                double u = 0;
                for (int j = 0; j < n; j++)
                    u += vec[k * n + j] * (planes[j][i] - d->mean[j]);
                z[s * m + k] = u / sqrt(val[k]);
            }
        }
        ns = s;
        if (fastica(z, ns, m, W, err) < 0)
            goto out;
        /* Unmixing in input space: row k = sum_i W[k][i] vec[i] / sqrt(val[i]); ordered by
         * |excess kurtosis| of the component on the sample. */
        double kurt[MAX_IN];
        for (int k = 0; k < m; k++) {
            double m2 = 0, m4 = 0;
            for (size_t q = 0; q < ns; q++) {
                double u = 0;
                for (int i = 0; i < m; i++)
                    u += W[k * m + i] * z[q * m + i];
                m2 += u * u;
                m4 += u * u * u * u;
            }
            m2 /= ns;
            m4 /= ns;
            kurt[k] = fabs(m4 / (m2 * m2 + 1e-300) - 3);
        }
        int order[MAX_IN];
        for (int k = 0; k < m; k++)
            order[k] = k;
        for (int a = 0; a < m; a++)
            for (int b = a + 1; b < m; b++)
                if (kurt[order[b]] > kurt[order[a]]) {
                    int t = order[a];
                    order[a] = order[b];
                    order[b] = t;
                }
        d->n_comp = m;
        for (int r = 0; r < m; r++) {
            int k = order[r];
            d->values[r] = kurt[k];
            for (int j = 0; j < n; j++) {
                double s2 = 0;
                for (int i = 0; i < m; i++)
                    s2 += W[k * m + i] * vec[i * n + j] / sqrt(val[i]);
                d->vectors[(size_t)r * n + j] = s2;
            }
        }
    } else {
        dq_err_set(err, DQ_EINVAL, 0, "unknown decomposition method %d", method);
        goto out;
    }
    fix_signs(d->vectors, d->n_comp, n);
    rc = 0;
out:
    free(cov);
    free(ncov);
    free(z);
    if (rc < 0)
        dq_spec_decomp_free(d);
    return rc;
}

void dq_spec_component(const dq_spec_decomp_t *d, const float *const *planes, int w, int h, int k,
                       float *out)
{
    size_t npx = (size_t)w * (size_t)h;
    const double *v = d->vectors + (size_t)k * d->n_in;
    for (size_t i = 0; i < npx; i++) {
        double s = 0;
        for (int j = 0; j < d->n_in; j++)
            s += v[j] * (planes[j][i] - d->mean[j]);
        out[i] = (float)s;
    }
}
