/*
 * cmd_condition.c: `danqing condition register REF MOVING [--json]` and `danqing condition
 * changes REF MOVING --out-dir DIR [--json]`: the condition-monitoring analysis on two
 * capture files (src/conserve/). It reads and writes files only; catalog records of condition
 * live behind the API. Exit 0 on success, 1 when the analysis refuses (e.g. the captures
 * cannot be aligned) or fails, 2 on a usage error.
 */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "conserve/conserve.h"
#include "image/image.h"

/* Captures larger than this are refused before decoding (a 24000 x 2000 pair is 48 Mpx). */
#define MAX_CAPTURE_PIXELS (400ull * 1000 * 1000)

static void print_reg(const dq_conserve_reg_t *r, int json, FILE *f)
{
    if (json) {
        fprintf(f, "{\"model\": \"%s\", \"matrix\": [", dq_conserve_model_name(r->model));
        for (int i = 0; i < 3; i++)
            fprintf(f, "%s[%.10g, %.10g, %.10g]", i ? ", " : "", r->m[i][0], r->m[i][1],
                    r->m[i][2]);
        fprintf(f,
                "], \"residual_px\": %.4f, \"correlation\": %.4f, \"overlap\": %.4f, "
                "\"blocks_agreeing\": %.4f, \"gain\": %.5f, \"bias\": %.3f, "
                "\"feature_matches\": %d, \"feature_inliers\": %d}\n",
                r->residual_px, r->ncc, r->overlap, r->agree, r->gain, r->bias, r->n_matches,
                r->n_inliers);
        return;
    }
    fprintf(f, "model      %s\n", dq_conserve_model_name(r->model));
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s [%12.8f %12.8f %12.6f]\n", i ? "          " : "matrix    ", r->m[i][0],
                r->m[i][1], r->m[i][2]);
    fprintf(f,
            "residual   %.3f px (%d of %d textured blocks agree)\n"
            "correlation %.3f, overlap %.1f%%, gain %.4f, bias %.2f\n"
            "features   %d matches, %d inliers\n",
            r->residual_px, (int)(r->agree * r->n_textured + 0.5), r->n_textured, r->ncc,
            100 * r->overlap, r->gain, r->bias, r->n_matches, r->n_inliers);
}

static int load_pair(const char *a, const char *b, dq_raster_t *ra, dq_raster_t *rb,
                     dq_err_t *err)
{
    if (dq_raster_load(a, 3, MAX_CAPTURE_PIXELS, ra, err) < 0)
        return -1;
    if (dq_raster_load(b, 3, MAX_CAPTURE_PIXELS, rb, err) < 0) {
        dq_raster_free(ra);
        return -1;
    }
    return 0;
}

static int cmd_register(dq_config_t *cfg, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int json = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-' || n == 2) {
            fprintf(stderr, "danqing condition register: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            pos[n++] = argv[i];
    }
    if (n != 2) {
        fprintf(stderr, "usage: danqing condition register REF MOVING [--json]\n");
        return 2;
    }
    dq_err_t err = {0};
    dq_raster_t ref = {0}, mov = {0};
    dq_conserve_reg_t reg;
    int rc = 1;
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0 ||
        load_pair(pos[0], pos[1], &ref, &mov, &err) < 0)
        goto out;
    if (dq_conserve_register(&ref, &mov, &reg, &err) < 0)
        goto out;
    print_reg(&reg, json, stdout);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing condition register: %s\n", err.msg);
    dq_raster_free(&ref);
    dq_raster_free(&mov);
    return rc;
}

/* Regions smaller than this are counted in the areas but not listed one by one. */
#define MIN_REGION_PX 4
#define MAX_REGIONS_LISTED 1000

static json_t *changes_json(const dq_conserve_changes_t *c)
{
    const dq_conserve_reg_t *r = &c->reg;
    json_t *m = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(m, json_pack("[f,f,f]", r->m[i][0], r->m[i][1], r->m[i][2]));
    json_t *j = json_pack(
        "{s:i, s:i, s:I, s:{s:s, s:o, s:f, s:f}, s:{s:[f,f,f], s:[f,f,f], s:[f,f,f], s:s}, "
        "s:[f,f,f]}",
        "width", c->w, "height", c->h, "valid_px", (json_int_t)c->n_valid, "registration",
        "model", dq_conserve_model_name(r->model), "matrix", m, "residual_px", r->residual_px,
        "correlation", r->ncc, "colour", "gain", c->colour_gain[0], c->colour_gain[1],
        c->colour_gain[2], "offset", c->colour_offset[0], c->colour_offset[1],
        c->colour_offset[2], "noise", c->noise[0], c->noise[1], c->noise[2], "model",
        "REF = gain * MOVING + offset per sRGB channel, fitted robustly", "lining_srgb",
        c->lining[0], c->lining[1], c->lining[2]);
    json_t *cls = json_object();
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
        dq_conserve_region_t *reg = NULL;
        int n = 0;
        dq_conserve_regions(c->mask[k], c->w, c->h, MIN_REGION_PX, &reg, &n);
        json_t *list = json_array();
        for (int i = 0; i < n && i < MAX_REGIONS_LISTED; i++)
            json_array_append_new(list, json_pack("{s:[i,i,i,i], s:I}", "bbox", reg[i].x0,
                                                  reg[i].y0, reg[i].x1 - reg[i].x0 + 1,
                                                  reg[i].y1 - reg[i].y0 + 1, "area_px",
                                                  (json_int_t)reg[i].area));
        char file[32];
        snprintf(file, sizeof(file), "%s.png", dq_conserve_class_name(k));
        json_object_set_new(
            cls, dq_conserve_class_name(k),
            json_pack("{s:s, s:I, s:f, s:i, s:o}", "mask", file, "area_px",
                      (json_int_t)c->area[k], "fraction",
                      c->n_valid ? (double)c->area[k] / (double)c->n_valid : 0.0, "n_regions", n,
                      "regions", list));
        free(reg);
    }
    json_object_set_new(j, "classes", cls);
    json_object_set_new(j, "map", json_string("changes.png"));
    json_object_set_new(j, "note", json_string("masks and boxes are in REF's pixel frame; bbox "
                                               "is [x, y, width, height]; regions of fewer than "
                                               "4 px are counted in area_px only"));
    return j;
}

