/*
 * spectral/calibrate.c: raw DN to reflectance for one channel of a capture. The order is the
 * usual one of multispectral imaging of cultural heritage (e.g. the CHARISMA/AIC user guide
 * and the Archimedes Palimpsest pipeline): subtract the dark frame (bias, fixed pattern and
 * hot pixels), divide by the light field (a flat field: the illumination times the optics'
 * vignetting), then map to reflectance with the grey steps of a certified target, which also
 * removes additive errors such as veiling flare. It does not register or store anything.
 *
 * The light field comes from a white frame when the capture has one, else from the white
 * target surrounding the object: a smooth quadratic surface fitted to its pixels, which is
 * what an illumination falloff from a few lamps looks like across a copy stand.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "spectral/spectral.h"

#define N_POLY 6

/* The quadratic basis at (x, y) in coordinates normalised to -1..1 (conditioning). */
static void basis(double x, double y, int w, int h, double b[N_POLY])
{
    double u = 2.0 * x / w - 1.0, v = 2.0 * y / h - 1.0;
    b[0] = 1;
    b[1] = u;
    b[2] = v;
    b[3] = u * u;
    b[4] = u * v;
    b[5] = v * v;
}

static int rect_ok(const dq_spec_rect_t *r, int w, int h)
{
    return r->w > 0 && r->h > 0 && r->x >= 0 && r->y >= 0 && r->x + r->w <= w && r->y + r->h <= h;
}

static dq_spec_rect_t shrink(dq_spec_rect_t r, int inset)
{
    if (r.w > 2 * inset + 1 && r.h > 2 * inset + 1) {
        r.x += inset;
        r.y += inset;
        r.w -= 2 * inset;
        r.h -= 2 * inset;
    }
    return r;
}

/* One raw value minus the dark frame, in float as the whole-plane code always computed it. */
static inline float raw_at(const dq_spec_src_t *s, size_t k)
{
    float v = s->u ? (float)s->u[k * (size_t)s->channels + (size_t)s->channel] : s->f[k];
    return s->dark ? v - s->dark[k] : v;
}

/* A raw channel read as registration aligns it: value(x, y) = (src - dark) Lanczos-3
 * interpolated at (x + dx, y + dy), edges clamped. The shift is the same for every sample, so
 * its whole pixels and the taps of its fraction are found once. Why: the targets are marked
 * on the reference frame, and a band moved 0.3-2 px by its filter shows them moved too; read
 * where they are, the white surround's inner edge (and the ringing that a sharp edge carries
 * through an optical shift) stays out of the samples, which otherwise tilt the fitted light
 * field by up to 1 % across the object at small scales. */
typedef struct {
    const dq_spec_src_t *s;
    int shifted, ix, iy; /* whole pixels of the shift */
    double kx[6], ky[6]; /* taps of its fraction */
} reader_t;

static reader_t reader(const dq_spec_src_t *s)
{
    reader_t r = {.s = s, .shifted = s->dx != 0 || s->dy != 0};
    if (r.shifted) {
        r.ix = (int)floor(s->dx);
        r.iy = (int)floor(s->dy);
        dq_spec_lanczos_taps(s->dx - r.ix, r.kx);
        dq_spec_lanczos_taps(s->dy - r.iy, r.ky);
    }
    return r;
}

static double sample(const reader_t *r, int x, int y)
{
    const dq_spec_src_t *s = r->s;
    if (!r->shifted)
        return raw_at(s, (size_t)y * s->w + x);
    double v = 0;
    int x0 = x + r->ix - 2, y0 = y + r->iy - 2;
    for (int j = 0; j < 6; j++) {
        int yy = y0 + j;
        yy = yy < 0 ? 0 : yy >= s->h ? s->h - 1 : yy;
        double a = 0;
        for (int i = 0; i < 6; i++) {
            int xx = x0 + i;
            xx = xx < 0 ? 0 : xx >= s->w ? s->w - 1 : xx;
            a += r->kx[i] * raw_at(s, (size_t)yy * s->w + xx);
        }
        v += r->ky[j] * a;
    }
    return v;
}

