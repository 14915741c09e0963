/*
 * test_spectral.c: the spectral module (src/spectral/) and the band-stack loader
 * (cli/spectral_stack.c) against the ground truth of `danqing generate`. One small work (the
 * lone-angler album leaf, DQ-2026-0012, with cinnabar and indigo) is painted on two seeds; its
 * raw capture is calibrated and registered and compared with the ideal bands and the true
 * shifts, pigments are identified on the ideal and the raw stack and scored against
 * pigment_map.png, the reveal images against the masks (ROC AUC), and the decompositions are
 * checked for their defining properties. Bad input must fail cleanly.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/spectral_stack.h"
#include "dq_test.h"
#include "image/image.h"
#include "paint/paint.h"
#include "spectral/spectral.h"

#define WORK "DQ-2026-0012"
#define SCALE 0.2

static const char *root(void)
{
    const char *r = getenv("DQ_ROOT");
    return r ? r : ".";
}

static void start_vips(void)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_spectral", 64, 2, &err) == 0);
}

static char *paint(uint64_t seed)
{
    char *dir = dq_test_tmpdir("dq_spec");
    char *pig = dq_xasprintf("%s/data-src/pigments", root());
    dq_paint_opts_t o = {
        .out_dir = dir, .pigments_dir = pig, .seed = seed, .scale = SCALE, .only = WORK, .quiet = 1};
    dq_err_t err = {0};
    int rc = dq_paint_collection(&o, &err);
    if (rc < 0)
        fprintf(stderr, "    paint: %s\n", err.msg);
    DQ_REQUIRE(rc == 0);
    free(pig);
    return dir;
}

/* A truth raster as floats 0..1 (8-bit files / 255). */
static float *truth_plane(const char *dir, const char *name, int *w, int *h)
{
    char *p = dq_xasprintf("%s/" WORK "/truth/%s", dir, name);
    dq_rasterf_t r = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_load_float(p, UINT64_MAX, &r, &err) == 0);
    free(p);
    size_t n = (size_t)r.w * r.h;
    float *out = dq_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        out[i] = r.px[i * r.bands] / 255.0f;
    *w = r.w;
    *h = r.h;
    dq_rasterf_free(&r);
    return out;
}

/* ROC AUC of score against mask (> 0.5 positive), by the rank-sum statistic. */
typedef struct {
    float s;
    int pos;
} sp_t;
static int cmp_sp(const void *a, const void *b)
{
    float x = ((const sp_t *)a)->s, y = ((const sp_t *)b)->s;
    return x < y ? -1 : x > y;
}
static double roc_auc(const float *score, const float *mask, size_t n)
{
    sp_t *v = dq_xmalloc(n * sizeof(sp_t));
    double npos = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].pos = mask[i] > 0.5f;
        npos += v[i].pos;
    }
    qsort(v, n, sizeof(sp_t), cmp_sp);
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double avg = (i + 1 + j) / 2.0; /* ranks i+1..j */
        for (size_t k = i; k < j; k++)
            if (v[k].pos)
                rank_sum += avg;
        i = j;
    }
    free(v);
    double nneg = (double)n - npos;
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* The calibrated, registered stack of dir's raw capture (reflectance planes in band order
 * r450..r940, then the UV plane as the channel mean). */
typedef struct {
    int w, h, n;
    float *planes[8];
    double nm[8];
    double shift_err_max, shift_err_mean;
    double rms_max;
} bstack_t;

static void stack_free(bstack_t *s)
{
    for (int i = 0; i < 8; i++)
        free(s->planes[i]);
}

