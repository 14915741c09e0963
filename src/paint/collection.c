/*
 * paint/collection.c: paints the whole sample collection. For each work of works.c it draws
 * a style from its school, builds the scene (landscape, flowers or calligraphy), writes the
 * inscriptions and seals, hides an underdrawing and a retouching, renders the master and
 * the ground truth (bands, pigment map, masks, condition captures, damaged copy, JSON), and
 * appends the catalog record to metadata.jsonl. It owns file layout and JSON, not pixels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <vips/vips.h>

#include "paint/paint.h"

/* Wavelengths of the reflectance bands (nm). */
static const int band_nm[] = {450, 550, 650, 750, 850, 940};

/* Truth rasters are kept at or below this many pixels: the large scrolls get theirs at an
 * integer fraction of the master's size, so a truth pixel is an exact block of master ones. */
#define TRUTH_MAX_PIXELS 12.5e6

typedef struct {
    const dq_paint_opts_t *o;
    dq_paint_spectra_t *sp;
    dq_buf_t jsonl;
    json_t *works; /* manifest entries */
} coll_t;

typedef struct {
    json_t *inscriptions, *seals;
    float unit_px;
} marks_t;

static float R(dq_paint_rng_t *r, float a, float b)
{
    return (float)dq_paint_rng_range(r, a, b);
}

static float clampf(float x, float a, float b)
{
    return x < a ? a : x > b ? b : x;
}

static int vips_fail(dq_err_t *err, const char *what, const char *path)
{
    dq_err_set(err, DQ_EIO, 0, "%s %s: %s", what, path, vips_error_buffer());
    vips_error_clear();
    return -1;
}

/* ================================================================ saving */

static int save_png(VipsImage *im, const char *dir, const char *name, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/%s", dir, name);
    /* compression 1: these are ground-truth rasters, written once and read by programs;
     * speed matters more than a few percent of size. */
    int rc = vips_pngsave(im, path, "compression", 1, "strip", TRUE, NULL)
                 ? vips_fail(err, "pngsave", path)
                 : 0;
    free(path);
    return rc;
}

static int save_jpeg(VipsImage *im, const char *dir, const char *name, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/%s", dir, name);
    int rc = vips_jpegsave(im, path, "Q", 90, "strip", TRUE, NULL)
                 ? vips_fail(err, "jpegsave", path)
                 : 0;
    free(path);
    return rc;
}

static int save_json(json_t *j, const char *dir, const char *name, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/%s", dir, name);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    int rc = -1;
    if (!text) {
        dq_err_set(err, DQ_EINTERNAL, 0, "json_dumps %s", path);
        goto out;
    }
    size_t len = strlen(text);
    text[len] = '\0';
    dq_buf_t b = {0};
    dq_buf_append(&b, text, len);
    dq_buf_putc(&b, '\n');
    rc = dq_fs_write_atomic(path, dir, b.data, b.len, err);
    dq_buf_free(&b);
out:
    free(text);
    free(path);
    return rc;
}

/* Shades state in one mode and writes it as PNG. */
static int shade_png(VipsImage *state, const dq_paint_scene_t *sc, const dq_paint_spectra_t *sp,
                     int mode, double nm, const char *dir, const char *name, dq_err_t *err)
{
    VipsImage *im = dq_paint_shade(state, sc, sp, mode, nm, err);
    if (!im)
        return -1;
    int rc = save_png(im, dir, name, err);
    g_object_unref(im);
    return rc;
}

/* ================================================================ inscriptions and seals */

static int inscribe(dq_paint_scene_t *sc, marks_t *m, const char *const *cols, int n, float u,
                    float v, float ch, const char *author, const char *pos, float *w, dq_err_t *err)
{
    size_t m0 = sc->n_prims;
    if (dq_paint_add_text(sc, cols, n, u, v, ch, m->unit_px, 0.92f, w, err) < 0)
        return -1;
    dq_buf_t t = {0};
    for (int i = 0; i < n; i++)
        dq_buf_puts(&t, cols[i]);
    dq_paint_motif_mark(sc, strstr(pos, "colophon") ? DQ_MOTIF_COLOPHON : DQ_MOTIF_INSCRIPTION,
                        m0, t.data);
    json_array_append_new(m->inscriptions, json_pack("{s:s, s:s, s:s}", "text", t.data, "author",
                                                     author, "position", pos));
    dq_buf_free(&t);
    return 0;
}

