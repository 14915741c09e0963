/*
 * conserve/register.c: aligning two captures of one object taken years apart. The camera
 * moved a little, the exposure and white balance differ, and the object itself changed
 * (losses, flaking, fading), so the method must be robust to all three:
 *  1. coarse: SIFT keypoints (Lowe 2004, VLFeat) on a copy reduced to ~1.5 megapixels,
 *     matched with Lowe's ratio test through a kd-forest, then RANSAC (Fischler & Bolles
 *     1981) on a similarity, refitted by least squares on its inliers;
 *  2. fine: coarse-to-fine Gauss-Newton image alignment (Lucas & Kanade 1981, forward
 *     additive, as surveyed by Baker & Matthews 2004) on grey levels, with a photometric gain
 *     and bias in the unknowns (ECC-like invariance to exposure, Evangidelis & Psarakis 2008)
 *     and iteratively reweighted least squares with Tukey's biweight so that changed areas
 *     do not pull the fit. Similarity, affine and homography are refined; the simplest one
 *     whose image corners stay within 0.2 px of the richer fit is reported;
 *  3. check: the reference is cut into blocks, each block's residual shift is estimated by
 *     the same Gauss-Newton with two unknowns; blocks that disagree, a low correlation or too
 *     few features mean "cannot align" rather than a wrong transform.
 * Memory: the full-resolution grey copies are 8-bit; reduced levels are float.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vl/generic.h>
#include <vl/kdtree.h>
#include <vl/sift.h>

#include "conserve/conserve.h"

#define NPARAM_MAX 10 /* 8 homography + gain + bias */

/* ---------------------------------------------------------------- grey pyramid */

/* One level of the grey pyramid: level 0 is 8-bit (b), the others float (v). f is the level's
 * reduction factor: level pixel x covers full-resolution pixels [f*x, f*x + f - 1]. */
typedef struct {
    int w, h, f;
    uint8_t *b;
    float *v;
} plane_t;

typedef struct {
    int n;
    plane_t l[24];
} pyr_t;

static inline float pl_at(const plane_t *p, int x, int y)
{
    size_t i = (size_t)y * p->w + x;
    return p->b ? (float)p->b[i] : p->v[i];
}

