/*
 * spectral/unmix.c: pigment identification that handles mixtures. A pixel of a painting is
 * rarely one pigment: washes are thin over the support, colour lies under ink, stroke edges
 * are partial. Matching a pixel's spectrum to the nearest library spectrum (spectral angle or
 * Euclidean distance) then picks whatever library entry happens to resemble the mixture.
 * Instead each pixel gets the linear mixture model that fits best among many small ones
 * (MESMA, multiple endmember spectral mixture analysis: Roberts et al., Remote Sens. Environ.
 * 65, 1998): support + carbon ink + one candidate pigment, each fitted with the abundances
 * non-negative and summing to one (fully constrained least squares: Heinz and Chang, IEEE
 * TGRS 39(3), 2001). With six broad bands, unmixing against the whole library at once would be
 * hopelessly underdetermined; three endmembers at a time is well posed, and the fitted
 * fractions say how much of the pixel is pigment. Pigment over pigment (a glaze) is the same
 * linear model with two pigments, drawn from the pigments that the image itself shows pure
 * (count-based endmember selection), and chosen per pixel by residual plus a BIC price on the
 * noise measured in the image, so that pure pixels stay pure and a library look-alike of a
 * mixture does not win. The support itself is a family from the image (its clean pixels' mean
 * and two principal axes: old paper and silk tone towards their edges), so that a yellowed
 * edge is not a thin orpiment wash. It does not read images or write files.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "spectral/spectral.h"

#include <unistd.h>

#define CSV_NAME "hyppigments_selected_mean.csv"
#define MAX_WL 512
#define MAX_COLS 512

/* The carbon blacks that make the ink endmember; every black family is left out of the
 * pigment candidates (they are ink, not colour). */
static const char *const ink_cols[] = {"bistre_soot_sh1", "ivory_black_sh1", "grape_black_sh1"};
static const char *const black_families[] = {"atramentum_black", "bistre_soot", "ivory_black",
                                             "grape_black"};

void dq_spec_default_library(char *out, size_t len)
{
    snprintf(out, len, "data-src/pigments");
    if (access("data-src/pigments/" CSV_NAME, R_OK) == 0)
        return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%.*s/../data-src/pigments", (int)(len > 40 ? len - 40 : 1), exe);
}

void dq_spec_family(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    const char *us = strrchr(name, '_');
    if (us && us[1] == 's' && us[2] == 'h' && us[3] >= '0' && us[3] <= '9')
        n = (size_t)(us - name);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, name, n);
    out[n] = '\0';
}

static double smooth01(double e0, double e1, double x)
{
    double t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

/* Basic lead carbonate: bright and flat through the visible and NIR with its absorption edge
 * in the near UV (below about 420 nm). Not in the measured dataset. */
static double lead_white(double nm)
{
    return 0.20 + 0.72 * smooth01(370, 430, nm);
}

static double interp(const double *wl, const double *v, int n, double nm)
{
    if (nm <= wl[0])
        return v[0];
    for (int i = 1; i < n; i++)
        if (nm <= wl[i]) {
            double t = (nm - wl[i - 1]) / (wl[i] - wl[i - 1]);
            return v[i - 1] + t * (v[i] - v[i - 1]);
        }
    return v[n - 1];
}

void dq_spec_lib_free(dq_spec_lib_t *lib)
{
    if (!lib)
        return;
    free(lib->names);
    free(lib->refl);
    free(lib->wl);
    free(lib->curves);
    memset(lib, 0, sizeof(*lib));
}

struct dq_spec_table {
    char *path;
    int n_cols, n_rows;
    char **cols;  /* n_cols names; column 0 is the wavelength */
    double *data; /* [row][col] */
};

void dq_spec_table_free(dq_spec_table_t *t)
{
    if (!t)
        return;
    if (t->cols)
        for (int c = 0; c < t->n_cols; c++)
            free(t->cols[c]);
    free(t->cols);
    free(t->data);
    free(t->path);
    free(t);
}

dq_spec_table_t *dq_spec_table_load(const char *dir, dq_err_t *err)
{
    dq_buf_t b = {0};
    dq_spec_table_t *t = dq_xcalloc(1, sizeof(*t));
    int rc = -1;
    t->path = dq_xasprintf("%s/%s", dir, CSV_NAME);
    const char *path = t->path;
    if (dq_fs_read_file(path, 16u << 20, &b, err) < 0)
        goto out;
    /* Header: names. */
    char *p = b.data, *eol = strchr(p, '\n');
    if (!eol) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: no header line", path);
        goto out;
    }
    t->cols = dq_xcalloc(MAX_COLS, sizeof(char *));
    for (char *q = p; q < eol && t->n_cols < MAX_COLS;) {
        char *e = q;
        while (e < eol && *e != ',' && *e != '\r')
            e++;
        t->cols[t->n_cols++] = dq_xstrndup(q, (size_t)(e - q));
        q = e + 1;
        if (e < eol && *e == '\r')
            break;
    }
    int n_cols = t->n_cols;
    if (n_cols < 2) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: no pigment columns", path);
        goto out;
    }
    t->data = dq_xmalloc((size_t)MAX_WL * n_cols * sizeof(double));
    p = eol + 1;
    while (*p && t->n_rows < MAX_WL) {
        eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        if (eol - p > 1) {
            char *q = p;
            for (int c = 0; c < n_cols; c++) {
                char *end;
                errno = 0;
                double v = strtod(q, &end);
                if (end == q || errno) {
                    dq_err_set(err, DQ_EINVAL, 0, "%s: bad number in row %d column %d", path,
                               t->n_rows + 2, c + 1);
                    goto out;
                }
                t->data[(size_t)t->n_rows * n_cols + c] = v;
                q = end;
                if (*q == ',')
                    q++;
            }
            t->n_rows++;
        }
        p = *eol ? eol + 1 : eol;
    }
    if (t->n_rows < 8) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: only %d wavelengths", path, t->n_rows);
        goto out;
    }
    rc = 0;
out:
    dq_buf_free(&b);
    if (rc < 0) {
        dq_spec_table_free(t);
        return NULL;
    }
    return t;
}

int dq_spec_lib_sample(dq_spec_lib_t *lib, const dq_spec_table_t *t, const double *nm,
                       int n_bands, dq_err_t *err)
{
    const char *path = t->path;
    int n_cols = t->n_cols, n_rows = t->n_rows, rc = -1;
    const double *data = t->data;
    char **cols = t->cols;
    memset(lib, 0, sizeof(*lib));
    if (n_bands < 2 || n_bands > DQ_SPEC_MAX_BANDS)
        return dq_err_set(err, DQ_EINVAL, 0, "%d reflectance bands (2..%d needed)", n_bands,
                          DQ_SPEC_MAX_BANDS);
    double lo = data[0], hi = data[(size_t)(n_rows - 1) * n_cols];
    for (int i = 0; i < n_bands; i++)
        if (nm[i] < lo - 1e-9 || nm[i] > hi + 1e-9) {
            dq_err_set(err, DQ_EINVAL, 0,
                       "band at %g nm is outside the library's %g..%g nm", nm[i], lo, hi);
            goto out;
        }
    lib->n_bands = n_bands;
    memcpy(lib->nm, nm, (size_t)n_bands * sizeof(double));
    lib->n_wl = n_rows;
    lib->wl = dq_xmalloc((size_t)n_rows * sizeof(double));
    for (int r = 0; r < n_rows; r++)
        lib->wl[r] = data[(size_t)r * n_cols];
    lib->names = dq_xcalloc((size_t)n_cols + 1, sizeof(*lib->names));
    lib->refl = dq_xcalloc((size_t)(n_cols + 1) * n_bands, sizeof(double));
    lib->curves = dq_xcalloc((size_t)(n_cols + 2) * n_rows, sizeof(double));
    double *col = dq_xmalloc((size_t)n_rows * sizeof(double));
    double *ink_curve = dq_xcalloc((size_t)n_rows, sizeof(double));
    int n_ink = 0;
    for (int c = 1; c < n_cols; c++) {
        for (int r = 0; r < n_rows; r++)
            col[r] = data[(size_t)r * n_cols + c];
        for (size_t k = 0; k < DQ_ARRAY_LEN(ink_cols); k++)
            if (strcmp(cols[c], ink_cols[k]) == 0) {
                for (int r = 0; r < n_rows; r++)
                    ink_curve[r] += col[r];
                n_ink++;
            }
        char fam[DQ_SPEC_NAME];
        dq_spec_family(cols[c], fam, sizeof(fam));
        int black = 0;
        for (size_t k = 0; k < DQ_ARRAY_LEN(black_families); k++)
            black |= strcmp(fam, black_families[k]) == 0;
        if (black)
            continue;
        int k = lib->n_pig++;
        snprintf(lib->names[k], DQ_SPEC_NAME, "%s", cols[c]);
        for (int i = 0; i < n_bands; i++)
            lib->refl[(size_t)k * n_bands + i] = interp(lib->wl, col, n_rows, nm[i]);
        memcpy(lib->curves + (size_t)k * n_rows, col, (size_t)n_rows * sizeof(double));
    }
    free(col);
    int k = lib->n_pig++;
    snprintf(lib->names[k], DQ_SPEC_NAME, "lead_white");
    for (int i = 0; i < n_bands; i++)
        lib->refl[(size_t)k * n_bands + i] = lead_white(nm[i]);
    for (int r = 0; r < n_rows; r++)
        lib->curves[(size_t)k * n_rows + r] = lead_white(lib->wl[r]);
    if (n_ink == 0) {
        free(ink_curve);
        dq_err_set(err, DQ_EINVAL, 0, "%s: none of the carbon black columns (bistre_soot_sh1...)",
                   path);
        goto out;
    }
    for (int r = 0; r < n_rows; r++)
        lib->curves[(size_t)lib->n_pig * n_rows + r] = ink_curve[r] / n_ink;
    for (int i = 0; i < n_bands; i++)
        lib->ink[i] = interp(lib->wl, lib->curves + (size_t)lib->n_pig * n_rows, n_rows, nm[i]);
    free(ink_curve);
    rc = 0;
out:
    if (rc < 0)
        dq_spec_lib_free(lib);
    return rc;
}