static void load_raw(const char *dir, bstack_t *out)
{
    memset(out, 0, sizeof(*out));
    char *cdir = dq_xasprintf("%s/" WORK "/truth/capture", dir);
    char *tj = dq_xasprintf("%s/" WORK "/truth/capture_truth.json", dir);
    json_t *truth = json_load_file(tj, 0, NULL);
    DQ_REQUIRE(truth != NULL);
    dq_stack_t st;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_stack_open(cdir, UINT64_MAX, &st, &err) == 0);
    DQ_CHECK(st.raw == 1);
    /* Raw frames are uncompressed TIFF (as cameras write them): mapped, not decoded, with the
     * very pixels vips decodes from the file. */
    char *fp = dq_xasprintf("%s/r550.tif", cdir);
    dq_raster16_t mp = {0};
    dq_rasterf_t vf = {0};
    DQ_REQUIRE(dq_image_load_u16(fp, UINT64_MAX, &mp, &err) == 0);
    DQ_CHECK(mp.map != NULL);
    DQ_REQUIRE(dq_image_load_float(fp, UINT64_MAX, &vf, &err) == 0);
    DQ_CHECK(mp.w == vf.w && mp.h == vf.h && mp.bands == vf.bands && mp.bits == 16);
    size_t n_diff = 0;
    for (size_t k = 0; k < (size_t)vf.w * vf.h * vf.bands; k++)
        n_diff += mp.px[k] != (uint16_t)vf.px[k];
    DQ_CHECK(n_diff == 0);
    dq_raster16_free(&mp);
    dq_rasterf_free(&vf);
    free(fp);
    DQ_CHECK_STR(st.b[st.reference].name, "vis");
    DQ_REQUIRE(dq_stack_prepare(&st, &err) == 0);
    double sum = 0;
    int n_err = 0;
    for (int i = 0; i < st.n; i++) {
        dq_stack_band_t b;
        DQ_REQUIRE(dq_stack_band(&st, i, &b, &err) == 0);
        /* What spectral add stores (strips made on demand on vips' threads) is this band. */
        char *saved = dq_xasprintf("%s/saved-%s.tif", dir, st.b[i].name);
        dq_stack_band_t sb;
        DQ_REQUIRE(dq_stack_band_save(&st, i, saved, &sb, &err) == 0);
        DQ_CHECK(sb.px == NULL && sb.w == b.w && sb.h == b.h && sb.channels == b.channels);
        DQ_CHECK(sb.dx == b.dx && sb.dy == b.dy);
        dq_raster16_t back = {0};
        DQ_REQUIRE(dq_image_load_u16(saved, UINT64_MAX, &back, &err) == 0);
        DQ_CHECK(back.w == b.w && back.h == b.h && back.bands == b.channels);
        DQ_CHECK(memcmp(back.px, b.px, (size_t)b.w * b.h * b.channels * sizeof(uint16_t)) == 0);
        dq_raster16_free(&back);
        unlink(saved);
        free(saved);
        json_t *tb = json_object_get(truth, "bands");
        for (size_t k = 0; k < json_array_size(tb); k++) {
            json_t *e = json_array_get(tb, k);
            if (strcmp(json_string_value(json_object_get(e, "name")), st.b[i].name) || i == st.reference)
                continue;
            json_t *sh = json_object_get(e, "shift_px");
            double ex = b.dx - json_real_value(json_array_get(sh, 0));
            double ey = b.dy - json_real_value(json_array_get(sh, 1));
            double e2 = hypot(ex, ey);
            sum += e2;
            n_err++;
            if (e2 > out->shift_err_max)
                out->shift_err_max = e2;
        }
        size_t m = (size_t)b.w * b.h;
        if (strcmp(st.b[i].kind, "reflectance") == 0) {
            /* Against the ideal band, away from the outermost pixels (what the shift brought
             * in from outside the work). */
            char name[32];
            snprintf(name, sizeof(name), "bands/r%d.png", (int)st.b[i].nm);
            int tw, th;
            float *ideal = truth_plane(dir, name, &tw, &th);
            DQ_CHECK_INT(tw, b.w);
            DQ_CHECK_INT(th, b.h);
            double ss = 0;
            size_t cnt = 0;
            for (int y = 3; y < b.h - 3; y++)
                for (int x = 3; x < b.w - 3; x++) {
                    double d = b.px[(size_t)y * b.w + x] / DQ_STACK_SCALE -
                               ideal[(size_t)y * b.w + x];
                    ss += d * d;
                    cnt++;
                }
            double rms = sqrt(ss / cnt);
            if (rms > out->rms_max)
                out->rms_max = rms;
            free(ideal);
            out->nm[out->n] = st.b[i].nm;
            out->planes[out->n] = dq_xmalloc(m * sizeof(float));
            for (size_t k = 0; k < m; k++)
                out->planes[out->n][k] = (float)(b.px[k] / DQ_STACK_SCALE);
            out->n++;
        } else if (strcmp(st.b[i].kind, "uv_fluorescence") == 0) {
            out->planes[7] = dq_xmalloc(m * sizeof(float));
            for (size_t k = 0; k < m; k++)
                out->planes[7][k] =
                    (float)((b.px[3 * k] + b.px[3 * k + 1] + b.px[3 * k + 2]) / 3.0 /
                            DQ_STACK_SCALE);
        }
        out->w = b.w;
        out->h = b.h;
        dq_stack_band_free(&b);
    }
    out->shift_err_mean = sum / n_err;
    DQ_CHECK_INT(n_err, 7);
    dq_stack_close(&st);
    json_decref(truth);
    free(cdir);
    free(tj);
}

