/*
 * paint/study.c: the labelled study set behind `danqing generate --study N` (issue 13). It
 * paints N small works (at most 1,200 px on the long side) per school of works.c, each a fresh
 * draw from its school's distribution over format, composition, texture stroke, ink, palette
 * and empty space, attributed to one of the school's creators and dated inside that creator's
 * dynasty, so that school and dynasty labels agree with the pixels (the support's toning
 * follows the date). Layout as the sample collection's: DIR/<id>/main.tif, DIR/metadata.jsonl
 * (the catalog's import form) and DIR/manifest.json (each work's id, school and draw).
 *
 * Randomness: every work has its own xoshiro256** stream seeded from (seed, school, index),
 * never the collection's stream, so the default collection is untouched. Ids carry the seed
 * ("S7-jinbi-0003"), so two seeds give disjoint works of the same families. No ground truth
 * rasters: the labels are the truth that matters here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <vips/vips.h>

#include "paint/paint.h"

/* The longest side of a study work at --scale 1. */
#define STUDY_LONG_SIDE 1200

/* Who painted in each school, and when: the creators of works.c with their dynasty. The
 * dynasty label of a study work is its creator's, so it is consistent with the school. */
typedef struct {
    int school, creator;
    const char *dynasty;
    int year_lo, year_hi;
} study_hand_t;

static const study_hand_t hands[] = {
    {0, 0, "northern_song", 1040, 1095}, {1, 1, "yuan", 1320, 1368},
    {1, 5, "ming", 1470, 1520},          {2, 2, "southern_song", 1160, 1207},
    {2, 9, "yuan", 1310, 1360},          {3, 3, "ming", 1490, 1539},
    {3, 6, "qing", 1700, 1745},          {4, 4, "southern_song", 1190, 1225},
    {4, 7, "qing", 1720, 1770},          {5, 8, "ming", 1520, 1575},
};

/* Format weights per school: handscroll, hanging scroll, album leaf, fan (sum 1). */
static const float format_w[][4] = {
    {0.25f, 0.50f, 0.15f, 0.10f}, /* jinglin: monumental, mostly hanging scrolls */
    {0.35f, 0.25f, 0.25f, 0.15f}, /* yunshan */
    {0.35f, 0.25f, 0.20f, 0.20f}, /* yanyu */
    {0.35f, 0.35f, 0.15f, 0.15f}, /* jinbi */
    {0.00f, 0.30f, 0.45f, 0.25f}, /* xiyuan: bird-and-flower */
    {0.00f, 1.00f, 0.00f, 0.00f}, /* kaishu: calligraphy hanging scrolls */
};

static const char *const fmt_type[] = {"handscroll", "hanging_scroll", "album_leaf", "fan"};
static const char *const fmt_zh[] = {"卷", "轴", "册页", "扇面"};

static float R(dq_paint_rng_t *r, float a, float b)
{
    return (float)dq_paint_rng_range(r, a, b);
}

static float clampf(float x, float a, float b)
{
    return x < a ? a : x > b ? b : x;
}