static int seal(dq_paint_scene_t *sc, marks_t *m, const char *reading, const char *owner,
                int relief, float u, float v, float size, const char *pos, dq_paint_rng_t *rng,
                dq_err_t *err)
{
    size_t m0 = sc->n_prims;
    if (dq_paint_add_seal(sc, reading, relief, u, v, size, m->unit_px,
                          (uint32_t)dq_paint_rng_next(rng), err) < 0)
        return -1;
    dq_paint_motif_mark(sc, DQ_MOTIF_SEAL, m0, reading);
    json_array_append_new(m->seals,
                          json_pack("{s:s, s:s, s:s, s:s}", "reading", reading, "owner", owner,
                                    "position", pos, "style", relief ? "zhuwen" : "baiwen"));
    return 0;
}

static int write_marks(dq_paint_scene_t *sc, const dq_paint_work_t *wk, marks_t *m,
                       dq_paint_rng_t *rng, dq_err_t *err)
{
    const dq_paint_creator_t *cr = &dq_paint_creators[wk->creator];
    const char *poem[4];
    int np = 0;
    for (int i = 0; i < 4 && wk->poem[i]; i++)
        poem[np++] = wk->poem[i];
    char *sig = dq_xasprintf(
        "%s%s", cr->zh,
        wk->format == DQ_FMT_HANGING && strcmp(wk->subject, "calligraphy") == 0 ? "书" : "写");
    const char *sigv[1] = {sig};
    float A = sc->aspect, w = 0;
    int rc = -1;
    const dq_paint_collector_t *col =
        &dq_paint_collectors[dq_paint_rng_int(rng, 0, dq_paint_n_collectors - 2)];
    const dq_paint_collector_t *museum = &dq_paint_collectors[dq_paint_n_collectors - 1];
    int relief = dq_paint_rng_unif(rng) < 0.5;

    if (wk->format == DQ_FMT_HANDSCROLL) {
        /* Read right to left: the title at the opening, the painter's poem and signature
         * after the painting, then a collector's colophon at the very end. */
        const char *title[1] = {wk->title_zh};
        if (inscribe(sc, m, title, 1, A - 0.3f, 0.1f, 0.1f, cr->zh, "frontispiece, right end", &w,
                     err) < 0 ||
            seal(sc, m, cr->seal, cr->en, relief, A - 0.3f - w * 0.8f, 0.82f, 0.09f,
                 "below the title", rng, err) < 0)
            goto out;
        float u = 1.05f;
        if (inscribe(sc, m, poem, np, u, 0.1f, 0.045f, cr->zh, "after the painting, left", &w,
                     err) < 0 ||
            inscribe(sc, m, sigv, 1, u - w, 0.35f, 0.045f, cr->zh, "signature", NULL, err) < 0 ||
            seal(sc, m, cr->seal, cr->en, !relief, u - w - 0.02f, 0.62f, 0.07f,
                 "below the signature", rng, err) < 0)
            goto out;
        const char *colo[3] = {"此卷笔墨苍润", "烟云满纸真逸品也", col->reading};
        if (inscribe(sc, m, colo, 3, 0.45f, 0.12f, 0.04f, col->owner, "colophon, left end", &w,
                     err) < 0 ||
            seal(sc, m, col->reading, col->owner, 0, 0.45f - w, 0.55f, 0.08f, "after the colophon",
                 rng, err) < 0 ||
            seal(sc, m, museum->reading, museum->owner, 1, A - 1.1f, 0.86f, 0.07f,
                 "lower right of the painting", rng, err) < 0)
            goto out;
    } else if (strcmp(wk->subject, "calligraphy") == 0) {
        if (inscribe(sc, m, poem, np, A - 0.08f, 0.08f, 0.075f, cr->zh, "main text", &w, err) < 0 ||
            inscribe(sc, m, sigv, 1, A - 0.08f - w, 0.55f, 0.03f, cr->zh, "signature", NULL, err) <
                0 ||
            seal(sc, m, cr->seal, cr->en, relief, A - 0.08f - w - 0.005f, 0.63f, 0.04f,
                 "below the signature", rng, err) < 0 ||
            seal(sc, m, col->reading, col->owner, 0, 0.03f, 0.9f, 0.045f, "lower left", rng, err) <
                0)
            goto out;
    } else {
        float ch, u, v;
        if (wk->format == DQ_FMT_FAN) {
            ch = 0.05f;
            u = 0.55f;
            v = 0.4f;
            if (np > 2)
                np = 2;
        } else if (wk->format == DQ_FMT_HANGING) {
            ch = 0.02f;
            u = A - 0.03f;
            v = 0.03f;
        } else {
            ch = 0.045f;
            u = A - 0.06f;
            v = 0.05f;
        }
        const char *pos = wk->format == DQ_FMT_FAN ? "left of the leaf" : "upper right";
        if (inscribe(sc, m, poem, np, u, v, ch, cr->zh, pos, &w, err) < 0 ||
            inscribe(sc, m, sigv, 1, u - w, v + ch * 2, ch * 0.8f, cr->zh, "signature", NULL, err) <
                0 ||
            seal(sc, m, cr->seal, cr->en, relief, u - w - ch * 0.1f, v + ch * 4.5f, ch * 1.4f,
                 "below the signature", rng, err) < 0)
            goto out;
        if (wk->format != DQ_FMT_FAN &&
            seal(sc, m, col->reading, col->owner, 0, 0.02f, 0.97f - ch * 2.2f, ch * 1.6f,
                 "lower left corner", rng, err) < 0)
            goto out;
        if (wk->format == DQ_FMT_FAN &&
            seal(sc, m, museum->reading, museum->owner, 1, A * 0.5f + 0.6f, 0.6f, 0.06f,
                 "right of the leaf", rng, err) < 0)
            goto out;
    }
    rc = 0;
out:
    free(sig);
    return rc;
}

