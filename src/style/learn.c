/*
 * style/learn.c: attribution. A multinomial logistic regression (softmax) on standardised
 * embeddings with an L2 penalty, fitted by full-batch gradient descent with Nesterov momentum
 * (the problem is convex and small: hundreds of works, ~140 features, a handful of classes),
 * stratified k-fold cross-validation with a confusion matrix, and temperature scaling of the
 * logits (Guo, Pleiss, Sun and Weinberger, ICML 2017) fitted on the out-of-fold logits so that
 * the probabilities it reports are calibrated on works it did not see. Why a linear model: the
 * features are already designed to separate what painters vary; a linear model on them is
 * quick to fit on a museum's few hundred labelled works, its weights can be read, and it does
 * not overfit the way a deep model trained on so little would.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lapacke.h>

#include "style/style.h"

/* ================================================================ fitting */

typedef struct {
    int n, d, k;
    const float *X; /* standardised, n x d */
    const int *y;
    double lambda;
} prob_t;

/* Softmax of logits z (k) into p, in place safe. */
static void softmax(const double *z, int k, double *p)
{
    double m = z[0], s = 0;
    for (int c = 1; c < k; c++)
        m = z[c] > m ? z[c] : m;
    for (int c = 0; c < k; c++) {
        p[c] = exp(z[c] - m);
        s += p[c];
    }
    for (int c = 0; c < k; c++)
        p[c] /= s;
}

/* Fits W (k x d) and b (k) by Nesterov-accelerated gradient descent on the mean negative
 * log-likelihood + lambda/2 |W|^2. Step 1/L with L bounded by the data's largest squared
 * row norm (the softmax Hessian is at most half the covariance). */
static void fit_softmax(const prob_t *pr, float *W, float *b)
{
    int n = pr->n, d = pr->d, k = pr->k;
    double maxr = 0;
    for (int i = 0; i < n; i++) {
        double r = 1; /* the bias column */
        for (int j = 0; j < d; j++)
            r += (double)pr->X[(size_t)i * d + j] * pr->X[(size_t)i * d + j];
        maxr = r > maxr ? r : maxr;
    }
    double lr = 1.0 / (0.5 * maxr / 1.0 + pr->lambda);
    /* The bound above is for one row; averaged gradients allow a larger step in practice,
     * but a safe one converges in a few hundred iterations at this size. */
    lr *= 4.0;
    size_t kd = (size_t)k * d;
    double *w = dq_xcalloc(kd + (size_t)k, sizeof(double)), *wp = dq_xcalloc(kd + (size_t)k, sizeof(double));
    double *v = dq_xcalloc(kd + (size_t)k, sizeof(double)), *g = dq_xcalloc(kd + (size_t)k, sizeof(double));
    double *z = dq_xmalloc((size_t)k * sizeof(double)), *p = dq_xmalloc((size_t)k * sizeof(double));
    double prev = INFINITY;
    for (int it = 0; it < 600; it++) {
        memset(g, 0, (kd + (size_t)k) * sizeof(double));
        double loss = 0;
        for (int i = 0; i < n; i++) {
            const float *x = pr->X + (size_t)i * d;
            for (int c = 0; c < k; c++) {
                double s = v[kd + (size_t)c];
                const double *wc = v + (size_t)c * d;
                for (int j = 0; j < d; j++)
                    s += wc[j] * x[j];
                z[c] = s;
            }
            softmax(z, k, p);
            loss -= log(p[pr->y[i]] + 1e-300);
            for (int c = 0; c < k; c++) {
                double e = (p[c] - (c == pr->y[i])) / n;
                double *gc = g + (size_t)c * d;
                for (int j = 0; j < d; j++)
                    gc[j] += e * x[j];
                g[kd + (size_t)c] += e;
            }
        }
        loss /= n;
        double reg = 0;
        for (size_t j = 0; j < kd; j++) {
            g[j] += pr->lambda * v[j];
            reg += v[j] * v[j];
        }
        loss += 0.5 * pr->lambda * reg;
        /* Restart the momentum when the loss goes up (O'Donoghue and Candes 2015). */
        double mom = (double)it / (it + 3);
        if (loss > prev)
            mom = 0;
        prev = loss;
        for (size_t j = 0; j < kd + (size_t)k; j++) {
            double nw = v[j] - lr * g[j];
            v[j] = nw + mom * (nw - w[j]);
            wp[j] = w[j];
            w[j] = nw;
        }
        double dmax = 0;
        for (size_t j = 0; j < kd + (size_t)k; j++) {
            double dd = fabs(w[j] - wp[j]);
            dmax = dd > dmax ? dd : dmax;
        }
        if (it > 20 && dmax < 1e-6)
            break;
    }
    for (size_t j = 0; j < kd; j++)
        W[j] = (float)w[j];
    for (int c = 0; c < k; c++)
        b[c] = (float)w[kd + (size_t)c];
    free(w);
    free(wp);
    free(v);
    free(g);
    free(z);
    free(p);
}