int dq_spec_lib_load(dq_spec_lib_t *lib, const char *dir, const double *nm, int n_bands,
                     dq_err_t *err)
{
    memset(lib, 0, sizeof(*lib));
    /* The band count first, as before the table existed: no file read for a bad request. */
    if (n_bands < 2 || n_bands > DQ_SPEC_MAX_BANDS)
        return dq_err_set(err, DQ_EINVAL, 0, "%d reflectance bands (2..%d needed)", n_bands,
                          DQ_SPEC_MAX_BANDS);
    dq_spec_table_t *t = dq_spec_table_load(dir, err);
    if (!t)
        return -1;
    int rc = dq_spec_lib_sample(lib, t, nm, n_bands, err);
    dq_spec_table_free(t);
    return rc;
}

/* ================================================================ the 3-endmember FCLS */

/* One candidate model: v = P - S and its dot products with u = K - S. */
typedef struct {
    double v[DQ_SPEC_MAX_BANDS];
    double uv, vv, det;
} model_t;

typedef struct {
    int n;             /* bands */
    int n_models;
    model_t *m;
    int *fam;          /* family index per model */
    double S[DQ_SPEC_MAX_BANDS], u[DQ_SPEC_MAX_BANDS], uu;
    /* The same models as arrays over k (vT[i * n_models + k] = m[k].v[i]), for all_models():
     * one pass over every model per pixel that the compiler can vectorise. */
    double *vT, *uv, *vv, *det;
} mesma_t;

static void mesma_init(mesma_t *ms, const dq_spec_lib_t *lib, const double *support,
                       const uint8_t *use_band)
{
    memset(ms, 0, sizeof(*ms));
    ms->n = lib->n_bands;
    ms->n_models = lib->n_pig;
    ms->m = dq_xcalloc((size_t)lib->n_pig, sizeof(model_t));
    ms->fam = dq_xcalloc((size_t)lib->n_pig, sizeof(int));
    for (int i = 0; i < ms->n; i++) {
        double on = use_band && !use_band[i] ? 0 : 1;
        ms->S[i] = support[i];
        ms->u[i] = on * (lib->ink[i] - support[i]);
        ms->uu += ms->u[i] * ms->u[i];
    }
    for (int k = 0; k < lib->n_pig; k++) {
        model_t *m = &ms->m[k];
        for (int i = 0; i < ms->n; i++) {
            double on = use_band && !use_band[i] ? 0 : 1;
            m->v[i] = on * (lib->refl[(size_t)k * ms->n + i] - support[i]);
            m->uv += ms->u[i] * m->v[i];
            m->vv += m->v[i] * m->v[i];
        }
        m->det = ms->uu * m->vv - m->uv * m->uv;
        char fk[DQ_SPEC_NAME];
        dq_spec_family(lib->names[k], fk, sizeof(fk));
        ms->fam[k] = k;
        for (int j = 0; j < k; j++) {
            char fj[DQ_SPEC_NAME];
            dq_spec_family(lib->names[j], fj, sizeof(fj));
            if (strcmp(fj, fk) == 0) {
                ms->fam[k] = ms->fam[j];
                break;
            }
        }
    }
    size_t nm = (size_t)(ms->n_models > 0 ? ms->n_models : 1);
    ms->vT = dq_xmalloc((size_t)ms->n * nm * sizeof(double));
    ms->uv = dq_xmalloc(nm * sizeof(double));
    ms->vv = dq_xmalloc(nm * sizeof(double));
    ms->det = dq_xmalloc(nm * sizeof(double));
    for (int k = 0; k < ms->n_models; k++) {
        for (int i = 0; i < ms->n; i++)
            ms->vT[(size_t)i * nm + k] = ms->m[k].v[i];
        ms->uv[k] = ms->m[k].uv;
        ms->vv[k] = ms->m[k].vv;
        ms->det[k] = ms->m[k].det;
    }
}

static void mesma_free(mesma_t *ms)
{
    free(ms->m);
    free(ms->fam);
    free(ms->vT);
    free(ms->uv);
    free(ms->vv);
    free(ms->det);
}

/* The objective ||y - ak u - ap v||^2 from dot products. */
static double obj(double yy, double uy, double vy, double uu, double uv, double vv, double ak,
                  double ap)
{
    return yy - 2 * (ak * uy + ap * vy) + ak * ak * uu + 2 * ak * ap * uv + ap * ap * vv;
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Solves model m for a pixel given yy = y.y and uy = u.y (y = r - S): the exact minimum on
 * the triangle ak, ap >= 0, ak + ap <= 1. Returns the squared residual. */
static double solve(const mesma_t *ms, const model_t *m, const double *y, double yy, double uy,
                    double *ak, double *ap)
{
    double vy = 0;
    for (int i = 0; i < ms->n; i++)
        vy += m->v[i] * y[i];
    double uu = ms->uu, uv = m->uv, vv = m->vv;
    if (m->det > 1e-14 * (uu * vv + 1e-30)) {
        double a = (vv * uy - uv * vy) / m->det, b = (uu * vy - uv * uy) / m->det;
        if (a >= 0 && b >= 0 && a + b <= 1) {
            *ak = a;
            *ap = b;
            return obj(yy, uy, vy, uu, uv, vv, a, b);
        }
    }
    /* On the boundary: the best of the three edges. */
    double best, ba, bb;
    double t = vv > 0 ? clamp01(vy / vv) : 0; /* ak = 0 */
    best = obj(yy, uy, vy, uu, uv, vv, 0, t);
    ba = 0;
    bb = t;
    t = uu > 0 ? clamp01(uy / uu) : 0; /* ap = 0 */
    double f = obj(yy, uy, vy, uu, uv, vv, t, 0);
    if (f < best) {
        best = f;
        ba = t;
        bb = 0;
    }
    double dd = vv - 2 * uv + uu; /* ak + ap = 1, ap = t */
    t = dd > 0 ? clamp01((vy - uy - uv + uu) / dd) : 0;
    f = obj(yy, uy, vy, uu, uv, vv, 1 - t, t);
    if (f < best) {
        best = f;
        ba = 1 - t;
        bb = t;
    }
    *ak = ba;
    *ap = bb;
    return best < 0 ? 0 : best;
}

/* solve() for every model at once, into f[k], ak[k], ap[k] (vy[k] is scratch). The same
 * arithmetic in the same order as solve(), so the same doubles; written without branches (every
 * candidate is computed and the right one selected) so that the compiler vectorises the loops
 * over k: a pixel's ~100 models then cost a few passes over short arrays instead of ~100
 * unpredictable branches each. */
/* AVX2 doubles the vector width where the CPU has it (chosen at load time by GCC's function
 * multiversioning); the same operations either way, so the same results (no FMA). Not under
 * ASan, whose start-up does not expect ifunc resolvers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define DQ_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define DQ_MULTIVERSION
#endif

DQ_MULTIVERSION
static void all_models(const mesma_t *ms, const double *y, double yy, double uy,
                       double *restrict vy, double *restrict f, double *restrict ak,
                       double *restrict ap)
{
    int nk = ms->n_models;
    double uu = ms->uu;
    const double *restrict muv = ms->uv, *restrict mvv = ms->vv, *restrict mdet = ms->det;
    for (int k = 0; k < nk; k++)
        vy[k] = 0;
    for (int i = 0; i < ms->n; i++) {
        const double *restrict vt = ms->vT + (size_t)i * nk;
        double yi = y[i];
        for (int k = 0; k < nk; k++)
            vy[k] += vt[k] * yi;
    }
    /* ak = 0 edge's partner: independent of the model. */
    double t2 = uu > 0 ? clamp01(uy / uu) : 0;
    for (int k = 0; k < nk; k++) {
        double uv = muv[k], vv = mvv[k], det = mdet[k], v = vy[k];
        double a = (vv * uy - uv * v) / det, b = (uu * v - uv * uy) / det;
        /* & and single selects, not && and nested ?: (which would be branches). */
        long in = (det > 1e-14 * (uu * vv + 1e-30)) & (a >= 0) & (b >= 0) & (a + b <= 1);
        double fi = obj(yy, uy, v, uu, uv, vv, a, b);
        double t = v / vv;
        t = t < 0 ? 0 : t;
        t = t > 1 ? 1 : t;
        t = vv > 0 ? t : 0;
        double best = obj(yy, uy, v, uu, uv, vv, 0, t), ba = 0, bb = t;
        double f2 = obj(yy, uy, v, uu, uv, vv, t2, 0);
        long w2 = f2 < best;
        best = w2 ? f2 : best;
        ba = w2 ? t2 : ba;
        bb = w2 ? 0 : bb;
        double dd = vv - 2 * uv + uu;
        double t3 = (v - uy - uv + uu) / dd;
        t3 = t3 < 0 ? 0 : t3;
        t3 = t3 > 1 ? 1 : t3;
        t3 = dd > 0 ? t3 : 0;
        double f3 = obj(yy, uy, v, uu, uv, vv, 1 - t3, t3);
        long w3 = f3 < best;
        best = w3 ? f3 : best;
        ba = w3 ? 1 - t3 : ba;
        bb = w3 ? t3 : bb;
        best = best < 0 ? 0 : best;
        f[k] = in ? fi : best;
        ak[k] = in ? a : ba;
        ap[k] = in ? b : bb;
    }
}

