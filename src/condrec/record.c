/*
 * record.c: a condition record from a new capture in one step (condrec.h dq_condrec_build), and
 * the files `danqing condition changes` writes (dq_condrec_changes_write, shared with the CLI).
 * The order of the work is what makes a failure clean: everything that can refuse the pair
 * (decoding, registration, the change maps) runs before anything is stored; what is stored
 * afterwards (layer files, two ingested images, the relic's links, the record) is undone in
 * reverse if a later step fails. The change-detection method is conserve/'s; nothing here
 * second-guesses it.
 */
#define _GNU_SOURCE
#include "condrec/condrec.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "image/image.h"

/* Captures larger than this are refused before decoding (a 24000 x 2000 pair is 48 Mpx). */
#define MAX_CAPTURE_PIXELS (400ull * 1000 * 1000)
/* Regions smaller than this are counted in the areas but not listed one by one. */
#define MIN_REGION_PX 4
#define MAX_REGIONS_LISTED 1000
/* Draft observations: at most this many regions per class, largest first, none smaller than
 * MIN_OBS_PX (a speck is counted in the class's area, not worth a line of the report). */
#define MAX_OBS_PER_CLASS 8
#define MIN_OBS_PX 25

/* ================================================================ change outputs */

static json_t *changes_json(const dq_conserve_changes_t *c)
{
    const dq_conserve_reg_t *r = &c->reg;
    json_t *m = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(m, json_pack("[f,f,f]", r->m[i][0], r->m[i][1], r->m[i][2]));
    json_t *j = json_pack(
        "{s:i, s:i, s:I, s:{s:s, s:o, s:f, s:f}, s:{s:[f,f,f], s:[f,f,f], s:[f,f,f], s:s}, "
        "s:[f,f,f]}",
        "width", c->w, "height", c->h, "valid_px", (json_int_t)c->n_valid, "registration", "model",
        dq_conserve_model_name(r->model), "matrix", m, "residual_px", r->residual_px, "correlation",
        r->ncc, "colour", "gain", c->colour_gain[0], c->colour_gain[1], c->colour_gain[2], "offset",
        c->colour_offset[0], c->colour_offset[1], c->colour_offset[2], "noise", c->noise[0],
        c->noise[1], c->noise[2], "model",
        "REF = gain * MOVING + offset per sRGB channel; gain: the consensus of the unchanged "
        "pixels' scattergram, offset 0",
        "lining_srgb", c->lining[0], c->lining[1], c->lining[2]);
    json_t *cls = json_object();
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
        dq_conserve_region_t *reg = NULL;
        int n = 0;
        dq_conserve_regions(c->mask[k], c->w, c->h, MIN_REGION_PX, &reg, &n);
        json_t *list = json_array();
        for (int i = 0; i < n && i < MAX_REGIONS_LISTED; i++)
            json_array_append_new(list,
                                  json_pack("{s:[i,i,i,i], s:I}", "bbox", reg[i].x0, reg[i].y0,
                                            reg[i].x1 - reg[i].x0 + 1, reg[i].y1 - reg[i].y0 + 1,
                                            "area_px", (json_int_t)reg[i].area));
        char file[32];
        snprintf(file, sizeof(file), "%s.png", dq_conserve_class_name(k));
        json_object_set_new(cls, dq_conserve_class_name(k),
                            json_pack("{s:s, s:I, s:f, s:i, s:o}", "mask", file, "area_px",
                                      (json_int_t)c->area[k], "fraction",
                                      c->n_valid ? (double)c->area[k] / (double)c->n_valid : 0.0,
                                      "n_regions", n, "regions", list));
        free(reg);
    }
    json_object_set_new(j, "classes", cls);
    json_object_set_new(j, "map", json_string("changes.png"));
    json_object_set_new(j, "note",
                        json_string("masks and boxes are in REF's pixel frame; bbox "
                                    "is [x, y, width, height]; regions of fewer than "
                                    "4 px are counted in area_px only"));
    return j;
}

int dq_condrec_changes_write(const dq_conserve_changes_t *c, const char *dir, json_t **json,
                             char **text_out, dq_err_t *err)
{
    json_t *j = NULL;
    char *text = NULL, *p = NULL;
    int rc = -1;
    if (json)
        *json = NULL;
    if (text_out)
        *text_out = NULL;
    if (dq_fs_mkdirs(dir, err) < 0)
        goto out;
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
        free(p);
        p = dq_xasprintf("%s/%s.png", dir, dq_conserve_class_name(k));
        dq_raster_t m = {c->w, c->h, 1, c->mask[k]};
        if (dq_raster_save_png(p, &m, err) < 0)
            goto out;
    }
    /* changes.png: the three classes colour-coded on black (loss red, flaking yellow, fading
     * blue: the web's legend), for an overlay with "screen" blending. */
    {
        static const uint8_t col[3][3] = {{224, 49, 43}, {242, 194, 0}, {47, 125, 225}};
        dq_raster_t map = {c->w, c->h, 3, dq_xcalloc((size_t)c->w * c->h, 3)};
        for (size_t i = 0; i < (size_t)c->w * c->h; i++)
            for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++)
                if (c->mask[k][i])
                    memcpy(map.px + 3 * i, col[k], 3);
        free(p);
        p = dq_xasprintf("%s/changes.png", dir);
        int r = dq_raster_save_png(p, &map, err);
        dq_raster_free(&map);
        if (r < 0)
            goto out;
    }
    j = changes_json(c);
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    size_t len = strlen(t);
    text = dq_xmalloc(len + 2);
    memcpy(text, t, len);
    free(t);
    text[len] = '\n';
    text[len + 1] = '\0';
    free(p);
    p = dq_xasprintf("%s/changes.json", dir);
    if (dq_fs_write_atomic(p, dir, text, len + 1, err) < 0)
        goto out;
    if (json) {
        *json = j;
        j = NULL;
    }
    if (text_out) {
        *text_out = text;
        text = NULL;
    }
    rc = 0;
out:
    json_decref(j);
    free(text);
    free(p);
    return rc;
}

/* ================================================================ the build */