static void standardise(const float *X, int n, int d, float *mean, float *sd)
{
    for (int j = 0; j < d; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) {
            double x = X[(size_t)i * d + j];
            s += x;
            ss += x * x;
        }
        double m = s / n, var = ss / n - m * m;
        mean[j] = (float)m;
        /* A floor keeps a constant feature from exploding. */
        sd[j] = (float)sqrt(var > 1e-8 ? var : 1e-8);
    }
}

static void apply_std(const float *X, int n, int d, const float *mean, const float *sd, float *out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            out[(size_t)i * d + j] = (X[(size_t)i * d + j] - mean[j]) / sd[j];
}

static void logits(const dq_style_model_t *m, const float *x, double *z)
{
    for (int c = 0; c < m->n_classes; c++) {
        double s = m->b[c];
        const float *w = m->W + (size_t)c * m->dim;
        for (int j = 0; j < m->dim; j++)
            s += (double)w[j] * ((x[j] - m->mean[j]) / m->sd[j]);
        z[c] = s;
    }
}

/* Fisher's linear discriminant on standardised Z (n x d): the generalised eigenvectors of
 * (between-class scatter, within-class scatter + eps I), largest first (LAPACKE dsygv). The
 * ridge eps keeps Sw invertible when features outnumber works or are collinear. */
static void fit_lda(const float *Z, int n, int d, const int *y, int k, dq_style_model_t *m)
{
    int q = k - 1 < 16 ? k - 1 : 16;
    double *Sw = dq_xcalloc((size_t)d * d, sizeof(double)), *Sb = dq_xcalloc((size_t)d * d, sizeof(double));
    double *mu = dq_xcalloc((size_t)k * d, sizeof(double)), *w = dq_xmalloc((size_t)d * sizeof(double));
    double *r = dq_xmalloc((size_t)d * sizeof(double));
    int *cnt = dq_xcalloc((size_t)k, sizeof(int));
    for (int i = 0; i < n; i++) {
        cnt[y[i]]++;
        for (int j = 0; j < d; j++)
            mu[(size_t)y[i] * d + j] += Z[(size_t)i * d + j];
    }
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            mu[(size_t)c * d + j] /= cnt[c] ? cnt[c] : 1;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++)
            r[j] = Z[(size_t)i * d + j] - mu[(size_t)y[i] * d + j];
        for (int j = 0; j < d; j++)
            for (int l = j; l < d; l++)
                Sw[(size_t)j * d + l] += r[j] * r[l] / n;
    }
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            for (int l = j; l < d; l++)
                Sb[(size_t)j * d + l] += (double)cnt[c] / n * mu[(size_t)c * d + j] * mu[(size_t)c * d + l];
    for (int j = 0; j < d; j++)
        Sw[(size_t)j * d + j] += 0.1;
    m->lda_dim = 0;
    if (q > 0 && LAPACKE_dsygv(LAPACK_ROW_MAJOR, 1, 'V', 'U', d, Sb, d, Sw, d, w) == 0) {
        m->lda_dim = q;
        m->lda = dq_xmalloc((size_t)d * q * sizeof(float));
        for (int j = 0; j < d; j++)
            for (int c = 0; c < q; c++)
                m->lda[(size_t)j * q + c] = (float)Sb[(size_t)j * d + (d - 1 - c)];
    }
    free(Sw);
    free(Sb);
    free(mu);
    free(w);
    free(r);
    free(cnt);
}

