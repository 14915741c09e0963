/*
 * spectral/register.c: subpixel translation between two bands of one capture. Filter
 * changes move the image by a pixel or two (a tilted or wedged filter shifts the beam), so a
 * translation is the whole model. Phase correlation (Kuglin and Hines 1975) is insensitive to
 * the bands' different contrasts because it keeps only the phase of the cross-power
 * spectrum; its integer peak is refined with the matrix-multiply DFT of Guizar-Sicairos,
 * Thurman and Fienup (Opt. Lett. 33(2), 2008), which evaluates the correlation on a fine grid
 * around the peak without padding the whole spectrum. It does not warp anything but a
 * translation, and it does not calibrate.
 */
#include <complex.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "spectral/spectral.h"

/* FFTW's planner is not thread-safe (its manual, "Thread safety"); executing plans is. Plans
 * are made and destroyed under this lock. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

#define MAX_SIDE 512
#define LOWPASS 0.15 /* cycles per pixel: sigma of the cross-power spectrum's weight */

/* ================================================================ one window */

typedef struct {
    int s;               /* window side */
    double *a;           /* s*s real input */
    fftw_complex *fa, *fb; /* s*(s/2+1) spectra */
    double *hann;        /* s weights */
    fftw_plan fwd_a, fwd_b, inv;
    double *cc;          /* s*s correlation */
} win_t;

static void win_free(win_t *w)
{
    pthread_mutex_lock(&planner_lock);
    if (w->fwd_a)
        fftw_destroy_plan(w->fwd_a);
    if (w->fwd_b)
        fftw_destroy_plan(w->fwd_b);
    if (w->inv)
        fftw_destroy_plan(w->inv);
    pthread_mutex_unlock(&planner_lock);
    fftw_free(w->a);
    fftw_free(w->fa);
    fftw_free(w->fb);
    fftw_free(w->cc);
    free(w->hann);
}

static void win_init(win_t *w, int s)
{
    memset(w, 0, sizeof(*w));
    w->s = s;
    size_t nh = (size_t)s * (size_t)(s / 2 + 1);
    w->a = fftw_alloc_real((size_t)s * s);
    w->cc = fftw_alloc_real((size_t)s * s);
    w->fa = fftw_alloc_complex(nh);
    w->fb = fftw_alloc_complex(nh);
    w->hann = dq_xmalloc((size_t)s * sizeof(double));
    for (int i = 0; i < s; i++)
        w->hann[i] = 0.5 - 0.5 * cos(2 * M_PI * (i + 0.5) / s);
    pthread_mutex_lock(&planner_lock);
    w->fwd_a = fftw_plan_dft_r2c_2d(s, s, w->a, w->fa, FFTW_ESTIMATE);
    w->fwd_b = fftw_plan_dft_r2c_2d(s, s, w->a, w->fb, FFTW_ESTIMATE);
    w->inv = fftw_plan_dft_c2r_2d(s, s, w->fb, w->cc, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
}

/* Copies the window at (x0, y0) of img into w->a, mean removed, Hann-weighted. */
static void load(win_t *w, const float *img, int stride, int x0, int y0)
{
    int s = w->s;
    double mean = 0;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++)
            mean += img[(size_t)(y0 + y) * stride + x0 + x];
    mean /= (double)s * s;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++)
            w->a[(size_t)y * s + x] =
                (img[(size_t)(y0 + y) * stride + x0 + x] - mean) * w->hann[x] * w->hann[y];
}

static int freq(int k, int s)
{
    return k < (s + 1) / 2 ? k : k - s;
}

/* The correlation (inverse DFT of the half spectrum spec, s x s) on an n x n grid of points
 * `step` px apart centred on (cx, cy); the best point into (*fx, *fy, *best). Column l of the
 * half spectrum stands for l and -l (weight 2) except 0 and s/2. */