/* Everything one build holds; released by build_free. */
typedef struct {
    dq_catalog_t *cat;
    const dq_condrec_opts_t *o;
    json_t *relic; /* the relic document */
    int64_t relic_version;
    json_t *records;            /* its condition records, date order */
    const char *ref_image;      /* the earlier capture (borrowed from records/relic), or NULL */
    const char *against_record; /* "c<n>" compared with, or NULL */
    const char *ref_overall;
    char cap_id[DQ_IMAGE_ID_MAX + 1], map_id[DQ_IMAGE_ID_MAX + 1];
    int cap_linked;
    char *layer_dir;   /* data_dir/tmp/condrec-XXXXXX: the change files before they are stored */
    char *layer_key;   /* "layers/<capture>/changes": their keys' prefix in the store */
    dq_blob_t *store;  /* o->store, or own_store */
    dq_blob_t *own_store; /* the data directory's store when o->store is NULL */
    json_t *old_links; /* the relic's image links before ours */
    /* What the work note (opts.work, dq_condrec_undo) says: the masters' SHA-256 of the
     * capture file and of the change map, once known ("" before). */
    char cap_sha[65], map_sha[65];
    int noted_linked; /* the note says capture_linked */
    /* The record once created ("c<n>", "" before): the note names it, since a baseline of an
     * image already catalogued has no change map and no capture of its own to find it by. */
    char rec_id[24];
} build_t;

static void progress(const build_t *b, const char *stage, int pct)
{
    if (b->o->progress)
        b->o->progress(b->o->progress_ud, stage, pct);
}

static json_t *load_json(const dq_buf_t *b, dq_err_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, 0, &je);
    if (!j)
        dq_err_set(err, DQ_EINTERNAL, 500, "unreadable catalog answer: %s", je.text);
    return j;
}

/* The relic (404 when who may not see it) and its records. */
static int load_relic(build_t *b, dq_err_t *err)
{
    dq_buf_t d = {0}, l = {0};
    int rc = -1;
    if (dq_catalog_relic_get(b->cat, b->o->relic_id, b->o->who, &d, &b->relic_version, err) < 0 ||
        !(b->relic = load_json(&d, err)) ||
        dq_catalog_condition_list(b->cat, b->o->relic_id, b->o->who, &l, err) < 0 ||
        !(b->records = load_json(&l, err)))
        goto out;
    rc = 0;
out:
    dq_buf_free(&d);
    dq_buf_free(&l);
    return rc;
}

/* The earlier capture: the named record's first image, a named image, or the latest record
 * dated on or before the new date that has one. */
static int pick_reference(build_t *b, dq_err_t *err)
{
    json_t *items = json_object_get(b->records, "items"), *r;
    size_t i;
    const char *want = b->o->against;
    if (want && want[0] == 'c' && isdigit((unsigned char)want[1])) {
        json_array_foreach(items, i, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "id")), want) != 0)
                continue;
            b->ref_image = json_string_value(json_array_get(json_object_get(r, "images"), 0));
            if (!b->ref_image)
                return dq_err_set(err, DQ_EINVAL, 422, "record %s has no capture to compare with",
                                  want);
            b->against_record = want;
            b->ref_overall = json_string_value(json_object_get(r, "overall"));
            return 0;
        }
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no condition record %s on relic %s", want,
                          b->o->relic_id);
    }
    if (want) {
        dq_image_rec_t rec;
        if (dq_catalog_image_get(b->cat, want, &rec, err) < 0 ||
            !dq_catalog_image_visible(b->cat, want, b->o->who))
            return dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s' to compare with", want);
        b->ref_image = want;
        return 0;
    }
    json_array_foreach(items, i, r)
    {
        const char *d = json_string_value(json_object_get(r, "date"));
        const char *im = json_string_value(json_array_get(json_object_get(r, "images"), 0));
        if (d && im && strcmp(d, b->o->date) <= 0) {
            b->ref_image = im;
            b->against_record = json_string_value(json_object_get(r, "id"));
            b->ref_overall = json_string_value(json_object_get(r, "overall"));
        }
    }
    return 0;
}

static int load_raster(build_t *b, const char *image_id, dq_raster_t *out, dq_err_t *err)
{
    dq_image_rec_t rec;
    if (dq_catalog_image_get(b->cat, image_id, &rec, err) < 0)
        return -1;
    if (b->o->store) /* a master is named by its SHA-256: one HEAD per master, not per build */
        dq_blob_pin(b->o->store, rec.master_path, rec.master_sha256);
    char *p = b->o->store ? dq_blob_local_path(b->o->store, rec.master_path, err)
                          : dq_xasprintf("%s/%s", b->o->data_dir, rec.master_path);
    if (!p)
        return -1;
    int rc = dq_raster_load(p, 3, MAX_CAPTURE_PIXELS, out, err);
    free(p);
    return rc;
}

