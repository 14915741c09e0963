/*
 * style/index.c: flat nearest-neighbour search over embeddings, and the 2-D projection of the
 * style map. A vector is standardised with the collection's own statistics and each part is
 * scaled to unit length (palette, ink tones, brushwork and composition count alike whatever
 * their number of dimensions), the whole to unit length: the "full" vector, whose per-part
 * cosines are the reasons a match gives.
 *
 * Search runs in a smaller space: the full vectors are projected on their first
 * DQ_STYLE_INDEX_PCA principal axes (eigenvectors of the uncentred second-moment matrix, which
 * preserve dot products best; LAPACKE ssyevd), and, with a learned metric, the discriminant
 * projection is appended. Scoring every work is then one pass over a contiguous n x ~37 float
 * matrix. Why reduce: the scan reads the whole matrix per query and is bound by memory
 * bandwidth; 100,000 works of 139 + 5 floats are 58 MB per query (measured p95 46 ms through
 * HTTP on the shared 2-core machine), of 32 + 5 floats 15 MB. Retrieval mAP on the study
 * test set is the same with 48 axes as with all 139 and drops by 0.002 with 8. An approximate index (HNSW,
 * IVF) would only pay off well beyond a museum's size; within the reduced space the scan is
 * exact.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "style/style.h"

struct dq_style_index {
    const dq_style_embedder_t *e;
    int n, d;         /* d: e->dim, the full vectors */
    int r;            /* principal axes kept (<= d) */
    int dim;          /* search space: r + q */
    float *mean, *sd; /* d each: the collection's statistics */
    float *P;         /* d x r, row-major: the principal axes */
    int q;            /* discriminant directions of the metric (0: none) */
    float *mmean, *msd, *lda; /* the metric model's standardisation (d) and directions */
    float *M;         /* n x dim, search-space rows */
};

int dq_style_index_dim(const dq_style_index_t *ix)
{
    return ix->dim;
}

/* The full vector of raw (d floats) into out: standardised, parts unit length, whole unit. */
static void full_vector(const dq_style_index_t *ix, const float *raw, float *out)
{
    const dq_style_embedder_t *e = ix->e;
    for (int j = 0; j < ix->d; j++)
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
    for (int j = 0; j < ix->d; j++)
        out[j] *= g;
}

static void learned_part(const dq_style_index_t *ix, const float *raw, float *out);

/* The search-space vector of a full one (and raw, for the learned part). */
static void search_vector(const dq_style_index_t *ix, const float *raw, const float *full,
                          float *out)
{
    int d = ix->d;
    float w = ix->q ? sqrtf(1.0f - DQ_STYLE_METRIC_WEIGHT) : 1.0f;
    for (int c = 0; c < ix->r; c++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += (double)full[j] * ix->P[(size_t)j * ix->r + c];
        out[c] = (float)s * w;
    }
    learned_part(ix, raw, out);
}

/* The learned part of a search-space vector: the discriminant projection of the metric model's
 * standardised vector, scaled to length sqrt(w), into out[r .. r+q). */
static void learned_part(const dq_style_index_t *ix, const float *raw, float *out)
{
    int d = ix->d;
    if (!ix->q)
        return;
    double s2 = 0;
    for (int c = 0; c < ix->q; c++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += (double)(raw[j] - ix->mmean[j]) / ix->msd[j] * ix->lda[(size_t)j * ix->q + c];
        out[ix->r + c] = (float)s;
        s2 += s * s;
    }
    float h = s2 > 1e-24 ? (float)(sqrt(DQ_STYLE_METRIC_WEIGHT) / sqrt(s2)) : 0.0f;
    for (int c = 0; c < ix->q; c++)
        out[ix->r + c] *= h;
}

void dq_style_index_normalise(const dq_style_index_t *ix, const float *raw, float *out)
{
    float *full = dq_xmalloc((size_t)ix->d * sizeof(float));
    full_vector(ix, raw, full);
    search_vector(ix, raw, full, out);
    free(full);
}