/* ================================================================ pigment map */

void dq_spec_map_free(dq_spec_map_t *map)
{
    if (!map)
        return;
    free(map->label);
    free(map->conf);
    free(map->cover);
    free(map->ink);
    free(map->best);
    free(map->best2);
    memset(map, 0, sizeof(*map));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Spectral angle in degrees between a and b (n bands); 90 where either is all zero. */
static double support_angle(const double *a, const double *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    if (aa <= 0 || bb <= 0)
        return 90;
    double c = ab / sqrt(aa * bb);
    return acos(c > 1 ? 1 : c < -1 ? -1 : c) * (180 / M_PI);
}

/* The support endmember: per-band median over the brightest tenth of (subsampled) pixels.
 * Paper and silk are the brightest thing in most pictures, but lead white is brighter still:
 * where it covers about a tenth of the image that median is lead white, or a blend of lead
 * white and paper, and every bare pixel is read as a pigment over it. So the bright pixels
 * (the brightest 30 %) are also grouped by their spectral angle to the library's lead_white:
 * the most populated angle (0.25 degree bins, counted over +-1 degree) is the bright majority,
 * the support. Only when the first median lies more than DQ_SPEC_SUPPORT_LW_ANGLE closer to
 * lead white than that majority is S replaced by the majority's per-band median (pixels within
 * 1.5 degrees of the mode); elsewhere S is exactly what it always was. Fills map's support,
 * support_lw_angle, support_mode_angle and support_moved. */
static void support_endmember(const float *const *planes, int n, size_t npx,
                              const dq_spec_lib_t *lib, dq_spec_map_t *map)
{
    enum { NBIN = 360 }; /* 0.25 degree bins over 0..90 */
    size_t step = npx > 400000 ? npx / 400000 : 1, m = (npx + step - 1) / step;
    float *br = dq_xmalloc(m * sizeof(float)), *tmp = dq_xmalloc(m * sizeof(float));
    float *ang = NULL;
    for (size_t i = 0, j = 0; i < npx; i += step, j++) {
        float s = 0;
        for (int b = 0; b < n; b++)
            s += planes[b][i];
        br[j] = s / n;
    }
    memcpy(tmp, br, m * sizeof(float));
    qsort(tmp, m, sizeof(float), cmp_float);
    float thr = tmp[(size_t)(0.90 * (double)(m - 1))];
    float thr30 = tmp[(size_t)(0.70 * (double)(m - 1))];
    for (int b = 0; b < n; b++) {
        size_t k = 0;
        for (size_t i = 0, j = 0; i < npx; i += step, j++)
            if (br[j] >= thr)
                tmp[k++] = planes[b][i];
        qsort(tmp, k, sizeof(float), cmp_float);
        map->support[b] = k ? tmp[k / 2] : 0.8;
    }
    map->support_lw_angle = map->support_mode_angle = -1;
    map->support_moved = 0;
    int lw = -1;
    for (int k = 0; k < lib->n_pig; k++)
        if (!strcmp(lib->names[k], "lead_white"))
            lw = k;
    if (lw < 0)
        goto out;
    const double *L = lib->refl + (size_t)lw * n;
    map->support_lw_angle = support_angle(map->support, L, n);
    /* The bright pixels' angles to lead white and their histogram's mode. */
    ang = dq_xmalloc(m * sizeof(float));
    size_t hist[NBIN] = {0};
    for (size_t i = 0, j = 0; i < npx; i += step, j++) {
        ang[j] = -1;
        if (br[j] < thr30)
            continue;
        double r[DQ_SPEC_MAX_BANDS];
        for (int b = 0; b < n; b++)
            r[b] = planes[b][i];
        ang[j] = (float)support_angle(r, L, n);
        int q = (int)(ang[j] * 4);
        hist[q < 0 ? 0 : q >= NBIN ? NBIN - 1 : q]++;
    }
    size_t best = 0;
    int mode = 0;
    for (int q = 0; q < NBIN; q++) {
        size_t c = 0;
        for (int d = -4; d <= 4; d++)
            c += q + d >= 0 && q + d < NBIN ? hist[q + d] : 0;
        if (c > best) {
            best = c;
            mode = q;
        }
    }
    map->support_mode_angle = (mode + 0.5) / 4;
    if (map->support_lw_angle >= map->support_mode_angle - DQ_SPEC_SUPPORT_LW_ANGLE)
        goto out;
    size_t k = 0;
    for (size_t j = 0; j < m; j++)
        k += ang[j] >= 0 && fabs(ang[j] - map->support_mode_angle) <= 1.5;
    if (k < m / 100 + 1) /* too few to stand for the support: keep the first median */
        goto out;
    for (int b = 0; b < n; b++) {
        k = 0;
        for (size_t i = 0, j = 0; i < npx; i += step, j++)
            if (ang[j] >= 0 && fabs(ang[j] - map->support_mode_angle) <= 1.5)
                tmp[k++] = planes[b][i];
        qsort(tmp, k, sizeof(float), cmp_float);
        map->support[b] = tmp[k / 2];
    }
    map->support_moved = 1;
out:
    free(ang);
    free(br);
    free(tmp);
}

/* Solves the n x n system M x = r (n <= 4) by Gaussian elimination with partial pivoting. 0, or
 * -1 when singular. M and r are overwritten. */
static int small_solve(int n, double M[4][4], double *r, double *x)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(M[i][c]) > fabs(M[p][c]))
                p = i;
        if (fabs(M[p][c]) < 1e-13)
            return -1;
        if (p != c) {
            for (int j = 0; j < n; j++) {
                double t = M[c][j];
                M[c][j] = M[p][j];
                M[p][j] = t;
            }
            double t = r[c];
            r[c] = r[p];
            r[p] = t;
        }
        for (int i = c + 1; i < n; i++) {
            double f = M[i][c] / M[c][c];
            for (int j = c; j < n; j++)
                M[i][j] -= f * M[c][j];
            r[i] -= f * r[c];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = r[i];
        for (int j = i + 1; j < n; j++)
            s -= M[i][j] * x[j];
        x[i] = s / M[i][i];
    }
    return 0;
}

/* The two-pigment model of y = r - S: y ~ a0 u + a1 v1 + a2 v2 with a >= 0 and a0 + a1 + a2
 * <= 1 (ink, two pigments, the rest support), minimised exactly: the objective is convex, so
 * its minimum over the simplex is the best of the feasible stationary points of the simplex's
 * faces (interior, 4 facets, 6 edges, 4 vertices). A face fixes some a_i = 0 (bits 0-2 of
 * mask) and possibly the sum to 1 (bit 3); its stationary point solves the KKT system of the
 * free variables. Returns the squared residual, the fractions in a; INFINITY without solving
 * the faces when even the unconstrained fit (a lower bound) does not get below limit. */