static int cmd_changes(dq_config_t *cfg, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *dir = NULL;
    int json = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (argv[i][0] == '-' || n == 2) {
            fprintf(stderr, "danqing condition changes: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            pos[n++] = argv[i];
    }
    if (n != 2 || !dir) {
        fprintf(stderr, "usage: danqing condition changes REF MOVING --out-dir DIR [--json]\n");
        return 2;
    }
    dq_err_t err = {0};
    dq_raster_t ref = {0}, mov = {0};
    dq_conserve_changes_t ch = {0};
    json_t *j = NULL;
    int rc = 1;
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0 ||
        load_pair(pos[0], pos[1], &ref, &mov, &err) < 0)
        goto out;
    /* the captures go as soon as they are no longer needed: keeps the peak memory down */
    if (dq_conserve_changes_take(&ref, &mov, &ch, &err) < 0)
        goto out;
    if (dq_fs_mkdirs(dir, &err) < 0)
        goto out;
    for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++) {
        char *p = dq_xasprintf("%s/%s.png", dir, dq_conserve_class_name(k));
        dq_raster_t m = {ch.w, ch.h, 1, ch.mask[k]};
        int r = dq_raster_save_png(p, &m, &err);
        free(p);
        if (r < 0)
            goto out;
    }
    /* changes.png: the three classes colour-coded on black (loss red, flaking yellow, fading
     * blue: the web's legend), for an overlay with "screen" blending. */
    {
        static const uint8_t col[3][3] = {{224, 49, 43}, {242, 194, 0}, {47, 125, 225}};
        dq_raster_t map = {ch.w, ch.h, 3, dq_xcalloc((size_t)ch.w * ch.h, 3)};
        for (size_t i = 0; i < (size_t)ch.w * ch.h; i++)
            for (int k = 0; k < DQ_CONSERVE_N_CLASSES; k++)
                if (ch.mask[k][i])
                    memcpy(map.px + 3 * i, col[k], 3);
        char *p = dq_xasprintf("%s/changes.png", dir);
        int r = dq_raster_save_png(p, &map, &err);
        free(p);
        dq_raster_free(&map);
        if (r < 0)
            goto out;
    }
    j = changes_json(&ch);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    char *p = dq_xasprintf("%s/changes.json", dir);
    size_t len = strlen(text);
    text = realloc(text, len + 2);
    text[len] = '\n';
    text[len + 1] = '\0';
    int wr = dq_fs_write_atomic(p, dir, text, len + 1, &err);
    free(p);
    if (wr < 0) {
        free(text);
        goto out;
    }
    if (json)
        fputs(text, stdout);
    else
        printf("%s, residual %.3f px; loss %llu px, flaking %llu px, fading %llu px -> %s\n",
               dq_conserve_model_name(ch.reg.model), ch.reg.residual_px,
               (unsigned long long)ch.area[0], (unsigned long long)ch.area[1],
               (unsigned long long)ch.area[2], dir);
    free(text);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing condition changes: %s\n", err.msg);
    json_decref(j);
    dq_conserve_changes_free(&ch);
    dq_raster_free(&ref);
    dq_raster_free(&mov);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing condition register REF MOVING [--json]\n"
            "       danqing condition changes REF MOVING --out-dir DIR [--json]\n\n"
            "register  estimates the transform taking REF pixel coordinates to MOVING pixel\n"
            "          coordinates (similarity, affine or homography: the simplest that fits),\n"
            "          robust to exposure, white balance and local damage, with subpixel\n"
            "          refinement. --json prints {\"model\", \"matrix\" (3x3), \"residual_px\", ...}.\n"
            "          Exits 1 with a reason when the captures cannot be aligned.\n"
            "changes   registers, normalises colour and writes loss.png, flaking.png and\n"
            "          fading.png (8-bit masks in REF's frame, non-zero where changed) and\n"
            "          changes.json (areas, connected regions with bounding boxes) and\n"
            "          changes.png (the classes colour-coded: loss red, flaking yellow, fading\n"
            "          blue) to DIR.\n");
}

int dq_cmd_condition(dq_config_t *cfg, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        dq_cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "register") == 0)
        return cmd_register(cfg, argc - 1, argv + 1);
    if (strcmp(argv[1], "changes") == 0)
        return cmd_changes(cfg, argc - 1, argv + 1);
    fprintf(stderr, "danqing condition: unknown sub-command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