/* splitmix64 finaliser: a well-mixed 64-bit seed from (seed, school, index). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int vips_fail(dq_err_t *err, const char *what, const char *path)
{
    dq_err_set(err, DQ_EIO, 0, "%s %s: %s", what, path, vips_error_buffer());
    vips_error_clear();
    return -1;
}

typedef struct {
    const dq_paint_opts_t *o;
    dq_paint_spectra_t *sp;
    dq_buf_t jsonl;
    json_t *works;
} study_t;

/* The signature (and for calligraphy the text) with the painter's seal. */
static int study_marks(dq_paint_scene_t *sc, int school, int fmt, const dq_paint_creator_t *cr,
                       dq_paint_rng_t *rng, dq_err_t *err)
{
    float A = sc->aspect, w = 0;
    const dq_paint_work_t *src = &dq_paint_works[dq_paint_rng_int(rng, 0, dq_paint_n_works - 1)];
    const char *poem[4];
    int np = 0;
    for (int i = 0; i < 4 && src->poem[i]; i++)
        poem[np++] = src->poem[i];
    char *sig = dq_xasprintf("%s%s", cr->zh, school == 5 ? "书" : "写");
    const char *sigv[1] = {sig};
    int relief = dq_paint_rng_unif(rng) < 0.5, rc = -1;
    float unit = (float)STUDY_LONG_SIDE; /* glyph masks at the nominal size, scaled by render */
    if (school == 5) {
        if (dq_paint_add_text(sc, poem, np, A - 0.06f, 0.06f, A * 0.16f, unit, 0.92f, &w, err) <
                0 ||
            dq_paint_add_text(sc, sigv, 1, A - 0.06f - w, 0.6f, 0.03f, unit, 0.9f, NULL, err) < 0 ||
            dq_paint_add_seal(sc, cr->seal, relief, A - 0.07f - w, 0.68f, 0.045f, unit,
                              (uint32_t)dq_paint_rng_next(rng), err) < 0)
            goto out;
    } else {
        float ch = fmt == DQ_FMT_HANGING ? 0.022f : fmt == DQ_FMT_HANDSCROLL ? 0.06f : 0.045f;
        int left = dq_paint_rng_unif(rng) < 0.3;
        float u = left ? 0.06f + ch : A - 0.05f, v = fmt == DQ_FMT_FAN ? 0.35f : 0.05f;
        if (fmt == DQ_FMT_FAN)
            u = A * 0.5f + (left ? -0.45f : 0.5f);
        if (dq_paint_add_text(sc, sigv, 1, u, v, ch, unit, 0.9f, &w, err) < 0 ||
            dq_paint_add_seal(sc, cr->seal, relief, u - w * 0.9f, v + ch * 4.0f, ch * 1.3f, unit,
                              (uint32_t)dq_paint_rng_next(rng), err) < 0)
            goto out;
    }
    rc = 0;
out:
    free(sig);
    return rc;
}