/* Bilinear sample; returns 0 outside [0, w-1] x [0, h-1]. */
static inline int pl_sample(const plane_t *p, double x, double y, float *out)
{
    if (!(x >= 0 && y >= 0 && x <= p->w - 1 && y <= p->h - 1))
        return 0;
    int x0 = (int)x, y0 = (int)y;
    if (x0 >= p->w - 1)
        x0 = p->w - 2;
    if (y0 >= p->h - 1)
        y0 = p->h - 2;
    if (x0 < 0 || y0 < 0) { /* a 1-pixel-wide plane */
        *out = pl_at(p, x0 < 0 ? 0 : x0, y0 < 0 ? 0 : y0);
        return 1;
    }
    float fx = (float)(x - x0), fy = (float)(y - y0);
    float a = pl_at(p, x0, y0), b = pl_at(p, x0 + 1, y0);
    float c = pl_at(p, x0, y0 + 1), d = pl_at(p, x0 + 1, y0 + 1);
    *out = (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy;
    return 1;
}

/* Value and central-difference gradient; 0 when any tap is outside. */
static inline int pl_sample_grad(const plane_t *p, double x, double y, float *v, float *gx,
                                 float *gy)
{
    float l, r, u, d;
    if (!pl_sample(p, x, y, v) || !pl_sample(p, x - 1, y, &l) || !pl_sample(p, x + 1, y, &r) ||
        !pl_sample(p, x, y - 1, &u) || !pl_sample(p, x, y + 1, &d))
        return 0;
    *gx = 0.5f * (r - l);
    *gy = 0.5f * (d - u);
    return 1;
}

static void pyr_free(pyr_t *py)
{
    for (int i = 0; i < py->n; i++) {
        free(py->l[i].b);
        free(py->l[i].v);
    }
    py->n = 0;
}

/* Grey (Rec. 601 luma) level 0 from a raster, then 2x2 box averages down to min_side. */
static void pyr_build(const dq_raster_t *r, int min_side, pyr_t *py)
{
    memset(py, 0, sizeof(*py));
    plane_t *p0 = &py->l[0];
    p0->w = r->w;
    p0->h = r->h;
    p0->f = 1;
    size_t n = (size_t)r->w * r->h;
    p0->b = dq_xmalloc(n);
    if (r->bands == 1) {
        memcpy(p0->b, r->px, n);
    } else {
        const uint8_t *s = r->px;
        for (size_t i = 0; i < n; i++, s += r->bands)
            p0->b[i] = (uint8_t)((299 * s[0] + 587 * s[1] + 114 * s[2] + 500) / 1000);
    }
    py->n = 1;
    while (py->n < (int)DQ_ARRAY_LEN(py->l)) {
        const plane_t *a = &py->l[py->n - 1];
        if (a->w / 2 < min_side || a->h / 2 < min_side)
            break;
        plane_t *b = &py->l[py->n];
        b->w = a->w / 2;
        b->h = a->h / 2;
        b->f = a->f * 2;
        b->v = dq_xmalloc((size_t)b->w * b->h * sizeof(float));
        for (int y = 0; y < b->h; y++)
            for (int x = 0; x < b->w; x++)
                b->v[(size_t)y * b->w + x] =
                    0.25f * (pl_at(a, 2 * x, 2 * y) + pl_at(a, 2 * x + 1, 2 * y) +
                             pl_at(a, 2 * x, 2 * y + 1) + pl_at(a, 2 * x + 1, 2 * y + 1));
        py->n++;
    }
}

/* ---------------------------------------------------------------- transforms */

/* Normalised coordinates: u = (x0 - cx) / s with x0 the full-resolution coordinate, so that
 * one matrix serves every level and the Gauss-Newton system is well conditioned. Isotropic,
 * so that a similarity stays a similarity. */
typedef struct {
    double cx, cy, s;
} norm_t;

static norm_t norm_of(int w, int h)
{
    norm_t n = {(w - 1) / 2.0, (h - 1) / 2.0, (w > h ? w : h) / 2.0};
    return n;
}

/* Level pixel -> normalised, and back. */
static inline void to_norm(const norm_t *n, int f, double x, double y, double *u, double *v)
{
    *u = (x * f + (f - 1) / 2.0 - n->cx) / n->s;
    *v = (y * f + (f - 1) / 2.0 - n->cy) / n->s;
}

static inline void from_norm(const norm_t *n, int f, double u, double v, double *x, double *y)
{
    *x = (u * n->s + n->cx - (f - 1) / 2.0) / f;
    *y = (v * n->s + n->cy - (f - 1) / 2.0) / f;
}

static inline int hmap(const double h[9], double u, double v, double *ou, double *ov)
{
    double d = h[6] * u + h[7] * v + h[8];
    if (fabs(d) < 1e-9)
        return 0;
    *ou = (h[0] * u + h[1] * v + h[2]) / d;
    *ov = (h[3] * u + h[4] * v + h[5]) / d;
    return 1;
}

void dq_conserve_map(const double m[3][3], double x, double y, double *ox, double *oy)
{
    double d = m[2][0] * x + m[2][1] * y + m[2][2];
    if (fabs(d) < 1e-12)
        d = 1e-12;
    *ox = (m[0][0] * x + m[0][1] * y + m[0][2]) / d;
    *oy = (m[1][0] * x + m[1][1] * y + m[1][2]) / d;
}

static void mat3_mul(const double a[9], const double b[9], double c[9])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            c[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

/* Pixel matrix (full resolution) from the normalised one: P = Nm^-1 H Nr. */
static void to_pixel_matrix(const double h[9], const norm_t *nr, const norm_t *nm, double m[3][3])
{
    double Nr[9] = {1 / nr->s, 0, -nr->cx / nr->s, 0, 1 / nr->s, -nr->cy / nr->s, 0, 0, 1};
    double Nmi[9] = {nm->s, 0, nm->cx, 0, nm->s, nm->cy, 0, 0, 1};
    double t[9], p[9];
    mat3_mul(h, Nr, t);
    mat3_mul(Nmi, t, p);
    for (int i = 0; i < 9; i++)
        m[i / 3][i % 3] = p[i] / p[8];
}

/* Largest distance between the full-resolution corners mapped by two normalised matrices. */
static double corner_diff(const double a[9], const double b[9], const norm_t *nr,
                          const norm_t *nm)
{
    double worst = 0;
    double cu = nr->cx / nr->s, cv = nr->cy / nr->s;
    for (int k = 0; k < 4; k++) {
        double u = (k & 1) ? cu : -cu, v = (k & 2) ? cv : -cv;
        double ax, ay, bx, by;
        if (!hmap(a, u, v, &ax, &ay) || !hmap(b, u, v, &bx, &by))
            return INFINITY;
        double d = hypot(ax - bx, ay - by) * nm->s;
        if (d > worst)
            worst = d;
    }
    return worst;
}

/* ---------------------------------------------------------------- small linear algebra */

/* Solves the n x n system A x = b in place (Gaussian elimination, partial pivoting). Returns
 * -1 when A is singular. */
static int solve(int n, double *A, double *b, double *x)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c]))
                p = r;
        if (fabs(A[p * n + c]) < 1e-12)
            return -1;
        if (p != c) {
            for (int k = 0; k < n; k++) {
                double t = A[c * n + k];
                A[c * n + k] = A[p * n + k];
                A[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < n; k++)
            s -= A[r * n + k] * x[k];
        x[r] = s / A[r * n + r];
    }
    return 0;
}