/* "<relic>.condition-<YYYYMMDD>", then -2, -3, ... while taken. */
static int new_capture_id(build_t *b, dq_err_t *err)
{
    char stem[DQ_IMAGE_ID_MAX + 1];
    size_t n = 0;
    for (const char *p = b->o->relic_id; *p && n < 80; p++)
        stem[n++] = (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.') ? *p : '_';
    stem[n] = '\0';
    for (int k = 1; k < 1000; k++) {
        char d[9] = {0};
        memcpy(d, b->o->date, 4);
        memcpy(d + 4, b->o->date + 5, 2);
        memcpy(d + 6, b->o->date + 8, 2);
        if (k == 1)
            snprintf(b->cap_id, sizeof(b->cap_id), "%.80s.condition-%.8s", stem, d);
        else
            snprintf(b->cap_id, sizeof(b->cap_id), "%.80s.condition-%.8s-%d", stem, d, k);
        snprintf(b->map_id, sizeof(b->map_id), "%.110s.changes", b->cap_id);
        dq_image_rec_t rec;
        dq_err_t e2 = {0};
        if (dq_catalog_image_get(b->cat, b->cap_id, &rec, &e2) < 0 &&
            dq_catalog_image_get(b->cat, b->map_id, &rec, &e2) < 0)
            return dq_image_id_valid(b->cap_id, err) ? 0 : -1;
    }
    return dq_err_set(err, DQ_EEXIST, 409, "too many captures of %s on %s", b->o->relic_id,
                      b->o->date);
}

typedef struct {
    const build_t *b;
    const char *stage;
    int from, to;
} ingest_prog_t;

static void ingest_progress(void *ud, int percent, int eta_s)
{
    (void)eta_s;
    ingest_prog_t *p = ud;
    progress(p->b, p->stage, p->from + (p->to - p->from) * percent / 100);
}

static int ingest(build_t *b, const char *src, const char *id, const char *stage, int from, int to,
                  dq_err_t *err)
{
    ingest_prog_t ip = {b, stage, from, to};
    dq_ingest_opts_t io = {.src_path = src,
                           .id = id,
                           .data_dir = b->o->data_dir,
                           .who = b->o->who->user,
                           .replace = 0,
                           .quality = 92,
                           .max_pixels = MAX_CAPTURE_PIXELS,
                           .progress = ingest_progress,
                           .progress_ud = &ip,
                           .store = b->o->store};
    dq_image_rec_t rec;
    progress(b, stage, from);
    return dq_image_ingest(b->cat, &io, &rec, err);
}

/* The relic's image links as an array of its own, optionally with ours appended. */
static int set_links(build_t *b, const json_t *links, int64_t if_version, dq_err_t *err)
{
    char *text = json_dumps(links, JSON_COMPACT);
    /* Linking a capture to the relic is part of the condition record a conservator writes;
     * the relic write itself needs a curator, so it runs as the same user with that role
     * (the audit row names the user). */
    dq_actor_t who = *b->o->who;
    if (who.role < DQ_ROLE_CURATOR)
        who.role = DQ_ROLE_CURATOR;
    dq_buf_t out = {0}, fe = {0};
    int rc = dq_catalog_relic_set_images(b->cat, b->o->relic_id, text, strlen(text), if_version,
                                         &who, &out,
                                         &fe, err);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    free(text);
    return rc;
}

/* The work note: everything undo needs to take this build's stores back, by any server
 * (dq_condrec_undo). New JSON text (free()). */
static char *work_text(const build_t *b)
{
    json_t *w = json_pack("{s:s, s:s, s:b, s:b, s:s}", "relic", b->o->relic_id, "capture",
                          b->cap_id, "capture_new", b->o->capture_path != NULL, "capture_linked",
                          b->o->capture_path != NULL || b->noted_linked, "map", b->map_id);
    if (b->cap_sha[0])
        json_object_set_new(w, "capture_sha256", json_string(b->cap_sha));
    if (b->map_sha[0])
        json_object_set_new(w, "map_sha256", json_string(b->map_sha));
    if (b->layer_key)
        json_object_set_new(w, "layers", json_string(b->layer_key));
    if (b->rec_id[0])
        json_object_set_new(w, "record", json_string(b->rec_id));
    char *t = json_dumps(w, JSON_COMPACT);
    json_decref(w);
    return t;
}

/* Hands the work note to opts.work (a job server keeps it in the catalog, so that another
 * server can undo a job whose server died). Called before each new kind of thing is stored;
 * a failure fails the build before that store. */
static int note_work(build_t *b, dq_err_t *err)
{
    if (!b->o->work)
        return 0;
    char *t = work_text(b);
    int rc = b->o->work(b->o->work_ud, t, err);
    free(t);
    return rc;
}

/* Adds our links to the relic's links as they are now (read again: the build is long, and
 * another server's job may have linked its own images meanwhile), with If-Match on the
 * version read and a few tries when someone writes in between. */
static int link_images(build_t *b, int with_map, dq_err_t *err)
{
    int rc = -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        dq_buf_t d = {0};
        json_t *rel = NULL;
        int64_t ver = -1;
        if (dq_catalog_relic_get(b->cat, b->o->relic_id, b->o->who, &d, &ver, err) < 0 ||
            !(rel = load_json(&d, err))) {
            dq_buf_free(&d);
            return -1;
        }
        dq_buf_free(&d);
        json_decref(b->old_links);
        b->old_links = json_deep_copy(json_object_get(rel, "images"));
        json_decref(rel);
        if (!b->old_links)
            b->old_links = json_array();
        json_t *a = json_deep_copy(b->old_links);
        char zh[64], en[64];
        snprintf(zh, sizeof(zh), "保存状况影像 %s", b->o->date);
        snprintf(en, sizeof(en), "Condition capture %s", b->o->date);
        int have = 0;
        size_t i;
        json_t *x;
        json_array_foreach(a, i, x)
        {
            const char *iid = json_string_value(json_object_get(x, "image_id"));
            if (iid && strcmp(iid, b->cap_id) == 0)
                have = 1;
        }
        b->cap_linked = !have;
        /* an existing image linked here: the note says so before the link is written */
        if (!have && !b->noted_linked && b->o->capture_image) {
            b->noted_linked = 1;
            if (note_work(b, err) < 0) {
                json_decref(a);
                return -1;
            }
        }
        if (!have)
            json_array_append_new(a, json_pack("{s:s, s:s, s:{s:s, s:s}}", "image_id", b->cap_id,
                                               "role", "condition", "label", "zh", zh, "en", en));
        if (with_map) {
            snprintf(zh, sizeof(zh), "变化图 %s", b->o->date);
            snprintf(en, sizeof(en), "Change map %s", b->o->date);
            json_array_append_new(a, json_pack("{s:s, s:s, s:{s:s, s:s}}", "image_id", b->map_id,
                                               "role", "change-map", "label", "zh", zh, "en", en));
        }
        int changed = json_array_size(a) != json_array_size(b->old_links);
        rc = changed ? set_links(b, a, ver, err) : 0;
        json_decref(a);
        if (rc == 0 || err->http_status != 412)
            break;
    }
    return rc;
}

/* Draft observations from the change regions (REF's frame), boxes carried into the new
 * capture's frame through the registration. */