dq_style_index_t *dq_style_index_build(const dq_style_embedder_t *e, const float *X, int n,
                                       const dq_style_model_t *metric)
{
    dq_style_index_t *ix = dq_xcalloc(1, sizeof(*ix));
    int d = e->dim;
    ix->e = e;
    ix->n = n;
    ix->d = d;
    ix->r = DQ_STYLE_INDEX_PCA < d ? DQ_STYLE_INDEX_PCA : d;
    if (metric && metric->dim == d && metric->lda_dim > 0) {
        ix->q = metric->lda_dim;
        ix->mmean = dq_xmalloc((size_t)d * sizeof(float));
        ix->msd = dq_xmalloc((size_t)d * sizeof(float));
        ix->lda = dq_xmalloc((size_t)d * ix->q * sizeof(float));
        memcpy(ix->mmean, metric->mean, (size_t)d * sizeof(float));
        memcpy(ix->msd, metric->sd, (size_t)d * sizeof(float));
        memcpy(ix->lda, metric->lda, (size_t)d * ix->q * sizeof(float));
    }
    ix->dim = ix->r + ix->q;
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
    /* Full vectors, then the principal axes of their second moments. With fewer works than
     * dimensions (or a failed decomposition) the axes are the identity's first r columns. */
    float *F = dq_xmalloc(((size_t)n * d + 1) * sizeof(float));
    for (int i = 0; i < n; i++)
        full_vector(ix, X + (size_t)i * d, F + (size_t)i * d);
    ix->P = dq_xcalloc((size_t)d * ix->r, sizeof(float));
    float *C = dq_xcalloc((size_t)d * d, sizeof(float)), *w = dq_xmalloc((size_t)d * sizeof(float));
    /* A sample of at most 20,000 rows is plenty for a 139 x 139 matrix. */
    int ns = n < 20000 ? n : 20000;
    if (ns > 0)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, ns, 1.0f / (float)ns, F, d, 0.0f, C,
                    d);
    if (ns > 0 && LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, C, d, w) == 0) {
        for (int j = 0; j < d; j++)
            for (int c = 0; c < ix->r; c++)
                ix->P[(size_t)j * ix->r + c] = C[(size_t)j * d + (d - 1 - c)];
    } else {
        for (int c = 0; c < ix->r; c++)
            ix->P[(size_t)c * ix->r + c] = 1.0f;
    }
    free(C);
    free(w);
    ix->M = dq_xmalloc(((size_t)n * ix->dim + 1) * sizeof(float));
    /* The projection of every row at once (one sgemm into the first r columns of M), then the
     * learned part row by row (q is a handful of columns). */
    if (n > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, ix->r, d,
                    ix->q ? sqrtf(1.0f - DQ_STYLE_METRIC_WEIGHT) : 1.0f, F, d, ix->P, ix->r, 0.0f,
                    ix->M, ix->dim);
    if (ix->q) {
        float *tmp = dq_xmalloc((size_t)ix->dim * sizeof(float));
        for (int i = 0; i < n; i++) {
            learned_part(ix, X + (size_t)i * d, tmp);
            memcpy(ix->M + (size_t)i * ix->dim + ix->r, tmp + ix->r, (size_t)ix->q * sizeof(float));
        }
        free(tmp);
    }
    free(F);
    return ix;
}

void dq_style_index_free(dq_style_index_t *ix)
{
    if (!ix)
        return;
    free(ix->mean);
    free(ix->sd);
    free(ix->P);
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
    return sizeof(*ix) + ((size_t)ix->n * ix->dim + (size_t)ix->d * (4 + ix->r + ix->q)) *
                             sizeof(float);
}

const float *dq_style_index_row(const dq_style_index_t *ix, int i)
{
    return ix->M + (size_t)i * ix->dim;
}

/* The scan is a plain loop, not cblas_sgemv: OpenBLAS wakes its worker threads for every
 * call, and on a busy machine that wake-up costs more than the scan (through HTTP, 100,000
 * works: p50 19 ms, p95 48 ms with OpenBLAS's threads; 5.8 / 20.8 ms on one thread, both at a
 * load of 16 on two cores). One thread per query also leaves the other core to the next
 * request. Four accumulators let the compiler keep the adds in flight; the loop is bound by
 * memory bandwidth (n x dim floats read once). */
void dq_style_index_scores(const dq_style_index_t *ix, const float *q, float *scores)
{
    int d = ix->dim;
    for (int i = 0; i < ix->n; i++) {
        const float *r = ix->M + (size_t)i * d;
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int j = 0;
        for (; j + 4 <= d; j += 4) {
            a0 += r[j] * q[j];
            a1 += r[j + 1] * q[j + 1];
            a2 += r[j + 2] * q[j + 2];
            a3 += r[j + 3] * q[j + 3];
        }
        for (; j < d; j++)
            a0 += r[j] * q[j];
        scores[i] = (a0 + a1) + (a2 + a3);
    }
}

void dq_style_part_sims(const dq_style_index_t *ix, const float *raw_a, const float *raw_b,
                        float *sims)
{
    const dq_style_embedder_t *e = ix->e;
    float *a = dq_xmalloc((size_t)ix->d * sizeof(float)), *b = dq_xmalloc((size_t)ix->d * sizeof(float));
    full_vector(ix, raw_a, a);
    full_vector(ix, raw_b, b);
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
    free(a);
    free(b);
}

int dq_style_index_pca2(const dq_style_index_t *ix, float *xy, dq_err_t *err)
{
    return dq_style_pca2(ix->M, ix->n, ix->dim, xy, err);
}

int dq_style_pca2(const float *rows, int n, int d, float *xy, dq_err_t *err)
{
    if (n < 3)
        return dq_err_set(err, DQ_EINVAL, 400, "style: a map needs at least 3 works");
    float *mu = dq_xcalloc((size_t)d, sizeof(float)), *C = dq_xcalloc((size_t)d * d, sizeof(float));
    float *w = dq_xmalloc((size_t)d * sizeof(float));
    float *Z = dq_xmalloc((size_t)n * d * sizeof(float));
    int rc = -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mu[j] += rows[(size_t)i * d + j] / (float)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            Z[(size_t)i * d + j] = rows[(size_t)i * d + j] - mu[j];
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