/* ---------------------------------------------------------------- coarse: SIFT + RANSAC */

typedef struct {
    double x, y;   /* ref (normalised) */
    double mx, my; /* moving (normalised) */
} match_t;

typedef struct {
    int n;
    float *xy;   /* 2 per keypoint, level pixels */
    float *desc; /* 128 per keypoint */
} feats_t;

static void feats_free(feats_t *f)
{
    free(f->xy);
    free(f->desc);
    memset(f, 0, sizeof(*f));
}

/* Up to max_feats strongest SIFT keypoints with descriptors from one pyramid level. */
static void sift_features(const plane_t *p, int max_feats, feats_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = (size_t)p->w * p->h;
    float *im = dq_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        im[i] = p->b ? (float)p->b[i] : p->v[i];
    VlSiftFilt *sf = vl_sift_new(p->w, p->h, -1, 3, 0);
    vl_sift_set_peak_thresh(sf, 2.0);
    vl_sift_set_edge_thresh(sf, 10.0);
    int cap = 0;
    float *score = NULL;
    int err = vl_sift_process_first_octave(sf, im);
    while (err == VL_ERR_OK) {
        vl_sift_detect(sf);
        const VlSiftKeypoint *kp = vl_sift_get_keypoints(sf);
        int nk = vl_sift_get_nkeypoints(sf);
        for (int i = 0; i < nk; i++) {
            double ang[4];
            int na = vl_sift_calc_keypoint_orientations(sf, ang, &kp[i]);
            for (int a = 0; a < na && a < 2; a++) {
                if (out->n == cap) {
                    cap = cap ? cap * 2 : 1024;
                    out->xy = dq_xrealloc(out->xy, (size_t)cap * 2 * sizeof(float));
                    out->desc = dq_xrealloc(out->desc, (size_t)cap * 128 * sizeof(float));
                    score = dq_xrealloc(score, (size_t)cap * sizeof(float));
                }
                vl_sift_calc_keypoint_descriptor(sf, out->desc + (size_t)out->n * 128, &kp[i],
                                                 ang[a]);
                out->xy[2 * out->n] = kp[i].x;
                out->xy[2 * out->n + 1] = kp[i].y;
                score[out->n] = kp[i].sigma; /* larger features first: they survive blur and noise */
                out->n++;
            }
        }
        err = vl_sift_process_next_octave(sf);
    }
    vl_sift_delete(sf);
    free(im);
    /* Keep the strongest max_feats: a partial selection by a score threshold found by
     * bisection keeps this linear and deterministic. */
    if (out->n > max_feats) {
        float lo = 0, hi = 0;
        for (int i = 0; i < out->n; i++)
            if (score[i] > hi)
                hi = score[i];
        for (int it = 0; it < 40; it++) {
            float mid = 0.5f * (lo + hi);
            int c = 0;
            for (int i = 0; i < out->n; i++)
                c += score[i] >= mid;
            if (c > max_feats)
                lo = mid;
            else
                hi = mid;
        }
        int k = 0;
        for (int i = 0; i < out->n; i++) {
            if (score[i] < hi)
                continue;
            out->xy[2 * k] = out->xy[2 * i];
            out->xy[2 * k + 1] = out->xy[2 * i + 1];
            memmove(out->desc + (size_t)k * 128, out->desc + (size_t)i * 128,
                    128 * sizeof(float));
            k++;
        }
        out->n = k;
    }
    free(score);
}

/* Ratio-test matches of a's features into b's (Lowe 2004: nearest < 0.8 x second nearest). */
static int match_features(const feats_t *a, const feats_t *b, const norm_t *na, int fa,
                          const norm_t *nb, int fb, match_t **out)
{
    *out = NULL;
    if (a->n < 2 || b->n < 2)
        return 0;
    VlKDForest *kd = vl_kdforest_new(VL_TYPE_FLOAT, 128, 4, VlDistanceL2);
    vl_kdforest_build(kd, (vl_size)b->n, b->desc);
    vl_kdforest_set_max_num_comparisons(kd, 256);
    VlKDForestSearcher *s = vl_kdforest_new_searcher(kd);
    match_t *m = dq_xmalloc((size_t)a->n * sizeof(*m));
    int n = 0;
    for (int i = 0; i < a->n; i++) {
        VlKDForestNeighbor nb2[2];
        if (vl_kdforestsearcher_query(s, nb2, 2, a->desc + (size_t)i * 128) < 2)
            continue;
        /* distances are squared L2 */
        if (nb2[0].distance < 0.64 * nb2[1].distance) {
            int j = (int)nb2[0].index;
            to_norm(na, fa, a->xy[2 * i], a->xy[2 * i + 1], &m[n].x, &m[n].y);
            to_norm(nb, fb, b->xy[2 * j], b->xy[2 * j + 1], &m[n].mx, &m[n].my);
            n++;
        }
    }
    vl_kdforest_delete(kd);
    *out = m;
    return n;
}