/* The ideal bands as planes (reflectance), uv as linear channel mean. */
static void load_ideal(const char *dir, bstack_t *out)
{
    memset(out, 0, sizeof(*out));
    static const int nm[] = {450, 550, 650, 750, 850, 940};
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bands/r%d.png", nm[i]);
        out->planes[i] = truth_plane(dir, name, &out->w, &out->h);
        out->nm[i] = nm[i];
    }
    out->n = 6;
    char *cdir = dq_xasprintf("%s/" WORK "/truth/bands", dir);
    dq_stack_t st;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_stack_open(cdir, UINT64_MAX, &st, &err) == 0);
    DQ_CHECK(st.raw == 0);
    DQ_REQUIRE(dq_stack_prepare(&st, &err) == 0);
    for (int i = 0; i < st.n; i++)
        if (strcmp(st.b[i].kind, "uv_fluorescence") == 0) {
            dq_stack_band_t b;
            DQ_REQUIRE(dq_stack_band(&st, i, &b, &err) == 0);
            size_t m = (size_t)b.w * b.h;
            out->planes[7] = dq_xmalloc(m * sizeof(float));
            for (size_t k = 0; k < m; k++)
                out->planes[7][k] =
                    (float)((b.px[3 * k] + b.px[3 * k + 1] + b.px[3 * k + 2]) / 3.0 /
                            DQ_STACK_SCALE);
            dq_stack_band_free(&b);
        }
    dq_stack_close(&st);
    free(cdir);
}

/* Pigment accuracy (family of the label = the truth's material) over pixels with coverage
 * >= 0.5 and ink <= 0.3, and support recall over bare support with ink <= 0.1. */