static int paint_study_work(study_t *c, int school, int idx, dq_err_t *err)
{
    const dq_paint_opts_t *o = c->o;
    const dq_paint_school_t *sch = &dq_paint_schools[school];
    dq_paint_rng_t rng;
    dq_paint_rng_seed(&rng, mix(mix(o->seed) ^ mix(((uint64_t)school << 32) | (uint64_t)idx)));

    /* Who and when. */
    int n_h = 0, pick[4];
    for (size_t i = 0; i < DQ_ARRAY_LEN(hands); i++)
        if (hands[i].school == school)
            pick[n_h++] = (int)i;
    const study_hand_t *hd = &hands[pick[dq_paint_rng_int(&rng, 0, n_h - 1)]];
    const dq_paint_creator_t *cr = &dq_paint_creators[hd->creator];
    int year = dq_paint_rng_int(&rng, hd->year_lo, hd->year_hi);

    /* Format and size. */
    double f = dq_paint_rng_unif(&rng), acc = 0;
    int fmt = DQ_FMT_HANGING;
    for (int k = 0; k < 4; k++) {
        acc += format_w[school][k];
        if (f < acc && format_w[school][k] > 0) {
            fmt = k;
            break;
        }
    }
    float aspect = fmt == DQ_FMT_HANDSCROLL ? R(&rng, 3.0f, 4.5f)
                   : fmt == DQ_FMT_HANGING  ? R(&rng, 0.33f, 0.45f)
                   : fmt == DQ_FMT_ALBUM    ? R(&rng, 0.85f, 1.15f)
                                            : 2.3f;
    double s = DQ_MIN(o->scale, 1.0);
    int L = (int)lround(STUDY_LONG_SIDE * s * R(&rng, 0.85f, 1.0f));
    int W = aspect >= 1 ? L : (int)lround(L * aspect), H = aspect >= 1 ? (int)lround(L / aspect) : L;
    if (W < 48 || H < 48) {
        double g = 48.0 / DQ_MIN(W, H);
        W = (int)lround(W * g);
        H = (int)lround(H * g);
    }
    int support = school == 3 ? (dq_paint_rng_unif(&rng) < 0.8 ? DQ_PAINT_SILK : DQ_PAINT_PAPER)
                  : school == 4 ? (dq_paint_rng_unif(&rng) < 0.5 ? DQ_PAINT_SILK : DQ_PAINT_PAPER)
                  : school == 0 ? (dq_paint_rng_unif(&rng) < 0.5 ? DQ_PAINT_SILK : DQ_PAINT_PAPER)
                                : DQ_PAINT_PAPER;
    const char *subject = school == 5 ? "calligraphy" : school == 4 ? "bird_and_flower"
                                                                    : "landscape";

    char id[64];
    snprintf(id, sizeof(id), "S%llu-%s-%04d", (unsigned long long)o->seed, sch->id, idx + 1);
    char *wdir = dq_xasprintf("%s/%s", o->out_dir, id);
    char *mpath = dq_xasprintf("%s/main.tif", wdir);
    dq_paint_scene_t sc = {0};
    VipsImage *t[2] = {NULL};
    json_t *rec = NULL;
    int rc = -1;
    if (dq_fs_mkdirs(wdir, err) < 0)
        goto out;

    /* The school's distribution, as collection.c draws it. */
    dq_paint_style_t st = {
        .format = fmt,
        .cun = sch->cun,
        .ink = clampf((float)dq_paint_rng_normal(&rng, sch->ink, sch->ink_sd), 0.35f, 1.0f),
        .blank = clampf((float)dq_paint_rng_normal(&rng, sch->blank, sch->blank_sd), 0.0f, 1.0f),
        .mist = clampf(sch->mist + (float)dq_paint_rng_normal(&rng, 0, 0.08), 0.0f, 1.0f),
        .dry = clampf(sch->dry + (float)dq_paint_rng_normal(&rng, 0, 0.08), 0.0f, 1.0f),
        .palette = sch->palette,
    };
    if (school == 4)
        st.palette = dq_paint_rng_unif(&rng) < 0.5 ? DQ_PAL_LIGHT : DQ_PAL_FLOWER;
    sc.seed = (uint32_t)dq_paint_rng_next(&rng);
    sc.aspect = (float)W / (float)H;
    sc.support = support;
    float age = 0.08f + 0.6f * (float)(2026 - year) / 1000.0f;
    sc.age = clampf(age + (support == DQ_PAINT_SILK ? 0.12f : 0.0f), 0.05f, 0.85f);
    sc.weave = 3.2f / (float)STUDY_LONG_SIDE;
    sc.n_stains = dq_paint_rng_int(&rng, 0, 2);
    for (int i = 0; i < sc.n_stains; i++) {
        sc.stains[i][0] = R(&rng, 0.1f, 0.9f) * sc.aspect;
        sc.stains[i][1] = R(&rng, 0.1f, 0.9f);
        sc.stains[i][2] = R(&rng, 0.05f, 0.18f);
    }
    if (fmt == DQ_FMT_FAN) {
        sc.fan = 1;
        sc.fan_geom[0] = sc.aspect / 2;
        sc.fan_geom[1] = 1.42f;
        sc.fan_geom[2] = 0.62f;
        sc.fan_geom[3] = 1.34f;
        sc.fan_half = 0.93f;
    }
    if (fmt == DQ_FMT_HANDSCROLL) {
        sc.zone[0] = 0.5f;
        sc.zone[1] = sc.aspect - 0.4f;
    }
    int n_birds = school == 4 ? dq_paint_rng_int(&rng, 0, 2) : 0;
    if (school == 5)
        sc.kind = DQ_SCENE_CALLIGRAPHY;
    else if (school == 4)
        dq_paint_flower_build(&sc, &st, n_birds, &rng);
    else
        dq_paint_landscape_build(&sc, &st, &rng);
    if (study_marks(&sc, school, fmt, cr, &rng, err) < 0)
        goto out;

    if (!(t[0] = dq_paint_render_state(&sc, W, H, 0, err)) ||
        !(t[1] = dq_paint_shade(t[0], &sc, c->sp, DQ_OUT_RGB, 0, err)))
        goto out;
    if (vips_tiffsave(t[1], mpath, "tile", TRUE, "tile_width", 256, "tile_height", 256,
                      "compression", VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 92, "strip", TRUE,
                      NULL)) {
        vips_fail(err, "tiffsave", mpath);
        goto out;
    }

    /* The catalog record (flat form, as collection.c writes it) and the manifest entry. */
    char title_zh[128], title_en[128], desc_en[512], date_zh[64], images_file[96];
    snprintf(title_zh, sizeof(title_zh), "%s%s习作第%d号", sch->zh, fmt_zh[fmt], idx + 1);
    snprintf(title_en, sizeof(title_en), "%s study no. %d (%s)", sch->en, idx + 1,
             fmt_type[fmt]);
    snprintf(desc_en, sizeof(desc_en),
             "A study-set work in the manner of the %s: %s. Procedurally generated by danqing "
             "(generate --study) with a known school and date.",
             sch->en, sch->desc_en);
    snprintf(date_zh, sizeof(date_zh), "%d年", year);
    snprintf(images_file, sizeof(images_file), "%s/main.tif", id);
    const char *otype = school == 5 ? "calligraphy" : fmt_type[fmt];
    rec = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:s, s:s, s:i, s:i, s:s, s:s, "
                    "s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}",
                    "accession", id, "title_zh", title_zh, "title_en", title_en, "creators",
                    "name_zh", cr->zh, "name_en", cr->en, "dates", cr->dates, "role",
                    school == 5 ? "calligrapher" : "painter", "dynasty", hd->dynasty, "date_text",
                    date_zh, "year_from", year, "year_to", year, "object_type", otype, "subject",
                    subject, "support", support == DQ_PAINT_SILK ? "silk" : "paper",
                    "description_en", desc_en, "rights",
                    "http://creativecommons.org/publicdomain/zero/1.0/", "school", sch->id,
                    "images", "file", images_file, "role", "main");
    if (!rec) {
        dq_err_set(err, DQ_EINTERNAL, 0, "%s: metadata json", id);
        goto out;
    }
    char *line = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(10));
    dq_buf_puts(&c->jsonl, line);
    dq_buf_putc(&c->jsonl, '\n');
    free(line);
    json_array_append_new(
        c->works, json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:{s:i, s:f, s:f, s:f, s:f, s:i}}",
                            "id", id, "school", sch->id, "dynasty", hd->dynasty, "year", year,
                            "format", fmt_type[fmt], "width", W, "height", H, "style", "cun",
                            st.cun, "ink", st.ink, "blank", st.blank, "mist", st.mist, "dry",
                            st.dry, "palette", st.palette));
    rc = 0;
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    json_decref(rec);
    dq_paint_scene_free(&sc);
    free(mpath);
    free(wdir);
    return rc;
}

