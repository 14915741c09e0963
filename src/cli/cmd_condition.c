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

#include "condrec/condrec.h"
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
    int rc = 1;
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0 ||
        load_pair(pos[0], pos[1], &ref, &mov, &err) < 0)
        goto out;
    /* the captures go as soon as they are no longer needed: keeps the peak memory down */
    if (dq_conserve_changes_take(&ref, &mov, &ch, &err) < 0)
        goto out;
    char *text = NULL;
    if (dq_condrec_changes_write(&ch, dir, NULL, &text, &err) < 0)
        goto out;
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
    dq_conserve_changes_free(&ch);
    dq_raster_free(&ref);
    dq_raster_free(&mov);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing condition register REF MOVING [--json]\n"
            "       danqing condition changes REF MOVING --out-dir DIR [--json]\n"
            "       danqing condition record RELIC --capture FILE|--image ID --date D\n"
            "                                --examiner NAME [--against RECORD|IMAGE] [--json]\n\n"
            "register  estimates the transform taking REF pixel coordinates to MOVING pixel\n"
            "          coordinates (similarity, affine or homography: the simplest that fits),\n"
            "          robust to exposure, white balance and local damage, with subpixel\n"
            "          refinement. --json prints {\"model\", \"matrix\" (3x3), \"residual_px\", ...}.\n"
            "          Exits 1 with a reason when the captures cannot be aligned.\n"
            "changes   registers, normalises colour and writes loss.png, flaking.png and\n"
            "          fading.png (8-bit masks in REF's frame, non-zero where changed) and\n"
            "          changes.json (areas, connected regions with bounding boxes) and\n"
            "          changes.png (the classes colour-coded: loss red, flaking yellow, fading\n"
            "          blue) to DIR.\n"
            "record    a whole condition record in one step: ingests the capture, compares it\n"
            "          with the earlier record's (register + changes), stores the change maps\n"
            "          as images and drafts observations (see danqing condition record --help).\n");
}

int dq_cmd_condition(dq_config_t *cfg, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "record") == 0) /* its own --help */
        return dq_cmd_condition_record(cfg, argc - 1, argv + 1);
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