static void refine(const fftw_complex *spec, int s, double cx, double cy, double step, int n,
                   double *fx, double *fy, double *best)
{
    int sh = s / 2 + 1;
    double *gx = dq_xmalloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
        gx[i] = (i - n / 2) * step;
    double complex *t = dq_xmalloc((size_t)s * n * sizeof(double complex));
    double complex *ex = dq_xmalloc((size_t)sh * n * sizeof(double complex));
    double complex *ey = dq_xmalloc((size_t)n * s * sizeof(double complex));
    for (int l = 0; l < sh; l++) {
        double wgt = (l == 0 || (s % 2 == 0 && l == s / 2)) ? 1.0 : 2.0;
        for (int i = 0; i < n; i++)
            ex[(size_t)l * n + i] = wgt * cexp(I * 2 * M_PI * l * (cx + gx[i]) / s);
    }
    /* The row phases, once per (grid row, frequency): cexp is far dearer than a multiply. */
    for (int j = 0; j < n; j++)
        for (int k = 0; k < s; k++)
            ey[(size_t)j * s + k] = cexp(I * 2 * M_PI * freq(k, s) * (cy + gx[j]) / s);
    for (int k = 0; k < s; k++)
        for (int i = 0; i < n; i++) {
            double complex acc = 0;
            const fftw_complex *row = spec + (size_t)k * sh;
            for (int l = 0; l < sh; l++)
                acc += row[l] * ex[(size_t)l * n + i];
            t[(size_t)k * n + i] = acc;
        }
    *best = -INFINITY;
    *fx = cx;
    *fy = cy;
    for (int j = 0; j < n; j++) {
        const double complex *ej = ey + (size_t)j * s;
        for (int i = 0; i < n; i++) {
            double complex acc = 0;
            for (int k = 0; k < s; k++)
                acc += t[(size_t)k * n + i] * ej[k];
            double v = creal(acc);
            if (v > *best) {
                *best = v;
                *fx = cx + gx[i];
                *fy = cy + gx[j];
            }
        }
    }
    free(gx);
    free(t);
    free(ex);
    free(ey);
}

/* Correlation of one window pair: (dx, dy) and the peak height. */
static void correlate(win_t *w, const float *ref, const float *mov, int stride, int upsample,
                      double *dx, double *dy, double *peak)
{
    int s = w->s, sh = s / 2 + 1;
    size_t nh = (size_t)s * sh;
    load(w, ref, stride, 0, 0);
    fftw_execute(w->fwd_a);
    load(w, mov, stride, 0, 0);
    fftw_execute(w->fwd_b);
    /* Normalised cross-power spectrum, kept in fb: R = B conj(A) / |B conj(A)|, weighted by a
     * Gaussian low-pass. The highest frequencies carry noise, aliasing and the phase errors
     * of whatever interpolation moved the image (a cubic kernel's response is not a pure
     * phase near Nyquist), which bias a sub-pixel peak; below ~0.2 cycles/px the phase of a
     * translation is clean. */
    for (int ky = 0; ky < s; ky++) {
        double fy = (double)freq(ky, s) / s;
        for (int kx = 0; kx < sh; kx++) {
            size_t i = (size_t)ky * sh + kx;
            double fx = (double)kx / s;
            /* <complex.h> comes first, so fftw_complex is C99's double complex. */
            double complex r = w->fb[i] * conj(w->fa[i]);
            double m = cabs(r);
            double g = exp(-(fx * fx + fy * fy) / (2 * LOWPASS * LOWPASS));
            w->fb[i] = m > 1e-20 ? g * r / m : 0;
        }
    }
    fftw_complex *spec = fftw_alloc_complex(nh);
    memcpy(spec, w->fb, nh * sizeof(fftw_complex));
    fftw_execute(w->inv); /* destroys fb; spec keeps R */
    int bx = 0, by = 0;
    double best = -INFINITY;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++)
            if (w->cc[(size_t)y * s + x] > best) {
                best = w->cc[(size_t)y * s + x];
                bx = x;
                by = y;
            }
    double cx = freq(bx, s), cy = freq(by, s);

    /* Two upsampled DFTs: 1/10 px over +-0.7 px around the integer peak, then 1/upsample px
     * over +-0.1 px around the best of those (Guizar-Sicairos et al.'s refinement, done in two
     * steps so that the cost does not grow with the square of the upsampling factor). */
    double fx, fy, fbest;
    refine(spec, s, cx, cy, 0.1, 15, &fx, &fy, &fbest);
    if (upsample > 10)
        refine(spec, s, fx, fy, 1.0 / upsample, 2 * (int)ceil(0.1 * upsample) + 1, &fx, &fy,
               &fbest);
    *dx = fx;
    *dy = fy;
    *peak = fbest / ((double)s * s);
    fftw_free(spec);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int dq_spec_reg_windows(int w, int h, int max_windows, dq_spec_rect_t wins[15], int *side,
                        dq_err_t *err)
{
    if (w < 16 || h < 16)
        return dq_err_set(err, DQ_EINVAL, 0, "image %dx%d too small to register (16x16)", w, h);
    if (max_windows < 1)
        max_windows = 1;
    if (max_windows > 15)
        max_windows = 15;
    int s = DQ_MIN(MAX_SIDE, DQ_MIN(w, h)) & ~1;
    int along = DQ_MAX(w, h);
    int nwin = DQ_MAX(1, DQ_MIN(max_windows, along / s));
    for (int i = 0; i < nwin; i++) {
        int c = (int)((i + 0.5) * along / nwin);
        int x0, y0;
        if (w >= h) {
            x0 = DQ_MIN(DQ_MAX(0, c - s / 2), w - s);
            y0 = (h - s) / 2;
        } else {
            y0 = DQ_MIN(DQ_MAX(0, c - s / 2), h - s);
            x0 = (w - s) / 2;
        }
        wins[i] = (dq_spec_rect_t){x0, y0, s, s};
    }
    *side = s;
    return nwin;
}