/* xorshift64*: RANSAC's own generator, seeded by a constant so that runs repeat exactly. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Least-squares similarity (u' = a u - b v + c, v' = b u + a v + d) over the flagged matches. */
static int fit_similarity(const match_t *m, const uint8_t *use, int n, double h[9])
{
    double A[16] = {0}, r[4] = {0}, x[4];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        double rows[2][4] = {{m[i].x, -m[i].y, 1, 0}, {m[i].y, m[i].x, 0, 1}};
        double t[2] = {m[i].mx, m[i].my};
        for (int q = 0; q < 2; q++)
            for (int a = 0; a < 4; a++) {
                r[a] += rows[q][a] * t[q];
                for (int b = 0; b < 4; b++)
                    A[4 * a + b] += rows[q][a] * rows[q][b];
            }
        k++;
    }
    if (k < 2 || solve(4, A, r, x) < 0)
        return -1;
    double hh[9] = {x[0], -x[1], x[2], x[1], x[0], x[3], 0, 0, 1};
    memcpy(h, hh, sizeof(hh));
    return 0;
}

/* RANSAC on a similarity: tol is in normalised units. Returns the inlier count and sets h to
 * the least-squares refit on the inliers. */
static int ransac_similarity(const match_t *m, int n, double tol, double h[9])
{
    if (n < 2)
        return 0;
    uint8_t *in = dq_xcalloc((size_t)n, 1), *best_in = dq_xcalloc((size_t)n, 1);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int best = 0;
    double t2 = tol * tol;
    for (int it = 0; it < 3000; it++) {
        int i = (int)(rng_next(&seed) % (uint64_t)n), j = (int)(rng_next(&seed) % (uint64_t)n);
        if (i == j)
            continue;
        match_t pair[2] = {m[i], m[j]};
        double hh[9];
        if (fit_similarity(pair, NULL, 2, hh) < 0)
            continue;
        double sc = hypot(hh[0], hh[3]);
        if (sc < 0.25 || sc > 4) /* captures of one object are not that different in scale */
            continue;
        int c = 0;
        for (int k = 0; k < n; k++) {
            double u = 0, v = 0;
            hmap(hh, m[k].x, m[k].y, &u, &v);
            in[k] = (u - m[k].mx) * (u - m[k].mx) + (v - m[k].my) * (v - m[k].my) < t2;
            c += in[k];
        }
        if (c > best) {
            best = c;
            memcpy(best_in, in, (size_t)n);
        }
    }
    if (best >= 2 && fit_similarity(m, best_in, n, h) < 0)
        best = 0;
    free(in);
    free(best_in);
    return best;
}

/* ---------------------------------------------------------------- fine: robust Gauss-Newton */

typedef struct {
    const plane_t *r, *m; /* reference and moving at one level */
    const norm_t *nr, *nm;
    int model;
    int max_samples;
    /* state */
    double h[9];            /* normalised REF -> MOVING */
    double gain, bias;      /* ref ~ gain * mov + bias */
    double sigma;           /* robust residual scale (grey levels); 0 = not yet known */
    double ncc, overlap;    /* from the last pass */
} gn_t;

static int model_nparams(int model)
{
    return model == DQ_CONSERVE_SIMILARITY ? 4 : model == DQ_CONSERVE_AFFINE ? 6 : 8;
}

/* Jacobian of the warped point (normalised moving coordinates) w.r.t. the model's parameters. */
static void warp_jacobian(int model, const double h[9], double u, double v, double wu, double wv,
                          double ju[8], double jv[8])
{
    double d = h[6] * u + h[7] * v + h[8];
    switch (model) {
    case DQ_CONSERVE_SIMILARITY: /* h0 = h4 = a, h3 = -h1 = b, h2, h5 */
        ju[0] = u, jv[0] = v;
        ju[1] = -v, jv[1] = u;
        ju[2] = 1, jv[2] = 0;
        ju[3] = 0, jv[3] = 1;
        break;
    case DQ_CONSERVE_AFFINE:
        ju[0] = u, ju[1] = v, ju[2] = 1, ju[3] = ju[4] = ju[5] = 0;
        jv[0] = jv[1] = jv[2] = 0, jv[3] = u, jv[4] = v, jv[5] = 1;
        break;
    default:
        ju[0] = u / d, ju[1] = v / d, ju[2] = 1 / d, ju[3] = ju[4] = ju[5] = 0;
        jv[0] = jv[1] = jv[2] = 0, jv[3] = u / d, jv[4] = v / d, jv[5] = 1 / d;
        ju[6] = -u * wu / d, ju[7] = -v * wu / d;
        jv[6] = -u * wv / d, jv[7] = -v * wv / d;
        break;
    }
}