static json_t *draft_observations(const build_t *b, const dq_conserve_changes_t *ch,
                                  const json_t *cj, int mov_w, int mov_h, double cm2_per_px)
{
    json_t *obs = json_array();
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
        const char *name = dq_conserve_class_name(k);
        json_t *regs = json_object_get(json_object_get(json_object_get(cj, "classes"), name),
                                       "regions"),
               *r;
        size_t i;
        json_array_foreach(regs, i, r)
        {
            if (i >= MAX_OBS_PER_CLASS)
                break;
            json_t *bb = json_object_get(r, "bbox");
            double area = json_number_value(json_object_get(r, "area_px"));
            if (area < MIN_OBS_PX)
                break; /* largest first */
            double x0 = json_number_value(json_array_get(bb, 0)),
                   y0 = json_number_value(json_array_get(bb, 1)),
                   x1 = x0 + json_number_value(json_array_get(bb, 2)),
                   y1 = y0 + json_number_value(json_array_get(bb, 3));
            /* the box's corners through REF -> MOVING; pixel centres are at integers, the box
             * runs from x0 - 0.5 to x1 - 0.5 */
            double mx0 = 1e300, my0 = 1e300, mx1 = -1e300, my1 = -1e300;
            const double cx[4] = {x0, x1, x0, x1}, cy[4] = {y0, y0, y1, y1};
            for (int c = 0; c < 4; c++) {
                double ox, oy;
                dq_conserve_map(ch->reg.m, cx[c] - 0.5, cy[c] - 0.5, &ox, &oy);
                mx0 = fmin(mx0, ox + 0.5), my0 = fmin(my0, oy + 0.5);
                mx1 = fmax(mx1, ox + 0.5), my1 = fmax(my1, oy + 0.5);
            }
            int ix0 = (int)fmax(0, floor(mx0)), iy0 = (int)fmax(0, floor(my0));
            int ix1 = (int)fmin(mov_w, ceil(mx1)), iy1 = (int)fmin(mov_h, ceil(my1));
            json_t *region;
            if (ix1 > ix0 && iy1 > iy0)
                region = json_pack("{s:s, s:[i,i,i,i]}", "image_id", b->cap_id, "xywh", ix0, iy0,
                                   ix1 - ix0, iy1 - iy0);
            else
                region = json_pack("{s:s, s:[f,f,f,f]}", "image_id", b->ref_image, "xywh", x0, y0,
                                   x1 - x0, y1 - y0);
            /* Severity by area: on the object when its size is known (under 1 cm2 minor,
             * under 10 cm2 moderate), else by the share of the image (0.05 %, 0.5 %). A
             * draft: the conservator judges. */
            double cm2 = cm2_per_px > 0 ? area * cm2_per_px : -1;
            double frac = ch->n_valid ? area / (double)ch->n_valid : 0;
            const char *sev = cm2 >= 0 ? (cm2 < 1    ? "minor"
                                          : cm2 < 10 ? "moderate"
                                                     : "severe")
                                       : (frac < 5e-4   ? "minor"
                                          : frac < 5e-3 ? "moderate"
                                                        : "severe");
            char note[160];
            if (cm2 >= 0)
                snprintf(note, sizeof(note), "%s found by the change map: %.0f px, %.2f cm2", name,
                         area, cm2);
            else
                snprintf(note, sizeof(note), "%s found by the change map: %.0f px", name, area);
            json_t *o =
                json_pack("{s:s, s:s, s:o, s:I, s:b, s:s}", "type", name, "severity", sev, "region",
                          region, "area_px", (json_int_t)area, "auto", 1, "note", note);
            if (cm2 >= 0)
                json_object_set_new(o, "area_cm2", json_real(round(cm2 * 1e4) / 1e4));
            json_array_append_new(obs, o);
        }
    }
    return obs;
}

/* The files one record's change maps leave in the store, under its layers key. */
static const char *const change_files[] = {"loss.png", "flaking.png", "fading.png", "changes.png",
                                           "changes.json"};