static double solve_pair(const mesma_t *ms, int k1, int k2, const double *y, double yy,
                         double limit, double a[3])
{
    const double *c[3] = {ms->u, ms->m[k1].v, ms->m[k2].v};
    double G[3][3], b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = 0;
        for (int t = 0; t < ms->n; t++)
            b[i] += c[i][t] * y[t];
        for (int j = 0; j <= i; j++) {
            double g = 0;
            for (int t = 0; t < ms->n; t++)
                g += c[i][t] * c[j][t];
            G[i][j] = G[j][i] = g;
        }
    }
    double best = INFINITY;
    a[0] = a[1] = a[2] = 0;
    {
        double M[4][4] = {{0}}, r[4] = {b[0], b[1], b[2], 0}, x[4] = {0};
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                M[i][k] = G[i][k];
        if (small_solve(3, M, r, x) == 0) {
            double f = yy;
            for (int i = 0; i < 3; i++) {
                f -= 2 * x[i] * b[i];
                for (int k = 0; k < 3; k++)
                    f += x[i] * x[k] * G[i][k];
            }
            if (f >= limit)
                return INFINITY;
            /* Inside the simplex: the unconstrained minimum is the constrained one (the
             * objective is convex), no face need be tried. */
            if (x[0] >= 0 && x[1] >= 0 && x[2] >= 0 && x[0] + x[1] + x[2] <= 1) {
                a[0] = x[0];
                a[1] = x[1];
                a[2] = x[2];
                return f < 0 ? 0 : f;
            }
        }
    }
    for (int mask = 0; mask < 16; mask++) {
        int fr[3], nf = 0, sum = mask >> 3 & 1;
        for (int i = 0; i < 3; i++)
            if (!(mask >> i & 1))
                fr[nf++] = i;
        if (nf == 0 && sum)
            continue;
        double M[4][4] = {{0}}, r[4] = {0}, x[4] = {0}, z[3] = {0, 0, 0};
        int n = nf + sum;
        for (int i = 0; i < nf; i++) {
            for (int j = 0; j < nf; j++)
                M[i][j] = G[fr[i]][fr[j]];
            r[i] = b[fr[i]];
            if (sum)
                M[i][nf] = M[nf][i] = 1; /* Lagrange multiplier of the sum */
        }
        if (sum)
            r[nf] = 1;
        if (n > 0 && small_solve(n, M, r, x) < 0)
            continue;
        double tot = 0;
        int ok = 1;
        for (int i = 0; i < nf; i++) {
            z[fr[i]] = x[i];
            ok &= x[i] >= -1e-12;
            tot += x[i];
        }
        if (!ok || tot > 1 + 1e-12)
            continue;
        double f = yy;
        for (int i = 0; i < 3; i++) {
            f -= 2 * z[i] * b[i];
            for (int j = 0; j < 3; j++)
                f += z[i] * z[j] * G[i][j];
        }
        if (f < best) {
            best = f;
            a[0] = z[0] < 0 ? 0 : z[0];
            a[1] = z[1] < 0 ? 0 : z[1];
            a[2] = z[2] < 0 ? 0 : z[2];
        }
    }
    return best < 0 ? 0 : best;
}

/* ================================================================ model selection */

/* One dq_spec_pigments run shared by its threads: each takes the next block of rows. */
typedef struct {
    const float *const *planes;
    int w, h;
    double min_cover;
    mesma_t ms;
    dq_spec_map_t *map;
    void (*progress)(void *ud, int pct);
    void *ud;
    pthread_mutex_t lock; /* guards next, done, last and the progress callback */
    int next, done, last;
    /* Pigment families of the scene (by family index): what the image itself shows as the
     * confident single pigment of enough pixels, less the look-alikes that other scene
     * pigments explain (prune_scene). Two-pigment models are made of these only. Read-only
     * while the threads run. */
    uint8_t scene[256];
    /* Per scene family the shade (library entry) that the survey finds most often: the
     * family's endmember in two-pigment models. A mixture's best single shade is biased
     * (the other pigment pulls it), a painting's own pigment is one shade. */
    int rep[256];
    int pairs;           /* 0 in the survey: one-pigment models only */
    double sig2, sig2_s; /* noise variance per band; what bare support adds (scene_select) */
    /* The support's own family (support_family, family_fit): mu + a_k (K - mu) + c1 e1 + c2
     * e2, mu and e the mean and two principal axes of the survey's clean bare support. fam is
     * 0 until the first survey has found them, and when too few bare pixels show them. */
    int fam;
    double fam_mu[DQ_SPEC_MAX_BANDS], fam_e[2][DQ_SPEC_MAX_BANDS], fam_u[DQ_SPEC_MAX_BANDS];
    double fam_uu, fam_ue[2];    /* u.u and u.e (e orthonormal) */
    double fam_lo[2], fam_hi[2]; /* the range of c that the family may take */
    double fam_sig2;             /* noise variance per band about the family */
} pig_job_t;

/* A fitted model of one pixel: one pigment (k2 < 0) or two. */
typedef struct {
    double f;      /* squared residual; INFINITY when there is no such model */
    int k1, k2;    /* models (library entries); k1 the larger share */
    double ak, ap; /* ink and pigment (both together) fractions */
    double a1, a2; /* the two pigments' fractions (a2 = 0 for one) */
} fit_t;

#define PIG_ROWS 8
#define SURVEY_STEP 16

/* Pixel i as the models see it: y = r - S, with y.y and u.y. */
static void pixel(const pig_job_t *j, size_t i, double *y, double *yy, double *uy)
{
    const mesma_t *ms = &j->ms;
    *yy = *uy = 0;
    for (int b = 0; b < ms->n; b++) {
        y[b] = j->planes[b][i] - ms->S[b];
        *yy += y[b] * y[b];
        *uy += ms->u[b] * y[b];
    }
}

/* The best one-pigment and two-pigment models of a pixel made of scene families other than
 * excl (-1: none excluded), from the one-pigment residuals f (fak, fap their fractions) of
 * all_models. Pairs: the best shade of each of the DQ_SPEC_PAIR_TOP best scene families, every
 * pair of them solved exactly (solve_pair); a pair counts only when each pigment holds 5 % of
 * the pixel (less is one pigment with a tint). limit: pairs whose unconstrained fit cannot get
 * below it are not solved. */
static void scene_fit(const pig_job_t *j, const double *y, double yy, const double *f,
                      const double *fak, const double *fap, int excl, double limit, int want_pair,
                      fit_t *one, fit_t *two)
{
    const mesma_t *ms = &j->ms;
    int nk = ms->n_models;
    one->f = two->f = INFINITY;
    one->k1 = one->k2 = two->k1 = two->k2 = -1;
    int top[DQ_SPEC_PAIR_TOP], nt = 0;
    /* The best model of each of the best families, best first (nt <= PAIR_TOP). */
    for (int r = 0; r < DQ_SPEC_PAIR_TOP; r++) {
        int kb = -1;
        for (int k = 0; k < nk; k++) {
            int fk = ms->fam[k];
            int used = !j->scene[fk] || fk == excl;
            for (int q = 0; q < nt; q++)
                used |= ms->fam[top[q]] == fk;
            if (!used && (kb < 0 || f[k] < f[kb]))
                kb = k;
        }
        if (kb < 0)
            break;
        top[nt++] = kb;
        if (!want_pair)
            break;
    }
    if (nt > 0) {
        int k = top[0];
        *one = (fit_t){f[k], k, -1, fak[k], fap[k], fap[k], 0};
    }
    if (!want_pair)
        return;
    for (int q = 0; q < nt; q++)
        top[q] = j->rep[ms->fam[top[q]]];
    for (int q = 0; q < nt; q++)
        for (int r = q + 1; r < nt; r++) {
            /* Two spectra of one shape (within DQ_SPEC_PAIR_ANGLE: two grinds of one
             * mineral, cinnabar and vermilion) make no second pigment: their mixture is
             * one of them, lighter or darker, and the pair's shares are noise. */
            double pp = 0, p1 = 0, p2 = 0;
            for (int b = 0; b < ms->n; b++) {
                double r1 = ms->m[top[q]].v[b] + ms->S[b], r2 = ms->m[top[r]].v[b] + ms->S[b];
                pp += r1 * r2;
                p1 += r1 * r1;
                p2 += r2 * r2;
            }
            if (pp > cos(DQ_SPEC_PAIR_ANGLE * M_PI / 180) * sqrt(p1 * p2))
                continue;
            double a3[3], fp = solve_pair(ms, top[q], top[r], y, yy, limit, a3);
            if (fp < two->f && a3[1] >= 0.05 && a3[2] >= 0.05) {
                int big = a3[1] >= a3[2]; /* top[q] holds the larger share */
                two->f = fp;
                two->k1 = big ? top[q] : top[r];
                two->k2 = big ? top[r] : top[q];
                two->ak = a3[0];
                two->ap = a3[1] + a3[2];
                two->a1 = big ? a3[1] : a3[2];
                two->a2 = big ? a3[2] : a3[1];
            }
        }
}

/* The family's objective at ink fraction a: with e orthonormal, ||z - sum c_q e_q||^2 for
 * z = yf - a u splits into ||z||^2 - sum (e_q.z)^2 + sum (c_q - e_q.z)^2, so the best c in
 * the box [lo, hi] is e_q.z clamped, exactly. From the dot products of yf and u. */