/* The median shift over n window pairs: ref[i], mov[i] at `stride` floats a row. */
static void register_core(const float *const *ref, const float *const *mov, int stride, int n,
                          int side, int upsample, double *dx, double *dy, double *peak)
{
    if (upsample < 1)
        upsample = 1;
    win_t win;
    win_init(&win, side);
    double xs[15], ys[15], pk = 0;
    for (int i = 0; i < n; i++) {
        double p;
        correlate(&win, ref[i], mov[i], stride, upsample, &xs[i], &ys[i], &p);
        pk += p;
    }
    win_free(&win);
    qsort(xs, (size_t)n, sizeof(double), cmp_double);
    qsort(ys, (size_t)n, sizeof(double), cmp_double);
    *dx = n % 2 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
    *dy = n % 2 ? ys[n / 2] : 0.5 * (ys[n / 2 - 1] + ys[n / 2]);
    if (peak)
        *peak = pk / n;
}

void dq_spec_register_windows(const float *const *ref, const float *const *mov, int n, int side,
                              int upsample, double *dx, double *dy, double *peak)
{
    register_core(ref, mov, side, n, side, upsample, dx, dy, peak);
}

int dq_spec_register(const float *ref, const float *mov, int w, int h, int max_windows,
                     int upsample, double *dx, double *dy, double *peak, dq_err_t *err)
{
    dq_spec_rect_t wins[15];
    int side, n = dq_spec_reg_windows(w, h, max_windows, wins, &side, err);
    if (n < 0)
        return -1;
    const float *r[15], *m[15];
    for (int i = 0; i < n; i++) {
        size_t o = (size_t)wins[i].y * w + wins[i].x;
        r[i] = ref + o;
        m[i] = mov + o;
    }
    register_core(r, m, w, n, side, upsample, dx, dy, peak);
    return 0;
}

/* ================================================================ resampling */

static double lanczos3(double x)
{
    x = fabs(x);
    if (x < 1e-9)
        return 1;
    if (x >= 3)
        return 0;
    double px = M_PI * x;
    return 3 * sin(px) * sin(px / 3) / (px * px);
}