static void apply_update(int model, double h[9], const double *dp)
{
    switch (model) {
    case DQ_CONSERVE_SIMILARITY:
        h[0] += dp[0], h[4] += dp[0];
        h[1] -= dp[1], h[3] += dp[1];
        h[2] += dp[2], h[5] += dp[3];
        break;
    case DQ_CONSERVE_AFFINE:
        for (int i = 0; i < 6; i++)
            h[i] += dp[i];
        break;
    default:
        for (int i = 0; i < 8; i++)
            h[i] += dp[i];
        break;
    }
}

/* Tukey's biweight with c = 4.685 sigma; Huber-like 1 when sigma is unknown. */
static inline double tukey(double r, double sigma)
{
    if (sigma <= 0)
        return 1;
    double c = 4.685 * sigma, t = r / c;
    if (fabs(t) >= 1)
        return 0;
    double q = 1 - t * t;
    return q * q;
}

/* A histogram median of |residual| (grey levels, 0..255 in 1/8 steps) gives sigma by MAD. */
typedef struct {
    uint32_t bins[2048];
    uint64_t n;
} mad_t;

static void mad_add(mad_t *m, double r)
{
    int b = (int)(fabs(r) * 8);
    m->bins[b < 2047 ? b : 2047]++;
    m->n++;
}

static double mad_sigma(const mad_t *m)
{
    if (!m->n)
        return 0;
    uint64_t half = m->n / 2, acc = 0;
    for (int b = 0; b < 2048; b++) {
        acc += m->bins[b];
        if (acc > half)
            return 1.4826 * (b + 0.5) / 8.0 + 1.0; /* + 1: never below quantisation noise */
    }
    return 256;
}

/* One Gauss-Newton pass over the sampled pixels. Updates h, gain, bias, sigma; returns the
 * largest corner motion of the update in level pixels, or -1 when the system is singular or
 * there are too few samples. */
static double gn_step(gn_t *g)
{
    int np = model_nparams(g->model), nt = np + 2;
    double A[NPARAM_MAX * NPARAM_MAX] = {0}, b[NPARAM_MAX] = {0}, dp[NPARAM_MAX];
    const plane_t *r = g->r, *m = g->m;
    double stride_f = sqrt((double)r->w * r->h / g->max_samples);
    int stride = stride_f > 1 ? (int)ceil(stride_f) : 1;
    mad_t *mad = dq_xcalloc(1, sizeof(*mad)), *mad_flat = dq_xcalloc(1, sizeof(*mad_flat));
    double sw = 0, sr = 0, sm = 0, srr = 0, smm = 0, srm = 0;
    uint64_t n_in = 0, n_all = 0;
    for (int y = 1; y < r->h - 1; y += stride)
        for (int x = 1; x < r->w - 1; x += stride) {
            n_all++;
            double u, v, wu, wv, mx, my;
            to_norm(g->nr, r->f, x, y, &u, &v);
            if (!hmap(g->h, u, v, &wu, &wv))
                continue;
            from_norm(g->nm, m->f, wu, wv, &mx, &my);
            float mv, gx, gy;
            if (!pl_sample_grad(m, mx, my, &mv, &gx, &gy))
                continue;
            n_in++;
            double rv = pl_at(r, x, y);
            double res = g->gain * mv + g->bias - rv;
            /* The scale comes from textured pixels only: on blank paper residuals are tiny and
             * would make every edge (where the geometry lives) look like an outlier. */
            if (gx * gx + gy * gy > 4.0f)
                mad_add(mad, res);
            else
                mad_add(mad_flat, res);
            double w = tukey(res, g->sigma);
            if (w <= 0)
                continue;
            sw += w, sr += w * rv, sm += w * mv, srr += w * rv * rv, smm += w * mv * mv,
                srm += w * rv * mv;
            /* d(moving pixel)/d(normalised) = s / f */
            double k = g->nm->s / m->f;
            double ju[8], jv[8], J[NPARAM_MAX];
            warp_jacobian(g->model, g->h, u, v, wu, wv, ju, jv);
            for (int i = 0; i < np; i++)
                J[i] = g->gain * k * (gx * ju[i] + gy * jv[i]);
            J[np] = mv;
            J[np + 1] = 1;
            for (int i = 0; i < nt; i++) {
                b[i] -= w * J[i] * res;
                for (int j = i; j < nt; j++)
                    A[i * nt + j] += w * J[i] * J[j];
            }
        }
    g->sigma = mad_sigma(mad->n >= 1000 ? mad : mad_flat);
    free(mad);
    free(mad_flat);
    g->overlap = n_all ? (double)n_in / n_all : 0;
    if (sw > 0) {
        double cr = srr / sw - (sr / sw) * (sr / sw), cm = smm / sw - (sm / sw) * (sm / sw);
        double c = srm / sw - (sr / sw) * (sm / sw);
        g->ncc = cr > 0 && cm > 0 ? c / sqrt(cr * cm) : 0;
    }
    if (n_in < 64)
        return -1;
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < i; j++)
            A[i * nt + j] = A[j * nt + i];
    /* A little Levenberg damping keeps flat or nearly unrelated images from exploding. */
    for (int i = 0; i < nt; i++)
        A[i * nt + i] *= 1.0 + 1e-6;
    if (solve(nt, A, b, dp) < 0)
        return -1;
    double old[9];
    memcpy(old, g->h, sizeof(old));
    apply_update(g->model, g->h, dp);
    g->gain += dp[np];
    g->bias += dp[np + 1];
    return corner_diff(old, g->h, g->nr, g->nm) / m->f;
}