/* The local work copies, removed when the build ends (stored or not). */
static void remove_tmp_dir(const char *dir)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(change_files); i++) {
        char *p = dq_xasprintf("%s/%s", dir, change_files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

int dq_condrec_changes_key_ok(const char *key, const char *capture_image)
{
    if (!key || !capture_image)
        return 0;
    char *want = dq_xasprintf("layers/%s/changes", capture_image);
    int ok = strcmp(key, want) == 0 && dq_blob_key_ok(key);
    free(want);
    return ok;
}

const char *dq_condrec_changes_file_name(size_t i)
{
    return i < DQ_ARRAY_LEN(change_files) ? change_files[i] : NULL;
}

/* What `danqing restore --relic` puts under layers/<image>/ (cmd_restore.c writes these). */
static const char *const restoration_files[] = {"restoration.png", "mask.png",
                                                "restoration.json"};

const char *dq_condrec_restoration_file_name(size_t i)
{
    return i < DQ_ARRAY_LEN(restoration_files) ? restoration_files[i] : NULL;
}

int dq_condrec_changes_file_ok(const char *name)
{
    for (size_t i = 0; name && i < DQ_ARRAY_LEN(change_files); i++)
        if (strcmp(name, change_files[i]) == 0)
            return 1;
    return 0;
}

char *dq_condrec_layer_stored_key(const char *key, const char *sha)
{
    const char *slash = strrchr(key, '/'), *dot = strrchr(key, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : key))
        return dq_xasprintf("%s.%.16s", key, sha);
    return dq_xasprintf("%.*s.%.16s%s", (int)(dot - key), key, sha, dot);
}

char *dq_condrec_layer_find(dq_catalog_t *cat, dq_blob_t *store, const char *key, dq_err_t *err)
{
    char sha[65];
    int r = cat ? dq_catalog_layer_file_get(cat, key, sha, err) : 1;
    if (r < 0)
        return NULL;
    if (r == 0) {
        char *k = dq_condrec_layer_stored_key(key, sha);
        int have = dq_blob_exists(store, k, err);
        if (have < 0) {
            free(k);
            return NULL;
        }
        if (have)
            return k;
        free(k); /* recorded before content keys (or adopted): the bytes are under key */
    }
    return dq_xstrdup(key);
}

int dq_condrec_put_layer_file(dq_catalog_t *cat, dq_blob_t *store, const char *key,
                              const char *src, dq_err_t *err)
{
    char hex[65], old[65];
    uint64_t size = 0;
    /* hashed before the put: a file store may rename src away */
    if (dq_sha256_file(src, hex, &size, err) < 0)
        return -1;
    if (!cat)
        return dq_blob_put_file(store, key, src, err);
    int had = dq_catalog_layer_file_get(cat, key, old, err);
    if (had < 0)
        return -1;
    char *ck = dq_condrec_layer_stored_key(key, hex);
    int rc = dq_blob_put_file(store, ck, src, err) < 0 ||
                     dq_catalog_layer_file_put(cat, key, hex, size, err) < 0
                 ? -1
                 : 0;
    if (rc == 0) {
        /* After the row names the new bytes: those it named before (a content key of other
         * bytes, or key itself from before content keys). A failure leaves a file no row
         * names, which nobody reads. */
        dq_err_t e = {0};
        if (had == 0 && strcmp(old, hex) != 0) {
            char *ok = dq_condrec_layer_stored_key(key, old);
            dq_blob_remove(store, ok, &e);
            free(ok);
        }
        dq_blob_remove(store, key, &e);
    }
    free(ck);
    return rc;
}

/* Puts the work copies in dir into the store under key/<file>, each with its checksum in the
 * catalog (`danqing fixity`). A failure leaves what was put for the caller's undo
 * (dq_condrec_changes_remove). */
static int store_changes(dq_catalog_t *cat, dq_blob_t *store, const char *dir, const char *key,
                         dq_err_t *err)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(change_files); i++) {
        char *src = dq_xasprintf("%s/%s", dir, change_files[i]);
        char *k = dq_xasprintf("%s/%s", key, change_files[i]);
        int rc = dq_condrec_put_layer_file(cat, store, k, src, err);
        free(src);
        free(k);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int dq_condrec_changes_remove(dq_catalog_t *cat, dq_blob_t *store, const char *key,
                              dq_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(change_files); i++) {
        char *k = dq_xasprintf("%s/%s", key, change_files[i]), sha[65];
        /* its content's key (dq_condrec_put_layer_file) and key itself (put before those) */
        int r = cat ? dq_catalog_layer_file_get(cat, k, sha, err) : 1;
        char *ck = r == 0 ? dq_condrec_layer_stored_key(k, sha) : NULL;
        if (r < 0 || (ck && dq_blob_remove(store, ck, err) < 0) || dq_blob_remove(store, k, err) < 0)
            rc = -1;
        /* the checksum after the file: a file with no row is only unchecked, a row with no
         * file would be reported MISSING */
        else if (cat && dq_catalog_layer_file_remove(cat, k, err) < 0)
            rc = -1;
        free(ck);
        free(k);
    }
    /* A file store keeps directories: drop layers/<capture>/changes and layers/<capture> when
     * nothing else is in them (rmdir refuses otherwise). */
    char *dir = dq_blob_file_path(store, key);
    if (dir) {
        rmdir(dir);
        char *s = strrchr(dir, '/');
        if (s) {
            *s = '\0';
            rmdir(dir);
        }
        free(dir);
    }
    return rc;
}

/* ================================================================ undo */

/* Undo works from the work note alone (work_text), so that the build that failed and any
 * server that finds a job whose server died (api_condition_job.c) take back the same things
 * the same way. Everything is looked up as it is now, and only what is provably the job's
 * goes: an image whose master is the job's file (its SHA-256), links to those images, the
 * record that names its change map, its change files. */

typedef struct {
    const char *relic, *capture, *map, *cap_sha, *map_sha, *layers;
    const char *record; /* the record created, once the note names it; else NULL */
    int capture_new, capture_linked;
} work_t;

static int master_named(void *ud, const dq_image_rec_t *rec)
{
    (void)rec;
    *(int *)ud = 1;
    return 1; /* one is enough */
}

typedef struct {
    const char *id, *sha;
    dq_image_rec_t rec;
    int found;
} pending_find_t;

/* The job's pending row of id: one ingest run's (several runs of one id have a row each). */
static int pending_is(void *ud, const dq_image_rec_t *rec)
{
    pending_find_t *p = ud;
    if (strcmp(rec->id, p->id) != 0 || strcmp(rec->master_sha256, p->sha) != 0)
        return 0;
    p->rec = *rec;
    p->found = 1;
    return 1;
}

/* Removes the master with SHA-256 sha from the store when no image and no pending ingest
 * names it (asked after ours are gone, through the index on master_sha256), under the
 * catalog's ingest lock: an ingest on any server that found the master present holds the
 * same lock until its rows name it (dq_image_ingest, docs/deploy.md "Several servers"). */
static void remove_master_unshared(dq_catalog_t *cat, dq_blob_t *store, const char *sha)
{
    dq_err_t e = {0};
    dq_catalog_lock_t *lk = NULL;
    if (dq_catalog_lock(cat, DQ_CATALOG_LOCK_INGEST, &lk, &e) < 0) {
        dq_log(DQ_LOG_WARN, "condrec", "undo: master %.12s kept: %s", sha, e.msg);
        return;
    }
    int shared = 0;
    char key[100];
    snprintf(key, sizeof(key), "masters/%.2s/%s", sha, sha);
    if (dq_catalog_image_by_master(cat, sha, master_named, &shared, &e) < 0)
        dq_log(DQ_LOG_WARN, "condrec", "undo: %s kept: %s", key, e.msg);
    else if (!shared && dq_blob_remove(store, key, &e) < 0)
        dq_log(DQ_LOG_WARN, "condrec", "undo: %s: %s", key, e.msg);
    dq_catalog_unlock(lk);
}

/* Undoes one ingest of the job: image id's row (when its master is sha, the job's file),
 * a pending journal row of an ingest cut off (the same test), their pyramid, and the master
 * when nothing else names it. sha "" (unknown: the job had not got that far) leaves a row
 * alone. Errors are logged. */