static void score_map(const char *dir, const bstack_t *s, double *acc, double *recall,
                      double *auc_under, double *auc_ret)
{
    dq_spec_lib_t lib;
    dq_err_t err = {0};
    char *pig = dq_xasprintf("%s/data-src/pigments", root());
    DQ_REQUIRE(dq_spec_lib_load(&lib, pig, s->nm, s->n, &err) == 0);
    dq_spec_map_t map;
    DQ_REQUIRE(dq_spec_pigments((const float *const *)s->planes, s->w, s->h, &lib, 0.3, NULL,
                                NULL, &map, &err) == 0);
    int w, h;
    float *pm = truth_plane(dir, "pigment_map.png", &w, &h);
    float *cov = truth_plane(dir, "pigment_coverage.png", &w, &h);
    float *ink = truth_plane(dir, "ink_density.png", &w, &h);
    static const char *const names[] = {"support", "carbon_ink", "lead_white", "cinnabar",
                                        "vermilion", "azurite", "malachite", "indigo",
                                        "yellow_ochre", "red_ochre", "orpiment"};
    size_t n = (size_t)w * h, pig_n = 0, pig_ok = 0, sup_n = 0, sup_ok = 0;
    for (size_t i = 0; i < n; i++) {
        int m = (int)lround(pm[i] * 255);
        if (m == 0 && ink[i] <= 0.1f) {
            sup_n++;
            sup_ok += map.label[i] == DQ_SPEC_LABEL_SUPPORT;
        } else if (m >= 2 && m <= 10 && cov[i] >= 0.5f && ink[i] <= 0.3f) {
            pig_n++;
            if (map.label[i] >= DQ_SPEC_LABEL_PIGMENT0) {
                char fam[DQ_SPEC_NAME];
                dq_spec_family(lib.names[map.label[i] - DQ_SPEC_LABEL_PIGMENT0], fam, sizeof(fam));
                pig_ok += strncmp(fam, names[m], strlen(names[m])) == 0;
            }
        }
    }
    DQ_CHECK(pig_n > 200);
    *acc = (double)pig_ok / pig_n;
    *recall = (double)sup_ok / sup_n;
    float *score = dq_xmalloc(n * sizeof(float));
    float *mask = truth_plane(dir, "underdrawing_mask.png", &w, &h);
    DQ_REQUIRE(dq_spec_reveal_underdrawing((const float *const *)s->planes, w, h, &lib, &map,
                                           score, &err) == 0);
    *auc_under = roc_auc(score, mask, n);
    free(mask);
    mask = truth_plane(dir, "retouch_mask.png", &w, &h);
    DQ_REQUIRE(dq_spec_reveal_retouching((const float *const *)s->planes, s->n, w, h,
                                         s->planes[7], &map, score, &err) == 0);
    *auc_ret = roc_auc(score, mask, n);
    free(mask);
    free(score);
    free(pm);
    free(cov);
    free(ink);
    free(pig);
    dq_spec_map_free(&map);
    dq_spec_lib_free(&lib);
}

static void ground_truth(uint64_t seed)
{
    start_vips();
    char *dir = paint(seed);
    bstack_t raw, ideal;
    load_raw(dir, &raw);
    fprintf(stderr, "    seed %llu: shift error mean %.3f max %.3f px, reflectance RMS max %.4f\n",
            (unsigned long long)seed, raw.shift_err_mean, raw.shift_err_max, raw.rms_max);
    DQ_CHECK(raw.shift_err_mean <= 0.2);
    DQ_CHECK(raw.shift_err_max <= 0.4);
    DQ_CHECK(raw.rms_max <= 0.02);
    load_ideal(dir, &ideal);
    double acc, rec, au, ar;
    score_map(dir, &ideal, &acc, &rec, &au, &ar);
    fprintf(stderr, "    ideal: pigments %.3f support %.3f AUC underdrawing %.3f retouching %.3f\n",
            acc, rec, au, ar);
    DQ_CHECK(acc >= 0.95 && rec >= 0.95);
    DQ_CHECK(au >= 0.95 && ar >= 0.95);
    score_map(dir, &raw, &acc, &rec, &au, &ar);
    fprintf(stderr, "    raw:   pigments %.3f support %.3f AUC underdrawing %.3f retouching %.3f\n",
            acc, rec, au, ar);
    DQ_CHECK(acc >= 0.85 && rec >= 0.85);
    DQ_CHECK(au >= 0.95 && ar >= 0.95);
    stack_free(&raw);
    stack_free(&ideal);
    dq_test_rm_rf(dir);
    free(dir);
}

DQ_TEST(ground_truth_seed_1)
{
    ground_truth(1);
}

DQ_TEST(ground_truth_seed_7)
{
    ground_truth(7);
}

/* ---------------------------------------------------------------- decompositions */

/* Three planes: two independent textures and their mix, plus noise. */
static void synth(float *p[3], int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double a = sin(x * 0.31) * cos(y * 0.17), b = ((x / 7 + y / 5) % 3) - 1.0;
            double nz = ((dq_hash64(&i, sizeof(i)) & 0xffff) / 65535.0 - 0.5) * 0.02;
            p[0][i] = (float)(a + nz);
            p[1][i] = (float)(b - nz);
            p[2][i] = (float)(0.5 * a + 0.3 * b + 2 * nz);
        }
}