/* ================================================================ one work */

static json_t *legend(const dq_paint_spectra_t *sp)
{
    json_t *a = json_array();
    for (int m = 0; m < DQ_MAT_N; m++) {
        const dq_paint_material_t *mt = &dq_paint_materials[m];
        float rgb[3];
        dq_paint_spectrum_rgb(sp, sp->refl[m], rgb);
        json_t *e = json_pack("{s:i, s:s, s:s, s:s}", "id", m, "name", mt->name, "name_zh", mt->zh,
                              "spectrum", mt->column ? "measured" : "modelled");
        if (mt->column)
            json_object_set_new(e, "csv_column", json_string(mt->column));
        if (m == DQ_MAT_NONE)
            json_object_set_new(e, "note", json_string("bare support (paper or silk): modelled"));
        if (m == DQ_MAT_INK)
            json_object_set_new(e, "note",
                                json_string("never in pigment_map.png: see ink_density.png"));
        json_object_set_new(e, "linear_rgb", json_pack("[f,f,f]", rgb[0], rgb[1], rgb[2]));
        json_array_append_new(a, e);
    }
    return a;
}

static int write_truth(coll_t *c, const dq_paint_scene_t *sc, VipsImage *st, const char *tdir,
                       int k, int W, int H, dq_paint_rng_t *rng, json_t *truth, dq_err_t *err)
{
    char *bdir = dq_xasprintf("%s/bands", tdir);
    VipsImage *t[8] = {NULL};
    int rc = -1;
    const dq_paint_spectra_t *sp = c->sp;
    int tw = st->Xsize, th = st->Ysize;
    if (dq_fs_mkdirs(bdir, err) < 0)
        goto out;
    json_t *bands = json_array();
    json_object_set_new(truth, "bands", bands);
    if (shade_png(st, sc, sp, DQ_OUT_UV, 365, bdir, "uv365.png", err) < 0)
        goto out;
    json_array_append_new(bands, json_pack("{s:s, s:s, s:i, s:s}", "file", "bands/uv365.png",
                                           "kind", "uv_fluorescence", "excitation_nm", 365,
                                           "encoding", "sRGB photograph of visible emission"));
    for (size_t i = 0; i < DQ_ARRAY_LEN(band_nm); i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%d.png", band_nm[i]);
        if (shade_png(st, sc, sp, DQ_OUT_BAND, band_nm[i], bdir, name, err) < 0)
            goto out;
        char *f = dq_xasprintf("bands/%s", name);
        json_array_append_new(bands, json_pack("{s:s, s:s, s:i, s:s}", "file", f, "kind",
                                               "reflectance", "nm", band_nm[i], "encoding",
                                               "value = round(255 * reflectance)"));
        free(f);
    }
    if (shade_png(st, sc, sp, DQ_OUT_MAT, DQ_ST_MAT, tdir, "pigment_map.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_MAT, DQ_ST_COV, tdir, "pigment_coverage.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_MAT, DQ_ST_INK, tdir, "ink_density.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_MAT, DQ_ST_RETOUCH, tdir, "retouch_mask.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_RGB, 0, tdir, "original.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_DAMAGED, 0, tdir, "damaged.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_DAMAGE_MASK, 0, tdir, "damage_mask.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_CHANGE_LOSS, 0, tdir, "change_mask_loss.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_CHANGE_FLAKE, 0, tdir, "change_mask_flaking.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_CHANGE_FADE, 0, tdir, "change_mask_fading.png", err) < 0 ||
        shade_png(st, sc, sp, DQ_OUT_CHANGE_ANY, 0, tdir, "change_mask_all.png", err) < 0)
        goto out;
    if (json_object_get(truth, "pigment2_map") &&
        (shade_png(st, sc, sp, DQ_OUT_MAT, DQ_ST_MAT2, tdir, "pigment2_map.png", err) < 0 ||
         shade_png(st, sc, sp, DQ_OUT_MAT, DQ_ST_COV2, tdir, "pigment2_coverage.png", err) < 0))
        goto out;
    /* The underdrawing mask: where the charcoal lies at all (state band > 1/4). */
    if (!(t[0] = dq_paint_shade(st, sc, sp, DQ_OUT_MAT, DQ_ST_UNDER, err)))
        goto out;
    if (vips_moreeq_const1(t[0], &t[1], 64, NULL))
        goto vfail;
    if (save_png(t[1], tdir, "underdrawing_mask.png", err) < 0)
        goto out;

    /* Condition captures. 2016: the damaged state, camera square on. 2026: more damage, and
     * the camera moved a little, with another exposure and white balance. */
    if (!(t[2] = dq_paint_shade(st, sc, sp, DQ_OUT_DAMAGED, 0, err)) ||
        save_jpeg(t[2], tdir, "condition_2016.jpg", err) < 0)
        goto out;
    double ang = (double)R(rng, 0.15f, 0.5f) * (dq_paint_rng_unif(rng) < 0.5 ? -1 : 1);
    double scl = 1.0 + (double)R(rng, -0.006f, 0.006f);
    double tx = (double)R(rng, -0.012f, 0.012f) * th, ty = (double)R(rng, -0.012f, 0.012f) * th;
    double gain = (double)R(rng, 0.9f, 1.08f);
    double wb[3] = {R(rng, 0.95f, 1.05f), 1.0, R(rng, 0.93f, 1.05f)};
    double rad = ang * 3.14159265358979 / 180.0;
    double a = scl * cos(rad), b = -scl * sin(rad), cc = scl * sin(rad), d = scl * cos(rad);
    /* Rotate about the centre: shift so that the centre moves only by (tx, ty). */
    double cx = tw / 2.0, cy = th / 2.0;
    double odx = cx + tx - (a * cx + b * cy), ody = cy + ty - (cc * cx + d * cy);
    if (!(t[3] = dq_paint_shade(st, sc, sp, DQ_OUT_COND2026, 0, err)))
        goto out;
    VipsArrayInt *area = vips_array_int_newv(4, 0, 0, tw, th);
    VipsArrayDouble *bg = vips_array_double_newv(3, 40.0, 40.0, 42.0);
    int ar = vips_affine(t[3], &t[4], a, b, cc, d, "oarea", area, "odx", odx, "ody", ody,
                         "background", bg, NULL);
    vips_area_unref(VIPS_AREA(area));
    vips_area_unref(VIPS_AREA(bg));
    if (ar)
        goto vfail;
    double lin_a[3] = {gain * wb[0], gain * wb[1], gain * wb[2]}, lin_b[3] = {0, 0, 0};
    if (vips_linear(t[4], &t[5], lin_a, lin_b, 3, "uchar", TRUE, NULL))
        goto vfail;
    if (save_jpeg(t[5], tdir, "condition_2026.jpg", err) < 0 ||
        dq_paint_control_pair(t[2], c->o->seed, sc->seed, tdir, err) < 0)
        goto out;
    json_t *tf = json_pack(
        "{s:s, s:s, s:s, s:[[f,f,f],[f,f,f]], s:f, s:f, s:[f,f], s:f, s:[f,f,f], s:s}", "reference",
        "condition_2016.jpg", "moving", "condition_2026.jpg", "model",
        "affine: x2026 = m[0][0]*x + m[0][1]*y + m[0][2], y2026 = m[1][0]*x + m[1][1]*y + "
        "m[1][2], pixel coordinates of the truth rasters",
        "matrix", a, b, odx, cc, d, ody, "rotation_deg", ang, "scale", scl, "centre_shift_px", tx,
        ty, "exposure_gain", gain, "white_balance_gains", wb[0], wb[1], wb[2], "note",
        "gains multiply the sRGB-encoded values; areas outside the 2016 view are dark grey");
    int tr = save_json(tf, tdir, "transform.json", err);
    json_decref(tf);
    if (tr < 0)
        goto out;
    json_t *pj = json_pack("{s:o, s:s, s:s}", "materials", legend(sp), "source",
                           "Hyperspectral Pigments Dataset, H. Deborah (NTNU), CC BY 4.0, "
                           "doi:10.5281/zenodo.5592485; see data-src/pigments/SOURCES.md",
                           "pigment_map",
                           "pigment_map.png holds the id of the top colour "
                           "pigment, pigment_coverage.png its coverage (255 = "
                           "opaque); carbon ink is in ink_density.png");
    tr = save_json(pj, tdir, "pigments.json", err);
    json_decref(pj);
    if (tr < 0)
        goto out;

    json_object_set_new(truth, "truth_size", json_pack("{s:i, s:i}", "width", tw, "height", th));
    json_object_set_new(truth, "main_size", json_pack("{s:i, s:i}", "width", W, "height", H));
    json_object_set_new(truth, "downsample", json_integer(k));
    float s = (float)th;
    json_object_set_new(
        truth, "underdrawing",
        json_pack("{s:s, s:[i,i,i,i], s:[s,s], s:[s,s,s,s,s], s:s}", "mask",
                  "underdrawing_mask.png", "bbox_px", (int)(sc->hidden[0] * s),
                  (int)(sc->hidden[1] * s), (int)(sc->hidden[2] * s), (int)(sc->hidden[3] * s),
                  "visible_in", "bands/r850.png", "bands/r940.png", "invisible_in",
                  "bands/r450.png", "bands/r550.png", "bands/r650.png", "original.png",
                  "bands/uv365.png", "model",
                  "carbon sketch under paint; reflectance * (1 - 0.85*u*smoothstep(700,880,nm))"));
    json_object_set_new(
        truth, "retouching",
        json_pack("{s:s, s:[i,i,i,i], s:[s], s:s}", "mask", "retouch_mask.png", "bbox_px",
                  (int)(sc->hidden[4] * s), (int)(sc->hidden[5] * s), (int)(sc->hidden[6] * s),
                  (int)(sc->hidden[7] * s), "visible_in", "bands/uv365.png", "model",
                  "metameric in reflectance; fluorescence * 0.22 + 0.015 under UV"));
    json_object_set_new(
        truth, "condition",
        json_pack("{s:{s:s,s:s}, s:{s:s,s:s}, s:{s:s,s:s,s:s,s:s}, s:s, s:s, s:s, s:s, s:s}",
                  "2016", "file", "condition_2016.jpg", "date", "2016-05-17", "2026", "file",
                  "condition_2026.jpg", "date", "2026-04-09", "change_masks", "loss",
                  "change_mask_loss.png", "flaking", "change_mask_flaking.png", "fading",
                  "change_mask_fading.png", "all", "change_mask_all.png", "frame",
                  "change masks are in the 2016 capture's pixel frame", "transform",
                  "transform.json", "damaged", "damaged.png", "damage_mask", "damage_mask.png",
                  "original", "original.png"));
    rc = 0;
    goto out;
vfail:
    vips_fail(err, "truth", tdir);
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    free(bdir);
    return rc;
}

static json_t *images_json(const char *id, int truth)
{
    json_t *a = json_array();
    const char *files[][2] = {
        {"main.tif", "main"},
        {"truth/damaged.png", "damaged"},
        {"truth/condition_2016.jpg", "condition_2016"},
        {"truth/condition_2026.jpg", "condition_2026"},
        {"truth/bands/uv365.png", "uv_fluorescence"},
        {"truth/bands/r940.png", "infrared"},
    };
    for (size_t i = 0; i < (truth ? DQ_ARRAY_LEN(files) : 1); i++) {
        char *f = dq_xasprintf("%s/%s", id, files[i][0]);
        json_array_append_new(a, json_pack("{s:s, s:s}", "file", f, "role", files[i][1]));
        free(f);
    }
    return a;
}

static int paint_work(coll_t *c, int idx, dq_err_t *err)
{
    const dq_paint_opts_t *o = c->o;
    const dq_paint_work_t *wk = &dq_paint_works[idx];
    const dq_paint_school_t *sch = &dq_paint_schools[wk->school];
    const dq_paint_creator_t *cr = &dq_paint_creators[wk->creator];
    char id[32];
    snprintf(id, sizeof(id), "DQ-2026-%04d", idx + 1);
    char *wdir = dq_xasprintf("%s/%s", o->out_dir, id);
    char *tdir = dq_xasprintf("%s/truth", wdir);
    char *mpath = dq_xasprintf("%s/main.tif", wdir);
    dq_paint_scene_t sc = {0};
    marks_t m = {json_array(), json_array(), 0};
    json_t *truth = json_object(), *rec = NULL;
    VipsImage *t[4] = {NULL};
    int rc = -1;
    int64_t t0 = dq_now_us();

    double s = wk->big ? o->scale : DQ_MIN(o->scale, 1.0);
    int W = (int)lround(wk->width * s), H = (int)lround(wk->height * s);
    if (W < 48 || H < 48) {
        double f = 48.0 / DQ_MIN(W, H);
        W = (int)lround(W * f);
        H = (int)lround(H * f);
    }
    if (dq_fs_mkdirs(tdir, err) < 0)
        goto out;

    dq_paint_rng_t rng;
    dq_paint_rng_seed(&rng, o->seed ^ ((uint64_t)(idx + 1) * 0x9e3779b97f4a7c15ull));
    dq_paint_style_t st = {
        .format = wk->format,
        .cun = sch->cun,
        .ink = clampf((float)dq_paint_rng_normal(&rng, sch->ink, sch->ink_sd), 0.35f, 1.0f),
        .blank = clampf((float)dq_paint_rng_normal(&rng, sch->blank, sch->blank_sd), 0.0f, 1.0f),
        .mist = clampf(sch->mist + (float)dq_paint_rng_normal(&rng, 0, 0.08), 0.0f, 1.0f),
        .dry = clampf(sch->dry + (float)dq_paint_rng_normal(&rng, 0, 0.08), 0.0f, 1.0f),
        .palette = sch->palette,
    };
    if (strcmp(wk->subject, "bird_and_flower") == 0)
        st.palette = dq_paint_rng_unif(&rng) < 0.5 ? DQ_PAL_LIGHT : DQ_PAL_FLOWER;

    sc.seed = (uint32_t)dq_paint_rng_next(&rng);
    sc.aspect = (float)W / (float)H;
    sc.support = wk->support;
    float age = 0.08f + 0.6f * (float)(2026 - wk->year_from) / 1000.0f;
    sc.age = clampf(age + (wk->support == DQ_PAINT_SILK ? 0.12f : 0.0f), 0.05f, 0.85f);
    sc.weave = 3.2f / (float)wk->height;
    sc.n_stains = dq_paint_rng_int(&rng, 0, 2);
    for (int i = 0; i < sc.n_stains; i++) {
        sc.stains[i][0] = R(&rng, 0.1f, 0.9f) * sc.aspect;
        sc.stains[i][1] = R(&rng, 0.1f, 0.9f);
        sc.stains[i][2] = R(&rng, 0.05f, 0.18f);
    }
    sc.damage = clampf(0.2f + 0.5f * age, 0.1f, 0.8f);
    sc.n_tears = age > 0.4f ? dq_paint_rng_int(&rng, 1, 3) : 0;
    for (int i = 0; i < sc.n_tears; i++) {
        sc.tears[i][0] = R(&rng, 0.05f, 0.95f) * sc.aspect;
        sc.tears[i][1] = 0.0f;
        sc.tears[i][2] = R(&rng, 0.05f, 0.2f);
    }
    if (wk->format == DQ_FMT_FAN) {
        sc.fan = 1;
        sc.fan_geom[0] = sc.aspect / 2;
        sc.fan_geom[1] = 1.42f;
        sc.fan_geom[2] = 0.62f;
        sc.fan_geom[3] = 1.34f;
        sc.fan_half = 0.93f;
    }
    if (wk->format == DQ_FMT_HANDSCROLL) {
        sc.zone[0] = 1.2f;
        sc.zone[1] = sc.aspect - 1.0f;
    }
    if (strcmp(wk->subject, "landscape") == 0)
        dq_paint_landscape_build(&sc, &st, &rng);
    else if (strcmp(wk->subject, "bird_and_flower") == 0)
        dq_paint_flower_build(&sc, &st, wk->n_birds, &rng);
    else
        sc.kind = DQ_SCENE_CALLIGRAPHY;
    m.unit_px = (float)H;
    if (write_marks(&sc, wk, &m, &rng, err) < 0)
        goto out;
    dq_paint_add_hidden(&sc, &rng);
    /* Teaching overlays (issue 17): read from the scene, no random numbers drawn. */
    if (dq_paint_composition_write(&sc, id, wk->format, W, H, wdir, err) < 0)
        goto out;
    if (o->composition_only) {
        rc = 0;
        goto out;
    }
    /* Pigment over pigment (glaze.c, own random stream; blue-green landscapes only): after the
     * composition overlays, which it does not change, and last in the scene. */
    int n_glaze = dq_paint_glaze_build(&sc, st.palette, o->seed, sc.seed);

    /* Truth resolution: an integer fraction of the master. */
    int k = (int)ceil(sqrt((double)W * H / TRUTH_MAX_PIXELS));
    if (k < 1)
        k = 1;
    int tw = W / k, th = H / k;
    if (!(t[0] = dq_paint_render_state(&sc, tw, th, !o->no_truth, err)))
        goto out;
    if (!(t[1] = vips_image_copy_memory(t[0]))) {
        vips_fail(err, "state", id);
        goto out;
    }
    if (k == 1) {
        t[2] = dq_paint_shade(t[1], &sc, c->sp, DQ_OUT_RGB, 0, err);
    } else {
        if (!(t[3] = dq_paint_render_state(&sc, W, H, 0, err)))
            goto out;
        t[2] = dq_paint_shade(t[3], &sc, c->sp, DQ_OUT_RGB, 0, err);
    }
    if (!t[2])
        goto out;
    if (vips_tiffsave(t[2], mpath, "tile", TRUE, "tile_width", 256, "tile_height", 256,
                      "compression", VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 92, "strip", TRUE,
                      NULL)) {
        vips_fail(err, "tiffsave", mpath);
        goto out;
    }
    if (!o->no_truth) {
        json_object_set_new(truth, "work", json_string(id));
        json_object_set_new(truth, "generator", json_string(DQ_PAINT_VERSION));
        json_object_set_new(truth, "school", json_string(sch->id));
        json_object_set_new(truth, "style",
                            json_pack("{s:i, s:f, s:f, s:f, s:f, s:i}", "cun", st.cun, "ink",
                                      st.ink, "blank", st.blank, "mist", st.mist, "dry", st.dry,
                                      "palette", st.palette));
        json_object_set_new(truth, "support", json_string(wk->support ? "silk" : "paper"));
        json_object_set_new(truth, "age_tone", json_real(sc.age));
        json_object_set_new(truth, "pigments", json_string("pigments.json"));
        json_object_set_new(truth, "pigment_map", json_string("pigment_map.png"));
        json_object_set_new(truth, "pigment_coverage", json_string("pigment_coverage.png"));
        json_object_set_new(truth, "ink_density", json_string("ink_density.png"));
        if (n_glaze > 0) {
            /* Only works with glazes get these keys and files: every other work keeps its
             * bytes. */
            json_object_set_new(truth, "glaze_strokes", json_integer(n_glaze));
            json_object_set_new(truth, "pigment2_map", json_string("pigment2_map.png"));
            json_object_set_new(truth, "pigment2_coverage",
                                json_string("pigment2_coverage.png"));
        }
        json_t *perch = json_array();
        for (int i = 0; i < sc.n_perch; i++)
            json_array_append_new(
                perch, json_pack("[i,i]", (int)(sc.perch[i][0] * th), (int)(sc.perch[i][1] * th)));
        json_object_set_new(truth, "birds_px", perch);
        if (write_truth(c, &sc, t[1], tdir, k, W, H, &rng, truth, err) < 0 ||
            save_json(truth, tdir, "truth.json", err) < 0 ||
            dq_paint_capture(t[1], &sc, c->sp, o->seed, idx, tdir, err) < 0)
            goto out;
        /* The living painting's layers (scene.c): landscapes only, no randomness drawn. */
        if (sc.kind == DQ_SCENE_LANDSCAPE && dq_paint_scene_truth(&sc, tw, th, tdir, err) < 0)
            goto out;
    }

    /* The catalog record. */
    char desc_en[1024], desc_zh[1024];
    snprintf(desc_en, sizeof(desc_en),
             "%s, %s, attributed to the fictional painter %s (%s). Painted in the manner of the "
             "%s: %s. Procedurally generated by danqing; its ground truth (pigment map, "
             "multispectral bands, condition captures) is known exactly.",
             wk->title_en, wk->medium_en, cr->en, cr->dates, sch->en, sch->desc_en);
    snprintf(desc_zh, sizeof(desc_zh),
             "《%s》，%s，托名虚构画家%s（%s）。%s风格：%s。由丹青程序生成，"
             "其颜料分布、多光谱波段与病害变化皆为已知。",
             wk->title_zh, wk->medium_zh, cr->zh, cr->dates, sch->zh, sch->desc_zh);
    rec = json_pack(
        "{s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, "
        "s:s, s:s, s:{s:f, s:f}, s:O, s:O, s:s, s:s, s:s, s:s, s:o, s:{s:i, s:i}}",
        "accession", id, "title_zh", wk->title_zh, "title_en", wk->title_en, "title_pinyin",
        wk->title_pinyin, "creators", "name_zh", cr->zh, "name_en", cr->en, "dates", cr->dates,
        "role", strcmp(wk->subject, "calligraphy") == 0 ? "calligrapher" : "painter", "dynasty",
        wk->dynasty, "date_text", wk->date_zh, "date_text_en", wk->date_en, "year_from",
        wk->year_from, "year_to", wk->year_to, "object_type", wk->object_type, "subject",
        wk->subject, "medium_zh", wk->medium_zh, "medium_en", wk->medium_en, "support",
        wk->support ? "silk" : "paper", "dimensions_cm", "height", wk->height_cm, "width",
        wk->width_cm, "inscriptions", m.inscriptions, "seals", m.seals, "description_zh", desc_zh,
        "description_en", desc_en, "rights",
        /* a URI, as docs/api.md has it: the manifest can state only CC and
         * RightsStatements.org URIs (anything else reads "copyright not evaluated") */
        "http://creativecommons.org/publicdomain/zero/1.0/",
        "school", sch->id, "images", images_json(id, !o->no_truth), "pixels", "width", W, "height",
        H);
    if (!rec) {
        dq_err_set(err, DQ_EINTERNAL, 0, "%s: metadata json", id);
        goto out;
    }
    char *line = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(10));
    dq_buf_puts(&c->jsonl, line);
    dq_buf_putc(&c->jsonl, '\n');
    free(line);
    json_array_append_new(c->works,
                          json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i}", "id", id, "title_en",
                                    wk->title_en, "object_type", wk->object_type, "school", sch->id,
                                    "width", W, "height", H, "truth_downsample", k));
    if (!o->quiet)
        dq_log(DQ_LOG_INFO, "paint", "%s %dx%d %s (%s) in %.1f s", id, W, H, wk->title_en, sch->id,
               (double)(dq_now_us() - t0) / 1e6);
    rc = 0;
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    json_decref(rec);
    json_decref(truth);
    json_decref(m.inscriptions);
    json_decref(m.seals);
    dq_paint_scene_free(&sc);
    free(mpath);
    free(tdir);
    free(wdir);
    return rc;
}