static dq_style_model_t *fit_plain(const float *X, int n, int d, const int *y, int k,
                                   double lambda, int with_lda)
{
    dq_style_model_t *m = dq_xcalloc(1, sizeof(*m));
    m->n_classes = k;
    m->dim = d;
    m->mean = dq_xmalloc((size_t)d * sizeof(float));
    m->sd = dq_xmalloc((size_t)d * sizeof(float));
    m->W = dq_xcalloc((size_t)k * d, sizeof(float));
    m->b = dq_xcalloc((size_t)k, sizeof(float));
    m->temperature = 1.0;
    standardise(X, n, d, m->mean, m->sd);
    float *Z = dq_xmalloc((size_t)n * d * sizeof(float));
    apply_std(X, n, d, m->mean, m->sd, Z);
    prob_t pr = {n, d, k, Z, y, lambda};
    fit_softmax(&pr, m->W, m->b);
    if (with_lda)
        fit_lda(Z, n, d, y, k, m);
    free(Z);
    return m;
}

/* Mean NLL of out-of-fold logits z (n x k) at temperature T. */
static double nll_at(const double *z, const int *y, int n, int k, double T)
{
    double s = 0, *zz = dq_xmalloc((size_t)k * sizeof(double)), *p = dq_xmalloc((size_t)k * sizeof(double));
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < k; c++)
            zz[c] = z[(size_t)i * k + c] / T;
        softmax(zz, k, p);
        s -= log(p[y[i]] + 1e-300);
    }
    free(zz);
    free(p);
    return s / n;
}