int dq_paint_study(const dq_paint_opts_t *o, dq_err_t *err)
{
    study_t c = {.o = o};
    int rc = -1;
    if (!o->out_dir || !*o->out_dir)
        return dq_err_set(err, DQ_EINVAL, 0, "no output directory");
    if (o->study < 1 || o->study > 10000)
        return dq_err_set(err, DQ_EINVAL, 0, "--study %d out of range (1..10000)", o->study);
    if (!(o->scale > 0.001 && o->scale <= 16.0))
        return dq_err_set(err, DQ_EINVAL, 0, "scale %g out of range (0.001..16)", o->scale);
    c.sp = dq_xcalloc(1, sizeof(*c.sp));
    c.works = json_array();
    int64_t t0 = dq_now_us();
    if (dq_fs_mkdirs(o->out_dir, err) < 0 ||
        dq_paint_spectra_load(c.sp, o->pigments_dir ? o->pigments_dir : "data-src/pigments", err) <
            0)
        goto out;
    /* Interleave the schools so that a partial set (a killed run) stays balanced. */
    for (int i = 0; i < o->study; i++) {
        for (int s = 0; s < dq_paint_n_schools; s++)
            if (paint_study_work(&c, s, i, err) < 0)
                goto out;
        if (!o->quiet)
            dq_log(DQ_LOG_INFO, "paint", "study: %d/%d per school (%.1f s)", i + 1, o->study,
                   (double)(dq_now_us() - t0) / 1e6);
    }
    char *mpath = dq_xasprintf("%s/metadata.jsonl", o->out_dir);
    int wr =
        dq_fs_write_atomic(mpath, o->out_dir, c.jsonl.data ? c.jsonl.data : "", c.jsonl.len, err);
    free(mpath);
    if (wr < 0)
        goto out;
    json_t *schools = json_array();
    for (int s = 0; s < dq_paint_n_schools; s++)
        json_array_append_new(schools, json_string(dq_paint_schools[s].id));
    json_t *man = json_pack("{s:s, s:I, s:f, s:i, s:o, s:O, s:s}", "generator", DQ_PAINT_VERSION,
                            "seed", (json_int_t)o->seed, "scale", o->scale, "study", o->study,
                            "schools", schools, "works", c.works, "metadata", "metadata.jsonl");
    char *text = json_dumps(man, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(man);
    if (!text) {
        dq_err_set(err, DQ_EINTERNAL, 0, "manifest json");
        goto out;
    }
    dq_buf_t b = {0};
    dq_buf_puts(&b, text);
    dq_buf_putc(&b, '\n');
    free(text);
    mpath = dq_xasprintf("%s/manifest.json", o->out_dir);
    wr = dq_fs_write_atomic(mpath, o->out_dir, b.data, b.len, err);
    free(mpath);
    dq_buf_free(&b);
    if (wr < 0)
        goto out;
    rc = 0;
out:
    json_decref(c.works);
    dq_buf_free(&c.jsonl);
    free(c.sp);
    return rc;
}