static void undo_ingest(dq_catalog_t *cat, dq_blob_t *store, const char *who, const char *id,
                        const char *sha)
{
    dq_err_t e = {0};
    dq_image_rec_t rec;
    if (!sha || !sha[0])
        return;
    int ours = 0;
    if (dq_catalog_image_get(cat, id, &rec, &e) == 0 && strcmp(rec.master_sha256, sha) == 0) {
        if (dq_catalog_image_delete(cat, id, who, &e) < 0) {
            dq_log(DQ_LOG_WARN, "condrec", "undo: image %s: %s", id, e.msg);
            return;
        }
        ours = 1;
    }
    pending_find_t pf = {.id = id, .sha = sha};
    dq_err_clear(&e);
    if (dq_catalog_pending_list(cat, pending_is, &pf, &e) == 0 && pf.found) {
        if (dq_catalog_pending_drop(cat, pf.rec.run, &e) < 0)
            dq_log(DQ_LOG_WARN, "condrec", "undo: pending %s: %s", id, e.msg);
        if (!ours)
            rec = pf.rec;
        ours = 1;
    }
    /* The pyramid only with a row of ours: pyramids/<id>.tif of another image is not ours. */
    dq_image_rec_t now;
    if (ours && dq_catalog_image_get(cat, id, &now, &e) < 0 &&
        dq_blob_remove(store, rec.pyramid_path, &e) < 0)
        dq_log(DQ_LOG_WARN, "condrec", "undo: %s: %s", rec.pyramid_path, e.msg);
    remove_master_unshared(cat, store, sha);
}

/* Takes the job's links (the map's; the capture's when the job linked it) out of the relic's
 * links as they are now: other writers (another server's job on the same relic) may have
 * linked images since, so a list from before is never written back. If-Match on the version
 * read, a few tries when someone writes in between. */
static int unlink_ours(dq_catalog_t *cat, const work_t *w, const dq_actor_t *who0, dq_err_t *err)
{
    /* Linking is part of the record a conservator writes; the relic write needs a curator
     * (as set_links). */
    dq_actor_t who = *who0;
    if (who.role < DQ_ROLE_CURATOR)
        who.role = DQ_ROLE_CURATOR;
    for (int attempt = 0; attempt < 5; attempt++) {
        dq_buf_t d = {0}, out = {0}, fe = {0};
        json_t *rel = NULL, *keep = json_array(), *x;
        int64_t ver = -1;
        size_t i, n = 0;
        int rc = -1;
        if (dq_catalog_relic_get(cat, w->relic, &who, &d, &ver, err) == 0 &&
            (rel = load_json(&d, err))) {
            json_array_foreach(json_object_get(rel, "images"), i, x)
            {
                const char *iid = json_string_value(json_object_get(x, "image_id"));
                n++;
                if (!iid || !((w->capture_linked && strcmp(iid, w->capture) == 0) ||
                              strcmp(iid, w->map) == 0))
                    json_array_append(keep, x);
            }
            if (json_array_size(keep) == n) {
                rc = 0;
            } else {
                char *text = json_dumps(keep, JSON_COMPACT);
                rc = dq_catalog_relic_set_images(cat, w->relic, text, strlen(text), ver, &who,
                                                 &out, &fe, err);
                free(text);
            }
        }
        json_decref(rel);
        json_decref(keep);
        dq_buf_free(&d);
        dq_buf_free(&out);
        dq_buf_free(&fe);
        if (rc == 0 || err->http_status != 412)
            return rc;
    }
    return -1;
}

/* The records of the relic that are the job's: the one whose change map is the job's, or
 * (a capture the job ingested under its own new id) whose first image is that capture, or the
 * one the note names (a record's id may be given again after a delete, so only while its
 * first image is still the job's capture). */
static void remove_records(dq_catalog_t *cat, const work_t *w, const dq_actor_t *who)
{
    dq_buf_t l = {0};
    dq_err_t e = {0};
    json_t *lst = NULL, *r;
    size_t i;
    if (dq_catalog_condition_list(cat, w->relic, who, &l, &e) < 0 || !(lst = load_json(&l, &e))) {
        if (e.code != DQ_ENOTFOUND)
            dq_log(DQ_LOG_WARN, "condrec", "undo: records of %s: %s", w->relic, e.msg);
        goto out;
    }
    json_array_foreach(json_object_get(lst, "items"), i, r)
    {
        const char *map = json_string_value(
            json_object_get(json_object_get(r, "changes"), "map_image"));
        const char *first = json_string_value(json_array_get(json_object_get(r, "images"), 0));
        const char *rid = json_string_value(json_object_get(r, "id"));
        int named = w->record && strcmp(rid ? rid : "", w->record) == 0 && first &&
                    strcmp(first, w->capture) == 0;
        if (!rid || !((map && strcmp(map, w->map) == 0) ||
                      (w->capture_new && first && strcmp(first, w->capture) == 0) || named))
            continue;
        if (dq_catalog_condition_delete(cat, w->relic, rid, -1, who, &e) < 0)
            dq_log(DQ_LOG_WARN, "condrec", "undo: record %s: %s", rid, e.msg);
    }
out:
    json_decref(lst);
    dq_buf_free(&l);
}

int dq_condrec_undo(dq_catalog_t *cat, dq_blob_t *store, const dq_actor_t *who,
                    const char *work_json, dq_err_t *err)
{
    json_t *j = work_json ? json_loads(work_json, 0, NULL) : NULL;
    work_t w = {
        .relic = json_string_value(json_object_get(j, "relic")),
        .capture = json_string_value(json_object_get(j, "capture")),
        .map = json_string_value(json_object_get(j, "map")),
        .cap_sha = json_string_value(json_object_get(j, "capture_sha256")),
        .map_sha = json_string_value(json_object_get(j, "map_sha256")),
        .layers = json_string_value(json_object_get(j, "layers")),
        .record = json_string_value(json_object_get(j, "record")),
        .capture_new = json_is_true(json_object_get(j, "capture_new")),
        .capture_linked = json_is_true(json_object_get(j, "capture_linked")),
    };
    if (!w.relic || !w.capture || !w.map) {
        json_decref(j);
        return dq_err_set(err, DQ_EINVAL, 400, "condition undo: not a work note");
    }
    dq_err_t e = {0};
    remove_records(cat, &w, who);
    if (unlink_ours(cat, &w, who, &e) < 0 && e.code != DQ_ENOTFOUND)
        dq_log(DQ_LOG_WARN, "condrec", "undo: relic %s links: %s", w.relic, e.msg);
    undo_ingest(cat, store, who->user, w.map, w.map_sha);
    if (w.capture_new)
        undo_ingest(cat, store, who->user, w.capture, w.cap_sha);
    /* only the key a record may name for this capture (dq_condrec_changes_key_ok) */
    if (w.layers && dq_condrec_changes_key_ok(w.layers, w.capture) &&
        dq_condrec_changes_remove(cat, store, w.layers, &e) < 0)
        dq_log(DQ_LOG_WARN, "condrec", "undo: %s: %s", w.layers, e.msg);
    json_decref(j);
    return 0;
}