/* The robust cost (mean Tukey rho at a fixed sigma) of g's current fit: how well a model
 * explains the pair, comparable across models when sigma is the same. */
static double gn_cost(const gn_t *g, double sigma)
{
    const plane_t *r = g->r, *m = g->m;
    double stride_f = sqrt((double)r->w * r->h / g->max_samples);
    int stride = stride_f > 1 ? (int)ceil(stride_f) : 1;
    double c = 4.685 * sigma, sum = 0;
    uint64_t n = 0;
    for (int y = 1; y < r->h - 1; y += stride)
        for (int x = 1; x < r->w - 1; x += stride) {
            double u, v, wu, wv, mx, my;
            float mv;
            to_norm(g->nr, r->f, x, y, &u, &v);
            if (!hmap(g->h, u, v, &wu, &wv))
                continue;
            from_norm(g->nm, m->f, wu, wv, &mx, &my);
            if (!pl_sample(m, mx, my, &mv))
                continue;
            double t = (g->gain * mv + g->bias - pl_at(r, x, y)) / c;
            double q = 1 - t * t;
            sum += fabs(t) >= 1 ? 1.0 : 1.0 - q * q * q;
            n++;
        }
    return n ? sum / n : INFINITY;
}

/* Refines at one level until the corners move less than tol level pixels (or max_it). */
static int gn_refine(gn_t *g, int max_it, double tol)
{
    for (int it = 0; it < max_it; it++) {
        double d = gn_step(g);
        if (d < 0)
            return -1;
        if (d < tol && it >= 2)
            break;
    }
    return 0;
}

/* ---------------------------------------------------------------- block check */

/* The residual shift of one block: Gauss-Newton on (dx, dy, gain, bias) around the global
 * model, in level-0 pixels. Returns 1 with *dx,*dy when the block has texture and converged,
 * 0 when it has too little texture to say, -1 when it did not converge. */
static int block_shift(const plane_t *r, const plane_t *m, const norm_t *nr, const norm_t *nm,
                       const double h[9], double gain0, double bias0, double sigma, int x0, int y0,
                       int bw, int bh, double *dx, double *dy)
{
    double tx = 0, ty = 0, gain = gain0, bias = bias0;
    int step = bw * bh > 40000 ? 2 : 1;
    for (int it = 0; it < 15; it++) {
        double A[16] = {0}, b[4] = {0}, x[4];
        int n = 0;
        for (int y = y0; y < y0 + bh; y += step)
            for (int xx = x0; xx < x0 + bw; xx += step) {
                double u, v, wu, wv, mx, my;
                to_norm(nr, 1, xx, y, &u, &v);
                if (!hmap(h, u, v, &wu, &wv))
                    continue;
                from_norm(nm, 1, wu, wv, &mx, &my);
                float mv, gx, gy;
                if (!pl_sample_grad(m, mx + tx, my + ty, &mv, &gx, &gy))
                    continue;
                double rv = pl_at(r, xx, y), res = gain * mv + bias - rv;
                double w = tukey(res, sigma);
                if (w <= 0)
                    continue;
                double J[4] = {gain * gx, gain * gy, mv, 1};
                for (int i = 0; i < 4; i++) {
                    b[i] -= w * J[i] * res;
                    for (int j = 0; j < 4; j++)
                        A[4 * i + j] += w * J[i] * J[j];
                }
                n++;
            }
        if (n < 100)
            return 0;
        if (it == 0) {
            /* Texture: the smaller eigenvalue of the 2x2 gradient matrix, per sample. */
            double a = A[0] / n, c = A[5] / n, bb = A[1] / n;
            double lmin = 0.5 * (a + c) - sqrt(0.25 * (a - c) * (a - c) + bb * bb);
            if (lmin < 4.0) /* mean squared gradient of 2 grey levels per pixel */
                return 0;
        }
        if (solve(4, A, b, x) < 0)
            return 0;
        tx += x[0], ty += x[1], gain += x[2], bias += x[3];
        if (fabs(tx) > 8 || fabs(ty) > 8)
            return -1;
        if (hypot(x[0], x[1]) < 0.005)
            break;
    }
    *dx = tx;
    *dy = ty;
    return 1;
}