static double family_at(const pig_job_t *j, double yy, double uy, const double ey[2], double a,
                        double c[2])
{
    double zz = yy - 2 * a * uy + a * a * j->fam_uu, f = zz;
    for (int q = 0; q < 2; q++) {
        double ez = ey[q] - a * j->fam_ue[q];
        c[q] = ez < j->fam_lo[q] ? j->fam_lo[q] : ez > j->fam_hi[q] ? j->fam_hi[q] : ez;
        f += (c[q] - ez) * (c[q] - ez) - ez * ez;
    }
    return f < 0 ? 0 : f;
}

/* The support family's fit of pixel y = r - S: r ~ mu + a_k (K - mu) + c1 e1 + c2 e2, with
 * 0 <= a_k <= 1 and c in the family's box [fam_lo, fam_hi], solved exactly. The ink column and
 * the brightness axis are nearly parallel (ink darkens, and so does a darker sheet), so
 * without the box a bare, toned pixel could be fitted as half ink on an impossibly bright
 * sheet. For a fixed a_k the best c is a clamp (family_at), and the objective over a_k is
 * convex and quadratic between the points where a clamp starts or stops: its minimum is at
 * one of those points, an end, or a piece's stationary point, all of which are tried.
 * Returns the squared residual, a_k in *ak and c in c[2]. */
static double family_fit(const pig_job_t *j, const double *y, double *ak, double c[2])
{
    const mesma_t *ms = &j->ms;
    int n = ms->n;
    double yy = 0, uy = 0, ey[2] = {0, 0};
    for (int b = 0; b < n; b++) {
        double yf = y[b] + ms->S[b] - j->fam_mu[b];
        yy += yf * yf;
        uy += j->fam_u[b] * yf;
        ey[0] += j->fam_e[0][b] * yf;
        ey[1] += j->fam_e[1][b] * yf;
    }
    /* The breaks: a where e_q.z reaches lo_q or hi_q, sorted, with the ends. */
    double br[6] = {0, 1}, cand[12];
    int nb = 2, nc = 0;
    for (int q = 0; q < 2; q++)
        if (fabs(j->fam_ue[q]) > 1e-15)
            for (int e = 0; e < 2; e++) {
                double bound = e ? j->fam_hi[q] : j->fam_lo[q];
                double t = (ey[q] - bound) / j->fam_ue[q];
                if (t > 0 && t < 1)
                    br[nb++] = t;
            }
    for (int p = 1; p < nb; p++) /* insertion sort of at most 6 */
        for (int q = p; q > 0 && br[q] < br[q - 1]; q--) {
            double t = br[q];
            br[q] = br[q - 1];
            br[q - 1] = t;
        }
    for (int p = 0; p < nb; p++)
        cand[nc++] = br[p];
    /* Between two breaks each c_q is either free (its term is -(e_q.z)^2 + 0) or clamped
     * (its term is (bound - e_q.z)^2 - (e_q.z)^2 = bound^2 - 2 bound e_q.z): a quadratic in
     * a whose stationary point is a candidate when it lies inside the piece. */
    for (int p = 0; p + 1 < nb; p++) {
        double mid = 0.5 * (br[p] + br[p + 1]), A = j->fam_uu, B = -uy;
        for (int q = 0; q < 2; q++) {
            double ez = ey[q] - mid * j->fam_ue[q];
            if (ez >= j->fam_lo[q] && ez <= j->fam_hi[q]) {
                A -= j->fam_ue[q] * j->fam_ue[q]; /* -(ey - a ue)^2 */
                B += ey[q] * j->fam_ue[q];
            } else {
                double bound = ez < j->fam_lo[q] ? j->fam_lo[q] : j->fam_hi[q];
                B += bound * j->fam_ue[q]; /* -2 bound (ey - a ue) */
            }
        }
        if (A > 1e-15) {
            double t = -B / A;
            if (t > br[p] && t < br[p + 1])
                cand[nc++] = t;
        }
    }
    double best = INFINITY;
    for (int p = 0; p < nc; p++) {
        double cc[2], f = family_at(j, yy, uy, ey, cand[p], cc);
        if (f < best) {
            best = f;
            *ak = cand[p];
            c[0] = cc[0];
            c[1] = cc[1];
        }
    }
    return best;
}

/* Labels rows y0 .. y1 of the map (every step-th pixel of them). The models of a pixel
 * compete by their squared residual plus a price for what they assume (BIC with the noise
 * variance measured on the image, Schwarz 1978): a pair of pigments pays ln(n) sigma^2 for
 * its extra abundance, so pure pixels stay pure unless a second pigment explains more than
 * noise; a pigment that the scene does not show pure pays `prior`, so a library look-alike of
 * a two-pigment mixture (malachite and azurite look like verdigris in six bands) loses to the
 * mixture of the scene's own pigments unless it fits clearly better. */
static void pig_rows(pig_job_t *j, int y0, int y1, int step, double *scratch)
{
    const mesma_t *ms = &j->ms;
    dq_spec_map_t *map = j->map;
    int n = ms->n, nk = ms->n_models, w = j->w;
    double *vy = scratch, *f = vy + nk, *fak = f + nk, *fap = fak + nk, *fam_best = fap + nk;
    for (int yrow = y0; yrow < y1; yrow++) {
        for (int x = yrow % step; x < w; x += step) {
            size_t i = (size_t)yrow * w + x;
            double y[DQ_SPEC_MAX_BANDS], yy, uy;
            pixel(j, i, y, &yy, &uy);
            all_models(ms, y, yy, uy, vy, f, fak, fap);
            int bk = 0;
            for (int k = 0; k < nk; k++) {
                fam_best[k] = INFINITY;
                if (f[k] < f[bk])
                    bk = k;
            }
            for (int k = 0; k < nk; k++)
                if (f[k] < fam_best[ms->fam[k]])
                    fam_best[ms->fam[k]] = f[k];
            fit_t win = {f[bk], bk, -1, fak[bk], fap[bk], fap[bk], 0};
            double second = INFINITY, wcost = win.f;
            double as1 = 1 - win.ak - win.ap;
            double share1 = win.ap + as1 > 1e-9 ? win.ap / (win.ap + as1) : 0;
            /* The scene's models only where one pigment already sees colour (not ink, not
             * bare support): they change which colour, not whether there is colour, and most
             * pixels of a painting are support or ink. (Half of min_cover would catch a few
             * more glazes over thin washes, but old paper's tone then passes for two
             * pigments, and the scroll costs a quarter more.) */
            if (j->pairs && win.ak < 0.6 && share1 >= j->min_cover) {
                double var = (j->sig2 + as1 * as1 * j->sig2_s) * log((double)n);
                double pen = DQ_SPEC_PAIR_PRICE * var, prior = DQ_SPEC_PRIOR_PRICE * var;
                double cost = win.f + (j->scene[ms->fam[bk]] ? 0 : prior);
                fit_t one, two;
                scene_fit(j, y, yy, f, fak, fap, -1, cost - pen, 1, &one, &two);
                int from = 0;
                if (one.f < cost) {
                    cost = one.f;
                    from = 1;
                }
                if (two.f + pen < cost) {
                    cost = two.f + pen;
                    from = 2;
                }
                if (from == 1)
                    win = one;
                else if (from == 2) {
                    second = f[bk];
                    win = two;
                }
                wcost = cost;
            }
            if (win.k2 < 0)
                for (int k = 0; k < nk; k++)
                    if (k != ms->fam[win.k1] && fam_best[k] < second)
                        second = fam_best[k];
            double as = 1 - win.ak - win.ap;
            double cov = win.ap + as > 1e-9 ? win.ap / (win.ap + as) : 0;
            /* Colour that the support's own family explains as well as the winning pigment
             * model does with its prices is toned support (an aged, yellowed edge is not
             * orpiment). The family has one coordinate more than a one-pigment model (ink and
             * two axes against ink and a share): one BIC price, on the larger of the two
             * noises. best2 = -2 marks the pixel for scene_select. */
            double ff = INFINITY;
            if (j->fam && win.ak < 0.6 && cov >= j->min_cover) {
                double fa, fc[2];
                ff = family_fit(j, y, &fa, fc);
                double var = j->fam_sig2 > j->sig2 ? j->fam_sig2 : j->sig2;
                if (fa < 0.6 && ff + DQ_SPEC_PAIR_PRICE * var * log((double)n) <= wcost) {
                    second = wcost;
                    win = (fit_t){ff, win.k1, -2, fa, 0, 0, 0};
                    cov = 0;
                } else
                    ff = INFINITY;
            }
            map->best[i] = win.k1;
            map->best2[i] = win.k2;
            map->cover[i] = (float)cov;
            map->ink[i] = (float)win.ak;
            double c;
            if (win.ak >= 0.6) {
                map->label[i] = DQ_SPEC_LABEL_INK;
                c = win.ak;
            } else if (cov >= j->min_cover) {
                map->label[i] = (uint8_t)(DQ_SPEC_LABEL_PIGMENT0 + win.k1);
                /* How much better the winner explains the pixel than any other family. */
                double r1 = sqrt(win.f / n), r2 = sqrt(second / n);
                c = isfinite(r2) && r2 > 0 ? 1 - r1 / r2 : 1;
            } else if (isfinite(ff)) {
                map->label[i] = DQ_SPEC_LABEL_SUPPORT;
                /* Toned support: how much better the family explains it than the pigment. */
                c = second > 0 ? 1 - sqrt(ff / second) : 1;
            } else {
                map->label[i] = DQ_SPEC_LABEL_SUPPORT;
                c = 1 - cov / j->min_cover;
            }
            map->conf[i] = (uint8_t)lround(255 * clamp01(c));
        }
    }
}