/* Least-squares quadratic surface through the raw values of rects (subsampled to about
 * 200 000 samples), coefficients into c. */
static int fit_surface(const dq_spec_src_t *px, const dq_spec_rect_t *rects, int n_rects,
                       double c[N_POLY], double *rms, dq_err_t *err)
{
    int w = px->w, h = px->h;
    reader_t rd = reader(px);
    double ata[N_POLY * N_POLY] = {0}, atb[N_POLY] = {0};
    size_t total = 0;
    for (int i = 0; i < n_rects; i++)
        total += (size_t)rects[i].w * (size_t)rects[i].h;
    /* Interpolated samples (a shifted source) cost 36 reads each: 50 000 of them fit six
     * coefficients as well (the shot noise of one is 0.3 % of white). */
    int step = (int)ceil(sqrt((double)total / (rd.shifted ? 50000.0 : 200000.0)));
    if (step < 1)
        step = 1;
    size_t n = 0;
    for (int i = 0; i < n_rects; i++) {
        const dq_spec_rect_t *r = &rects[i];
        for (int y = r->y; y < r->y + r->h; y += step)
            for (int x = r->x; x < r->x + r->w; x += step) {
                double b[N_POLY], v = sample(&rd, x, y);
                basis(x + 0.5, y + 0.5, w, h, b);
                for (int j = 0; j < N_POLY; j++) {
                    atb[j] += b[j] * v;
                    for (int k = 0; k < N_POLY; k++)
                        ata[j * N_POLY + k] += b[j] * b[k];
                }
                n++;
            }
    }
    if (n < 3 * N_POLY)
        return dq_err_set(err, DQ_EINVAL, 0, "white target: only %zu samples", n);
    if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', N_POLY, 1, ata, N_POLY, atb, 1) != 0)
        return dq_err_set(err, DQ_EINVAL, 0,
                          "white target: the samples do not span the frame (flat-field fit)");
    memcpy(c, atb, sizeof(atb));
    /* The fit's residual, relative to the mean white level: how far the light is from the
     * smooth model (and the target from uniform). */
    double ss = 0, sum = 0;
    size_t m = 0;
    for (int i = 0; i < n_rects; i++) {
        const dq_spec_rect_t *r = &rects[i];
        for (int y = r->y; y < r->y + r->h; y += step)
            for (int x = r->x; x < r->x + r->w; x += step) {
                double b[N_POLY], f = 0;
                basis(x + 0.5, y + 0.5, w, h, b);
                for (int j = 0; j < N_POLY; j++)
                    f += c[j] * b[j];
                double d = sample(&rd, x, y) - f;
                ss += d * d;
                sum += f;
                m++;
            }
    }
    *rms = sum > 0 ? sqrt(ss / m) / (sum / m) : 0;
    return 0;
}

/* The light field along row y as a quadratic in u = 2 (x + 0.5) / w - 1: a + b u + c u^2. */
static void row_poly(const dq_spec_calmodel_t *m, int y, double *a, double *b, double *c)
{
    double v = 2.0 * (y + 0.5 - m->oy) / m->h - 1.0;
    *a = m->c[0] + m->c[2] * v + m->c[5] * v * v;
    *b = m->c[1] + m->c[4] * v;
    *c = m->c[3];
}

/* Flat-fielded (before the grey-step line) values of row y, columns x0 .. x0 + n. The
 * hottest loop of `spectral add` (12 % of its CPU on the scroll): DQ_SPEC_AVX2. */
DQ_SPEC_AVX2
static void flat_row(const dq_spec_calmodel_t *m, const dq_spec_src_t *raw, int y, int x0, int n,
                     float *out)
{
    double a, b, c;
    row_poly(m, y, &a, &b, &c);
    double du = 2.0 / m->w, wv = m->white_value;
    size_t k = (size_t)y * raw->w + x0;
    /* The raw row minus dark first (one branch-free loop per source kind), then the light. */
    if (raw->u) {
        const uint16_t *p = raw->u + k * (size_t)raw->channels + (size_t)raw->channel;
        for (int i = 0; i < n; i++, p += raw->channels)
            out[i] = (float)*p;
    } else if (out != raw->f + k) {
        memcpy(out, raw->f + k, (size_t)n * sizeof(float));
    }
    if (raw->dark)
        for (int i = 0; i < n; i++)
            out[i] -= raw->dark[k + (size_t)i];
    for (int i = 0; i < n; i++) {
        double u = (x0 + i + 0.5 - m->ox) * du - 1.0;
        double f = a + u * (b + c * u);
        if (f < 1e-6)
            f = 1e-6;
        out[i] = (float)(out[i] / f * wv);
    }
}