/* ================================================================ the collection */

int dq_paint_collection(const dq_paint_opts_t *o, dq_err_t *err)
{
    if (o->study > 0)
        return dq_paint_study(o, err);
    coll_t c = {.o = o};
    int rc = -1, done = 0;
    if (!o->out_dir || !*o->out_dir)
        return dq_err_set(err, DQ_EINVAL, 0, "no output directory");
    if (!(o->scale > 0.001 && o->scale <= 16.0))
        return dq_err_set(err, DQ_EINVAL, 0, "scale %g out of range (0.001..16)", o->scale);
    c.sp = dq_xcalloc(1, sizeof(*c.sp));
    c.works = json_array();
    if (dq_fs_mkdirs(o->out_dir, err) < 0 ||
        dq_paint_spectra_load(c.sp, o->pigments_dir ? o->pigments_dir : "data-src/pigments", err) <
            0)
        goto out;
    for (int i = 0; i < dq_paint_n_works; i++) {
        char id[32];
        snprintf(id, sizeof(id), "DQ-2026-%04d", i + 1);
        if (o->only && strcmp(o->only, id) != 0)
            continue;
        if (paint_work(&c, i, err) < 0)
            goto out;
        done++;
    }
    if (o->only && !done) {
        dq_err_set(err, DQ_ENOTFOUND, 0, "no work %s (DQ-2026-0001..%04d)", o->only,
                   dq_paint_n_works);
        goto out;
    }
    if (o->composition_only) { /* the catalog files of an existing collection stay as they are */
        rc = 0;
        goto out;
    }
    char *mpath = dq_xasprintf("%s/metadata.jsonl", o->out_dir);
    int wr =
        dq_fs_write_atomic(mpath, o->out_dir, c.jsonl.data ? c.jsonl.data : "", c.jsonl.len, err);
    free(mpath);
    if (wr < 0)
        goto out;
    json_t *man = json_pack("{s:s, s:I, s:f, s:O, s:s, s:s}", "generator", DQ_PAINT_VERSION, "seed",
                            (json_int_t)o->seed, "scale", o->scale, "works", c.works, "metadata",
                            "metadata.jsonl", "pigment_spectra",
                            "Hyperspectral Pigments Dataset, H. Deborah (NTNU), CC BY 4.0");
    wr = save_json(man, o->out_dir, "manifest.json", err);
    json_decref(man);
    if (wr < 0)
        goto out;
    rc = 0;
out:
    json_decref(c.works);
    dq_buf_free(&c.jsonl);
    free(c.sp);
    return rc;
}