static void *pig_worker(void *ud)
{
    pig_job_t *j = ud;
    double *scratch = dq_xmalloc((size_t)5 * (j->ms.n_models + 1) * sizeof(double));
    for (;;) {
        pthread_mutex_lock(&j->lock);
        int y0 = j->next;
        j->next = y0 + PIG_ROWS < j->h ? y0 + PIG_ROWS : j->h;
        pthread_mutex_unlock(&j->lock);
        if (y0 >= j->h)
            break;
        int y1 = y0 + PIG_ROWS < j->h ? y0 + PIG_ROWS : j->h;
        pig_rows(j, y0, y1, 1, scratch);
        pthread_mutex_lock(&j->lock);
        j->done += y1 - y0;
        int pct = (int)(100.0 * j->done / j->h);
        if (j->progress && pct != j->last) {
            j->progress(j->ud, pct);
            j->last = pct;
        }
        pthread_mutex_unlock(&j->lock);
    }
    free(scratch);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define PRUNE_MAX 1500 /* survey pixels per family that the pruning refits */

/* sigma^2 from n_r squared residuals of one-pigment models (sorted here): their lower
 * quartile over the chi-square quantile for n - 2 degrees of freedom (two abundances fitted;
 * Wilson-Hilferty). A floor keeps a synthetic, noise-free stack from pricing models at
 * nothing. */
static double noise_var(double *r, size_t n_r, int n)
{
    if (n_r == 0)
        return 1e-10;
    qsort(r, n_r, sizeof(double), cmp_double);
    double q = r[n_r / 4], dof = n - 2 > 1 ? n - 2 : 1;
    double c = 1 - 2 / (9 * dof) - 0.6745 * sqrt(2 / (9 * dof));
    double v = q / (dof * c * c * c);
    return v > 1e-10 ? v : 1e-10;
}

/* Eigenvalues (descending, into lam) and unit eigenvectors (columns of V) of the symmetric
 * n x n matrix A (n <= DQ_SPEC_MAX_BANDS; A is overwritten), by cyclic Jacobi rotations: a
 * covariance of a few bands needs no LAPACK, and Jacobi is exact to rounding whatever the
 * spacing of the eigenvalues (power iteration is not). */
static void sym_eigen(int n, double A[DQ_SPEC_MAX_BANDS][DQ_SPEC_MAX_BANDS],
                      double V[DQ_SPEC_MAX_BANDS][DQ_SPEC_MAX_BANDS], double *lam)
{
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            V[a][b] = a == b;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0, tot = 0;
        for (int p = 0; p < n; p++)
            for (int q = 0; q < n; q++) {
                tot += A[p][q] * A[p][q];
                off += p != q ? A[p][q] * A[p][q] : 0;
            }
        if (off <= 1e-30 * (tot + 1e-300))
            break;
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++) {
                if (A[p][q] == 0)
                    continue;
                double th = (A[q][q] - A[p][p]) / (2 * A[p][q]);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), sn = t * c;
                for (int k = 0; k < n; k++) { /* A <- A J */
                    double akp = A[k][p], akq = A[k][q];
                    A[k][p] = c * akp - sn * akq;
                    A[k][q] = sn * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* A <- J' A */
                    double apk = A[p][k], aqk = A[q][k];
                    A[p][k] = c * apk - sn * aqk;
                    A[q][k] = sn * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = V[k][p], vkq = V[k][q];
                    V[k][p] = c * vkp - sn * vkq;
                    V[k][q] = sn * vkp + c * vkq;
                }
            }
    }
    for (int a = 0; a < n; a++)
        lam[a] = A[a][a];
    for (int a = 0; a < n; a++) { /* selection sort, descending, columns with them */
        int m = a;
        for (int b = a + 1; b < n; b++)
            if (lam[b] > lam[m])
                m = b;
        if (m == a)
            continue;
        double t = lam[a];
        lam[a] = lam[m];
        lam[m] = t;
        for (int k = 0; k < n; k++) {
            t = V[k][a];
            V[k][a] = V[k][m];
            V[k][m] = t;
        }
    }
}

/* The support's own family (MESMA with several endmembers of one class taken from the image:
 * Roberts et al. 1998, Dennison and Roberts 2003): old paper and silk are not one spectrum but
 * a family, darker and yellower where handled and exposed, with the texture of the sheet. The
 * clean bare support of the survey (no ink, no colour to speak of) shows it: its mean mu and
 * the two principal axes of its covariance. Centred, not about the one support endmember S
 * (the brightest tenth): about S the first axis would point at the mean and mix tone with
 * texture, and the edges would miss the plane. Toned edges lie along the same axes, beyond
 * the clean pixels' range, so along each axis the side on which the support yellows (the
 * shortest band drops more, relative to its level, than the longest) is open, while the other
 * side reaches only FAM_REACH of that range past it: lead white, brighter and bluer than the
 * freshest sheet, and a green wash (less red, darker, bluer) are not "anti-toned" support. The
 * noise about the family (fam_sig2) is measured like the pigment noise (noise_var). The
 * caller alternates this with survey_family (FAM_ITER times): the edges that the first family
 * takes back as support join the clean pixels, and the axes then follow the toning itself
 * rather than the small mottling of the middle (DQ-2026-0010 seed 1 at --scale 0.25, support
 * recall after one, two, three rounds: ideal 0.937, 0.997, 0.997; raw 0.895, 0.908, 0.942).
 * Needs 5 bands or more (two axes and the ink leave the residual at least two degrees of
 * freedom) and 64 clean pixels. Returns 0 and sets j->fam, else -1 and leaves the family it
 * had. */
#define FAM_REACH 0.5
#define FAM_ITER 3
static int support_family(pig_job_t *j)
{
    const mesma_t *ms = &j->ms;
    const dq_spec_map_t *map = j->map;
    int n = ms->n, w = j->w, h = j->h;
    double mu[DQ_SPEC_MAX_BANDS] = {0};
    size_t n_b = 0, cap = 1024;
    float *px = dq_xmalloc(cap * n * sizeof(float));
    int rc = -1;
    if (n < 5)
        goto out;
    for (int yrow = 0; yrow < h; yrow++)
        for (int x = yrow % SURVEY_STEP; x < w; x += SURVEY_STEP) {
            size_t i = (size_t)yrow * w + x;
            if (map->label[i] != DQ_SPEC_LABEL_SUPPORT || map->ink[i] >= 0.05f ||
                map->cover[i] >= 0.05f)
                continue;
            if (n_b == cap) {
                cap *= 2;
                px = dq_xrealloc(px, cap * n * sizeof(float));
            }
            for (int b = 0; b < n; b++) {
                px[n_b * n + b] = j->planes[b][i];
                mu[b] += j->planes[b][i];
            }
            n_b++;
        }
    if (n_b < 64)
        goto out;
    double C[DQ_SPEC_MAX_BANDS][DQ_SPEC_MAX_BANDS] = {{0}}, V[DQ_SPEC_MAX_BANDS][DQ_SPEC_MAX_BANDS],
           lam[DQ_SPEC_MAX_BANDS];
    for (int b = 0; b < n; b++)
        mu[b] /= (double)n_b;
    for (size_t k = 0; k < n_b; k++)
        for (int a = 0; a < n; a++)
            for (int b = 0; b <= a; b++)
                C[a][b] += (px[k * n + a] - mu[a]) * (px[k * n + b] - mu[b]);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < a; b++)
            C[b][a] = C[a][b];
    sym_eigen(n, C, V, lam);
    memcpy(j->fam_mu, mu, sizeof(mu));
    j->fam_uu = 0;
    for (int b = 0; b < n; b++) {
        j->fam_e[0][b] = V[b][0];
        j->fam_e[1][b] = V[b][1];
        j->fam_u[b] = ms->u[b] + ms->S[b] - mu[b]; /* K - mu */
        j->fam_uu += j->fam_u[b] * j->fam_u[b];
    }
    for (int q = 0; q < 2; q++) {
        j->fam_ue[q] = 0;
        for (int b = 0; b < n; b++)
            j->fam_ue[q] += j->fam_u[b] * j->fam_e[q][b];
    }
    /* The clean pixels' coordinates and residuals: the range (0.5 .. 99.5 %) and the noise. */
    double *cq = dq_xmalloc(n_b * sizeof(double)), *res = dq_xmalloc(n_b * sizeof(double));
    for (int q = 0; q < 3; q++) {
        for (size_t k = 0; k < n_b; k++) {
            double c[2] = {0, 0}, f = 0;
            for (int b = 0; b < n; b++)
                for (int e = 0; e < 2; e++)
                    c[e] += j->fam_e[e][b] * (px[k * n + b] - mu[b]);
            if (q < 2) {
                cq[k] = c[q];
                continue;
            }
            for (int b = 0; b < n; b++) {
                double r = px[k * n + b] - mu[b] - c[0] * j->fam_e[0][b] - c[1] * j->fam_e[1][b];
                f += r * r;
            }
            res[k] = f;
        }
        if (q == 2)
            break;
        qsort(cq, n_b, sizeof(double), cmp_double);
        double lo = cq[(size_t)(0.005 * (double)(n_b - 1))];
        double hi = cq[(size_t)(0.995 * (double)(n_b - 1))];
        /* Which way along e_q the support yellows: the side that lowers the shortest band,
         * relative to its level, more than the longest. That side reaches far. */
        double yel = j->fam_e[q][n - 1] / mu[n - 1] - j->fam_e[q][0] / mu[0];
        j->fam_lo[q] = yel < 0 ? -INFINITY : lo - FAM_REACH * (hi - lo);
        j->fam_hi[q] = yel > 0 ? INFINITY : hi + FAM_REACH * (hi - lo);
    }
    j->fam_sig2 = noise_var(res, n_b, n);
    free(cq);
    free(res);
    j->fam = 1;
    rc = 0;
