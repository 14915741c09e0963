/*
 * test_paint.c: the procedural painter (src/paint/). A tiny collection (--scale 0.04) is
 * painted twice and must be byte-identical; its truth must agree with itself: reflectance
 * bands equal the measured spectra where the pigment map says a pigment lies pure, the
 * underdrawing shows at 940 nm and not at 550 nm, the retouching only under UV, the change
 * masks cover every pixel that changed between the captures, and metadata.jsonl is valid.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "dq_test.h"
#include "core/colour.h"
#include "image/image.h"
#include "paint/paint.h"

#define SCALE 0.04

static const char *root(void)
{
    const char *r = getenv("DQ_ROOT");
    return r ? r : ".";
}

static char *pigments(void)
{
    return dq_xasprintf("%s/data-src/pigments", root());
}

static void start_vips(void)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_paint", 64, 2, &err) == 0);
}

/* Paints the tiny collection into a fresh temporary directory; returns it (free()). */
static char *paint(const char *only)
{
    char *tmpl = dq_test_tmpdir("dq_paint");
    char *pig = pigments();
    dq_paint_opts_t o = {
        .out_dir = tmpl, .pigments_dir = pig, .seed = 7, .scale = SCALE, .only = only, .quiet = 1};
    dq_err_t err = {0};
    int rc = dq_paint_collection(&o, &err);
    if (rc < 0)
        fprintf(stderr, "    paint: %s\n", err.msg);
    DQ_REQUIRE(rc == 0);
    free(pig);
    return tmpl;
}

/* ---------------------------------------------------------------- determinism */

typedef struct {
    dq_buf_t list; /* "relative-path sha256\n" lines, in walk order */
    size_t prefix;
    int n_files;
} walk_t;

static walk_t *walk_state; /* nftw has no user pointer; set only within one test process */

static int hash_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    char hex[65];
    dq_err_t err = {0};
    if (dq_sha256_file(p, hex, NULL, &err) < 0)
        return -1;
    dq_buf_printf(&walk_state->list, "%s %s\n", p + walk_state->prefix, hex);
    walk_state->n_files++;
    return 0;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_truth(const char *dir, const char *id, const char *name)
{
    char *path = dq_xasprintf("%s/%s/truth/%s", dir, id, name);
    int ok = dq_fs_exists(path);
    free(path);
    return ok;
}

/* Sorted "path hash" lines of every file under dir. */
static char *tree_hash(const char *dir, int *n_files)
{
    walk_t w = {.prefix = strlen(dir)};
    walk_state = &w;
    DQ_REQUIRE(nftw(dir, hash_cb, 16, FTW_PHYS) == 0);
    walk_state = NULL;
    char **lines = dq_xcalloc((size_t)w.n_files + 1, sizeof(char *));
    int n = 0;
    for (char *s = strtok(w.list.data, "\n"); s; s = strtok(NULL, "\n"))
        lines[n++] = s;
    qsort(lines, (size_t)n, sizeof(char *), cmp_lines);
    dq_buf_t out = {0};
    for (int i = 0; i < n; i++)
        dq_buf_printf(&out, "%s\n", lines[i]);
    free(lines);
    dq_buf_free(&w.list);
    *n_files = n;
    return dq_buf_steal(&out, NULL);
}

DQ_TEST(same_seed_same_bytes)
{
    start_vips();
    char *a = paint(NULL), *b = paint(NULL);
    int na = 0, nb = 0;
    char *ha = tree_hash(a, &na), *hb = tree_hash(b, &nb);
    DQ_CHECK(na > 16 * 20);
    DQ_CHECK_INT(na, nb);
    DQ_CHECK_STR(ha, hb);
    free(ha);
    free(hb);
    dq_test_rm_rf(a);
    dq_test_rm_rf(b);
    free(a);
    free(b);
}

/* ---------------------------------------------------------------- files */

static uint8_t *load(const char *dir, const char *id, const char *name, int *w, int *h, int *bands)
{
    char *path = dq_xasprintf("%s/%s/truth/%s", dir, id, name);
    VipsImage *im = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!im)
        fprintf(stderr, "    cannot load %s: %s\n", path, vips_error_buffer());
    DQ_REQUIRE(im);
    size_t size;
    uint8_t *mem = vips_image_write_to_memory(im, &size);
    DQ_REQUIRE(mem);
    *w = im->Xsize;
    *h = im->Ysize;
    *bands = im->Bands;
    g_object_unref(im);
    free(path);
    return mem;
}