DQ_SPEC_AVX2
void dq_spec_cal_row(const dq_spec_calmodel_t *m, const dq_spec_src_t *raw, int y, int x0, int n,
                     float *out)
{
    flat_row(m, raw, y, x0, n, out);
    if (m->has_line)
        for (int i = 0; i < n; i++)
            out[i] = (float)(m->gain * out[i] + m->offset);
}

static double rect_mean(const dq_spec_calmodel_t *m, const dq_spec_src_t *raw, dq_spec_rect_t r,
                        float *row)
{
    double s = 0;
    if (raw->dx != 0 || raw->dy != 0) {
        /* Aligned samples over the surface where they are (the model has no offset yet). */
        reader_t rd = reader(raw);
        /* Every st-th pixel each way, about 8 000 per step. */
        int st = (int)ceil(sqrt((double)r.w * r.h / 8000.0)), cnt = 0;
        for (int y = r.y; y < r.y + r.h; y += st)
            for (int x = r.x; x < r.x + r.w; x += st, cnt++) {
                double b[N_POLY], f = 0;
                basis(x + 0.5, y + 0.5, m->w, m->h, b);
                for (int j = 0; j < N_POLY; j++)
                    f += m->c[j] * b[j];
                s += sample(&rd, x, y) / (f > 1e-6 ? f : 1e-6) * m->white_value;
            }
        return s / cnt;
    }
    for (int y = r.y; y < r.y + r.h; y++) {
        flat_row(m, raw, y, r.x, r.w, row);
        for (int x = 0; x < r.w; x++)
            s += row[x];
    }
    return s / ((double)r.w * r.h);
}