out:
    free(px);
    return rc;
}

/* The survey's colour pixels judged again against the support family (after support_family
 * has found or refitted it): what pig_rows does with the family, without the search over every
 * model that it repeats. In the survey a pixel's model is its best single pigment (map->best,
 * kept also where the family took the pixel: best2 -2), and nothing else changes between
 * rounds, so one solve() of that model gives back its residual and shares exactly. */
static void survey_family(pig_job_t *j)
{
    const mesma_t *ms = &j->ms;
    dq_spec_map_t *map = j->map;
    int n = ms->n, w = j->w, h = j->h;
    double var = j->fam_sig2 > j->sig2 ? j->fam_sig2 : j->sig2;
    double pen = DQ_SPEC_PAIR_PRICE * var * log((double)n);
    for (int yrow = 0; yrow < h; yrow++)
        for (int x = yrow % SURVEY_STEP; x < w; x += SURVEY_STEP) {
            size_t i = (size_t)yrow * w + x;
            if (map->label[i] < DQ_SPEC_LABEL_PIGMENT0 && map->best2[i] != -2)
                continue;
            double y[DQ_SPEC_MAX_BANDS], yy, uy, ak, ap, fa = 1, fc[2];
            pixel(j, i, y, &yy, &uy);
            int k = map->best[i];
            double f = solve(ms, &ms->m[k], y, yy, uy, &ak, &ap), as = 1 - ak - ap;
            double cov = ap + as > 1e-9 ? ap / (ap + as) : 0;
            double ff = j->fam ? family_fit(j, y, &fa, fc) : INFINITY;
            if (fa < 0.6 && ff + pen <= f) {
                map->label[i] = DQ_SPEC_LABEL_SUPPORT;
                map->best2[i] = -2;
                map->cover[i] = 0;
                map->ink[i] = (float)fa;
            } else {
                map->label[i] = (uint8_t)(DQ_SPEC_LABEL_PIGMENT0 + k);
                map->best2[i] = -1;
                map->cover[i] = (float)cov;
                map->ink[i] = (float)ak;
            }
        }
}

/* A survey pixel that the scene counts: an at least half-covering pigment label, however
 * confident (near-duplicate families of the library, malachite of two mines, make a pure
 * pixel's confidence low; scene_select sorts them out). */
static int survey_counts(const dq_spec_map_t *map, size_t i)
{
    return map->label[i] >= DQ_SPEC_LABEL_PIGMENT0 && map->cover[i] >= 0.5f;
}

/* The scene's families from the survey (one-pigment labels of every SURVEY_STEP-th pixel in
 * map): a family is a candidate when it is the counted label of >= DQ_SPEC_SCENE_MIN of the
 * counted pixels (and of 8), and its endmember is its shade counted most often. Then the noise
 * (noise_var), which sets the models' prices. Then the look-alikes go (count-based endmember
 * selection in the spirit of Roberts et al. 2003, EMC/CoB: keep the smallest set of
 * endmembers that models the image): a candidate whose counted pixels are, for at least half
 * of them, explained as well (within one BIC price) by another scene pigment or a pair of
 * them is a mixture's look-alike (verdigris for malachite with azurite) or a near-duplicate,
 * not a pigment of the painting; the one that the fewest pixels need goes first, and the rest
 * are tried again. */
static void scene_select(pig_job_t *j, double *scratch)
{
    const mesma_t *ms = &j->ms;
    dq_spec_map_t *map = j->map;
    int n = ms->n, nk = ms->n_models, w = j->w, h = j->h;
    int cnt[256] = {0}, tot = 0, shade[256] = {0};
    size_t n_res = 0, cap_res = 1024;
    double *res = dq_xmalloc(cap_res * sizeof(double));
    size_t n_bare = 0, cap_bare = 1024;
    double *bare = dq_xmalloc(cap_bare * sizeof(double));
    for (int yrow = 0; yrow < h; yrow++)
        for (int x = yrow % SURVEY_STEP; x < w; x += SURVEY_STEP) {
            size_t i = (size_t)yrow * w + x;
            int counted = survey_counts(map, i);
            /* Bare support: neither ink nor colour to speak of, and not toned support that only
             * the support family takes back (best2 -2): sigma_s stays what the one support
             * endmember leaves over the sheet, as the pair prices were tuned with. */
            int is_bare = map->label[i] == DQ_SPEC_LABEL_SUPPORT && map->ink[i] < 0.05f &&
                          map->cover[i] < 0.05f && map->best2[i] != -2;
            if (!counted && !is_bare)
                continue;
            if (counted) {
                cnt[ms->fam[map->best[i]]]++;
                shade[map->best[i]]++;
                tot++;
            }
            /* The residual of this pixel's model, recomputed (the map keeps no residual). */
            double y[DQ_SPEC_MAX_BANDS], yy, uy, ak, ap;
            pixel(j, i, y, &yy, &uy);
            double r = solve(ms, &ms->m[map->best[i]], y, yy, uy, &ak, &ap);
            double **arr = counted ? &res : &bare;
            size_t *na = counted ? &n_res : &n_bare, *ca = counted ? &cap_res : &cap_bare;
            if (*na == *ca) {
                *ca *= 2;
                *arr = dq_xrealloc(*arr, *ca * sizeof(double));
            }
            (*arr)[(*na)++] = r;
        }
    for (int k = 0; k < nk; k++) {
        j->scene[k] = cnt[k] >= 8 && cnt[k] >= DQ_SPEC_SCENE_MIN * tot;
        j->rep[k] = k;
    }
    for (int k = 0; k < nk; k++)
        if (shade[k] > shade[j->rep[ms->fam[k]]])
            j->rep[ms->fam[k]] = k;
    /* The noise, from the lower quartiles of the residuals (robust to the mixed pixels in the
     * upper part): sigma^2 of the pigment pixels, and what bare support adds (its tone and
     * texture vary around the one support endmember: a residual that grows with the support's
     * share a_s of the pixel, so a pixel's variance is sigma^2 + a_s^2 sigma_s^2). */
    j->sig2 = noise_var(res, n_res, n);
    double sb = noise_var(bare, n_bare, n);
    j->sig2_s = sb > j->sig2 ? sb - j->sig2 : 0;
    free(res);
    free(bare);

    /* The counted pixels of the candidates, at most PRUNE_MAX per family (evenly spaced),
     * each standing for `stride` of its family's counted pixels. */
    int seen[256] = {0};
    size_t n_px = 0;
    size_t *px = dq_xmalloc(((size_t)tot + 1) * sizeof(size_t));
    double *wt = dq_xmalloc(((size_t)tot + 1) * sizeof(double));
    for (int yrow = 0; yrow < h; yrow++)
        for (int x = yrow % SURVEY_STEP; x < w; x += SURVEY_STEP) {
            size_t i = (size_t)yrow * w + x;
            if (!survey_counts(map, i))
                continue;
            int fk = ms->fam[map->best[i]];
            if (!j->scene[fk])
                continue;
            int stride = cnt[fk] / PRUNE_MAX + 1;
            if (seen[fk]++ % stride == 0) {
                wt[n_px] = stride;
                px[n_px++] = i;
            }
        }
    double *vy = scratch, *f = vy + nk, *fak = f + nk, *fap = fak + nk;
    for (;;) {
        /* Per family (weighted pixels): its pixels, those that another scene pigment or pair
         * explains within one price, and what losing it would add to the scene's summed
         * squared residual. A pixel belongs to its best family among the scene's remaining
         * ones, so the pixels of a dropped near-duplicate go to the family that explains them
         * now (cinnabar_fine's to cinnabar_natural) instead of leaving the count. */
        double expl[256] = {0}, all[256] = {0}, loss[256] = {0};
        for (size_t e2 = 0; e2 < n_px; e2++) {
            size_t i = px[e2];
            double y[DQ_SPEC_MAX_BANDS], yy, uy;
            pixel(j, i, y, &yy, &uy);
            all_models(ms, y, yy, uy, vy, f, fak, fap);
            double ff = INFINITY, as = 0;
            int fk = -1;
            for (int k = 0; k < nk; k++)
                if (j->scene[ms->fam[k]] && f[k] < ff) {
                    ff = f[k];
                    fk = ms->fam[k];
                    as = 1 - fak[k] - fap[k];
                }
            if (fk < 0)
                continue;
            double pen = DQ_SPEC_PAIR_PRICE * (j->sig2 + as * as * j->sig2_s) * log((double)n);
            fit_t one, two;
            scene_fit(j, y, yy, f, fak, fap, fk, ff + 2 * pen, 1, &one, &two);
            double other = one.f < two.f + pen ? one.f : two.f + pen;
            all[fk] += wt[e2];
            expl[fk] += other <= ff + pen ? wt[e2] : 0;
            loss[fk] += wt[e2] * (other - ff);
        }
        int worst = -1;
        double wl = INFINITY;
        for (int k = 0; k < nk; k++) {
            if (!j->scene[k] || all[k] == 0 || 2 * expl[k] < all[k])
                continue;
            /* Of the candidates that others explain, the one whose loss adds least to the
             * scene's summed squared residual goes first (the likelihood the scene loses;
             * endmembers chosen by the error they leave, as in Roberts et al. 1998). A count
             * of pixels explained "within one price" ties when a noisy image prices every
             * look-alike alike (cinnabar and red lead on a raw capture whose survey is mostly
             * a mount silk no library spectrum fits), and the tie went to the first family. */
            if (loss[k] < wl) {
                wl = loss[k];
                worst = k;
            }
        }
        if (worst < 0)
            break;
        j->scene[worst] = 0;
    }
    free(wt);
    free(px);
}

