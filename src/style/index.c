/*
 * style/index.c: flat nearest-neighbour search over embeddings, and the 2-D projection of the
 * style map. Vectors are standardised with the collection's own statistics, each part scaled
 * to unit length (so that palette, ink tones, brushwork and composition count alike whatever
 * their number of dimensions) and the whole to unit length; similarity is then one dot
 * product, and scoring every work is one sgemv (OpenBLAS) over a contiguous n x dim float
 * matrix: 100,000 works of 139 floats are 56 MB and a few milliseconds. An approximate index
 * (HNSW, IVF) would only pay off well beyond a museum's size; the flat scan is exact.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "style/style.h"

struct dq_style_index {
    const dq_style_embedder_t *e;
    int n, dim;       /* dim: e->dim + q */
    float *mean, *sd; /* e->dim each: the collection's statistics */
    int q;            /* discriminant directions of the metric (0: none) */
    float *mmean, *msd, *lda; /* the metric model's standardisation (e->dim) and directions */
    float *M;         /* n x dim, normalised rows */
};

int dq_style_index_dim(const dq_style_index_t *ix)
{
    return ix->dim;
}

void dq_style_index_normalise(const dq_style_index_t *ix, const float *raw, float *out)
{
    const dq_style_embedder_t *e = ix->e;
    int d = e->dim;
    for (int j = 0; j < d; j++)
        out[j] = (raw[j] - ix->mean[j]) / ix->sd[j];
    double tot = 0;
    for (int p = 0; p < e->n_parts; p++) {
        const dq_style_part_t *pt = &e->parts[p];
        double s = 0;
        for (int j = pt->offset; j < pt->offset + pt->len; j++)
            s += (double)out[j] * out[j];
        float f = s > 1e-12 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int j = pt->offset; j < pt->offset + pt->len; j++)
            out[j] *= f;
        tot += s > 1e-12 ? 1.0 : 0.0;
    }
    float g = tot > 0 ? (float)(1.0 / sqrt(tot)) : 0.0f;
    if (ix->q)
        g *= sqrtf(1.0f - DQ_STYLE_METRIC_WEIGHT);
    for (int j = 0; j < d; j++)
        out[j] *= g;
    if (!ix->q)
        return;
    /* The learned part: the discriminant projection of the model's standardised vector. */
    double s2 = 0;
    for (int c = 0; c < ix->q; c++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += (double)(raw[j] - ix->mmean[j]) / ix->msd[j] * ix->lda[(size_t)j * ix->q + c];
        out[d + c] = (float)s;
        s2 += s * s;
    }
    float h = s2 > 1e-24 ? (float)(sqrt(DQ_STYLE_METRIC_WEIGHT) / sqrt(s2)) : 0.0f;
    for (int c = 0; c < ix->q; c++)
        out[d + c] *= h;
}

dq_style_index_t *dq_style_index_build(const dq_style_embedder_t *e, const float *X, int n,
                                       const dq_style_model_t *metric)
{
    dq_style_index_t *ix = dq_xcalloc(1, sizeof(*ix));
    int d = e->dim;
    ix->e = e;
    ix->n = n;
    ix->dim = d;
    if (metric && metric->dim == d && metric->lda_dim > 0) {
        ix->q = metric->lda_dim;
        ix->dim = d + ix->q;
        ix->mmean = dq_xmalloc((size_t)d * sizeof(float));
        ix->msd = dq_xmalloc((size_t)d * sizeof(float));
        ix->lda = dq_xmalloc((size_t)d * ix->q * sizeof(float));
        memcpy(ix->mmean, metric->mean, (size_t)d * sizeof(float));
        memcpy(ix->msd, metric->sd, (size_t)d * sizeof(float));
        memcpy(ix->lda, metric->lda, (size_t)d * ix->q * sizeof(float));
    }
    ix->mean = dq_xcalloc((size_t)d, sizeof(float));
    ix->sd = dq_xmalloc((size_t)d * sizeof(float));
    double *s = dq_xcalloc((size_t)d, sizeof(double)), *ss = dq_xcalloc((size_t)d, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double x = X[(size_t)i * d + j];
            s[j] += x;
            ss[j] += x * x;
        }
    for (int j = 0; j < d; j++) {
        double m = n ? s[j] / n : 0, var = n ? ss[j] / n - m * m : 1;
        ix->mean[j] = (float)m;
        ix->sd[j] = (float)sqrt(var > 1e-8 ? var : 1e-8);
    }
    free(s);
    free(ss);
    ix->M = dq_xmalloc(((size_t)n * ix->dim + 1) * sizeof(float));
    for (int i = 0; i < n; i++)
        dq_style_index_normalise(ix, X + (size_t)i * d, ix->M + (size_t)i * ix->dim);
    return ix;
}