int dq_spec_cal_fit(const dq_spec_src_t *raw, const dq_spec_src_t *white, double white_value,
                    const dq_spec_rect_t *rects, int n_rects, const dq_spec_step_t *steps,
                    int n_steps, int inset, dq_spec_calmodel_t *m, dq_spec_cal_t *cal,
                    dq_err_t *err)
{
    int w = raw->w, h = raw->h;
    dq_spec_rect_t *rs = NULL;
    float *row = NULL;
    int rc = -1;
    memset(cal, 0, sizeof(*cal));
    memset(m, 0, sizeof(*m));
    cal->gain = 1;
    m->w = w;
    m->h = h;
    m->white_value = white_value;
    m->gain = 1;
    if (!(white_value > 0))
        return dq_err_set(err, DQ_EINVAL, 0, "white reflectance must be > 0");
    for (int i = 0; i < n_rects; i++)
        if (!rect_ok(&rects[i], w, h))
            return dq_err_set(err, DQ_EINVAL, 0, "white rectangle %d outside the %dx%d frame", i,
                              w, h);
    for (int i = 0; i < n_steps; i++)
        if (!rect_ok(&steps[i].rect, w, h))
            return dq_err_set(err, DQ_EINVAL, 0, "grey step %d outside the %dx%d frame", i, w,
                              h);
    if (!white && n_rects < 1)
        return dq_err_set(err, DQ_EINVAL, 0, "no white target and no white frame");
    if (white) {
        dq_spec_rect_t all = {0, 0, w, h};
        if (fit_surface(white, &all, 1, m->c, &cal->flat_rms, err) < 0)
            goto out;
    } else {
        rs = dq_xmalloc((size_t)n_rects * sizeof(*rs));
        for (int i = 0; i < n_rects; i++)
            rs[i] = shrink(rects[i], inset);
        if (fit_surface(raw, rs, n_rects, m->c, &cal->flat_rms, err) < 0)
            goto out;
    }
    /* How uneven the light is over the pixel centres: per row the quadratic in u has its
     * extremes at the ends or at its vertex. */
    double lo = INFINITY, hi = 0, du = 2.0 / w;
    for (int y = 0; y < h; y++) {
        double a, b, c;
        row_poly(m, y, &a, &b, &c);
        int xs[4] = {0, w - 1, 0, 0}, nx = 2;
        if (c != 0) {
            double xv = ((-b / (2 * c)) + 1.0) / du - 0.5;
            if (xv > 0 && xv < w - 1) {
                xs[nx++] = (int)floor(xv);
                xs[nx++] = (int)floor(xv) + 1;
            }
        }
        for (int i = 0; i < nx; i++) {
            double u = (xs[i] + 0.5) * du - 1.0, f = a + u * (b + c * u);
            if (f < lo)
                lo = f;
            if (f > hi)
                hi = f;
        }
    }
    if (!(hi > 0) || lo <= 0) {
        dq_err_set(err, DQ_EINVAL, 0,
                   "the fitted light field is not positive everywhere (white target too dark?)");
        goto out;
    }
    cal->falloff = 1.0 - lo / hi;

    /* Grey steps: reflectance = gain * flat-fielded + offset, least squares over the steps
     * and the white target itself. */
    if (n_steps >= 2) {
        row = dq_xmalloc((size_t)w * sizeof(float));
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int k = 0;
        double ms[64], rf[64];
        for (int i = 0; i < n_steps && k < 63; i++, k++) {
            ms[k] = rect_mean(m, raw, shrink(steps[i].rect, inset), row);
            rf[k] = steps[i].refl;
        }
        if (!white) {
            double s = 0, a = 0;
            for (int i = 0; i < n_rects; i++) {
                dq_spec_rect_t r = shrink(rects[i], inset);
                s += rect_mean(m, raw, r, row) * r.w * r.h;
                a += (double)r.w * r.h;
            }
            ms[k] = s / a;
            rf[k++] = white_value;
        }
        for (int i = 0; i < k; i++) {
            sx += ms[i];
            sy += rf[i];
            sxx += ms[i] * ms[i];
            sxy += ms[i] * rf[i];
        }
        double den = k * sxx - sx * sx;
        if (fabs(den) < 1e-12) {
            dq_err_set(err, DQ_EINVAL, 0, "grey steps all read the same: cannot fit reflectance");
            goto out;
        }
        cal->gain = (k * sxy - sx * sy) / den;
        cal->offset = (sy - cal->gain * sx) / k;
        double ss = 0;
        for (int i = 0; i < k; i++) {
            double d = cal->gain * ms[i] + cal->offset - rf[i];
            ss += d * d;
        }
        cal->grey_rms = sqrt(ss / k);
        cal->n_steps = n_steps;
        m->gain = cal->gain;
        m->offset = cal->offset;
        m->has_line = 1;
    }
    /* Fitted where the registered band shows the targets; the frame's own pixels sit at
     * (x + dx, y + dy) of that. */
    m->ox = raw->dx;
    m->oy = raw->dy;
    rc = 0;
out:
    free(rs);
    free(row);
    return rc;
}

int dq_spec_calibrate(float *px, int w, int h, const float *dark, const float *white,
                      double white_value, const dq_spec_rect_t *rects, int n_rects,
                      const dq_spec_step_t *steps, int n_steps, int inset, dq_spec_cal_t *cal,
                      dq_err_t *err)
{
    dq_spec_src_t r = {.f = px, .dark = dark, .w = w, .h = h};
    dq_spec_src_t wf = {.f = white, .dark = dark, .w = w, .h = h};
    dq_spec_calmodel_t m;
    if (dq_spec_cal_fit(&r, white ? &wf : NULL, white_value, rects, n_rects, steps, n_steps,
                        inset, &m, cal, err) < 0)
        return -1;
    /* In place: each output value depends on its own input only. */
    for (int y = 0; y < h; y++)
        dq_spec_cal_row(&m, &r, y, 0, w, px + (size_t)y * w);
    return 0;
}
