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

/* Least-squares quadratic surface through the pixels of rects (subsampled to about 200 000
 * samples), coefficients into c. */
static int fit_surface(const float *px, int w, int h, const dq_spec_rect_t *rects, int n_rects,
                       double c[N_POLY], double *rms, dq_err_t *err)
{
    double ata[N_POLY * N_POLY] = {0}, atb[N_POLY] = {0};
    size_t total = 0;
    for (int i = 0; i < n_rects; i++)
        total += (size_t)rects[i].w * (size_t)rects[i].h;
    int step = (int)ceil(sqrt((double)total / 200000.0));
    if (step < 1)
        step = 1;
    size_t n = 0;
    for (int i = 0; i < n_rects; i++) {
        const dq_spec_rect_t *r = &rects[i];
        for (int y = r->y; y < r->y + r->h; y += step)
            for (int x = r->x; x < r->x + r->w; x += step) {
                double b[N_POLY], v = px[(size_t)y * w + x];
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
                double d = px[(size_t)y * w + x] - f;
                ss += d * d;
                sum += f;
                m++;
            }
    }
    *rms = sum > 0 ? sqrt(ss / m) / (sum / m) : 0;
    return 0;
}

static double rect_mean(const float *px, int w, dq_spec_rect_t r)
{
    double s = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++)
            s += px[(size_t)y * w + x];
    return s / ((double)r.w * r.h);
}

int dq_spec_calibrate(float *px, int w, int h, const float *dark, const float *white,
                      double white_value, const dq_spec_rect_t *rects, int n_rects,
                      const dq_spec_step_t *steps, int n_steps, int inset, dq_spec_cal_t *cal,
                      dq_err_t *err)
{
    size_t n = (size_t)w * (size_t)h;
    float *wf = NULL;
    dq_spec_rect_t *rs = NULL;
    int rc = -1;
    memset(cal, 0, sizeof(*cal));
    cal->gain = 1;
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
    if (dark)
        for (size_t i = 0; i < n; i++)
            px[i] -= dark[i];

    double c[N_POLY];
    if (white) {
        wf = dq_xmalloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            wf[i] = white[i] - (dark ? dark[i] : 0.0f);
        dq_spec_rect_t all = {0, 0, w, h};
        if (fit_surface(wf, w, h, &all, 1, c, &cal->flat_rms, err) < 0)
            goto out;
    } else {
        rs = dq_xmalloc((size_t)n_rects * sizeof(*rs));
        for (int i = 0; i < n_rects; i++)
            rs[i] = shrink(rects[i], inset);
        if (fit_surface(px, w, h, rs, n_rects, c, &cal->flat_rms, err) < 0)
            goto out;
    }
    /* Divide by the light field; report how uneven it was. */
    double lo = INFINITY, hi = 0;
    for (int y = 0; y < h; y++) {
        double b[N_POLY];
        for (int x = 0; x < w; x++) {
            basis(x + 0.5, y + 0.5, w, h, b);
            double f = 0;
            for (int j = 0; j < N_POLY; j++)
                f += c[j] * b[j];
            if (f < lo)
                lo = f;
            if (f > hi)
                hi = f;
            if (f < 1e-6)
                f = 1e-6;
            px[(size_t)y * w + x] = (float)(px[(size_t)y * w + x] / f * white_value);
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
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int m = 0;
        double ms[64], rf[64];
        for (int i = 0; i < n_steps && m < 63; i++, m++) {
            ms[m] = rect_mean(px, w, shrink(steps[i].rect, inset));
            rf[m] = steps[i].refl;
        }
        if (!white) {
            double s = 0, a = 0;
            for (int i = 0; i < n_rects; i++) {
                dq_spec_rect_t r = shrink(rects[i], inset);
                s += rect_mean(px, w, r) * r.w * r.h;
                a += (double)r.w * r.h;
            }
            ms[m] = s / a;
            rf[m++] = white_value;
        }
        for (int i = 0; i < m; i++) {
            sx += ms[i];
            sy += rf[i];
            sxx += ms[i] * ms[i];
            sxy += ms[i] * rf[i];
        }
        double den = m * sxx - sx * sx;
        if (fabs(den) < 1e-12) {
            dq_err_set(err, DQ_EINVAL, 0, "grey steps all read the same: cannot fit reflectance");
            goto out;
        }
        cal->gain = (m * sxy - sx * sy) / den;
        cal->offset = (sy - cal->gain * sx) / m;
        double ss = 0;
        for (int i = 0; i < m; i++) {
            double d = cal->gain * ms[i] + cal->offset - rf[i];
            ss += d * d;
        }
        cal->grey_rms = sqrt(ss / m);
        cal->n_steps = n_steps;
        for (size_t i = 0; i < n; i++)
            px[i] = (float)(cal->gain * px[i] + cal->offset);
    }
    rc = 0;
out:
    free(wf);
    free(rs);
    return rc;
}