/* The 6 normalised taps for a fractional offset f (sample at i + f): taps for i-2 .. i+3. */
void dq_spec_lanczos_taps(double f, double k[6])
{
    double s = 0;
    for (int j = 0; j < 6; j++) {
        k[j] = lanczos3(f - (j - 2));
        s += k[j];
    }
    for (int j = 0; j < 6; j++)
        k[j] /= s;
}

/* State of a streamed resampling: a ring of horizontally filtered rows keyed by source row. */
typedef struct {
    const float *src;
    float *dst;
    int w;
} plane_io_t;

static void plane_row(void *ud, int y, float *buf)
{
    plane_io_t *p = ud;
    memcpy(buf, p->src + (size_t)y * p->w, (size_t)p->w * sizeof(float));
}

static void plane_emit(void *ud, int y, const float *out)
{
    plane_io_t *p = ud;
    memcpy(p->dst + (size_t)y * p->w, out, (size_t)p->w * sizeof(float));
}

void dq_spec_unshift(const float *src, float *dst, int w, int h, double dx, double dy)
{
    plane_io_t io = {src, dst, w};
    dq_spec_unshift_rows(plane_row, plane_emit, &io, w, h, dx, dy, (dq_spec_rect_t){0, 0, w, h});
}

#define RING 8 /* > the 6 rows one output row needs, so a window of them never collides */

DQ_SPEC_AVX2
void dq_spec_unshift_rows(void (*row)(void *ud, int y, float *buf),
                          void (*emit)(void *ud, int y, const float *out), void *ud, int w,
                          int h, double dx, double dy, dq_spec_rect_t crop)
{
    float *in = dq_xmalloc((size_t)w * sizeof(float));
    float *out = dq_xmalloc((size_t)crop.w * sizeof(float));
    if (dx == 0 && dy == 0) {
        /* Nothing to resample (the reference band): the crop as it is. */
        for (int y = 0; y < crop.h; y++) {
            row(ud, crop.y + y, in);
            emit(ud, y, in + crop.x);
        }
        free(in);
        free(out);
        return;
    }
    float *ring = dq_xmalloc((size_t)RING * crop.w * sizeof(float));
    int tag[RING];
    for (int i = 0; i < RING; i++)
        tag[i] = -1;
    int ix = (int)floor(dx), iy = (int)floor(dy);
    double kx[6], ky[6];
    dq_spec_lanczos_taps(dx - ix, kx);
    dq_spec_lanczos_taps(dy - iy, ky);
    for (int y = crop.y; y < crop.y + crop.h; y++) {
        const float *r[6];
        for (int j = 0; j < 6; j++) {
            int yy = y + iy + j - 2;
            yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
            float *t = ring + (size_t)(yy % RING) * crop.w;
            if (tag[yy % RING] != yy) {
                /* Horizontal pass of source row yy, over the crop's columns only. */
                row(ud, yy, in);
                for (int x = 0; x < crop.w; x++) {
                    int x0 = crop.x + x + ix - 2;
                    double v = 0;
                    if (x0 >= 0 && x0 + 5 < w) {
                        /* Inside: no clamping, the same sums in the same order. */
                        const float *q = in + x0;
                        v = kx[0] * q[0];
                        v += kx[1] * q[1];
                        v += kx[2] * q[2];
                        v += kx[3] * q[3];
                        v += kx[4] * q[4];
                        v += kx[5] * q[5];
                    } else {
                        for (int k = 0; k < 6; k++) {
                            int xx = x0 + k;
                            xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
                            v += kx[k] * in[xx];
                        }
                    }
                    t[x] = (float)v;
                }
                tag[yy % RING] = yy;
            }
            r[j] = t;
        }
        for (int x = 0; x < crop.w; x++) {
            double v = ky[0] * r[0][x];
            v += ky[1] * r[1][x];
            v += ky[2] * r[2][x];
            v += ky[3] * r[3][x];
            v += ky[4] * r[4][x];
            v += ky[5] * r[5][x];
            out[x] = (float)v;
        }
        emit(ud, y - crop.y, out);
    }
    free(ring);
    free(in);
    free(out);
}