DQ_TEST(bands_match_measured_spectra)
{
    start_vips();
    char *dir = paint(NULL);
    char *pig = pigments();
    dq_paint_spectra_t *sp = dq_xcalloc(1, sizeof(*sp));
    dq_err_t err = {0};
    DQ_REQUIRE(dq_paint_spectra_load(sp, pig, &err) == 0);
    static const int nm[] = {450, 550, 650, 750, 850, 940};
    long checked = 0, bad = 0, cinnabar = 0;
    for (int wk = 1; wk <= 16; wk++) {
        char id[32];
        snprintf(id, sizeof(id), "DQ-2026-%04d", wk);
        int w, h, b, w2, h2, b2;
        uint8_t *mat = load(dir, id, "pigment_map.png", &w, &h, &b);
        uint8_t *cov = load(dir, id, "pigment_coverage.png", &w2, &h2, &b2);
        uint8_t *ink = load(dir, id, "ink_density.png", &w2, &h2, &b2);
        uint8_t *und = load(dir, id, "underdrawing_mask.png", &w2, &h2, &b2);
        uint8_t *cov2 = has_truth(dir, id, "pigment2_coverage.png")
                            ? load(dir, id, "pigment2_coverage.png", &w2, &h2, &b2)
                            : NULL;
        DQ_CHECK_INT(b, 1);
        for (size_t k = 0; k < DQ_ARRAY_LEN(nm); k++) {
            char name[32];
            snprintf(name, sizeof(name), "bands/r%d.png", nm[k]);
            uint8_t *band = load(dir, id, name, &w2, &h2, &b2);
            DQ_REQUIRE(w2 == w && h2 == h && b2 == 1);
            for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
                /* A pure, opaque pigment with no ink over it and nothing hidden under it. */
                if (cov[i] != 255 || ink[i] != 0 || und[i] != 0 || mat[i] == DQ_MAT_NONE ||
                    (cov2 && cov2[i]))
                    continue;
                double want = 255.0 * dq_paint_spectra_at(sp, mat[i], nm[k]);
                checked++;
                cinnabar += mat[i] == DQ_MAT_CINNABAR;
                if (fabs(band[i] - want) > 1.0) {
                    if (bad++ < 5)
                        fprintf(stderr, "    %s %s px %zu mat %d: %d vs %.1f\n", id, name, i,
                                mat[i], band[i], want);
                }
            }
            g_free(band);
        }
        g_free(mat);
        g_free(cov);
        g_free(ink);
        g_free(und);
        g_free(cov2);
    }
    DQ_CHECK(checked > 200);
    DQ_CHECK(cinnabar > 50);
    DQ_CHECK_INT(bad, 0);
    free(sp);
    free(pig);
    dq_test_rm_rf(dir);
    free(dir);
}

/* Pigment over pigment (glaze.c): only the blue-green landscapes have glazes; where a second
 * colour holds a share of an opaque, ink-free pixel, every band is the area-weighted mixture of
 * the two measured spectra, and the map's colour is the larger share. */