void dq_style_index_free(dq_style_index_t *ix)
{
    if (!ix)
        return;
    free(ix->mean);
    free(ix->sd);
    free(ix->M);
    free(ix->mmean);
    free(ix->msd);
    free(ix->lda);
    free(ix);
}

int dq_style_index_size(const dq_style_index_t *ix)
{
    return ix ? ix->n : 0;
}

size_t dq_style_index_bytes(const dq_style_index_t *ix)
{
    return sizeof(*ix) + ((size_t)ix->n * ix->dim + 4 * (size_t)ix->dim +
                          (size_t)ix->q * ix->dim) * sizeof(float);
}

const float *dq_style_index_row(const dq_style_index_t *ix, int i)
{
    return ix->M + (size_t)i * ix->dim;
}

void dq_style_index_scores(const dq_style_index_t *ix, const float *q, float *scores)
{
    if (ix->n == 0)
        return;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, ix->n, ix->dim, 1.0f, ix->M, ix->dim, q, 1, 0.0f,
                scores, 1);
}

void dq_style_part_sims(const dq_style_index_t *ix, const float *a, const float *b, float *sims)
{
    const dq_style_embedder_t *e = ix->e;
    for (int p = 0; p < e->n_parts; p++) {
        const dq_style_part_t *pt = &e->parts[p];
        double ab = 0, aa = 0, bb = 0;
        for (int j = pt->offset; j < pt->offset + pt->len; j++) {
            ab += (double)a[j] * b[j];
            aa += (double)a[j] * a[j];
            bb += (double)b[j] * b[j];
        }
        sims[p] = aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
    }
}

int dq_style_index_pca2(const dq_style_index_t *ix, float *xy, dq_err_t *err)
{
    int n = ix->n, d = ix->dim;
    if (n < 3)
        return dq_err_set(err, DQ_EINVAL, 400, "style: a map needs at least 3 works");
    float *mu = dq_xcalloc((size_t)d, sizeof(float)), *C = dq_xcalloc((size_t)d * d, sizeof(float));
    float *w = dq_xmalloc((size_t)d * sizeof(float));
    float *Z = dq_xmalloc((size_t)n * d * sizeof(float));
    int rc = -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mu[j] += ix->M[(size_t)i * d + j] / (float)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            Z[(size_t)i * d + j] = ix->M[(size_t)i * d + j] - mu[j];
    /* Covariance (upper triangle) with one ssyrk, then the two largest eigenvectors. */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0f / (float)n, Z, d, 0.0f, C, d);
    if (LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, C, d, w) != 0) {
        dq_err_set(err, DQ_EINTERNAL, 500, "style: eigen-decomposition failed");
        goto out;
    }
    /* Eigenvalues ascend: the last two columns. A sign convention (largest loading positive)
     * keeps the map from flipping between rebuilds. */
    for (int c = 0; c < 2; c++) {
        int col = d - 1 - c;
        int big = 0;
        for (int j = 1; j < d; j++)
            if (fabsf(C[(size_t)j * d + col]) > fabsf(C[(size_t)big * d + col]))
                big = j;
        float sgn = C[(size_t)big * d + col] < 0 ? -1.0f : 1.0f;
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < d; j++)
                s += (double)Z[(size_t)i * d + j] * C[(size_t)j * d + col];
            xy[(size_t)i * 2 + c] = (float)s * sgn;
        }
    }
    rc = 0;
out:
    free(mu);
    free(C);
    free(w);
    free(Z);
    return rc;
}