dq_style_model_t *dq_style_model_fit(const float *X, int n, int dim, const int *y, int n_classes,
                                     const char *const *classes, double lambda, int folds,
                                     uint64_t seed, dq_style_cv_t *cv, dq_err_t *err)
{
    if (n_classes < 2 || n < 4 || dim < 1) {
        dq_err_set(err, DQ_EINVAL, 400, "style: need at least 2 classes and 4 labelled works");
        return NULL;
    }
    if (lambda <= 0)
        lambda = 1e-2;
    int *count = dq_xcalloc((size_t)n_classes, sizeof(int));
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= n_classes) {
            free(count);
            dq_err_set(err, DQ_EINVAL, 400, "style: label %d out of range", y[i]);
            return NULL;
        }
        count[y[i]]++;
    }
    double T = 1.0;
    if (folds >= 2) {
        for (int c = 0; c < n_classes; c++)
            if (count[c] < folds) {
                dq_err_set(err, DQ_EINVAL, 400,
                           "style: class '%s' has %d labelled works, fewer than the %d folds",
                           classes[c], count[c], folds);
                free(count);
                return NULL;
            }
        /* Stratified folds: within each class, a seeded shuffle dealt round the folds. */
        int *fold = dq_xmalloc((size_t)n * sizeof(int)), *idx = dq_xmalloc((size_t)n * sizeof(int));
        uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
        for (int c = 0; c < n_classes; c++) {
            int m = 0;
            for (int i = 0; i < n; i++)
                if (y[i] == c)
                    idx[m++] = i;
            for (int i = m - 1; i > 0; i--) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                int j = (int)(s % (uint64_t)(i + 1)), t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
            for (int i = 0; i < m; i++)
                fold[idx[i]] = i % folds;
        }
        double *oof = dq_xmalloc((size_t)n * n_classes * sizeof(double));
        float *Xt = dq_xmalloc((size_t)n * dim * sizeof(float));
        int *yt = dq_xmalloc((size_t)n * sizeof(int));
        for (int f = 0; f < folds; f++) {
            int nt = 0;
            for (int i = 0; i < n; i++)
                if (fold[i] != f) {
                    memcpy(Xt + (size_t)nt * dim, X + (size_t)i * dim, (size_t)dim * sizeof(float));
                    yt[nt++] = y[i];
                }
            dq_style_model_t *m = fit_plain(Xt, nt, dim, yt, n_classes, lambda, 0);
            for (int i = 0; i < n; i++)
                if (fold[i] == f)
                    logits(m, X + (size_t)i * dim, oof + (size_t)i * n_classes);
            dq_style_model_free(m);
        }
        /* Temperature: golden-section search of the held-out NLL over log T in [-3, 3]. */
        double a = -3, bb = 3, gr = 0.6180339887498949;
        double x1 = bb - gr * (bb - a), x2 = a + gr * (bb - a);
        double f1 = nll_at(oof, y, n, n_classes, exp(x1)), f2 = nll_at(oof, y, n, n_classes, exp(x2));
        for (int it = 0; it < 60; it++) {
            if (f1 < f2) {
                bb = x2;
                x2 = x1;
                f2 = f1;
                x1 = bb - gr * (bb - a);
                f1 = nll_at(oof, y, n, n_classes, exp(x1));
            } else {
                a = x1;
                x1 = x2;
                f1 = f2;
                x2 = a + gr * (bb - a);
                f2 = nll_at(oof, y, n, n_classes, exp(x2));
            }
        }
        T = exp(0.5 * (a + bb));
        if (cv) {
            memset(cv, 0, sizeof(*cv));
            cv->n_classes = n_classes;
            cv->folds = folds;
            cv->n = n;
            cv->confusion = dq_xcalloc((size_t)n_classes * n_classes, sizeof(int));
            int right = 0;
            double ece_conf[10] = {0}, ece_acc[10] = {0};
            int ece_n[10] = {0};
            double *p = dq_xmalloc((size_t)n_classes * sizeof(double));
            double *zz = dq_xmalloc((size_t)n_classes * sizeof(double));
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < n_classes; c++)
                    zz[c] = oof[(size_t)i * n_classes + c] / T;
                softmax(zz, n_classes, p);
                int best = 0;
                for (int c = 1; c < n_classes; c++)
                    if (p[c] > p[best])
                        best = c;
                cv->confusion[(size_t)y[i] * n_classes + best]++;
                right += best == y[i];
                int bin = (int)(p[best] * 10);
                bin = bin > 9 ? 9 : bin;
                ece_conf[bin] += p[best];
                ece_acc[bin] += best == y[i];
                ece_n[bin]++;
            }
            cv->accuracy = (double)right / n;
            cv->nll = nll_at(oof, y, n, n_classes, T);
            cv->nll_raw = nll_at(oof, y, n, n_classes, 1.0);
            for (int bn = 0; bn < 10; bn++)
                if (ece_n[bn])
                    cv->ece += fabs(ece_acc[bn] - ece_conf[bn]) / n;
            free(p);
            free(zz);
        }
        free(oof);
        free(Xt);
        free(yt);
        free(fold);
        free(idx);
    }
    free(count);
    dq_style_model_t *m = fit_plain(X, n, dim, y, n_classes, lambda, 1);
    m->temperature = T;
    m->classes = dq_xcalloc((size_t)n_classes, sizeof(char *));
    for (int c = 0; c < n_classes; c++)
        m->classes[c] = dq_xstrdup(classes[c]);
    return m;
}

void dq_style_model_predict(const dq_style_model_t *m, const float *x, double *p)
{
    double *z = dq_xmalloc((size_t)m->n_classes * sizeof(double));
    logits(m, x, z);
    for (int c = 0; c < m->n_classes; c++)
        z[c] /= m->temperature;
    softmax(z, m->n_classes, p);
    free(z);
}

void dq_style_model_free(dq_style_model_t *m)
{
    if (!m)
        return;
    for (int c = 0; m->classes && c < m->n_classes; c++)
        free(m->classes[c]);
    free(m->classes);
    free(m->mean);
    free(m->sd);
    free(m->W);
    free(m->b);
    free(m->lda);
    free(m);
}

void dq_style_cv_free(dq_style_cv_t *cv)
{
    if (!cv)
        return;
    free(cv->confusion);
    cv->confusion = NULL;
}