DQ_TEST(glazes_mix_two_pigments)
{
    start_vips();
    char *dir = paint(NULL);
    char *pig = pigments();
    dq_paint_spectra_t *sp = dq_xcalloc(1, sizeof(*sp));
    dq_err_t err = {0};
    DQ_REQUIRE(dq_paint_spectra_load(sp, pig, &err) == 0);
    static const int nm[] = {450, 550, 650, 750, 850, 940};
    long mixed = 0, checked = 0, bad = 0, with = 0;
    for (int wk = 1; wk <= 16; wk++) {
        char id[32];
        snprintf(id, sizeof(id), "DQ-2026-%04d", wk);
        if (!has_truth(dir, id, "pigment2_map.png"))
            continue;
        with++;
        int w, h, b, w2, h2, b2;
        uint8_t *mat = load(dir, id, "pigment_map.png", &w, &h, &b);
        uint8_t *cov = load(dir, id, "pigment_coverage.png", &w2, &h2, &b2);
        uint8_t *mat2 = load(dir, id, "pigment2_map.png", &w2, &h2, &b2);
        uint8_t *cov2 = load(dir, id, "pigment2_coverage.png", &w2, &h2, &b2);
        uint8_t *ink = load(dir, id, "ink_density.png", &w2, &h2, &b2);
        uint8_t *und = load(dir, id, "underdrawing_mask.png", &w2, &h2, &b2);
        DQ_REQUIRE(w2 == w && h2 == h);
        size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++) {
            if (!cov2[i])
                continue;
            mixed++;
            /* Two different colours, the map's the larger share. */
            DQ_CHECK(mat2[i] != 0 && mat2[i] != mat[i] && mat[i] != 0);
            DQ_CHECK(2 * cov2[i] <= cov[i] + 2);
        }
        for (size_t k = 0; k < DQ_ARRAY_LEN(nm); k++) {
            char name[32];
            snprintf(name, sizeof(name), "bands/r%d.png", nm[k]);
            uint8_t *band = load(dir, id, name, &w2, &h2, &b2);
            for (size_t i = 0; i < n; i++) {
                if (cov[i] != 255 || !cov2[i] || ink[i] != 0 || und[i] != 0)
                    continue;
                double c2 = cov2[i] / 255.0;
                double want = 255.0 * ((1 - c2) * dq_paint_spectra_at(sp, mat[i], nm[k]) +
                                       c2 * dq_paint_spectra_at(sp, mat2[i], nm[k]));
                checked++;
                if (fabs(band[i] - want) > 1.5 && bad++ < 5)
                    fprintf(stderr, "    %s %s px %zu mats %d/%d: %d vs %.1f\n", id, name, i,
                            mat[i], mat2[i], band[i], want);
            }
            g_free(band);
        }
        g_free(mat);
        g_free(cov);
        g_free(mat2);
        g_free(cov2);
        g_free(ink);
        g_free(und);
    }
    DQ_CHECK(with >= 1 && with < 16);
    DQ_CHECK(mixed > 100);
    DQ_CHECK(checked > 20);
    DQ_CHECK_INT(bad, 0);
    free(sp);
    free(pig);
    dq_test_rm_rf(dir);
    free(dir);
}

static int has_field(json_t *o, const char *k, json_type type)
{
    json_t *v = json_object_get(o, k);
    return v && json_typeof(v) == type;
}

DQ_TEST(metadata_jsonl_is_valid)
{
    start_vips();
    char *dir = paint(NULL);
    char *path = dq_xasprintf("%s/metadata.jsonl", dir);
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_fs_read_file(path, 1 << 24, &b, &err) == 0);
    static const char *dyn[] = {"tang", "five_dynasties", "song", "northern_song", "southern_song",
                                "yuan", "ming",           "qing", "republic",      "modern"};
    int n = 0, schools_seen = 0;
    char schools[8][32] = {{0}};
    for (char *line = strtok(b.data, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        DQ_REQUIRE(o && json_is_object(o));
        n++;
        static const char *strs[] = {"accession",      "title_zh",  "title_en",    "title_pinyin",
                                     "dynasty",        "date_text", "object_type", "subject",
                                     "medium_zh",      "medium_en", "support",     "description_zh",
                                     "description_en", "rights",    "school"};
        for (size_t i = 0; i < DQ_ARRAY_LEN(strs); i++)
            DQ_CHECK(has_field(o, strs[i], JSON_STRING));
        DQ_CHECK(has_field(o, "year_from", JSON_INTEGER));
        DQ_CHECK(has_field(o, "year_to", JSON_INTEGER));
        DQ_CHECK(has_field(o, "dimensions_cm", JSON_OBJECT));
        DQ_CHECK(has_field(o, "inscriptions", JSON_ARRAY));
        DQ_CHECK(has_field(o, "seals", JSON_ARRAY));
        DQ_CHECK(has_field(o, "images", JSON_ARRAY));
        json_t *cr = json_object_get(o, "creators");
        DQ_CHECK(json_is_array(cr) && json_array_size(cr) >= 1 &&
                 has_field(json_array_get(cr, 0), "name_zh", JSON_STRING));
        DQ_CHECK(json_array_size(json_object_get(o, "seals")) >= 1);
        const char *d = json_string_value(json_object_get(o, "dynasty"));
        int ok = 0;
        for (size_t i = 0; d && i < DQ_ARRAY_LEN(dyn); i++)
            ok |= strcmp(d, dyn[i]) == 0;
        DQ_CHECK(ok);
        const char *s = json_string_value(json_object_get(o, "school"));
        int seen = 0;
        for (int i = 0; s && i < schools_seen; i++)
            seen |= strcmp(schools[i], s) == 0;
        if (s && !seen && schools_seen < 8)
            snprintf(schools[schools_seen++], 32, "%s", s);
        json_t *img = json_array_get(json_object_get(o, "images"), 0);
        DQ_CHECK_STR(json_string_value(json_object_get(img, "role")), "main");
        char *main_path =
            dq_xasprintf("%s/%s", dir, json_string_value(json_object_get(img, "file")));
        DQ_CHECK(dq_fs_exists(main_path));
        free(main_path);
        json_decref(o);
    }
    DQ_CHECK_INT(n, 16);
    DQ_CHECK(schools_seen >= 4);
    json_error_t je;
    char *man = dq_xasprintf("%s/manifest.json", dir);
    json_t *m = json_load_file(man, 0, &je);
    DQ_CHECK(m && json_array_size(json_object_get(m, "works")) == 16);
    json_decref(m);
    char *tf = dq_xasprintf("%s/DQ-2026-0001/truth/transform.json", dir);
    json_t *t = json_load_file(tf, 0, &je);
    DQ_CHECK(t && json_array_size(json_object_get(t, "matrix")) == 2);
    json_decref(t);
    free(tf);
    free(man);
    dq_buf_free(&b);
    free(path);
    dq_test_rm_rf(dir);
    free(dir);
}