/* ---------------------------------------------------------------- the whole registration */

const char *dq_conserve_model_name(int model)
{
    return model == DQ_CONSERVE_SIMILARITY ? "similarity"
           : model == DQ_CONSERVE_AFFINE   ? "affine"
                                           : "homography";
}

int dq_conserve_register(const dq_raster_t *ref, const dq_raster_t *mov, dq_conserve_reg_t *out,
                         dq_err_t *err)
{
    pyr_t pr = {0}, pm = {0};
    feats_t fr = {0}, fm = {0};
    match_t *mt = NULL;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (!ref || !mov || !ref->px || !mov->px || ref->w < 32 || ref->h < 32 || mov->w < 32 ||
        mov->h < 32)
        return dq_err_set(err, DQ_EINVAL, 400, "register: images must be at least 32x32");
    pyr_build(ref, 16, &pr);
    pyr_build(mov, 16, &pm);
    norm_t nr = norm_of(ref->w, ref->h), nm = norm_of(mov->w, mov->h);

    /* Coarse level: the first whose area is under ~1.5 megapixels, the same for both. */
    int lc = 0;
    while (lc + 1 < pr.n && lc + 1 < pm.n &&
           ((double)pr.l[lc].w * pr.l[lc].h > 1.5e6 || (double)pm.l[lc].w * pm.l[lc].h > 1.5e6))
        lc++;
    sift_features(&pr.l[lc], 6000, &fr);
    sift_features(&pm.l[lc], 6000, &fm);
    out->n_matches =
        match_features(&fr, &fm, &nr, pr.l[lc].f, &nm, pm.l[lc].f, &mt);
    double h0[9];
    /* 3 coarse pixels of tolerance, in normalised units */
    out->n_inliers = ransac_similarity(mt, out->n_matches, 3.0 * pr.l[lc].f / nr.s, h0);
    if (out->n_inliers < 12 || out->n_inliers < 0.05 * out->n_matches) {
        dq_err_set(err, DQ_EINVAL, 422,
                   "cannot align: only %d of %d feature matches agree on one transform "
                   "(the images may show different objects)",
                   out->n_inliers, out->n_matches);
        goto out;
    }

    /* Fine: the similarity down to full resolution, then the richer models from it. The
     * sampling stride keeps each pass at ~250k pixels whatever the image size. */
    gn_t g = {.nr = &nr, .nm = &nm, .model = DQ_CONSERVE_SIMILARITY, .max_samples = 250000,
              .gain = 1, .bias = 0};
    memcpy(g.h, h0, sizeof(h0));
    for (int l = lc; l >= 0; l--) {
        g.r = &pr.l[l];
        g.m = &pm.l[l];
        g.sigma = 0;
        if (gn_refine(&g, 30, l ? 0.01 : 0.002) < 0)
            goto fail_fine;
    }
    gn_t cand[3];
    cand[0] = g;
    for (int k = 1; k < 3; k++) {
        cand[k] = cand[k - 1];
        cand[k].model = k;
        if (gn_refine(&cand[k], 30, 0.002) < 0)
            cand[k] = cand[k - 1]; /* the richer model did not converge: keep the simpler */
    }
    /* The simplest model that explains the pair: a richer one is taken only when it moves
     * the image corners by more than 0.2 px AND lowers the robust cost by more than 2%
     * (with few textured pixels a homography can wander by tenths of a pixel at the
     * corners without explaining anything more). */
    int pick = 0;
    double cost[3];
    for (int k = 0; k < 3; k++)
        cost[k] = gn_cost(&cand[k], cand[0].sigma);
    for (int k = 1; k < 3; k++)
        if (corner_diff(cand[pick].h, cand[k].h, &nr, &nm) > 0.2 && cost[k] < 0.98 * cost[pick])
            pick = k;
    g = cand[pick];
    out->model = pick;
    to_pixel_matrix(g.h, &nr, &nm, out->m);
    out->gain = g.gain;
    out->bias = g.bias;
    out->ncc = g.ncc;
    out->overlap = g.overlap;

    /* Check: about 64 blocks over REF, laid out by its aspect ratio. */
    int nx = (int)lround(sqrt(64.0 * ref->w / ref->h)), ny;
    nx = nx < 1 ? 1 : nx > 64 ? 64 : nx;
    ny = (64 + nx - 1) / nx;
    int cw = ref->w / nx, ch = ref->h / ny;
    int bw = cw < 192 ? cw : 192, bh = ch < 192 ? ch : 192;
    double ss = 0;
    int n_agree = 0;
    for (int by = 0; by < ny; by++)
        for (int bx = 0; bx < nx; bx++) {
            double dx, dy;
            int x0 = bx * cw + (cw - bw) / 2, y0 = by * ch + (ch - bh) / 2;
            out->n_blocks++;
            int r = block_shift(&pr.l[0], &pm.l[0], &nr, &nm, g.h, g.gain, g.bias, g.sigma, x0,
                                y0, bw, bh, &dx, &dy);
            if (r == 0)
                continue;
            out->n_textured++;
            if (r > 0 && hypot(dx, dy) < 1.5) {
                n_agree++;
                ss += dx * dx + dy * dy;
            }
        }
    out->agree = out->n_textured ? (double)n_agree / out->n_textured : 0;
    out->residual_px = n_agree ? sqrt(ss / n_agree) : INFINITY;
    if (out->overlap < 0.25 || out->ncc < 0.5 || out->n_textured < 4 || out->agree < 0.6) {
        dq_err_set(err, DQ_EINVAL, 422,
                   "cannot align: after refinement the correlation is %.2f, %.0f%% of REF "
                   "overlaps MOVING and %d of %d textured blocks agree",
                   out->ncc, 100 * out->overlap, n_agree, out->n_textured);
        goto out;
    }
    rc = 0;
    goto out;
fail_fine:
    dq_err_set(err, DQ_EINVAL, 422,
               "cannot align: the fine alignment diverged (too little overlap or texture)");
out:
    free(mt);
    feats_free(&fr);
    feats_free(&fm);
    pyr_free(&pr);
    pyr_free(&pm);
    return rc;
}