DQ_TEST(decompositions_properties)
{
    int w = 96, h = 80;
    float *p[3];
    for (int k = 0; k < 3; k++)
        p[k] = dq_xmalloc((size_t)w * h * sizeof(float));
    synth(p, w, h);
    dq_err_t err = {0};
    dq_spec_rect_t all = {0}, none = {0};
    for (int m = DQ_SPEC_PCA; m <= DQ_SPEC_ICA; m++) {
        dq_spec_decomp_t d;
        DQ_REQUIRE(dq_spec_decompose((const float *const *)p, 3, w, h, m, all, none, &d, &err) ==
                   0);
        DQ_CHECK(d.n_comp == 3);
        for (int k = 1; k < d.n_comp; k++)
            DQ_CHECK(d.values[k - 1] >= d.values[k]);
        /* Components are uncorrelated (PCA, MNF: by construction; ICA: whitened). */
        float *c0 = dq_xmalloc((size_t)w * h * sizeof(float)),
              *c1 = dq_xmalloc((size_t)w * h * sizeof(float));
        dq_spec_component(&d, (const float *const *)p, w, h, 0, c0);
        dq_spec_component(&d, (const float *const *)p, w, h, 1, c1);
        double s01 = 0, s00 = 0, s11 = 0;
        for (size_t i = 0; i < (size_t)w * h; i++) {
            s01 += c0[i] * c1[i];
            s00 += c0[i] * c0[i];
            s11 += c1[i] * c1[i];
        }
        DQ_CHECK(fabs(s01) / sqrt(s00 * s11) < 0.05);
        if (m == DQ_SPEC_PCA) {
            for (int k = 0; k < 3; k++) {
                double nrm = 0;
                for (int j = 0; j < 3; j++)
                    nrm += d.vectors[k * 3 + j] * d.vectors[k * 3 + j];
                DQ_CHECK(fabs(nrm - 1) < 1e-9);
            }
            /* The first eigenvalue is the first component's variance. */
            DQ_CHECK(fabs(s00 / ((double)w * h - 1) - d.values[0]) < 1e-3 * d.values[0]);
        }
        free(c0);
        free(c1);
        dq_spec_decomp_free(&d);
    }
    /* Bad regions are refused. */
    dq_spec_decomp_t d;
    dq_spec_rect_t out_of = {90, 0, 20, 20};
    DQ_CHECK(dq_spec_decompose((const float *const *)p, 3, w, h, DQ_SPEC_PCA, out_of, none, &d,
                               &err) < 0);
    DQ_CHECK(err.code == DQ_EINVAL);
    DQ_CHECK(dq_spec_decompose((const float *const *)p, 3, w, h, 9, all, none, &d, &err) < 0);
    for (int k = 0; k < 3; k++)
        free(p[k]);
}

/* ---------------------------------------------------------------- registration, calibration */

DQ_TEST(register_known_shift)
{
    int w = 200, h = 150;
    float *a = dq_xmalloc((size_t)w * h * sizeof(float)), *b = dq_xmalloc((size_t)w * h * 4);
    /* A texture: hashed noise, box-blurred twice (phase correlation needs broadband
     * content, as real images have; a few pure sinusoids would not do). */
    for (size_t i = 0; i < (size_t)w * h; i++)
        b[i] = (float)((dq_hash64(&i, sizeof(i)) & 0xffff) / 65535.0);
    for (int pass = 0; pass < 2; pass++) {
        float *src = pass ? a : b, *dst = pass ? b : a;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double s = 0;
                int c = 0;
                for (int yy = DQ_MAX(0, y - 1); yy <= DQ_MIN(h - 1, y + 1); yy++)
                    for (int xx = DQ_MAX(0, x - 1); xx <= DQ_MIN(w - 1, x + 1); xx++, c++)
                        s += src[(size_t)yy * w + xx];
                dst[(size_t)y * w + x] = (float)(s / c);
            }
    }
    memcpy(a, b, (size_t)w * h * sizeof(float));
    /* b(x, y) = a(x - 1.3, y + 0.6): a(x + dx) with dx = -1.3, dy = +0.6 via unshift. */
    dq_spec_unshift(a, b, w, h, -1.3, 0.6);
    double dx, dy, pk;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_spec_register(a, b, w, h, 3, 50, &dx, &dy, &pk, &err) == 0);
    fprintf(stderr, "    found %.3f %.3f\n", dx, dy);
    DQ_CHECK(fabs(dx - 1.3) < 0.05);
    DQ_CHECK(fabs(dy + 0.6) < 0.05);
    DQ_CHECK(dq_spec_register(a, b, 8, 8, 1, 10, &dx, &dy, &pk, &err) < 0);
    free(a);
    free(b);
}