/* ---------------------------------------------------------------- hidden layers, changes */

/* A small landscape scene with hidden layers, and its state (with damage) in memory. */
static uint8_t *scene_state_fan(dq_paint_scene_t *sc, int w, int h, int fan)
{
    dq_paint_rng_t rng;
    dq_paint_rng_seed(&rng, 99);
    sc->seed = 1234;
    sc->aspect = (float)w / (float)h;
    sc->age = 0.4f;
    sc->weave = 0.002f;
    sc->damage = 0.6f;
    dq_paint_style_t st = {.format = DQ_FMT_ALBUM,
                           .cun = DQ_CUN_HEMP,
                           .ink = 0.8f,
                           .blank = 0.4f,
                           .mist = 0.5f,
                           .dry = 0.4f,
                           .palette = DQ_PAL_BLUEGREEN};
    dq_paint_landscape_build(sc, &st, &rng);
    dq_paint_add_hidden(sc, &rng);
    if (fan) { /* the geometry collection.c gives a fan leaf */
        sc->fan = 1;
        sc->fan_geom[0] = sc->aspect / 2;
        sc->fan_geom[1] = 1.42f;
        sc->fan_geom[2] = 0.62f;
        sc->fan_geom[3] = 1.34f;
        sc->fan_half = 0.93f;
    }
    dq_err_t err = {0};
    VipsImage *im = dq_paint_render_state(sc, w, h, 1, &err);
    DQ_REQUIRE(im);
    size_t size;
    uint8_t *mem = vips_image_write_to_memory(im, &size);
    DQ_REQUIRE(mem && size == (size_t)w * h * DQ_ST_N);
    g_object_unref(im);
    return mem;
}

static uint8_t *scene_state(dq_paint_scene_t *sc, int w, int h)
{
    return scene_state_fan(sc, w, h, 0);
}

/* Shades a state held in memory. */
static uint8_t *shade_mem(const uint8_t *state, int w, int h, const dq_paint_scene_t *sc,
                          const dq_paint_spectra_t *sp, int mode, double nm, int *bands)
{
    VipsImage *st = vips_image_new_from_memory_copy(state, (size_t)w * h * DQ_ST_N, w, h, DQ_ST_N,
                                                    VIPS_FORMAT_UCHAR);
    DQ_REQUIRE(st);
    dq_err_t err = {0};
    VipsImage *o = dq_paint_shade(st, sc, sp, mode, nm, &err);
    DQ_REQUIRE(o);
    size_t size;
    uint8_t *mem = vips_image_write_to_memory(o, &size);
    DQ_REQUIRE(mem);
    *bands = o->Bands;
    g_object_unref(o);
    g_object_unref(st);
    return mem;
}

/* Mean absolute difference of an output with and without one state band, over the pixels
 * where that band is set, and the largest difference anywhere. */
static void hidden_diff(const uint8_t *state, int w, int h, const dq_paint_scene_t *sc,
                        const dq_paint_spectra_t *sp, int band, int mode, double nm,
                        double *mean_in, int *max_any)
{
    size_t n = (size_t)w * h;
    uint8_t *bare = dq_xmalloc(n * DQ_ST_N);
    memcpy(bare, state, n * DQ_ST_N);
    for (size_t i = 0; i < n; i++)
        bare[i * DQ_ST_N + band] = 0;
    int nb;
    uint8_t *a = shade_mem(state, w, h, sc, sp, mode, nm, &nb);
    uint8_t *b = shade_mem(bare, w, h, sc, sp, mode, nm, &nb);
    double sum = 0;
    long cnt = 0;
    *max_any = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < nb; k++) {
            int d = abs((int)a[i * nb + k] - (int)b[i * nb + k]);
            *max_any = DQ_MAX(*max_any, d);
            if (state[i * DQ_ST_N + band] >= 128) {
                sum += d;
                cnt++;
            }
        }
    *mean_in = cnt ? sum / (double)cnt : 0;
    g_free(a);
    g_free(b);
    free(bare);
}