/* Undoes what this build stored, by its work note, as any server would (dq_condrec_undo).
 * Errors are logged: the original error is the one the caller reports. */
static void undo(build_t *b)
{
    dq_err_t e = {0};
    char *t = work_text(b);
    if (dq_condrec_undo(b->cat, b->store, b->o->who, t, &e) < 0)
        dq_log(DQ_LOG_WARN, "condrec", "undo: %s", e.msg);
    free(t);
}

static int check_opts(const dq_condrec_opts_t *o, dq_err_t *err)
{
    static const char *const scale[] = {"excellent", "good", "fair", "poor", "critical"};
    if (!o->who || o->who->role == DQ_ROLE_ANON)
        return dq_err_set(err, DQ_EINVAL, 401, "sign in first");
    if (o->who->role < DQ_ROLE_CONSERVATOR)
        return dq_err_set(err, DQ_EINVAL, 403, "your role may not do this");
    if (!o->relic_id || !*o->relic_id)
        return dq_err_set(err, DQ_EINVAL, 400, "a relic id is required");
    if (!!o->capture_path == !!o->capture_image)
        return dq_err_set(err, DQ_EINVAL, 400, "give exactly one capture: a file or an image id");
    if (!dq_catalog_condition_date_ok(o->date))
        return dq_err_set(err, DQ_EINVAL, 400, "date: required, YYYY-MM-DD");
    if (!o->examiner || !*o->examiner)
        return dq_err_set(err, DQ_EINVAL, 400, "examiner: required");
    int ok = !o->overall;
    for (size_t i = 0; !ok && i < DQ_ARRAY_LEN(scale); i++)
        ok = strcmp(o->overall, scale[i]) == 0;
    if (!ok)
        return dq_err_set(err, DQ_EINVAL, 400, "overall: excellent, good, fair, poor or critical");
    if (o->width_cm < 0 || o->height_cm < 0 || !o->width_cm != !o->height_cm)
        return dq_err_set(err, DQ_EINVAL, 400, "dimensions: both width and height in cm, > 0");
    return 0;
}