/* The streamed forms must give exactly what the whole-plane forms give: spectral add stores
 * rows from dq_spec_cal_row + dq_spec_unshift_rows, the tests above score dq_spec_calibrate +
 * dq_spec_unshift. */
typedef struct {
    const float *src;
    float *dst;
    int w, cw;
    int last_row;
    int rows_read;
} stream_t;

static void stream_row(void *ud, int y, float *buf)
{
    stream_t *s = ud;
    DQ_CHECK(y >= s->last_row); /* rows are asked for in order */
    s->last_row = y;
    s->rows_read++;
    memcpy(buf, s->src + (size_t)y * s->w, (size_t)s->w * sizeof(float));
}

static void stream_emit(void *ud, int y, const float *out)
{
    stream_t *s = ud;
    memcpy(s->dst + (size_t)y * s->cw, out, (size_t)s->cw * sizeof(float));
}

DQ_TEST(streamed_forms_match_whole_planes)
{
    int w = 97, h = 61, ch = 3;
    size_t n = (size_t)w * h;
    uint16_t *u = dq_xmalloc(n * ch * sizeof(uint16_t));
    float *plane = dq_xmalloc(n * sizeof(float)), *dark = dq_xmalloc(n * sizeof(float));
    float *whole = dq_xmalloc(n * sizeof(float)), *row = dq_xmalloc((size_t)w * sizeof(float));
    for (size_t k = 0; k < n; k++) {
        int x = (int)(k % w), y = (int)(k / w);
        double light = 1.0 - 0.2 * ((x - 40.0) * (x - 40.0) + (y - 30.0) * (y - 30.0)) / 5000.0;
        dark[k] = (float)(100 + (dq_hash64(&k, sizeof(k)) & 15));
        for (int c = 0; c < ch; c++) {
            double refl = (x < 8 || y < 8) ? 0.95 : 0.2 + 0.1 * c + 0.3 * ((x / 9 + y / 7) % 3);
            if (y >= 50 && x >= 10 && x < 30)
                refl = 0.1;
            if (y >= 50 && x >= 40 && x < 60)
                refl = 0.5;
            u[k * ch + c] = (uint16_t)(dark[k] + 40000 * light * refl);
        }
    }
    dq_spec_rect_t white[2] = {{0, 0, 97, 8}, {0, 8, 8, 53}};
    dq_spec_step_t steps[2] = {{{10, 50, 20, 11}, 0.1}, {{40, 50, 20, 11}, 0.5}};
    dq_err_t err = {0};
    for (int c = 0; c < ch; c++) {
        for (size_t k = 0; k < n; k++)
            plane[k] = u[k * ch + c];
        dq_spec_cal_t cal_a, cal_b;
        DQ_REQUIRE(dq_spec_calibrate(plane, w, h, dark, NULL, 0.95, white, 2, steps, 2, 1, &cal_a,
                                     &err) == 0);
        dq_spec_src_t src = {.u = u, .channels = ch, .channel = c, .dark = dark, .w = w, .h = h};
        dq_spec_calmodel_t m;
        DQ_REQUIRE(dq_spec_cal_fit(&src, NULL, 0.95, white, 2, steps, 2, 1, &m, &cal_b, &err) ==
                   0);
        DQ_CHECK(cal_a.gain == cal_b.gain && cal_a.offset == cal_b.offset);
        DQ_CHECK(cal_a.falloff == cal_b.falloff && cal_a.grey_rms < 0.01);
        int same = 1;
        for (int y = 0; y < h; y++) {
            dq_spec_cal_row(&m, &src, y, 0, w, row);
            same &= memcmp(row, plane + (size_t)y * w, (size_t)w * sizeof(float)) == 0;
        }
        DQ_CHECK(same);
    }
    /* Resampling: whole plane then crop, against the stream over the crop. */
    dq_spec_rect_t crop = {5, 4, 80, 50};
    float *cropped = dq_xmalloc((size_t)crop.w * crop.h * sizeof(float));
    const double shifts[3][2] = {{0.37, -1.62}, {-2.5, 0.75}, {0, 0}};
    for (int t = 0; t < 3; t++) {
        dq_spec_unshift(plane, whole, w, h, shifts[t][0], shifts[t][1]);
        stream_t s = {plane, cropped, w, crop.w, -1, 0};
        dq_spec_unshift_rows(stream_row, stream_emit, &s, w, h, shifts[t][0], shifts[t][1], crop);
        int same = 1;
        for (int y = 0; y < crop.h; y++)
            same &= memcmp(cropped + (size_t)y * crop.w,
                           whole + (size_t)(crop.y + y) * w + crop.x,
                           (size_t)crop.w * sizeof(float)) == 0;
        DQ_CHECK(same);
        DQ_CHECK(s.rows_read <= crop.h + 6); /* each source row about once */
    }
    free(cropped);
    free(u);
    free(plane);
    free(dark);
    free(whole);
    free(row);
}