DQ_TEST(underdrawing_only_in_infrared_retouch_only_in_uv)
{
    start_vips();
    dq_paint_scene_t sc = {0};
    int w = 400, h = 360;
    uint8_t *state = scene_state(&sc, w, h);
    char *pig = pigments();
    dq_paint_spectra_t *sp = dq_xcalloc(1, sizeof(*sp));
    dq_err_t err = {0};
    DQ_REQUIRE(dq_paint_spectra_load(sp, pig, &err) == 0);
    double mean;
    int mx;
    hidden_diff(state, w, h, &sc, sp, DQ_ST_UNDER, DQ_OUT_BAND, 940, &mean, &mx);
    DQ_CHECK(mean > 20);
    hidden_diff(state, w, h, &sc, sp, DQ_ST_UNDER, DQ_OUT_BAND, 550, &mean, &mx);
    DQ_CHECK_INT(mx, 0);
    hidden_diff(state, w, h, &sc, sp, DQ_ST_UNDER, DQ_OUT_RGB, 0, &mean, &mx);
    DQ_CHECK_INT(mx, 0);
    hidden_diff(state, w, h, &sc, sp, DQ_ST_RETOUCH, DQ_OUT_UV, 365, &mean, &mx);
    DQ_CHECK(mean > 15);
    for (int nm = 450; nm <= 950; nm += 100) {
        hidden_diff(state, w, h, &sc, sp, DQ_ST_RETOUCH, DQ_OUT_BAND, nm, &mean, &mx);
        DQ_CHECK_INT(mx, 0);
    }
    hidden_diff(state, w, h, &sc, sp, DQ_ST_RETOUCH, DQ_OUT_RGB, 0, &mean, &mx);
    DQ_CHECK_INT(mx, 0);
    g_free(state);
    free(sp);
    free(pig);
    dq_paint_scene_free(&sc);
}

/* CIE 1976 Delta E*ab between two 8-bit sRGB colours (D65), by the conversion the painter
 * and the change maps share (core/colour.c). */
static double srgb8_delta_e(const uint8_t *a, const uint8_t *b)
{
    double lab[2][3];
    for (int e = 0; e < 2; e++) {
        const uint8_t *p = e ? b : a;
        double v[3] = {p[0], p[1], p[2]};
        dq_colour_srgb8_lab(v, lab[e]);
    }
    return sqrt((lab[0][0] - lab[1][0]) * (lab[0][0] - lab[1][0]) +
                (lab[0][1] - lab[1][1]) * (lab[0][1] - lab[1][1]) +
                (lab[0][2] - lab[1][2]) * (lab[0][2] - lab[1][2]));
}

/* The change masks mark what changed visibly (DQ_PAINT_CHANGE_JND, issue 12 session 23): a
 * pixel whose two captures differ by clearly more than the JND is marked, one that differs by
 * clearly less is not (the margin is the 8-bit rounding of both captures, under 0.6 Delta E). */