/* ---------------------------------------------------------------- warp */

int dq_conserve_warp(const dq_raster_t *mov, const double m[3][3], int w, int h,
                     dq_raster_t *out, uint8_t **valid, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (valid)
        *valid = NULL;
    if (!mov || !mov->px || w <= 0 || h <= 0)
        return dq_err_set(err, DQ_EINVAL, 400, "warp: empty input");
    int nb = mov->bands, mw = mov->w, mh = mov->h;
    out->w = w;
    out->h = h;
    out->bands = nb;
    out->px = dq_xcalloc((size_t)w * h * nb, 1);
    uint8_t *vm = valid ? dq_xcalloc((size_t)w * h, 1) : NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double sx, sy;
            dq_conserve_map(m, x, y, &sx, &sy);
            if (!(sx >= 0 && sy >= 0 && sx <= mw - 1 && sy <= mh - 1))
                continue;
            int x0 = (int)sx, y0 = (int)sy;
            if (x0 >= mw - 1)
                x0 = mw > 1 ? mw - 2 : 0;
            if (y0 >= mh - 1)
                y0 = mh > 1 ? mh - 2 : 0;
            double fx = sx - x0, fy = sy - y0;
            int x1 = x0 + 1 < mw ? x0 + 1 : x0, y1 = y0 + 1 < mh ? y0 + 1 : y0;
            const uint8_t *a = mov->px + ((size_t)y0 * mw + x0) * nb;
            const uint8_t *b = mov->px + ((size_t)y0 * mw + x1) * nb;
            const uint8_t *c = mov->px + ((size_t)y1 * mw + x0) * nb;
            const uint8_t *d = mov->px + ((size_t)y1 * mw + x1) * nb;
            uint8_t *q = out->px + ((size_t)y * w + x) * nb;
            for (int k = 0; k < nb; k++) {
                double v = (a[k] + (b[k] - a[k]) * fx) * (1 - fy) + (c[k] + (d[k] - c[k]) * fx) * fy;
                q[k] = (uint8_t)(v + 0.5);
            }
            if (vm)
                vm[(size_t)y * w + x] = 255;
        }
    if (valid)
        *valid = vm;
    return 0;
}