DQ_TEST(calibrate_refuses_bad_targets)
{
    int w = 64, h = 64;
    float *px = dq_xcalloc((size_t)w * h, sizeof(float));
    dq_spec_rect_t r = {60, 0, 10, 10};
    dq_spec_cal_t cal;
    dq_err_t err = {0};
    DQ_CHECK(dq_spec_calibrate(px, w, h, NULL, NULL, 0.95, &r, 1, NULL, 0, 0, &cal, &err) < 0);
    DQ_CHECK(err.code == DQ_EINVAL);
    DQ_CHECK(dq_spec_calibrate(px, w, h, NULL, NULL, 0.95, NULL, 0, NULL, 0, 0, &cal, &err) < 0);
    /* An all-dark white target cannot give a light field. */
    dq_spec_rect_t ok = {0, 0, 64, 8};
    DQ_CHECK(dq_spec_calibrate(px, w, h, NULL, NULL, 0.95, &ok, 1, NULL, 0, 0, &cal, &err) < 0);
    free(px);
}

DQ_TEST(stack_refuses_bad_descriptions)
{
    start_vips();
    char *dir = dq_test_tmpdir("dq_stack");
    dq_stack_t st;
    dq_err_t err = {0};
    char *missing = dq_xasprintf("%s/none", dir);
    DQ_CHECK(dq_stack_open(missing, UINT64_MAX, &st, &err) < 0);
    DQ_CHECK(err.code == DQ_ENOTFOUND);
    DQ_CHECK(dq_stack_open(dir, UINT64_MAX, &st, &err) < 0); /* empty: no bands */
    const char *bad[] = {
        "{",
        "{\"bands\": 3}",
        "{\"bands\": [{\"file\": \"../x.tif\", \"kind\": \"reflectance\", \"nm\": 500}]}",
        "{\"bands\": [{\"file\": \"a.tif\", \"kind\": \"xray\", \"nm\": 500}]}",
        "{\"bands\": [{\"file\": \"a.tif\", \"kind\": \"reflectance\"}]}",
        "{\"dark\": \"d.tif\", \"bands\": [{\"file\": \"a.tif\", \"kind\": \"reflectance\", "
        "\"nm\": 500}]}",
        "{\"bands\": [{\"file\": \"missing.tif\", \"kind\": \"reflectance\", \"nm\": 500}]}",
    };
    char *bj = dq_xasprintf("%s/bands.json", dir);
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        DQ_REQUIRE(dq_fs_write_atomic(bj, dir, bad[i], strlen(bad[i]), &err) == 0);
        memset(&err, 0, sizeof(err));
        DQ_CHECK(dq_stack_open(dir, UINT64_MAX, &st, &err) < 0);
        DQ_CHECK(err.msg[0] != '\0');
    }
    free(bj);
    free(missing);
    dq_test_rm_rf(dir);
    free(dir);
}