/* ================================================================ JSON */

static json_t *farr(const float *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

void dq_style_model_to_json(const dq_style_model_t *m, dq_buf_t *out)
{
    json_t *cl = json_array();
    for (int c = 0; c < m->n_classes; c++)
        json_array_append_new(cl, json_string(m->classes[c]));
    json_t *j = json_pack("{s:s, s:s, s:i, s:o, s:f, s:o, s:o, s:o, s:o}", "model", m->model_name,
                          "label", m->label, "dim", m->dim, "classes", cl, "temperature",
                          m->temperature, "mean", farr(m->mean, (size_t)m->dim), "sd",
                          farr(m->sd, (size_t)m->dim), "W",
                          farr(m->W, (size_t)m->n_classes * m->dim), "b",
                          farr(m->b, (size_t)m->n_classes));
    json_object_set_new(j, "lda_dim", json_integer(m->lda_dim));
    if (m->lda_dim)
        json_object_set_new(j, "lda", farr(m->lda, (size_t)m->dim * m->lda_dim));
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    dq_buf_puts(out, s);
    free(s);
    json_decref(j);
}

static int read_farr(json_t *a, float *out, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return -1;
        out[i] = (float)json_number_value(v);
    }
    return 0;
}

dq_style_model_t *dq_style_model_from_json(const char *json, size_t len, dq_err_t *err)
{
    json_t *j = json_loadb(json, len, 0, NULL);
    dq_style_model_t *m = NULL;
    if (!j)
        goto bad;
    json_t *cl = json_object_get(j, "classes");
    int dim = (int)json_integer_value(json_object_get(j, "dim"));
    int k = (int)json_array_size(cl);
    double T = json_number_value(json_object_get(j, "temperature"));
    const char *name = json_string_value(json_object_get(j, "model"));
    const char *label = json_string_value(json_object_get(j, "label"));
    if (dim < 1 || dim > 100000 || k < 2 || k > 10000 || !(T > 0) || !name || !label)
        goto bad;
    m = dq_xcalloc(1, sizeof(*m));
    m->n_classes = k;
    m->dim = dim;
    m->temperature = T;
    snprintf(m->model_name, sizeof(m->model_name), "%s", name);
    snprintf(m->label, sizeof(m->label), "%s", label);
    m->classes = dq_xcalloc((size_t)k, sizeof(char *));
    for (int c = 0; c < k; c++) {
        const char *s = json_string_value(json_array_get(cl, (size_t)c));
        m->classes[c] = dq_xstrdup(s ? s : "?");
    }
    m->mean = dq_xmalloc((size_t)dim * sizeof(float));
    m->sd = dq_xmalloc((size_t)dim * sizeof(float));
    m->W = dq_xmalloc((size_t)k * dim * sizeof(float));
    m->b = dq_xmalloc((size_t)k * sizeof(float));
    if (read_farr(json_object_get(j, "mean"), m->mean, (size_t)dim) < 0 ||
        read_farr(json_object_get(j, "sd"), m->sd, (size_t)dim) < 0 ||
        read_farr(json_object_get(j, "W"), m->W, (size_t)k * dim) < 0 ||
        read_farr(json_object_get(j, "b"), m->b, (size_t)k) < 0)
        goto bad;
    for (int i = 0; i < dim; i++)
        if (!(m->sd[i] > 0))
            goto bad;
    json_int_t q = json_integer_value(json_object_get(j, "lda_dim"));
    if (q < 0 || q > 16)
        goto bad;
    if (q > 0) {
        m->lda_dim = (int)q;
        m->lda = dq_xmalloc((size_t)dim * (size_t)q * sizeof(float));
        if (read_farr(json_object_get(j, "lda"), m->lda, (size_t)dim * (size_t)q) < 0)
            goto bad;
    }
    json_decref(j);
    return m;
bad:
    json_decref(j);
    dq_style_model_free(m);
    dq_err_set(err, DQ_EINVAL, 500, "style: malformed model document");
    return NULL;
}