int dq_spec_pigments(const float *const *planes, int w, int h, const dq_spec_lib_t *lib,
                     double min_cover, void (*progress)(void *ud, int pct), void *ud,
                     dq_spec_map_t *map, dq_err_t *err)
{
    size_t npx = (size_t)w * (size_t)h;
    int n = lib->n_bands;
    memset(map, 0, sizeof(*map));
    if (w < 1 || h < 1 || n < 2)
        return dq_err_set(err, DQ_EINVAL, 0, "empty stack");
    if (lib->n_pig > 250)
        return dq_err_set(err, DQ_ELIMIT, 0, "library of %d pigments (250 at most)", lib->n_pig);
    map->w = w;
    map->h = h;
    map->label = dq_xmalloc(npx);
    map->conf = dq_xmalloc(npx);
    map->cover = dq_xmalloc(npx * sizeof(float));
    map->ink = dq_xmalloc(npx * sizeof(float));
    map->best = dq_xmalloc(npx * sizeof(int));
    map->best2 = dq_xmalloc(npx * sizeof(int));
    support_endmember(planes, n, npx, lib, map);
    pig_job_t j = {.planes = planes,
                   .w = w,
                   .h = h,
                   .min_cover = min_cover,
                   .map = map,
                   .progress = progress,
                   .ud = ud,
                   .last = -1};
    mesma_init(&j.ms, lib, map->support, NULL);
    /* The survey: one-pigment models on every SURVEY_STEP-th pixel, then the scene's pigments
     * and the noise from it (scene_select). */
    {
        double *scratch = dq_xmalloc((size_t)5 * (j.ms.n_models + 1) * sizeof(double));
        pig_rows(&j, 0, h, SURVEY_STEP, scratch);
        /* The support's own family, and the survey's colour pixels judged against it: toned
         * support would otherwise count as a scene pigment (an orpiment of yellowed edges). */
        for (int it = 0; it < FAM_ITER && support_family(&j) == 0; it++)
            survey_family(&j);
        scene_select(&j, scratch);
        free(scratch);
        j.pairs = 1;
    }
    /* Rows in blocks on one thread per core: every pixel is independent, so the map is the
     * same whatever the threads and blocks. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus;
    if ((size_t)nt > npx / 4096 + 1)
        nt = (int)(npx / 4096 + 1);
    pthread_t th[16];
    int started = 0;
    pthread_mutex_init(&j.lock, NULL);
    for (int t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, pig_worker, &j) == 0)
            started++;
    pig_worker(&j); /* this thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.lock);
    mesma_free(&j.ms);
    return 0;
}

int dq_spec_match(const dq_spec_lib_t *lib, const double *support, const double *r, int n_out,
                  int *idx, double *rms, double *cover)
{
    double S[DQ_SPEC_MAX_BANDS] = {0};
    int n = lib->n_bands;
    for (int b = 0; b < n; b++)
        S[b] = support ? support[b] : 0.8;
    mesma_t ms;
    mesma_init(&ms, lib, S, NULL);
    double y[DQ_SPEC_MAX_BANDS], yy = 0, uy = 0;
    for (int b = 0; b < n; b++) {
        y[b] = r[b] - S[b];
        yy += y[b] * y[b];
        uy += ms.u[b] * y[b];
    }
    double *f = dq_xmalloc((size_t)ms.n_models * sizeof(double));
    double *cv = dq_xmalloc((size_t)ms.n_models * sizeof(double));
    for (int k = 0; k < ms.n_models; k++) {
        double ak, ap;
        f[k] = solve(&ms, &ms.m[k], y, yy, uy, &ak, &ap);
        double as = 1 - ak - ap;
        cv[k] = ap + as > 1e-9 ? ap / (ap + as) : 0;
    }
    /* Best first, one entry per family. */
    int got = 0;
    uint8_t *used = dq_xcalloc((size_t)ms.n_models, 1);
    while (got < n_out) {
        int bk = -1;
        for (int k = 0; k < ms.n_models; k++)
            if (!used[ms.fam[k]] && (bk < 0 || f[k] < f[bk]))
                bk = k;
        if (bk < 0)
            break;
        used[ms.fam[bk]] = 1;
        idx[got] = bk;
        rms[got] = sqrt(f[bk] / n);
        if (cover)
            cover[got] = cv[bk];
        got++;
    }
    free(used);
    free(f);
    free(cv);
    mesma_free(&ms);
    return got;
}

/* ================================================================ reveal: underdrawing */

int dq_spec_reveal_underdrawing(const float *const *planes, int w, int h, const dq_spec_lib_t *lib,
                                const dq_spec_map_t *map, float *out, dq_err_t *err)
{
    int n = lib->n_bands, n_vis = 0, n_nir = 0;
    uint8_t vis[DQ_SPEC_MAX_BANDS];
    for (int b = 0; b < n; b++) {
        vis[b] = lib->nm[b] < 700;
        n_vis += vis[b];
        n_nir += lib->nm[b] >= 800;
    }
    if (n_vis < 2 || n_nir < 1)
        return dq_err_set(err, DQ_EINVAL, 0,
                          "underdrawing needs two bands below 700 nm and one at 800 nm or more");
    mesma_t ms;
    mesma_init(&ms, lib, map->support, vis);
    size_t npx = (size_t)w * (size_t)h;
    for (size_t i = 0; i < npx; i++) {
        double y[DQ_SPEC_MAX_BANDS], yy = 0, uy = 0;
        for (int b = 0; b < n; b++) {
            y[b] = vis[b] ? planes[b][i] - ms.S[b] : 0;
            yy += y[b] * y[b];
            uy += ms.u[b] * y[b];
        }
        double ak, ap;
        int k = map->best[i];
        solve(&ms, &ms.m[k], y, yy, uy, &ak, &ap);
        double as = 1 - ak - ap, deficit = 0;
        for (int b = 0; b < n; b++) {
            if (lib->nm[b] < 800)
                continue;
            double pred = as * ms.S[b] + ak * lib->ink[b] + ap * lib->refl[(size_t)k * n + b];
            deficit += (pred - planes[b][i]) / (pred > 0.05 ? pred : 0.05);
        }
        out[i] = (float)clamp01(deficit / n_nir);
    }
    mesma_free(&ms);
    return 0;
}