int dq_condrec_build(dq_catalog_t *cat, const dq_condrec_opts_t *o, dq_buf_t *out, dq_err_t *err)
{
    build_t b = {.cat = cat, .o = o, .store = o->store};
    dq_raster_t ref = {0}, mov = {0};
    dq_conserve_changes_t ch = {0};
    json_t *cj = NULL, *doc = NULL;
    char *text = NULL, *map_png = NULL;
    dq_buf_t fe = {0};
    int rc = -1, stored = 0;
    if (check_opts(o, err) < 0 || load_relic(&b, err) < 0 || pick_reference(&b, err) < 0)
        goto out;
    if (!b.store)
        b.store = b.own_store = dq_blob_open_local(o->data_dir);
    if (o->capture_image) {
        dq_image_rec_t rec;
        if (dq_catalog_image_get(cat, o->capture_image, &rec, err) < 0 ||
            !dq_catalog_image_visible(cat, o->capture_image, o->who)) {
            dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", o->capture_image);
            goto out;
        }
        if (strlen(o->capture_image) > DQ_IMAGE_ID_MAX - 8) {
            dq_err_set(err, DQ_EINVAL, 400, "image id too long for a change map beside it");
            goto out;
        }
        snprintf(b.cap_id, sizeof(b.cap_id), "%s", o->capture_image);
        snprintf(b.map_id, sizeof(b.map_id), "%.110s.changes", b.cap_id);
        if (b.ref_image && strcmp(b.ref_image, b.cap_id) == 0) {
            dq_err_set(err, DQ_EINVAL, 422, "the capture is the one it would be compared with");
            goto out;
        }
    } else if (new_capture_id(&b, err) < 0) {
        goto out;
    }
    /* 1. everything that may refuse the pair, before anything is stored */
    progress(&b, "loading", 2);
    if (o->capture_path ? dq_raster_load(o->capture_path, 3, MAX_CAPTURE_PIXELS, &mov, err)
                        : load_raster(&b, b.cap_id, &mov, err))
        goto out;
    double wcm = o->width_cm, hcm = o->height_cm;
    if (!wcm) {
        json_t *d = json_object_get(b.relic, "dimensions_cm");
        wcm = json_number_value(json_object_get(d, "width"));
        hcm = json_number_value(json_object_get(d, "height"));
    }
    /* The new capture's size, for the observations' boxes: the change maps take its pixels. */
    const int mov_w = mov.w, mov_h = mov.h;
    if (b.ref_image) {
        if (load_raster(&b, b.ref_image, &ref, err) < 0)
            goto out;
        progress(&b, "registering", 10);
        /* _take frees both captures as soon as the method no longer needs them (on failure
         * too): what is ingested below is read from the files again, so keeping the pixels
         * through the change maps and the ingests would only raise the peak. */
        if (dq_conserve_changes_take(&ref, &mov, &ch, err) < 0) {
            dq_err_t e2 = *err;
            dq_err_set(err, DQ_EINVAL, 422, "the capture cannot be compared with %s: %s",
                       b.ref_image, e2.msg);
            goto out;
        }
    }
    dq_raster_free(&mov); /* a baseline needs only its size */
    /* The change files, written here first (the map is ingested from its file; they are
     * put into the store under layers/<capture>/changes/ below, where every server of a
     * cluster reads them). Nothing is stored yet. */
    if (b.ref_image) {
        dq_image_rec_t rec;
        dq_err_t e2 = {0};
        if (dq_catalog_image_get(cat, b.map_id, &rec, &e2) == 0) {
            dq_err_set(err, DQ_EEXIST, 409,
                       "image %s exists already: this capture has a change "
                       "map; delete its record first",
                       b.map_id);
            goto out;
        }
        b.layer_key = dq_xasprintf("layers/%s/changes", b.cap_id);
        char *tmp = dq_xasprintf("%s/tmp", o->data_dir);
        if (dq_fs_mkdirs(tmp, err) < 0) {
            free(tmp);
            goto out;
        }
        b.layer_dir = dq_xasprintf("%s/condrec-XXXXXX", tmp);
        free(tmp);
        if (!mkdtemp(b.layer_dir)) {
            dq_err_set(err, DQ_EIO, 500, "%s: %s", b.layer_dir, strerror(errno));
            free(b.layer_dir);
            b.layer_dir = NULL;
            goto out;
        }
        progress(&b, "writing change maps", 50);
        map_png = dq_xasprintf("%s/changes.png", b.layer_dir);
        uint64_t sz;
        if (dq_condrec_changes_write(&ch, b.layer_dir, &cj, NULL, err) < 0 ||
            dq_sha256_file(map_png, b.map_sha, &sz, err) < 0)
            goto out;
    }
    /* The masters' names (their SHA-256) are what proves, at an undo, that an image is this
     * build's: noted before anything is stored. */
    if (o->capture_path) {
        uint64_t sz;
        if (dq_sha256_file(o->capture_path, b.cap_sha, &sz, err) < 0)
            goto out;
    }
    if (note_work(&b, err) < 0)
        goto out;
    /* 2. store: images, layer files, links; undone on failure */
    stored = 1;
    if (o->capture_path &&
        ingest(&b, o->capture_path, b.cap_id, "ingesting capture", 55, 75, err) < 0)
        goto out;
    if (b.ref_image) {
        if (ingest(&b, map_png, b.map_id, "ingesting change map", 75, 90, err) < 0 ||
            store_changes(cat, b.store, b.layer_dir, b.layer_key, err) < 0)
            goto out;
    }
    progress(&b, "drafting observations", 92);
    if (link_images(&b, b.ref_image != NULL, err) < 0)
        goto out;
    /* 3. the record */
    doc = json_pack("{s:s, s:s, s:s, s:[s], s:b, s:b}", "date", o->date, "examiner", o->examiner,
                    "overall",
                    o->overall      ? o->overall
                    : b.ref_overall ? b.ref_overall
                                    : "fair",
                    "images", b.cap_id, "published", 0, "draft", 1);
    if (o->note && *o->note)
        json_object_set_new(doc, "note", json_string(o->note));
    double cm2_per_px = 0;
    if (wcm > 0 && hcm > 0) {
        json_object_set_new(doc, "dimensions_cm",
                            json_pack("{s:f, s:f}", "width", wcm, "height", hcm));
        if (b.ref_image)
            cm2_per_px = (wcm / ch.w) * (hcm / ch.h);
    }
    if (b.ref_image) {
        json_object_set_new(doc, "observations",
                            draft_observations(&b, &ch, cj, mov_w, mov_h, cm2_per_px));
        json_t *cls = json_object(), *reg = json_object_get(cj, "registration");
        for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
            json_t *c = json_object_get(json_object_get(cj, "classes"), dq_conserve_class_name(k));
            json_t *s = json_pack("{s:O, s:O, s:O}", "area_px", json_object_get(c, "area_px"),
                                  "fraction", json_object_get(c, "fraction"), "n_regions",
                                  json_object_get(c, "n_regions"));
            if (cm2_per_px > 0)
                json_object_set_new(s, "area_cm2",
                                    json_real(round(ch.area[k] * cm2_per_px * 1e4) / 1e4));
            json_object_set_new(cls, dq_conserve_class_name(k), s);
        }
        json_t *chg = json_pack(
            "{s:i, s:i, s:I, s:{s:O, s:O, s:O, s:O}, s:o, s:s, s:s, s:s, s:s}", "width", ch.w,
            "height", ch.h, "valid_px", (json_int_t)ch.n_valid, "registration", "model",
            json_object_get(reg, "model"), "matrix", json_object_get(reg, "matrix"), "residual_px",
            json_object_get(reg, "residual_px"), "correlation", json_object_get(reg, "correlation"),
            "classes", cls, "map_image", b.map_id, "ref_image", b.ref_image, "capture_image",
            b.cap_id, "layers", b.layer_key);
        if (b.against_record)
            json_object_set_new(chg, "against", json_string(b.against_record));
        json_object_set_new(doc, "changes", chg);
    }
    text = json_dumps(doc, JSON_COMPACT);
    progress(&b, "saving record", 96);
    if (dq_catalog_condition_create(cat, o->relic_id, text, strlen(text), o->who, out, &fe, err) <
        0) {
        if (fe.len)
            dq_log(DQ_LOG_WARN, "condrec", "record refused: %.*s", (int)fe.len, fe.data);
        goto out;
    }
    {
        json_t *r = json_loadb(out->data, out->len, 0, NULL);
        const char *rid = r ? json_string_value(json_object_get(r, "id")) : NULL;
        snprintf(b.rec_id, sizeof(b.rec_id), "%s", rid ? rid : "");
        json_decref(r);
    }
    /* The note names the record at once: a job that dies from here on is undone by another
     * server with it (a baseline of a catalogued image is found by nothing else). A note
     * refused (the job was judged failed meanwhile) undoes the build, record included. */
    if (note_work(&b, err) < 0) {
        dq_buf_reset(out);
        goto out;
    }
    if (o->finish && o->finish(o->finish_ud, b.rec_id, err) < 0) {
        dq_buf_reset(out); /* the undo below removes the record the note names */
        goto out;
    }
    progress(&b, "done", 100);
    rc = 0;
out:
    if (rc && stored)
        undo(&b);
    dq_conserve_changes_free(&ch);
    dq_raster_free(&ref);
    dq_raster_free(&mov);
    json_decref(cj);
    json_decref(doc);
    json_decref(b.relic);
    json_decref(b.records);
    json_decref(b.old_links);
    if (b.layer_dir)
        remove_tmp_dir(b.layer_dir);
    free(b.layer_dir);
    free(b.layer_key);
    dq_blob_close(b.own_store);
    free(text);
    free(map_png);
    dq_buf_free(&fe);
    return rc;
}