DQ_TEST(change_masks_cover_changed_pixels)
{
    start_vips();
    dq_paint_scene_t sc = {0};
    int w = 400, h = 360;
    uint8_t *state = scene_state(&sc, w, h);
    char *pig = pigments();
    dq_paint_spectra_t *sp = dq_xcalloc(1, sizeof(*sp));
    dq_err_t err = {0};
    DQ_REQUIRE(dq_paint_spectra_load(sp, pig, &err) == 0);
    int nb, nm;
    uint8_t *c16 = shade_mem(state, w, h, &sc, sp, DQ_OUT_DAMAGED, 0, &nb);
    uint8_t *c26 = shade_mem(state, w, h, &sc, sp, DQ_OUT_COND2026, 0, &nb);
    uint8_t *mask = shade_mem(state, w, h, &sc, sp, DQ_OUT_CHANGE_ANY, 0, &nm);
    uint8_t *loss = shade_mem(state, w, h, &sc, sp, DQ_OUT_CHANGE_LOSS, 0, &nm);
    uint8_t *flake = shade_mem(state, w, h, &sc, sp, DQ_OUT_CHANGE_FLAKE, 0, &nm);
    uint8_t *fade = shade_mem(state, w, h, &sc, sp, DQ_OUT_CHANGE_FADE, 0, &nm);
    long changed = 0, uncovered = 0, in_mask = 0, in_mask_changed = 0;
    long n_loss = 0, n_flake = 0, n_fade = 0, faint = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        double de = srgb8_delta_e(c16 + i * nb, c26 + i * nb);
        int diff = de >= DQ_PAINT_CHANGE_JND + 0.6;
        changed += diff;
        uncovered += diff && !mask[i];
        in_mask += mask[i] != 0;
        in_mask_changed += mask[i] && de >= DQ_PAINT_CHANGE_JND - 0.6;
        faint += de > 0 && de < DQ_PAINT_CHANGE_JND - 0.6 && !mask[i];
        n_loss += loss[i] != 0;
        n_flake += flake[i] != 0;
        n_fade += fade[i] != 0;
        DQ_CHECK(mask[i] == ((loss[i] || flake[i] || fade[i]) ? 255 : 0));
    }
    DQ_CHECK(changed > 100);
    DQ_CHECK_INT(uncovered, 0);
    DQ_CHECK_INT(in_mask_changed, in_mask);
    DQ_CHECK(faint > 0); /* there is sub-JND change, and it is left unmarked */
    DQ_CHECK(n_loss > 0);
    DQ_CHECK(n_flake > 0);
    DQ_CHECK(n_fade > 0);
    g_free(c16);
    g_free(c26);
    g_free(mask);
    g_free(loss);
    g_free(flake);
    g_free(fade);
    g_free(state);
    free(sp);
    free(pig);
    dq_paint_scene_free(&sc);
}

/* Issue 12: the mount silk around a fan leaf is no paint layer. It used to "flake" and "fade"
 * towards the leaf's paper colour between the captures (and the truth masks said so), which
 * change maps then read as losses (loss F1 0.07-0.10 on DQ-2026-0014). */
DQ_TEST(fan_mount_neither_flakes_nor_fades)
{
    start_vips();
    dq_paint_scene_t sc = {0};
    int w = 480, h = 240;
    uint8_t *state = scene_state_fan(&sc, w, h, 1);
    char *pig = pigments();
    dq_paint_spectra_t *sp = dq_xcalloc(1, sizeof(*sp));
    dq_err_t err = {0};
    DQ_REQUIRE(dq_paint_spectra_load(sp, pig, &err) == 0);
    int nb, nm;
    uint8_t *c16 = shade_mem(state, w, h, &sc, sp, DQ_OUT_DAMAGED, 0, &nb);
    uint8_t *c26 = shade_mem(state, w, h, &sc, sp, DQ_OUT_COND2026, 0, &nb);
    uint8_t *flake = shade_mem(state, w, h, &sc, sp, DQ_OUT_CHANGE_FLAKE, 0, &nm);
    uint8_t *fade = shade_mem(state, w, h, &sc, sp, DQ_OUT_CHANGE_FADE, 0, &nm);
    long mount = 0, mount_flagged = 0, mount_changed = 0, leaf_changed = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const uint8_t *st = state + i * DQ_ST_N;
        int dmg = st[DQ_ST_DAMAGE], lost = (dmg & 1) || (dmg >> 3 & 1);
        int diff = 0;
        for (int k = 0; k < nb; k++)
            diff |= c16[i * nb + k] != c26[i * nb + k];
        if (st[DQ_ST_MAT] != DQ_MAT_MOUNT) {
            leaf_changed += diff && !lost;
            continue;
        }
        mount++;
        mount_flagged += (dmg >> 4 & 1) || (dmg >> 5 & 1); /* the damage field reaches it */
        DQ_CHECK(!flake[i] && !fade[i]);
        mount_changed += diff && !lost;
    }
    DQ_CHECK(mount > 1000);
    DQ_CHECK(mount_flagged > 100); /* else the test could not fail */
    DQ_CHECK_INT(mount_changed, 0);
    DQ_CHECK(leaf_changed > 0); /* the leaf's own paint still flakes and fades */
    g_free(c16);
    g_free(c26);
    g_free(flake);
    g_free(fade);
    g_free(state);
    free(sp);
    free(pig);
    dq_paint_scene_free(&sc);
}
